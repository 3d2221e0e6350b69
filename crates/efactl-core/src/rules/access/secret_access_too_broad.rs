use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA027",
    name: "secret-access-too-broad",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
