use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA023",
    name: "private-subnet-public-ip",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "",
    doc: "",
    check: Some(check),
};

fn check(_cx: &Context<'_>, _r: &mut Reporter<'_>) {}
