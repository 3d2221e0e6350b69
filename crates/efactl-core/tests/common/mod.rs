//! Shared by the render tests: the bundled examples, and the external validators the tests run
//! (cfn-lint, ParallelCluster's schema, botocore's shapes, shellcheck), which scripts/setup.sh
//! installs into the Python venv at `$EFACTL_VENV` (default: `<workspace>/.venv`).
//!
//! A missing validator fails the test when `CI` is set; otherwise the test prints a notice and
//! passes without it, so a fresh checkout still runs `cargo test`.
#![allow(dead_code)]

use efactl_core::check::check_spec;
use efactl_core::finding::Severity;
use efactl_core::model::Cluster;
use efactl_core::rules::Options;
use efactl_core::Catalog;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The venv scripts/setup.sh creates.
pub fn venv() -> PathBuf {
    match std::env::var_os("EFACTL_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => workspace().join(".venv"),
    }
}

/// `<venv>/bin/<name>` when it exists.
pub fn venv_tool(name: &str) -> Option<PathBuf> {
    let p = venv().join("bin").join(name);
    p.is_file().then_some(p)
}

/// The tool, or `None` after a notice; panics under CI, where every validator must run.
pub fn require_tool(name: &str, what: &str) -> Option<PathBuf> {
    if let Some(p) = venv_tool(name) {
        return Some(p);
    }
    let msg = format!(
        "{name} not found in {} (needed to {what}); run scripts/setup.sh",
        venv().join("bin").display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("notice: skipping: {msg}");
    None
}

/// The venv's Python, when the given modules import; `None` after a notice (panics under CI).
pub fn require_python(modules: &[&str], what: &str) -> Option<PathBuf> {
    let py = require_tool("python", what)?;
    let probe = Command::new(&py)
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .output()
        .expect("run the venv's python");
    if probe.status.success() {
        return Some(py);
    }
    let msg = format!(
        "the venv's python cannot import {} (needed to {what}): {}",
        modules.join(", "),
        String::from_utf8_lossy(&probe.stderr).trim()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("notice: skipping: {msg}");
    None
}

/// examples/*.yaml, sorted, as (stem, path).
pub fn examples() -> Vec<(String, PathBuf)> {
    let dir = workspace().join("examples");
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    v.sort();
    assert!(
        v.len() >= 5,
        "expected the five examples in {}",
        dir.display()
    );
    v
}

/// The model of a spec that checks without errors.
pub fn model_of(path: &Path) -> Cluster {
    let text = std::fs::read_to_string(path).unwrap();
    model_of_text(&path.to_string_lossy(), &text)
}

pub fn model_of_text(name: &str, text: &str) -> Cluster {
    let r = check_spec(name, text, Catalog::bundled(), &Options::default());
    let errors: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
    r.cluster.expect("a model")
}
pub mod corpus;
