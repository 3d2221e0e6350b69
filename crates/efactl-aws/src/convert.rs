//! SDK types -> efactl's records, field by field. Nothing here decides what a record means
//! (efactl-core's `cloud::audit` does); the functions only copy, and map the SDK's optional
//! and non-exhaustive values onto efactl's types.

use aws_sdk_cloudformation::types as cfn;
use aws_sdk_ec2::types as ec2;
use aws_sdk_secretsmanager::types as sm;
use aws_smithy_types::DateTime;
use efactl_core::cloud::*;
use efactl_core::model::{InterfaceType, PlacementStrategy};
use std::collections::BTreeMap;

fn s(v: Option<&str>) -> String {
    v.unwrap_or_default().to_string()
}

fn o(v: Option<&str>) -> Option<String> {
    v.filter(|x| !x.is_empty()).map(str::to_string)
}

fn u(v: Option<i32>) -> Option<u32> {
    v.and_then(|x| u32::try_from(x).ok())
}

pub(crate) fn timestamp(t: Option<&DateTime>) -> Option<Timestamp> {
    t.and_then(|t| t.to_millis().ok()).map(Timestamp)
}

fn ec2_tags(tags: &[ec2::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), s(t.value()))))
        .collect()
}

/// `InterfaceType` of an instance's interface: `efa`, `efa-only`; everything else
/// (`interface`, `trunk`, `branch`, ...) carries no EFA device.
pub(crate) fn interface_type(v: Option<&str>) -> InterfaceType {
    match v {
        Some("efa") => InterfaceType::Efa,
        Some("efa-only") => InterfaceType::EfaOnly,
        _ => InterfaceType::Interface,
    }
}

pub(crate) fn instance(i: &ec2::Instance) -> InstanceRecord {
    let placement = i.placement();
    InstanceRecord {
        id: s(i.instance_id()),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        state: i
            .state()
            .and_then(|st| st.name())
            .and_then(|n| InstanceState::parse(n.as_str()))
            .unwrap_or_default(),
        availability_zone: o(placement.and_then(|p| p.availability_zone())),
        placement_group: o(placement.and_then(|p| p.group_name())),
        subnet_id: o(i.subnet_id()),
        vpc_id: o(i.vpc_id()),
        image_id: o(i.image_id()),
        instance_profile: o(i.iam_instance_profile().and_then(|p| p.arn())),
        lifecycle: match i.instance_lifecycle().map(|l| l.as_str()) {
            Some("spot") => Lifecycle::Spot,
            Some("capacity-block") => Lifecycle::CapacityBlock,
            Some("scheduled") => Lifecycle::Scheduled,
            _ => Lifecycle::OnDemand,
        },
        capacity_reservation: o(i.capacity_reservation_id()),
        tags: ec2_tags(i.tags()),
        network_interfaces: i
            .network_interfaces()
            .iter()
            .map(|n| NetworkInterfaceRecord {
                id: s(n.network_interface_id()),
                interface_type: interface_type(n.interface_type()),
                network_card: u(n.attachment().and_then(|a| a.network_card_index())).unwrap_or(0),
                device_index: u(n.attachment().and_then(|a| a.device_index())).unwrap_or(0),
                groups: n.groups().iter().filter_map(|g| o(g.group_id())).collect(),
                subnet_id: o(n.subnet_id()),
                private_ip: o(n.private_ip_address()),
                public_ip: o(n.association().and_then(|a| a.public_ip())),
            })
            .collect(),
    }
}

fn permission(p: &ec2::IpPermission) -> PermissionRecord {
    PermissionRecord {
        protocol: p.ip_protocol().unwrap_or("-1").to_string(),
        from_port: p.from_port(),
        to_port: p.to_port(),
        ipv4_ranges: p
            .ip_ranges()
            .iter()
            .filter_map(|r| o(r.cidr_ip()))
            .collect(),
        ipv6_ranges: p
            .ipv6_ranges()
            .iter()
            .filter_map(|r| o(r.cidr_ipv6()))
            .collect(),
        groups: p
            .user_id_group_pairs()
            .iter()
            .filter_map(|g| o(g.group_id()))
            .collect(),
        prefix_lists: p
            .prefix_list_ids()
            .iter()
            .filter_map(|l| o(l.prefix_list_id()))
            .collect(),
    }
}

pub(crate) fn security_group(g: &ec2::SecurityGroup) -> SecurityGroupRecord {
    SecurityGroupRecord {
        id: s(g.group_id()),
        name: s(g.group_name()),
        vpc_id: o(g.vpc_id()),
        description: o(g.description()),
        ingress: g.ip_permissions().iter().map(permission).collect(),
        egress: g.ip_permissions_egress().iter().map(permission).collect(),
        tags: ec2_tags(g.tags()),
    }
}

pub(crate) fn placement_group(p: &ec2::PlacementGroup) -> Option<PlacementGroupRecord> {
    Some(PlacementGroupRecord {
        name: p.group_name()?.to_string(),
        id: o(p.group_id()),
        strategy: PlacementStrategy::from_name(p.strategy()?.as_str())?,
        state: p
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    })
}

pub(crate) fn subnet(n: &ec2::Subnet) -> SubnetRecord {
    SubnetRecord {
        id: s(n.subnet_id()),
        vpc_id: s(n.vpc_id()),
        cidr: o(n.cidr_block()),
        availability_zone: o(n.availability_zone()),
        availability_zone_id: o(n.availability_zone_id()),
        map_public_ip_on_launch: n.map_public_ip_on_launch().unwrap_or(false),
        available_ips: u(n.available_ip_address_count()),
        tags: ec2_tags(n.tags()),
    }
}

fn route(r: &ec2::Route) -> Option<RouteRecord> {
    let destination = o(r.destination_cidr_block())
        .or_else(|| o(r.destination_ipv6_cidr_block()))
        .or_else(|| o(r.destination_prefix_list_id()))?;
    let target = if let Some(g) = o(r.gateway_id()) {
        if g == "local" {
            RouteTarget::Local
        } else if g.starts_with("vpce-") {
            RouteTarget::VpcEndpoint(g)
        } else if g.starts_with("igw-") {
            RouteTarget::InternetGateway(g)
        } else {
            RouteTarget::Other(g)
        }
    } else if let Some(g) = o(r.egress_only_internet_gateway_id()) {
        RouteTarget::EgressOnlyInternetGateway(g)
    } else if let Some(g) = o(r.nat_gateway_id()) {
        RouteTarget::NatGateway(g)
    } else if let Some(g) = o(r.transit_gateway_id()) {
        RouteTarget::TransitGateway(g)
    } else if let Some(g) = o(r.instance_id()) {
        RouteTarget::Instance(g)
    } else if let Some(g) = o(r.network_interface_id()) {
        RouteTarget::NetworkInterface(g)
    } else if let Some(g) = o(r.vpc_peering_connection_id()) {
        RouteTarget::PeeringConnection(g)
    } else {
        RouteTarget::Other(
            o(r.carrier_gateway_id())
                .or_else(|| o(r.local_gateway_id()))
                .or_else(|| o(r.core_network_arn()))
                .unwrap_or_default(),
        )
    };
    Some(RouteRecord {
        destination,
        target,
        blackhole: r.state().map(|s| s.as_str()) == Some("blackhole"),
    })
}

pub(crate) fn route_table(t: &ec2::RouteTable) -> RouteTableRecord {
    RouteTableRecord {
        id: s(t.route_table_id()),
        vpc_id: s(t.vpc_id()),
        associations: t
            .associations()
            .iter()
            .map(|a| RouteTableAssociation {
                main: a.main().unwrap_or(false),
                subnet_id: o(a.subnet_id()),
            })
            .collect(),
        routes: t.routes().iter().filter_map(route).collect(),
    }
}

pub(crate) fn vpc_endpoint(e: &ec2::VpcEndpoint) -> VpcEndpointRecord {
    VpcEndpointRecord {
        id: s(e.vpc_endpoint_id()),
        vpc_id: s(e.vpc_id()),
        service_name: s(e.service_name()),
        endpoint_type: e
            .vpc_endpoint_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        state: e
            .state()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        private_dns_enabled: e.private_dns_enabled().unwrap_or(false),
        subnet_ids: e.subnet_ids().to_vec(),
        route_table_ids: e.route_table_ids().to_vec(),
        groups: e.groups().iter().filter_map(|g| o(g.group_id())).collect(),
    }
}

pub(crate) fn network_acl(a: &ec2::NetworkAcl) -> NetworkAclRecord {
    NetworkAclRecord {
        id: s(a.network_acl_id()),
        vpc_id: s(a.vpc_id()),
        is_default: a.is_default().unwrap_or(false),
        subnet_ids: a
            .associations()
            .iter()
            .filter_map(|x| o(x.subnet_id()))
            .collect(),
        entries: a
            .entries()
            .iter()
            .map(|e| NetworkAclEntry {
                rule_number: e.rule_number().unwrap_or(32767),
                egress: e.egress().unwrap_or(false),
                protocol: e.protocol().unwrap_or("-1").to_string(),
                allow: e.rule_action().map(|r| r.as_str()) == Some("allow"),
                cidr: o(e.cidr_block()),
                ipv6_cidr: o(e.ipv6_cidr_block()),
                ports: e.port_range().and_then(|p| Some((p.from()?, p.to()?))),
            })
            .collect(),
    }
}

pub(crate) fn instance_type(t: &ec2::InstanceTypeInfo) -> InstanceTypeRecord {
    let net = t.network_info();
    let mut accelerators: Vec<AcceleratorRecord> = t
        .gpu_info()
        .map(|g| g.gpus())
        .unwrap_or_default()
        .iter()
        .map(|g| AcceleratorRecord {
            manufacturer: o(g.manufacturer()),
            name: s(g.name()),
            count: u(g.count()).unwrap_or(0),
        })
        .collect();
    accelerators.extend(
        t.neuron_info()
            .map(|n| n.neuron_devices())
            .unwrap_or_default()
            .iter()
            .map(|d| AcceleratorRecord {
                manufacturer: Some("AWS".into()),
                name: s(d.name()),
                count: u(d.count()).unwrap_or(0),
            }),
    );
    InstanceTypeRecord {
        vcpus: u(t.v_cpu_info().and_then(|v| v.default_v_cpus())),
        name: t
            .instance_type()
            .map(|x| x.as_str().to_string())
            .unwrap_or_default(),
        efa_supported: net.and_then(|n| n.efa_supported()),
        maximum_efa_interfaces: u(net
            .and_then(|n| n.efa_info())
            .and_then(|e| e.maximum_efa_interfaces())),
        maximum_network_cards: u(net.and_then(|n| n.maximum_network_cards())),
        maximum_network_interfaces: u(net.and_then(|n| n.maximum_network_interfaces())),
        network_performance: o(net.and_then(|n| n.network_performance())),
        network_cards: net
            .map(|n| n.network_cards())
            .unwrap_or_default()
            .iter()
            .map(|c| NetworkCardRecord {
                index: u(c.network_card_index()).unwrap_or(0),
                maximum_network_interfaces: u(c.maximum_network_interfaces()),
                peak_bandwidth_gbps: c.peak_bandwidth_in_gbps(),
            })
            .collect(),
        accelerators,
        placement_strategies: t
            .placement_group_info()
            .map(|p| p.supported_strategies())
            .unwrap_or_default()
            .iter()
            .map(|x| x.as_str().to_string())
            .collect(),
    }
}

// CloudFormation.

pub(crate) fn stack(st: &cfn::Stack) -> StackInfo {
    StackInfo {
        id: s(st.stack_id()),
        name: s(st.stack_name()),
        status: StackStatus::parse(st.stack_status().map(|x| x.as_str()).unwrap_or("")),
        status_reason: o(st.stack_status_reason()),
        outputs: st
            .outputs()
            .iter()
            .filter_map(|x| {
                Some(StackOutput {
                    key: x.output_key()?.to_string(),
                    value: s(x.output_value()),
                    description: o(x.description()),
                })
            })
            .collect(),
        parameters: st
            .parameters()
            .iter()
            .filter_map(|p| Some((p.parameter_key()?.to_string(), s(p.parameter_value()))))
            .collect(),
        tags: st
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), s(t.value()))))
            .collect(),
        created: timestamp(st.creation_time()).unwrap_or(Timestamp(0)),
        last_updated: timestamp(st.last_updated_time()),
    }
}

pub(crate) fn stack_event(e: &cfn::StackEvent) -> StackEvent {
    StackEvent {
        event_id: s(e.event_id()),
        timestamp: timestamp(e.timestamp()).unwrap_or(Timestamp(0)),
        logical_id: s(e.logical_resource_id()),
        physical_id: o(e.physical_resource_id()),
        resource_type: s(e.resource_type()),
        status: ResourceStatus::parse(e.resource_status().map(|x| x.as_str()).unwrap_or("")),
        reason: o(e.resource_status_reason()),
    }
}

pub(crate) fn stack_resource(r: &cfn::StackResource) -> StackResource {
    StackResource {
        logical_id: s(r.logical_resource_id()),
        physical_id: o(r.physical_resource_id()),
        resource_type: s(r.resource_type()),
        status: ResourceStatus::parse(r.resource_status().map(|x| x.as_str()).unwrap_or("")),
        reason: o(r.resource_status_reason()),
    }
}

pub(crate) fn resource_change(c: &cfn::Change) -> Option<ResourceChange> {
    let r = c.resource_change()?;
    let mut properties: Vec<String> = r
        .details()
        .iter()
        .filter_map(|d| {
            let t = d.target()?;
            o(t.name()).or_else(|| t.attribute().map(|a| a.as_str().to_string()))
        })
        .collect();
    properties.dedup();
    Some(ResourceChange {
        action: ChangeAction::parse(r.action().map(|a| a.as_str()).unwrap_or("")),
        logical_id: s(r.logical_resource_id()),
        physical_id: o(r.physical_resource_id()),
        resource_type: s(r.resource_type()),
        replacement: r.replacement().and_then(|x| Replacement::parse(x.as_str())),
        properties,
    })
}

// Secrets Manager.

pub(crate) fn secret(
    d: &aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput,
) -> SecretRecord {
    SecretRecord {
        arn: s(d.arn()),
        name: s(d.name()),
        kms_key: o(d.kms_key_id()),
        pending_deletion: d.deleted_date().is_some(),
        tags: d
            .tags()
            .iter()
            .filter_map(|t: &sm::Tag| Some((t.key()?.to_string(), s(t.value()))))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_keep_their_card_and_type() {
        let i = ec2::Instance::builder()
            .instance_id("i-1")
            .instance_type(ec2::InstanceType::from("p5.48xlarge"))
            .state(
                ec2::InstanceState::builder()
                    .name(ec2::InstanceStateName::Running)
                    .build(),
            )
            .network_interfaces(
                ec2::InstanceNetworkInterface::builder()
                    .network_interface_id("eni-1")
                    .interface_type("efa-only")
                    .attachment(
                        ec2::InstanceNetworkInterfaceAttachment::builder()
                            .network_card_index(3)
                            .device_index(1)
                            .build(),
                    )
                    .groups(ec2::GroupIdentifier::builder().group_id("sg-1").build())
                    .build(),
            )
            .build();
        let r = instance(&i);
        assert_eq!(r.instance_type, "p5.48xlarge");
        assert_eq!(r.state, InstanceState::Running);
        assert_eq!(r.network_interfaces.len(), 1);
        let n = &r.network_interfaces[0];
        assert_eq!(n.interface_type, InterfaceType::EfaOnly);
        assert_eq!((n.network_card, n.device_index), (3, 1));
        assert_eq!(n.groups, vec!["sg-1".to_string()]);
        assert_eq!(n.private_ip, None);
        assert_eq!(interface_type(Some("trunk")), InterfaceType::Interface);
    }

    #[test]
    fn routes_name_their_target() {
        let r = ec2::Route::builder()
            .destination_prefix_list_id("pl-63a5400a")
            .gateway_id("vpce-1")
            .build();
        let r = route(&r).unwrap();
        assert_eq!(r.destination, "pl-63a5400a");
        assert_eq!(r.target, RouteTarget::VpcEndpoint("vpce-1".into()));
        let r = ec2::Route::builder()
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id("nat-1")
            .state(ec2::RouteState::Blackhole)
            .build();
        let r = route(&r).unwrap();
        assert_eq!(r.target, RouteTarget::NatGateway("nat-1".into()));
        assert!(r.blackhole);
        assert!(route(&ec2::Route::builder().gateway_id("igw-1").build()).is_none());
    }
}
