//! SARIF 2.1.0 for code scanning (GitHub, GitLab, VS Code). Every rule is listed in the
//! driver with its title, documentation and default level; results point at cluster.yaml
//! regions or, for live resources, at logical locations.

use crate::finding::{Finding, Severity};
use crate::rules::RULES;
use serde_json::{json, Value};

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

pub fn render(findings: &[Finding]) -> String {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": { "text": r.title },
                "fullDescription": { "text": r.title },
                "help": { "text": r.doc, "markdown": r.doc },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": { "category": r.category.as_str() },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": { "text": match &f.help {
                    Some(h) => format!("{} (help: {h})", f.message),
                    None => f.message.clone(),
                } },
            });
            if let Some(i) = RULES.iter().position(|r| r.id == f.rule) {
                result["ruleIndex"] = json!(i);
            }
            let mut location = json!({});
            if let Some(l) = &f.subject.location {
                location["physicalLocation"] = json!({
                    "artifactLocation": { "uri": l.file },
                    "region": {
                        "startLine": l.start.line,
                        "startColumn": l.start.column,
                        "endLine": l.end.line,
                        "endColumn": l.end.column.max(l.start.column + u32::from(l.end.line == l.start.line && l.end.column <= l.start.column)),
                    },
                });
            }
            let logical: Vec<Value> = f
                .subject
                .resource
                .iter()
                .map(|r| json!({ "name": r, "kind": "resource" }))
                .chain(f.subject.path.iter().map(|p| json!({ "fullyQualifiedName": p, "kind": "member" })))
                .collect();
            if !logical.is_empty() {
                location["logicalLocations"] = json!(logical);
            }
            if location.as_object().is_some_and(|o| !o.is_empty()) {
                result["locations"] = json!([location]);
            }
            result
        })
        .collect();
    let doc = json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "efactl",
                "version": crate::VERSION,
                "informationUri": "https://github.com/efactl/efactl",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
