//! `efactl audit`: a live account read into the same [`Cluster`] model a spec resolves to, so
//! that the same rules find the same mistakes, named by live resource ids.
//!
//! Two steps, kept apart on purpose. [`collect`] is the only part that talks to AWS: it asks
//! the backend for the instances in scope and then for exactly what they use (their VPCs'
//! subnets, route tables, endpoints and ACLs, their security groups, placement groups and
//! instance types, the MPI key's secret). [`to_cluster`] is pure: records in, model out,
//! tested with records written by hand in the shape AWS returns them.
//!
//! Every model object's origin is `Origin::Live(id)`: a security group's and its rules' is the
//! group id, a subnet's the subnet id, an interface's the ENI id, an endpoint's the `vpce-` id.
//! Instances become node groups by what launched them: the Auto Scaling group
//! (`aws:autoscaling:groupName`), else the launch template (`aws:ec2launchtemplate:id`), else
//! efactl's own tags (`efactl:cluster` and the `Name` efactl gives each node group); untagged
//! instances are grouped by instance type, placement group and security groups, deliberately
//! not by subnet, so that a node that landed in another subnet or zone stays in its group and
//! the group is reported as spanning subnets (EFA015) rather than split into two healthy ones.
//! A group's interfaces are those of its member with the fewest EFA interfaces: the worst
//! node is the one NCCL trips on.

use super::records::*;
use super::CloudBackend;
use super::CloudError;
use crate::catalog::{Catalog, EnisPerCard, InstanceType};
use crate::keys::{check_secret_value, SecretState, SecretText};
use crate::model::*;
use crate::net::Cidr;
use std::collections::{BTreeMap, BTreeSet};

/// What to audit and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRequest {
    pub scope: InstanceScope,
    pub region: String,
    /// The cluster's name in reports; derived from the scope when absent.
    pub name: Option<String>,
    /// The secret holding the MPI SSH key, when the cluster launches MPI over SSH (from the
    /// stack's `MpiSshKeySecret`, or `--secret`).
    pub mpi_secret: Option<String>,
    /// How the cluster was deployed, when known (a stack efactl rendered records it); else
    /// inferred from the instances' tags.
    pub target: Option<Target>,
    pub scheduler: Option<Scheduler>,
}

impl AuditRequest {
    pub fn new(scope: InstanceScope, region: impl Into<String>) -> AuditRequest {
        AuditRequest {
            scope,
            region: region.into(),
            name: None,
            mpi_secret: None,
            target: None,
            scheduler: None,
        }
    }
}

/// The MPI key's secret as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpiSecretRead {
    /// The name or ARN the audit was asked to read.
    pub requested: String,
    /// `None`: no such secret.
    pub record: Option<SecretRecord>,
    /// `None` when the value could not be read (see the notes).
    pub state: Option<SecretState>,
}

/// Everything an audit read, before it means anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveState {
    pub instances: Vec<InstanceRecord>,
    pub security_groups: Vec<SecurityGroupRecord>,
    pub placement_groups: Vec<PlacementGroupRecord>,
    pub vpcs: Vec<VpcRecord>,
    pub subnets: Vec<SubnetRecord>,
    pub route_tables: Vec<RouteTableRecord>,
    pub endpoints: Vec<VpcEndpointRecord>,
    pub network_acls: Vec<NetworkAclRecord>,
    pub instance_types: Vec<InstanceTypeRecord>,
    pub mpi_secret: Option<MpiSecretRead>,
    /// What could not be read, and what stood in for it.
    pub notes: Vec<String>,
}

/// How many reads [`collect`] has in flight at once.
pub const READ_CONCURRENCY: usize = 8;

/// One read of [`collect`]'s second round.
enum Read {
    Vpc(Option<VpcRecord>),
    Subnets(Vec<SubnetRecord>),
    RouteTables(Vec<RouteTableRecord>),
    Endpoints(Vec<VpcEndpointRecord>),
    Acls(Vec<NetworkAclRecord>),
    PlacementGroups(Vec<PlacementGroupRecord>),
    Types(Result<Vec<InstanceTypeRecord>, CloudError>),
    Secret(
        String,
        Option<SecretRecord>,
        Option<Result<SecretText, CloudError>>,
    ),
}

type Job<'a> = Box<dyn FnOnce() -> Result<Read, CloudError> + Send + 'a>;

/// Runs independent reads at most [`READ_CONCURRENCY`] at a time, and returns their answers
/// in the order given (so the first error is always the same one).
fn run_all(jobs: Vec<Job<'_>>, concurrency: usize) -> Result<Vec<Read>, CloudError> {
    let mut out = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let batch: Vec<Job<'_>> = jobs.by_ref().take(concurrency.max(1)).collect();
        let answers: Vec<Result<Read, CloudError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch.into_iter().map(|job| scope.spawn(job)).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(CloudError::Other {
                            action: "audit".into(),
                            message: "a read panicked".into(),
                        })
                    })
                })
                .collect()
        });
        for a in answers {
            out.push(a?);
        }
    }
    Ok(out)
}

/// Reads what the instances in scope use: the instances first, then (concurrently, at most
/// [`READ_CONCURRENCY`] at once) their VPCs' subnets, route tables, endpoints and ACLs, their
/// placement groups and instance types and the MPI secret, then the security groups of the
/// instances and the endpoints. Fails on the first call that fails, except for
/// `DescribeInstanceTypes` (the bundled catalog stands in) and the secret's value (the
/// secret's existence is still checked): an audit that silently skipped security groups
/// would report a broken cluster as clean.
pub fn collect(
    backend: &(dyn CloudBackend + Sync),
    request: &AuditRequest,
) -> Result<LiveState, CloudError> {
    collect_with(backend, request, READ_CONCURRENCY)
}

/// [`collect`] with at most `concurrency` reads in flight (1: one after another).
pub fn collect_with(
    backend: &(dyn CloudBackend + Sync),
    request: &AuditRequest,
    concurrency: usize,
) -> Result<LiveState, CloudError> {
    let mut st = LiveState {
        instances: backend
            .instances(&request.scope)?
            .into_iter()
            .filter(|i| !i.state.is_gone())
            .collect(),
        ..LiveState::default()
    };
    let mut vpc_ids: BTreeSet<String> = st
        .instances
        .iter()
        .filter_map(|i| i.vpc_id.clone())
        .collect();
    if let InstanceScope::Vpc(v) = &request.scope {
        vpc_ids.insert(v.clone());
    }
    let pgs: Vec<String> = st
        .instances
        .iter()
        .filter_map(|i| i.placement_group.clone())
        .chain(match &request.scope {
            InstanceScope::PlacementGroup(p) => Some(p.clone()),
            _ => None,
        })
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    let types: Vec<String> = st
        .instances
        .iter()
        .map(|i| i.instance_type.clone())
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();

    let mut jobs: Vec<Job<'_>> = Vec::new();
    for vpc in &vpc_ids {
        jobs.push(Box::new(move || backend.vpc(vpc).map(Read::Vpc)));
        jobs.push(Box::new(move || backend.subnets(vpc).map(Read::Subnets)));
        jobs.push(Box::new(move || {
            backend.route_tables(vpc).map(Read::RouteTables)
        }));
        jobs.push(Box::new(move || {
            backend.vpc_endpoints(vpc).map(Read::Endpoints)
        }));
        jobs.push(Box::new(move || backend.network_acls(vpc).map(Read::Acls)));
    }
    if !pgs.is_empty() {
        let pgs = &pgs;
        jobs.push(Box::new(move || {
            backend.placement_groups(pgs).map(Read::PlacementGroups)
        }));
    }
    if !types.is_empty() {
        let types = &types;
        jobs.push(Box::new(move || {
            Ok(Read::Types(backend.instance_types(types)))
        }));
    }
    if let Some(secret) = &request.mpi_secret {
        jobs.push(Box::new(move || {
            let record = backend.describe_secret(secret)?;
            let value = record.as_ref().map(|r| backend.secret_value(&r.arn));
            Ok(Read::Secret(secret.clone(), record, value))
        }));
    }
    for read in run_all(jobs, concurrency)? {
        match read {
            Read::Vpc(v) => st.vpcs.extend(v),
            Read::Subnets(v) => st.subnets.extend(v),
            Read::RouteTables(v) => st.route_tables.extend(v),
            Read::Endpoints(v) => st.endpoints.extend(v),
            Read::Acls(v) => st.network_acls.extend(v),
            Read::PlacementGroups(v) => st.placement_groups = v,
            Read::Types(Ok(v)) => st.instance_types = v,
            Read::Types(Err(e)) => st.notes.push(format!(
                "DescribeInstanceTypes failed ({e}); efactl's bundled instance catalog stands in"
            )),
            Read::Secret(requested, record, value) => {
                let state = match (&record, value) {
                    (Some(_), Some(Ok(text))) => Some(check_secret_value(text.expose())),
                    // The secret exists but has no version: created without a value.
                    (Some(_), Some(Err(CloudError::NotFound { .. }))) => Some(SecretState::NoValue),
                    (Some(r), Some(Err(e))) => {
                        st.notes.push(format!(
                            "the value of secret `{}` could not be read ({e}), so whether it holds a usable key was not checked",
                            r.name
                        ));
                        None
                    }
                    _ => None,
                };
                st.mpi_secret = Some(MpiSecretRead {
                    requested,
                    record,
                    state,
                });
            }
        }
    }

    let group_ids: Vec<String> = st
        .instances
        .iter()
        .flat_map(|i| i.network_interfaces.iter().flat_map(|n| n.groups.iter()))
        .chain(
            st.endpoints
                .iter()
                .filter(|e| endpoint_in_use(e))
                .flat_map(|e| e.groups.iter()),
        )
        .cloned()
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    if !group_ids.is_empty() {
        st.security_groups = backend.security_groups(&group_ids)?;
    }
    Ok(st)
}

/// The model an audit checks, the catalog to check it with (the bundled one with live
/// instance types merged in), and what the reader could not tell.
#[derive(Debug, Clone)]
pub struct Audit {
    pub cluster: Cluster,
    pub catalog: Catalog,
    pub notes: Vec<String>,
}

/// An endpoint that serves traffic (or is about to): `available`, `pending`,
/// `pendingAcceptance`, in any case.
fn endpoint_in_use(e: &VpcEndpointRecord) -> bool {
    matches!(
        e.state.to_ascii_lowercase().as_str(),
        "available" | "pending" | "pendingacceptance"
    )
}

/// A permission's ports: TCP and UDP only (ICMP's are a type and code).
fn port_range(protocol: &Protocol, from: Option<i32>, to: Option<i32>) -> Option<PortRange> {
    if !matches!(protocol, Protocol::Tcp | Protocol::Udp) {
        return None;
    }
    let (from, to) = (u16::try_from(from?).ok()?, u16::try_from(to?).ok()?);
    (from <= to).then_some(PortRange { from, to })
}

/// One `IpPermission` is one model rule per source it names.
fn rules_of(perms: &[PermissionRecord], group_id: &str, notes: &mut Vec<String>) -> Vec<SgRule> {
    let mut out = Vec::new();
    for p in perms {
        let Some(protocol) = Protocol::from_ec2(&p.protocol) else {
            notes.push(format!(
                "security group {group_id} has a rule with protocol `{}`, which efactl does not know; it is left out",
                p.protocol
            ));
            continue;
        };
        let ports = port_range(&protocol, p.from_port, p.to_port);
        let rule = |peer: Peer| SgRule {
            protocol: protocol.clone(),
            ports,
            peer,
            origin: Origin::Live(group_id.to_string()),
        };
        for c in p.ipv4_ranges.iter().chain(&p.ipv6_ranges) {
            match Cidr::parse(c) {
                Some(c) => out.push(rule(Peer::Cidr(c))),
                None => notes.push(format!(
                    "security group {group_id} has a rule with CIDR `{c}`, which efactl cannot read; it is left out"
                )),
            }
        }
        out.extend(p.groups.iter().map(|g| rule(Peer::Group(g.clone()))));
        out.extend(
            p.prefix_lists
                .iter()
                .map(|pl| rule(Peer::PrefixList(pl.clone()))),
        );
    }
    out
}

fn security_group(r: &SecurityGroupRecord, notes: &mut Vec<String>) -> SecurityGroup {
    SecurityGroup {
        key: r.id.clone(),
        id: Some(r.id.clone()),
        name: r.name.clone(),
        ingress: rules_of(&r.ingress, &r.id, notes),
        egress: rules_of(&r.egress, &r.id, notes),
        origin: Origin::Live(r.id.clone()),
    }
}

/// The route table a subnet uses: its explicit association, else its VPC's main table.
pub fn route_table_of<'a>(
    subnet: &SubnetRecord,
    tables: &'a [RouteTableRecord],
) -> Option<&'a RouteTableRecord> {
    tables
        .iter()
        .find(|t| {
            t.associations
                .iter()
                .any(|a| a.subnet_id.as_deref() == Some(subnet.id.as_str()))
        })
        .or_else(|| {
            tables
                .iter()
                .find(|t| t.vpc_id == subnet.vpc_id && t.associations.iter().any(|a| a.main))
        })
}

/// Where a route table's default route (`0.0.0.0/0`) leads: an internet gateway is
/// `Public`; a NAT gateway, transit gateway, appliance or peering is a way out (`Nat`); no
/// default route, or one that is a blackhole, is `None`.
pub fn internet_of(table: Option<&RouteTableRecord>) -> Internet {
    let Some(t) = table else {
        return Internet::None;
    };
    let Some(route) = t
        .routes
        .iter()
        .find(|r| r.destination == "0.0.0.0/0" && !r.blackhole)
    else {
        return Internet::None;
    };
    crate::read::aws::internet_via(&route.target)
}

fn subnet(r: &SubnetRecord, tables: &[RouteTableRecord], acls: &[NetworkAclRecord]) -> Subnet {
    let table = route_table_of(r, tables);
    Subnet {
        key: r.id.clone(),
        id: Some(r.id.clone()),
        cidr: r.cidr.as_deref().and_then(Cidr::parse),
        zone: r
            .availability_zone
            .clone()
            .map(Zone::Name)
            .or_else(|| r.availability_zone_id.clone().map(Zone::Id)),
        internet: internet_of(table),
        map_public_ip_on_launch: r.map_public_ip_on_launch,
        available_ips: r.available_ips,
        route_table: table.map(|t| t.id.clone()).unwrap_or_else(|| "main".into()),
        network_acl: acl_of(r, acls).map(network_acl),
        origin: Origin::Live(r.id.clone()),
    }
}

/// What launched an instance, which is what makes node groups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Launcher {
    AutoScaling(String),
    LaunchTemplate(String),
    Efactl {
        cluster: String,
        name: String,
    },
    Shape {
        instance_type: String,
        placement: String,
        groups: Vec<String>,
    },
}

fn launcher(i: &InstanceRecord) -> Launcher {
    if let Some(asg) = i.tags.get("aws:autoscaling:groupName") {
        return Launcher::AutoScaling(asg.clone());
    }
    if let Some(lt) = i.tags.get("aws:ec2launchtemplate:id") {
        return Launcher::LaunchTemplate(lt.clone());
    }
    if let Some(cluster) = i.tags.get("efactl:cluster") {
        // efactl names every node's resources `<cluster>-<node group>`.
        let name = i
            .tags
            .get("Name")
            .map(|n| {
                n.strip_prefix(&format!("{cluster}-"))
                    .unwrap_or(n)
                    .to_string()
            })
            .unwrap_or_else(|| i.instance_type.clone());
        return Launcher::Efactl {
            cluster: cluster.clone(),
            name,
        };
    }
    let mut groups: Vec<String> = primary(i).map(|n| n.groups.clone()).unwrap_or_default();
    groups.sort();
    Launcher::Shape {
        instance_type: i.instance_type.clone(),
        placement: i.placement_group.clone().unwrap_or_default(),
        groups,
    }
}

/// The instance's primary interface (card 0, device 0).
fn primary(i: &InstanceRecord) -> Option<&NetworkInterfaceRecord> {
    i.network_interfaces
        .iter()
        .find(|n| n.network_card == 0 && n.device_index == 0)
        .or_else(|| i.network_interfaces.first())
}

fn efa_count(i: &InstanceRecord) -> usize {
    i.network_interfaces
        .iter()
        .filter(|n| n.interface_type.is_efa())
        .count()
}

/// Most common first, ties in name order.
fn by_frequency<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for i in items {
        *counts.entry(i).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().map(|(s, _)| s.to_string()).collect()
}

fn node_group(
    launcher: &Launcher,
    members: &[&InstanceRecord],
    known_groups: &BTreeSet<&str>,
    notes: &mut Vec<String>,
) -> Option<NodeGroup> {
    // The member with the fewest EFA interfaces (then the fewest interfaces) speaks for the
    // group: a group is only as good as its worst node.
    let worst = members.iter().copied().min_by(|a, b| {
        efa_count(a)
            .cmp(&efa_count(b))
            .then(a.network_interfaces.len().cmp(&b.network_interfaces.len()))
            .then(a.id.cmp(&b.id))
    })?;
    let layouts: BTreeSet<Vec<(u32, u32, &str)>> = members
        .iter()
        .map(|i| {
            let mut l: Vec<(u32, u32, &str)> = i
                .network_interfaces
                .iter()
                .map(|n| (n.network_card, n.device_index, n.interface_type.name()))
                .collect();
            l.sort_unstable();
            l
        })
        .collect();
    let known = |gs: &[String]| -> Vec<String> {
        gs.iter()
            .filter(|g| known_groups.contains(g.as_str()))
            .cloned()
            .collect()
    };
    let mut nics: Vec<&NetworkInterfaceRecord> = worst.network_interfaces.iter().collect();
    nics.sort_by_key(|n| (n.network_card, n.device_index));
    let interfaces: Vec<Nic> = nics
        .iter()
        .map(|n| Nic {
            network_card: n.network_card,
            device_index: n.device_index,
            kind: n.interface_type,
            security_groups: known(&n.groups),
            origin: Origin::Live(n.id.clone()),
        })
        .collect();
    let mut ids: Vec<String> = members.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    let (name, resource) = match launcher {
        Launcher::AutoScaling(a) => (a.clone(), a.clone()),
        Launcher::LaunchTemplate(lt) => (format!("launch template {lt}"), lt.clone()),
        Launcher::Efactl { name, .. } => (name.clone(), ids[0].clone()),
        Launcher::Shape { instance_type, .. } => (
            format!("{instance_type} nodes {}", ids.join(", ")),
            ids[0].clone(),
        ),
    };
    if layouts.len() > 1 {
        notes.push(format!(
            "the instances of node group `{name}` have different network interfaces; {} (the one with the fewest EFA interfaces) stands for them all",
            worst.id
        ));
    }
    let mut subnets: Vec<String> = Vec::new();
    for i in members {
        let s = primary(i)
            .and_then(|n| n.subnet_id.clone())
            .or_else(|| i.subnet_id.clone());
        if let Some(s) = s {
            if !subnets.contains(&s) {
                subnets.push(s);
            }
        }
    }
    let placements: Vec<String> =
        by_frequency(members.iter().filter_map(|i| i.placement_group.as_deref()));
    if placements.len() > 1 {
        notes.push(format!(
            "the instances of node group `{name}` are in different placement groups ({}); the first stands for them all",
            placements.join(", ")
        ));
    }
    let placement_group = placements.into_iter().next();
    let capacity = match (worst.lifecycle, &worst.capacity_reservation) {
        (Lifecycle::Spot, _) => Capacity::Spot,
        (Lifecycle::CapacityBlock, r) => Capacity::CapacityBlock {
            id: r.clone().unwrap_or_default(),
        },
        (_, Some(r)) => Capacity::Reservation {
            id: r.clone(),
            placement_group: placement_group.clone(),
        },
        _ => Capacity::OnDemand,
    };
    let primary_nic = primary(worst);
    let role = if worst
        .tags
        .get("parallelcluster:node-type")
        .is_some_and(|t| t == "HeadNode")
    {
        NodeRole::Head
    } else {
        NodeRole::Compute
    };
    let count = u32::try_from(members.len()).unwrap_or(u32::MAX);
    Some(NodeGroup {
        name,
        role,
        instance_types: by_frequency(members.iter().map(|i| i.instance_type.as_str())),
        count,
        max_count: count,
        efa: EfaSetting::Auto,
        security_groups: primary_nic.map(|n| known(&n.groups)).unwrap_or_default(),
        // An address on a node with several interfaces is an Elastic IP attached after
        // launch, not the launch-time request the public-IP rules judge.
        public_ip: primary_nic.is_some_and(|n| n.public_ip.is_some()) && interfaces.len() == 1,
        interfaces,
        subnets,
        placement_group,
        capacity,
        instance_role: None,
        ami: worst.image_id.clone(),
        instances: ids,
        origin: Origin::Live(resource),
    })
}

/// `3200 Gigabit`, `Up to 25 Gigabit`, `4x 100 Gigabit`, `50 Gigabit` -> Gbps.
pub fn parse_network_performance(s: &str) -> Option<f64> {
    let s = s.trim();
    let s = s.strip_prefix("Up to ").unwrap_or(s);
    let (num, unit) = s.rsplit_once(' ')?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "gigabit" => 1.0,
        "megabit" => 0.001,
        _ => return None,
    };
    let value = match num.split_once('x') {
        Some((n, per)) => n.trim().parse::<f64>().ok()? * per.trim().parse::<f64>().ok()?,
        None => num.trim().parse::<f64>().ok()?,
    };
    Some(value * scale)
}

/// A live `DescribeInstanceTypes` answer, with what the API does not say (GPUDirect RDMA,
/// the aws-ofi-nccl platform, a card 0 that is ENA-only, the catalog's notes and sources)
/// kept from the bundled row.
pub fn merge_instance_type(r: &InstanceTypeRecord, bundled: Option<&InstanceType>) -> InstanceType {
    let enis = {
        let per: Vec<(u32, u32)> = r
            .network_cards
            .iter()
            .filter_map(|c| Some((c.index, c.maximum_network_interfaces?)))
            .collect();
        let all: BTreeSet<u32> = per.iter().map(|(_, n)| *n).collect();
        let even: BTreeSet<u32> = per
            .iter()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, n)| *n)
            .collect();
        let odd: BTreeSet<u32> = per
            .iter()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, n)| *n)
            .collect();
        match (all.len(), even.len(), odd.len()) {
            (1, _, _) => all.first().map(|n| EnisPerCard::Uniform(*n)),
            (2, 1, 1) => match (even.first(), odd.first()) {
                (Some(&even), Some(&odd)) => Some(EnisPerCard::EvenOdd { even, odd }),
                _ => None,
            },
            _ => None,
        }
    };
    let card_sum: f64 = r
        .network_cards
        .iter()
        .filter_map(|c| c.peak_bandwidth_gbps)
        .sum();
    let bandwidth = r
        .network_performance
        .as_deref()
        .and_then(parse_network_performance)
        .or((card_sum > 0.0).then_some(card_sum));
    let accelerator = r.accelerators.first().map(|a| {
        let name = a.name.to_ascii_lowercase().replace(' ', "-");
        match &a.manufacturer {
            Some(m) if !name.starts_with(&m.to_ascii_lowercase()) => {
                format!("{}-{name}", m.to_ascii_lowercase())
            }
            _ => name,
        }
    });
    let accelerator_count =
        (!r.accelerators.is_empty()).then(|| r.accelerators.iter().map(|a| a.count).sum());
    let b = bundled;
    InstanceType {
        name: r.name.clone(),
        accelerator: b.and_then(|b| b.accelerator.clone()).or(accelerator),
        accelerator_count: accelerator_count.or_else(|| b.and_then(|b| b.accelerator_count)),
        efa_supported: r.efa_supported.or_else(|| b.and_then(|b| b.efa_supported)),
        max_efa_interfaces: r
            .maximum_efa_interfaces
            .or_else(|| b.and_then(|b| b.max_efa_interfaces))
            .or(match r.efa_supported {
                Some(false) => Some(0),
                _ => None,
            }),
        network_cards: r
            .maximum_network_cards
            .or_else(|| b.and_then(|b| b.network_cards)),
        max_network_interfaces: r
            .maximum_network_interfaces
            .or_else(|| b.and_then(|b| b.max_network_interfaces)),
        enis_per_card: enis
            .or_else(|| b.map(|b| b.enis_per_card))
            .unwrap_or(EnisPerCard::Unknown),
        bandwidth_gbps: bandwidth.or_else(|| b.and_then(|b| b.bandwidth_gbps)),
        efa_version: b.and_then(|b| b.efa_version.clone()),
        gpudirect_rdma: b.and_then(|b| b.gpudirect_rdma),
        efa_only_supported: b.is_some_and(|b| b.efa_only_supported),
        card0_ena_only: b.is_some_and(|b| b.card0_ena_only),
        cluster_placement: if r.placement_strategies.is_empty() {
            b.map(|b| b.cluster_placement).unwrap_or(true)
        } else {
            r.placement_strategies.iter().any(|s| s == "cluster")
        },
        aws_ofi_nccl_platform: b.and_then(|b| b.aws_ofi_nccl_platform.clone()),
        aws_ofi_nccl_protocol: b.and_then(|b| b.aws_ofi_nccl_protocol.clone()),
        notes: b.map(|b| b.notes.clone()).unwrap_or_default(),
        vcpus: r.vcpus.or_else(|| b.and_then(|b| b.vcpus)),
        sources: {
            let mut s = b.map(|b| b.sources.clone()).unwrap_or_default();
            s.push("DescribeInstanceTypes (live)".into());
            s
        },
    }
}

/// A network ACL as the model holds it; an entry whose protocol EC2 would not write is left
/// out (it could match nothing).
pub fn network_acl(r: &NetworkAclRecord) -> NetworkAcl {
    NetworkAcl {
        id: r.id.clone(),
        entries: r
            .entries
            .iter()
            .filter_map(|e| {
                Some(AclEntry {
                    rule_number: e.rule_number,
                    egress: e.egress,
                    protocol: Protocol::from_ec2(&e.protocol)?,
                    ports: e.ports,
                    cidr: e
                        .cidr
                        .as_deref()
                        .or(e.ipv6_cidr.as_deref())
                        .and_then(Cidr::parse),
                    allow: e.allow,
                })
            })
            .collect(),
    }
}

/// The ACL a subnet is associated with, or its VPC's default ACL.
fn acl_of<'a>(r: &SubnetRecord, acls: &'a [NetworkAclRecord]) -> Option<&'a NetworkAclRecord> {
    acls.iter()
        .find(|a| a.subnet_ids.iter().any(|s| s == &r.id))
        .or_else(|| acls.iter().find(|a| a.is_default && a.vpc_id == r.vpc_id))
}

/// How the cluster was deployed, from the instances' tags when the request does not say.
fn infer_target(st: &LiveState) -> (Target, Scheduler) {
    let tagged =
        |f: &dyn Fn(&str) -> bool| st.instances.iter().any(|i| i.tags.keys().any(|k| f(k)));
    if tagged(&|k| k.starts_with("parallelcluster:")) {
        (Target::ParallelCluster, Scheduler::Slurm)
    } else if tagged(&|k| k == "eks:cluster-name" || k.starts_with("kubernetes.io/cluster/")) {
        (Target::CloudFormation, Scheduler::Kubernetes)
    } else {
        (Target::CloudFormation, Scheduler::None)
    }
}

/// Records -> the model, the catalog and notes. Never fails: what cannot be read is left out
/// with a note.
pub fn to_cluster(st: &LiveState, request: &AuditRequest) -> Audit {
    let mut notes = st.notes.clone();
    let security_groups: Vec<SecurityGroup> = st
        .security_groups
        .iter()
        .map(|r| security_group(r, &mut notes))
        .collect();
    let known_groups: BTreeSet<&str> = security_groups.iter().map(|s| s.key.as_str()).collect();
    let wanted_groups: BTreeSet<&str> = st
        .instances
        .iter()
        .flat_map(|i| i.network_interfaces.iter().flat_map(|n| n.groups.iter()))
        .map(String::as_str)
        .collect();
    for g in wanted_groups.difference(&known_groups) {
        notes.push(format!(
            "security group {g} was not returned by DescribeSecurityGroups (another account's, or deleted); its rules are not checked"
        ));
    }

    // Node groups, in the order of their first instance id.
    let mut instances: Vec<&InstanceRecord> = st.instances.iter().collect();
    instances.sort_by(|a, b| a.id.cmp(&b.id));
    let mut groups: Vec<(Launcher, Vec<&InstanceRecord>)> = Vec::new();
    for i in instances {
        let l = launcher(i);
        match groups.iter_mut().find(|(k, _)| *k == l) {
            Some((_, members)) => members.push(i),
            None => groups.push((l, vec![i])),
        }
    }
    let node_groups: Vec<NodeGroup> = groups
        .iter()
        .filter_map(|(l, members)| node_group(l, members, &known_groups, &mut notes))
        .collect();

    // Subnets: those the nodes and the endpoints sit in (every subnet of the VPC when the
    // scope is a VPC without instances).
    let endpoints_in_use: Vec<&VpcEndpointRecord> =
        st.endpoints.iter().filter(|e| endpoint_in_use(e)).collect();
    let mut used: BTreeSet<&str> = node_groups
        .iter()
        .flat_map(|ng| ng.subnets.iter().map(String::as_str))
        .collect();
    let node_subnets = used.clone();
    used.extend(
        endpoints_in_use
            .iter()
            .flat_map(|e| e.subnet_ids.iter().map(String::as_str)),
    );
    let all = st.instances.is_empty();
    let subnets: Vec<Subnet> = st
        .subnets
        .iter()
        .filter(|s| all || used.contains(s.id.as_str()))
        .map(|s| subnet(s, &st.route_tables, &st.network_acls))
        .collect();
    for s in node_subnets
        .iter()
        .filter(|s| !st.subnets.iter().any(|r| r.id == **s))
    {
        notes.push(format!(
            "subnet {s} was not returned by DescribeSubnets; its route and size are not checked"
        ));
    }

    let endpoints: Vec<Endpoint> = endpoints_in_use
        .iter()
        .filter_map(|e| {
            let kind = match e.endpoint_type.to_ascii_lowercase().as_str() {
                "interface" => EndpointType::Interface,
                "gateway" => EndpointType::Gateway,
                // Gateway Load Balancer endpoints carry no AWS service.
                _ => return None,
            };
            Some(Endpoint {
                service: short_service_name(&e.service_name).to_string(),
                kind,
                private_dns: e.private_dns_enabled,
                security_groups: e
                    .groups
                    .iter()
                    .filter(|g| known_groups.contains(g.as_str()))
                    .cloned()
                    .collect(),
                subnets: e.subnet_ids.clone(),
                route_tables: e.route_table_ids.clone(),
                origin: Origin::Live(e.id.clone()),
            })
        })
        .collect();

    let mut placement_groups: Vec<PlacementGroup> = st
        .placement_groups
        .iter()
        .map(|p| PlacementGroup {
            key: p.name.clone(),
            name: p.name.clone(),
            strategy: p.strategy,
            managed: false,
            origin: Origin::Live(p.id.clone().unwrap_or_else(|| p.name.clone())),
        })
        .collect();
    for ng in &node_groups {
        let Some(pg) = &ng.placement_group else {
            continue;
        };
        if placement_groups.iter().any(|p| &p.key == pg) {
            continue;
        }
        notes.push(format!(
            "placement group `{pg}` was not returned by DescribePlacementGroups; it is assumed to be a cluster placement group"
        ));
        placement_groups.push(PlacementGroup {
            key: pg.clone(),
            name: pg.clone(),
            strategy: PlacementStrategy::Cluster,
            managed: false,
            origin: Origin::Live(pg.clone()),
        });
    }

    // The VPC most nodes are in.
    let vpc_id = by_frequency(st.instances.iter().filter_map(|i| i.vpc_id.as_deref()))
        .into_iter()
        .next()
        .or_else(|| match &request.scope {
            InstanceScope::Vpc(v) => Some(v.clone()),
            _ => None,
        })
        .or_else(|| st.vpcs.first().map(|v| v.id.clone()));
    let vpc = match vpc_id {
        Some(id) => {
            let rec = st.vpcs.iter().find(|v| v.id == id);
            if rec.is_none() {
                notes.push(format!(
                    "VPC {id} was not returned by DescribeVpcs; its DNS settings are not checked"
                ));
            }
            Vpc {
                cidr: rec.and_then(|r| r.cidr.as_deref()).and_then(Cidr::parse),
                dns_support: rec.is_none_or(|r| r.dns_support),
                dns_hostnames: rec.is_none_or(|r| r.dns_hostnames),
                origin: Origin::Live(id.clone()),
                id: Some(id),
            }
        }
        None => Vpc {
            id: None,
            cidr: None,
            dns_support: true,
            dns_hostnames: true,
            origin: Origin::Implied("vpc".into()),
        },
    };

    let (inferred_target, inferred_scheduler) = infer_target(st);
    let target = request.target.unwrap_or(inferred_target);
    let scheduler = request.scheduler.unwrap_or(inferred_scheduler);

    let mut secrets = Vec::new();
    let mpi = st.mpi_secret.as_ref().map(|m| {
        let key = m.record.as_ref().map(|r| {
            secrets.push(Secret {
                key: r.name.clone(),
                name: r.name.clone(),
                arn: Some(r.arn.clone()),
                managed: false,
                kms_key: r.kms_key.clone(),
                origin: Origin::Live(r.arn.clone()),
                content: if r.pending_deletion {
                    SecretContent::PendingDeletion
                } else {
                    match &m.state {
                        None => SecretContent::Unknown,
                        Some(SecretState::Populated(_)) => SecretContent::KeyPair,
                        Some(SecretState::Placeholder) => SecretContent::Placeholder,
                        Some(SecretState::NoValue) => SecretContent::NoValue,
                        Some(SecretState::Malformed(p)) => SecretContent::Unusable(p.clone()),
                    }
                },
            });
            r.name.clone()
        });
        if m.record.is_none() {
            notes.push(format!(
                "secret `{}` does not exist: the nodes get no MPI SSH key",
                m.requested
            ));
        }
        Mpi {
            launcher: MpiLauncher::Ssh,
            secret: key,
            readers: Vec::new(),
            origin: Origin::Live(
                m.record
                    .as_ref()
                    .map(|r| r.arn.clone())
                    .unwrap_or_else(|| m.requested.clone()),
            ),
        }
    });

    let mut catalog = Catalog::bundled().clone();
    for r in &st.instance_types {
        let merged = merge_instance_type(r, Catalog::bundled().get(&r.name));
        catalog.insert(merged);
    }

    let name = request
        .name
        .clone()
        .unwrap_or_else(|| match &request.scope {
            InstanceScope::Stack(s) => s.clone(),
            InstanceScope::Tag { value, .. } => value.clone(),
            InstanceScope::PlacementGroup(p) => p.clone(),
            InstanceScope::Vpc(v) => v.clone(),
            InstanceScope::Ids(_) => "audit".into(),
        });
    let cluster = Cluster {
        read_from: crate::model::ReadFrom::Account,
        name,
        region: request.region.clone(),
        zone: None,
        target,
        scheduler,
        vpc,
        subnets,
        endpoints,
        security_groups,
        placement_groups,
        node_groups,
        mpi,
        secrets,
        roles: Vec::new(),
        nccl: Nccl::default(),
        file_systems: Vec::new(),
        parallelcluster: ParallelClusterSettings::default(),
        settings: Settings {
            efa_sg_mode: if target == Target::ParallelCluster {
                SgMode::Any
            } else {
                SgMode::Every
            },
            efa_installer: None,
        },
        tags: BTreeMap::new(),
    };
    Audit {
        cluster,
        catalog,
        notes,
    }
}
