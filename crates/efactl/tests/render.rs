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
        assert_eq!(v["schema"], "efactl.render/v1");
        assert_eq!(
            v["files"].as_array().unwrap().len() + 1,
            list.len(),
            "{name}: the JSON lists every file but the manifest"
        );
        assert!(
            list.contains(&".efactl-render.json".to_string()),
            "{list:?}"
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
    assert_eq!(
        o.status.code(),
        Some(1),
        "findings: the exit code of `check`"
    );
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
fn a_directory_efactl_did_not_render_into_is_refused_even_with_force() {
    let dir = scratch("force");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    for force in [&[][..], &["--force"][..], &["--force", "--force"][..]] {
        let mut args = vec![
            "render".to_string(),
            example("c5n-mpi.yaml"),
            "--out".into(),
            out.to_string_lossy().into_owned(),
        ];
        args.extend(force.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = efactl(&args);
        assert_eq!(o.status.code(), Some(2), "{force:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("holds no .efactl-render.json"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(files(&out), vec!["keep.txt"], "untouched");
        assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"mine");
    }
}

#[test]
fn a_second_render_needs_force_and_replaces_only_its_own_files() {
    let dir = scratch("rerender");
    let out = dir.join("out");
    let render = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_efactl"))
            .arg("render")
            .arg(example("c5n-mpi.yaml"))
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    assert_eq!(render(&[]).status.code(), Some(0));
    std::fs::write(out.join("notes.md"), "mine").unwrap();
    let o = render(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass --force"));
    let o = render(&["--force"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("replaced ")
            && text.contains("left untouched (not written by efactl): notes.md"),
        "{text}"
    );
    assert_eq!(std::fs::read(out.join("notes.md")).unwrap(), b"mine");
    // An edited rendered file stops the render; --force twice overwrites it.
    std::fs::write(out.join("cloudformation.yaml"), "# my edit\n").unwrap();
    let o = render(&["--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cloudformation.yaml"));
    assert_eq!(
        std::fs::read(out.join("cloudformation.yaml")).unwrap(),
        b"# my edit\n"
    );
    let o = render(&["--force", "--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("overwrote (edited)"));
}

/// A temporary directory standing in for a home (other programs' files, a `.git` project, a
/// symlink to a file outside), rendered into with every flag combination: afterwards every
/// file in it is byte-identical and still there.
#[test]
fn a_home_and_its_neighbours_survive_every_flag() {
    let dir = scratch("home");
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), "PRIVATE").unwrap();
    std::fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    std::fs::write(home.join(".cargo/bin/cargo"), "bin").unwrap();
    std::fs::create_dir_all(home.join("project/.git")).unwrap();
    std::fs::write(home.join("project/.git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(
        home.join("project/cluster.yaml"),
        std::fs::read(example("c5n-mpi.yaml")).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("outside.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(dir.join("outside.txt"), home.join("link")).unwrap();
    std::os::unix::fs::symlink(&home, dir.join("home-link")).unwrap();
    let before = tree(&dir);
    let spec = home.join("project/cluster.yaml");
    let targets: Vec<(PathBuf, &str)> = vec![
        (home.clone(), "home directory"),
        (dir.join("home-link"), "home directory"),
        (dir.clone(), "holds your home"),
        (PathBuf::from("/"), "root directory"),
        (home.join("project"), "holds the spec"),
        (home.join("."), "home directory"),
        (home.join(".ssh"), "current directory"),
        (home.join(".cargo"), "not empty"),
        (home.join("link"), "not a directory"),
    ];
    for (out, why) in &targets {
        for force in [&[][..], &["--force"][..], &["--force", "--force"][..]] {
            let o = Command::new(env!("CARGO_BIN_EXE_efactl"))
                .arg("render")
                .arg(&spec)
                .arg("--out")
                .arg(out)
                .args(force)
                .env("HOME", &home)
                .current_dir(home.join(".ssh"))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(
                o.status.code(),
                Some(2),
                "{} {force:?}: {err}",
                out.display()
            );
            assert!(err.contains(why), "{} {force:?}: {err}", out.display());
            assert_eq!(tree(&dir), before, "{} {force:?}", out.display());
        }
    }
}

/// Every file under `root`, with its bytes (symlinks by target), not following symlinks.
fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut m = std::collections::BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(root.join(&rel)).unwrap().flatten() {
            let r = rel.join(e.file_name());
            let t = e.file_type().unwrap();
            let key = r.to_string_lossy().into_owned();
            if t.is_symlink() {
                m.insert(
                    key,
                    std::fs::read_link(root.join(&r))
                        .unwrap()
                        .to_string_lossy()
                        .as_bytes()
                        .to_vec(),
                );
            } else if t.is_dir() {
                m.insert(key + "/", vec![]);
                stack.push(r);
            } else {
                m.insert(key, std::fs::read(root.join(&r)).unwrap());
            }
        }
    }
    m
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
