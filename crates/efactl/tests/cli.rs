//! The efactl binary as users run it: exit codes, formats, and bad input of every kind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn efactl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("efactl runs")
}

fn efactl_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("efactl runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> String {
    root()
        .join("examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A scratch file under the target dir, unique per test.
fn scratch(name: &str, content: &[u8]) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.to_string_lossy().into_owned()
}

const VALID: &str = "apiVersion: efactl.dev/v1alpha1
name: t
region: us-east-1
availabilityZone: us-east-1a
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

#[test]
fn bundled_example_checks_clean() {
    let o = efactl(&["check", &example("p5-slurm-private.yaml")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("no findings"));
}

#[test]
fn valid_spec_from_stdin() {
    let o = efactl_stdin(&["check", "-"], VALID.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn bad_input_exits_2_with_the_rule_and_place() {
    let big = vec![b'#'; 50 * 1024 * 1024];
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "missing file",
            "/nonexistent/cluster.yaml".into(),
            "SPEC012",
        ),
        (
            "directory",
            root().join("examples").to_string_lossy().into_owned(),
            "SPEC012",
        ),
        ("empty file", scratch("empty.yaml", b""), "SPEC008"),
        (
            "comments only",
            scratch("comments.yaml", b"# nothing\n"),
            "SPEC008",
        ),
        (
            "not yaml",
            scratch("notyaml.yaml", b"a: [1, 2\nb: {\n"),
            "SPEC001",
        ),
        (
            "binary",
            scratch("binary.yaml", &[0xff, 0xfe, 0x00, 0x41]),
            "SPEC012",
        ),
        ("50 MB", scratch("big.yaml", &big), "SPEC012"),
        (
            "deep nesting",
            scratch(
                "deep.yaml",
                format!("a: {}{}", "[".repeat(5000), "]".repeat(5000)).as_bytes(),
            ),
            "SPEC001",
        ),
        (
            "yaml bomb",
            scratch("bomb.yaml", bomb().as_bytes()),
            "SPEC001",
        ),
        (
            "two documents",
            scratch("two.yaml", format!("{VALID}---\n{VALID}").as_bytes()),
            "SPEC001",
        ),
        (
            "wrong type",
            scratch(
                "wrongtype.yaml",
                VALID.replace("count: 2", "count: [2]").as_bytes(),
            ),
            "SPEC003",
        ),
        (
            "unknown key",
            scratch(
                "unknown.yaml",
                VALID.replace("count: 2", "cuont: 2").as_bytes(),
            ),
            "SPEC002",
        ),
        (
            "duplicate key",
            scratch(
                "dup.yaml",
                VALID
                    .replace("count: 2", "count: 2\n    count: 3")
                    .as_bytes(),
            ),
            "SPEC005",
        ),
        (
            "unknown type",
            scratch(
                "type.yaml",
                VALID.replace("p4d.24xlarge", "p4d.24xlarg").as_bytes(),
            ),
            "SPEC011",
        ),
        (
            "negative count",
            scratch(
                "neg.yaml",
                VALID.replace("count: 2", "count: -2").as_bytes(),
            ),
            "SPEC006",
        ),
        (
            "bad cidr",
            scratch(
                "cidr.yaml",
                VALID.replace("10.0.0.0/20", "10.0.0.0/40").as_bytes(),
            ),
            "SPEC006",
        ),
        (
            "bad version",
            scratch("ver.yaml", VALID.replace("v1alpha1", "v9").as_bytes()),
            "SPEC007",
        ),
        (
            "undefined sg",
            scratch("ref.yaml", VALID.replace("[efa]", "[efa-sg]").as_bytes()),
            "SPEC010",
        ),
        (
            // A list is no kind of file efactl reads: one error naming the kinds it reads.
            "root is a list",
            scratch("list.yaml", b"- a\n- b\n"),
            "SPEC014",
        ),
        (
            "invalid utf8 in value",
            scratch("utf8.yaml", b"name: \xc3\x28\n"),
            "SPEC012",
        ),
    ];
    for (what, path, rule) in cases {
        let o = efactl(&["check", &path, "--format", "json"]);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stdout(&o));
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{what}: {e}"));
        let rules: Vec<&str> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        assert!(
            rules.contains(&rule),
            "{what}: expected {rule}, got {rules:?}"
        );
        assert!(
            o.stderr.is_empty() || !String::from_utf8_lossy(&o.stderr).contains("panicked"),
            "{what} panicked"
        );
    }
}

fn bomb() -> String {
    let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    s
}

#[test]
fn human_errors_name_file_line_and_column_and_suggest() {
    let path = scratch(
        "typo.yaml",
        VALID.replace("instanceType", "instanceTyp").as_bytes(),
    );
    let o = efactl(&["check", &path]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(out.contains("typo.yaml:12:5"), "{out}");
    assert!(out.contains("did you mean `instanceType`"), "{out}");
    assert!(out.contains("error[SPEC002]"), "{out}");
}

#[test]
fn cluster_findings_exit_1_and_fail_on_ignore_severity_work() {
    let bad = scratch(
        "noself.yaml",
        VALID
            .replace("selfReferencing: true", "selfReferencing: false")
            .as_bytes(),
    );
    let o = efactl(&["check", &bad]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("EFA002"));
    let o = efactl(&[
        "check",
        &bad,
        "--ignore",
        "EFA001,efa-sg-missing-self-egress,job-port-blocked",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = efactl(&[
        "check",
        &bad,
        "--severity",
        "EFA001=warning,EFA002=warning,EFA031=info",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = efactl(&[
        "check",
        &bad,
        "--severity",
        "EFA001=warning,EFA002=warning,EFA031=info",
        "--fail-on",
        "warning",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let o = efactl(&["check", &bad, "--ignore", "EFA999"]);
    assert_eq!(o.status.code(), Some(2));
    // The spec's own ignore list works too.
    let spec_ignore = scratch(
        "specignore.yaml",
        format!(
            "{}checks:\n  ignore: [EFA001, EFA002, EFA031]\n",
            VALID.replace("selfReferencing: true", "selfReferencing: false")
        )
        .as_bytes(),
    );
    let o = efactl(&["check", &spec_ignore]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn sarif_is_2_1_0_with_rules_and_regions() {
    let bad = scratch(
        "sarif.yaml",
        VALID
            .replace("selfReferencing: true", "selfReferencing: false")
            .as_bytes(),
    );
    let o = efactl(&["check", &bad, "--format", "sarif"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "EFA002"));
    let results = run["results"].as_array().unwrap();
    let r = results.iter().find(|r| r["ruleId"] == "EFA002").unwrap();
    assert_eq!(
        rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "EFA002"
    );
    let region = &r["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 9);
    assert_eq!(r["level"], "error");
}

#[test]
fn json_output_is_stable_and_sorted() {
    let bad = scratch(
        "json.yaml",
        VALID
            .replace("selfReferencing: true", "selfReferencing: false")
            .as_bytes(),
    );
    let a = efactl(&["check", &bad, "--format", "json"]);
    let b = efactl(&["check", &bad, "--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["schema"], "efactl.findings/v1");
    // EFA001, EFA002 and EFA031 (nothing admits TCP between the nodes).
    assert_eq!(v["summary"]["errors"], 3);
    let f = &v["findings"][0];
    assert!(f["location"]["line"].as_u64().is_some());
    assert!(f["path"].as_str().unwrap().starts_with("securityGroups[0]"));
}

#[test]
fn explain_rules_and_init() {
    let o = efactl(&["explain", "EFA002"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.starts_with("EFA002 efa-sg-missing-self-egress (error by default)"),
        "{out}"
    );
    assert!(out.contains("## Fix"));
    let o = efactl(&["explain", "efa-sg-missing-self-egres"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("did you mean `efa-sg-missing-self-egress`")
    );

    let o = efactl(&["rules", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "efactl.rules/v1");
    assert!(v["rules"].as_array().unwrap().len() >= 34);

    let o = efactl(&["init", "--list"]);
    // Descriptions wrap onto indented lines; names start a line.
    let names: Vec<String> = stdout(&o)
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "c5n-mpi",
            "g5-batch-mpi",
            "hyperpod-slurm",
            "p5-slurm-private",
            "trn2-eks"
        ],
        "every example of examples/"
    );
    let listed = stdout(&o);
    let words: Vec<&str> = listed.split_whitespace().collect();
    assert!(
        words.ends_with(&["NAT", "gateway."]) && words.contains(&"hostnames."),
        "descriptions are whole: {}",
        stdout(&o)
    );
    let j = efactl(&["init", "--list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["schema"], "efactl.examples/v1");
    assert!(v["examples"][3]["description"]
        .as_str()
        .unwrap()
        .ends_with("is replaced by EC2 hostnames."));
    for name in names {
        let o = efactl(&["init", "--example", &name]);
        assert_eq!(o.status.code(), Some(0));
        let c = efactl_stdin(&["check", "-", "--format", "json"], &o.stdout);
        let v: serde_json::Value = serde_json::from_slice(&c.stdout).unwrap();
        assert_eq!(v["summary"]["errors"], 0, "init --example {name}: {v}");
    }
    let o = efactl(&["init", "--example", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    // The README's `init --example trn2-eks FILE`: written whole; an error writes nothing, and
    // an existing file is kept unless --force.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-init");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("cluster.yaml");
    let fs = f.to_string_lossy().into_owned();
    let o = efactl(&["init", "--example", "nope", &fs]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!f.exists(), "nothing written on error");
    let o = efactl(&["init", "--example", "trn2-eks", &fs]);
    assert_eq!(o.status.code(), Some(0));
    assert!(std::fs::read_to_string(&f)
        .unwrap()
        .contains("trn2.48xlarge"));
    std::fs::write(&f, "mine").unwrap();
    let o = efactl(&["init", "--example", "c5n-mpi", &fs]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read(&f).unwrap(), b"mine");
    let o = efactl(&["init", "--example", "c5n-mpi", &fs, "--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(std::fs::read_to_string(&f).unwrap().contains("c5n"));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left"
    );
}

#[test]
fn colour_only_when_asked() {
    let bad = scratch(
        "color.yaml",
        VALID
            .replace("selfReferencing: true", "selfReferencing: false")
            .as_bytes(),
    );
    let plain = efactl(&["check", &bad]);
    assert!(!stdout(&plain).contains('\x1b'));
    let coloured = efactl(&["check", &bad, "--color", "always"]);
    assert!(stdout(&coloured).contains('\x1b'));
}

/// A type that no bundled table knows is SPEC011 until a source knows it: the cache that
/// `catalog refresh` writes is read before the bundled catalog. A broken cache is named on
/// stderr and the bundled catalog is used.
#[test]
fn a_type_known_only_to_the_cache_is_checked_with_its_facts() {
    use efactl_core::catalog::{cache_text, parse_csv};
    let spec = std::fs::read_to_string(example("c5n-mpi.yaml"))
        .unwrap()
        .replace("c5n.18xlarge", "c9n.18xlarge");
    let spec = scratch("cache-spec.yaml", spec.as_bytes());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache");
    std::fs::create_dir_all(&dir).unwrap();
    let cache = dir.join("instance-types.csv");
    let _ = std::fs::remove_file(&cache);
    let check = |cache: &Path| {
        Command::new(env!("CARGO_BIN_EXE_efactl"))
            .args(["check", &spec, "--format", "json"])
            .env("NO_COLOR", "1")
            .env("EFACTL_CATALOG_CACHE", cache)
            .output()
            .unwrap()
    };
    let rules_of = |o: &Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let o = check(&cache);
    assert!(
        rules_of(&o).contains(&"SPEC011".to_string()),
        "{}",
        stdout(&o)
    );

    // The cache row: c5n's facts under the new name, as a refresh would write a new type.
    let mut row = efactl_core::Catalog::bundled()
        .get("c5n.18xlarge")
        .unwrap()
        .clone();
    row.name = "c9n.18xlarge".into();
    row.sources = vec!["DescribeInstanceTypes us-east-1 2026-12-03".into()];
    let text = cache_text(&[row], "1 type");
    assert_eq!(parse_csv(&text).unwrap().len(), 1);
    std::fs::write(&cache, &text).unwrap();
    let o = check(&cache);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(rules_of(&o).iter().all(|r| r != "SPEC011"));

    let broken = text.replace("c9n.18xlarge,none,,true,", "c9n.18xlarge,none,,maybe,");
    assert_ne!(broken, text);
    std::fs::write(&cache, broken).unwrap();
    let o = check(&cache);
    assert!(rules_of(&o).contains(&"SPEC011".to_string()));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("instance-types.csv") && err.contains("line 4"),
        "{err}"
    );
}

#[test]
fn a_hyperpod_config_is_checked_with_the_provisioning_parameters_beside_it() {
    // Verbatim files of aws-samples/playground-persistent-cluster (tests/corpus/hyperpod),
    // with the controller group renamed in the parameters.
    let corpus = root().join("crates/efactl-core/tests/corpus/hyperpod");
    let config = std::fs::read(corpus.join("ppc-cluster-config-three-groups.json")).unwrap();
    let params = std::fs::read_to_string(corpus.join("ppc-provisioning-parameters.json"))
        .unwrap()
        .replace(
            "\"controller_group\": \"controller-machine\"",
            "\"controller_group\": \"head\"",
        );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-hyperpod");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cluster-config.json"), config).unwrap();
    std::fs::write(dir.join("provisioning_parameters.json"), params).unwrap();
    let p = dir.join("provisioning_parameters.json");
    let o = efactl(&["check", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "SPEC010")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert!(f["message"].as_str().unwrap().contains("`head`"), "{f:#}");
    assert_eq!(f["location"]["line"], 4, "{f:#}");
    // The config beside gets the roles and no error.
    let c = dir.join("cluster-config.json");
    let o = efactl(&["check", c.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}
