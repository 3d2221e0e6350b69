//! The bundled examples: each checks clean (a warning is allowed only when a comment in the
//! example names its rule id and explains it), and each broken example yields exactly the
//! findings its `# expect:` line lists.

use efactl_core::check::check_spec;
use efactl_core::finding::Severity;
use efactl_core::rules::Options;
use efactl_core::Catalog;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn yamls(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

#[test]
fn examples_check_clean() {
    let files = yamls(&examples());
    assert!(
        files.len() >= 5,
        "expected the five examples, found {files:?}"
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let r = check_spec(
            &f.to_string_lossy(),
            &text,
            Catalog::bundled(),
            &Options::default(),
        );
        let errors: Vec<_> = r
            .findings
            .iter()
            .filter(|x| x.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
        for w in &r.findings {
            assert!(
                text.lines().any(|l| l.contains('#') && l.contains(&w.rule)),
                "{}: warning {} is not explained by a comment naming it: {}",
                f.display(),
                w.rule,
                w.message
            );
        }
    }
}

#[test]
fn broken_examples_show_their_findings() {
    let files = yamls(&examples().join("broken"));
    assert!(
        files.len() >= 5,
        "one broken example per seed scenario, found {files:?}"
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let expect: BTreeSet<String> = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect:"))
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", f.display()))
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let r = check_spec(
            &f.to_string_lossy(),
            &text,
            Catalog::bundled(),
            &Options::default(),
        );
        assert!(!r.has_input_errors(), "{}: {:#?}", f.display(), r.findings);
        let got: BTreeSet<String> = r.findings.iter().map(|x| x.rule.clone()).collect();
        assert_eq!(got, expect, "{}: {:#?}", f.display(), r.findings);
    }
}
