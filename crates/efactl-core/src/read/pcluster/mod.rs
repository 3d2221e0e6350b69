//! AWS ParallelCluster 3 cluster configs (the YAML `pcluster create-cluster` takes), read into
//! the model as ParallelCluster would build the cluster:
//!
//! - the head node, each login node pool and each compute resource of each queue are node
//!   groups (Slurm queues and AWS Batch queues alike), with their instance types, counts
//!   (`MinCount`/`MaxCount`), subnets, security groups and placement group;
//! - a compute resource with `Efa.Enabled: true` gets an EFA interface on every network card
//!   its type has (ParallelCluster attaches them itself); without it, none;
//! - where a queue or the head node names no `SecurityGroups`, ParallelCluster creates its
//!   own groups, and they are in the model with the rules its stack gives them: the
//!   `ComputeSecurityGroup` shared by those queues (all traffic to and from itself and the
//!   head node, all traffic out), the `HeadNodeSecurityGroup` (SSH from
//!   `HeadNode.Ssh.AllowedIps`, 0.0.0.0/0 when unset; DCV when enabled);
//! - `Networking.PlacementGroup` of the compute resource, else of the queue: `Enabled: true`
//!   without a name is a cluster placement group ParallelCluster creates; a `Name` (or `Id`)
//!   is an existing group whose strategy the config does not say;
//! - `SlurmSettings.Dns` sets the managed-DNS and EC2-hostname settings; a FSx for Lustre
//!   file system ParallelCluster creates sits in the first compute subnet with the compute
//!   groups, as its stack puts it.
//!
//! What the config only names (existing subnets, security groups, placement groups and file
//! systems, by id) is not described by it: those objects stay out of the model, and a note
//! (SPEC013) says what was not judged for want of them. Values a script fills in later
//! (`${SUBNET_ID}`, `{{ instance }}`, `<KEY>`) are unknown, never guessed.

mod nodes;

use super::value::{at, flag, number, strings, text, Val};
use super::{Format, Input, PathMap, Probe, Read};
use crate::finding::{Category, Finding, Severity, Subject};
use crate::model::*;
use crate::rules::Options;
use crate::spec::{diag, SourceMap};
use serde_json::Value;

pub struct ParallelCluster;

impl Format for ParallelCluster {
    fn name(&self) -> &'static str {
        "ParallelCluster 3 cluster config"
    }

    fn shape(&self) -> &'static str {
        "`HeadNode` and `Scheduling` at the top"
    }

    fn detect(&self, probe: &Probe<'_>) -> bool {
        probe.has("HeadNode") && probe.has("Scheduling") && !probe.has("apiVersion")
    }

    fn read(&self, input: &Input<'_>) -> Read {
        let source = SourceMap::new(input.file, input.text, input.root);
        let Some(root) = input.root else {
            return Read::failed(source, Vec::new());
        };
        let json = crate::cfn_read::to_json(root);
        let mut rd = Reader {
            catalog: input.catalog,
            findings: Vec::new(),
            paths: PathMap::default(),
            sgs: Vec::new(),
            pgs: Vec::new(),
            nodes: Vec::new(),
            subnets: Vec::new(),
            not_described: Vec::new(),
        };
        let cluster = rd.cluster(&json, input.file);
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

/// The key of the compute nodes' group ParallelCluster creates (its logical id).
pub const COMPUTE_SG: &str = "ComputeSecurityGroup";
/// The key of the head node's group ParallelCluster creates.
pub const HEAD_SG: &str = "HeadNodeSecurityGroup";

/// An `AllowedIps` value: a CIDR or a prefix list (`pl-...`), as ParallelCluster takes it.
fn allowed(s: &str) -> Option<Peer> {
    if s.starts_with("pl-") {
        return Some(Peer::PrefixList(s.to_string()));
    }
    crate::net::Cidr::parse(s).map(Peer::Cidr)
}

/// What the config says about its security groups of one node kind.
pub(crate) struct Groups {
    /// Keys of the groups the nodes carry (existing ids stay out of the model).
    pub keys: Vec<String>,
}

pub(crate) struct Reader<'a> {
    pub catalog: &'a crate::Catalog,
    pub findings: Vec<Finding>,
    pub paths: PathMap,
    pub sgs: Vec<SecurityGroup>,
    pub pgs: Vec<PlacementGroup>,
    pub nodes: Vec<NodeGroup>,
    /// Every subnet id the config names, in order.
    pub subnets: Vec<String>,
    /// Existing objects the config names but does not describe: (path, what, id).
    pub not_described: Vec<(String, &'static str, String)>,
}

impl Reader<'_> {
    fn cluster(&mut self, json: &Value, file: &str) -> Cluster {
        let scheduler = match text(at(json, &["Scheduling", "Scheduler"])) {
            Val::Known(s) if s == "awsbatch" => Scheduler::Batch,
            _ => Scheduler::Slurm,
        };
        let mut c = Cluster::blank(
            ReadFrom::ParallelCluster,
            Target::ParallelCluster,
            scheduler,
        );
        c.name = std::path::Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Val::Known(r) = text(json.get("Region")) {
            c.region = r;
        }
        c.vpc.origin = Origin::Implied("HeadNode.Networking".into());
        let dns = at(json, &["Scheduling", "SlurmSettings", "Dns"]);
        c.parallelcluster = ParallelClusterSettings {
            disable_managed_dns: flag(dns.and_then(|d| d.get("DisableManagedDns")))
                == Val::Known(true),
            use_ec2_hostnames: flag(dns.and_then(|d| d.get("UseEc2Hostnames"))) == Val::Known(true),
            origin: Some(Origin::Spec(if dns.is_some() {
                "Scheduling.SlurmSettings.Dns".into()
            } else {
                "Scheduling".into()
            })),
        };
        self.paths.alias(
            "Scheduling.SlurmSettings.Dns.disableManagedDns",
            "Scheduling.SlurmSettings.Dns.DisableManagedDns",
        );
        // ParallelCluster judges EFA groups as its validator does: one group of the node's
        // that allows all traffic to and from itself is enough.
        c.settings.efa_sg_mode = SgMode::Any;

        let managed_compute = self.queues_without_groups(json);
        let head_groups = self.head_node(json, managed_compute);
        if managed_compute {
            self.compute_group(head_groups);
        }
        self.queues(json);
        self.login_nodes(json);
        c.file_systems = self.storage(json);
        c.node_groups = std::mem::take(&mut self.nodes);
        c.security_groups = std::mem::take(&mut self.sgs);
        c.placement_groups = std::mem::take(&mut self.pgs);
        c
    }

    /// Does some queue name no `SecurityGroups`, so that ParallelCluster creates the compute
    /// group?
    fn queues_without_groups(&self, json: &Value) -> bool {
        queues(json)
            .iter()
            .any(|(_, q)| at(q, &["Networking", "SecurityGroups"]).is_none())
    }

    /// The head node's group, as ParallelCluster's stack writes it, when the config names no
    /// `HeadNode.Networking.SecurityGroups`. Returns whether it exists.
    fn head_group(&mut self, json: &Value, compute: bool) -> bool {
        if at(json, &["HeadNode", "Networking", "SecurityGroups"]).is_some() {
            return false;
        }
        let origin = Origin::Implied("HeadNode.Networking".into());
        let (ssh_path, ssh_peer) = match text(at(json, &["HeadNode", "Ssh", "AllowedIps"])) {
            Val::Known(s) => ("HeadNode.Ssh.AllowedIps", allowed(&s)),
            Val::Unknown(_) => ("HeadNode.Ssh.AllowedIps", None),
            // ParallelCluster's default: SSH from anywhere.
            Val::Absent => (
                if at(json, &["HeadNode", "Ssh"]).is_some() {
                    "HeadNode.Ssh"
                } else {
                    "HeadNode"
                },
                Some(Peer::Cidr(crate::net::Cidr::world_v4())),
            ),
        };
        let mut ingress = Vec::new();
        if let Some(peer) = ssh_peer {
            ingress.push(SgRule {
                protocol: Protocol::Tcp,
                ports: Some(PortRange { from: 22, to: 22 }),
                peer,
                origin: Origin::Spec(ssh_path.into()),
            });
        }
        if flag(at(json, &["HeadNode", "Dcv", "Enabled"])) == Val::Known(true) {
            let port = match number(at(json, &["HeadNode", "Dcv", "Port"])) {
                Val::Known(p) => u16::try_from(p).unwrap_or(8443),
                _ => 8443,
            };
            let (path, peer) = match text(at(json, &["HeadNode", "Dcv", "AllowedIps"])) {
                Val::Known(s) => ("HeadNode.Dcv.AllowedIps", allowed(&s)),
                Val::Unknown(_) => ("HeadNode.Dcv.AllowedIps", None),
                Val::Absent => (
                    "HeadNode.Dcv",
                    Some(Peer::Cidr(crate::net::Cidr::world_v4())),
                ),
            };
            if let Some(peer) = peer {
                ingress.push(SgRule {
                    protocol: Protocol::Tcp,
                    ports: Some(PortRange {
                        from: port,
                        to: port,
                    }),
                    peer,
                    origin: Origin::Spec(path.into()),
                });
            }
        }
        if compute {
            ingress.push(crate::read::aws::all_traffic(COMPUTE_SG, origin.clone()));
        }
        self.sgs.push(SecurityGroup {
            key: HEAD_SG.into(),
            id: None,
            name: HEAD_SG.into(),
            ingress,
            egress: vec![crate::read::aws::default_egress(origin.clone())],
            origin,
        });
        true
    }

    /// The compute group ParallelCluster's stack creates for the queues that name none.
    fn compute_group(&mut self, head: bool) {
        let origin = Origin::Implied("Scheduling".into());
        let mut ingress = vec![crate::read::aws::all_traffic(COMPUTE_SG, origin.clone())];
        if head {
            ingress.push(crate::read::aws::all_traffic(HEAD_SG, origin.clone()));
        }
        self.sgs.push(SecurityGroup {
            key: COMPUTE_SG.into(),
            id: None,
            name: COMPUTE_SG.into(),
            ingress,
            egress: vec![
                crate::read::aws::all_traffic(COMPUTE_SG, origin.clone()),
                crate::read::aws::default_egress(origin.clone()),
            ],
            origin,
        });
    }

    /// The groups a node carries: `SecurityGroups` (which replace ParallelCluster's own) or
    /// its managed group, plus `AdditionalSecurityGroups`. Existing ids are noted as not
    /// described and stay out of the lists.
    pub(crate) fn groups(
        &mut self,
        networking: Option<&Value>,
        path: &str,
        managed: &str,
    ) -> Groups {
        let mut keys = Vec::new();
        let named = networking.and_then(|n| n.get("SecurityGroups"));
        if named.is_none() && self.sgs.iter().any(|s| s.key == managed) {
            keys.push(managed.to_string());
        }
        for field in ["SecurityGroups", "AdditionalSecurityGroups"] {
            for (i, g) in strings(networking.and_then(|n| n.get(field)))
                .into_iter()
                .enumerate()
            {
                let p = format!("{path}.{field}[{i}]");
                match g {
                    Val::Known(id) => self.not_described.push((p, "security group", id)),
                    Val::Unknown(raw) => self.not_described.push((p, "security group", raw)),
                    Val::Absent => {}
                }
            }
        }
        Groups { keys }
    }

    pub(crate) fn subnet(&mut self, v: Val<String>, path: &str) -> Option<String> {
        match v {
            Val::Known(id) => {
                if !self.subnets.contains(&id) {
                    self.subnets.push(id.clone());
                    self.not_described
                        .push((path.to_string(), "subnet", id.clone()));
                }
                Some(id)
            }
            Val::Unknown(raw) => {
                self.not_described.push((path.to_string(), "subnet", raw));
                None
            }
            Val::Absent => None,
        }
    }

    /// One note for everything the config names without describing, at its first mention:
    /// what was not judged for want of it.
    fn note_not_described(&mut self) {
        for (path, message) in super::not_described(std::mem::take(&mut self.not_described)) {
            self.findings.push(super::note(
                &path,
                message,
                "efactl audit judges them in the account once the cluster runs".into(),
            ));
        }
    }

    /// A note that a part of the config was not judged because a value is filled in later.
    pub(crate) fn placeholder(&mut self, path: &str, what: &str, raw: &str) {
        self.findings.push(super::note(
            path,
            format!(
                "{what} not judged: `{raw}` is filled in before ParallelCluster reads the file"
            ),
            "check the config as ParallelCluster gets it, after the script or template fills it in"
                .into(),
        ));
    }

    pub(crate) fn input_error(&mut self, path: &str, message: String) {
        self.findings.push(Finding {
            rule: diag::WRONG_TYPE.id.into(),
            name: diag::WRONG_TYPE.name.into(),
            severity: Severity::Error,
            category: Category::Input,
            subject: Subject::path(path.to_string()),
            message,
            help: None,
        });
    }

    fn storage(&mut self, json: &Value) -> Vec<FileSystem> {
        let mut out = Vec::new();
        let Some(Value::Array(items)) = json.get("SharedStorage") else {
            return out;
        };
        let first_compute_subnet = self
            .nodes
            .iter()
            .find(|n| n.role == NodeRole::Compute)
            .and_then(|n| n.subnets.first().cloned());
        for (i, s) in items.iter().enumerate() {
            let path = format!("SharedStorage[{i}]");
            if text(s.get("StorageType")) != Val::Known("FsxLustre".into()) {
                continue;
            }
            let settings = s.get("FsxLustreSettings");
            let mount = match text(s.get("MountDir")) {
                Val::Known(m) => m,
                _ => String::new(),
            };
            match text(settings.and_then(|x| x.get("FileSystemId"))) {
                Val::Known(id) => {
                    self.not_described.push((
                        format!("{path}.FsxLustreSettings.FileSystemId"),
                        "file system",
                        id,
                    ));
                }
                Val::Unknown(raw) => self.not_described.push((
                    format!("{path}.FsxLustreSettings.FileSystemId"),
                    "file system",
                    raw,
                )),
                Val::Absent => {
                    // Created by ParallelCluster in the first compute subnet, with the
                    // compute nodes' groups.
                    let Some(subnet) = first_compute_subnet.clone() else {
                        continue;
                    };
                    let groups = if self.sgs.iter().any(|g| g.key == COMPUTE_SG) {
                        vec![COMPUTE_SG.to_string()]
                    } else {
                        Vec::new()
                    };
                    out.push(FileSystem {
                        key: path.clone(),
                        kind: StorageKind::FsxLustre,
                        id: None,
                        subnet,
                        security_groups: groups,
                        capacity_gib: match number(settings.and_then(|x| x.get("StorageCapacity")))
                        {
                            Val::Known(n) => Some(n),
                            _ => None,
                        },
                        mount_path: mount,
                        origin: Origin::Spec(path),
                    });
                }
            }
        }
        out
    }
}

/// Every queue of the config, Slurm and AWS Batch, with its path.
pub(crate) fn queues(json: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for field in ["SlurmQueues", "AwsBatchQueues"] {
        if let Some(Value::Array(qs)) = at(json, &["Scheduling", field]) {
            for (i, q) in qs.iter().enumerate() {
                out.push((format!("Scheduling.{field}[{i}]"), q));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
