use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA012",
    name: "placement-group-not-cluster",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
