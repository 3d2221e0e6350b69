use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA007",
    name: "efa-disabled-on-capable-type",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
