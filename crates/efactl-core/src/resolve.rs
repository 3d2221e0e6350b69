//! Spec + catalog -> the Cluster model efactl will build.
//!
//! Defaults are applied here, and only here: the network-interface layout per current AWS
//! guidance, AWS's default security-group egress, the placement group and node role efactl
//! creates. References between parts of the spec are checked; a dangling one is an input
//! finding.

use crate::catalog::{Catalog, InstanceType};
use crate::finding::{Category, Finding, Severity, Subject};
use crate::model::*;
use crate::net::Cidr;
use crate::spec::diag;
use crate::spec::types::{CapacitySpec, PeerSpec, PlacementSpec, SgRuleSpec, Spec};

/// Key of the VPC's default security group, which AWS attaches when none is named.
pub use crate::read::aws::DEFAULT_SG;
/// Key of the security group efactl creates for interface endpoints.
pub const ENDPOINT_SG: &str = "efactl-endpoints";
/// Key of the node role efactl creates when node groups name none.
pub const NODE_ROLE: &str = "efactl-node-role";

pub fn resolve(spec: &Spec, catalog: &Catalog) -> (Cluster, Vec<Finding>) {
    let mut r = Resolver {
        spec,
        catalog,
        findings: Vec::new(),
    };
    let cluster = r.cluster();
    (cluster, r.findings)
}

struct Resolver<'a> {
    spec: &'a Spec,
    catalog: &'a Catalog,
    findings: Vec<Finding>,
}

impl Resolver<'_> {
    fn input(
        &mut self,
        rule: &crate::rules::Rule,
        subject: Subject,
        message: String,
        help: Option<String>,
    ) {
        self.findings.push(Finding {
            rule: rule.id.into(),
            name: rule.name.into(),
            severity: Severity::Error,
            category: Category::Input,
            subject,
            message,
            help,
        });
    }

    fn undefined(&mut self, path: String, what: &str, name: &str, known: &[&str]) {
        let help = match crate::spec::decode::suggest(name, known) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None if known.is_empty() => Some(format!("the spec defines no {what}")),
            None => Some(format!(
                "defined: {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        self.input(
            &diag::UNDEFINED_REFERENCE,
            Subject::path(path),
            format!("`{name}` is not a {what} of this spec"),
            help,
        );
    }

    fn cluster(&mut self) -> Cluster {
        let spec = self.spec;
        let vpc = Vpc {
            id: spec.network.vpc.id.clone(),
            cidr: spec
                .network
                .vpc
                .cidr
                .as_deref()
                .and_then(Cidr::parse)
                .or_else(|| {
                    spec.network
                        .vpc
                        .id
                        .is_none()
                        .then(|| Cidr::parse("10.0.0.0/16"))
                        .flatten()
                }),
            dns_support: spec.network.vpc.dns_support,
            dns_hostnames: spec.network.vpc.dns_hostnames,
            origin: Origin::Spec("network.vpc".into()),
        };
        let subnets: Vec<Subnet> = spec
            .network
            .subnets
            .iter()
            .enumerate()
            .map(|(i, s)| Subnet {
                key: s.name.clone(),
                id: s.id.clone(),
                cidr: s.cidr.as_deref().and_then(Cidr::parse),
                zone: s
                    .availability_zone
                    .clone()
                    .or_else(|| spec.availability_zone.clone()),
                internet: s.internet,
                map_public_ip_on_launch: s.map_public_ip_on_launch,
                available_ips: s.available_ips,
                route_table: format!("rtb-{}", s.name),
                network_acl: None,
                origin: Origin::Spec(format!("network.subnets[{i}]")),
            })
            .collect();
        let subnet_names: Vec<&str> = subnets.iter().map(|s| s.key.as_str()).collect();

        let mut security_groups = self.security_groups();
        let node_groups = self.node_groups(&subnets, &mut security_groups);

        let endpoints = self.endpoints(&subnets, &subnet_names, &node_groups, &mut security_groups);

        let (secrets, mpi) = self.mpi();
        let roles = self.roles(&secrets, &node_groups);
        let mpi = mpi.map(|mut m| {
            if m.readers.is_empty() && m.secret.is_some() {
                // Nodes launch MPI ranks over SSH, so every role nodes run as must read the key.
                let mut readers: Vec<String> = node_groups
                    .iter()
                    .filter_map(|ng| ng.instance_role.clone())
                    .collect();
                readers.sort();
                readers.dedup();
                m.readers = readers;
            }
            m
        });

        let placement_groups = self.placement_groups(&node_groups);

        let file_systems = spec
            .storage
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let path = format!("storage[{i}]");
                if !s.subnet.is_empty() && !subnet_names.contains(&s.subnet.as_str()) {
                    self.undefined(format!("{path}.subnet"), "subnet", &s.subnet, &subnet_names);
                }
                let mut sgs = self.sg_refs(
                    &s.security_groups,
                    &format!("{path}.securityGroups"),
                    &security_groups,
                );
                if s.security_groups.is_empty() {
                    // FSx, like EC2, attaches the VPC's default group when none is named.
                    if !security_groups.iter().any(|x| x.key == DEFAULT_SG) {
                        security_groups
                            .push(default_security_group(&format!("{path}.securityGroups")));
                    }
                    sgs.push(DEFAULT_SG.to_string());
                }
                FileSystem {
                    key: s.name.clone(),
                    kind: s.kind,
                    id: s.id.clone(),
                    subnet: s.subnet.clone(),
                    security_groups: sgs,
                    capacity_gib: s.capacity_gib,
                    mount_path: s.mount_path.clone(),
                    origin: Origin::Spec(path),
                }
            })
            .collect();

        let nccl = Nccl {
            env: spec
                .nccl
                .env
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        (v.clone(), Origin::Spec(format!("nccl.env.{k}"))),
                    )
                })
                .collect(),
            ports: spec.nccl.ports.clone(),
            aws_ofi_nccl_version: spec.nccl.aws_ofi_nccl_version.clone(),
            libfabric_version: spec.nccl.libfabric_version.clone(),
            origin: Some(Origin::Spec("nccl".into())),
        };

        Cluster {
            read_from: crate::model::ReadFrom::Spec,
            name: spec.name.clone(),
            region: spec.region.clone(),
            zone: spec.availability_zone.clone(),
            target: spec.target,
            scheduler: spec.scheduler,
            vpc,
            subnets,
            endpoints,
            security_groups,
            placement_groups,
            node_groups,
            mpi,
            secrets,
            roles,
            nccl,
            file_systems,
            parallelcluster: ParallelClusterSettings {
                disable_managed_dns: spec.parallelcluster.disable_managed_dns,
                use_ec2_hostnames: spec.parallelcluster.use_ec2_hostnames,
                origin: Some(Origin::Spec("parallelcluster".into())),
            },
            settings: Settings {
                efa_sg_mode: spec
                    .checks
                    .efa_security_group_mode
                    .unwrap_or(match spec.target {
                        // ParallelCluster's own validator accepts one good group among several.
                        Target::ParallelCluster => SgMode::Any,
                        _ => SgMode::Every,
                    }),
                efa_installer: spec.efa_installer.clone(),
            },
            tags: spec.tags.clone(),
        }
    }

    fn security_groups(&mut self) -> Vec<SecurityGroup> {
        let spec = self.spec;
        let names: Vec<String> = spec
            .security_groups
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let ids: Vec<Option<String>> = spec.security_groups.iter().map(|s| s.id.clone()).collect();
        let mut out = Vec::new();
        for (i, sg) in spec.security_groups.iter().enumerate() {
            let path = format!("securityGroups[{i}]");
            let mut ingress = Vec::new();
            let mut egress = Vec::new();
            if sg.self_referencing {
                for list in [&mut ingress, &mut egress] {
                    list.push(SgRule {
                        protocol: Protocol::All,
                        ports: None,
                        peer: Peer::Group(sg.name.clone()),
                        origin: Origin::Spec(format!("{path}.selfReferencing")),
                    });
                }
            }
            for (j, rule) in sg.ingress.iter().enumerate() {
                let p = format!("{path}.ingress[{j}]");
                if let Some(r) = self.sg_rule(rule, &sg.name, &p, &names, &ids) {
                    ingress.push(r);
                }
            }
            match &sg.egress {
                Some(rules) => {
                    for (j, rule) in rules.iter().enumerate() {
                        let p = format!("{path}.egress[{j}]");
                        if let Some(r) = self.sg_rule(rule, &sg.name, &p, &names, &ids) {
                            egress.push(r);
                        }
                    }
                }
                None => egress.push(crate::read::aws::default_egress(Origin::Implied(
                    path.clone(),
                ))),
            }
            out.push(SecurityGroup {
                key: sg.name.clone(),
                id: sg.id.clone(),
                name: sg.name.clone(),
                ingress,
                egress,
                origin: Origin::Spec(path),
            });
        }
        out
    }

    fn sg_rule(
        &mut self,
        rule: &SgRuleSpec,
        own: &str,
        path: &str,
        names: &[String],
        ids: &[Option<String>],
    ) -> Option<SgRule> {
        let peer = match &rule.peer {
            PeerSpec::Cidr(c) => Peer::Cidr(Cidr::parse(c)?),
            PeerSpec::SelfGroup => Peer::Group(own.to_string()),
            PeerSpec::PrefixList(p) => Peer::PrefixList(p.clone()),
            PeerSpec::SecurityGroup(g) => {
                if names.iter().any(|n| n == g) {
                    Peer::Group(g.clone())
                } else if let Some(i) = ids.iter().position(|id| id.as_deref() == Some(g)) {
                    Peer::Group(names[i].clone())
                } else if g.starts_with("sg-") {
                    // A group outside the spec: a valid peer, whose own rules we cannot see.
                    Peer::Group(g.clone())
                } else {
                    let known: Vec<&str> = names.iter().map(String::as_str).collect();
                    self.undefined(format!("{path}.securityGroup"), "security group", g, &known);
                    return None;
                }
            }
        };
        Some(SgRule {
            protocol: rule.protocol.clone(),
            ports: rule.ports,
            peer,
            origin: Origin::Spec(path.to_string()),
        })
    }

    /// Resolves names or ids to security-group keys, reporting unknown ones.
    fn sg_refs(&mut self, refs: &[String], path: &str, sgs: &[SecurityGroup]) -> Vec<String> {
        let mut out = Vec::new();
        for (i, r) in refs.iter().enumerate() {
            if let Some(sg) = sgs
                .iter()
                .find(|s| &s.key == r || s.id.as_deref() == Some(r))
            {
                out.push(sg.key.clone());
            } else {
                let known: Vec<&str> = sgs.iter().map(|s| s.key.as_str()).collect();
                let mut help_known = known.clone();
                help_known.retain(|k| *k != DEFAULT_SG && *k != ENDPOINT_SG);
                if r.starts_with("sg-") {
                    self.input(
                        &diag::UNDEFINED_REFERENCE,
                        Subject::path(format!("{path}[{i}]")),
                        format!("security group `{r}` is not described in the spec"),
                        Some(format!(
                            "add it under `securityGroups` with `id: {r}` and its rules, so efactl can check them"
                        )),
                    );
                } else {
                    self.undefined(format!("{path}[{i}]"), "security group", r, &help_known);
                }
            }
        }
        out
    }

    fn instance_type(&mut self, name: &str, path: String) -> Option<&InstanceType> {
        // Copy the reference out so the borrow of self ends before reporting.
        let catalog = self.catalog;
        match catalog.get(name) {
            Some(t) => Some(t),
            None => {
                let help = match catalog.suggest(name) {
                    Some(s) => format!("did you mean `{s}`? `efactl` knows {} instance types", catalog.len()),
                    None => format!(
                        "efactl's catalog has {} instance types; a type launched after this release can be described with a live DescribeInstanceTypes (`efactl audit`)",
                        catalog.len()
                    ),
                };
                self.input(
                    &diag::UNKNOWN_INSTANCE_TYPE,
                    Subject::path(path),
                    format!("unknown instance type `{name}`"),
                    Some(help),
                );
                None
            }
        }
    }

    fn node_groups(&mut self, subnets: &[Subnet], sgs: &mut Vec<SecurityGroup>) -> Vec<NodeGroup> {
        let spec = self.spec;
        let subnet_names: Vec<&str> = subnets.iter().map(|s| s.key.as_str()).collect();
        let role_names: Vec<&str> = spec.iam.roles.iter().map(|r| r.name.as_str()).collect();
        let mut out = Vec::new();
        for (i, g) in spec.node_groups.iter().enumerate() {
            let path = format!("nodeGroups[{i}]");
            let origin = Origin::Spec(path.clone());
            let many = g.instance_types.len() > 1;
            let mut primary: Option<InstanceType> = None;
            for (j, t) in g.instance_types.iter().enumerate() {
                let p = if many {
                    format!("{path}.instanceTypes[{j}]")
                } else {
                    format!("{path}.instanceType")
                };
                let found = self.instance_type(t, p).cloned();
                if j == 0 {
                    primary = found;
                }
            }

            // Subnets.
            let mut group_subnets = Vec::new();
            if g.subnets.is_empty() {
                match subnets {
                    [only] => group_subnets.push(only.key.clone()),
                    [] => self.input(
                        &diag::MISSING_FIELD,
                        Subject::path(format!("{path}.subnet")),
                        format!("node group `{}` has no subnet, and the spec defines none", g.name),
                        Some("define subnets under `network.subnets` and name one here with `subnet:`".into()),
                    ),
                    _ => self.input(
                        &diag::MISSING_FIELD,
                        Subject::path(format!("{path}.subnet")),
                        format!("node group `{}` does not say which subnet it launches in", g.name),
                        Some(format!(
                            "add `subnet:` with one of {}",
                            subnet_names.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                        )),
                    ),
                }
            }
            let field = if g.subnets.len() > 1 {
                "subnets"
            } else {
                "subnet"
            };
            for (j, s) in g.subnets.iter().enumerate() {
                let by_name = subnets
                    .iter()
                    .find(|x| &x.key == s || x.id.as_deref() == Some(s));
                match by_name {
                    Some(x) => group_subnets.push(x.key.clone()),
                    None => {
                        let p = if field == "subnets" {
                            format!("{path}.subnets[{j}]")
                        } else {
                            format!("{path}.subnet")
                        };
                        self.undefined(p, "subnet", s, &subnet_names);
                    }
                }
            }

            // Security groups: none named means the VPC's default group.
            let mut group_sgs =
                self.sg_refs(&g.security_groups, &format!("{path}.securityGroups"), sgs);
            if g.security_groups.is_empty() {
                if !sgs.iter().any(|s| s.key == DEFAULT_SG) {
                    sgs.push(default_security_group(&format!("{path}.securityGroups")));
                }
                group_sgs.push(DEFAULT_SG.to_string());
            }

            let interfaces = match &g.interfaces {
                Some(list) => list
                    .iter()
                    .enumerate()
                    .map(|(j, n)| Nic {
                        network_card: n.network_card,
                        device_index: n.device_index,
                        kind: n.kind,
                        security_groups: match &n.security_groups {
                            Some(s) => self.sg_refs(
                                s,
                                &format!("{path}.networkInterfaces[{j}].securityGroups"),
                                sgs,
                            ),
                            None => group_sgs.clone(),
                        },
                        origin: Origin::Spec(format!("{path}.networkInterfaces[{j}]")),
                    })
                    .collect(),
                None => default_layout(
                    primary.as_ref(),
                    g.efa,
                    g.secondary_interface_type,
                    &group_sgs,
                    &path,
                ),
            };

            let instance_role = match &g.instance_role {
                Some(r) => {
                    if role_names.contains(&r.as_str()) {
                        Some(r.clone())
                    } else {
                        self.undefined(format!("{path}.instanceRole"), "IAM role", r, &role_names);
                        None
                    }
                }
                None => Some(NODE_ROLE.to_string()),
            };

            let capacity = match &g.capacity {
                CapacitySpec::OnDemand => Capacity::OnDemand,
                CapacitySpec::Spot => Capacity::Spot,
                CapacitySpec::Reservation {
                    id,
                    placement_group,
                } => Capacity::Reservation {
                    id: id.clone(),
                    placement_group: placement_group.clone(),
                },
                CapacitySpec::CapacityBlock { id } => Capacity::CapacityBlock { id: id.clone() },
            };

            let uses_efa = interfaces.iter().any(|n: &Nic| n.kind.is_efa());
            let max_count = g.max_count.unwrap_or(g.count).max(g.count);
            let placement_group = match &g.placement_group {
                PlacementSpec::None => None,
                PlacementSpec::Existing { name, .. } => Some(format!("pg:{name}")),
                PlacementSpec::Auto => match &capacity {
                    // A capacity block brings its own co-location, and a reservation is used
                    // only by launches in the placement group it was made in (none, or the one
                    // it names): a group efactl added on its own would only add a way to fail
                    // (rule EFA014).
                    Capacity::CapacityBlock { .. } => None,
                    Capacity::Reservation {
                        placement_group, ..
                    } => placement_group.as_ref().map(|pg| format!("pg:{pg}")),
                    _ => {
                        (uses_efa && max_count > 1).then(|| format!("pg:{}-{}", spec.name, g.name))
                    }
                },
            };

            out.push(NodeGroup {
                name: g.name.clone(),
                role: g.role,
                instance_types: g.instance_types.clone(),
                count: g.count,
                max_count,
                efa: g.efa,
                interfaces,
                subnets: group_subnets,
                security_groups: group_sgs,
                placement_group,
                capacity,
                public_ip: g.public_ip,
                instance_role,
                ami: g.ami.clone(),
                instances: Vec::new(),
                origin,
            });
        }
        out
    }

    fn placement_groups(&mut self, node_groups: &[NodeGroup]) -> Vec<PlacementGroup> {
        let mut out: Vec<PlacementGroup> = Vec::new();
        for (i, (ng, g)) in node_groups.iter().zip(&self.spec.node_groups).enumerate() {
            let Some(key) = &ng.placement_group else {
                continue;
            };
            if out.iter().any(|p| &p.key == key) {
                continue;
            }
            let (name, strategy, managed, origin) = match &g.placement_group {
                PlacementSpec::Existing { name, strategy } => (
                    name.clone(),
                    *strategy,
                    false,
                    Origin::Spec(format!("nodeGroups[{i}].placementGroup")),
                ),
                _ if matches!(
                    &g.capacity,
                    CapacitySpec::Reservation {
                        placement_group: Some(_),
                        ..
                    }
                ) =>
                {
                    (
                        // The cluster placement group the reservation was made in.
                        key.trim_start_matches("pg:").to_string(),
                        PlacementStrategy::Cluster,
                        false,
                        Origin::Spec(format!(
                            "nodeGroups[{i}].capacity.reservationPlacementGroup"
                        )),
                    )
                }
                _ => (
                    key.trim_start_matches("pg:").to_string(),
                    PlacementStrategy::Cluster,
                    true,
                    Origin::Implied(format!("nodeGroups[{i}]")),
                ),
            };
            out.push(PlacementGroup {
                key: key.clone(),
                name,
                strategy,
                managed,
                origin,
            });
        }
        out
    }

    fn endpoints(
        &mut self,
        subnets: &[Subnet],
        subnet_names: &[&str],
        node_groups: &[NodeGroup],
        sgs: &mut Vec<SecurityGroup>,
    ) -> Vec<Endpoint> {
        let mut out = Vec::new();
        let private: Vec<&Subnet> = subnets
            .iter()
            .filter(|s| s.internet == Internet::None)
            .collect();
        for (i, e) in self.spec.network.endpoints.iter().enumerate() {
            let path = format!("network.endpoints[{i}]");
            let mut served = Vec::new();
            if e.subnets.is_empty() {
                served.extend(private.iter().map(|s| s.key.clone()));
            }
            for (j, s) in e.subnets.iter().enumerate() {
                match subnets
                    .iter()
                    .find(|x| &x.key == s || x.id.as_deref() == Some(s))
                {
                    Some(x) => served.push(x.key.clone()),
                    None => {
                        self.undefined(format!("{path}.subnets[{j}]"), "subnet", s, subnet_names)
                    }
                }
            }
            let mut endpoint_sgs = Vec::new();
            if e.kind == EndpointType::Interface {
                if e.security_groups.is_empty() {
                    if !sgs.iter().any(|s| s.key == ENDPOINT_SG) {
                        let sg = endpoint_security_group(node_groups, &path);
                        sgs.push(sg);
                    }
                    endpoint_sgs.push(ENDPOINT_SG.to_string());
                } else {
                    endpoint_sgs =
                        self.sg_refs(&e.security_groups, &format!("{path}.securityGroups"), sgs);
                }
            }
            let route_tables = if e.kind == EndpointType::Gateway {
                served
                    .iter()
                    .filter_map(|k| subnets.iter().find(|s| &s.key == k))
                    .map(|s| s.route_table.clone())
                    .collect()
            } else {
                Vec::new()
            };
            out.push(Endpoint {
                service: short_service_name(&e.service).to_string(),
                kind: e.kind,
                private_dns: e.private_dns,
                security_groups: endpoint_sgs,
                subnets: if e.kind == EndpointType::Interface {
                    served
                } else {
                    Vec::new()
                },
                route_tables,
                origin: Origin::Spec(path),
            });
        }
        out
    }

    fn mpi(&mut self) -> (Vec<Secret>, Option<Mpi>) {
        let Some(m) = &self.spec.mpi else {
            return (Vec::new(), None);
        };
        let mut secrets = Vec::new();
        let secret = m.ssh_key_secret.as_ref().map(|s| {
            secrets.push(Secret {
                key: s.name.clone(),
                name: s.name.clone(),
                arn: s.arn.clone(),
                managed: s.arn.is_none(),
                kms_key: s.kms_key.clone(),
                origin: Origin::Spec("mpi.sshKeySecret".into()),
                content: SecretContent::Unknown,
            });
            s.name.clone()
        });
        let role_names: Vec<&str> = self
            .spec
            .iam
            .roles
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        let mut readers = Vec::new();
        for (i, r) in m.secret_readers.iter().enumerate() {
            if role_names.contains(&r.as_str()) || r == NODE_ROLE {
                readers.push(r.clone());
            } else {
                self.undefined(
                    format!("mpi.secretReaders[{i}]"),
                    "IAM role",
                    r,
                    &role_names,
                );
            }
        }
        (
            secrets,
            Some(Mpi {
                launcher: m.launcher,
                secret,
                readers,
                origin: Origin::Spec("mpi".into()),
            }),
        )
    }

    fn roles(&mut self, secrets: &[Secret], node_groups: &[NodeGroup]) -> Vec<Role> {
        let mut out: Vec<Role> = self
            .spec
            .iam
            .roles
            .iter()
            .enumerate()
            .map(|(i, r)| Role {
                key: r.name.clone(),
                name: r.name.clone(),
                arn: r.arn.clone(),
                managed: r.arn.is_none(),
                statements: r
                    .statements
                    .iter()
                    .enumerate()
                    .map(|(j, s)| Statement {
                        allow: s.allow,
                        actions: s.actions.clone(),
                        resources: s
                            .resources
                            .iter()
                            .map(|res| {
                                // A spec may name the managed secret by its name instead of an ARN.
                                match secrets.iter().find(|x| x.managed && x.name == *res) {
                                    Some(x) => ResourceRef::Secret(x.key.clone()),
                                    None => ResourceRef::Arn(res.clone()),
                                }
                            })
                            .collect(),
                        origin: Origin::Spec(format!("iam.roles[{i}].statements[{j}]")),
                    })
                    .collect(),
                origin: Origin::Spec(format!("iam.roles[{i}]")),
            })
            .collect();
        if node_groups
            .iter()
            .any(|ng| ng.instance_role.as_deref() == Some(NODE_ROLE))
        {
            // The role efactl writes reads exactly the cluster's secret and nothing more.
            let statements = secrets
                .iter()
                .map(|s| Statement {
                    allow: true,
                    actions: vec!["secretsmanager:GetSecretValue".into()],
                    resources: vec![match &s.arn {
                        Some(a) => ResourceRef::Arn(a.clone()),
                        None => ResourceRef::Secret(s.key.clone()),
                    }],
                    origin: Origin::Implied("mpi.sshKeySecret".into()),
                })
                .collect();
            out.push(Role {
                key: NODE_ROLE.into(),
                name: format!("{}-node", self.spec.name),
                arn: None,
                managed: true,
                statements,
                origin: Origin::Implied("nodeGroups".into()),
            });
        }
        out
    }
}

fn default_security_group(path: &str) -> SecurityGroup {
    crate::read::aws::default_security_group(Origin::Implied(path.into()))
}

fn endpoint_security_group(node_groups: &[NodeGroup], path: &str) -> SecurityGroup {
    // HTTPS from every node group's security groups, nothing else.
    let mut peers: Vec<String> = node_groups
        .iter()
        .flat_map(|ng| ng.security_groups.iter().cloned())
        .collect();
    peers.sort();
    peers.dedup();
    SecurityGroup {
        key: ENDPOINT_SG.into(),
        id: None,
        name: ENDPOINT_SG.into(),
        ingress: peers
            .into_iter()
            .map(|g| SgRule {
                protocol: Protocol::Tcp,
                ports: Some(PortRange { from: 443, to: 443 }),
                peer: Peer::Group(g),
                origin: Origin::Implied(path.into()),
            })
            .collect(),
        egress: Vec::new(),
        origin: Origin::Implied(path.into()),
    }
}

/// The interface layout of one node, per current AWS guidance (efa-facts.md §2):
/// the primary on card 0 / device 0 (`efa`, or `interface` where card 0 is ENA-only), then one
/// EFA per further network card at device index 0, `efa-only` by default so that it takes no
/// address from the subnet.
pub fn default_layout(
    t: Option<&InstanceType>,
    efa: EfaSetting,
    secondary: InterfaceType,
    sgs: &[String],
    path: &str,
) -> Vec<Nic> {
    let max = t.and_then(|t| t.max_efa_interfaces).unwrap_or(0);
    let supported = t.is_some_and(InstanceType::supports_efa);
    let n = match efa {
        EfaSetting::Off => 0,
        EfaSetting::Auto => {
            if supported {
                max
            } else {
                0
            }
        }
        // Keep what was asked for, even where the type cannot: the rules say why it fails.
        EfaSetting::On => max.max(1),
        EfaSetting::Count(k) => k,
    };
    let origin = Origin::Implied(format!("{path}.efa"));
    let nic = |card: u32, kind: InterfaceType| Nic {
        network_card: card,
        device_index: 0,
        kind,
        security_groups: sgs.to_vec(),
        origin: origin.clone(),
    };
    let card0_ena_only = t.is_some_and(|t| t.card0_ena_only);
    let mut out = Vec::new();
    if n == 0 {
        out.push(nic(0, InterfaceType::Interface));
    } else if card0_ena_only {
        out.push(nic(0, InterfaceType::Interface));
        out.extend((1..=n).map(|c| nic(c, secondary)));
    } else {
        out.push(nic(0, InterfaceType::Efa));
        out.extend((1..n).map(|c| nic(c, secondary)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(t: &str, efa: EfaSetting) -> Vec<(u32, u32, &'static str)> {
        let c = Catalog::bundled();
        default_layout(c.get(t), efa, InterfaceType::EfaOnly, &[], "nodeGroups[0]")
            .iter()
            .map(|n| (n.network_card, n.device_index, n.kind.name()))
            .collect()
    }

    #[test]
    fn p5_gets_thirty_two_efas_primary_efa_then_efa_only() {
        let l = layout("p5.48xlarge", EfaSetting::Auto);
        assert_eq!(l.len(), 32);
        assert_eq!(l[0], (0, 0, "efa"));
        assert_eq!(l[31], (31, 0, "efa-only"));
    }

    #[test]
    fn p6_b300_keeps_card_zero_ena_only() {
        let l = layout("p6-b300.48xlarge", EfaSetting::Auto);
        assert_eq!(l.len(), 17);
        assert_eq!(l[0], (0, 0, "interface"));
        assert_eq!(l[1], (1, 0, "efa-only"));
        assert_eq!(l[16], (16, 0, "efa-only"));
    }

    #[test]
    fn off_and_unsupported_types_get_one_ena() {
        assert_eq!(
            layout("p5.48xlarge", EfaSetting::Off),
            vec![(0, 0, "interface")]
        );
        assert_eq!(
            layout("inf2.48xlarge", EfaSetting::Auto),
            vec![(0, 0, "interface")]
        );
        assert_eq!(layout("trn2.48xlarge", EfaSetting::Count(8)).len(), 8);
    }
}

#[cfg(test)]
mod placement_tests {
    use super::*;

    fn resolve_text(capacity: &str) -> Cluster {
        let text = format!(
            "apiVersion: efactl.dev/v1alpha1\nname: c\nregion: us-east-1\nnetwork:\n  subnets:\n    - {{ name: s, cidr: 10.0.0.0/20, internet: nat }}\nnodeGroups:\n  - name: g\n    instanceType: p4d.24xlarge\n    count: 4\n    capacity: {capacity}\n"
        );
        let parsed = crate::spec::parse_spec("c.yaml", &text);
        assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
        let (cluster, findings) = resolve(parsed.spec.as_ref().unwrap(), Catalog::bundled());
        assert!(findings.is_empty(), "{findings:?}");
        cluster
    }

    #[test]
    fn placement_follows_the_capacity() {
        let c = resolve_text("on-demand");
        assert_eq!(c.node_groups[0].placement_group.as_deref(), Some("pg:c-g"));
        assert!(c.placement_groups[0].managed);

        let c =
            resolve_text("{ reservation: cr-0123456789abcdef0, reservationPlacementGroup: pg1 }");
        assert_eq!(c.node_groups[0].placement_group.as_deref(), Some("pg:pg1"));
        assert_eq!(c.placement_groups[0].name, "pg1");
        assert!(
            !c.placement_groups[0].managed,
            "the reservation's group exists already"
        );

        let c = resolve_text("{ reservation: cr-0123456789abcdef0 }");
        assert_eq!(c.node_groups[0].placement_group, None);
        let c = resolve_text("{ capacityBlock: cr-0123456789abcdef0 }");
        assert_eq!(c.node_groups[0].placement_group, None);
    }
}
