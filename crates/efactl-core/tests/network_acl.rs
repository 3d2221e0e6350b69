//! EFA036 (`network-acl-blocks-cluster-traffic`) on a model whose subnets carry ACLs, as an
//! audit gives them: each way the rule can see traffic blocked, and the ACLs it must pass.

mod common;

use efactl_core::model::{AclEntry, Cluster, NetworkAcl, Protocol};
use efactl_core::net::Cidr;
use efactl_core::rules::{self, Options};
use efactl_core::Catalog;

/// Nodes in a subnet with a NAT route and in one without a route out.
const SPEC: &str = "apiVersion: efactl.dev/v1alpha1
name: acl
region: us-east-1
availabilityZone: us-east-1a
target: cloudformation
scheduler: none
network:
  vpc:
    cidr: 10.9.0.0/16
  subnets:
    - { name: nat, cidr: 10.9.1.0/24, internet: nat }
    - { name: closed, cidr: 10.9.2.0/24, internet: none }
  endpoints:
    - service: s3
    - service: secretsmanager
securityGroups:
  - { name: efa, selfReferencing: true }
nodeGroups:
  - { name: a, instanceType: c5n.18xlarge, count: 2, subnet: nat, securityGroups: [efa] }
  - { name: b, instanceType: c5n.18xlarge, count: 2, subnet: closed, securityGroups: [efa] }
mpi:
  launcher: ssh
  sshKeySecret:
    name: acl/mpi
";

fn entry(rule: i32, egress: bool, ports: Option<(i32, i32)>, cidr: &str, allow: bool) -> AclEntry {
    AclEntry {
        rule_number: rule,
        egress,
        protocol: if ports.is_some() {
            Protocol::Tcp
        } else {
            Protocol::All
        },
        ports,
        cidr: Cidr::parse(cidr),
        allow,
    }
}

/// The default ACL: everything in and out, then the `*` deny.
fn open(extra: Vec<AclEntry>) -> NetworkAcl {
    let mut entries = extra;
    for egress in [true, false] {
        entries.push(entry(100, egress, None, "0.0.0.0/0", true));
        entries.push(entry(32767, egress, None, "0.0.0.0/0", false));
    }
    NetworkAcl {
        id: "acl-0test".into(),
        entries,
    }
}

/// EFA036 messages for the model with these ACLs on the `nat` and `closed` subnets.
fn messages(nat: Option<NetworkAcl>, closed: Option<NetworkAcl>) -> Vec<String> {
    let mut c: Cluster = common::model_of_text("acl.yaml", SPEC);
    for s in &mut c.subnets {
        s.network_acl = match s.key.as_str() {
            "nat" => nat.clone(),
            "closed" => closed.clone(),
            _ => None,
        };
    }
    rules::run(&c, Catalog::bundled(), &Options::default())
        .into_iter()
        .filter(|f| f.rule == "EFA036")
        .map(|f| f.message)
        .collect()
}

#[test]
fn no_acl_read_and_open_acls_are_not_findings() {
    assert!(messages(None, None).is_empty());
    assert!(messages(Some(open(vec![])), Some(open(vec![]))).is_empty());
}

#[test]
fn https_is_checked_towards_the_internet_or_the_vpc() {
    // A subnet with a route out needs 443 to the whole internet.
    let only_vpc = vec![
        entry(10, true, Some((443, 443)), "10.9.0.0/16", true),
        entry(20, true, Some((443, 443)), "0.0.0.0/0", false),
    ];
    let m = messages(Some(open(only_vpc.clone())), None);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].contains("of subnet nat") && m[0].contains("outbound TCP 443 to 0.0.0.0/0"),
        "{m:#?}"
    );
    // The same ACL on the closed subnet is right: its endpoints are in the VPC.
    assert!(messages(None, Some(open(only_vpc))).is_empty());
    // Replies blocked: the ephemeral ports inbound from the VPC's endpoints.
    let no_replies = vec![entry(10, false, Some((1024, 65535)), "10.9.0.0/16", false)];
    let m = messages(None, Some(open(no_replies)));
    assert!(
        m.iter()
            .any(|m| m.contains("inbound TCP 32768 from the VPC's endpoints (10.9.0.0/16)")),
        "{m:#?}"
    );
}

#[test]
fn node_traffic_between_subnets_is_checked_both_ways() {
    // SSH out of `nat` to `closed` denied: mpirun cannot start the ranks there.
    let m = messages(
        Some(open(vec![entry(
            10,
            true,
            Some((22, 22)),
            "10.9.2.0/24",
            false,
        )])),
        None,
    );
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].contains("outbound TCP 22 to closed (10.9.2.0/24)") && m[0].contains("mpirun"),
        "{m:#?}"
    );
    assert!(!m[0].ends_with(','), "{m:#?}");
    // An upper ephemeral port denied into `closed` from `nat`.
    let m = messages(
        None,
        Some(open(vec![entry(
            10,
            false,
            Some((60000, 61000)),
            "10.9.1.0/24",
            false,
        )])),
    );
    assert!(
        m.iter()
            .any(|m| m.contains("inbound TCP 60999 from nat (10.9.1.0/24)")),
        "{m:#?}"
    );
    // A deny of one host's range does not cover the whole peer subnet: not reported.
    let m = messages(
        Some(open(vec![entry(
            10,
            true,
            Some((22, 22)),
            "10.9.2.7/32",
            false,
        )])),
        None,
    );
    assert!(m.is_empty(), "{m:#?}");
}
