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

mod common;

use common::corpus::{self, Case};
use efactl_core::check::check_file;
use efactl_core::rules::Options;
use efactl_core::Catalog;
use std::path::PathBuf;

fn dir() -> PathBuf {
    corpus::dir("pcluster")
}

fn cases() -> Vec<Case> {
    corpus::cases("pcluster", &["yaml", "yml"])
}

#[test]
fn real_configs_get_exactly_the_findings_a_careful_reader_expects() {
    let cases = cases();
    assert!(cases.len() >= 20, "{} configs", cases.len());
    corpus::score(&cases, |c| {
        let text = String::from_utf8(std::fs::read(&c.file).unwrap()).unwrap();
        let r = check_file(&c.name, &text, Catalog::bundled(), &Options::default());
        corpus::verdicts_of(&r, "", &[])
    });
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
    corpus::assert_verbatim(&cases());
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
