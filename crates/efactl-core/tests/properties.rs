//! Property tests of the parse-resolve-lint pipeline, run in the normal suite (the cargo-fuzz
//! target in fuzz/ explores further). Whatever the input: no panic, the same answer twice,
//! and every location inside the file.

use efactl_core::check::check_spec;
use efactl_core::report::{human, json, sarif};
use efactl_core::rules::Options;
use efactl_core::Catalog;
use proptest::prelude::*;

const EXAMPLES: &[&str] = &[
    include_str!("../../../examples/p5-slurm-private.yaml"),
    include_str!("../../../examples/trn2-eks.yaml"),
    include_str!("../../../examples/g5-batch-mpi.yaml"),
    include_str!("../../../examples/c5n-mpi.yaml"),
    include_str!("../../../examples/hyperpod-slurm.yaml"),
];

fn run_all(text: &str) {
    let a = check_spec("p.yaml", text, Catalog::bundled(), &Options::default());
    let b = check_spec("p.yaml", text, Catalog::bundled(), &Options::default());
    assert_eq!(a.findings, b.findings, "nondeterministic");
    let lines = text.lines().count().max(1) as u32 + 1;
    for f in &a.findings {
        if let Some(l) = &f.subject.location {
            assert!(
                l.start.line >= 1 && l.start.line <= lines,
                "line {} of {lines}: {f:?}",
                l.start.line
            );
            assert!(l.start.offset <= text.len() && l.end.offset <= text.len());
        }
    }
    human::render(
        &a.findings,
        Some(("p.yaml", text)),
        &human::HumanOptions { color: true },
    );
    json::render(&a.findings, Some("p.yaml"));
    sarif::render(&a.findings);
}

/// Values that exercise every scalar path: numbers, booleans, nulls, ids, CIDRs, ports.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("true".to_string()),
        Just("~".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("10.0.0.0/16".to_string()),
        Just("0.0.0.0/0".to_string()),
        Just("1018-1023".to_string()),
        Just("p5.48xlarge".to_string()),
        Just("sg-0abc".to_string()),
        Just("\"é\\u0000\"".to_string()),
        "[a-z0-9.-]{0,12}",
    ]
}

const KEYS: &[&str] = &[
    "apiVersion",
    "name",
    "region",
    "availabilityZone",
    "target",
    "scheduler",
    "network",
    "vpc",
    "subnets",
    "endpoints",
    "securityGroups",
    "ingress",
    "egress",
    "protocol",
    "ports",
    "cidr",
    "self",
    "nodeGroups",
    "instanceType",
    "instanceTypes",
    "count",
    "maxCount",
    "efa",
    "networkInterfaces",
    "networkCard",
    "deviceIndex",
    "type",
    "subnet",
    "placementGroup",
    "capacity",
    "reservation",
    "capacityBlock",
    "mpi",
    "sshKeySecret",
    "iam",
    "roles",
    "statements",
    "nccl",
    "env",
    "storage",
    "checks",
    "ignore",
    "severity",
    "internet",
    "id",
];

/// Random YAML built from the spec's own keys, nested up to four levels.
fn yaml_tree() -> impl Strategy<Value = String> {
    let leaf = scalar();
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec((prop::sample::select(KEYS), inner.clone()), 0..6).prop_map(
                |kv| {
                    let body: Vec<String> =
                        kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("{{{}}}", body.join(", "))
                }
            ),
            prop::collection::vec(inner, 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_handled(text in "\\PC{0,400}") {
        run_all(&text);
    }

    #[test]
    fn spec_shaped_trees_are_handled(
        body in prop::collection::vec((prop::sample::select(KEYS), yaml_tree()), 0..10)
    ) {
        let mut text = String::from("apiVersion: efactl.dev/v1alpha1\n");
        for (k, v) in body {
            text.push_str(&format!("{k}: {v}\n"));
        }
        run_all(&text);
    }

    #[test]
    fn edited_examples_are_handled(
        which in 0..EXAMPLES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..40, "\\PC{0,8}"), 1..6),
    ) {
        let mut text = EXAMPLES[which].to_string();
        for (at, cut, insert) in edits {
            let mut i = at.index(text.len().max(1)).min(text.len());
            while !text.is_char_boundary(i) { i -= 1; }
            let mut j = (i + cut).min(text.len());
            while !text.is_char_boundary(j) { j -= 1; }
            text.replace_range(i..j, &insert);
        }
        run_all(&text);
    }
}
