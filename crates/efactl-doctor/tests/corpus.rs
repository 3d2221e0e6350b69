//! The real-log corpus (tests/corpus/README.md): log excerpts users posted in public GitHub
//! threads, each with a sidecar giving the thread's diagnosis. Every expected rule must be
//! reported, and a healthy run must yield no error finding.

use efactl_core::finding::Severity;
use efactl_doctor::logs::{analyze, Options, Status};
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct Sidecar {
    source: String,
    #[allow(dead_code)]
    thread_diagnosis: String,
    verdict: String,
    expect: Vec<String>,
    instance_type: Option<String>,
}

fn corpus() -> Vec<(PathBuf, Sidecar)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("tests/corpus exists") {
        let p = e.expect("dir entry").path();
        if p.extension().and_then(|x| x.to_str()) != Some("log") {
            continue;
        }
        let side = p.with_extension("json");
        let text = std::fs::read_to_string(&side)
            .unwrap_or_else(|e| panic!("{} has no sidecar: {e}", p.display()));
        let s: Sidecar = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: bad sidecar: {e}", side.display()));
        out.push((p, s));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn corpus_is_big_enough() {
    let c = corpus();
    assert!(
        c.len() >= 20,
        "{} entries; the corpus needs at least 20",
        c.len()
    );
    let healthy = c.iter().filter(|(_, s)| s.verdict == "healthy").count();
    assert!(healthy >= 4, "{healthy} healthy entries; at least 4 needed");
    for (p, s) in &c {
        assert!(s.source.starts_with("https://"), "{}: source", p.display());
        assert!(
            ["healthy", "degraded", "failed"].contains(&s.verdict.as_str()),
            "{}: verdict {}",
            p.display(),
            s.verdict
        );
    }
}

#[test]
fn every_log_yields_its_diagnosis() {
    let mut failures = Vec::new();
    for (path, side) in corpus() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let file = std::fs::File::open(&path).expect("corpus log opens");
        let a = analyze(
            &name,
            file,
            Options {
                instance_type: side.instance_type.clone(),
            },
        );
        let got: Vec<&str> = a.findings.iter().map(|f| f.rule.as_str()).collect();
        let describe = || {
            let mut s = format!(
                "{name}: verdict {} ({:?}: {})\n",
                a.verdict.status.as_str(),
                a.verdict.rule,
                a.verdict.cause
            );
            for f in &a.findings {
                s.push_str(&format!("  {} {}: {}\n", f.rule, f.severity, f.message));
            }
            s
        };
        for want in &side.expect {
            if !got.contains(&want.as_str()) {
                failures.push(format!("missing {want}\n{}", describe()));
            }
        }
        let any_error = a.findings.iter().any(|f| f.severity == Severity::Error);
        let status = a.verdict.status;
        match side.verdict.as_str() {
            // The contract (corpus/README.md): a healthy run yields no error finding.
            "healthy" if any_error || status == Status::Failed => {
                failures.push(format!("expected healthy\n{}", describe()));
            }
            "failed" | "degraded" if matches!(status, Status::Healthy | Status::Unknown) => {
                failures.push(format!("expected {}\n{}", side.verdict, describe()));
            }
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
