//! The `check` pipeline: parse, resolve, lint. Collects everything, fails on nothing: each
//! stage's problems are findings, and later stages run only when earlier ones left a spec
//! that means something.

use crate::catalog::Catalog;
use crate::finding::{sort_findings, Category, Finding, Severity};
use crate::model::Cluster;
use crate::rules::{self, Options};
use crate::spec::{parse_spec, SourceMap};

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
    let parsed = parse_spec(file, text);
    let mut findings = parsed.findings.clone();
    let mut cluster = None;
    if let (false, Some(spec)) = (parsed.has_input_errors(), &parsed.spec) {
        let (model, mut resolve_findings) = crate::resolve::resolve(spec, catalog);
        let resolve_failed = !resolve_findings.is_empty();
        findings.append(&mut resolve_findings);
        if !resolve_failed {
            let mut merged = Options {
                ignore: spec.checks.ignore.clone(),
                severity: spec.checks.severity.clone(),
                parameters: Default::default(),
            };
            merged.ignore.extend(options.ignore.iter().cloned());
            merged.severity.extend(options.severity.clone());
            findings.extend(rules::run(&model, catalog, &merged));
            cluster = Some(model);
        }
    }
    for f in &mut findings {
        parsed.source.locate(&mut f.subject);
    }
    sort_findings(&mut findings);
    CheckReport {
        source: parsed.source,
        cluster,
        findings,
    }
}

/// Checks a CloudFormation template (YAML or JSON): the template is read into the model
/// (`cfn_read`) and the same rules run; findings point at the template's lines.
pub fn check_template(file: &str, text: &str, catalog: &Catalog, options: &Options) -> CheckReport {
    let read = crate::cfn_read::read_template_with(file, text, &options.parameters, catalog);
    let mut findings = read.findings.clone();
    if let Some(model) = &read.cluster {
        findings.extend(rules::run(model, catalog, options));
    }
    for f in &mut findings {
        let Some(model_path) = f.subject.path.take() else {
            read.source.locate(&mut f.subject);
            continue;
        };
        // Findings name the template path; a model field the template does not write points
        // at the first line of the resource that would hold it.
        let shown = read.template_path(&model_path);
        f.subject.path = Some(if read.aliases.contains_key(&model_path) {
            shown.clone()
        } else {
            model_path
        });
        read.source.locate(&mut f.subject);
        if let Some(loc) = &mut f.subject.location {
            if loc.end.line != loc.start.line {
                loc.end = loc.start;
            }
        }
        f.subject.path = Some(shown);
    }
    sort_findings(&mut findings);
    CheckReport {
        source: read.source,
        cluster: read.cluster,
        findings,
    }
}

/// Checks a file that is either a cluster spec or a CloudFormation template (a mapping with
/// `AWSTemplateFormatVersion` or `Resources` at the top).
pub fn check_file(file: &str, text: &str, catalog: &Catalog, options: &Options) -> CheckReport {
    if crate::cfn_read::looks_like_template(text) {
        check_template(file, text, catalog, options)
    } else {
        check_spec(file, text, catalog, options)
    }
}
