//! The corpus harness shared by the config corpora (tests/corpus/KIND): each real file
//! `NAME.EXT` sits beside `NAME.source.yaml` with its source, its SHA-256, the held-out flag
//! (a hash rule fixed before any file was read, the folder's README.md), the findings a careful
//! reader expects (each with its reason) and a one-line verdict.

use efactl_core::check::CheckReport;
use efactl_core::Severity;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// (rule, severity, path)
pub type Verdict = (String, String, String);

pub struct Case {
    pub name: String,
    pub file: PathBuf,
    pub heldout: bool,
    pub sha256: String,
    pub expected: BTreeSet<Verdict>,
    /// The sidecar's whole content, for kind-specific keys.
    pub side: Value,
}

pub fn dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind)
}

/// Every case of a corpus folder, in name order; panics on a sidecar missing a key.
pub fn cases(kind: &str, exts: &[&str]) -> Vec<Case> {
    let mut out = Vec::new();
    let mut sidecars: Vec<PathBuf> = std::fs::read_dir(dir(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".source.yaml"))
        .collect();
    sidecars.sort();
    for side in sidecars {
        let text = std::fs::read_to_string(&side).unwrap();
        let node = efactl_core::yaml::parse(&text).unwrap().unwrap();
        let v = efactl_core::cfn_read::to_json(&node);
        let name = side
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".source.yaml")
            .to_string();
        let file = exts
            .iter()
            .map(|e| dir(kind).join(format!("{name}.{e}")))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{name}: no file beside its sidecar"));
        // The CloudFormation corpus predates the one-line verdicts.
        let verdict: &[&str] = if kind == "cfn" { &[] } else { &["verdict"] };
        for key in [
            "repo", "path", "commit", "url", "license", "sha256", "facts",
        ]
        .iter()
        .chain(verdict)
        {
            assert!(
                v.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty()),
                "{name}: the sidecar has no `{key}`"
            );
        }
        let expected = v
            .get("expected")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{name}: the sidecar has no `expected` list"))
            .iter()
            .map(|e| {
                let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                assert!(
                    !s("reason").is_empty(),
                    "{name}: an expectation without a reason"
                );
                (s("rule"), s("severity"), s("path"))
            })
            .collect();
        out.push(Case {
            name,
            file,
            heldout: v.get("heldout").and_then(Value::as_bool).unwrap(),
            sha256: v["sha256"].as_str().unwrap().to_string(),
            expected,
            side: v,
        });
    }
    out
}

/// The verdicts of a report: warnings and errors (notes that a value was not known are not
/// verdicts), plus any finding of the rules in `also`, each path prefixed with `prefix`.
pub fn verdicts_of(r: &CheckReport, prefix: &str, also: &[&str]) -> BTreeSet<Verdict> {
    r.findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning || also.contains(&f.rule.as_str()))
        .map(|f| {
            (
                f.rule.clone(),
                f.severity.as_str().to_string(),
                format!("{prefix}{}", f.subject.path.clone().unwrap_or_default()),
            )
        })
        .collect()
}

/// Compares every case's verdicts with its expectations, prints the score of the development
/// and held-out parts, and panics on any difference in either direction.
pub fn score(cases: &[Case], verdicts: impl Fn(&Case) -> BTreeSet<Verdict>) {
    let mut diffs = Vec::new();
    for part in [false, true] {
        let (mut n, mut expected, mut found, mut false_errors, mut other) = (0, 0, 0, 0, 0);
        for c in cases.iter().filter(|c| c.heldout == part) {
            n += 1;
            let got = verdicts(c);
            if std::env::var_os("EFACTL_CORPUS_DUMP").is_some() {
                println!("{}: {got:?}", c.name);
            }
            expected += c.expected.len();
            found += c.expected.intersection(&got).count();
            for extra in got.difference(&c.expected) {
                if extra.1 == "error" {
                    false_errors += 1;
                } else {
                    other += 1;
                }
                diffs.push(format!("{}: unexpected {extra:?}", c.name));
            }
            for miss in c.expected.difference(&got) {
                diffs.push(format!("{}: missed {miss:?}", c.name));
            }
        }
        println!(
            "{}: {n} files read, {false_errors} unexpected errors, {other} unexpected warnings or notes, {found}/{expected} expected findings found",
            if part { "held-out" } else { "development" }
        );
    }
    assert!(diffs.is_empty(), "{diffs:#?}");
}

/// Every stored file is byte for byte the one its sidecar's SHA-256 names.
pub fn assert_verbatim(cases: &[Case]) {
    use sha2::Digest;
    for c in cases {
        let bytes = std::fs::read(&c.file).unwrap();
        let got: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, c.sha256, "{}: the stored file was changed", c.name);
    }
}
