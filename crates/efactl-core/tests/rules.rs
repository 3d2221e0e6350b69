//! Every cluster rule has fixtures in tests/fixtures/rules/<ID>/: one or more `bad*.yaml`
//! that must raise the rule (snapshotted), and `ok.yaml`, a near twin that must not.
//! Fixtures must be valid specs: an input error would make the test pass for the wrong reason.

use efactl_core::check::check_spec;
use efactl_core::finding::Finding;
use efactl_core::rules::{self, Options};
use efactl_core::Catalog;
use std::path::{Path, PathBuf};

fn fixture_dir(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules")
        .join(id)
}

fn check(path: &Path) -> Vec<Finding> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = format!(
        "{}/{}",
        path.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy(),
        path.file_name().unwrap().to_string_lossy()
    );
    let report = check_spec(&name, &text, Catalog::bundled(), &Options::default());
    let input: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.category == efactl_core::finding::Category::Input)
        .collect();
    assert!(input.is_empty(), "{name} is not a valid spec: {input:#?}");
    report.findings
}

fn render(findings: &[&Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            let at = f
                .subject
                .location
                .as_ref()
                .map(|l| format!("{}:{}:{}", l.file, l.start.line, l.start.column))
                .unwrap_or_else(|| f.subject.label());
            let mut s = format!(
                "{} {} {at} [{}]\n  {}",
                f.rule,
                f.severity,
                f.subject.path.as_deref().unwrap_or("-"),
                f.message
            );
            if let Some(h) = &f.help {
                s.push_str(&format!("\n  help: {h}"));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn run(id: &str) {
    let rule = rules::find(id).unwrap_or_else(|| panic!("{id} is not registered"));
    assert_eq!(rule.id, id);
    let dir = fixture_dir(id);
    let mut bads: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("bad"))
        .collect();
    bads.sort();
    assert!(!bads.is_empty(), "{id} has no bad fixture");
    for bad in bads {
        let findings = check(&bad);
        let mine: Vec<&Finding> = findings.iter().filter(|f| f.rule == id).collect();
        assert!(
            !mine.is_empty(),
            "{} does not raise {id}; it raised {:#?}",
            bad.display(),
            findings
        );
        let stem = bad.file_stem().unwrap().to_string_lossy().to_string();
        insta::with_settings!({ snapshot_path => "snapshots/rules", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("{id}_{stem}"), render(&mine));
        });
    }
    let ok = dir.join("ok.yaml");
    let findings = check(&ok);
    let mine: Vec<&Finding> = findings.iter().filter(|f| f.rule == id).collect();
    assert!(
        mine.is_empty(),
        "{} raises {id}: {}",
        ok.display(),
        render(&mine)
    );
}

macro_rules! rule_tests {
    ($($name:ident => $id:literal),* $(,)?) => {
        $( #[test] fn $name() { run($id) } )*
        const TESTED: &[&str] = &[$($id),*];
    };
}

rule_tests! {
    efa001 => "EFA001", efa002 => "EFA002", efa003 => "EFA003", efa004 => "EFA004",
    efa005 => "EFA005", efa006 => "EFA006", efa007 => "EFA007", efa008 => "EFA008",
    efa009 => "EFA009", efa010 => "EFA010", efa011 => "EFA011", efa012 => "EFA012",
    efa013 => "EFA013", efa014 => "EFA014", efa015 => "EFA015", efa016 => "EFA016",
    efa017 => "EFA017", efa018 => "EFA018", efa019 => "EFA019", efa020 => "EFA020",
    efa021 => "EFA021", efa022 => "EFA022", efa023 => "EFA023", efa024 => "EFA024",
    efa025 => "EFA025", efa026 => "EFA026", efa027 => "EFA027", efa028 => "EFA028",
    efa029 => "EFA029", efa030 => "EFA030", efa031 => "EFA031", efa032 => "EFA032",
    efa033 => "EFA033", efa034 => "EFA034",
}

/// Rules that only live data can raise (a spec never holds a secret's value): proven by the
/// audit tests (src/cloud/tests/audit.rs, crates/efactl/tests/aws_moto.rs) instead.
const LIVE_ONLY: &[&str] = &["EFA035", "EFA036"];

#[test]
fn every_cluster_rule_has_a_fixture_test() {
    for r in rules::RULES
        .iter()
        .filter(|r| r.check.is_some() && !LIVE_ONLY.contains(&r.id))
    {
        assert!(
            TESTED.contains(&r.id),
            "{} has no entry in rule_tests!",
            r.id
        );
    }
}
