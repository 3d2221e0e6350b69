use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA029",
    name: "nccl-env-obsolete",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
