//! `efactl render` as users run it: every example renders its target's artifacts, and bad
//! input (errors in the spec, an unwritable or non-empty --out, an unknown target) is a clear
//! error, exit 2, with nothing half-written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn efactl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("efactl runs")
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("render-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_example_renders_its_targets() {
    for (name, must) in [
        ("p5-slurm-private", vec!["pcluster", "bootstrap/"]),
        ("trn2-eks", vec!["cloudformation.yaml", "bootstrap/trn2.sh"]),
        ("g5-batch-mpi", vec!["cloudformation.yaml", "batch"]),
        ("c5n-mpi", vec!["cloudformation.yaml", "bootstrap/hpc.sh"]),
        ("hyperpod-slurm", vec!["cloudformation.yaml", "hyperpod"]),
    ] {
        let out = scratch(name).join("out");
        let o = efactl(&[
            "render",
            &example(&format!("{name}.yaml")),
            "--out",
            &out.to_string_lossy(),
            "--format",
            "json",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let list = files(&out);
        for m in must {
            assert!(
                list.iter().any(|f| f.starts_with(m) || f == m),
                "{name}: no {m} in {list:?}"
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            v["files"].as_array().unwrap().len(),
            list.len(),
            "{name}: the JSON lists every file"
        );
        // Scripts are executable.
        #[cfg(unix)]
        for f in list.iter().filter(|f| f.ends_with(".sh")) {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o111, 0o111, "{name}: {f} is not executable");
        }
    }
}

#[test]
fn a_spec_with_errors_is_refused_and_nothing_is_written() {
    let dir = scratch("errors");
    let spec = dir.join("bad.yaml");
    std::fs::write(
        &spec,
        std::fs::read_to_string(example("c5n-mpi.yaml"))
            .unwrap()
            .replace("selfReferencing: true", "selfReferencing: false"),
    )
    .unwrap();
    let out = dir.join("out");
    let o = efactl(&[
        "render",
        &spec.to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("EFA002") && err.contains("refusing to render"),
        "{err}"
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no staging directory left behind"
    );
}

#[test]
fn existing_non_empty_out_needs_force() {
    let dir = scratch("force");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let o = efactl(&[
        "render",
        &example("c5n-mpi.yaml"),
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(files(&out), vec!["keep.txt"], "untouched");
    let o = efactl(&[
        "render",
        &example("c5n-mpi.yaml"),
        "--out",
        &out.to_string_lossy(),
        "--force",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let list = files(&out);
    assert!(
        !list.contains(&"keep.txt".to_string())
            && list.contains(&"cloudformation.yaml".to_string()),
        "{list:?}"
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no staging or backup directory left behind"
    );
    // An empty existing directory is fine without --force.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = efactl(&[
        "render",
        &example("c5n-mpi.yaml"),
        "--out",
        &empty.to_string_lossy(),
        "--target",
        "bootstrap",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(files(&empty), vec!["bootstrap/hpc.sh"]);
}

#[test]
fn unwritable_out_and_unknown_target_are_clear_errors() {
    let o = efactl(&[
        "render",
        &example("c5n-mpi.yaml"),
        "--out",
        "/proc/efactl-render-test/out",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot create"), "{err}");
    let o = efactl(&[
        "render",
        &example("c5n-mpi.yaml"),
        "--out",
        "/tmp/x",
        "--target",
        "terraform",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown target `terraform`"));
    let o = efactl(&["render", "/nonexistent.yaml", "--out", "/tmp/x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SPEC012"));
}

#[test]
fn all_renders_what_applies_and_names_what_does_not() {
    let out = scratch("all").join("out");
    let o = efactl(&[
        "render",
        &example("c5n-mpi.yaml"),
        "--all",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("skipping `pcluster`"), "{err}");
    let list = files(&out);
    assert!(
        list.iter().any(|f| f == "cloudformation.yaml")
            && list.iter().any(|f| f.starts_with("batch")),
        "{list:?}"
    );
}
