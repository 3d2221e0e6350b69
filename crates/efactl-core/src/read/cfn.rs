//! CloudFormation templates (YAML with short-form tags, or JSON): see [`crate::cfn_read`].

use super::{Format, Input, PathMap, Probe, Read};
use crate::rules::Options;

pub(crate) struct CloudFormation;

impl Format for CloudFormation {
    fn name(&self) -> &'static str {
        "CloudFormation template"
    }

    fn shape(&self) -> &'static str {
        "`AWSTemplateFormatVersion` or `Resources` at the top"
    }

    fn detect(&self, probe: &Probe<'_>) -> bool {
        (probe.has("AWSTemplateFormatVersion") || probe.has("Resources"))
            && !probe.has("apiVersion")
    }

    fn read(&self, input: &Input<'_>) -> Read {
        let t = crate::cfn_read::read_template_with(
            input.file,
            input.text,
            input.parameters,
            input.catalog,
        );
        Read {
            cluster: t.cluster,
            source: t.source,
            findings: t.findings,
            paths: Some(PathMap {
                aliases: t.aliases,
                moved: t.moved,
            }),
            options: Options::default(),
        }
    }
}
