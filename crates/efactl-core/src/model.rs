//! The Cluster model: what is, or is to be, true of a cluster.
//!
//! `resolve` builds it from a spec before deploy; `audit` builds it from `Describe*` calls of
//! a live account. Rules only ever look at this model, so one rule catches one mistake in a
//! plan and in a running account alike. Objects refer to each other by key: the spec name
//! for planned resources, the AWS id for live ones.

use crate::finding::Subject;
use crate::net::Cidr;
pub use crate::spec::types::{
    EfaInstaller, EfaSetting, EndpointType, InterfaceType, Internet, MpiLauncher, NodeRole,
    PlacementStrategy, PortRange, Protocol, Scheduler, SgMode, StorageKind, Target, Zone,
};
use std::collections::BTreeMap;

/// Where a model object came from: a path in the spec, or a live resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Spec(String),
    Live(String),
    /// Created by efactl with no line of its own in the spec (a default security group, the
    /// generated node role); findings point at the spec path that caused it.
    Implied(String),
}

impl Origin {
    pub fn subject(&self) -> Subject {
        match self {
            Origin::Spec(p) | Origin::Implied(p) => Subject::path(p.clone()),
            Origin::Live(id) => Subject::resource(id.clone()),
        }
    }

    /// A subject for one field of this object: `nodeGroups[1]` + `efa`.
    pub fn at(&self, field: &str) -> Subject {
        match self {
            Origin::Spec(p) | Origin::Implied(p) => Subject::path(if p.is_empty() {
                field.to_string()
            } else {
                format!("{p}.{field}")
            }),
            Origin::Live(id) => Subject {
                resource: Some(id.clone()),
                path: Some(field.to_string()),
                location: None,
            },
        }
    }
}

/// The kind of input a [`Cluster`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadFrom {
    /// An efactl cluster spec (cluster.yaml).
    #[default]
    Spec,
    /// A CloudFormation template: objects' origins are template paths (`Resources.X...`).
    CloudFormation,
    /// A live account (`audit`): objects' origins are AWS ids.
    Account,
    /// A ParallelCluster 3 cluster config: origins are config paths
    /// (`Scheduling.SlurmQueues[0].ComputeResources[1]`).
    ParallelCluster,
    /// A SageMaker HyperPod cluster config: origins are request paths (`InstanceGroups[1]`).
    HyperPod,
    /// An eksctl ClusterConfig: origins are config paths (`managedNodeGroups[1]`).
    Eksctl,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// What the model was read from, so that a finding's fix is said in that input's terms.
    pub read_from: ReadFrom,
    pub name: String,
    pub region: String,
    pub zone: Option<Zone>,
    pub target: Target,
    pub scheduler: Scheduler,
    pub vpc: Vpc,
    pub subnets: Vec<Subnet>,
    pub endpoints: Vec<Endpoint>,
    pub security_groups: Vec<SecurityGroup>,
    pub placement_groups: Vec<PlacementGroup>,
    pub node_groups: Vec<NodeGroup>,
    pub mpi: Option<Mpi>,
    pub secrets: Vec<Secret>,
    pub roles: Vec<Role>,
    pub nccl: Nccl,
    pub file_systems: Vec<FileSystem>,
    pub parallelcluster: ParallelClusterSettings,
    pub settings: Settings,
    pub tags: BTreeMap<String, String>,
}

impl Cluster {
    /// A cluster with nothing in it yet, in a VPC the input does not describe: readers fill
    /// in what their file says (`Cluster { node_groups, ..Cluster::blank(..) }`).
    pub fn blank(read_from: ReadFrom, target: Target, scheduler: Scheduler) -> Cluster {
        Cluster {
            read_from,
            name: String::new(),
            region: String::new(),
            zone: None,
            target,
            scheduler,
            vpc: Vpc::existing(None, Origin::Implied(String::new())),
            subnets: Vec::new(),
            endpoints: Vec::new(),
            security_groups: Vec::new(),
            placement_groups: Vec::new(),
            node_groups: Vec::new(),
            mpi: None,
            secrets: Vec::new(),
            roles: Vec::new(),
            nccl: Nccl::default(),
            file_systems: Vec::new(),
            parallelcluster: ParallelClusterSettings::default(),
            settings: Settings::default(),
            tags: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub efa_sg_mode: SgMode,
    /// Where node bootstraps fetch the EFA installer (`efaInstaller:`); `None` for efactl's
    /// pinned version from efa-installer.amazonaws.com.
    pub efa_installer: Option<EfaInstaller>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParallelClusterSettings {
    pub disable_managed_dns: bool,
    pub use_ec2_hostnames: bool,
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vpc {
    pub id: Option<String>,
    pub cidr: Option<Cidr>,
    pub dns_support: bool,
    pub dns_hostnames: bool,
    pub origin: Origin,
}

impl Vpc {
    /// A VPC the input names (or not) but does not describe: its CIDR is unknown, and its DNS
    /// attributes are taken as on so that no rule reports them; a live read sets them.
    pub fn existing(id: Option<String>, origin: Origin) -> Vpc {
        Vpc {
            id,
            cidr: None,
            dns_support: true,
            dns_hostnames: true,
            origin,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subnet {
    pub key: String,
    pub id: Option<String>,
    pub cidr: Option<Cidr>,
    pub zone: Option<Zone>,
    pub internet: Internet,
    pub map_public_ip_on_launch: bool,
    pub available_ips: Option<u32>,
    pub route_table: String,
    /// The subnet's network ACL, where a live read gave it. Specs and templates leave it
    /// `None`: the subnets they make get their VPC's default ACL, which allows all traffic.
    pub network_acl: Option<NetworkAcl>,
    pub origin: Origin,
}

/// A network ACL: stateless, evaluated where traffic enters or leaves a subnet (not between
/// two instances of the same subnet).
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkAcl {
    pub id: String,
    pub entries: Vec<AclEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AclEntry {
    pub rule_number: i32,
    pub egress: bool,
    pub protocol: Protocol,
    /// For TCP and UDP; `None` is every port.
    pub ports: Option<(i32, i32)>,
    /// IPv4 or IPv6; `None` matches nothing.
    pub cidr: Option<Cidr>,
    pub allow: bool,
}

impl NetworkAcl {
    /// Does this ACL let the traffic through? Entries are tried in rule-number order and the
    /// first whose protocol, port and CIDR (containing all of `peer`) match decides; no match
    /// is a deny (the `*` rule).
    pub fn allows(
        &self,
        egress: bool,
        protocol: &Protocol,
        port: Option<u16>,
        peer: &Cidr,
    ) -> bool {
        let mut entries: Vec<&AclEntry> =
            self.entries.iter().filter(|e| e.egress == egress).collect();
        entries.sort_by_key(|e| e.rule_number);
        for e in entries {
            let proto_ok = e.protocol == Protocol::All || &e.protocol == protocol;
            let port_ok = match (e.ports, port) {
                (Some((from, to)), Some(port))
                    if matches!(e.protocol, Protocol::Tcp | Protocol::Udp) =>
                {
                    from <= i32::from(port) && i32::from(port) <= to
                }
                _ => true,
            };
            let peer_ok = e.cidr.is_some_and(|c| c.contains(peer));
            if proto_ok && port_ok && peer_ok {
                return e.allow;
            }
        }
        false
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Short service name: `s3`, `ecr.dkr`.
    pub service: String,
    pub kind: EndpointType,
    pub private_dns: bool,
    pub security_groups: Vec<String>,
    /// Interface endpoints: the subnets they have a network interface in.
    pub subnets: Vec<String>,
    /// Gateway endpoints: the route tables they are on.
    pub route_tables: Vec<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecurityGroup {
    pub key: String,
    pub id: Option<String>,
    pub name: String,
    pub ingress: Vec<SgRule>,
    pub egress: Vec<SgRule>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Peer {
    Cidr(Cidr),
    /// A security group by key (the group itself for self-referencing rules).
    Group(String),
    PrefixList(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SgRule {
    pub protocol: Protocol,
    pub ports: Option<PortRange>,
    pub peer: Peer,
    pub origin: Origin,
}

impl SgRule {
    pub fn is_all_traffic(&self) -> bool {
        self.protocol == Protocol::All
    }

    /// Does this rule admit the protocol and (for TCP/UDP) the port?
    pub fn covers(&self, protocol: &Protocol, port: Option<u16>) -> bool {
        match (&self.protocol, protocol) {
            (Protocol::All, _) => true,
            (a, b) if a == b => match (self.ports, port) {
                (None, _) | (_, None) => true,
                (Some(r), Some(p)) => r.contains(p),
            },
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacementGroup {
    pub key: String,
    pub name: String,
    pub strategy: PlacementStrategy,
    /// Created by efactl (as opposed to an existing group the spec names).
    pub managed: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Nic {
    pub network_card: u32,
    pub device_index: u32,
    pub kind: InterfaceType,
    pub security_groups: Vec<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Capacity {
    #[default]
    OnDemand,
    Spot,
    Reservation {
        id: String,
        placement_group: Option<String>,
    },
    CapacityBlock {
        id: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeGroup {
    pub name: String,
    pub role: NodeRole,
    pub instance_types: Vec<String>,
    pub count: u32,
    pub max_count: u32,
    /// What the spec asked for (`Auto` for live groups).
    pub efa: EfaSetting,
    /// The interfaces of one node, in launch order.
    pub interfaces: Vec<Nic>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub placement_group: Option<String>,
    pub capacity: Capacity,
    pub public_ip: bool,
    pub instance_role: Option<String>,
    /// The AMI the spec names; `None` lets the renderer pick a public default.
    pub ami: Option<String>,
    /// Live instances of this group, for audit findings.
    pub instances: Vec<String>,
    pub origin: Origin,
}

impl NodeGroup {
    pub fn instance_type(&self) -> &str {
        self.instance_types
            .first()
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn efa_interfaces(&self) -> impl Iterator<Item = &Nic> {
        self.interfaces.iter().filter(|n| n.kind.is_efa())
    }

    pub fn efa_count(&self) -> usize {
        self.efa_interfaces().count()
    }

    pub fn uses_efa(&self) -> bool {
        self.efa_count() > 0
    }

    /// Runs multi-node jobs: more than one node, now or after scaling.
    pub fn is_multi_node(&self) -> bool {
        self.count.max(self.max_count) > 1
    }

    /// Every security group on any interface of a node.
    pub fn all_security_groups(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .interfaces
            .iter()
            .flat_map(|n| n.security_groups.iter().map(String::as_str))
            .chain(self.security_groups.iter().map(String::as_str))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Addresses one node takes from its subnet.
    pub fn ips_per_node(&self) -> u32 {
        self.interfaces.iter().filter(|n| n.kind.takes_ip()).count() as u32
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mpi {
    pub launcher: MpiLauncher,
    pub secret: Option<String>,
    pub readers: Vec<String>,
    pub origin: Origin,
}

/// What a secret holds, as far as the nodes are concerned. Only an audit can know: a spec or a
/// template names a secret, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SecretContent {
    #[default]
    Unknown,
    /// A key pair the nodes can use.
    KeyPair,
    /// The template's placeholder: `efactl keys create` has not run.
    Placeholder,
    /// Created without a value: no version to read.
    NoValue,
    /// Something the nodes cannot use; each string says why.
    Unusable(Vec<String>),
    /// Scheduled for deletion: reads fail.
    PendingDeletion,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    pub key: String,
    pub name: String,
    pub arn: Option<String>,
    pub managed: bool,
    /// The KMS key (id, ARN or alias) the secret is encrypted with; `None` is AWS's own key.
    pub kms_key: Option<String>,
    pub origin: Origin,
    /// Live only (audit); `Unknown` from a spec or template.
    pub content: SecretContent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResourceRef {
    Arn(String),
    /// The secret efactl creates (rendered as a reference to its ARN).
    Secret(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<ResourceRef>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub key: String,
    pub name: String,
    pub arn: Option<String>,
    pub managed: bool,
    pub statements: Vec<Statement>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Nccl {
    /// Variable -> (value, where it is set).
    pub env: BTreeMap<String, (String, Origin)>,
    pub ports: Vec<u16>,
    pub aws_ofi_nccl_version: Option<String>,
    pub libfabric_version: Option<String>,
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileSystem {
    pub key: String,
    pub kind: StorageKind,
    pub id: Option<String>,
    pub subnet: String,
    pub security_groups: Vec<String>,
    /// Storage to create, for a file system efactl creates.
    pub capacity_gib: Option<u32>,
    pub mount_path: String,
    pub origin: Origin,
}

/// One end of a connection, for security-group evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub groups: &'a [String],
    pub cidr: Option<Cidr>,
}

impl Side<'_> {
    /// Is this end the peer a rule names? An IPv4 world CIDR covers every IPv4 address, so it
    /// matches even where this end's subnet CIDR is unknown (an existing subnet given by id).
    pub fn is_peer(&self, peer: &Peer, groups_only: bool) -> bool {
        match peer {
            Peer::Group(k) => self.groups.iter().any(|g| g == k),
            Peer::Cidr(_) if groups_only => false,
            Peer::Cidr(c) => match self.cidr {
                Some(s) => c.contains(&s),
                None => c.is_world() && c.addr.is_ipv4(),
            },
            Peer::PrefixList(_) => false,
        }
    }
}

impl Cluster {
    pub fn security_group(&self, key: &str) -> Option<&SecurityGroup> {
        self.security_groups.iter().find(|s| s.key == key)
    }

    pub fn subnet(&self, key: &str) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.key == key)
    }

    pub fn placement_group(&self, key: &str) -> Option<&PlacementGroup> {
        self.placement_groups.iter().find(|p| p.key == key)
    }

    pub fn role(&self, key: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.key == key)
    }

    pub fn secret(&self, key: &str) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.key == key)
    }

    /// The address block a node group's interfaces draw from (its first subnet).
    pub fn node_cidr(&self, ng: &NodeGroup) -> Option<Cidr> {
        ng.subnets
            .first()
            .and_then(|s| self.subnet(s))
            .and_then(|s| s.cidr)
    }

    /// Would a TCP/UDP/any connection from `from` to `to` pass both sides' security groups?
    /// EFA's SRD traffic is matched only by group references, never by CIDR rules: pass
    /// `groups_only` for it.
    pub fn allows(
        &self,
        from: Side<'_>,
        to: Side<'_>,
        protocol: &Protocol,
        port: Option<u16>,
        groups_only: bool,
    ) -> bool {
        self.egress_allows(from, to, protocol, port, groups_only)
            && self.ingress_allows(from, to, protocol, port, groups_only)
    }
}

/// The two halves of `Cluster::allows`, for rules that must say which side blocks.
impl Cluster {
    /// Does some egress rule of `from`'s groups let the connection out towards `to`?
    pub fn egress_allows(
        &self,
        from: Side<'_>,
        to: Side<'_>,
        protocol: &Protocol,
        port: Option<u16>,
        groups_only: bool,
    ) -> bool {
        from.groups.iter().any(|g| {
            self.security_group(g).is_some_and(|sg| {
                sg.egress
                    .iter()
                    .any(|r| r.covers(protocol, port) && to.is_peer(&r.peer, groups_only))
            })
        })
    }

    /// Does some ingress rule of `to`'s groups let the connection in from `from`?
    pub fn ingress_allows(
        &self,
        from: Side<'_>,
        to: Side<'_>,
        protocol: &Protocol,
        port: Option<u16>,
        groups_only: bool,
    ) -> bool {
        to.groups.iter().any(|g| {
            self.security_group(g).is_some_and(|sg| {
                sg.ingress
                    .iter()
                    .any(|r| r.covers(protocol, port) && from.is_peer(&r.peer, groups_only))
            })
        })
    }
}

/// `com.amazonaws.us-east-1.ecr.dkr` -> `ecr.dkr`; short names pass through.
pub fn short_service_name(service: &str) -> &str {
    if let Some(rest) = service.strip_prefix("com.amazonaws.") {
        // Skip the region part when there is one (route53 has none).
        match rest.split_once('.') {
            Some((first, tail)) if first.contains('-') => tail,
            _ => rest,
        }
    } else {
        service
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_shorten() {
        assert_eq!(
            short_service_name("com.amazonaws.us-east-1.ecr.dkr"),
            "ecr.dkr"
        );
        assert_eq!(short_service_name("com.amazonaws.route53"), "route53");
        assert_eq!(short_service_name("s3"), "s3");
    }

    #[test]
    fn rule_coverage() {
        let r = SgRule {
            protocol: Protocol::Tcp,
            ports: Some(PortRange {
                from: 1018,
                to: 1023,
            }),
            peer: Peer::Group("x".into()),
            origin: Origin::Spec(String::new()),
        };
        assert!(r.covers(&Protocol::Tcp, Some(1020)));
        assert!(!r.covers(&Protocol::Tcp, Some(988)));
        assert!(!r.covers(&Protocol::Udp, Some(1020)));
        assert!(!r.covers(&Protocol::All, None));
    }
}
