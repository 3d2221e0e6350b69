//! Real third-party ParallelCluster 3 configs (tests/corpus/pcluster, verbatim, each with its
//! source in `NAME.source.yaml`) checked as a user would check them. Every sidecar lists the
//! warnings and errors a careful reader expects, with the reason; the test fails on any
//! difference, in either direction. Configs marked `heldout` (a hash rule fixed before any
//! was read, README.md) had their expectations written from the file before the reader was
//! run on them; the score of each part is printed
//! (`cargo test --test pcluster_corpus -- --nocapture`).
//!
//! Injected-defect copies (one defect each, applied here as a text replacement so that the
//! originals stay verbatim) prove that the rules fire on these real shapes.

use efactl_core::check::check_file;
use efactl_core::rules::Options;
use efactl_core::{Catalog, Severity};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/pcluster")
}

struct Case {
    name: String,
    file: PathBuf,
    heldout: bool,
    sha256: String,
    expected: BTreeSet<(String, String, String)>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut sidecars: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".source.yaml"))
        .collect();
    sidecars.sort();
    for side in sidecars {
        let text = std::fs::read_to_string(&side).unwrap();
        let node = efactl_core::yaml::parse(&text).unwrap().unwrap();
        let v = efactl_core::cfn_read::to_json(&node);
        let name = side
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".source.yaml")
            .to_string();
        let file = ["yaml", "yml"]
            .iter()
            .map(|e| dir().join(format!("{name}.{e}")))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{name}: no config beside its sidecar"));
        for key in [
            "repo", "path", "commit", "url", "license", "sha256", "facts", "verdict",
        ] {
            assert!(
                v.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty()),
                "{name}: the sidecar has no `{key}`"
            );
        }
        let expected = v
            .get("expected")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{name}: the sidecar has no `expected` list"))
            .iter()
            .map(|e| {
                let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                assert!(
                    !s("reason").is_empty(),
                    "{name}: an expectation without a reason"
                );
                (s("rule"), s("severity"), s("path"))
            })
            .collect();
        out.push(Case {
            name,
            file,
            heldout: v.get("heldout").and_then(Value::as_bool).unwrap(),
            sha256: v["sha256"].as_str().unwrap().to_string(),
            expected,
        });
    }
    out
}

/// Warnings and errors of a check (notes that a value was not known are not verdicts).
fn verdicts(name: &str, text: &str) -> BTreeSet<(String, String, String)> {
    let r = check_file(name, text, Catalog::bundled(), &Options::default());
    r.findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| {
            (
                f.rule.clone(),
                f.severity.as_str().to_string(),
                f.subject.path.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn real_configs_get_exactly_the_findings_a_careful_reader_expects() {
    let cases = cases();
    assert!(cases.len() >= 20, "{} configs", cases.len());
    let mut diffs = Vec::new();
    for part in [false, true] {
        let (mut n, mut expected, mut found, mut false_errors, mut other) = (0, 0, 0, 0, 0);
        for c in cases.iter().filter(|c| c.heldout == part) {
            n += 1;
            let text = String::from_utf8(std::fs::read(&c.file).unwrap()).unwrap();
            let got = verdicts(&c.name, &text);
            if std::env::var_os("EFACTL_CORPUS_DUMP").is_some() {
                println!("{}: {got:?}", c.name);
            }
            expected += c.expected.len();
            found += c.expected.intersection(&got).count();
            for extra in got.difference(&c.expected) {
                if extra.1 == "error" {
                    false_errors += 1;
                } else {
                    other += 1;
                }
                diffs.push(format!("{}: unexpected {extra:?}", c.name));
            }
            for miss in c.expected.difference(&got) {
                diffs.push(format!("{}: missed {miss:?}", c.name));
            }
        }
        println!(
            "{}: {n} configs read, {false_errors} unexpected errors, {other} unexpected warnings, {found}/{expected} expected findings found",
            if part { "held-out" } else { "development" }
        );
    }
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn every_config_is_read_as_a_parallelcluster_config() {
    for c in cases() {
        let text = String::from_utf8(std::fs::read(&c.file).unwrap()).unwrap();
        let r = check_file(&c.name, &text, Catalog::bundled(), &Options::default());
        if c.expected.iter().any(|e| e.0 == "SPEC001") {
            continue;
        }
        let cluster = r
            .cluster
            .unwrap_or_else(|| panic!("{}: no model: {:?}", c.name, r.findings));
        assert_eq!(
            cluster.read_from,
            efactl_core::model::ReadFrom::ParallelCluster,
            "{}",
            c.name
        );
    }
}

#[test]
fn corpus_files_are_the_verbatim_sources() {
    use sha2::{Digest, Sha256};
    for c in cases() {
        let bytes = std::fs::read(&c.file).unwrap();
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex, c.sha256,
            "{}: the file differs from its source",
            c.name
        );
    }
}

/// One defect in a copy of a real config: the finding it must raise (at that path), which
/// the original does not have.
struct Injected {
    config: &'static str,
    find: &'static str,
    replace: &'static str,
    rule: &'static str,
    path: &'static str,
    why: &'static str,
}

const INJECTED: &[Injected] = &[
    Injected {
        config: "gm-efa.yaml",
        find: "        PlacementGroup:\n          Enabled: true",
        replace: "        PlacementGroup:\n          Enabled: false",
        rule: "EFA011",
        path: "Scheduling.SlurmQueues[0].Networking.PlacementGroup",
        why: "the EFA queue's placement group turned off",
    },
    Injected {
        config: "gm-full.yaml",
        find: "          - subnet-0ecafb5ea72369193 # DevWorkspaceVPC/IAD1/Private\n",
        replace: "          - subnet-0ecafb5ea72369193 # DevWorkspaceVPC/IAD1/Private\n          - subnet-0ffffffffffffffff\n",
        rule: "EFA015",
        path: "Scheduling.SlurmQueues[0].Networking.SubnetIds",
        why: "a second subnet on the c5n EFA queue: EFA traffic crosses no subnet",
    },
    Injected {
        config: "efapf-p4de.yaml",
        find: "InstanceType: p4de.24xlarge",
        replace: "InstanceType: m5.24xlarge",
        rule: "EFA006",
        path: "Scheduling.SlurmQueues[0].ComputeResources[0].InstanceType",
        why: "EFA enabled on a type that has none",
    },
    Injected {
        config: "tut-hpc6a-fsx.yaml",
        find: "          Efa:\n            Enabled: true",
        replace: "          Efa:\n            Enabled: false",
        rule: "EFA007",
        path: "Scheduling.SlurmQueues[0].ComputeResources[0].Efa.Enabled",
        why: "EFA turned off on the hpc6a queue",
    },
    Injected {
        config: "gm-capacity-block-p5.yaml",
        find: "        PlacementGroup:\n          Enabled: false",
        replace: "        PlacementGroup:\n          Enabled: true",
        rule: "EFA014",
        path: "Scheduling.SlurmQueues[0].Networking.PlacementGroup",
        why: "a placement group on a Capacity Block queue",
    },
    Injected {
        config: "gm-efa.yaml",
        find: "    AllowedIps: pl-01a74268",
        replace: "    AllowedIps: 0.0.0.0/0",
        rule: "EFA005",
        path: "HeadNode.Ssh.AllowedIps",
        why: "SSH from the whole internet",
    },
];

/// Words of a spec (cluster.yaml) that a fix on a ParallelCluster config must not use.
const SPEC_WORDS: &[&str] = &[
    "efa: off",
    "placementGroup:",
    "`placementGroup",
    "selfReferencing",
    "nodeGroups",
    "`cidr`",
    "`subnet:`",
    "publicIp:",
];

#[test]
fn injected_defects_fire_in_the_configs_own_terms() {
    for i in INJECTED {
        let text = std::fs::read_to_string(dir().join(i.config)).unwrap();
        assert!(
            text.contains(i.find),
            "{}: `{}` is not in it",
            i.config,
            i.find
        );
        let before = check_file(i.config, &text, Catalog::bundled(), &Options::default());
        assert!(
            !before
                .findings
                .iter()
                .any(|f| f.rule == i.rule && f.subject.path.as_deref() == Some(i.path)),
            "{}: {} is there before the defect",
            i.config,
            i.rule
        );
        let broken = text.replacen(i.find, i.replace, 1);
        let after = check_file(i.config, &broken, Catalog::bundled(), &Options::default());
        let f = after
            .findings
            .iter()
            .find(|f| f.rule == i.rule)
            .unwrap_or_else(|| {
                panic!(
                    "{} ({}): no {}: {:#?}",
                    i.config, i.why, i.rule, after.findings
                )
            });
        assert_eq!(
            f.subject.path.as_deref(),
            Some(i.path),
            "{}: {}",
            i.config,
            i.why
        );
        let loc = f.subject.location.as_ref().expect("located in the config");
        // The key's own line, or the first line of its block value.
        let line_of = |n: u32| broken.lines().nth(n as usize - 1).unwrap_or("");
        let last = i
            .path
            .rsplit(['.', '['])
            .next()
            .unwrap()
            .trim_end_matches(']');
        let n = loc.start.line;
        assert!(
            line_of(n).contains(last) || (n > 1 && line_of(n - 1).contains(&format!("{last}:"))),
            "{}: line {n} `{}` is not where `{}` is",
            i.config,
            line_of(n),
            i.path
        );
        let help = f.help.as_deref().unwrap_or("");
        for w in SPEC_WORDS {
            assert!(
                !help.contains(w),
                "{}: {}'s help speaks spec (`{w}`): {help}",
                i.config,
                i.rule
            );
        }
        assert!(
            [
                "Efa",
                "Networking",
                "AllowedIps",
                "SubnetIds",
                "InstanceType"
            ]
            .iter()
            .any(|k| help.contains(k)),
            "{}: {}'s help names no config key: {help}",
            i.config,
            i.rule
        );
    }
}
