use super::ingress_open_to_world::{is_ssh_only, sg_with_users, world_ingress};
use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA005",
    name: "ssh-open-to-world",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "A security group of the cluster admits SSH from anywhere on the internet",
    doc: "## What it does
Checks every inbound rule of every security group the cluster uses (on node groups, VPC
endpoints and file systems) for SSH, TCP port 22 exactly, from `0.0.0.0/0` or `::/0`. Wider
world-open rules (all traffic, port ranges that include 22) are EFA004's error.

## Why it matters
A head or login node with port 22 open to the internet is scanned and brute-forced within
minutes of launch. MPI's SSH between nodes does not need it: that traffic stays inside the
cluster's own security groups (a self-referencing rule covers it), and people can reach the
nodes without any inbound rule through SSM Session Manager.

## Example
```yaml
securityGroups:
  - name: head
    ingress:
      - { protocol: tcp, ports: 22, cidr: 0.0.0.0/0 }
```

## Fix
Use SSM Session Manager (`aws ssm start-session --target i-...`; it needs the
`ssm`, `ssmmessages` and `ec2messages` endpoints in a subnet without internet), or narrow
`cidr` to a bastion's or an office's range: `{ protocol: tcp, ports: 22, cidr: 203.0.113.0/24 }`.
On a live group:
`aws ec2 revoke-security-group-ingress --group-id SG --protocol tcp --port 22 --cidr 0.0.0.0/0`.

## Source
Not an EFA fact (efa-facts.md §3 lists only traffic between the cluster's own groups; §7 lists
the SSM endpoints). AWS Security Hub control EC2.13 (\"Security groups should not allow
ingress from 0.0.0.0/0 or ::/0 to port 22\"); CIS AWS Foundations Benchmark \"Ensure no
security groups allow ingress from 0.0.0.0/0 to remote server administration ports\"
(https://hub.steampipe.io/mods/turbot/aws_compliance/controls/control.cis_v200_5_3).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for (sg, rule, cidr) in world_ingress(cx.cluster) {
        if !is_ssh_only(rule) {
            continue;
        }
        r.report(
            rule.origin.subject(),
            format!(
                "{} admits SSH (TCP 22) from {cidr}, the whole internet",
                sg_with_users(cx.cluster, sg)
            ),
        )
        .help = Some(match crate::rules::live::live_sg(sg) {
            Some(id) => format!(
                "remove the rule, {}, and reach the nodes with SSM Session Manager (no inbound rule needed) or admit only a bastion's or an office's range",
                crate::rules::live::revoke_cidr_ingress(id, &rule.protocol, rule.ports, &cidr.to_string())
            ),
            None if crate::rules::pcluster::in_config(cx.cluster) => format!(
                "set `HeadNode.Ssh.AllowedIps` (now {cidr}, ParallelCluster's default when it is left out) to a bastion's or an office's range, or reach the head node with SSM Session Manager and no SSH rule"
            ),
            None if crate::rules::template::in_template(cx.cluster) => format!(
                "reach the nodes with SSM Session Manager (no inbound rule needed) and remove the rule in {}, or set its `{}` (now {cidr}) to a bastion's or an office's range",
                crate::rules::template::rule_place(&rule.origin),
                crate::rules::template::cidr_key(&cidr.to_string())
            ),
            None => "reach the nodes with SSM Session Manager (no inbound rule needed), or narrow `cidr` to a bastion's or an office's range".into(),
        });
    }
}
