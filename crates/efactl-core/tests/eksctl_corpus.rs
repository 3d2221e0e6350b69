//! Real third-party eksctl ClusterConfig files (tests/corpus/eksctl, verbatim, each with its
//! source in `NAME.source.yaml`) checked as a user would check them; the test fails on any
//! difference with the sidecars' expectations and prints the score of the development and
//! held-out parts (`cargo test --test eksctl_corpus -- --nocapture`). The expectations were
//! reviewed from the reader's first output (README.md), so the held-out part is not blind.
//!
//! Injected-defect copies (one defect each, as a text replacement so that the originals stay
//! verbatim) prove that the rules fire on these real shapes, at the changed key, with help in
//! ClusterConfig keys.

mod common;

use common::corpus::{self, Case};
use efactl_core::check::check_file;
use efactl_core::rules::Options;
use efactl_core::Catalog;

fn cases() -> Vec<Case> {
    corpus::cases("eksctl", &["yaml"])
}

fn read(c: &Case) -> String {
    String::from_utf8(std::fs::read(&c.file).unwrap()).unwrap()
}

#[test]
fn real_clusterconfigs_get_exactly_the_findings_a_careful_reader_expects() {
    let all = cases();
    assert!(all.len() >= 20, "{} files", all.len());
    corpus::score(&all, |c| {
        let r = check_file(&c.name, &read(c), Catalog::bundled(), &Options::default());
        corpus::verdicts_of(&r, "", &[])
    });
}

#[test]
fn corpus_files_are_the_verbatim_sources() {
    corpus::assert_verbatim(&cases());
}

#[test]
fn every_file_is_read_as_an_eksctl_config_with_its_efa_groups() {
    for c in cases() {
        let r = check_file(&c.name, &read(&c), Catalog::bundled(), &Options::default());
        let cluster = r
            .cluster
            .unwrap_or_else(|| panic!("{}: no model: {:#?}", c.name, r.findings));
        assert_eq!(
            cluster.read_from,
            efactl_core::model::ReadFrom::Eksctl,
            "{}",
            c.name
        );
        // Every group eksctl gives EFA has an EFA on each network card of its type, and the
        // EFA group with both self rules on them.
        for ng in cluster.node_groups.iter().filter(|g| g.uses_efa()) {
            let t = Catalog::bundled().get(ng.instance_type()).unwrap();
            assert_eq!(
                Some(ng.efa_count() as u32),
                t.max_efa_interfaces,
                "{}: {}",
                c.name,
                ng.name
            );
            assert!(ng.security_groups.iter().any(|k| k.ends_with(".EFASG")));
        }
    }
}

#[test]
fn the_placement_warning_says_what_to_write_in_the_clusterconfig() {
    let all = cases();
    let help = |case: &str, path: &str| {
        let c = all.iter().find(|c| c.name == case).unwrap();
        let r = check_file(&c.name, &read(c), Catalog::bundled(), &Options::default());
        r.findings
            .iter()
            .find(|f| f.rule == "EFA011" && f.subject.path.as_deref() == Some(path))
            .and_then(|f| f.help.clone())
            .unwrap_or_else(|| panic!("{case}: no EFA011 at {path}"))
    };
    // On demand: create a placement group and name it; eksctl makes none.
    let h = help("doeks-eks-hpc", "managedNodeGroups[0].placement");
    assert!(
        h.contains("`placement.groupName` of managed node group `c5n-18xl`")
            && h.contains("create-placement-group"),
        "{h}"
    );
    // A reservation: the fix is on the reservation's side. A self-managed group is named so.
    let h = help("doeks-eks-gpu-p4de-odcr-vpc", "nodeGroups[0].placement");
    assert!(
        h.contains("reservation `cr-xxxxxxxxxxxxxxxxx`")
            && h.contains("`placement.groupName` of node group `p4de-ng-1`"),
        "{h}"
    );
}

/// One defect injected into a real file.
struct Injected {
    case: &'static str,
    from: &'static str,
    to: &'static str,
    rule: &'static str,
    path: &'static str,
    help: &'static str,
}

const INJECTED: &[Injected] = &[
    // EFA asked of a type that has none.
    Injected {
        case: "doeks-eks-hpc",
        from: "instanceType: c5n.18xlarge",
        to: "instanceType: m5.2xlarge",
        rule: "EFA006",
        path: "managedNodeGroups[0].instanceType",
        help: "remove `efaEnabled: true` from managed node group `c5n-18xl`",
    },
    // An EFA group spread over two zones (eksctl refuses it).
    Injected {
        case: "doeks-eks-hpc",
        from: "availabilityZones: [\"us-east-1a\"]",
        to: "availabilityZones: [\"us-east-1a\", \"us-east-1b\"]",
        rule: "EFA015",
        path: "managedNodeGroups[0].availabilityZones",
        help: "list one zone in `availabilityZones`",
    },
    // EFA turned off on a multi-node p5 group.
    Injected {
        case: "adt-eks-p5-odcr-vpc",
        from: "efaEnabled: true",
        to: "efaEnabled: false",
        rule: "EFA007",
        path: "managedNodeGroups[0].efaEnabled",
        help: "set `efaEnabled: true` on managed node group `p5-ocdr`",
    },
    // A placement group on a Capacity Block group.
    Injected {
        case: "doeks-eks-gpu-p5-cbr",
        from: "    efaEnabled: true\n",
        to: "    efaEnabled: true\n    placement:\n      groupName: p5-pg\n",
        rule: "EFA014",
        path: "managedNodeGroups[1].placement",
        help: "remove `placement` from managed node group `p5-cbr`",
    },
];

#[test]
fn injected_defects_fire_at_the_changed_key_in_the_configs_own_terms() {
    let all = cases();
    for inj in INJECTED {
        let c = all.iter().find(|c| c.name == inj.case).unwrap();
        let text = read(c);
        assert!(
            text.contains(inj.from),
            "{}: `{}` not in it",
            inj.case,
            inj.from
        );
        let broken = text.replacen(inj.from, inj.to, 1);
        let r = check_file(&c.name, &broken, Catalog::bundled(), &Options::default());
        let f = r
            .findings
            .iter()
            .find(|f| f.rule == inj.rule)
            .unwrap_or_else(|| panic!("{}: no {}: {:#?}", inj.case, inj.rule, r.findings));
        assert_eq!(f.subject.path.as_deref(), Some(inj.path), "{}", inj.case);
        let loc = f.subject.location.as_ref().expect("located");
        // The key's own line, or the first line of its block value.
        let line_of = |n: u32| broken.lines().nth(n as usize - 1).unwrap_or("");
        let key = inj.path.rsplit('.').next().unwrap();
        let n = loc.start.line;
        assert!(
            line_of(n).contains(key) || (n > 1 && line_of(n - 1).contains(&format!("{key}:"))),
            "{}: line {n} `{}`",
            inj.case,
            line_of(n)
        );
        let help = f.help.as_deref().unwrap_or("");
        assert!(help.contains(inj.help), "{}: {help}", inj.case);
        for spec_word in [
            "efa: off",
            "placementGroup",
            "nodeGroups[",
            "`subnet:`",
            "publicIp",
        ] {
            assert!(!help.contains(spec_word), "{}: {help}", inj.case);
        }
    }
}
