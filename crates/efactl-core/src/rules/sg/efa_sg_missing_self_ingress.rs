use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA001",
    name: "efa-sg-missing-self-ingress",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A security group on an EFA interface lacks all-traffic ingress from itself",
    doc: "## What it does
Checks every security group attached to an EFA interface for an inbound rule that allows all
traffic (protocol `-1`) from the group itself.

## Why it matters
\"The EFA must be a member of a security group that allows all inbound and outbound traffic to
and from the security group itself.\" EFA's SRD traffic is matched only by security-group
references: without the rule, NCCL fails with libfabric errors such as `Unreachable remote` or
hangs at the first collective, while TCP tests between the same nodes pass.

## Example
```yaml
securityGroups:
  - name: efa
    ingress:
      - { protocol: tcp, ports: 22, securityGroup: efa }
```

## Fix
Give the group `selfReferencing: true` (efactl adds ingress and egress), or add
`{ protocol: all, self: true }` under `ingress`. On a live group:
`aws ec2 authorize-security-group-ingress --group-id SG --protocol -1 --source-group SG`.

## Source
EC2 User Guide, efa-start.md Step 1 (efa-facts.md §3.1); ParallelCluster
EfaSecurityGroupValidator.
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for sg in
        crate::rules::efa_groups_lacking(cx.cluster, |sg| crate::rules::has_self_rule(sg, false))
    {
        {
            r.report(
                sg.origin.at("ingress"),
                format!(
                    "security group `{}` is on EFA interfaces but has no all-traffic ingress rule from itself",
                    crate::rules::sg_label(sg)
                ),
            )
            .help = Some(match crate::rules::live::live_sg(sg) {
                Some(id) => format!(
                    "add the rule to the group: {}",
                    crate::rules::live::authorize_self(id, false, &Protocol::All, None)
                ),
                None if crate::rules::template::in_template(cx.cluster) => format!(
                    "add {} {}",
                    crate::rules::template::self_rule(sg, false, &Protocol::All, None),
                    crate::rules::template::SEPARATE
                ),
                None => "add `selfReferencing: true` to the group (or an ingress rule `{ protocol: all, self: true }`)".into(),
            });
        }
    }
}
