//! Every kind of file efactl checks, read into the one [`Cluster`] model through one
//! interface.
//!
//! A [`Format`] says whether a file is of its kind ([`Format::detect`], on the parsed
//! document) and reads it ([`Format::read`]) into a [`Read`]: the model, when the file means
//! one; the file's source map; the reader's own findings (syntax, unknown fields, values it
//! could not know and so did not judge); and the way from a model path (`...placementGroup`)
//! to the path the file writes (`...Networking.PlacementGroup`). [`check_source`] then runs the
//! rules and locates every finding in the file, the same way for every kind.
//!
//! Adding a kind is a module with a `Format` and one line in [`FORMATS`]. What AWS itself does
//! with what a file leaves out (the VPC's default group, a new group's egress rule, what a
//! default route leads to) is in [`aws`], once, for every reader.

pub mod aws;
pub(crate) mod cfn;
pub mod eksctl;
pub mod hyperpod;
pub mod pcluster;
pub(crate) mod spec;
pub(crate) mod value;

use crate::catalog::Catalog;
use crate::check::CheckReport;
use crate::finding::{sort_findings, Category, Finding, Severity, Subject};
use crate::model::Cluster;
use crate::rules::{self, Options};
use crate::spec::SourceMap;
use crate::yaml::{self, Kind, Node};
use std::collections::HashMap;

/// A parsed file, for [`Format::detect`].
pub struct Probe<'a> {
    pub file: &'a str,
    pub text: &'a str,
    /// `None` when the text is not YAML or JSON, or holds no document.
    pub root: Option<&'a Node>,
}

impl Probe<'_> {
    /// The top-level keys, in file order (none unless the document is a mapping).
    pub fn top_keys(&self) -> Vec<&str> {
        match self.root.map(|r| &r.kind) {
            Some(Kind::Map(entries)) => entries
                .iter()
                .filter_map(|(k, _)| match &k.kind {
                    Kind::Scalar { value, .. } => Some(value.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.top_keys().contains(&key)
    }

    /// A top-level scalar value (`apiVersion`, `kind`).
    pub fn top_str(&self, key: &str) -> Option<&str> {
        let Some(Kind::Map(entries)) = self.root.map(|r| &r.kind) else {
            return None;
        };
        entries.iter().find_map(|(k, v)| match (&k.kind, &v.kind) {
            (Kind::Scalar { value: kk, .. }, Kind::Scalar { value, .. }) if kk == key => {
                Some(value.as_str())
            }
            _ => None,
        })
    }
}

/// What a reader is given.
pub struct Input<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub root: Option<&'a Node>,
    pub catalog: &'a Catalog,
    /// `--parameter KEY=VALUE` (CloudFormation parameters).
    pub parameters: &'a HashMap<String, String>,
    /// The text of a file of this name in the same directory, when there is one (HyperPod's
    /// `provisioning_parameters.json` beside its `cluster-config.json`).
    pub beside: &'a dyn Fn(&str) -> Option<String>,
}

/// For an input with no directory (stdin, a test): nothing is beside it.
pub fn nothing_beside(_: &str) -> Option<String> {
    None
}

/// What a reader returns.
#[derive(Debug, Clone)]
pub struct Read {
    /// The model, when the file means one; `None` when its input errors leave nothing to judge.
    pub cluster: Option<Cluster>,
    pub source: SourceMap,
    /// The reader's own findings (input errors, notes on what was not judged).
    pub findings: Vec<Finding>,
    /// How model paths become the file's paths; `None` when the model's origins are the
    /// file's own paths (a spec).
    pub paths: Option<PathMap>,
    /// Rule options the file itself carries (a spec's `checks:`); the command line wins.
    pub options: Options,
}

impl Read {
    /// A read that found no model, only these findings.
    pub fn failed(source: SourceMap, findings: Vec<Finding>) -> Read {
        Read {
            cluster: None,
            source,
            findings,
            paths: None,
            options: Options::default(),
        }
    }
}

/// From a path in the model (an origin plus a field: `Scheduling.SlurmQueues[0]...placementGroup`)
/// to the path in the file that holds it.
#[derive(Debug, Clone, Default)]
pub struct PathMap {
    /// Model path -> file path, for fields the file writes under another name.
    pub aliases: HashMap<String, String>,
    /// Resolved path -> written path, where the reader moved a value (a CloudFormation
    /// `Fn::If` branch, an `AWS::NoValue` that dropped a list item).
    pub moved: Vec<(String, String)>,
}

impl PathMap {
    pub fn alias(&mut self, model: impl Into<String>, file: impl Into<String>) {
        self.aliases
            .entry(model.into())
            .or_insert_with(|| file.into());
    }

    /// The file path a model path stands for: its alias, else the nearest enclosing path the
    /// file writes.
    pub fn file_path(&self, source: &SourceMap, path: &str) -> String {
        let moved = self.unmove(path);
        let path = moved.as_str();
        if let Some(a) = self.aliases.get(path) {
            return self.unmove(a);
        }
        let mut p = path;
        loop {
            if source.contains(p) {
                return p.to_string();
            }
            match p.rfind(['.', '[']) {
                Some(cut) => p = &p[..cut],
                None => return path.to_string(),
            }
        }
    }

    /// A resolved path in the file's own terms: the longest moved prefix replaced.
    fn unmove(&self, path: &str) -> String {
        let best = self
            .moved
            .iter()
            .filter(|(out, _)| {
                path.strip_prefix(out.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .max_by_key(|(out, _)| out.len());
        match best {
            Some((out, src)) => format!("{src}{}", &path[out.len()..]),
            None => path.to_string(),
        }
    }
}

/// A kind of file efactl reads.
pub trait Format: Sync {
    /// What the kind is called in messages: "ParallelCluster 3 cluster config".
    fn name(&self) -> &'static str;
    /// How a user recognises one: "a YAML mapping with `HeadNode` and `Scheduling`".
    fn shape(&self) -> &'static str;
    /// Is this file of this kind?
    fn detect(&self, probe: &Probe<'_>) -> bool;
    fn read(&self, input: &Input<'_>) -> Read;
}

/// Every kind, most specific first: the first whose `detect` says yes reads the file.
pub static FORMATS: &[&dyn Format] = &[
    &cfn::CloudFormation,
    &pcluster::ParallelCluster,
    &hyperpod::HyperPod,
    &hyperpod::provisioning::Provisioning,
    &eksctl::Eksctl,
    &spec::Spec,
];

/// The kind of a file, or `None` when it is of no kind efactl reads.
pub fn detect(probe: &Probe<'_>) -> Option<&'static dyn Format> {
    FORMATS.iter().copied().find(|f| f.detect(probe))
}

/// Reads a file of any kind efactl knows.
pub fn read_file(
    file: &str,
    text: &str,
    catalog: &Catalog,
    parameters: &HashMap<String, String>,
) -> Read {
    read_file_with(file, text, catalog, parameters, &nothing_beside)
}

/// Reads a file of any kind efactl knows, with the files beside it.
pub fn read_file_with(
    file: &str,
    text: &str,
    catalog: &Catalog,
    parameters: &HashMap<String, String>,
    beside: &dyn Fn(&str) -> Option<String>,
) -> Read {
    // A `.json` file is read by tools that take JSON only (the AWS CLI, CloudFormation, the
    // HyperPod lifecycle scripts): what only YAML accepts is an error there too.
    if let Some(f) = json_error(file, text) {
        let root = yaml::parse(text).ok().flatten();
        return Read::failed(SourceMap::new(file, text, root.as_ref()), vec![f]);
    }
    // A text that does not parse goes to the spec reader, which says where and why.
    let root = yaml::parse(text).ok().flatten();
    let probe = Probe {
        file,
        text,
        root: root.as_ref(),
    };
    match detect(&probe) {
        Some(format) => format.read(&Input {
            file,
            text,
            root: root.as_ref(),
            catalog,
            parameters,
            beside,
        }),
        None => Read::failed(
            SourceMap::new(file, text, root.as_ref()),
            vec![unknown_kind(&probe)],
        ),
    }
}

/// SPEC001 for a `.json` file that is not JSON, located where the JSON parser stopped.
fn json_error(file: &str, text: &str) -> Option<Finding> {
    if !file.to_ascii_lowercase().ends_with(".json") {
        return None;
    }
    let e = serde_json::from_str::<serde::de::IgnoredAny>(text).err()?;
    let (line, column) = (e.line().max(1), e.column().max(1));
    let at = text.lines().nth(line - 1).unwrap_or("");
    let help = if at.contains("${") || at.contains('$') {
        "the line holds a `${...}` placeholder outside quotes: fill the placeholders in (envsubst) and check the result".to_string()
    } else if at.contains("//") || at.contains("/*") {
        "JSON has no comments: remove the comment".to_string()
    } else {
        "correct the JSON at the line and column shown".to_string()
    };
    // The byte offset of the place, for tools that want it.
    let offset = text
        .lines()
        .take(line - 1)
        .map(|l| l.len() + 1)
        .sum::<usize>()
        + at.char_indices()
            .nth(column - 1)
            .map_or(at.len(), |(i, _)| i);
    let pos = crate::yaml::Pos {
        line: line as u32,
        column: column as u32,
        offset: offset.min(text.len()),
    };
    let mut subject = Subject::path(String::new());
    subject.location = Some(crate::finding::Location {
        file: file.to_string(),
        start: pos,
        end: pos,
    });
    Some(Finding {
        rule: crate::spec::diag::SYNTAX.id.into(),
        name: crate::spec::diag::SYNTAX.name.into(),
        severity: Severity::Error,
        category: Category::Input,
        subject,
        message: format!("`{file}` is not valid JSON: {e}"),
        help: Some(help),
    })
}

/// A note (SPEC013, info) that something was not judged, and how to have it judged.
pub(crate) fn note(path: &str, message: String, help: String) -> Finding {
    Finding {
        rule: crate::spec::diag::NOT_KNOWN.id.into(),
        name: crate::spec::diag::NOT_KNOWN.name.into(),
        severity: Severity::Info,
        category: Category::Input,
        subject: Subject::path(path.to_string()),
        message,
        help: Some(help),
    }
}

/// The note for a node group whose instance type the catalog does not know.
pub(crate) fn not_in_catalog(path: &str, what: &str, t: &str) -> Finding {
    note(
        path,
        format!("{what} not judged: instance type `{t}` is not in efactl's catalog"),
        "`efactl catalog refresh` reads every type of a region from EC2".into(),
    )
}

/// The notes for existing objects a config names but does not describe, one per kind at
/// its first mention: (path, message). `items` are (path, what, id) in file order.
pub(crate) fn not_described(items: Vec<(String, &'static str, String)>) -> Vec<(String, String)> {
    let mut by_kind: Vec<(&'static str, Vec<(String, String)>)> = Vec::new();
    for (path, what, id) in items {
        match by_kind.iter_mut().find(|(w, _)| *w == what) {
            Some((_, v)) => {
                if !v.iter().any(|(_, x)| *x == id) {
                    v.push((path, id));
                }
            }
            None => by_kind.push((what, vec![(path, id)])),
        }
    }
    by_kind
        .into_iter()
        .map(|(what, items)| {
            let judged = match what {
                "subnet" => "routes to the internet, VPC endpoints, DNS, zones and free addresses",
                "security group" => "rules",
                "placement group" => "strategy",
                _ => "settings and security groups",
            };
            let ids: Vec<String> = items.iter().map(|(_, id)| format!("`{id}`")).collect();
            let (plural, it, its) = if items.len() == 1 {
                ("", "it", "its")
            } else {
                ("s", "them", "their")
            };
            (
                items[0].0.clone(),
                format!(
                    "existing {what}{plural} {} not judged: the config names {it} but does not describe {its} {judged}",
                    ids.join(", "),
                ),
            )
        })
        .collect()
}

/// The one error for a file of no kind efactl reads: what it looks like, and the kinds it
/// reads with how each is recognised.
fn unknown_kind(probe: &Probe<'_>) -> Finding {
    let what = match (probe.top_str("apiVersion"), probe.top_str("kind")) {
        (Some(a), Some(k)) => format!("a `{k}` of `{a}`"),
        (Some(a), None) => format!("a document of `{a}`"),
        _ => {
            let keys = probe.top_keys();
            if keys.is_empty() {
                "not a mapping".to_string()
            } else {
                let shown: Vec<String> = keys.iter().take(4).map(|k| format!("`{k}`")).collect();
                format!(
                    "a mapping of {}{}",
                    shown.join(", "),
                    if keys.len() > 4 { ", ..." } else { "" }
                )
            }
        }
    };
    let kinds: Vec<String> = FORMATS
        .iter()
        .map(|f| format!("{} ({})", f.name(), f.shape()))
        .collect();
    Finding {
        rule: crate::spec::diag::UNKNOWN_KIND.id.into(),
        name: crate::spec::diag::UNKNOWN_KIND.name.into(),
        severity: Severity::Error,
        category: Category::Input,
        subject: Subject::path(String::new()),
        message: format!("`{}` is {what}: no kind of file efactl reads", probe.file),
        help: Some(format!("efactl reads {}", kinds.join("; "))),
    }
}

/// Runs the rules on what a reader read and locates every finding in the file. `options`
/// come from the command line and win over the file's own.
pub fn check_source(read: Read, catalog: &Catalog, options: &Options) -> CheckReport {
    let mut merged = read.options.clone();
    merged.ignore.extend(options.ignore.iter().cloned());
    merged.severity.extend(options.severity.clone());
    merged.parameters = options.parameters.clone();
    let mut findings = read.findings.clone();
    if let Some(model) = &read.cluster {
        findings.extend(rules::run(model, catalog, &merged));
    }
    for f in &mut findings {
        match (&read.paths, f.subject.path.take()) {
            (Some(paths), Some(model_path)) => {
                // Findings name the file's path; a model field the file does not write points
                // at the first line of the object that would hold it.
                let shown = paths.file_path(&read.source, &model_path);
                f.subject.path = Some(if paths.aliases.contains_key(&model_path) {
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
            (_, path) => {
                f.subject.path = path;
                read.source.locate(&mut f.subject);
            }
        }
    }
    sort_findings(&mut findings);
    CheckReport {
        source: read.source,
        cluster: read.cluster,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(text: &str) -> Option<&'static str> {
        let root = yaml::parse(text).ok().flatten();
        detect(&Probe {
            file: "f.yaml",
            text,
            root: root.as_ref(),
        })
        .map(|f| f.name())
    }

    #[test]
    fn each_kind_is_told_by_its_top_level() {
        assert_eq!(
            kind_of("AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n"),
            Some("CloudFormation template")
        );
        assert_eq!(
            kind_of("Region: us-east-1\nHeadNode: {}\nScheduling: {}\n"),
            Some("ParallelCluster 3 cluster config")
        );
        assert_eq!(
            kind_of("apiVersion: efactl.dev/v1alpha1\nname: x\n"),
            Some("efactl cluster spec")
        );
        // A spec that forgot its apiVersion is still a spec (its reader says what is missing).
        assert_eq!(
            kind_of("name: x\nnodeGroups: []\n"),
            Some("efactl cluster spec")
        );
        // Unparsable text goes to the spec reader, which locates the syntax error.
        assert_eq!(kind_of("a: [\n"), Some("efactl cluster spec"));
        assert_eq!(
            kind_of("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\n"),
            Some("eksctl ClusterConfig")
        );
        assert_eq!(
            kind_of("{\"InstanceGroups\": [{\"InstanceGroupName\": \"g\"}]}"),
            Some("SageMaker HyperPod cluster config")
        );
        assert_eq!(
            kind_of("{\"controller_group\": \"c\"}"),
            Some("HyperPod provisioning parameters")
        );
        assert_eq!(kind_of("- 1\n- 2\n"), None);
    }

    #[test]
    fn a_file_of_no_kind_names_what_it_is_and_every_kind_read() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n";
        let read = read_file("pod.yaml", text, Catalog::bundled(), &HashMap::new());
        assert!(read.cluster.is_none());
        assert_eq!(read.findings.len(), 1);
        let f = &read.findings[0];
        assert_eq!(f.rule, "SPEC014");
        assert!(f.message.contains("a `Pod` of `v1`"), "{}", f.message);
        let help = f.help.as_deref().unwrap();
        for f in FORMATS {
            assert!(help.contains(f.name()), "{help}");
        }
    }

    #[test]
    fn a_json_file_must_be_json_and_the_help_says_what_breaks_it() {
        let read = |text: &str| {
            let r = read_file("c.json", text, Catalog::bundled(), &HashMap::new());
            assert!(r.cluster.is_none());
            assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
            r.findings[0].clone()
        };
        let f = read("{\n  \"InstanceCount\": ${COUNT},\n}\n");
        assert_eq!(f.rule, "SPEC001");
        let loc = f.subject.location.as_ref().unwrap();
        assert_eq!((loc.start.line, loc.start.column), (2, 20));
        assert!(
            f.help.as_deref().unwrap().contains("envsubst"),
            "{:?}",
            f.help
        );
        let f = read("{\n  \"a\": 1, // note\n  \"b\": 2\n}\n");
        assert!(
            f.help.as_deref().unwrap().contains("no comments"),
            "{:?}",
            f.help
        );
        // What YAML alone accepts is still fine in a `.yaml` file.
        let r = read_file(
            "c.yaml",
            "{\"InstanceGroups\": [{\"InstanceGroupName\": g, \"InstanceType\": ml.p5.48xlarge}]}",
            Catalog::bundled(),
            &HashMap::new(),
        );
        assert!(r.cluster.is_some(), "{:#?}", r.findings);
    }
}
