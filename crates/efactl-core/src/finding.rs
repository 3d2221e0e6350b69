//! The one result type of every efactl check: spec rules, audit, doctor and log analysis.

use crate::yaml::Pos;
use serde::Serialize;
use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" | "note" => Some(Severity::Info),
            "warning" | "warn" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in a file a finding points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub start: Pos,
    pub end: Pos,
}

/// What a finding is about: a path into the model (which the source map turns into a place in
/// cluster.yaml), a live resource id, or both.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Subject {
    /// Model path, e.g. `nodeGroups[1].instanceType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Live AWS resource id, e.g. `sg-0abc123` or `i-0def456`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Subject {
    pub fn path(p: impl Into<String>) -> Subject {
        Subject {
            path: Some(p.into()),
            ..Subject::default()
        }
    }

    pub fn resource(id: impl Into<String>) -> Subject {
        Subject {
            resource: Some(id.into()),
            ..Subject::default()
        }
    }

    /// A short human label: the resource id, else the path.
    pub fn label(&self) -> String {
        match (&self.resource, &self.path) {
            (Some(r), Some(p)) => format!("{r} ({p})"),
            (Some(r), None) => r.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => String::from("cluster"),
        }
    }
}

/// Whether a finding is about the input (it could not be read or understood: exit 2), about
/// the cluster a spec or account describes (exit 1 at or above `--fail-on`), or about what was
/// observed at run time (the doctor's probes, NCCL logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Input,
    Cluster,
    Runtime,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Input => "input",
            Category::Cluster => "cluster",
            Category::Runtime => "runtime",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `EFA002`.
    pub rule: String,
    /// Kebab-case rule name, e.g. `efa-sg-missing-self-egress`.
    pub name: String,
    pub severity: Severity,
    pub category: Category,
    pub subject: Subject,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Finding {
    pub fn with_help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    /// The order reports use: worst first, then by place in the file, then by rule.
    pub fn report_order(a: &Finding, b: &Finding) -> Ordering {
        b.severity
            .cmp(&a.severity)
            .then_with(|| loc_key(a).cmp(&loc_key(b)))
            .then_with(|| a.subject.resource.cmp(&b.subject.resource))
            .then_with(|| a.subject.path.cmp(&b.subject.path))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.message.cmp(&b.message))
    }
}

fn loc_key(f: &Finding) -> (String, u32, u32) {
    match &f.subject.location {
        Some(l) => (l.file.clone(), l.start.line, l.start.column),
        None => (String::new(), u32::MAX, 0),
    }
}

/// Sorts worst first and drops exact duplicates, so every report is deterministic.
pub fn sort_findings(findings: &mut Vec<Finding>) {
    findings.sort_by(Finding::report_order);
    findings.dedup();
}

/// Counts by severity, for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl Counts {
    pub fn of(findings: &[Finding]) -> Counts {
        let mut c = Counts::default();
        for f in findings {
            match f.severity {
                Severity::Error => c.errors += 1,
                Severity::Warning => c.warnings += 1,
                Severity::Info => c.infos += 1,
            }
        }
        c
    }
}

/// The longest quoted value a message shows whole (in characters).
pub const MAX_QUOTED_CHARS: usize = 80;

/// Shortens every `quoted` value of a message that is longer than [`MAX_QUOTED_CHARS`]: a
/// 5 MB value pasted into a spec must not come back whole in the message.
pub fn clip_quoted(message: &str) -> String {
    if message.len() <= MAX_QUOTED_CHARS {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len().min(1024));
    let mut rest = message;
    while let Some(open) = rest.find('`') {
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else {
            out.push_str(&clip_plain(after, MAX_QUOTED_CHARS));
            return out;
        };
        out.push_str(&clip_plain(&after[..close], MAX_QUOTED_CHARS));
        out.push('`');
        rest = &after[close + 1..];
    }
    out.push_str(&clip_plain(rest, MAX_PROSE_CHARS));
    out
}

/// Unquoted text between quoted values is efactl's own prose (a help sentence runs past 80
/// characters): cut only when it is far longer than any sentence of efactl's, which means an
/// input's value got into it unquoted.
const MAX_PROSE_CHARS: usize = 600;

fn clip_plain(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let head: String = s.chars().take(max - 20).collect();
    format!("{head}… ({n} characters)")
}

#[cfg(test)]
mod clip_tests {
    use super::*;

    #[test]
    fn prose_is_not_cut() {
        let help = "use 1-60 letters, digits and hyphens, starting with a letter (it names the CloudFormation stack)";
        assert_eq!(clip_quoted(help), help);
        let m = format!("`{}` is bad; {help}", "x".repeat(500));
        assert!(clip_quoted(&m).ends_with(help), "{}", clip_quoted(&m));
    }

    #[test]
    fn long_quoted_values_are_cut() {
        let v = "x".repeat(5_000_000);
        let m = clip_quoted(&format!("`{v}` is not a valid cluster name"));
        assert!(m.len() < 200, "{}", m.len());
        assert!(
            m.ends_with("… (5000000 characters)` is not a valid cluster name"),
            "{m}"
        );
        assert_eq!(clip_quoted("`short` stays"), "`short` stays");
        // An unclosed quote and multi-byte characters do not panic.
        let m = clip_quoted(&format!("`{}", "é".repeat(200)));
        assert!(m.contains("(200 characters)"), "{m}");
    }
}
