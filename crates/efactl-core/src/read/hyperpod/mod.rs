//! SageMaker HyperPod cluster configs, read into the model as HyperPod builds the cluster:
//!
//! - the `CreateCluster` / `UpdateCluster` request (`cluster-config.json`: `InstanceGroups`,
//!   `VpcConfig`, `Orchestrator`), the `describe-cluster` output (the same groups with
//!   `TargetCount` and `CurrentCount`), and the two fragments the quickstarts pass on their own
//!   (`--instance-groups` as a list of groups, `--vpc-config` as `SecurityGroupIds` and
//!   `Subnets`);
//! - each instance group is a node group of its `ml.` instance type (the EC2 type without the
//!   prefix) and `InstanceCount`; HyperPod attaches an EFA interface on every network card of a
//!   type that supports EFA by itself, so the layout is the type's, never judged short;
//! - `TrainingPlanArn` buys the group's capacity from a training plan, which EC2 serves from
//!   Capacity Blocks placed close together; the request has no placement setting at all;
//! - which group is the Slurm controller and which are login nodes is in the lifecycle
//!   scripts' `provisioning_parameters.json` ([`provisioning`]); when the file sits beside the
//!   config it gives the roles, else every group is a compute group;
//! - `Orchestrator.Eks` makes the scheduler Kubernetes; otherwise it is Slurm.
//!
//! HyperPod takes only ids for the network (`sg-...`, `subnet-...`): their rules, routes,
//! endpoints and zones are not in the file, so they stay out of the model and one note says
//! what was not judged for want of them. Values a script fills in (`${ROLE}`, `$SUBNET_ID`,
//! `<EXECUTION_ROLE_ARN>`) are unknown, never guessed.

pub mod provisioning;

use super::value::{at, number, strings, text, Val};
use super::{note, Format, Input, PathMap, Probe, Read};
use crate::finding::{Category, Finding, Severity, Subject};
use crate::model::*;
use crate::rules::Options;
use crate::spec::{diag, SourceMap};
use serde_json::Value;

/// The shapes of a HyperPod config file.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// The request or the describe output: a mapping with `InstanceGroups`.
    Cluster,
    /// `--instance-groups` on its own: a list of groups.
    Groups,
    /// `--vpc-config` on its own.
    Vpc,
}

fn shape(probe: &Probe<'_>) -> Option<Shape> {
    use crate::yaml::Kind;
    let root = probe.root?;
    match &root.kind {
        Kind::Seq(items) if !items.is_empty() => items
            .iter()
            .all(|i| map_has(i, "InstanceGroupName"))
            .then_some(Shape::Groups),
        Kind::Map(_) => {
            let keys = probe.top_keys();
            let foreign = [
                "Resources",
                "HeadNode",
                "apiVersion",
                "AWSTemplateFormatVersion",
            ];
            if keys.iter().any(|k| foreign.contains(k)) {
                return None;
            }
            if keys.contains(&"InstanceGroups") {
                return Some(Shape::Cluster);
            }
            let vpc = ["SecurityGroupIds", "Subnets"];
            (keys.len() == 2 && keys.iter().all(|k| vpc.contains(k))).then_some(Shape::Vpc)
        }
        _ => None,
    }
}

fn map_has(node: &crate::yaml::Node, key: &str) -> bool {
    match &node.kind {
        crate::yaml::Kind::Map(entries) => entries.iter().any(
            |(k, _)| matches!(&k.kind, crate::yaml::Kind::Scalar { value, .. } if value == key),
        ),
        _ => false,
    }
}

pub struct HyperPod;

impl Format for HyperPod {
    fn name(&self) -> &'static str {
        "SageMaker HyperPod cluster config"
    }

    fn shape(&self) -> &'static str {
        "`InstanceGroups` at the top (the create-cluster request or describe-cluster output), a list of groups with `InstanceGroupName`, or a `VpcConfig` of `SecurityGroupIds` and `Subnets`"
    }

    fn detect(&self, probe: &Probe<'_>) -> bool {
        shape(probe).is_some()
    }

    fn read(&self, input: &Input<'_>) -> Read {
        let source = SourceMap::new(input.file, input.text, input.root);
        let probe = Probe {
            file: input.file,
            text: input.text,
            root: input.root,
        };
        let (Some(root), Some(shape)) = (input.root, shape(&probe)) else {
            return Read::failed(source, Vec::new());
        };
        let json = crate::cfn_read::to_json(root);
        let roles =
            (input.beside)(provisioning::FILE_NAME).and_then(|text| provisioning::roles(&text));
        let mut rd = Reader {
            catalog: input.catalog,
            findings: Vec::new(),
            paths: PathMap::default(),
            not_described: Vec::new(),
        };
        let cluster = rd.cluster(&json, shape, input.file, roles.as_ref());
        rd.note_not_described();
        Read {
            cluster: Some(cluster),
            source,
            findings: rd.findings,
            paths: Some(rd.paths),
            options: Options::default(),
        }
    }
}

struct Reader<'a> {
    catalog: &'a crate::Catalog,
    findings: Vec<Finding>,
    paths: PathMap,
    /// Existing objects the config names but does not describe: (path, what, id).
    not_described: Vec<(String, &'static str, String)>,
}

/// A group's path: `InstanceGroups[i]` in a request, `[i]` in a list of groups.
fn group_path(shape: Shape, i: usize) -> String {
    match shape {
        Shape::Groups => format!("[{i}]"),
        _ => format!("InstanceGroups[{i}]"),
    }
}

impl Reader<'_> {
    fn cluster(
        &mut self,
        json: &Value,
        shape: Shape,
        file: &str,
        roles: Option<&provisioning::Roles>,
    ) -> Cluster {
        let eks = at(json, &["Orchestrator", "Eks"]).is_some();
        let scheduler = if eks {
            Scheduler::Kubernetes
        } else {
            Scheduler::Slurm
        };
        let mut c = Cluster::blank(ReadFrom::HyperPod, Target::HyperPod, scheduler);
        c.name = match text(json.get("ClusterName")) {
            Val::Known(n) => n,
            _ => std::path::Path::new(file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        // The region is in the ARNs the file carries, when it carries any.
        for arn in [
            at(json, &["ClusterArn"]),
            at(json, &["Orchestrator", "Eks", "ClusterArn"]),
        ] {
            if let Val::Known(a) = text(arn) {
                if let Some(r) = a.split(':').nth(3).filter(|r| !r.is_empty()) {
                    c.region = r.to_string();
                    break;
                }
            }
        }
        // HyperPod checks every group on the EFA interfaces on its own (its EFA health check).
        c.settings.efa_sg_mode = SgMode::Every;
        let vpc_path = match shape {
            Shape::Vpc => String::new(),
            _ => "VpcConfig".to_string(),
        };
        let vpc = if shape == Shape::Vpc {
            Some(json)
        } else {
            json.get("VpcConfig")
        };
        c.vpc.origin = Origin::Implied(vpc_path.clone());
        let (subnets, _) = self.vpc(vpc, &vpc_path);
        if vpc.is_none() && shape == Shape::Cluster {
            self.findings.push(note(
                "VpcConfig",
                "the network not judged: without `VpcConfig` HyperPod runs the nodes in a VPC SageMaker manages, which efactl cannot see".into(),
                "add `VpcConfig` with your subnet and security group to reach your own file systems and endpoints".into(),
            ));
        }
        let groups: Vec<&Value> = match shape {
            Shape::Groups => json
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default(),
            Shape::Cluster => match json.get("InstanceGroups") {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(_) => {
                    self.input_error(
                        "InstanceGroups",
                        diag::WRONG_TYPE.id,
                        diag::WRONG_TYPE.name,
                        "`InstanceGroups` must be a list of instance groups".into(),
                    );
                    Vec::new()
                }
                None => Vec::new(),
            },
            Shape::Vpc => Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        for (i, g) in groups.into_iter().enumerate() {
            let path = group_path(shape, i);
            if let Some(ng) = self.group(g, &path, &subnets, roles, &mut seen) {
                c.node_groups.push(ng);
            }
        }
        c
    }

    /// The subnets a `VpcConfig` names (ids; none is described) and its security groups.
    fn vpc(&mut self, vpc: Option<&Value>, path: &str) -> (Vec<String>, Vec<String>) {
        let join = |f: &str| {
            if path.is_empty() {
                f.to_string()
            } else {
                format!("{path}.{f}")
            }
        };
        let mut subnets = Vec::new();
        for (i, s) in strings(vpc.and_then(|v| v.get("Subnets")))
            .into_iter()
            .enumerate()
        {
            let p = format!("{}[{i}]", join("Subnets"));
            match blank_is_unknown(s) {
                Val::Known(id) => {
                    self.not_described.push((p, "subnet", id.clone()));
                    if !subnets.contains(&id) {
                        subnets.push(id);
                    }
                }
                Val::Unknown(raw) => self.placeholder(&p, "the subnet", &raw),
                Val::Absent => {}
            }
        }
        let mut groups = Vec::new();
        for (i, s) in strings(vpc.and_then(|v| v.get("SecurityGroupIds")))
            .into_iter()
            .enumerate()
        {
            let p = format!("{}[{i}]", join("SecurityGroupIds"));
            match blank_is_unknown(s) {
                Val::Known(id) => {
                    self.not_described.push((p, "security group", id.clone()));
                    groups.push(id);
                }
                Val::Unknown(raw) => self.placeholder(&p, "the security group", &raw),
                Val::Absent => {}
            }
        }
        (subnets, groups)
    }

    fn group(
        &mut self,
        g: &Value,
        path: &str,
        subnets: &[String],
        roles: Option<&provisioning::Roles>,
        seen: &mut Vec<String>,
    ) -> Option<NodeGroup> {
        let name = match text(g.get("InstanceGroupName")) {
            Val::Known(n) => n,
            Val::Unknown(raw) => raw,
            Val::Absent => {
                self.input_error(
                    path,
                    diag::MISSING_FIELD.id,
                    diag::MISSING_FIELD.name,
                    "this instance group has no `InstanceGroupName`, which CreateCluster requires"
                        .into(),
                );
                return None;
            }
        };
        if seen.contains(&name) {
            self.input_error(
                &format!("{path}.InstanceGroupName"),
                diag::DUPLICATE_NAME.id,
                diag::DUPLICATE_NAME.name,
                format!("instance group `{name}` is named twice; HyperPod wants each name once"),
            );
        }
        seen.push(name.clone());
        self.paths.alias(
            format!("{path}.instanceType"),
            format!("{path}.InstanceType"),
        );
        self.paths.alias(
            format!("{path}.subnets"),
            format!("{path}.OverrideVpcConfig.Subnets"),
        );
        // A describe-cluster output says how many nodes run and are meant to.
        let count = ["InstanceCount", "TargetCount", "CurrentCount"]
            .iter()
            .find_map(|k| match number(g.get(*k)) {
                Val::Known(n) => Some(n),
                _ => None,
            });
        let count = match (count, number(g.get("InstanceCount"))) {
            (Some(n), _) => n,
            (None, Val::Unknown(raw)) => {
                self.placeholder(&format!("{path}.InstanceCount"), "the node count", &raw);
                1
            }
            _ => 1,
        };
        let role = match roles {
            Some(r) if r.controller.as_deref() == Some(name.as_str()) => NodeRole::Head,
            Some(r) if r.login.as_deref() == Some(name.as_str()) => NodeRole::Login,
            _ => NodeRole::Compute,
        };
        let ty = match text(g.get("InstanceType")) {
            Val::Known(t) => {
                let ec2 = t.strip_prefix("ml.").unwrap_or(&t).to_string();
                if self.catalog.get(&ec2).is_none() {
                    self.findings.push(crate::read::not_in_catalog(
                        &format!("{path}.InstanceType"),
                        &format!("instance group `{name}`"),
                        &t,
                    ));
                    return None;
                }
                ec2
            }
            Val::Unknown(raw) => {
                self.placeholder(
                    &format!("{path}.InstanceType"),
                    &format!("instance group `{name}`"),
                    &raw,
                );
                return None;
            }
            Val::Absent => {
                self.input_error(
                    path,
                    diag::MISSING_FIELD.id,
                    diag::MISSING_FIELD.name,
                    format!("instance group `{name}` has no `InstanceType`, which CreateCluster requires"),
                );
                return None;
            }
        };
        // A group's own VpcConfig replaces the cluster's.
        let own = g.get("OverrideVpcConfig");
        let subnets = if own.is_some() {
            self.vpc(own, &format!("{path}.OverrideVpcConfig")).0
        } else {
            subnets.to_vec()
        };
        let capacity = match text(g.get("TrainingPlanArn")) {
            Val::Known(arn) => Capacity::CapacityBlock { id: arn },
            Val::Unknown(raw) => Capacity::CapacityBlock { id: raw },
            Val::Absent => Capacity::OnDemand,
        };
        let t = self.catalog.get(&ty);
        let interfaces =
            crate::resolve::default_layout(t, EfaSetting::Auto, InterfaceType::Efa, &[], path);
        Some(NodeGroup {
            name,
            role,
            instance_types: vec![ty],
            count,
            max_count: count,
            efa: EfaSetting::Auto,
            interfaces,
            subnets,
            security_groups: Vec::new(),
            placement_group: None,
            capacity,
            public_ip: false,
            instance_role: None,
            ami: None,
            instances: Vec::new(),
            origin: Origin::Spec(path.to_string()),
        })
    }

    fn placeholder(&mut self, path: &str, what: &str, raw: &str) {
        self.findings.push(note(
            path,
            format!("{what} not judged: `{raw}` is filled in before HyperPod reads the file"),
            "check the config as the AWS CLI gets it, after the script fills it in".into(),
        ));
    }

    fn input_error(&mut self, path: &str, rule: &str, name: &str, message: String) {
        self.findings.push(Finding {
            rule: rule.into(),
            name: name.into(),
            severity: Severity::Error,
            category: Category::Input,
            subject: Subject::path(path.to_string()),
            message,
            help: None,
        });
    }

    /// One note per kind of existing object the config names, at its first mention.
    fn note_not_described(&mut self) {
        for (path, message) in super::not_described(std::mem::take(&mut self.not_described)) {
            self.findings.push(note(
                &path,
                message,
                "`efactl audit` judges them in the account once the cluster runs".into(),
            ));
        }
    }
}

/// An empty id is a blank a user fills in, not an id.
fn blank_is_unknown(v: Val<String>) -> Val<String> {
    match v {
        Val::Known(s) if s.trim().is_empty() => Val::Unknown(s),
        v => v,
    }
}

#[cfg(test)]
mod tests;
