//! The audit mapping on live records written as AWS returns them (ids and values from the EC2
//! API reference's examples where it has them): a healthy two-node p5 cluster, and each of
//! the broken cases of the AWS backend issue, one change at a time. Each must raise exactly
//! its finding, on the live resource at fault.

use crate::cloud::audit::*;
use crate::cloud::fake::FakeBackend;
use crate::cloud::*;
use crate::finding::{Finding, Severity};
use crate::model::{InterfaceType, PlacementStrategy, Protocol};
use crate::net::Cidr;
use crate::rules::{self, Options};
use std::collections::BTreeMap;

const VPC: &str = "vpc-a01106c2";
const SUBNET: &str = "subnet-9d4a7b6c";
const SUBNET_B: &str = "subnet-6e7f829e";
const SG: &str = "sg-903004f8";
const RTB: &str = "rtb-22574640";
const VPCE: &str = "vpce-032a826a";
const NAT: &str = "nat-05dba92075d71c408";
const ASG: &str = "efa-cluster-compute";
const NODES: [&str; 2] = ["i-1234567890abcdef0", "i-0598c7d356eba48d7"];

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A p5.48xlarge as launched by efactl's launch template: an `efa` primary on card 0, then
/// one `efa-only` interface on each of the other 31 cards.
fn p5(id: &str, ip: &str, subnet: &str, az: &str) -> InstanceRecord {
    let network_interfaces = (0..32)
        .map(|card| NetworkInterfaceRecord {
            id: format!("eni-{}{card:02}", &id[2..10]),
            interface_type: if card == 0 {
                InterfaceType::Efa
            } else {
                InterfaceType::EfaOnly
            },
            network_card: card,
            device_index: 0,
            groups: vec![SG.into()],
            subnet_id: Some(subnet.into()),
            private_ip: (card == 0).then(|| ip.to_string()),
            public_ip: None,
        })
        .collect();
    InstanceRecord {
        id: id.into(),
        instance_type: "p5.48xlarge".into(),
        state: InstanceState::Running,
        availability_zone: Some(az.into()),
        placement_group: Some("XYZ-cluster".into()),
        subnet_id: Some(subnet.into()),
        vpc_id: Some(VPC.into()),
        image_id: Some("ami-0abcdef1234567890".into()),
        instance_profile: Some(
            "arn:aws:iam::123456789012:instance-profile/efa-cluster-node".into(),
        ),
        lifecycle: Lifecycle::OnDemand,
        capacity_reservation: None,
        tags: tags(&[
            ("aws:autoscaling:groupName", ASG),
            ("aws:cloudformation:stack-name", "efa-cluster"),
            ("efactl:cluster", "efa-cluster"),
            ("Name", "efa-cluster-compute"),
        ]),
        network_interfaces,
    }
}

fn all_traffic_to(group: &str) -> PermissionRecord {
    PermissionRecord {
        protocol: "-1".into(),
        groups: vec![group.into()],
        ..PermissionRecord::default()
    }
}

fn healthy() -> LiveState {
    LiveState {
        instances: vec![
            p5(NODES[0], "10.0.1.10", SUBNET, "us-east-1a"),
            p5(NODES[1], "10.0.1.11", SUBNET, "us-east-1a"),
        ],
        security_groups: vec![SecurityGroupRecord {
            id: SG.into(),
            name: "MySecurityGroup".into(),
            vpc_id: Some(VPC.into()),
            description: Some("EFA: all traffic within the group".into()),
            ingress: vec![all_traffic_to(SG)],
            egress: vec![
                all_traffic_to(SG),
                PermissionRecord {
                    protocol: "-1".into(),
                    ipv4_ranges: vec!["0.0.0.0/0".into()],
                    ..PermissionRecord::default()
                },
            ],
            tags: BTreeMap::new(),
        }],
        placement_groups: vec![PlacementGroupRecord {
            name: "XYZ-cluster".into(),
            id: Some("pg-0123456789example".into()),
            strategy: PlacementStrategy::Cluster,
            state: "available".into(),
        }],
        vpcs: vec![VpcRecord {
            id: VPC.into(),
            cidr: Some("10.0.0.0/16".into()),
            dns_support: true,
            dns_hostnames: true,
        }],
        subnets: vec![
            SubnetRecord {
                id: SUBNET.into(),
                vpc_id: VPC.into(),
                cidr: Some("10.0.1.0/24".into()),
                availability_zone: Some("us-east-1a".into()),
                availability_zone_id: Some("use1-az6".into()),
                map_public_ip_on_launch: false,
                available_ips: Some(249),
                tags: BTreeMap::new(),
            },
            SubnetRecord {
                id: SUBNET_B.into(),
                vpc_id: VPC.into(),
                cidr: Some("10.0.2.0/24".into()),
                availability_zone: Some("us-east-1b".into()),
                availability_zone_id: Some("use1-az1".into()),
                map_public_ip_on_launch: false,
                available_ips: Some(251),
                tags: BTreeMap::new(),
            },
        ],
        route_tables: vec![RouteTableRecord {
            id: RTB.into(),
            vpc_id: VPC.into(),
            associations: vec![
                RouteTableAssociation {
                    main: true,
                    subnet_id: None,
                },
                RouteTableAssociation {
                    main: false,
                    subnet_id: Some(SUBNET.into()),
                },
            ],
            routes: vec![
                RouteRecord {
                    destination: "10.0.0.0/16".into(),
                    target: RouteTarget::Local,
                    blackhole: false,
                },
                RouteRecord {
                    destination: "0.0.0.0/0".into(),
                    target: RouteTarget::NatGateway(NAT.into()),
                    blackhole: false,
                },
                RouteRecord {
                    destination: "pl-63a5400a".into(),
                    target: RouteTarget::VpcEndpoint(VPCE.into()),
                    blackhole: false,
                },
            ],
        }],
        endpoints: vec![VpcEndpointRecord {
            id: VPCE.into(),
            vpc_id: VPC.into(),
            service_name: "com.amazonaws.us-east-1.s3".into(),
            endpoint_type: "Gateway".into(),
            state: "available".into(),
            private_dns_enabled: false,
            subnet_ids: Vec::new(),
            route_table_ids: vec![RTB.into()],
            groups: Vec::new(),
        }],
        network_acls: vec![NetworkAclRecord {
            id: "acl-5fb85d36".into(),
            vpc_id: VPC.into(),
            is_default: true,
            subnet_ids: vec![SUBNET.into(), SUBNET_B.into()],
            entries: vec![
                NetworkAclEntry {
                    rule_number: 100,
                    egress: true,
                    protocol: "-1".into(),
                    allow: true,
                    cidr: Some("0.0.0.0/0".into()),
                    ..NetworkAclEntry::default()
                },
                NetworkAclEntry {
                    rule_number: 32767,
                    egress: true,
                    protocol: "-1".into(),
                    allow: false,
                    cidr: Some("0.0.0.0/0".into()),
                    ..NetworkAclEntry::default()
                },
                NetworkAclEntry {
                    rule_number: 100,
                    egress: false,
                    protocol: "-1".into(),
                    allow: true,
                    cidr: Some("0.0.0.0/0".into()),
                    ..NetworkAclEntry::default()
                },
                NetworkAclEntry {
                    rule_number: 32767,
                    egress: false,
                    protocol: "-1".into(),
                    allow: false,
                    cidr: Some("0.0.0.0/0".into()),
                    ..NetworkAclEntry::default()
                },
            ],
        }],
        instance_types: vec![p5_type()],
        mpi_secret: None,
        notes: Vec::new(),
    }
}

/// DescribeInstanceTypes for p5.48xlarge, as the API answers.
fn p5_type() -> InstanceTypeRecord {
    InstanceTypeRecord {
        name: "p5.48xlarge".into(),
        vcpus: Some(192),
        efa_supported: Some(true),
        maximum_efa_interfaces: Some(32),
        maximum_network_cards: Some(32),
        maximum_network_interfaces: Some(64),
        network_performance: Some("3200 Gigabit".into()),
        network_cards: (0..32)
            .map(|index| NetworkCardRecord {
                index,
                maximum_network_interfaces: Some(2),
                peak_bandwidth_gbps: Some(100.0),
            })
            .collect(),
        accelerators: vec![AcceleratorRecord {
            manufacturer: Some("NVIDIA".into()),
            name: "H100".into(),
            count: 8,
        }],
        placement_strategies: vec!["cluster".into(), "partition".into(), "spread".into()],
    }
}

fn request() -> AuditRequest {
    AuditRequest::new(InstanceScope::Stack("efa-cluster".into()), "us-east-1")
}

/// Reads the state through the fake backend (as `efactl audit --stack` would), maps it and
/// runs every rule.
fn audit(live: LiveState) -> (Audit, Vec<Finding>) {
    let fake = FakeBackend::with_live(live);
    let state = collect(&fake, &request()).unwrap();
    let audit = to_cluster(&state, &request());
    let findings = rules::run(&audit.cluster, &audit.catalog, &Options::default());
    (audit, findings)
}

/// (rule, resource) of every finding, sorted.
fn found(findings: &[Finding]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f.rule.clone(),
                f.subject
                    .resource
                    .clone()
                    .unwrap_or_else(|| format!("<no resource: {:?}>", f.subject)),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn a_healthy_cluster_audits_clean() {
    let (audit, findings) = audit(healthy());
    assert!(findings.is_empty(), "{findings:#?}");
    assert!(audit.notes.is_empty(), "{:#?}", audit.notes);
    let c = &audit.cluster;
    assert_eq!(c.name, "efa-cluster");
    assert_eq!(c.node_groups.len(), 1);
    let ng = &c.node_groups[0];
    assert_eq!(ng.name, ASG);
    assert_eq!(ng.count, 2);
    assert_eq!(ng.efa_count(), 32);
    assert_eq!(ng.instances, vec![NODES[1], NODES[0]]);
    assert_eq!(ng.placement_group.as_deref(), Some("XYZ-cluster"));
    assert_eq!(ng.subnets, vec![SUBNET]);
    assert_eq!(c.subnets.len(), 1, "only the subnets the cluster uses");
    assert_eq!(c.subnets[0].internet, crate::model::Internet::Nat);
    assert_eq!(c.subnets[0].route_table, RTB);
    assert_eq!(c.endpoints[0].service, "s3");
    // Every object is live, by its AWS id.
    for sg in &c.security_groups {
        assert_eq!(sg.origin, crate::model::Origin::Live(SG.into()));
    }
    assert_eq!(
        ng.interfaces[0].origin,
        crate::model::Origin::Live("eni-0598c7d300".into())
    );
    // The live instance type won over the bundled row where both speak.
    let t = audit.catalog.get("p5.48xlarge").unwrap();
    assert!(t.sources.iter().any(|s| s.contains("live")));
    assert_eq!(t.bandwidth_gbps, Some(3200.0));
    assert_eq!(
        t.aws_ofi_nccl_platform.as_deref(),
        Some("p5/p5e"),
        "kept from the bundled row"
    );
}

#[test]
fn self_egress_removed() {
    let mut live = healthy();
    live.security_groups[0].egress.remove(0);
    let (_, findings) = audit(live);
    assert_eq!(found(&findings), pairs(&[("EFA002", SG)]), "{findings:#?}");
    assert!(findings[0]
        .message
        .contains("allows egress only to 0.0.0.0/0"));
}

#[test]
fn ingress_open_to_the_world() {
    let mut live = healthy();
    live.security_groups[0].ingress.push(PermissionRecord {
        protocol: "tcp".into(),
        from_port: Some(8888),
        to_port: Some(8888),
        ipv4_ranges: vec!["0.0.0.0/0".into()],
        ..PermissionRecord::default()
    });
    let (_, findings) = audit(live);
    assert_eq!(found(&findings), pairs(&[("EFA004", SG)]), "{findings:#?}");
    assert!(
        findings[0].message.contains("TCP 8888 from 0.0.0.0/0"),
        "{}",
        findings[0].message
    );
}

#[test]
fn a_node_in_a_second_zone() {
    let mut live = healthy();
    let mut stray = p5("i-0e4b2c8f7a6d5e4f3", "10.0.2.10", SUBNET_B, "us-east-1b");
    // A cluster placement group is one zone's: the stray node could not join it.
    stray.placement_group = None;
    live.instances.push(stray);
    let (_, findings) = audit(live);
    assert_eq!(found(&findings), pairs(&[("EFA015", ASG)]), "{findings:#?}");
    let m = &findings[0].message;
    assert!(m.contains(SUBNET) && m.contains(SUBNET_B), "{m}");
    assert!(m.contains("`us-east-1a` and `us-east-1b`"), "{m}");
}

#[test]
fn a_node_in_a_second_zone_without_tags_is_still_one_group() {
    let mut live = healthy();
    for i in &mut live.instances {
        i.tags.clear();
    }
    let mut stray = p5("i-0e4b2c8f7a6d5e4f3", "10.0.2.10", SUBNET_B, "us-east-1b");
    stray.tags.clear();
    live.instances.push(stray);
    let fake = FakeBackend::with_live(live);
    let req = AuditRequest::new(InstanceScope::Vpc(VPC.into()), "us-east-1");
    let audit = to_cluster(&collect(&fake, &req).unwrap(), &req);
    let findings = rules::run(&audit.cluster, &audit.catalog, &Options::default());
    assert_eq!(
        found(&findings),
        pairs(&[("EFA015", "i-0598c7d356eba48d7")]),
        "{findings:#?}"
    );
}

fn without_nat(live: &mut LiveState) {
    live.route_tables[0]
        .routes
        .retain(|r| r.destination != "0.0.0.0/0");
}

#[test]
fn a_private_subnet_without_a_required_endpoint() {
    let mut live = healthy();
    without_nat(&mut live);
    live.endpoints.clear();
    live.route_tables[0]
        .routes
        .retain(|r| !matches!(r.target, RouteTarget::VpcEndpoint(_)));
    let (audit, findings) = audit(live);
    assert_eq!(
        audit.cluster.subnets[0].internet,
        crate::model::Internet::None
    );
    assert_eq!(
        found(&findings),
        pairs(&[("EFA017", SUBNET)]),
        "{findings:#?}"
    );
    let help = findings[0].help.as_deref().unwrap();
    assert!(
        help.contains(&format!("--vpc-id {VPC}"))
            && help.contains(&format!("--route-table-ids {RTB}")),
        "{help}"
    );
}

#[test]
fn a_gateway_endpoint_off_the_route_table() {
    let mut live = healthy();
    without_nat(&mut live);
    live.endpoints[0].route_table_ids = vec!["rtb-43f9c726".into()];
    let (_, findings) = audit(live);
    assert_eq!(
        found(&findings),
        pairs(&[("EFA018", VPCE)]),
        "{findings:#?}"
    );
    let help = findings[0].help.as_deref().unwrap();
    assert!(
        help.contains(&format!(
            "--vpc-endpoint-id {VPCE} --add-route-table-ids {RTB}"
        )),
        "{help}"
    );
}

#[test]
fn efa_interfaces_missing_on_p5() {
    let mut live = healthy();
    for i in &mut live.instances {
        // Launched with the default network interface only.
        i.network_interfaces.truncate(1);
        i.network_interfaces[0].interface_type = InterfaceType::Interface;
    }
    let (_, findings) = audit(live);
    assert_eq!(found(&findings), pairs(&[("EFA007", ASG)]), "{findings:#?}");
    assert!(findings[0].message.contains("without EFA"));
}

#[test]
fn fewer_efa_interfaces_than_a_p5_has() {
    let mut live = healthy();
    for i in &mut live.instances {
        // A launch template copied from p4d.24xlarge: four EFAs.
        i.network_interfaces.truncate(4);
    }
    let (_, findings) = audit(live);
    assert_eq!(found(&findings), pairs(&[("EFA008", ASG)]), "{findings:#?}");
    assert!(
        findings[0].message.contains("uses 4 of 32 EFA interfaces"),
        "{}",
        findings[0].message
    );
}

#[test]
fn one_node_short_of_efa_speaks_for_its_group() {
    let mut live = healthy();
    live.instances[0].network_interfaces.truncate(16);
    let (audit, findings) = audit(live);
    assert_eq!(found(&findings), pairs(&[("EFA008", ASG)]), "{findings:#?}");
    assert!(
        audit.notes.iter().any(|n| n.contains(NODES[0])),
        "{:#?}",
        audit.notes
    );
}

#[test]
fn a_spread_placement_group_is_named_by_its_id() {
    // The mapping carries the live strategy through to EFA012.
    let mut live = healthy();
    live.placement_groups[0].strategy = PlacementStrategy::Spread;
    let (_, findings) = audit(live);
    assert_eq!(
        found(&findings),
        pairs(&[("EFA012", "pg-0123456789example")]),
        "{findings:#?}"
    );
    assert_eq!(findings[0].severity, Severity::Error);
}

#[test]
fn access_denied_on_one_call_fails_the_audit() {
    let fake = FakeBackend::with_live(healthy());
    fake.fail(
        "security_groups",
        CloudError::AccessDenied {
            action: "ec2:DescribeSecurityGroups".into(),
            message: "You are not authorized to perform this operation.".into(),
        },
        1,
    );
    let err = collect(&fake, &request()).unwrap_err();
    assert!(matches!(err, CloudError::AccessDenied { .. }));
}

#[test]
fn instance_types_fall_back_to_the_bundled_catalog() {
    let fake = FakeBackend::with_live(healthy());
    fake.fail(
        "instance_types",
        CloudError::AccessDenied {
            action: "ec2:DescribeInstanceTypes".into(),
            message: "denied".into(),
        },
        1,
    );
    let state = collect(&fake, &request()).unwrap();
    let audit = to_cluster(&state, &request());
    assert!(
        audit.notes[0].contains("bundled instance catalog stands in"),
        "{:?}",
        audit.notes
    );
    let findings = rules::run(&audit.cluster, &audit.catalog, &Options::default());
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn the_mpi_secret_is_read_and_judged() {
    let mut req = request();
    req.mpi_secret = Some("efa-cluster-mpi".into());
    let fake = FakeBackend::with_live(healthy());
    fake.put_secret(
        "efa-cluster-mpi",
        Some(&crate::render::cfn::secret_placeholder("efa-cluster-mpi")),
    );
    let audit = to_cluster(&collect(&fake, &req).unwrap(), &req);
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:efa-cluster-mpi-a1b2c3";
    assert_eq!(audit.cluster.secrets[0].arn.as_deref(), Some(arn));
    // The placeholder is a finding (EFA035) on the secret's ARN, not only a note.
    let findings = rules::run(&audit.cluster, &audit.catalog, &Options::default());
    assert_eq!(found(&findings), pairs(&[("EFA035", arn)]), "{findings:#?}");
    assert!(findings[0].message.contains("placeholder"));
    assert!(findings[0]
        .help
        .as_deref()
        .unwrap()
        .contains("efactl keys create --secret efa-cluster-mpi"));

    // A value that is not a key pair: EFA035 with what is wrong with it.
    let fake = FakeBackend::with_live(healthy());
    fake.put_secret(
        "efa-cluster-mpi",
        Some(r#"{"MPI_SSH_KEY_PRIVATE": "bm90IGEga2V5", "MPI_SSH_KEY_PUBLIC": "eA=="}"#),
    );
    let audit = to_cluster(&collect(&fake, &req).unwrap(), &req);
    let findings = rules::run(&audit.cluster, &audit.catalog, &Options::default());
    assert_eq!(found(&findings), pairs(&[("EFA035", arn)]), "{findings:#?}");
    assert!(findings[0]
        .message
        .contains("does not hold a usable key pair"));

    // Created without a value (no version: GetSecretValue answers not found): EFA035, not
    // a note that the value could not be read.
    let fake = FakeBackend::with_live(healthy());
    fake.put_secret("efa-cluster-mpi", None);
    let audit = to_cluster(&collect(&fake, &req).unwrap(), &req);
    assert!(audit.notes.is_empty(), "{:#?}", audit.notes);
    let findings = rules::run(&audit.cluster, &audit.catalog, &Options::default());
    assert_eq!(found(&findings), pairs(&[("EFA035", arn)]), "{findings:#?}");
    assert!(findings[0].message.contains("created without a value"));

    // No secret at all: the cluster launches MPI over SSH with no key (EFA025).
    let fake = FakeBackend::with_live(healthy());
    let audit = to_cluster(&collect(&fake, &req).unwrap(), &req);
    let findings = rules::run(&audit.cluster, &audit.catalog, &Options::default());
    assert_eq!(
        found(&findings),
        pairs(&[("EFA025", "efa-cluster-mpi")]),
        "{findings:#?}"
    );
}

#[test]
fn a_populated_secret_leaves_no_note() {
    let mut req = request();
    req.mpi_secret = Some("efa-cluster-mpi".into());
    let fake = FakeBackend::with_live(healthy());
    let pair = crate::keys::generate(crate::keys::KeyKind::Ed25519, "efa-cluster-mpi").unwrap();
    fake.put_secret(
        "efa-cluster-mpi",
        Some(pair.secret_value().unwrap().expose()),
    );
    let state = collect(&fake, &req).unwrap();
    assert!(matches!(
        state.mpi_secret.as_ref().and_then(|m| m.state.as_ref()),
        Some(crate::keys::SecretState::Populated(_))
    ));
    let audit = to_cluster(&state, &req);
    assert!(audit.notes.is_empty(), "{:#?}", audit.notes);
    let findings = rules::run(&audit.cluster, &audit.catalog, &Options::default());
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn terminated_instances_are_not_part_of_the_cluster() {
    let mut live = healthy();
    let mut gone = p5("i-0fffffffffffffff0", "10.0.2.12", SUBNET_B, "us-east-1b");
    gone.state = InstanceState::Terminated;
    live.instances.push(gone);
    let (_, findings) = audit(live);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn permissions_become_one_rule_per_source() {
    let sg = SecurityGroupRecord {
        id: "sg-1".into(),
        name: "x".into(),
        ingress: vec![PermissionRecord {
            protocol: "tcp".into(),
            from_port: Some(0),
            to_port: Some(65535),
            ipv4_ranges: vec!["10.0.0.0/16".into(), "not a cidr".into()],
            ipv6_ranges: vec!["::/0".into()],
            groups: vec!["sg-2".into()],
            prefix_lists: vec!["pl-63a5400a".into()],
        }],
        ..SecurityGroupRecord::default()
    };
    let state = LiveState {
        security_groups: vec![sg],
        ..LiveState::default()
    };
    let audit = to_cluster(&state, &request());
    let rules = &audit.cluster.security_groups[0].ingress;
    assert_eq!(rules.len(), 4);
    assert!(rules.iter().all(|r| r.protocol == Protocol::Tcp));
    assert!(audit.notes.iter().any(|n| n.contains("not a cidr")));
    assert_eq!(Protocol::from_ec2("-1"), Some(Protocol::All));
    assert_eq!(Protocol::from_ec2("icmpv6"), Some(Protocol::Other(58)));
    assert_eq!(Protocol::from_ec2("17"), Some(Protocol::Udp));
    assert_eq!(Protocol::from_ec2("gre"), None);
}

#[test]
fn default_routes_decide_the_way_out() {
    let table = |target: RouteTarget, blackhole: bool| RouteTableRecord {
        id: "rtb-1".into(),
        vpc_id: VPC.into(),
        associations: Vec::new(),
        routes: vec![RouteRecord {
            destination: "0.0.0.0/0".into(),
            target,
            blackhole,
        }],
    };
    use crate::model::Internet;
    assert_eq!(
        internet_of(Some(&table(
            RouteTarget::InternetGateway("igw-c0a643a9".into()),
            false
        ))),
        Internet::Public
    );
    assert_eq!(
        internet_of(Some(&table(RouteTarget::NatGateway(NAT.into()), false))),
        Internet::Nat
    );
    assert_eq!(
        internet_of(Some(&table(
            RouteTarget::TransitGateway("tgw-0262a0e521EXAMPLE".into()),
            false
        ))),
        Internet::Nat
    );
    assert_eq!(
        internet_of(Some(&table(RouteTarget::NatGateway(NAT.into()), true))),
        Internet::None
    );
    assert_eq!(internet_of(None), Internet::None);
    // A subnet without an association takes the main table.
    let live = healthy();
    let b = live.subnets.iter().find(|s| s.id == SUBNET_B).unwrap();
    assert_eq!(
        route_table_of(b, &live.route_tables).map(|t| t.id.as_str()),
        Some(RTB)
    );
}

#[test]
fn network_acls_are_read_in_rule_order() {
    let mut acl = healthy().network_acls[0].clone();
    let world = Cidr::world_v4();
    assert!(network_acl(&acl).allows(true, &Protocol::Tcp, Some(443), &world));
    acl.entries.push(NetworkAclEntry {
        rule_number: 90,
        egress: true,
        protocol: "6".into(),
        allow: false,
        cidr: Some("0.0.0.0/0".into()),
        ports: Some((443, 443)),
        ..NetworkAclEntry::default()
    });
    let model = network_acl(&acl);
    assert!(!model.allows(true, &Protocol::Tcp, Some(443), &world));
    assert!(model.allows(true, &Protocol::Tcp, Some(80), &world));
    // An ICMP deny before everything stops no TCP.
    let mut icmp = acl.clone();
    icmp.entries.push(NetworkAclEntry {
        rule_number: 10,
        egress: true,
        protocol: "1".into(),
        allow: false,
        cidr: Some("0.0.0.0/0".into()),
        ..NetworkAclEntry::default()
    });
    assert!(network_acl(&icmp).allows(true, &Protocol::Tcp, Some(80), &world));
    let mut live = healthy();
    live.network_acls[0] = acl;
    let (audit, findings) = audit(live);
    // A finding (EFA036) on the node subnet, naming the ACL: not only a note.
    assert_eq!(
        found(&findings),
        pairs(&[("EFA036", SUBNET)]),
        "{findings:#?}"
    );
    assert!(
        findings[0]
            .message
            .contains("network ACL acl-5fb85d36 of subnet")
            && findings[0]
                .message
                .contains("outbound TCP 443 to 0.0.0.0/0"),
        "{}",
        findings[0].message
    );
    assert!(audit.notes.is_empty(), "{:#?}", audit.notes);
    let acl = audit.cluster.subnets[0].network_acl.as_ref().unwrap();
    assert_eq!(acl.id, "acl-5fb85d36");
}

/// Nodes in two subnets: the ACL's inbound deny of the ephemeral ports from the VPC blocks
/// NCCL between them, in both subnets; within one subnet the ACL is never consulted.
#[test]
fn network_acl_between_node_subnets() {
    let mut live = healthy();
    live.instances.push(p5(
        "i-0bbbbbbbbbbbbbbb1",
        "10.0.2.11",
        SUBNET_B,
        "us-east-1b",
    ));
    let (_, before) = audit(live.clone());
    assert!(!before.iter().any(|f| f.rule == "EFA036"), "{before:#?}");
    live.network_acls[0].entries.push(NetworkAclEntry {
        rule_number: 50,
        egress: false,
        protocol: "6".into(),
        allow: false,
        cidr: Some("10.0.0.0/8".into()),
        ports: Some((1024, 65535)),
        ..NetworkAclEntry::default()
    });
    let (_, after) = audit(live.clone());
    let acl: Vec<&Finding> = after.iter().filter(|f| f.rule == "EFA036").collect();
    assert_eq!(acl.len(), 2, "{after:#?}");
    assert!(
        acl.iter().any(|f| f
            .message
            .contains(&format!("inbound TCP 32768 from {SUBNET_B} (10.0.2.0/24)"))),
        "{acl:#?}"
    );
    assert!(
        acl.iter().any(|f| f
            .message
            .contains(&format!("inbound TCP 32768 from {SUBNET} (10.0.1.0/24)"))),
        "{acl:#?}"
    );
    // The same deny with only one node subnet: nothing crosses the ACL.
    live.instances.pop();
    let (_, one) = audit(live);
    assert!(!one.iter().any(|f| f.rule == "EFA036"), "{one:#?}");
}

#[test]
fn network_performance_strings_parse() {
    assert_eq!(parse_network_performance("3200 Gigabit"), Some(3200.0));
    assert_eq!(parse_network_performance("Up to 25 Gigabit"), Some(25.0));
    assert_eq!(parse_network_performance("4x 100 Gigabit"), Some(400.0));
    assert_eq!(parse_network_performance("Moderate"), None);
}

#[test]
fn a_type_the_catalog_does_not_know_is_taken_from_the_api() {
    let mut r = p5_type();
    r.name = "p9.96xlarge".into();
    r.network_cards = vec![
        NetworkCardRecord {
            index: 0,
            maximum_network_interfaces: Some(2),
            peak_bandwidth_gbps: Some(400.0),
        },
        NetworkCardRecord {
            index: 1,
            maximum_network_interfaces: Some(1),
            peak_bandwidth_gbps: Some(400.0),
        },
    ];
    r.network_performance = None;
    let t = merge_instance_type(&r, None);
    assert!(t.supports_efa());
    assert_eq!(t.bandwidth_gbps, Some(800.0));
    assert_eq!(
        t.enis_per_card,
        crate::catalog::EnisPerCard::EvenOdd { even: 2, odd: 1 }
    );
    assert_eq!(t.accelerator.as_deref(), Some("nvidia-h100"));
    assert!(t.cluster_placement);
}

/// A backend whose reads take a moment, counting how many are in flight.
struct Slow {
    inner: FakeBackend,
    in_flight: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl Slow {
    fn track<T>(&self, f: impl FnOnce() -> T) -> T {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let out = f();
        self.in_flight.fetch_sub(1, SeqCst);
        out
    }
}

impl CloudBackend for Slow {
    fn describe_stack(&self, s: &str) -> Result<Option<StackInfo>, CloudError> {
        self.inner.describe_stack(s)
    }
    fn stack_template(&self, s: &str) -> Result<String, CloudError> {
        self.inner.stack_template(s)
    }
    fn put_template(&self, b: &str, k: &str, body: &str) -> Result<String, CloudError> {
        self.inner.put_template(b, k, body)
    }
    fn create_stack(&self, t: &StackTemplate) -> Result<String, CloudError> {
        self.inner.create_stack(t)
    }
    fn create_change_set(&self, t: &StackTemplate, n: &str) -> Result<String, CloudError> {
        self.inner.create_change_set(t, n)
    }
    fn describe_change_set(&self, c: &str) -> Result<ChangeSet, CloudError> {
        self.inner.describe_change_set(c)
    }
    fn execute_change_set(&self, c: &str) -> Result<(), CloudError> {
        self.inner.execute_change_set(c)
    }
    fn delete_change_set(&self, c: &str) -> Result<(), CloudError> {
        self.inner.delete_change_set(c)
    }
    fn delete_stack(&self, s: &str) -> Result<(), CloudError> {
        self.inner.delete_stack(s)
    }
    fn stack_events(&self, s: &str, t: Option<Timestamp>) -> Result<Vec<StackEvent>, CloudError> {
        self.inner.stack_events(s, t)
    }
    fn instances(&self, s: &InstanceScope) -> Result<Vec<InstanceRecord>, CloudError> {
        self.track(|| self.inner.instances(s))
    }
    fn security_groups(&self, i: &[String]) -> Result<Vec<SecurityGroupRecord>, CloudError> {
        self.track(|| self.inner.security_groups(i))
    }
    fn placement_groups(&self, n: &[String]) -> Result<Vec<PlacementGroupRecord>, CloudError> {
        self.track(|| self.inner.placement_groups(n))
    }
    fn vpc(&self, v: &str) -> Result<Option<VpcRecord>, CloudError> {
        self.track(|| self.inner.vpc(v))
    }
    fn subnets(&self, v: &str) -> Result<Vec<SubnetRecord>, CloudError> {
        self.track(|| self.inner.subnets(v))
    }
    fn route_tables(&self, v: &str) -> Result<Vec<RouteTableRecord>, CloudError> {
        self.track(|| self.inner.route_tables(v))
    }
    fn vpc_endpoints(&self, v: &str) -> Result<Vec<VpcEndpointRecord>, CloudError> {
        self.track(|| self.inner.vpc_endpoints(v))
    }
    fn network_acls(&self, v: &str) -> Result<Vec<NetworkAclRecord>, CloudError> {
        self.track(|| self.inner.network_acls(v))
    }
    fn instance_types(&self, n: &[String]) -> Result<Vec<InstanceTypeRecord>, CloudError> {
        self.track(|| self.inner.instance_types(n))
    }
    fn all_instance_types(&self) -> Result<Vec<InstanceTypeRecord>, CloudError> {
        self.track(|| self.inner.all_instance_types())
    }
    fn stack_resources(&self, s: &str) -> Result<Vec<StackResource>, CloudError> {
        self.inner.stack_resources(s)
    }
    fn console_outputs(&self, i: &[String]) -> Result<Vec<(String, Option<String>)>, CloudError> {
        self.track(|| self.inner.console_outputs(i))
    }
    fn describe_secret(&self, s: &str) -> Result<Option<SecretRecord>, CloudError> {
        self.track(|| self.inner.describe_secret(s))
    }
    fn secret_value(&self, s: &str) -> Result<crate::keys::SecretText, CloudError> {
        self.inner.secret_value(s)
    }
    fn create_secret(
        &self,
        n: &str,
        v: &crate::keys::SecretText,
        k: Option<&str>,
        t: &BTreeMap<String, String>,
    ) -> Result<String, CloudError> {
        self.inner.create_secret(n, v, k, t)
    }
    fn put_secret_value(&self, s: &str, v: &crate::keys::SecretText) -> Result<(), CloudError> {
        self.inner.put_secret_value(s, v)
    }
}

#[test]
fn reads_run_concurrently_within_the_bound() {
    // Nodes in three VPCs: 15 VPC reads, the placement group and the instance types at once.
    let mut live = healthy();
    for (n, vpc) in ["vpc-1a2b3c4d", "vpc-5e6f7a8b"].iter().enumerate() {
        let mut i = p5(
            &format!("i-0aaaaaaaaaaaaaa{n}"),
            "10.1.0.10",
            SUBNET,
            "us-east-1a",
        );
        i.vpc_id = Some(vpc.to_string());
        live.instances.push(i);
    }
    let slow = Slow {
        inner: FakeBackend::with_live(live),
        in_flight: Default::default(),
        most: Default::default(),
    };
    let state = collect(&slow, &request()).unwrap();
    assert_eq!(state.instances.len(), 4);
    assert_eq!(
        state.vpcs.len(),
        1,
        "only the healthy VPC is described in the fake"
    );
    // Thread start-up on a loaded machine may keep a batch from overlapping fully, so only
    // the bound is exact.
    let most = slow.most.load(std::sync::atomic::Ordering::SeqCst);
    assert!(most > 1 && most <= READ_CONCURRENCY, "{most} reads at once");
}

/// What a spec's help looks like; a live account has none of it.
const SPEC_WORDS: &[&str] = &[
    "selfReferencing",
    "`efa:",
    "efa: off",
    "placementGroup",
    "networkInterfaces",
    "`subnet:`",
    "`internet:",
    "`securityGroups`",
    "under `",
    "`type:",
    "sshKeySecret",
    "`cidr`",
    "{ protocol",
    "node group of its own",
    "cluster.yaml",
];

#[test]
fn every_live_finding_says_what_to_change_in_the_account() {
    type Break = fn(&mut LiveState);
    let breaks: &[(&str, Break)] = &[
        ("self ingress removed", |l| {
            l.security_groups[0].ingress.clear()
        }),
        ("self egress removed", |l| {
            l.security_groups[0].egress.remove(0);
        }),
        ("world ingress", |l| {
            for port in [22, 8888] {
                l.security_groups[0].ingress.push(PermissionRecord {
                    protocol: "tcp".into(),
                    from_port: Some(port),
                    to_port: Some(port),
                    ipv4_ranges: vec!["0.0.0.0/0".into()],
                    ..PermissionRecord::default()
                });
            }
        }),
        ("second zone", |l| {
            let mut stray = p5("i-0e4b2c8f7a6d5e4f3", "10.0.2.10", SUBNET_B, "us-east-1b");
            stray.placement_group = None;
            l.instances.push(stray);
        }),
        ("no endpoint", |l| {
            without_nat(l);
            l.endpoints.clear();
            l.route_tables[0]
                .routes
                .retain(|r| !matches!(r.target, RouteTarget::VpcEndpoint(_)));
        }),
        ("gateway endpoint off", |l| {
            without_nat(l);
            l.endpoints[0].route_table_ids = vec!["rtb-43f9c726".into()];
        }),
        ("no EFA", |l| {
            for i in &mut l.instances {
                i.network_interfaces.truncate(1);
                i.network_interfaces[0].interface_type = InterfaceType::Interface;
            }
        }),
        ("four EFAs", |l| {
            for i in &mut l.instances {
                i.network_interfaces.truncate(4);
            }
        }),
        ("spread group", |l| {
            l.placement_groups[0].strategy = PlacementStrategy::Spread
        }),
        ("no placement group", |l| {
            for i in &mut l.instances {
                i.placement_group = None;
            }
        }),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (what, f) in breaks {
        let mut live = healthy();
        f(&mut live);
        let (_, findings) = audit(live);
        assert!(!findings.is_empty(), "{what}: no finding");
        for x in &findings {
            seen.insert(x.rule.clone());
            let help = x
                .help
                .as_deref()
                .unwrap_or_else(|| panic!("{what}: {} has no help", x.rule));
            for w in SPEC_WORDS {
                assert!(
                    !help.contains(w),
                    "{what}: {}'s help speaks spec (`{w}`): {help}",
                    x.rule
                );
            }
            // A fix on a security group names the group and the AWS CLI call.
            if ["EFA001", "EFA002", "EFA004", "EFA005"].contains(&x.rule.as_str()) {
                assert!(help.contains(&format!("--group-id {SG}")), "{what}: {help}");
            }
            if x.rule == "EFA031" {
                assert_eq!(x.subject.resource.as_deref(), Some(SG), "{what}: {x:#?}");
                assert!(help.contains("authorize-security-group"), "{what}: {help}");
            }
        }
    }
    // The breaks reach the rules they are for.
    for rule in [
        "EFA001", "EFA002", "EFA004", "EFA005", "EFA007", "EFA008", "EFA011", "EFA012", "EFA015",
        "EFA017", "EFA018",
    ] {
        assert!(seen.contains(rule), "{rule} not raised; raised: {seen:?}");
    }

    // The MPI key secret, missing or a placeholder.
    let mut req = request();
    req.mpi_secret = Some("efa-cluster-mpi".into());
    for placeholder in [false, true] {
        let fake = FakeBackend::with_live(healthy());
        if placeholder {
            fake.put_secret(
                "efa-cluster-mpi",
                Some(&crate::render::cfn::secret_placeholder("efa-cluster-mpi")),
            );
        }
        let audit = to_cluster(&collect(&fake, &req).unwrap(), &req);
        let findings = rules::run(&audit.cluster, &audit.catalog, &Options::default());
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let help = findings[0].help.as_deref().unwrap();
        assert!(
            help.contains("efactl keys create --secret efa-cluster-mpi"),
            "{help}"
        );
        for w in SPEC_WORDS {
            assert!(!help.contains(w), "{help}");
        }
    }
}

#[test]
fn a_blocked_job_port_is_the_security_group_s_finding() {
    // Non-EFA nodes whose group lets only SSH through between them: EFA031 on the group,
    // with the CLI calls that open the ephemeral ports in both directions.
    let mut live = healthy();
    for i in &mut live.instances {
        i.instance_type = "m5.xlarge".into();
        i.network_interfaces.truncate(1);
        i.network_interfaces[0].interface_type = InterfaceType::Interface;
        i.placement_group = None;
    }
    live.instance_types.clear();
    live.security_groups[0].ingress = vec![PermissionRecord {
        protocol: "tcp".into(),
        from_port: Some(22),
        to_port: Some(22),
        groups: vec![SG.into()],
        ..PermissionRecord::default()
    }];
    let (_, findings) = audit(live);
    let blocked: Vec<&Finding> = findings.iter().filter(|f| f.rule == "EFA031").collect();
    assert!(!blocked.is_empty(), "{findings:#?}");
    for f in blocked {
        assert_eq!(f.subject.resource.as_deref(), Some(SG), "{f:#?}");
        let help = f.help.as_deref().unwrap();
        assert!(
            help.contains(&format!("authorize-security-group-ingress --group-id {SG}"))
                && help.contains("FromPort=32768,ToPort=60999")
                && !help.contains("authorize-security-group-egress"),
            "{help}"
        );
    }
}

#[test]
fn an_interface_endpoint_closed_to_the_nodes_is_fixed_on_its_group() {
    // A private subnet whose STS endpoint's group admits nothing: EFA020 on the endpoint, with
    // the call that lets the nodes' group in on TCP 443.
    const ENDPOINT_SG: &str = "sg-0e1d2c3b4a5968776";
    let mut live = healthy();
    without_nat(&mut live);
    live.security_groups.push(SecurityGroupRecord {
        id: ENDPOINT_SG.into(),
        name: "endpoints".into(),
        vpc_id: Some(VPC.into()),
        ..SecurityGroupRecord::default()
    });
    for service in [
        "sts",
        "ec2",
        "logs",
        "secretsmanager",
        "cloudformation",
        "ssm",
        "ssmmessages",
        "ec2messages",
        "ecr.api",
        "ecr.dkr",
    ] {
        live.endpoints.push(VpcEndpointRecord {
            id: format!("vpce-0{service}"),
            vpc_id: VPC.into(),
            service_name: format!("com.amazonaws.us-east-1.{service}"),
            endpoint_type: "Interface".into(),
            state: "available".into(),
            private_dns_enabled: true,
            subnet_ids: vec![SUBNET.into()],
            route_table_ids: vec![],
            groups: vec![ENDPOINT_SG.into()],
        });
    }
    let (_, findings) = audit(live);
    let closed: Vec<&Finding> = findings.iter().filter(|f| f.rule == "EFA020").collect();
    assert!(!closed.is_empty(), "{findings:#?}");
    for f in closed {
        let help = f.help.as_deref().unwrap();
        assert!(
            help.contains(&format!(
                "authorize-security-group-ingress --group-id {ENDPOINT_SG}"
            )) && help.contains("FromPort=443,ToPort=443")
                && help.contains(&format!("GroupId={SG}")),
            "{help}"
        );
        for w in SPEC_WORDS {
            assert!(!help.contains(w), "{help}");
        }
    }
}
