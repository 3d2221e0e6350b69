//! Fixes in a live account's terms. A finding of `efactl audit` says what to change in the
//! account (the group, the rule, the AWS CLI call), never how to write a spec: a rule asks
//! [`live_id`] of the object it reports on and, when it was read from an account, words its
//! help with these helpers.

use crate::model::{Origin, Protocol, SecurityGroup};
use crate::spec::types::PortRange;

/// The AWS id (or name, or ARN) of an object read from a live account; `None` for an object
/// of a spec or a template.
pub(crate) fn live_id(origin: &Origin) -> Option<&str> {
    match origin {
        Origin::Live(id) => Some(id.as_str()),
        Origin::Spec(_) | Origin::Implied(_) => None,
    }
}

/// A live security group's id.
pub(crate) fn live_sg(sg: &SecurityGroup) -> Option<&str> {
    live_id(&sg.origin).map(|id| sg.id.as_deref().unwrap_or(id))
}

/// `IpProtocol=tcp,FromPort=22,ToPort=22` (all traffic: `IpProtocol=-1`).
fn permission(protocol: &Protocol, ports: Option<PortRange>) -> String {
    let proto = match protocol {
        Protocol::All => return "IpProtocol=-1".into(),
        Protocol::Tcp => "tcp".to_string(),
        Protocol::Udp => "udp".to_string(),
        Protocol::Icmp => "icmp".to_string(),
        Protocol::Other(n) => return format!("IpProtocol={n}"),
    };
    match ports {
        Some(p) => format!("IpProtocol={proto},FromPort={},ToPort={}", p.from, p.to),
        None if matches!(protocol, Protocol::Icmp) => {
            format!("IpProtocol={proto},FromPort=-1,ToPort=-1")
        }
        None => format!("IpProtocol={proto},FromPort=0,ToPort=65535"),
    }
}

/// The AWS CLI call that lets `sg` send (`egress`) or receive traffic to or from itself.
pub(crate) fn authorize_self(
    sg: &str,
    egress: bool,
    protocol: &Protocol,
    ports: Option<PortRange>,
) -> String {
    authorize_from(sg, egress, protocol, ports, sg)
}

/// The AWS CLI call that adds a rule to `sg` whose peer is the group `peer`.
pub(crate) fn authorize_from(
    sg: &str,
    egress: bool,
    protocol: &Protocol,
    ports: Option<PortRange>,
    peer: &str,
) -> String {
    format!(
        "`aws ec2 authorize-security-group-{} --group-id {sg} --ip-permissions '{},UserIdGroupPairs=[{{GroupId={peer}}}]'`",
        if egress { "egress" } else { "ingress" },
        permission(protocol, ports)
    )
}

/// The AWS CLI call that adds a rule to `sg` whose peer is an IPv4 range.
pub(crate) fn authorize_cidr(
    sg: &str,
    egress: bool,
    protocol: &Protocol,
    ports: Option<PortRange>,
    cidr: &str,
) -> String {
    format!(
        "`aws ec2 authorize-security-group-{} --group-id {sg} --ip-permissions '{},IpRanges=[{{CidrIp={cidr}}}]'`",
        if egress { "egress" } else { "ingress" },
        permission(protocol, ports)
    )
}

/// The calls that add the missing directions of a self rule (`ingress` / `egress`: whether
/// each is missing), joined with "and".
pub(crate) fn authorize_self_dirs(
    sg: &str,
    protocol: &Protocol,
    ports: Option<PortRange>,
    ingress: bool,
    egress: bool,
) -> String {
    let mut calls = Vec::new();
    if ingress {
        calls.push(authorize_self(sg, false, protocol, ports));
    }
    if egress {
        calls.push(authorize_self(sg, true, protocol, ports));
    }
    calls.join(" and ")
}

/// Both all-traffic self rules that are missing: what EFA needs of every group on its
/// interfaces.
pub(crate) fn authorize_self_all(sg: &str, ingress: bool, egress: bool) -> String {
    authorize_self_dirs(sg, &Protocol::All, None, ingress, egress)
}

/// The AWS CLI call that removes an ingress rule from a CIDR.
pub(crate) fn revoke_cidr_ingress(
    sg: &str,
    protocol: &Protocol,
    ports: Option<PortRange>,
    cidr: &str,
) -> String {
    let range = if cidr.contains(':') {
        format!("Ipv6Ranges=[{{CidrIpv6={cidr}}}]")
    } else {
        format!("IpRanges=[{{CidrIp={cidr}}}]")
    };
    format!(
        "`aws ec2 revoke-security-group-ingress --group-id {sg} --ip-permissions '{},{range}'`",
        permission(protocol, ports)
    )
}

/// EFA interfaces are fixed at launch: the fix for a live node's layout.
pub(crate) fn relaunch_with(layout: &str) -> String {
    format!(
        "EFA interfaces cannot be added to or removed from a running instance: launch the nodes with {layout} (in their launch template's `NetworkInterfaces`, `InterfaceType` and `NetworkCardIndex` per interface; `aws ec2 create-launch-template-version`), then replace the running ones"
    )
}

/// The interface layout of a type with `max` EFA interfaces, in launch-template words.
pub(crate) fn efa_layout(max: u32) -> String {
    if max <= 1 {
        "`InterfaceType=efa` on the primary interface".into()
    } else {
        format!(
            "{max} EFA interfaces: `InterfaceType=efa` on network card 0, `efa-only` (or `efa`) on each of cards 1-{}",
            max - 1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_the_cli_s_own_shorthand() {
        assert_eq!(
            authorize_self("sg-1", false, &Protocol::All, None),
            "`aws ec2 authorize-security-group-ingress --group-id sg-1 --ip-permissions 'IpProtocol=-1,UserIdGroupPairs=[{GroupId=sg-1}]'`"
        );
        assert_eq!(
            authorize_self("sg-1", true, &Protocol::Tcp, Some(PortRange { from: 22, to: 22 })),
            "`aws ec2 authorize-security-group-egress --group-id sg-1 --ip-permissions 'IpProtocol=tcp,FromPort=22,ToPort=22,UserIdGroupPairs=[{GroupId=sg-1}]'`"
        );
        assert_eq!(
            revoke_cidr_ingress("sg-1", &Protocol::Tcp, Some(PortRange { from: 22, to: 22 }), "::/0"),
            "`aws ec2 revoke-security-group-ingress --group-id sg-1 --ip-permissions 'IpProtocol=tcp,FromPort=22,ToPort=22,Ipv6Ranges=[{CidrIpv6=::/0}]'`"
        );
        assert!(authorize_self_all("sg-1", true, true).contains(" and "));
        assert!(efa_layout(32).contains("cards 1-31"));
    }
}
