//! Real third-party SageMaker HyperPod files (tests/corpus/hyperpod, verbatim, each with its
//! source in `NAME.source.yaml`): create-cluster requests, the `--instance-groups` and
//! `--vpc-config` fragments, and the lifecycle scripts' provisioning_parameters.json, checked
//! as a user would check them. A sidecar's `beside: OTHER` pairs a config with the
//! provisioning parameters of the same repository: the two are checked together, as
//! `cluster-config.json` and `provisioning_parameters.json` in one directory, and the
//! findings on the parameters are expected with the path prefix `provisioning_parameters.json:`.
//! The test fails on any difference; the score of the development and held-out parts is
//! printed (`cargo test --test hyperpod_corpus -- --nocapture`).
//!
//! Injected-defect copies (one defect each, as a text replacement so that the originals stay
//! verbatim) prove that the checks fire on these real shapes.

mod common;

use common::corpus::{self, Case, Verdict};
use efactl_core::check::{check_file_with, CheckReport};
use efactl_core::model::NodeRole;
use efactl_core::rules::Options;
use efactl_core::Catalog;
use std::collections::BTreeSet;

const CONFIG: &str = "cluster-config.json";
const PARAMS: &str = "provisioning_parameters.json";

fn cases() -> Vec<Case> {
    corpus::cases("hyperpod", &["json"])
}

fn read(c: &Case) -> String {
    String::from_utf8(std::fs::read(&c.file).unwrap()).unwrap()
}

fn check(name: &str, text: &str, beside: &[(&str, String)]) -> CheckReport {
    let look = |n: &str| beside.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
    check_file_with(name, text, Catalog::bundled(), &Options::default(), &look)
}

fn partner(c: &Case, all: &[Case]) -> Option<String> {
    let other = c.side.get("beside")?.as_str()?;
    let o = all
        .iter()
        .find(|x| x.name == other)
        .unwrap_or_else(|| panic!("{}: no corpus file `{other}`", c.name));
    Some(read(o))
}

/// A case's verdicts: the file checked under its own name, and when paired, the partner
/// checked beside it.
fn verdicts(c: &Case, all: &[Case]) -> BTreeSet<Verdict> {
    let text = read(c);
    let file_name = format!("{}.json", c.name);
    match partner(c, all) {
        None => corpus::verdicts_of(&check(&file_name, &text, &[]), "", &["SPEC010"]),
        Some(params) => {
            let mut v = corpus::verdicts_of(
                &check(CONFIG, &text, &[(PARAMS, params.clone())]),
                "",
                &["SPEC010"],
            );
            v.extend(corpus::verdicts_of(
                &check(PARAMS, &params, &[(CONFIG, text)]),
                &format!("{PARAMS}:"),
                &["SPEC010"],
            ));
            v
        }
    }
}

#[test]
fn real_hyperpod_files_get_exactly_the_findings_a_careful_reader_expects() {
    let all = cases();
    assert!(all.len() >= 20, "{} files", all.len());
    corpus::score(&all, |c| verdicts(c, &all));
}

#[test]
fn corpus_files_are_the_verbatim_sources() {
    corpus::assert_verbatim(&cases());
}

#[test]
fn every_file_is_read_as_its_kind() {
    let all = cases();
    for c in &all {
        let text = read(c);
        let r = check(&format!("{}.json", c.name), &text, &[]);
        if c.expected.iter().any(|e| e.0 == "SPEC001") {
            assert!(r.cluster.is_none(), "{}", c.name);
            continue;
        }
        let kind = c.side["kind"].as_str().unwrap();
        match kind {
            "provisioning-parameters" => {
                // Read as provisioning parameters: no model, and no unknown-kind error.
                assert!(r.cluster.is_none(), "{}", c.name);
                assert!(r.findings.iter().all(|f| f.rule != "SPEC014"), "{}", c.name);
            }
            _ => {
                let cluster = r
                    .cluster
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: {:#?}", c.name, r.findings));
                assert_eq!(
                    cluster.target,
                    efactl_core::model::Target::HyperPod,
                    "{}",
                    c.name
                );
            }
        }
    }
}

#[test]
fn a_pair_gives_the_controller_and_login_roles() {
    let all = cases();
    let c = all
        .iter()
        .find(|c| c.name == "stability-instance-groups")
        .unwrap();
    let r = check(CONFIG, &read(c), &[(PARAMS, partner(c, &all).unwrap())]);
    let roles: Vec<(String, NodeRole, usize)> = r
        .cluster
        .unwrap()
        .node_groups
        .iter()
        .map(|g| (g.name.clone(), g.role, g.efa_count()))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("controller-hp01".to_string(), NodeRole::Head, 0),
            ("hp01-login-nodes".to_string(), NodeRole::Login, 0),
            ("hp01-compute-nodes".to_string(), NodeRole::Compute, 4),
        ]
    );
}

/// One defect injected into a real file: (case, text to replace, replacement, partner
/// replaced instead of the file, expected rule, severity, path, words the help must hold).
struct Injected {
    case: &'static str,
    from: &'static str,
    to: &'static str,
    in_partner: bool,
    rule: &'static str,
    severity: &'static str,
    path: &'static str,
    help: &'static str,
}

const INJECTED: &[Injected] = &[
    // The controller group renamed in the config only: the parameters name a group it lacks.
    Injected {
        case: "moca-my-cluster-config",
        from: "\"InstanceGroupName\": \"controller-machine\"",
        to: "\"InstanceGroupName\": \"head\"",
        in_partner: false,
        rule: "SPEC010",
        severity: "error",
        path: "provisioning_parameters.json:controller_group",
        help: "`head`, `compute-nodes`",
    },
    // A worker group misspelt in the parameters.
    Injected {
        case: "stability-instance-groups",
        from: "\"instance_group_name\": \"hp01-compute-nodes\"",
        to: "\"instance_group_name\": \"hp01-compute\"",
        in_partner: true,
        rule: "SPEC010",
        severity: "error",
        path: "provisioning_parameters.json:worker_groups[0].instance_group_name",
        help: "`hp01-compute-nodes`",
    },
    // Two groups of one name.
    Injected {
        case: "adt-eks-cluster-config",
        from: "\"InstanceGroupName\": \"worker-group-2\"",
        to: "\"InstanceGroupName\": \"worker-group-1\"",
        in_partner: false,
        rule: "SPEC009",
        severity: "error",
        path: "InstanceGroups[1].InstanceGroupName",
        help: "",
    },
];

#[test]
fn injected_defects_are_found_at_the_changed_key() {
    let all = cases();
    for inj in INJECTED {
        let c = all.iter().find(|c| c.name == inj.case).unwrap();
        let mut text = read(c);
        let mut params = partner(c, &all);
        let target = if inj.in_partner {
            params.as_mut().unwrap()
        } else {
            &mut text
        };
        assert!(
            target.contains(inj.from),
            "{}: `{}` not in the file",
            inj.case,
            inj.from
        );
        *target = target.replacen(inj.from, inj.to, 1);
        let (r, prefix) = match &params {
            Some(p) if inj.path.starts_with(PARAMS) => (
                check(PARAMS, p, &[(CONFIG, text.clone())]),
                format!("{PARAMS}:"),
            ),
            Some(p) => (check(CONFIG, &text, &[(PARAMS, p.clone())]), String::new()),
            None => (check(CONFIG, &text, &[]), String::new()),
        };
        let got = corpus::verdicts_of(&r, &prefix, &[]);
        let want = (
            inj.rule.to_string(),
            inj.severity.to_string(),
            inj.path.to_string(),
        );
        assert!(got.contains(&want), "{}: {got:?}", inj.case);
        let f = r
            .findings
            .iter()
            .find(|f| {
                f.rule == inj.rule
                    && format!("{prefix}{}", f.subject.path.as_deref().unwrap_or("")) == inj.path
            })
            .unwrap();
        assert!(f.subject.location.is_some(), "{}: not located", inj.case);
        if !inj.help.is_empty() {
            let help = f.help.as_deref().unwrap_or("");
            assert!(help.contains(inj.help), "{}: {help}", inj.case);
        }
        // In the file's own terms: no cluster.yaml words.
        let words = format!("{} {}", f.message, f.help.as_deref().unwrap_or(""));
        for spec_word in ["nodeGroups", "efa: off", "cluster.yaml"] {
            assert!(!words.contains(spec_word), "{}: {words}", inj.case);
        }
    }
}
