//! What the audit reads from a live account: one plain record per AWS object, field for field
//! what `Describe*` returns and efactl uses, with the SDK's types already gone.
//!
//! The records stay close to the API's shape (an `IpPermission` keeps its lists of ranges, a
//! route keeps its target) so that the SDK layer only copies fields, and every decision about
//! what they mean (which route is the way out, which rules a permission stands for, how
//! instances make node groups) is made in [`super::audit`], where it is unit-tested.

use crate::model::{InterfaceType, PlacementStrategy};
use std::collections::BTreeMap;

/// Which instances an audit looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceScope {
    /// Instances tagged `aws:cloudformation:stack-name=NAME` (and those its Auto Scaling
    /// groups launch, which inherit the tag).
    Stack(String),
    Tag {
        key: String,
        value: String,
    },
    Ids(Vec<String>),
    PlacementGroup(String),
    Vpc(String),
}

impl InstanceScope {
    /// `--stack NAME`, `--tag K=V`, ... as the user wrote it, for messages.
    pub fn describe(&self) -> String {
        match self {
            InstanceScope::Stack(s) => format!("stack `{s}`"),
            InstanceScope::Tag { key, value } => format!("tag `{key}={value}`"),
            InstanceScope::Ids(ids) => format!("instances {}", ids.join(", ")),
            InstanceScope::PlacementGroup(p) => format!("placement group `{p}`"),
            InstanceScope::Vpc(v) => format!("VPC `{v}`"),
        }
    }
}

/// `Instance.State.Name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceState {
    Pending,
    #[default]
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
}

impl InstanceState {
    pub fn parse(s: &str) -> Option<InstanceState> {
        Some(match s {
            "pending" => InstanceState::Pending,
            "running" => InstanceState::Running,
            "shutting-down" => InstanceState::ShuttingDown,
            "terminated" => InstanceState::Terminated,
            "stopping" => InstanceState::Stopping,
            "stopped" => InstanceState::Stopped,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::ShuttingDown => "shutting-down",
            InstanceState::Terminated => "terminated",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
        }
    }

    /// Gone or going: such instances are not part of the cluster any more.
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            InstanceState::ShuttingDown | InstanceState::Terminated
        )
    }
}

/// `Instance.InstanceLifecycle`: absent for On-Demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifecycle {
    #[default]
    OnDemand,
    Spot,
    CapacityBlock,
    Scheduled,
}

/// One network interface of an instance (`Instance.NetworkInterfaces[]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInterfaceRecord {
    pub id: String,
    /// `InterfaceType`: `interface`, `efa`, `efa-only`; the SDK layer maps the other types
    /// (`trunk`, `branch`, ...) to `interface`, as none of them carries EFA.
    pub interface_type: InterfaceType,
    /// `Attachment.NetworkCardIndex`.
    pub network_card: u32,
    /// `Attachment.DeviceIndex`.
    pub device_index: u32,
    /// `Groups[].GroupId`.
    pub groups: Vec<String>,
    pub subnet_id: Option<String>,
    /// `PrivateIpAddress`: none on an `efa-only` interface.
    pub private_ip: Option<String>,
    /// `Association.PublicIp`.
    pub public_ip: Option<String>,
}

/// `DescribeInstances`: one instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceRecord {
    pub id: String,
    pub instance_type: String,
    pub state: InstanceState,
    /// `Placement.AvailabilityZone`.
    pub availability_zone: Option<String>,
    /// `Placement.GroupName`.
    pub placement_group: Option<String>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub image_id: Option<String>,
    /// `IamInstanceProfile.Arn`.
    pub instance_profile: Option<String>,
    pub lifecycle: Lifecycle,
    /// `CapacityReservationId`.
    pub capacity_reservation: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub network_interfaces: Vec<NetworkInterfaceRecord>,
}

/// One `IpPermission` of a security group: a protocol and port range with every source (or
/// destination) it names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PermissionRecord {
    /// `IpProtocol`: `-1`, `tcp`, `udp`, `icmp`, `icmpv6` or a protocol number.
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    /// `IpRanges[].CidrIp`.
    pub ipv4_ranges: Vec<String>,
    /// `Ipv6Ranges[].CidrIpv6`.
    pub ipv6_ranges: Vec<String>,
    /// `UserIdGroupPairs[].GroupId`.
    pub groups: Vec<String>,
    /// `PrefixListIds[].PrefixListId`.
    pub prefix_lists: Vec<String>,
}

/// `DescribeSecurityGroups`: one group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityGroupRecord {
    pub id: String,
    pub name: String,
    pub vpc_id: Option<String>,
    pub description: Option<String>,
    /// `IpPermissions`.
    pub ingress: Vec<PermissionRecord>,
    /// `IpPermissionsEgress`.
    pub egress: Vec<PermissionRecord>,
    pub tags: BTreeMap<String, String>,
}

/// `DescribePlacementGroups`: one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementGroupRecord {
    pub name: String,
    pub id: Option<String>,
    pub strategy: PlacementStrategy,
    pub state: String,
}

/// `DescribeSubnets`: one subnet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubnetRecord {
    pub id: String,
    pub vpc_id: String,
    pub cidr: Option<String>,
    /// `AvailabilityZone`: the name, which differs between accounts.
    pub availability_zone: Option<String>,
    /// `AvailabilityZoneId`: the same physical zone in every account.
    pub availability_zone_id: Option<String>,
    pub map_public_ip_on_launch: bool,
    /// `AvailableIpAddressCount`.
    pub available_ips: Option<u32>,
    pub tags: BTreeMap<String, String>,
}

/// Where a route sends its traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// `GatewayId: local`: the VPC itself.
    Local,
    InternetGateway(String),
    EgressOnlyInternetGateway(String),
    NatGateway(String),
    TransitGateway(String),
    /// A gateway endpoint's route (`GatewayId: vpce-...` to a prefix list).
    VpcEndpoint(String),
    NetworkInterface(String),
    Instance(String),
    PeeringConnection(String),
    Other(String),
}

/// One route of a route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRecord {
    /// `DestinationCidrBlock`, `DestinationIpv6CidrBlock` or `DestinationPrefixListId`.
    pub destination: String,
    pub target: RouteTarget,
    /// `State: blackhole`: the target is gone and the route drops traffic.
    pub blackhole: bool,
}

/// One association of a route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTableAssociation {
    /// `Main: true`: the table of every subnet with no explicit association.
    pub main: bool,
    pub subnet_id: Option<String>,
}

/// `DescribeRouteTables`: one table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteTableRecord {
    pub id: String,
    pub vpc_id: String,
    pub associations: Vec<RouteTableAssociation>,
    pub routes: Vec<RouteRecord>,
}

/// `DescribeVpcEndpoints`: one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VpcEndpointRecord {
    pub id: String,
    pub vpc_id: String,
    /// `com.amazonaws.us-east-1.s3`.
    pub service_name: String,
    /// `VpcEndpointType`: `Interface`, `Gateway`, `GatewayLoadBalancer`, ...
    pub endpoint_type: String,
    /// `State`: real AWS and moto both answer in lower case (`available`).
    pub state: String,
    pub private_dns_enabled: bool,
    pub subnet_ids: Vec<String>,
    pub route_table_ids: Vec<String>,
    /// `Groups[].GroupId`.
    pub groups: Vec<String>,
}

/// `DescribeVpcs` with the two `DescribeVpcAttribute` answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VpcRecord {
    pub id: String,
    pub cidr: Option<String>,
    pub dns_support: bool,
    pub dns_hostnames: bool,
}

/// One entry of a network ACL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkAclEntry {
    pub rule_number: i32,
    pub egress: bool,
    /// `-1`, or a protocol number (`6` TCP, `17` UDP).
    pub protocol: String,
    pub allow: bool,
    pub cidr: Option<String>,
    pub ipv6_cidr: Option<String>,
    /// `PortRange`, for TCP and UDP.
    pub ports: Option<(i32, i32)>,
}

/// `DescribeNetworkAcls`: one ACL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkAclRecord {
    pub id: String,
    pub vpc_id: String,
    pub is_default: bool,
    /// `Associations[].SubnetId`.
    pub subnet_ids: Vec<String>,
    pub entries: Vec<NetworkAclEntry>,
}

/// One network card of an instance type (`NetworkInfo.NetworkCards[]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetworkCardRecord {
    pub index: u32,
    pub maximum_network_interfaces: Option<u32>,
    pub peak_bandwidth_gbps: Option<f64>,
}

/// A GPU or accelerator of an instance type (`GpuInfo.Gpus[]`, `NeuronInfo.NeuronDevices[]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AcceleratorRecord {
    pub manufacturer: Option<String>,
    pub name: String,
    pub count: u32,
}

/// `DescribeInstanceTypes`: one type, the facts efactl's catalog holds. Merged with the
/// bundled catalog by [`super::audit::merge_instance_type`], because the API does not say
/// everything efactl knows (GPUDirect RDMA, the aws-ofi-nccl platform, card 0 being ENA-only).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InstanceTypeRecord {
    pub name: String,
    /// `NetworkInfo.EfaSupported`.
    pub efa_supported: Option<bool>,
    /// `NetworkInfo.EfaInfo.MaximumEfaInterfaces`.
    pub maximum_efa_interfaces: Option<u32>,
    pub maximum_network_cards: Option<u32>,
    pub maximum_network_interfaces: Option<u32>,
    /// `NetworkInfo.NetworkPerformance`: `3200 Gigabit`, `Up to 25 Gigabit`.
    pub network_performance: Option<String>,
    pub network_cards: Vec<NetworkCardRecord>,
    pub accelerators: Vec<AcceleratorRecord>,
    /// `PlacementGroupInfo.SupportedStrategies`.
    pub placement_strategies: Vec<String>,
    /// `VCpuInfo.DefaultVCpus`.
    pub vcpus: Option<u32>,
}

/// `DescribeSecret`: metadata only; the value is read on its own
/// ([`super::CloudBackend::secret_value`]) because reading it needs another permission.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretRecord {
    pub arn: String,
    pub name: String,
    pub kms_key: Option<String>,
    /// `DeletedDate` is set: the secret is scheduled for deletion.
    pub pending_deletion: bool,
    pub tags: BTreeMap<String, String>,
}
