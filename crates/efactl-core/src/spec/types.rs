//! The cluster spec as the user writes it: plain types that mirror cluster.yaml, with defaults
//! applied and nothing about AWS resolved. docs/spec.md documents every field.

use std::collections::BTreeMap;

pub const API_VERSION: &str = "efactl.dev/v1alpha1";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spec {
    pub api_version: String,
    pub name: String,
    pub region: String,
    pub availability_zone: Option<Zone>,
    pub target: Target,
    pub scheduler: Scheduler,
    pub network: NetworkSpec,
    pub security_groups: Vec<SecurityGroupSpec>,
    pub node_groups: Vec<NodeGroupSpec>,
    pub mpi: Option<MpiSpec>,
    pub iam: IamSpec,
    pub nccl: NcclSpec,
    pub storage: Vec<StorageSpec>,
    pub parallelcluster: ParallelClusterSpec,
    pub efa_installer: Option<EfaInstaller>,
    pub tags: BTreeMap<String, String>,
    pub checks: ChecksSpec,
}

/// An availability zone by name (`us-east-1a`, differs per account) or by zone id
/// (`use1-az6`, the same physical zone in every account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    Name(String),
    Id(String),
}

impl Zone {
    pub fn parse(s: &str) -> Option<Zone> {
        // Zone ids look like use1-az6 / apne1-az4; names like us-east-1a.
        let is_id = s.rsplit_once("-az").is_some_and(|(p, n)| {
            !p.is_empty() && !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())
        });
        let is_name = s.len() > 2
            && s.ends_with(|c: char| c.is_ascii_lowercase())
            && s.chars().rev().nth(1).is_some_and(|c| c.is_ascii_digit())
            && s.contains('-');
        if is_id {
            Some(Zone::Id(s.to_string()))
        } else if is_name {
            Some(Zone::Name(s.to_string()))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Zone::Name(s) | Zone::Id(s) => s,
        }
    }
}

/// How the cluster is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// Plain CloudFormation rendered by efactl.
    #[default]
    CloudFormation,
    ParallelCluster,
    HyperPod,
    Batch,
}

impl Target {
    pub const NAMES: &'static [&'static str] =
        &["cloudformation", "parallelcluster", "hyperpod", "batch"];
    pub fn from_name(s: &str) -> Option<Target> {
        Some(match s {
            "cloudformation" => Target::CloudFormation,
            "parallelcluster" => Target::ParallelCluster,
            "hyperpod" => Target::HyperPod,
            "batch" => Target::Batch,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        Target::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheduler {
    #[default]
    Slurm,
    Kubernetes,
    Batch,
    None,
}

impl Scheduler {
    pub const NAMES: &'static [&'static str] = &["slurm", "kubernetes", "batch", "none"];
    pub fn from_name(s: &str) -> Option<Scheduler> {
        Some(match s {
            "slurm" => Scheduler::Slurm,
            "kubernetes" => Scheduler::Kubernetes,
            "batch" => Scheduler::Batch,
            "none" => Scheduler::None,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        Scheduler::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetworkSpec {
    pub vpc: VpcSpec,
    pub subnets: Vec<SubnetSpec>,
    pub endpoints: Vec<EndpointSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VpcSpec {
    /// An existing VPC; when absent efactl creates one.
    pub id: Option<String>,
    pub cidr: Option<String>,
    pub dns_support: bool,
    pub dns_hostnames: bool,
}

impl Default for VpcSpec {
    fn default() -> Self {
        VpcSpec {
            id: None,
            cidr: None,
            dns_support: true,
            dns_hostnames: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Internet {
    /// A route to an internet gateway.
    Public,
    /// A route to a NAT gateway.
    Nat,
    /// No route out of the VPC: AWS services only through VPC endpoints.
    #[default]
    None,
}

impl Internet {
    pub const NAMES: &'static [&'static str] = &["public", "nat", "none"];
    pub fn from_name(s: &str) -> Option<Internet> {
        Some(match s {
            "public" => Internet::Public,
            "nat" => Internet::Nat,
            "none" => Internet::None,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        Internet::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubnetSpec {
    pub name: String,
    pub id: Option<String>,
    pub cidr: Option<String>,
    pub availability_zone: Option<Zone>,
    pub internet: Internet,
    pub map_public_ip_on_launch: bool,
    /// For an existing subnet: free addresses, when known.
    pub available_ips: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointType {
    #[default]
    Interface,
    Gateway,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointSpec {
    /// Short service name (`s3`, `ecr.dkr`) or the full `com.amazonaws.REGION.NAME`.
    pub service: String,
    pub kind: EndpointType,
    pub private_dns: bool,
    /// Interface endpoints: their security groups (names in this spec, or sg- ids).
    pub security_groups: Vec<String>,
    /// Subnets the endpoint serves: interface endpoints sit in them, gateway endpoints are
    /// added to their route tables. Empty means every subnet with no internet.
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SecurityGroupSpec {
    pub name: String,
    /// An existing group; its rules must then be described so they can be checked.
    pub id: Option<String>,
    /// Adds all-traffic ingress from and egress to the group itself: what EFA requires.
    pub self_referencing: bool,
    pub ingress: Vec<SgRuleSpec>,
    /// `None` keeps AWS's default egress (all traffic to 0.0.0.0/0).
    pub egress: Option<Vec<SgRuleSpec>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    All,
    Tcp,
    Udp,
    Icmp,
    Other(u8),
}

impl Protocol {
    /// EC2's `IpProtocol` as the API and CloudFormation write it (`-1`, `tcp`, `6`, `icmpv6`,
    /// a protocol number); `None` for a value EC2 does not use.
    pub fn from_ec2(p: &str) -> Option<Protocol> {
        Some(match p.to_ascii_lowercase().as_str() {
            "-1" | "all" => Protocol::All,
            "tcp" | "6" => Protocol::Tcp,
            "udp" | "17" => Protocol::Udp,
            "icmp" | "1" => Protocol::Icmp,
            "icmpv6" => Protocol::Other(58),
            n => Protocol::Other(n.parse().ok()?),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    pub fn contains(&self, p: u16) -> bool {
        self.from <= p && p <= self.to
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerSpec {
    Cidr(String),
    SecurityGroup(String),
    SelfGroup,
    PrefixList(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SgRuleSpec {
    pub protocol: Protocol,
    pub ports: Option<PortRange>,
    pub peer: PeerSpec,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeRole {
    Head,
    Login,
    #[default]
    Compute,
}

impl NodeRole {
    pub const NAMES: &'static [&'static str] = &["head", "login", "compute"];
    pub fn from_name(s: &str) -> Option<NodeRole> {
        Some(match s {
            "head" => NodeRole::Head,
            "login" => NodeRole::Login,
            "compute" => NodeRole::Compute,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        NodeRole::NAMES[self as usize]
    }
}

/// `efa:` on a node group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EfaSetting {
    /// One EFA per usable network card when the type supports EFA, none otherwise.
    #[default]
    Auto,
    /// As many as the type supports; an error on a type without EFA.
    On,
    Off,
    Count(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InterfaceType {
    /// ENA only (`interface` in the EC2 API).
    Interface,
    /// EFA with ENA: an IP address and the EFA device.
    #[default]
    Efa,
    /// EFA device only, no IP address; never the primary interface.
    EfaOnly,
}

impl InterfaceType {
    pub const NAMES: &'static [&'static str] = &["interface", "efa", "efa-only"];
    pub fn from_name(s: &str) -> Option<InterfaceType> {
        Some(match s {
            "interface" | "ena" => InterfaceType::Interface,
            "efa" => InterfaceType::Efa,
            "efa-only" => InterfaceType::EfaOnly,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        InterfaceType::NAMES[self as usize]
    }
    pub fn is_efa(self) -> bool {
        !matches!(self, InterfaceType::Interface)
    }
    /// ENA-backed interfaces take an address from the subnet; EFA-only ones do not.
    pub fn takes_ip(self) -> bool {
        !matches!(self, InterfaceType::EfaOnly)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceSpec {
    pub network_card: u32,
    pub device_index: u32,
    pub kind: InterfaceType,
    /// Overrides the node group's security groups on this interface.
    pub security_groups: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementStrategy {
    Cluster,
    Spread,
    Partition,
}

impl PlacementStrategy {
    pub const NAMES: &'static [&'static str] = &["cluster", "spread", "partition"];
    pub fn from_name(s: &str) -> Option<PlacementStrategy> {
        Some(match s {
            "cluster" => PlacementStrategy::Cluster,
            "spread" => PlacementStrategy::Spread,
            "partition" => PlacementStrategy::Partition,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        PlacementStrategy::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PlacementSpec {
    /// efactl creates a cluster placement group for EFA node groups (the default).
    #[default]
    Auto,
    None,
    Existing {
        name: String,
        strategy: PlacementStrategy,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CapacitySpec {
    #[default]
    OnDemand,
    Reservation {
        id: String,
        /// The placement group the reservation was created in, if any.
        placement_group: Option<String>,
    },
    CapacityBlock {
        id: String,
    },
    Spot,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeGroupSpec {
    pub name: String,
    pub role: NodeRole,
    /// One type, or several for a mixed group (the first is the primary).
    pub instance_types: Vec<String>,
    pub count: u32,
    pub max_count: Option<u32>,
    pub efa: EfaSetting,
    /// Interface type of the EFAs beyond the primary interface.
    pub secondary_interface_type: InterfaceType,
    pub interfaces: Option<Vec<InterfaceSpec>>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub placement_group: PlacementSpec,
    pub capacity: CapacitySpec,
    pub ami: Option<String>,
    pub public_ip: bool,
    /// An IAM role of the spec the nodes run as.
    pub instance_role: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MpiLauncher {
    /// mpirun starts remote ranks over SSH: nodes need the shared key.
    #[default]
    Ssh,
    /// Slurm's PMIx / PMI2 starts ranks: no SSH between nodes needed.
    Pmix,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MpiSpec {
    pub launcher: MpiLauncher,
    pub ssh_key_secret: Option<SecretSpec>,
    /// IAM roles (of this spec) that must read the secret.
    pub secret_readers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SecretSpec {
    pub name: String,
    /// An existing secret's ARN; when absent efactl creates the secret.
    pub arn: Option<String>,
    pub kms_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IamSpec {
    pub roles: Vec<RoleSpec>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoleSpec {
    pub name: String,
    /// An existing role; efactl then checks the statements given here instead of writing them.
    pub arn: Option<String>,
    pub statements: Vec<StatementSpec>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementSpec {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NcclSpec {
    pub env: BTreeMap<String, String>,
    /// Ports the jobs listen on between nodes: torchrun's MASTER_PORT, an NCCL_COMM_ID port.
    pub ports: Vec<u16>,
    pub aws_ofi_nccl_version: Option<String>,
    pub libfabric_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageKind {
    #[default]
    FsxLustre,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StorageSpec {
    pub name: String,
    pub kind: StorageKind,
    pub id: Option<String>,
    pub subnet: String,
    pub security_groups: Vec<String>,
    pub capacity_gib: Option<u32>,
    pub mount_path: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParallelClusterSpec {
    pub disable_managed_dns: bool,
    pub use_ec2_hostnames: bool,
}

/// `efaInstaller:`: where the node bootstrap gets the EFA installer when the AMI lacks the EFA
/// software. Every field is optional; `version` and `sha256` come together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EfaInstaller {
    /// Replaces the version efactl pins (with its checksum).
    pub version: Option<String>,
    /// SHA-256 of `aws-efa-installer-<version>.tar.gz`.
    pub sha256: Option<String>,
    /// `s3://bucket/key` of the tarball: for subnets with no route to the internet.
    pub s3_uri: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SgMode {
    /// Every security group on an EFA interface must carry the self rules (HyperPod's check).
    #[default]
    Every,
    /// One group with both self rules is enough (ParallelCluster's validator).
    Any,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChecksSpec {
    pub ignore: Vec<String>,
    pub severity: BTreeMap<String, crate::finding::Severity>,
    pub efa_security_group_mode: Option<SgMode>,
}
