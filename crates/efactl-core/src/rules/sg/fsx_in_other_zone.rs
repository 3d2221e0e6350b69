use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA034",
    name: "fsx-in-other-zone",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
