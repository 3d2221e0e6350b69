//! The efactl cluster spec (cluster.yaml): parsed with spans, resolved into the model.

use super::{Format, Input, Probe, Read};
use crate::rules::Options;
use crate::spec::parse_spec;

pub(crate) struct Spec;

/// The spec's top-level keys: a mapping with one of them and no `apiVersion` is a spec that
/// lost its first line, and its reader says so.
const TOP_KEYS: &[&str] = &[
    "name",
    "region",
    "availabilityZone",
    "target",
    "scheduler",
    "network",
    "securityGroups",
    "nodeGroups",
    "mpi",
    "iam",
    "nccl",
    "storage",
    "parallelcluster",
    "efaInstaller",
    "checks",
];

impl Format for Spec {
    fn name(&self) -> &'static str {
        "efactl cluster spec"
    }

    fn shape(&self) -> &'static str {
        "`apiVersion: efactl.dev/v1alpha1`"
    }

    fn detect(&self, probe: &Probe<'_>) -> bool {
        let Some(root) = probe.root else {
            // Not YAML, or empty: the spec reader says where and why.
            return true;
        };
        match probe.top_str("apiVersion") {
            Some(v) => v.starts_with("efactl"),
            None if root.is_null() => true,
            None => probe.top_keys().iter().any(|k| TOP_KEYS.contains(k)),
        }
    }

    fn read(&self, input: &Input<'_>) -> Read {
        let parsed = parse_spec(input.file, input.text);
        let mut findings = parsed.findings.clone();
        let mut cluster = None;
        let mut options = Options::default();
        if let (false, Some(spec)) = (parsed.has_input_errors(), &parsed.spec) {
            let (model, mut resolve_findings) = crate::resolve::resolve(spec, input.catalog);
            let resolve_failed = !resolve_findings.is_empty();
            findings.append(&mut resolve_findings);
            if !resolve_failed {
                cluster = Some(model);
            }
            options.ignore = spec.checks.ignore.clone();
            options.severity = spec.checks.severity.clone();
        }
        Read {
            cluster,
            source: parsed.source,
            findings,
            paths: None,
            options,
        }
    }
}
