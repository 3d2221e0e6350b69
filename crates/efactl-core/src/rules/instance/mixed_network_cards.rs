use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA032",
    name: "mixed-network-cards",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
