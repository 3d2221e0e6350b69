use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA014",
    name: "placement-group-capacity-conflict",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
