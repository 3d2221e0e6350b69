use crate::net::Cidr;
use crate::rules::prelude::*;
use crate::rules::{sg_label, sg_users, traffic_label};

pub static RULE: Rule = Rule {
    id: "EFA004",
    name: "ingress-open-to-world",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A security group of the cluster admits traffic from anywhere on the internet",
    doc: "## What it does
Checks every inbound rule of every security group the cluster uses (on node groups, VPC
endpoints and file systems) for a source of `0.0.0.0/0` or `::/0`. SSH alone (TCP 22) is
EFA005's warning; anything else open to the world is this error: all traffic, all TCP, a port
range, a single service port, UDP or ICMP. On a group that only VPC endpoints and file systems
carry, it is a warning: their interfaces never have a public address, so the rule admits the
VPC and the networks routed into it, not the internet.

## Why it matters
Nothing in an EFA cluster needs inbound traffic from the internet: EFA, NCCL, MPI and Lustre
traffic stays between the cluster's own security groups, and AWS services answer outbound
connections (security groups are stateful). A world-open rule exposes every node that carries
the group, and on a group that is also on the EFA interfaces it exposes the whole training
fleet. On a node in a public subnet with a public address the port is reachable from
anywhere at once.

## Example
```yaml
securityGroups:
  - name: head
    ingress:
      - { protocol: tcp, ports: 8888, cidr: 0.0.0.0/0 }   # Jupyter for everyone
```

## Fix
Narrow `cidr` to the addresses that need the port (a VPN, office or load-balancer range), use
a `securityGroup:` source, or reach the port without an inbound rule through SSM Session
Manager port forwarding. On a live group:
`aws ec2 revoke-security-group-ingress --group-id SG --ip-permissions IpProtocol=tcp,FromPort=8888,ToPort=8888,IpRanges=[{CidrIp=0.0.0.0/0}]`.

## Source
Not an EFA fact (efa-facts.md §3 lists only traffic between the cluster's own groups). AWS
Security Hub controls EC2.18 (\"Security groups should only allow unrestricted incoming
traffic for authorized ports\") and EC2.19 (high-risk ports); CIS AWS Foundations Benchmark
\"Ensure no security groups allow ingress from 0.0.0.0/0 to remote server administration
ports\" (5.2/5.3 in v1.5-v2.0, 6.3 in v6.0,
https://hub.steampipe.io/mods/turbot/aws_compliance/controls/control.cis_v200_5_3).
",
    check: Some(check),
};

/// Inbound rules open to the world on the security groups something in the cluster uses.
pub(super) fn world_ingress(cluster: &Cluster) -> Vec<(&SecurityGroup, &SgRule, Cidr)> {
    let mut out = Vec::new();
    for sg in &cluster.security_groups {
        let open: Vec<(&SgRule, Cidr)> = sg
            .ingress
            .iter()
            .filter_map(|rule| match &rule.peer {
                Peer::Cidr(c) if c.is_world() => Some((rule, *c)),
                _ => None,
            })
            .collect();
        // Who uses the group is only worth working out for a group that is open.
        if open.is_empty() || sg_users(cluster, &sg.key).is_empty() {
            continue;
        }
        out.extend(open.into_iter().map(|(rule, c)| (sg, rule, c)));
    }
    out
}

/// Only VPC endpoints and file systems carry the group: their interfaces never have a public
/// address, so the internet cannot reach them through it, whatever the route tables say.
pub(super) fn no_public_carrier(cluster: &Cluster, sg: &SecurityGroup) -> bool {
    let users = sg_users(cluster, &sg.key);
    !users.is_empty() && !users.iter().any(|u| u.starts_with("node group"))
}

/// SSH and nothing else: TCP port 22 exactly.
pub(super) fn is_ssh_only(rule: &SgRule) -> bool {
    rule.protocol == Protocol::Tcp && rule.ports == Some(PortRange { from: 22, to: 22 })
}

/// `security group `head` (node group `head`)`.
pub(super) fn sg_with_users(cluster: &Cluster, sg: &SecurityGroup) -> String {
    format!(
        "security group `{}` ({})",
        sg_label(sg),
        sg_users(cluster, &sg.key).join(", ")
    )
}

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for (sg, rule, cidr) in world_ingress(cx.cluster) {
        if is_ssh_only(rule) {
            continue;
        }
        let private = no_public_carrier(cx.cluster, sg);
        let f = r.report(
            rule.origin.subject(),
            if private {
                format!(
                    "{} admits {} from {cidr}: endpoints and file systems have no public address, so the internet cannot reach them through it, but every address that routes into the VPC can",
                    sg_with_users(cx.cluster, sg),
                    traffic_label(&rule.protocol, rule.ports)
                )
            } else {
                format!(
                    "{} admits {} from {cidr}, the whole internet",
                    sg_with_users(cx.cluster, sg),
                    traffic_label(&rule.protocol, rule.ports)
                )
            },
        );
        if private {
            f.severity = Severity::Warning;
        }
        f.help = Some(match crate::rules::live::live_sg(sg) {
            Some(id) => format!(
                "remove the rule, {}, and admit only the addresses that need it (a VPN or office range) or a security group; SSM Session Manager port forwarding needs no inbound rule",
                crate::rules::live::revoke_cidr_ingress(id, &rule.protocol, rule.ports, &cidr.to_string())
            ),
            None if crate::rules::pcluster::in_config(cx.cluster) => {
                let key = match &rule.origin {
                    crate::model::Origin::Spec(p) if p.starts_with("HeadNode.Dcv") => "`HeadNode.Dcv.AllowedIps`",
                    _ => "the `AllowedIps` that opened it",
                };
                format!(
                    "set {key} (now {cidr}, ParallelCluster's default when it is left out) to the addresses that need it (a VPN or office range); SSM Session Manager port forwarding needs no inbound rule"
                )
            }
            None if crate::rules::template::in_template(cx.cluster) => format!(
                "in {}, set `{}` (now {cidr}) to the addresses that need it (a VPN or office range), or name a group in `SourceSecurityGroupId` instead; SSM Session Manager port forwarding needs no inbound rule",
                crate::rules::template::rule_place(&rule.origin),
                crate::rules::template::cidr_key(&cidr.to_string())
            ),
            None => "narrow `cidr` to the addresses that need it (a VPN or office range) or use a `securityGroup` source; SSM Session Manager port forwarding needs no inbound rule".into(),
        });
    }
}
