//! The `check` pipeline: parse, resolve, lint. Collects everything, fails on nothing: each
//! stage's problems are findings, and later stages run only when earlier ones left a spec
//! that means something.

use crate::catalog::Catalog;
use crate::finding::{Category, Finding, Severity};
use crate::model::Cluster;
use crate::rules::Options;
use crate::spec::SourceMap;

#[derive(Debug, Clone)]
pub struct CheckReport {
    pub source: SourceMap,
    pub cluster: Option<Cluster>,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// The input could not be understood (exit 2).
    pub fn has_input_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.category == Category::Input && f.severity == Severity::Error)
    }

    /// Exit code per the documented contract: 2 bad input, 1 findings at or above
    /// `fail_on`, 0 otherwise.
    pub fn exit_code(&self, fail_on: Severity) -> i32 {
        if self.has_input_errors() {
            2
        } else if self.findings.iter().any(|f| f.severity >= fail_on) {
            1
        } else {
            0
        }
    }
}

/// Checks cluster.yaml text. `options` come from the command line; the spec's own `checks`
/// section is merged in (the command line wins on conflicts).
pub fn check_spec(file: &str, text: &str, catalog: &Catalog, options: &Options) -> CheckReport {
    check_as(&crate::read::spec::Spec, file, text, catalog, options)
}

/// Checks a CloudFormation template (YAML or JSON): the template is read into the model
/// (`cfn_read`) and the same rules run; findings point at the template's lines.
pub fn check_template(file: &str, text: &str, catalog: &Catalog, options: &Options) -> CheckReport {
    check_as(
        &crate::read::cfn::CloudFormation,
        file,
        text,
        catalog,
        options,
    )
}

/// Checks a file of any kind efactl reads ([`crate::read::FORMATS`]): the kind is told from
/// the file itself, and a file of no known kind is one input error naming the kinds.
pub fn check_file(file: &str, text: &str, catalog: &Catalog, options: &Options) -> CheckReport {
    check_file_with(file, text, catalog, options, &crate::read::nothing_beside)
}

/// [`check_file`], with the files beside it in its directory (`beside(name)` gives the text
/// of one, when there is one): a HyperPod config and its provisioning parameters are checked
/// against each other.
pub fn check_file_with(
    file: &str,
    text: &str,
    catalog: &Catalog,
    options: &Options,
    beside: &dyn Fn(&str) -> Option<String>,
) -> CheckReport {
    let read = crate::read::read_file_with(file, text, catalog, &options.parameters, beside);
    crate::read::check_source(read, catalog, options)
}

/// Checks a file as one kind, whatever it looks like.
pub fn check_as(
    format: &dyn crate::read::Format,
    file: &str,
    text: &str,
    catalog: &Catalog,
    options: &Options,
) -> CheckReport {
    let root = crate::yaml::parse(text).ok().flatten();
    let read = format.read(&crate::read::Input {
        file,
        text,
        root: root.as_ref(),
        catalog,
        parameters: &options.parameters,
        beside: &crate::read::nothing_beside,
    });
    crate::read::check_source(read, catalog, options)
}
