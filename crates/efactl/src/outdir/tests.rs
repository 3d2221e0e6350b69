//! Every test runs in its own temporary directory: a stand-in for a home with other programs'
//! files, a `.git`, a symlink to a file outside. After each run every foreign file must be
//! byte-identical and still there.

use super::*;
use std::collections::BTreeMap;

fn nf(path: &str, contents: &str) -> NewFile {
    NewFile {
        path: path.into(),
        contents: contents.as_bytes().to_vec(),
        mode: 0o644,
    }
}

fn set_a() -> Vec<NewFile> {
    vec![
        nf("cloudformation.yaml", "Resources: {}\n"),
        nf("bootstrap/gpu.sh", "#!/bin/sh\necho a\n"),
    ]
}

fn set_b() -> Vec<NewFile> {
    vec![
        nf("cloudformation.yaml", "Resources: {B: 1}\n"),
        nf("pcluster/cluster-config.yaml", "Region: x\n"),
    ]
}

fn opts(force: u8) -> WriteOptions {
    WriteOptions {
        force,
        ..WriteOptions::default()
    }
}

/// Every file under `root` (symlinks as `-> target`), for byte-identical comparisons.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(root.join(&rel)).unwrap().flatten() {
            let r = rel.join(e.file_name());
            let key = r.to_string_lossy().into_owned();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let t = std::fs::read_link(root.join(&r)).unwrap();
                m.insert(key, format!("-> {}", t.display()).into_bytes());
            } else if ft.is_dir() {
                m.insert(key + "/", Vec::new());
                stack.push(r);
            } else {
                m.insert(key, std::fs::read(root.join(&r)).unwrap());
            }
        }
    }
    m
}

/// A temporary "home": other programs' files, a nested directory, a symlink to a file outside.
fn fake_home(t: &tempfile::TempDir) -> PathBuf {
    let home = t.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), "PRIVATE KEY").unwrap();
    std::fs::create_dir_all(home.join(".cargo/bin")).unwrap();
    std::fs::write(home.join(".cargo/bin/cargo"), "binary").unwrap();
    std::fs::write(home.join(".gitconfig"), "[user]\n").unwrap();
    std::fs::write(t.path().join("outside.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(t.path().join("outside.txt"), home.join("link")).unwrap();
    home
}

#[test]
fn new_directory_gets_files_and_a_manifest() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("build/out");
    let o = write(&out, &set_a(), &opts(0)).unwrap();
    assert_eq!(o.written, vec!["cloudformation.yaml", "bootstrap/gpu.sh"]);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    assert_eq!(m["schema"], MANIFEST_SCHEMA);
    assert_eq!(m["complete"], true);
    assert_eq!(m["files"][0]["path"], "cloudformation.yaml");
    assert_eq!(
        m["files"][0]["sha256"],
        sha256_hex(b"Resources: {}\n"),
        "the manifest names the hash of what was written"
    );
    assert_eq!(m["dirs"], serde_json::json!(["bootstrap"]));
    // Nothing staged is left beside or inside.
    let names: Vec<_> = std::fs::read_dir(t.path().join("build"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![OsString::from("out")]);
    assert!(!snapshot(&out).keys().any(|k| k.contains(STAGING_PREFIX)));
}

#[test]
fn rerender_replaces_only_the_previous_files_and_names_the_others() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    write(&out, &set_a(), &opts(0)).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join("bootstrap/extra.sh"), "mine too").unwrap();
    let err = write(&out, &set_b(), &opts(0)).unwrap_err();
    assert!(matches!(err, OutdirError::NeedsForce { n: 2, .. }), "{err}");
    let o = write(&out, &set_b(), &opts(1)).unwrap();
    assert_eq!(o.replaced, vec!["cloudformation.yaml"]);
    assert_eq!(o.removed, vec!["bootstrap/gpu.sh"]);
    assert_eq!(o.kept_foreign, vec!["bootstrap/extra.sh", "notes.txt"]);
    let s = snapshot(&out);
    assert_eq!(s["notes.txt"], b"mine");
    assert_eq!(s["bootstrap/extra.sh"], b"mine too");
    assert_eq!(s["cloudformation.yaml"], b"Resources: {B: 1}\n");
    assert!(!s.contains_key("bootstrap/gpu.sh"));
}

#[test]
fn emptied_render_directories_are_removed_but_not_the_users() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    write(&out, &set_a(), &opts(0)).unwrap();
    std::fs::create_dir(out.join("mine")).unwrap();
    write(&out, &set_b(), &opts(1)).unwrap();
    assert!(
        !out.join("bootstrap").exists(),
        "bootstrap/ was the render's and is empty"
    );
    assert!(
        out.join("mine").is_dir(),
        "the user's empty directory stays"
    );
}

#[test]
fn an_edited_file_is_kept_unless_force_is_given_twice() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    write(&out, &set_a(), &opts(0)).unwrap();
    std::fs::write(out.join("cloudformation.yaml"), "edited by hand").unwrap();
    let before = snapshot(&out);
    let err = write(&out, &set_b(), &opts(1)).unwrap_err();
    match &err {
        OutdirError::Edited { files, .. } => assert_eq!(files, &["cloudformation.yaml"]),
        e => panic!("{e}"),
    }
    assert!(err.to_string().contains("--force twice"));
    assert_eq!(snapshot(&out), before, "nothing was written");
    let o = write(&out, &set_b(), &opts(2)).unwrap();
    assert_eq!(o.overwritten_edited, vec!["cloudformation.yaml"]);
}

#[test]
fn an_edited_stale_file_is_kept_and_stays_listed() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    write(&out, &set_a(), &opts(0)).unwrap();
    std::fs::write(out.join("bootstrap/gpu.sh"), "edited").unwrap();
    let o = write(&out, &set_b(), &opts(2)).unwrap();
    assert_eq!(o.kept_edited, vec!["bootstrap/gpu.sh"]);
    assert_eq!(
        std::fs::read(out.join("bootstrap/gpu.sh")).unwrap(),
        b"edited"
    );
    // Listed still, so the next render names it as the render's, edited; never a collision.
    let err = write(&out, &set_a(), &opts(1)).unwrap_err();
    assert!(matches!(err, OutdirError::Edited { .. }), "{err}");
}

#[test]
fn a_foreign_file_at_a_rendered_path_is_never_overwritten() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    write(&out, &set_a(), &opts(0)).unwrap();
    std::fs::create_dir(out.join("pcluster")).unwrap();
    std::fs::write(out.join("pcluster/cluster-config.yaml"), "the user's").unwrap();
    let before = snapshot(&out);
    for force in [1, 2] {
        let err = write(&out, &set_b(), &opts(force)).unwrap_err();
        match &err {
            OutdirError::Collision { files, .. } => {
                assert_eq!(files, &["pcluster/cluster-config.yaml"])
            }
            e => panic!("{e}"),
        }
        assert_eq!(snapshot(&out), before);
    }
}

#[test]
fn a_symlink_in_place_of_a_render_directory_is_not_followed() {
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("gpu.sh"), "#!/bin/sh\necho a\n").unwrap();
    let out = t.path().join("out");
    write(&out, &set_a(), &opts(0)).unwrap();
    std::fs::remove_file(out.join("bootstrap/gpu.sh")).unwrap();
    std::fs::remove_dir(out.join("bootstrap")).unwrap();
    // Same contents as the render's file, reached through a symlinked directory.
    std::os::unix::fs::symlink(&victim, out.join("bootstrap")).unwrap();
    let before = snapshot(&victim);
    let o = write(&out, &set_b(), &opts(2)).unwrap();
    assert_eq!(o.removed, Vec::<String>::new());
    assert_eq!(
        snapshot(&victim),
        before,
        "the file behind the symlink stays"
    );
}

#[test]
fn non_empty_directory_without_manifest_is_refused_even_with_force() {
    let t = tempfile::tempdir().unwrap();
    let home = fake_home(&t);
    let before = snapshot(&home);
    for force in [0, 1, 2, 9] {
        let err = write(&home, &set_a(), &opts(force)).unwrap_err();
        assert!(matches!(err, OutdirError::Foreign { .. }), "{err}");
        assert!(
            err.to_string().contains("efactl-render"),
            "suggests a directory: {err}"
        );
        assert_eq!(snapshot(&home), before);
    }
}

#[test]
fn refused_locations_whatever_the_flags() {
    let t = tempfile::tempdir().unwrap();
    let home = fake_home(&t);
    let project = t.path().join("project");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::write(project.join("cluster.yaml"), "name: x\n").unwrap();
    let specdir = t.path().join("specs");
    std::fs::create_dir_all(specdir.join("sub")).unwrap();
    std::fs::write(specdir.join("sub/cluster.yaml"), "name: x\n").unwrap();
    let cwd = t.path().join("work/here");
    std::fs::create_dir_all(&cwd).unwrap();
    let all_before = snapshot(t.path());
    let cases: Vec<(PathBuf, &str)> = vec![
        (PathBuf::from("/"), "root directory"),
        (home.clone(), "home directory"),
        (home.join("."), "home directory"),
        (t.path().to_path_buf(), "holds your home"),
        (cwd.clone(), "current directory"),
        (t.path().join("work"), "holds the current directory"),
        (project.clone(), "git work tree"),
        (specdir.clone(), "holds the spec"),
    ];
    for force in [0, 1, 2] {
        for (out, why) in &cases {
            let o = WriteOptions {
                force,
                spec: Some(specdir.join("sub/cluster.yaml")),
                home: Some(home.clone()),
                cwd: Some(cwd.clone()),
            };
            let err = write(out, &set_a(), &o).unwrap_err();
            assert!(
                matches!(err, OutdirError::Refused { .. }) && err.to_string().contains(why),
                "{}: {err}",
                out.display()
            );
        }
    }
    assert_eq!(snapshot(t.path()), all_before);
}

#[test]
fn a_symlinked_out_is_judged_by_where_it_points() {
    let t = tempfile::tempdir().unwrap();
    let home = fake_home(&t);
    let link = t.path().join("build");
    std::os::unix::fs::symlink(&home, &link).unwrap();
    let before = snapshot(&home);
    let o = WriteOptions {
        force: 2,
        home: Some(home.clone()),
        ..WriteOptions::default()
    };
    let err = write(&link, &set_a(), &o).unwrap_err();
    assert!(err.to_string().contains("home directory"), "{err}");
    assert_eq!(snapshot(&home), before);
    // A symlink to an empty directory of the user's is fine: files land behind it.
    let real = t.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link2 = t.path().join("build2");
    std::os::unix::fs::symlink(&real, &link2).unwrap();
    write(&link2, &set_a(), &opts(0)).unwrap();
    assert!(real.join("cloudformation.yaml").is_file());
    assert!(std::fs::symlink_metadata(&link2)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn out_pointing_at_a_file_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("file");
    std::fs::write(&f, "data").unwrap();
    for force in [0, 1, 2] {
        let err = write(&f, &set_a(), &opts(force)).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        assert_eq!(std::fs::read(&f).unwrap(), b"data");
    }
    let l = t.path().join("link");
    std::os::unix::fs::symlink(&f, &l).unwrap();
    let err = write(&l, &set_a(), &opts(2)).unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    assert_eq!(std::fs::read(&f).unwrap(), b"data");
}

#[test]
fn an_interrupted_render_leaves_files_the_manifest_vouches_for() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    write(&out, &set_a(), &opts(0)).unwrap();
    // What a render killed after its interim manifest and its first rename leaves behind.
    let mut m: Manifest =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    m.complete = false;
    let new = "Resources: {B: 1}\n";
    m.files[0].previous = Some(m.files[0].sha256.clone());
    m.files[0].sha256 = sha256_hex(new.as_bytes());
    std::fs::write(out.join(MANIFEST), manifest_bytes(&m)).unwrap();
    std::fs::write(out.join("cloudformation.yaml"), new).unwrap();
    // The next --force treats the mix as the render's own: no edit reported.
    let o = write(&out, &set_b(), &opts(1)).unwrap();
    assert_eq!(o.replaced, vec!["cloudformation.yaml"]);
    assert_eq!(o.removed, vec!["bootstrap/gpu.sh"]);
}

#[test]
fn a_manifest_that_lists_paths_outside_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    write(&out, &set_a(), &opts(0)).unwrap();
    std::fs::write(t.path().join("precious"), "x").unwrap();
    let mut m: Manifest =
        serde_json::from_slice(&std::fs::read(out.join(MANIFEST)).unwrap()).unwrap();
    m.files.push(ManifestFile {
        path: "../precious".into(),
        sha256: sha256_hex(b"x"),
        previous: None,
    });
    std::fs::write(out.join(MANIFEST), manifest_bytes(&m)).unwrap();
    let err = write(&out, &set_b(), &opts(2)).unwrap_err();
    assert!(matches!(err, OutdirError::BadManifest { .. }), "{err}");
    assert!(t.path().join("precious").exists());
    std::fs::write(out.join(MANIFEST), "{not json").unwrap();
    let err = write(&out, &set_b(), &opts(2)).unwrap_err();
    assert!(matches!(err, OutdirError::BadManifest { .. }), "{err}");
}

#[test]
fn modes_are_kept() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let mut files = set_a();
    files[1].mode = 0o755;
    write(&out, &files, &opts(0)).unwrap();
    let m = std::fs::metadata(out.join("bootstrap/gpu.sh")).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o755);
}

mod random_trees {
    use super::*;
    use proptest::prelude::*;

    /// A random tree of the user's: files and directories under a few names that collide with
    /// the render's paths on purpose.
    fn tree() -> impl Strategy<Value = Vec<(String, bool)>> {
        let names = prop::sample::select(vec![
            "cloudformation.yaml",
            "bootstrap",
            "pcluster",
            "notes",
            ".efactl-render.json",
            ".git",
            "gpu.sh",
        ]);
        prop::collection::vec((prop::collection::vec(names, 1..3), any::<bool>()), 0..6).prop_map(
            |v| {
                v.into_iter()
                    .map(|(parts, is_dir)| (parts.join("/"), is_dir))
                    .collect()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Whatever the directory holds and whatever the flags: every file that was there and
        /// that no manifest vouched for is still there, byte-identical.
        #[test]
        fn foreign_files_survive(tree in tree(), force in 0u8..3, second in any::<bool>()) {
            let t = tempfile::tempdir().unwrap();
            let out = t.path().join("out");
            if second {
                write(&out, &set_a(), &opts(0)).unwrap();
            } else {
                std::fs::create_dir(&out).unwrap();
            }
            for (p, is_dir) in &tree {
                let full = out.join(p);
                if let Some(parent) = full.parent() {
                    if std::fs::create_dir_all(parent).is_err() { continue; }
                }
                let _ = if *is_dir { std::fs::create_dir_all(&full) } else { std::fs::write(&full, p.as_bytes()) };
            }
            let listed: BTreeSet<String> = if second {
                set_a().iter().map(|f| f.path.clone()).chain([MANIFEST.to_string()]).collect()
            } else {
                BTreeSet::new()
            };
            let before: BTreeMap<String, Vec<u8>> = snapshot(&out)
                .into_iter()
                .filter(|(k, _)| !listed.contains(k))
                .collect();
            let _ = write(&out, &set_b(), &opts(force));
            let after = snapshot(&out);
            for (k, v) in &before {
                if k.ends_with('/') {
                    // A render may only remove a directory it created, and only when empty.
                    continue;
                }
                prop_assert_eq!(after.get(k), Some(v), "`{}` changed or vanished", k);
            }
        }
    }
}
