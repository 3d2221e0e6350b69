//! Fixes in a CloudFormation template's terms. A finding on a template says which resource
//! and property to change, never how to write a spec (`selfReferencing: true` means nothing
//! in a template): a rule asks [`in_template`] of the cluster and, when it was read from a
//! template, words its help with these helpers. The counterpart of [`super::live`].

use crate::model::{Cluster, Origin, Protocol, ReadFrom, SecurityGroup};
use crate::spec::types::PortRange;

pub(crate) fn in_template(c: &Cluster) -> bool {
    c.read_from == ReadFrom::CloudFormation
}

/// The logical id of the resource an object of a template was read from
/// (`Resources.EfaSecurityGroup.Properties...` -> `EfaSecurityGroup`).
pub(crate) fn resource(origin: &Origin) -> Option<&str> {
    match origin {
        Origin::Spec(p) | Origin::Implied(p) => p
            .strip_prefix("Resources.")?
            .split(['.', '['])
            .next()
            .filter(|s| !s.is_empty()),
        Origin::Live(_) => None,
    }
}

/// `` `EfaSecurityGroup` `` or, for an object the template does not define, `` `what` ``.
pub(crate) fn named(origin: &Origin, what: &str) -> String {
    format!("`{}`", resource(origin).unwrap_or(what))
}

/// How the template names a security group in a property: `!Ref X`, `!GetAtt Vpc.DefaultSecurityGroup`
/// for the VPC's default group, or the group's id.
pub(crate) fn group_ref(sg: &SecurityGroup) -> String {
    if sg.key == crate::resolve::DEFAULT_SG {
        return match resource(&sg.origin) {
            Some(vpc) => format!("!GetAtt {vpc}.DefaultSecurityGroup"),
            None => "the VPC's default security group".into(),
        };
    }
    match (&sg.origin, resource(&sg.origin)) {
        (Origin::Spec(_), Some(id)) => format!("!Ref {id}"),
        _ => sg.id.clone().unwrap_or_else(|| sg.name.clone()),
    }
}

/// The `IpProtocol`/`FromPort`/`ToPort` properties of a rule.
fn protocol_props(protocol: &Protocol, ports: Option<PortRange>) -> String {
    let proto = match protocol {
        Protocol::All => return "`IpProtocol: -1`".into(),
        Protocol::Tcp => "tcp".to_string(),
        Protocol::Udp => "udp".to_string(),
        Protocol::Icmp => "icmp".to_string(),
        Protocol::Other(n) => return format!("`IpProtocol: {n}`"),
    };
    let (from, to) = match (ports, protocol) {
        (Some(p), _) => (p.from as i32, p.to as i32),
        (None, Protocol::Icmp) => (-1, -1),
        (None, _) => (0, 65535),
    };
    format!("`IpProtocol: {proto}`, `FromPort: {from}`, `ToPort: {to}`")
}

/// The peer of a rule resource: another group (its reference) or an IPv4 range.
pub(crate) enum Peer<'a> {
    Group(&'a str),
    Cidr(&'a str),
}

/// An `AWS::EC2::SecurityGroupIngress` / `SecurityGroupEgress` resource to add to the template.
pub(crate) fn rule_resource(
    group: &str,
    egress: bool,
    protocol: &Protocol,
    ports: Option<PortRange>,
    peer: Peer<'_>,
) -> String {
    let (kind, group_key, cidr_key) = if egress {
        (
            "SecurityGroupEgress",
            "DestinationSecurityGroupId",
            "CidrIp",
        )
    } else {
        ("SecurityGroupIngress", "SourceSecurityGroupId", "CidrIp")
    };
    let peer = match peer {
        Peer::Group(g) => format!("`{group_key}: {g}`"),
        Peer::Cidr(c) => format!("`{cidr_key}: {c}`"),
    };
    format!(
        "an `AWS::EC2::{kind}` with `GroupId: {group}`, {} and {peer}",
        protocol_props(protocol, ports)
    )
}

/// The rule resource that lets `sg` receive (`egress: false`) or send traffic from or to itself.
pub(crate) fn self_rule(
    sg: &SecurityGroup,
    egress: bool,
    protocol: &Protocol,
    ports: Option<PortRange>,
) -> String {
    let g = group_ref(sg);
    rule_resource(&g, egress, protocol, ports, Peer::Group(&g))
}

/// Where a rule sits in the template: `` `Resources.Sg.Properties.SecurityGroupIngress[0]` ``.
pub(crate) fn rule_place(origin: &Origin) -> String {
    match origin {
        Origin::Spec(p) | Origin::Implied(p) => format!("`{p}`"),
        Origin::Live(id) => format!("`{id}`"),
    }
}

/// The property that holds a rule's range: `CidrIpv6` for an IPv6 range, else `CidrIp`.
pub(crate) fn cidr_key(cidr: &str) -> &'static str {
    if cidr.contains(':') {
        "CidrIpv6"
    } else {
        "CidrIp"
    }
}

/// The fix of a node group's EFA layout: the interfaces its launch template lists for a type
/// with `max` EFA interfaces.
pub(crate) fn layout_fix(ng: &crate::model::NodeGroup, max: u32) -> String {
    let layout = match max {
        0 | 1 => "`InterfaceType: efa` on the primary interface (`NetworkCardIndex: 0`, `DeviceIndex: 0`)".to_string(),
        2 => "2 EFA interfaces: `InterfaceType: efa` on the primary (`NetworkCardIndex: 0`, `DeviceIndex: 0`) and one `InterfaceType: efa-only` (or `efa`) on `NetworkCardIndex: 1`".to_string(),
        n => format!(
            "{n} EFA interfaces: `InterfaceType: efa` on the primary (`NetworkCardIndex: 0`, `DeviceIndex: 0`) and one `InterfaceType: efa-only` (or `efa`) on each of network cards 1-{}",
            n - 1
        ),
    };
    format!(
        "in the `NetworkInterfaces` of {}'s `LaunchTemplateData`, list {layout}",
        named(&ng.origin, &ng.name)
    )
}

/// How a policy names a secret: its ARN, `!Ref` the template's own secret, or its name.
pub(crate) fn secret_ref(s: &crate::model::Secret) -> String {
    match (&s.arn, resource(&s.origin)) {
        (Some(arn), _) => format!("`{arn}`"),
        (None, Some(id)) => format!("`!Ref {id}` (the secret's ARN)"),
        (None, None) => format!("the ARN of secret `{}`", s.name),
    }
}

/// A layout fix worded with the interface fields of a spec, in a launch template's property
/// names (`type: efa` -> `InterfaceType: efa`).
pub(crate) fn interface_words(ng: &crate::model::NodeGroup, help: &str) -> String {
    let words = help
        .replace(
            "`{ networkCard: 0, deviceIndex: 0, type: efa }`",
            "`NetworkCardIndex: 0`, `DeviceIndex: 0`, `InterfaceType: efa`",
        )
        .replace("`type: ", "`InterfaceType: ");
    format!(
        "in the `NetworkInterfaces` of {}'s `LaunchTemplateData`: {words}",
        named(&ng.origin, &ng.name)
    )
}

/// Why the rules are separate resources: a group's inline rule cannot name the group itself.
pub(crate) const SEPARATE: &str =
    "(separate resources: an inline rule of a group cannot refer to the group itself)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_resources_name_the_properties_cloudformation_takes() {
        let r = rule_resource(
            "!Ref Nodes",
            false,
            &Protocol::Tcp,
            Some(PortRange { from: 988, to: 988 }),
            Peer::Group("!Ref Fsx"),
        );
        assert_eq!(
            r,
            "an `AWS::EC2::SecurityGroupIngress` with `GroupId: !Ref Nodes`, `IpProtocol: tcp`, `FromPort: 988`, `ToPort: 988` and `SourceSecurityGroupId: !Ref Fsx`"
        );
        let e = rule_resource(
            "sg-1",
            true,
            &Protocol::All,
            None,
            Peer::Cidr("10.0.0.0/16"),
        );
        assert!(
            e.contains("SecurityGroupEgress")
                && e.contains("`IpProtocol: -1` and `CidrIp: 10.0.0.0/16`")
        );
        assert_eq!(
            resource(&Origin::Spec(
                "Resources.Lt.Properties.LaunchTemplateData".into()
            )),
            Some("Lt")
        );
        assert_eq!(resource(&Origin::Spec("nodeGroups[0]".into())), None);
    }
}
