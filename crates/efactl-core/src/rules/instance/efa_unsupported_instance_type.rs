use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA006",
    name: "efa-unsupported-instance-type",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
