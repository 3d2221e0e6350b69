//! The CLI contract: bounded reads of every kind of input, the empty document, regions and
//! zones, long values cut, exit codes, and JSON on stdout for errors too.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn efactl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("efactl runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn scratch(name: &str, content: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_string_lossy().into_owned()
}

const BASE: &str = "apiVersion: efactl.dev/v1alpha1
name: t
region: REGION
availabilityZone: ZONE
network:
  subnets:
    - { name: compute, cidr: 10.0.0.0/20, internet: nat }
securityGroups:
  - { name: efa, selfReferencing: true }
nodeGroups:
  - name: gpu
    instanceType: p4d.24xlarge
    count: 2
    securityGroups: [efa]
";

fn spec(region: &str, zone: &str) -> String {
    BASE.replace("REGION", region).replace("ZONE", zone)
}

#[test]
fn devices_are_refused_before_any_read() {
    for dev in ["/dev/zero", "/dev/urandom"] {
        let o = efactl(&["check", dev]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("character device"), "{}", text(&o));
        let o = efactl(&["nccl", "analyze", dev]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("character device"), "{}", text(&o));
    }
}

#[test]
fn an_endless_pipe_stops_at_the_limit_and_says_which() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(["check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Bounded: at most 16 MiB are offered; efactl stops reading at 8 MiB + 1.
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let line = b"a: 1\n".repeat(4096);
        for _ in 0..(16 << 20) / line.len() {
            if stdin.write_all(&line).is_err() {
                break;
            }
        }
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("goes on past 8 MiB"), "{}", text(&o));

    let mut child = Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(["nccl", "analyze", "-", "--max-bytes", "1M"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let line = b"h:1:1 [0] NCCL INFO x\n".repeat(1000);
        for _ in 0..200 {
            if stdin.write_all(&line).is_err() {
                break;
            }
        }
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(text(&o).contains("goes on past 1 MiB"), "{}", text(&o));
}

#[test]
fn a_bare_null_is_an_empty_spec_everywhere() {
    for doc in ["null\n", "~\n", ""] {
        let f = scratch("null.yaml", doc);
        let o = efactl(&["check", &f]);
        assert_eq!(o.status.code(), Some(2), "{doc:?}: {}", text(&o));
        assert!(text(&o).contains("SPEC008"), "{doc:?}: {}", text(&o));
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-null-out");
        let o = efactl(&["render", &f, "--out", &out.to_string_lossy()]);
        assert_eq!(o.status.code(), Some(2), "{doc:?}: {}", text(&o));
        assert!(text(&o).contains("SPEC008"), "{}", text(&o));
        assert!(!out.exists());
    }
}

#[test]
fn regions_and_zones_must_agree() {
    let ok = efactl(&["check", &scratch("ok.yaml", &spec("us-east-1", "use1-az6"))]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    for (region, zone, says) in [
        (
            "mars-north-1",
            "us-east-1a",
            "`mars-north-1` is not an AWS region",
        ),
        (
            "us-east-1",
            "eu-west-1a",
            "zone `eu-west-1a` is in region `eu-west-1`, not `us-east-1`",
        ),
        (
            "eu-west-1",
            "use1-az6",
            "zone id `use1-az6` is in region `us-east-1`, not `eu-west-1`",
        ),
    ] {
        let f = scratch("zone.yaml", &spec(region, zone));
        let o = efactl(&["check", &f]);
        assert_eq!(o.status.code(), Some(2), "{region} {zone}: {}", text(&o));
        assert!(text(&o).contains(says), "{region} {zone}: {}", text(&o));
        assert!(
            text(&o).contains(":4:") || text(&o).contains(":3:"),
            "located: {}",
            text(&o)
        );
    }
}

#[test]
fn a_duplicate_key_is_one_finding() {
    let f = scratch(
        "dup.yaml",
        &format!("{}name: again\n", spec("us-east-1", "us-east-1a")),
    );
    let o = efactl(&["check", &f, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["SPEC005"], "{v}");
}

#[test]
fn long_values_are_cut_in_messages() {
    let long = "x".repeat(5 << 20);
    let f = scratch(
        "long.yaml",
        &spec("us-east-1", "us-east-1a").replace("name: t", &format!("name: {long}")),
    );
    let o = efactl(&["check", &f, "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        o.stdout.len() < 64 * 1024,
        "{} bytes of output",
        o.stdout.len()
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("characters)"));
}

#[test]
fn errors_under_json_are_json_on_stdout() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-json-out");
    let o = efactl(&[
        "render",
        "/nonexistent.yaml",
        "--out",
        &out.to_string_lossy(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "efactl.error/v1");
    assert_eq!(v["command"], "render");
    assert_eq!(v["exitCode"], 2);
    let o = efactl(&[
        "render",
        "/nonexistent.yaml",
        "--out",
        "/",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "efactl.error/v1", "{v}");
    let o = efactl(&["init", "--example", "nope", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("choose one of"));
}

/// Object keys that break the convention (docs/output.md: camelCase), with their path. Maps
/// keyed by data (stack outputs, environment variables) are arrays of pairs or named here.
fn non_camel_keys(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let data_keyed = path.ends_with(".outputs") || path.ends_with(".missing");
                let camel = k.starts_with('$')
                    || (k.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && k.chars().all(|c| c.is_ascii_alphanumeric()));
                if !camel && !data_keyed {
                    out.push(format!("{path}.{k}"));
                }
                non_camel_keys(x, &format!("{path}.{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for x in a {
                non_camel_keys(x, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_json_document_has_a_schema_and_camel_case_keys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ex = |p: &str| root.join(p).to_string_lossy().into_owned();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract-camel-render");
    let _ = std::fs::remove_dir_all(&out);
    let log = std::fs::read_dir(root.join("crates/efactl-doctor/tests/corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let runs: Vec<Vec<String>> = vec![
        vec!["check".into(), ex("examples/c5n-mpi.yaml")],
        vec!["check".into(), ex("examples/broken/c5n-mpi-two-zones.yaml")],
        vec![
            "render".into(),
            ex("examples/c5n-mpi.yaml"),
            "--out".into(),
            out.to_string_lossy().into_owned(),
        ],
        vec!["rules".into()],
        vec!["explain".into(), "EFA001".into()],
        vec!["init".into(), "--list".into()],
        vec![
            "nccl".into(),
            "analyze".into(),
            log.to_string_lossy().into_owned(),
        ],
        vec!["init".into(), "--example".into(), "nope".into()],
        vec![
            "doctor".into(),
            "--local".into(),
            "2".into(),
            "--duration".into(),
            "0.2".into(),
            "--sizes".into(),
            "64K".into(),
            "--iters".into(),
            "1".into(),
        ],
    ];
    for args in runs {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend(["--format", "json"]);
        let o = efactl(&a);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{a:?}: not JSON ({e}): {}", text(&o)));
        let schema = v["schema"]
            .as_str()
            .unwrap_or_else(|| panic!("{a:?}: no schema: {v}"));
        assert!(
            schema.starts_with("efactl.") && schema.contains("/v"),
            "{a:?}: {schema}"
        );
        let mut bad = Vec::new();
        non_camel_keys(&v, "", &mut bad);
        assert!(
            bad.is_empty(),
            "{a:?} ({schema}): keys not in camelCase: {bad:?}"
        );
    }
}

#[test]
fn check_takes_several_files_and_exits_with_the_worst() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let good = root
        .join("examples/c5n-mpi.yaml")
        .to_string_lossy()
        .into_owned();
    let bad = root
        .join("examples/broken/c5n-mpi-two-zones.yaml")
        .to_string_lossy()
        .into_owned();
    let o = efactl(&["check", &good, &good]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(text(&o).matches("no findings").count(), 2, "{}", text(&o));
    let o = efactl(&["check", &good, &bad]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = efactl(&[
        "check",
        &good,
        &bad,
        "/nonexistent.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let files: std::collections::BTreeSet<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            f["location"]["file"]
                .as_str()
                .or(f["path"].as_str())
                .map(str::to_string)
        })
        .collect();
    assert!(
        files.contains(&bad) && files.contains("/nonexistent.yaml"),
        "{files:?}"
    );
}

#[test]
fn completions_and_man_pages_come_from_the_cli_definition() {
    let bash = efactl(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    let script = String::from_utf8(bash.stdout).unwrap();
    assert!(
        script.contains("_efactl()") && script.contains("--endpoint-url"),
        "{script}"
    );
    // Every command is completed.
    for c in [
        "check",
        "render",
        "deploy",
        "audit",
        "doctor",
        "nccl",
        "completions",
        "man",
    ] {
        assert!(script.contains(c), "bash completion lacks `{c}`");
    }
    // The script is valid bash.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("completions");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("efactl.bash");
    std::fs::write(&path, &script).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );

    let zsh = String::from_utf8(efactl(&["completions", "zsh"]).stdout).unwrap();
    assert!(zsh.starts_with("#compdef efactl"), "{zsh}");
    let fish = String::from_utf8(efactl(&["completions", "fish"]).stdout).unwrap();
    assert!(fish.contains("complete -c efactl"), "{fish}");

    let man = String::from_utf8(efactl(&["man"]).stdout).unwrap();
    assert!(
        man.contains(".TH efactl 1") && man.contains("deploy"),
        "{man}"
    );
    let deploy = String::from_utf8(efactl(&["man", "deploy"]).stdout).unwrap();
    assert!(
        deploy.contains(".TH efactl\\-deploy 1") || deploy.contains(".TH efactl-deploy 1"),
        "{deploy}"
    );
    assert!(
        deploy.contains("profile") && deploy.contains("dry\\-run"),
        "{deploy}"
    );
    let o = efactl(&["man", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}
