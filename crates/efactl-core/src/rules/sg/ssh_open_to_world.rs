use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA005",
    name: "ssh-open-to-world",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
