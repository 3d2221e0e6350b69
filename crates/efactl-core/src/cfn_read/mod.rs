//! A CloudFormation template (YAML with or without short-form tags such as `!Ref`, or JSON)
//! read into the [`Cluster`] model, so that the same rules that check a spec check a
//! template: one efactl rendered, or one a user already has (a HyperPod VPC quickstart, an
//! EKS node group stack).
//!
//! The reader models what CloudFormation and EC2 would create from the template with its
//! default parameters: a security group without inline `SecurityGroupEgress` keeps AWS's
//! default egress (all traffic to 0.0.0.0/0), `AWS::EC2::SecurityGroupIngress`/`Egress`
//! resources add rules to the group their `GroupId` names (`Ref` or `GetAtt ...GroupId`), a
//! subnet's internet comes from the default route of its route table, and so on. Model objects
//! are keyed by logical id, and their origins are template paths (`Resources.EfaSecurityGroup`),
//! so findings point at the template through its source map.
//!
//! Launch templates become node groups (with the counts of the Auto Scaling groups that use
//! them). A template that launches no instances itself (HyperPod, ParallelCluster and Batch
//! launch them) still has security groups meant for EFA: a group with an all-traffic rule to or
//! from itself, or one whose name or description says EFA. For each such group that no EFA
//! interface of the template carries, the reader adds a stand-in node group with one EFA
//! interface in that group, so that the EFA security-group rules check it.

mod decode;
mod eval;
mod iam;
mod network;
mod nodes;
mod standins;

use crate::finding::{Category, Finding, Severity, Subject};
use crate::model::*;
use crate::net::Cidr;
use crate::spec::{diag, SourceMap};
use crate::yaml::{self, Kind};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// The result of reading a template.
#[derive(Debug, Clone)]
pub struct TemplateRead {
    pub cluster: Option<Cluster>,
    pub source: SourceMap,
    pub findings: Vec<Finding>,
    /// Model path (`Resources.Lt.instanceType`) -> the template path that holds it
    /// (`Resources.Lt.Properties.LaunchTemplateData.InstanceType`).
    pub aliases: HashMap<String, String>,
    /// Resolved path -> template path, where `Fn::If` or `AWS::NoValue` moved a value.
    pub moved: Vec<(String, String)>,
}

impl TemplateRead {
    /// The template path a finding's model path stands for: its alias, else the nearest
    /// enclosing path that is written in the template.
    pub fn template_path(&self, path: &str) -> String {
        crate::read::PathMap {
            aliases: self.aliases.clone(),
            moved: self.moved.clone(),
        }
        .file_path(&self.source, path)
    }
}

/// Is this text a CloudFormation template rather than a cluster spec? A YAML or JSON mapping
/// with `AWSTemplateFormatVersion` or `Resources` at the top, and no `apiVersion`.
pub fn looks_like_template(text: &str) -> bool {
    let Ok(Some(root)) = yaml::parse(text) else {
        return false;
    };
    let Kind::Map(entries) = &root.kind else {
        return false;
    };
    let has = |k: &str| {
        entries
            .iter()
            .any(|(key, _)| matches!(&key.kind, Kind::Scalar { value, .. } if value == k))
    };
    (has("AWSTemplateFormatVersion") || has("Resources")) && !has("apiVersion")
}

pub use decode::to_json;
use eval::{as_bool, as_u32, Doc, V};

struct Reader<'a, 't> {
    doc: &'a Doc<'t>,
    /// Resources in template order, without those whose condition is false.
    order: Vec<&'t str>,
    findings: Vec<Finding>,
    aliases: HashMap<String, String>,
    sgs: Vec<SecurityGroup>,
}

fn rpath(id: &str) -> String {
    format!("Resources.{id}")
}

fn ppath(id: &str, prop: &str) -> String {
    format!("Resources.{id}.Properties.{prop}")
}

impl<'t> Reader<'_, 't> {
    fn props(&self, id: &str) -> Option<&'t Map<String, Value>> {
        self.doc.props(id)
    }

    fn prop(&self, id: &str, name: &str) -> Option<&'t Value> {
        self.doc.prop(id, name)
    }

    fn of_type(&self, t: &str) -> Vec<&'t str> {
        self.order
            .iter()
            .copied()
            .filter(|id| self.doc.kind_of(id) == Some(t))
            .collect()
    }

    fn alias(&mut self, from: String, to: String) {
        self.aliases.entry(from).or_insert(to);
    }

    fn list(&self, v: Option<&Value>) -> Vec<V> {
        match v.map(|v| self.doc.eval(v)) {
            Some(V::L(items)) => items,
            Some(V::Unknown) | None => Vec::new(),
            Some(other) => vec![other],
        }
    }

    fn key_of(&self, v: &V, kinds: &[&str]) -> Option<String> {
        match v {
            V::Ref(x) | V::Att(x, _) if kinds.iter().any(|k| self.doc.kind_of(x) == Some(*k)) => {
                Some(x.clone())
            }
            V::S(s) if !s.is_empty() => Some(s.clone()),
            V::Param(p) => Some(p.clone()),
            _ => None,
        }
    }

    fn subnet_key(&self, v: &V) -> Option<String> {
        self.key_of(v, &["AWS::EC2::Subnet"])
    }

    /// The key of the security group a value names. The VPC's default group is added to the
    /// model as AWS creates it; a group from outside the template (an `sg-` id, a parameter)
    /// keeps its key but stays out of the model, since its rules cannot be seen: rules then
    /// judge the groups beside it.
    fn group_key(&mut self, v: &V) -> Option<String> {
        match v {
            V::Att(x, a) if a == "DefaultSecurityGroup" => {
                self.ensure_default(&rpath(x));
                Some(crate::resolve::DEFAULT_SG.to_string())
            }
            _ => self.key_of(v, &["AWS::EC2::SecurityGroup"]),
        }
    }

    fn ensure_default(&mut self, path: &str) {
        let key = crate::resolve::DEFAULT_SG;
        if self.sgs.iter().any(|s| s.key == key) {
            return;
        }
        self.sgs
            .push(crate::read::aws::default_security_group(Origin::Implied(
                path.to_string(),
            )));
    }

    fn group_keys(&mut self, v: Option<&Value>) -> Vec<String> {
        let items = self.list(v);
        items.iter().filter_map(|x| self.group_key(x)).collect()
    }

    /// One security-group rule (inline, or a separate resource's properties).
    fn invalid(&mut self, path: String, message: String, help: String) {
        self.findings.push(Finding {
            rule: diag::INVALID_VALUE.id.into(),
            name: diag::INVALID_VALUE.name.into(),
            severity: Severity::Error,
            category: Category::Input,
            subject: Subject::path(path),
            message,
            help: Some(help),
        });
    }
}

fn input_finding(
    rule: &crate::rules::Rule,
    path: &str,
    span: Option<yaml::Span>,
    message: String,
    help: Option<String>,
) -> Finding {
    let mut subject = Subject::path(path);
    if path.is_empty() {
        subject.path = None;
    }
    if let Some(span) = span {
        subject.location = Some(crate::finding::Location {
            file: String::new(),
            start: span.start,
            end: span.end,
        });
    }
    Finding {
        rule: rule.id.into(),
        name: rule.name.into(),
        severity: Severity::Error,
        category: Category::Input,
        subject,
        message,
        help,
    }
}

/// Reads a template with its parameters' defaults. `file` is the name used in locations.
pub fn read_template(file: &str, text: &str) -> TemplateRead {
    read_template_with(file, text, &HashMap::new(), crate::Catalog::bundled())
}

/// Reads a template with parameter values given as on `aws cloudformation deploy
/// --parameter-overrides` (`KEY=VALUE`; a list parameter's value is comma-separated); the
/// other parameters take their defaults.
pub fn read_template_with(
    file: &str,
    text: &str,
    parameters: &HashMap<String, String>,
    catalog: &crate::Catalog,
) -> TemplateRead {
    let empty = |findings: Vec<Finding>| TemplateRead {
        cluster: None,
        source: SourceMap::new(file, text, None),
        findings,
        aliases: HashMap::new(),
        moved: Vec::new(),
    };
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return empty(vec![input_finding(
                &diag::EMPTY,
                "",
                None,
                "the file holds no YAML or JSON document".into(),
                None,
            )])
        }
        Err(e) => {
            let span = yaml::Span {
                start: e.pos,
                end: e.pos,
            };
            return empty(vec![input_finding(
                &diag::SYNTAX,
                "",
                Some(span),
                e.message,
                None,
            )]);
        }
    };
    let source = SourceMap::new(file, text, Some(&root));
    let json = to_json(&root);
    let no_resources = Map::new();
    let resources = json
        .get("Resources")
        .and_then(Value::as_object)
        .unwrap_or(&no_resources);
    if resources.is_empty() {
        return TemplateRead {
            cluster: None,
            source,
            findings: vec![input_finding(
                &diag::MISSING_FIELD,
                "Resources",
                None,
                "a CloudFormation template needs a `Resources` mapping with at least one resource"
                    .into(),
                None,
            )],
            aliases: HashMap::new(),
            moved: Vec::new(),
        };
    }
    let obj = |k: &str| {
        json.get(k)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let meta = json.get("Metadata").and_then(|m| m.get("efactl"));
    let meta_str = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
    let region = meta_str("region").unwrap_or("").to_string();
    let params = obj("Parameters");
    let mut findings = Vec::new();
    for key in parameters.keys() {
        if !params.contains_key(key) {
            let mut known: Vec<&str> = params.keys().map(String::as_str).collect();
            known.sort_unstable();
            findings.push(input_finding(
                &diag::UNKNOWN_FIELD,
                "Parameters",
                source.span("Parameters"),
                format!("--parameter {key}: the template has no parameter `{key}`"),
                Some(if known.is_empty() {
                    "the template declares no parameters".into()
                } else {
                    format!("its parameters: {}", known.join(", "))
                }),
            ));
        }
    }
    let raw = Doc {
        resources,
        params,
        mappings: obj("Mappings"),
        conditions: obj("Conditions"),
        region: if region.is_empty() {
            "us-east-1".into()
        } else {
            region.clone()
        },
        overrides: parameters.clone(),
        cond_cache: RefCell::new(HashMap::new()),
    };
    let (resolved, moved) = raw.resolve_resources(&|p| source.contains(p));
    let doc = Doc {
        resources: &resolved,
        ..raw
    };
    // Resources whose condition is false are not in the resolved template.
    let order: Vec<&str> = resolved.keys().map(String::as_str).collect();
    let mut rd = Reader {
        doc: &doc,
        order,
        findings,
        aliases: HashMap::new(),
        sgs: Vec::new(),
    };
    let vpc = rd.vpc();
    rd.existing_groups(
        meta.and_then(|m| m.get("existingSecurityGroups"))
            .and_then(Value::as_object),
    );
    rd.security_groups();
    let subnets = rd.subnets();
    let endpoints = rd.endpoints();
    let mut placement_groups = rd.placement_groups();
    let (secrets, mpi_secret) = rd.secrets();
    let roles = rd.roles();
    let file_systems = rd.file_systems();
    let mut node_groups = rd.node_groups(&mut placement_groups, catalog);
    let stand_ins = rd.stand_ins(&node_groups);
    node_groups.extend(stand_ins);
    // Groups the template neither creates nor describes: their rules cannot be seen, so they
    // leave the lists, and the rules judge the groups beside them (or nothing, when none is
    // left) rather than report traffic blocked by rules that may well exist.
    let known: Vec<String> = rd.sgs.iter().map(|s| s.key.clone()).collect();
    let keep = |v: &mut Vec<String>| v.retain(|k| known.contains(k));
    for ng in &mut node_groups {
        keep(&mut ng.security_groups);
        for n in &mut ng.interfaces {
            keep(&mut n.security_groups);
        }
    }
    let mut endpoints = endpoints;
    for e in &mut endpoints {
        keep(&mut e.security_groups);
    }
    let mut file_systems = file_systems;
    for f in &mut file_systems {
        keep(&mut f.security_groups);
    }

    let target = meta_str("target")
        .and_then(Target::from_name)
        .unwrap_or(Target::CloudFormation);
    let scheduler = meta_str("scheduler")
        .and_then(Scheduler::from_name)
        .unwrap_or(Scheduler::None);
    let mpi = mpi_secret.map(|key| {
        let names_it = |r: &Role| {
            r.statements
                .iter()
                .flat_map(|s| &s.resources)
                .any(|x| *x == ResourceRef::Secret(key.clone()))
        };
        let mut readers: Vec<String> = roles
            .iter()
            .filter(|r| names_it(r))
            .map(|r| r.key.clone())
            .collect();
        if target != Target::Batch {
            // Nodes read the key at boot with their instance role.
            readers.extend(node_groups.iter().filter_map(|ng| ng.instance_role.clone()));
        }
        readers.sort();
        readers.dedup();
        Mpi {
            launcher: MpiLauncher::Ssh,
            secret: Some(key.clone()),
            readers,
            origin: Origin::Spec(rpath(&key)),
        }
    });
    let cluster = Cluster {
        read_from: crate::model::ReadFrom::CloudFormation,
        name: meta_str("cluster").unwrap_or("").to_string(),
        region,
        zone: None,
        target,
        scheduler,
        vpc,
        subnets,
        endpoints,
        security_groups: rd.sgs,
        placement_groups,
        node_groups,
        mpi,
        secrets,
        roles,
        nccl: Nccl::default(),
        file_systems,
        parallelcluster: ParallelClusterSettings::default(),
        settings: Settings {
            efa_sg_mode: match target {
                Target::ParallelCluster => SgMode::Any,
                _ => SgMode::Every,
            },
            ..Settings::default()
        },
        tags: Default::default(),
    };
    TemplateRead {
        cluster: Some(cluster),
        source,
        findings: rd.findings,
        aliases: rd.aliases,
        moved,
    }
}
