//! Every deployment target rendered for every example (and for tests/fixtures/render/*.yaml,
//! specs that exercise what the examples do not): a snapshot of each artifact, and the external
//! validator each kind of artifact must pass, run here in the test suite:
//!
//! - every shell script (bootstraps, the HyperPod hook): shellcheck, zero findings;
//! - every ParallelCluster config: ParallelCluster's own schema (scripts/validate/pcluster_schema.py);
//! - every HyperPod and Batch request: botocore's input shapes for sagemaker CreateCluster,
//!   batch RegisterJobDefinition and CreateComputeEnvironment (scripts/validate/botocore_shapes.py).
//!
//! Targets a spec cannot express (HyperPod for a Kubernetes spec) snapshot their error. The
//! `cfn` target has its own tests.

mod common;

use efactl_core::model::Cluster;
use efactl_core::render::{self, bootstrap, Artifact, RenderOptions, RenderTarget};
use efactl_core::Catalog;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGETS: [RenderTarget; 4] = [
    RenderTarget::Bootstrap,
    RenderTarget::Pcluster,
    RenderTarget::Hyperpod,
    RenderTarget::Batch,
];

struct Rendered {
    spec: String,
    cluster: Cluster,
    target: RenderTarget,
    result: Result<Vec<Artifact>, String>,
}

/// Every spec the render tests cover: the examples, then the render fixtures.
fn specs() -> Vec<(String, PathBuf)> {
    let mut v = common::examples();
    let dir = common::workspace().join("crates/efactl-core/tests/fixtures/render");
    let mut extra: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    extra.sort();
    v.extend(extra);
    v
}

fn render_all() -> Vec<Rendered> {
    let mut out = Vec::new();
    for (spec, path) in specs() {
        let cluster = common::model_of(&path);
        for target in TARGETS {
            let result = render::render(
                &cluster,
                Catalog::bundled(),
                target,
                &RenderOptions::default(),
            )
            .map_err(|e| e.to_string());
            out.push(Rendered {
                spec: spec.clone(),
                cluster: cluster.clone(),
                target,
                result,
            });
        }
    }
    out
}

/// The node group whose bootstrap a copied script is (pcluster's S3 mirror, HyperPod's
/// lifecycle directory), so copies are checked against the original instead of snapshotted twice.
fn copied_bootstrap<'a>(
    r: &'a Rendered,
    a: &Artifact,
) -> Option<&'a efactl_core::model::NodeGroup> {
    r.cluster.node_groups.iter().find(|ng| {
        let name = efactl_core::render::conventions::file_name(&ng.name);
        a.path.ends_with(&format!("/bootstrap/{name}.sh"))
            || a.path
                .ends_with(&format!("/lifecycle/efactl-bootstrap-{name}.sh"))
    })
}

#[test]
fn every_artifact_matches_its_snapshot() {
    let all = render_all();
    let mut rendered_ok = 0;
    for r in &all {
        insta::with_settings!({ snapshot_path => "snapshots/render", prepend_module_to_snapshot => false }, {
            match &r.result {
                Ok(arts) => {
                    rendered_ok += 1;
                    let mut paths: Vec<&str> = arts.iter().map(|a| a.path.as_str()).collect();
                    paths.sort_unstable();
                    paths.dedup();
                    assert_eq!(paths.len(), arts.len(), "{} {}: duplicate paths", r.spec, r.target.name());
                    for a in arts {
                        assert!(a.path.starts_with(&format!("{}/", r.target.name())), "{}", a.path);
                        if a.path.ends_with(".sh") {
                            assert_eq!(a.mode, 0o755, "{}", a.path);
                            assert!(a.contents.starts_with("#!/bin/bash\n"), "{}", a.path);
                        }
                        if r.target != RenderTarget::Bootstrap {
                            if let Some(ng) = copied_bootstrap(r, a) {
                                assert_eq!(
                                    a.contents,
                                    bootstrap::script(&r.cluster, Catalog::bundled(), ng),
                                    "{} is not the node group's bootstrap",
                                    a.path
                                );
                                continue;
                            }
                        }
                        let name = format!(
                            "{}__{}",
                            r.spec,
                            a.path.replace('/', "__")
                        );
                        insta::assert_snapshot!(name, &a.contents);
                    }
                }
                Err(e) => {
                    insta::assert_snapshot!(format!("{}__{}__unsupported", r.spec, r.target.name()), e);
                }
            }
        });
    }
    // Each example renders its own deployment target (and the bootstrap).
    for (spec, target) in [
        ("p5-slurm-private", RenderTarget::Pcluster),
        ("hyperpod-slurm", RenderTarget::Hyperpod),
        ("g5-batch-mpi", RenderTarget::Batch),
    ] {
        let r = all
            .iter()
            .find(|r| r.spec == spec && r.target == target)
            .unwrap();
        assert!(
            r.result.is_ok(),
            "{spec} {}: {:?}",
            target.name(),
            r.result.as_ref().err()
        );
    }
    assert!(all
        .iter()
        .filter(|r| r.target == RenderTarget::Bootstrap)
        .all(|r| r.result.is_ok()));
    assert!(rendered_ok >= 12, "{rendered_ok}");
}

#[test]
fn rendering_is_deterministic() {
    let a = render_all();
    let b = render_all();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.result, y.result, "{} {}", x.spec, x.target.name());
    }
}

/// Writes artifacts into a scratch directory, returning their paths by artifact.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("efactl-render-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn put(&self, spec: &str, a: &Artifact) -> PathBuf {
        let p = self.0.join(spec).join(&a.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, &a.contents).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_script_passes_shellcheck() {
    let Some(shellcheck) = common::require_tool("shellcheck", "lint the rendered shell scripts")
    else {
        return;
    };
    let scratch = Scratch::new("shellcheck");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in render_all() {
        for a in r.result.iter().flatten() {
            if !a.path.ends_with(".sh") || !seen.insert(a.contents.clone()) {
                continue;
            }
            // A disable needs its reason next to it; a blanket disable is never acceptable.
            let lines: Vec<&str> = a.contents.lines().collect();
            for (i, l) in lines.iter().enumerate() {
                if l.contains("shellcheck disable") {
                    assert!(!l.contains("disable=all"), "{}: blanket disable", a.path);
                    let reason = i > 0
                        && lines[i - 1].trim_start().starts_with('#')
                        && !lines[i - 1].contains("shellcheck");
                    assert!(
                        reason,
                        "{}:{}: a shellcheck disable without a reason comment",
                        a.path,
                        i + 1
                    );
                }
            }
            files.push(scratch.put(&r.spec, a));
        }
    }
    assert!(files.len() >= 10, "{files:?}");
    let out = Command::new(&shellcheck)
        .args(["-s", "bash", "--severity=style", "--format=gcc"])
        .args(&files)
        .output()
        .unwrap();
    let findings = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && findings.trim().is_empty(),
        "shellcheck findings:\n{findings}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("shellcheck: {} distinct scripts, 0 findings", files.len());
}

/// Runs a validator script with the venv's Python; returns its per-file JSON results.
fn validate(python: &Path, script: &str, args: &[String]) -> (bool, Vec<serde_json::Value>) {
    let out = Command::new(python)
        .arg(common::workspace().join("scripts/validate").join(script))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "{script}: {e}: {l}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        })
        .collect();
    assert_eq!(
        results.len(),
        args.len(),
        "{script} answered {} of {} files: {}",
        results.len(),
        args.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), results)
}

fn report(results: &[serde_json::Value]) -> Vec<String> {
    let mut bad = Vec::new();
    for r in results {
        let errors = r["errors"].as_array().unwrap();
        let name = r["file"].as_str().unwrap();
        eprintln!(
            "  {} errors: {}{}",
            errors.len(),
            name,
            r.get("offline_notices")
                .and_then(|n| n.as_array())
                .filter(|n| !n.is_empty())
                .map(|n| format!(" (offline notices: {})", n.len()))
                .unwrap_or_default()
        );
        if !errors.is_empty() {
            bad.push(format!("{name}: {errors:?}"));
        }
    }
    bad
}

#[test]
fn parallelcluster_configs_load_with_parallelclusters_schema() {
    let Some(python) = common::require_python(
        &["pcluster.schemas.cluster_schema", "yaml"],
        "check ParallelCluster configs against ParallelCluster's schema",
    ) else {
        return;
    };
    let scratch = Scratch::new("pcluster");
    let mut args = Vec::new();
    for r in render_all() {
        if r.target != RenderTarget::Pcluster {
            continue;
        }
        for a in r.result.iter().flatten() {
            if a.path.ends_with("cluster-config.yaml") {
                let p = scratch.put(&r.spec, a);
                args.push(format!("{}={}", r.cluster.name, p.display()));
            }
        }
    }
    assert!(args.len() >= 2, "{args:?}");
    eprintln!("ParallelCluster 3 schema (pcluster_schema.py):");
    let (ok, results) = validate(&python, "pcluster_schema.py", &args);
    let bad = report(&results);
    assert!(ok && bad.is_empty(), "{bad:#?}");

    // The validator itself must catch a broken config.
    let good = std::fs::read_to_string(args[0].split_once('=').unwrap().1).unwrap();
    let broken = scratch.0.join("broken.yaml");
    std::fs::write(&broken, good.replace("MinCount:", "MinimumCount:")).unwrap();
    let (ok, results) = validate(
        &python,
        "pcluster_schema.py",
        &[format!("x={}", broken.display())],
    );
    assert!(!ok, "a config with an unknown key passed: {results:?}");
}

#[test]
fn hyperpod_and_batch_requests_match_botocores_shapes() {
    let Some(python) = common::require_python(
        &["botocore.session", "botocore.validate"],
        "check HyperPod and Batch requests against botocore's service models",
    ) else {
        return;
    };
    let scratch = Scratch::new("botocore");
    let mut args = Vec::new();
    for r in render_all() {
        for a in r.result.iter().flatten() {
            let op = match (r.target, a.path.as_str()) {
                (RenderTarget::Hyperpod, p) if p.ends_with("cluster-config.json") => {
                    "sagemaker:CreateCluster"
                }
                (RenderTarget::Batch, p) if p.ends_with("-job-definition.json") => {
                    "batch:RegisterJobDefinition"
                }
                (RenderTarget::Batch, p) if p.ends_with("-compute-environment.json") => {
                    "batch:CreateComputeEnvironment"
                }
                _ => continue,
            };
            let p = scratch.put(&r.spec, a);
            args.push(format!("{op}={}", p.display()));
        }
    }
    for op in [
        "sagemaker:CreateCluster",
        "batch:RegisterJobDefinition",
        "batch:CreateComputeEnvironment",
    ] {
        assert!(
            args.iter().any(|a| a.starts_with(op)),
            "nothing rendered for {op}"
        );
    }
    eprintln!("botocore input shapes (botocore_shapes.py):");
    let (ok, results) = validate(&python, "botocore_shapes.py", &args);
    let bad = report(&results);
    assert!(ok && bad.is_empty(), "{bad:#?}");

    // The validator itself must catch a broken request: an instance type HyperPod does not
    // offer (an enum botocore's own validator skips) and a key the API does not have.
    let hp = args
        .iter()
        .find(|a| a.starts_with("sagemaker:CreateCluster"))
        .unwrap();
    let good = std::fs::read_to_string(hp.split_once('=').unwrap().1).unwrap();
    let broken = scratch.0.join("broken.json");
    std::fs::write(
        &broken,
        good.replacen("\"InstanceType\": \"ml.", "\"InstanceType\": \"ml.x", 1)
            .replacen("\"ThreadsPerCore\"", "\"ThreadPerCore\"", 1),
    )
    .unwrap();
    let (ok, results) = validate(
        &python,
        "botocore_shapes.py",
        &[format!("sagemaker:CreateCluster={}", broken.display())],
    );
    assert!(!ok, "a broken request passed: {results:?}");
    assert_eq!(
        results[0]["errors"].as_array().unwrap().len(),
        2,
        "{results:?}"
    );
}
