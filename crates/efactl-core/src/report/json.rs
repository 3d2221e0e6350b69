//! Machine output. The schema is stable (`efactl.findings/v1`, documented in docs/output.md):
//! fields are only ever added.

use crate::finding::{Counts, Finding};
use serde::Serialize;

pub const SCHEMA: &str = "efactl.findings/v1";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    schema: &'static str,
    tool: Tool,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    summary: Counts,
    findings: Vec<JsonFinding<'a>>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonFinding<'a> {
    rule: &'a str,
    name: &'a str,
    severity: &'static str,
    category: &'static str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<JsonLocation<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonLocation<'a> {
    file: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
}

pub fn render(findings: &[Finding], file: Option<&str>) -> String {
    let report = Report {
        schema: SCHEMA,
        tool: Tool {
            name: "efactl",
            version: crate::VERSION,
        },
        file,
        summary: Counts::of(findings),
        findings: findings.iter().map(json_finding).collect(),
    };
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
}

fn json_finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        rule: &f.rule,
        name: &f.name,
        severity: f.severity.as_str(),
        category: f.category.as_str(),
        message: &f.message,
        help: f.help.as_deref(),
        path: f.subject.path.as_deref(),
        resource: f.subject.resource.as_deref(),
        location: f.subject.location.as_ref().map(|l| JsonLocation {
            file: &l.file,
            line: l.start.line,
            column: l.start.column,
            end_line: l.end.line,
            end_column: l.end.column,
        }),
    }
}

/// The `findings` array of this schema, for documents that embed findings in a larger report
/// (`efactl nccl analyze`'s `efactl.nccl-analysis/v1`), so findings serialize one way everywhere.
pub fn findings_value(findings: &[Finding]) -> serde_json::Value {
    let list: Vec<JsonFinding<'_>> = findings.iter().map(json_finding).collect();
    serde_json::to_value(list).unwrap_or_default()
}
