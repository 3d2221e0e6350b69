use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA008",
    name: "efa-interfaces-below-max",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
