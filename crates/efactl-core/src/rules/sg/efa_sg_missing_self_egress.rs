use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA002",
    name: "efa-sg-missing-self-egress",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A security group on an EFA interface lacks all-traffic egress to itself",
    doc: "## What it does
Checks every security group attached to an EFA interface for an outbound rule that allows all
traffic (protocol `-1`) to the group itself. An egress rule to `0.0.0.0/0` does not count.

## Why it matters
EFA addresses are neither IPv4 nor IPv6: AWS matches EFA traffic only against
security-group-id rules, so the default \"all traffic to 0.0.0.0/0\" egress does not let it
out. This is the most common EFA mistake: TCP works, `fi_pingpong` and NCCL fail with
`Unresponsive receiver (reachable by EFA device but handshake failed)` (libfabric error 4126),
and HyperPod refuses to create the cluster (\"EFA health checks did not run successfully\").

## Example
```yaml
securityGroups:
  - name: efa
    ingress:
      - { protocol: all, self: true }
    # no egress listed: AWS's default egress is 0.0.0.0/0 only
```

## Fix
Give the group `selfReferencing: true`, or add `{ protocol: all, self: true }` under `egress`.
On a live group:
`aws ec2 authorize-security-group-egress --group-id SG --protocol -1 --source-group SG`.

## Source
EC2 User Guide efa-start.md Step 1; awslabs/awsome-distributed-ai#546;
gardener/gardener-extension-provider-aws#1832 (efa-facts.md §3.1).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for sg in
        crate::rules::efa_groups_lacking(cx.cluster, |sg| crate::rules::has_self_rule(sg, true))
    {
        let world = sg.egress.iter().any(|rule| {
            rule.is_all_traffic() && matches!(&rule.peer, Peer::Cidr(c) if c.is_world())
        });
        let message = if world {
            format!(
                "security group `{}` is on EFA interfaces and allows egress only to 0.0.0.0/0, which EFA traffic does not match",
                crate::rules::sg_label(sg)
            )
        } else {
            format!(
                "security group `{}` is on EFA interfaces but has no all-traffic egress rule to itself",
                crate::rules::sg_label(sg)
            )
        };
        r.report(sg.origin.at("egress"), message).help = Some(match crate::rules::live::live_sg(sg) {
            Some(id) => format!(
                "add the rule to the group: {}",
                crate::rules::live::authorize_self(id, true, &Protocol::All, None)
            ),
            None if crate::rules::template::in_template(cx.cluster) => format!(
                "add {} {}",
                crate::rules::template::self_rule(sg, true, &Protocol::All, None),
                crate::rules::template::SEPARATE
            ),
            None => "add `selfReferencing: true` to the group (or an egress rule `{ protocol: all, self: true }`)".into(),
        });
    }
}
