use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA003",
    name: "efa-interface-sg-missing-self-rules",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
