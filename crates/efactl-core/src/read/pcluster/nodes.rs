//! The nodes of a ParallelCluster config: the head node, each compute resource of each
//! queue (Slurm and AWS Batch), each login node pool.

use super::*;
use crate::resolve::default_layout;

/// What one node group is made of, before its interfaces are laid out.
struct Nodes {
    name: String,
    role: NodeRole,
    path: String,
    types: Vec<String>,
    count: u32,
    max_count: u32,
    efa: bool,
    groups: Vec<String>,
    subnets: Vec<String>,
    placement_group: Option<String>,
    capacity: Capacity,
    public_ip: bool,
}

impl Reader<'_> {
    fn push(&mut self, n: Nodes) {
        let t = n.types.first().and_then(|t| self.catalog.get(t));
        let efa = if n.efa {
            EfaSetting::On
        } else {
            EfaSetting::Off
        };
        // ParallelCluster attaches an EFA to every network card of the type; `efa` (with an
        // address) on each, as its launch templates do.
        let interfaces = default_layout(t, efa, InterfaceType::Efa, &n.groups, &n.path);
        self.nodes.push(NodeGroup {
            name: n.name,
            role: n.role,
            instance_types: n.types,
            count: n.count,
            max_count: n.max_count,
            efa,
            interfaces,
            subnets: n.subnets,
            security_groups: n.groups,
            placement_group: n.placement_group,
            capacity: n.capacity,
            public_ip: n.public_ip,
            instance_role: None,
            ami: None,
            instances: Vec::new(),
            origin: Origin::Spec(n.path),
        });
    }

    /// Instance types a node group names; `None` (with a note) where they cannot be judged.
    fn known_types(
        &mut self,
        written: Vec<(String, Val<String>)>,
        what: &str,
    ) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for (path, v) in written {
            match v {
                Val::Known(t) if self.catalog.get(&t).is_some() => out.push(t),
                Val::Known(t) => {
                    self.findings
                        .push(crate::read::not_in_catalog(&path, what, &t));
                    return None;
                }
                Val::Unknown(raw) => {
                    self.placeholder(&path, what, &raw);
                    return None;
                }
                Val::Absent => {}
            }
        }
        (!out.is_empty()).then_some(out)
    }

    pub(super) fn head_node(&mut self, json: &Value, compute: bool) -> bool {
        let head = self.head_group(json, compute);
        let Some(h) = json.get("HeadNode") else {
            return head;
        };
        let networking = h.get("Networking");
        let groups = self.groups(networking, "HeadNode.Networking", HEAD_SG);
        let subnet = self.subnet(
            text(networking.and_then(|n| n.get("SubnetId"))),
            "HeadNode.Networking.SubnetId",
        );
        self.paths
            .alias("HeadNode.subnet", "HeadNode.Networking.SubnetId");
        self.paths
            .alias("HeadNode.instanceType", "HeadNode.InstanceType");
        self.paths
            .alias("HeadNode.publicIp", "HeadNode.Networking.ElasticIp");
        self.alias_groups("HeadNode", "HeadNode.Networking", networking);
        let Some(types) = self.known_types(
            vec![("HeadNode.InstanceType".into(), text(h.get("InstanceType")))],
            "the head node",
        ) else {
            return head;
        };
        let public_ip = !matches!(
            networking.and_then(|n| n.get("ElasticIp")),
            None | Some(Value::Bool(false))
        );
        self.push(Nodes {
            name: "HeadNode".into(),
            role: NodeRole::Head,
            path: "HeadNode".into(),
            types,
            count: 1,
            max_count: 1,
            efa: false,
            groups: groups.keys,
            subnets: subnet.into_iter().collect(),
            placement_group: None,
            capacity: Capacity::OnDemand,
            public_ip,
        });
        head
    }

    fn alias_groups(&mut self, path: &str, networking_path: &str, networking: Option<&Value>) {
        let field = match networking {
            Some(n) if n.get("SecurityGroups").is_some() => "SecurityGroups",
            Some(n) if n.get("AdditionalSecurityGroups").is_some() => "AdditionalSecurityGroups",
            _ => "",
        };
        let target = if field.is_empty() {
            networking_path.to_string()
        } else {
            format!("{networking_path}.{field}")
        };
        self.paths.alias(format!("{path}.securityGroups"), target);
    }

    /// The placement group a compute resource launches into: its own `Networking` first, then
    /// its queue's.
    fn placement(
        &mut self,
        written: &[(String, Option<&Value>)],
        cr_path: &str,
        cr: &str,
    ) -> Option<String> {
        let (pg_path, pg) = written
            .iter()
            .find(|(_, v)| v.is_some())
            .map(|(p, v)| (p.clone(), *v))?;
        let pg = pg?;
        self.paths
            .alias(format!("{cr_path}.placementGroup"), pg_path.clone());
        let enabled = flag(pg.get("Enabled"));
        if enabled == Val::Known(false) {
            return None;
        }
        let (name_field, name) = match text(pg.get("Name")) {
            Val::Absent => ("Id", text(pg.get("Id"))),
            v => ("Name", v),
        };
        match name {
            Val::Known(n) => {
                self.not_described.push((
                    format!("{pg_path}.{name_field}"),
                    "placement group",
                    n.clone(),
                ));
                Some(n)
            }
            Val::Unknown(raw) => {
                self.placeholder(
                    &format!("{pg_path}.{name_field}"),
                    "the placement group",
                    &raw,
                );
                Some(raw)
            }
            Val::Absent if enabled == Val::Known(true) => {
                let key = format!("{cr_path}.placementGroup");
                self.pgs.push(PlacementGroup {
                    key: key.clone(),
                    name: format!("{cr} (created by ParallelCluster)"),
                    strategy: PlacementStrategy::Cluster,
                    managed: true,
                    origin: Origin::Spec(pg_path),
                });
                Some(key)
            }
            Val::Absent => None,
        }
    }

    pub(super) fn queues(&mut self, json: &Value) {
        for (qi, (qpath, q)) in super::queues(json).into_iter().enumerate() {
            let batch = qpath.contains("AwsBatchQueues");
            let qname = match text(q.get("Name")) {
                Val::Known(n) => n,
                _ => format!("queue{qi}"),
            };
            let npath = format!("{qpath}.Networking");
            let networking = q.get("Networking");
            let groups = self.groups(networking, &npath, COMPUTE_SG);
            let mut subnets = Vec::new();
            for (i, v) in strings(networking.and_then(|n| n.get("SubnetIds")))
                .into_iter()
                .enumerate()
            {
                if let Some(s) = self.subnet(v, &format!("{npath}.SubnetIds[{i}]")) {
                    if !subnets.contains(&s) {
                        subnets.push(s);
                    }
                }
            }
            let public_ip =
                flag(networking.and_then(|n| n.get("AssignPublicIp"))) == Val::Known(true);
            let capacity_block = text(q.get("CapacityType")) == Val::Known("CAPACITY_BLOCK".into());
            let Some(Value::Array(crs)) = q.get("ComputeResources") else {
                if q.get("ComputeResources").is_some() {
                    self.input_error(
                        &format!("{qpath}.ComputeResources"),
                        format!("`ComputeResources` of queue `{qname}` must be a list"),
                    );
                }
                continue;
            };
            for (j, cr) in crs.iter().enumerate() {
                let path = format!("{qpath}.ComputeResources[{j}]");
                let crname = match text(cr.get("Name")) {
                    Val::Known(n) => n,
                    _ => format!("resource{j}"),
                };
                let name = format!("{qname}/{crname}");
                let what = format!("compute resource `{crname}` of queue `{qname}`");
                let written_types: Vec<(String, Val<String>)> = if batch {
                    strings(cr.get("InstanceTypes"))
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (format!("{path}.InstanceTypes[{i}]"), v))
                        .collect()
                } else if let Some(Value::Array(items)) = cr.get("Instances") {
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, it)| {
                            (
                                format!("{path}.Instances[{i}].InstanceType"),
                                text(it.get("InstanceType")),
                            )
                        })
                        .collect()
                } else {
                    vec![(format!("{path}.InstanceType"), text(cr.get("InstanceType")))]
                };
                let types_path = if batch {
                    "InstanceTypes"
                } else if cr.get("Instances").is_some() {
                    "Instances"
                } else {
                    "InstanceType"
                };
                self.paths.alias(
                    format!("{path}.instanceType"),
                    format!("{path}.{types_path}"),
                );
                let efa_written = cr.get("Efa").is_some();
                let efa_path = if cr.get("Efa").and_then(|e| e.get("Enabled")).is_some() {
                    format!("{path}.Efa.Enabled")
                } else if efa_written {
                    format!("{path}.Efa")
                } else {
                    path.clone()
                };
                self.paths.alias(format!("{path}.efa"), efa_path.clone());
                self.paths
                    .alias(format!("{path}.networkInterfaces"), efa_path);
                self.paths
                    .alias(format!("{path}.subnets"), format!("{npath}.SubnetIds"));
                self.paths
                    .alias(format!("{path}.subnet"), format!("{npath}.SubnetIds"));
                self.paths.alias(
                    format!("{path}.publicIp"),
                    format!("{npath}.AssignPublicIp"),
                );
                self.alias_groups(&path, &npath, networking);
                let (count_field, max_field) = if batch {
                    ("MinvCpus", "MaxvCpus")
                } else {
                    ("MinCount", "MaxCount")
                };
                self.paths
                    .alias(format!("{path}.count"), format!("{path}.{count_field}"));
                self.paths
                    .alias(format!("{path}.maxCount"), format!("{path}.{max_field}"));
                let Some(types) = self.known_types(written_types, &what) else {
                    continue;
                };
                let (count, max_count) = if batch {
                    // vCPU limits in nodes of the first type.
                    let vcpus = self
                        .catalog
                        .get(&types[0])
                        .and_then(|t| t.vcpus)
                        .unwrap_or(1)
                        .max(1);
                    let min = match number(cr.get("MinvCpus")) {
                        Val::Known(n) => n / vcpus,
                        _ => 0,
                    };
                    let max = match number(cr.get("MaxvCpus")) {
                        Val::Known(n) => n / vcpus,
                        _ => 10 / vcpus,
                    };
                    (min, max)
                } else {
                    let min = match number(cr.get("MinCount")) {
                        Val::Known(n) => n,
                        _ => 0,
                    };
                    // ParallelCluster's default MaxCount is 10.
                    let max = match number(cr.get("MaxCount")) {
                        Val::Known(n) => n,
                        _ => 10,
                    };
                    (min, max)
                };
                let efa = !batch
                    && flag(cr.get("Efa").and_then(|e| e.get("Enabled"))) == Val::Known(true);
                let placement_group = if batch {
                    None
                } else {
                    let written = [
                        (
                            format!("{path}.Networking.PlacementGroup"),
                            cr.get("Networking").and_then(|n| n.get("PlacementGroup")),
                        ),
                        (
                            format!("{npath}.PlacementGroup"),
                            networking.and_then(|n| n.get("PlacementGroup")),
                        ),
                    ];
                    let pg = self.placement(&written, &path, &name);
                    if !self
                        .paths
                        .aliases
                        .contains_key(&format!("{path}.placementGroup"))
                    {
                        self.paths
                            .alias(format!("{path}.placementGroup"), npath.clone());
                    }
                    pg
                };
                let capacity = if capacity_block {
                    let id = [cr, q].iter().find_map(|v| {
                        match text(at(
                            v,
                            &["CapacityReservationTarget", "CapacityReservationId"],
                        )) {
                            Val::Known(id) => Some(id),
                            _ => None,
                        }
                    });
                    Capacity::CapacityBlock {
                        id: id.unwrap_or_default(),
                    }
                } else {
                    Capacity::OnDemand
                };
                self.push(Nodes {
                    name,
                    role: NodeRole::Compute,
                    path,
                    types,
                    count,
                    max_count,
                    efa,
                    groups: groups.keys.clone(),
                    subnets: subnets.clone(),
                    placement_group,
                    capacity,
                    public_ip,
                });
            }
        }
    }

    pub(super) fn login_nodes(&mut self, json: &Value) {
        let Some(Value::Array(pools)) = at(json, &["LoginNodes", "Pools"]) else {
            return;
        };
        for (i, p) in pools.iter().enumerate() {
            let path = format!("LoginNodes.Pools[{i}]");
            let name = match text(p.get("Name")) {
                Val::Known(n) => n,
                _ => format!("pool{i}"),
            };
            let npath = format!("{path}.Networking");
            let networking = p.get("Networking");
            // ParallelCluster's own login group is not modelled: it carries no EFA traffic.
            let groups = self.groups(networking, &npath, "");
            let mut subnets = Vec::new();
            for (k, v) in strings(networking.and_then(|n| n.get("SubnetIds")))
                .into_iter()
                .enumerate()
            {
                if let Some(s) = self.subnet(v, &format!("{npath}.SubnetIds[{k}]")) {
                    subnets.push(s);
                }
            }
            let Some(types) = self.known_types(
                vec![(format!("{path}.InstanceType"), text(p.get("InstanceType")))],
                &format!("login pool `{name}`"),
            ) else {
                continue;
            };
            let count = match number(p.get("Count")) {
                Val::Known(n) => n,
                _ => 1,
            };
            self.push(Nodes {
                name,
                role: NodeRole::Login,
                path,
                types,
                count,
                max_count: count,
                efa: false,
                groups: groups.keys,
                subnets,
                placement_group: None,
                capacity: Capacity::OnDemand,
                public_ip: false,
            });
        }
    }
}
