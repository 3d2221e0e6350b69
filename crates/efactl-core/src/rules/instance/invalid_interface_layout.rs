use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA010",
    name: "invalid-interface-layout",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
