use crate::rules::prelude::*;
use crate::rules::{and_list, efa_interface_group_sets, has_self_rule, sg_label};

pub static RULE: Rule = Rule {
    id: "EFA003",
    name: "efa-interface-sg-missing-self-rules",
    severity: Severity::Error,
    category: Category::Cluster,
    title:
        "A security group beside a self-referencing group on an EFA interface lacks the self rules",
    doc: "## What it does
Where an EFA interface carries several security groups, checks that every one of them allows
all traffic in from itself and out to itself, as soon as one group beside it does. It applies
in the `every` security-group mode, the default for every target except `parallelcluster`
(`checks.efaSecurityGroupMode`). When no group on the interface has a self rule in a
direction, EFA001 (ingress) or EFA002 (egress) reports it instead.

## Why it matters
EC2 pools the rules of all groups on an interface, so one good group lets EFA traffic pass;
but SageMaker HyperPod checks each security group on the EFA interfaces on its own: every
group attached to the EFA interfaces must carry the self rules. With one good group and one
without, cluster creation fails with \"EFA health checks did not run successfully. Ensure that
your VPC and security groups are properly configured before attempting to create a new
cluster.\" ParallelCluster's validator is more lenient (one group with both rules is enough),
which is why `parallelcluster` defaults to the `any` mode.

## Example
```yaml
target: hyperpod
securityGroups:
  - name: efa
    selfReferencing: true
  - name: monitoring          # also on the EFA interfaces, no self rules
    ingress:
      - { protocol: tcp, ports: 9100, cidr: 10.0.0.0/16 }
nodeGroups:
  - name: gpu
    instanceType: p5.48xlarge
    securityGroups: [efa, monitoring]
```

## Fix
Give the lacking group `selfReferencing: true`, or move it off the EFA interfaces (list
`networkInterfaces` with `securityGroups` per interface). On a live group:
`aws ec2 authorize-security-group-ingress --group-id SG --protocol -1 --source-group SG` and
`aws ec2 authorize-security-group-egress --group-id SG --protocol -1 --source-group SG`.
If your deployment tool accepts one good group among several, set
`checks: { efaSecurityGroupMode: any }`.

## Source
efa-facts.md §3.1 \"Multiple SGs\" (awslabs/awsome-distributed-ai
`1.architectures/5.sagemaker-hyperpod/2.SageMakerVPC.yaml` and
https://github.com/awslabs/awsome-distributed-ai/pull/259); ParallelCluster
EfaSecurityGroupValidator (PC-VAL) for the `any` mode.
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    if cx.cluster.settings.efa_sg_mode != SgMode::Every {
        return;
    }
    // (group, lacks ingress, lacks egress, a group beside it that has the rules).
    let mut lacking: Vec<(&SecurityGroup, bool, bool, &SecurityGroup)> = Vec::new();
    for set in efa_interface_group_sets(cx.cluster) {
        let with_ingress = set.iter().copied().find(|sg| has_self_rule(sg, false));
        let with_egress = set.iter().copied().find(|sg| has_self_rule(sg, true));
        for sg in &set {
            // A direction no group of the set covers is EFA001's or EFA002's finding.
            let no_ingress = !has_self_rule(sg, false) && with_ingress.is_some();
            let no_egress = !has_self_rule(sg, true) && with_egress.is_some();
            let Some(good) = with_ingress.filter(|_| no_ingress).or(with_egress) else {
                continue;
            };
            if !no_ingress && !no_egress {
                continue;
            }
            match lacking.iter_mut().find(|(s, ..)| s.key == sg.key) {
                Some(entry) => {
                    entry.1 |= no_ingress;
                    entry.2 |= no_egress;
                }
                None => lacking.push((sg, no_ingress, no_egress, good)),
            }
        }
    }
    for (sg, no_ingress, no_egress, good) in lacking {
        let (what, subject) = match (no_ingress, no_egress) {
            (true, true) => (
                "all-traffic ingress from itself or egress to itself",
                sg.origin.subject(),
            ),
            (true, false) => ("all-traffic ingress from itself", sg.origin.at("ingress")),
            _ => ("all-traffic egress to itself", sg.origin.at("egress")),
        };
        let users: Vec<&str> = cx
            .cluster
            .node_groups
            .iter()
            .filter(|ng| {
                ng.efa_interfaces()
                    .any(|n| n.security_groups.contains(&sg.key))
            })
            .map(|ng| ng.name.as_str())
            .collect();
        let groups = if users.len() == 1 {
            "node group"
        } else {
            "node groups"
        };
        let consequence = if cx.cluster.target == Target::HyperPod {
            "HyperPod's EFA health check fails on a group without them"
        } else {
            "the `every` security-group mode (HyperPod's check) wants both self rules on every group"
        };
        r.report(
            subject,
            format!(
                "security group `{}` is on the EFA interfaces of {groups} {} beside `{}`, but has no {what}; {consequence}",
                sg_label(sg),
                and_list(&users),
                sg_label(good),
            ),
        )
        .help = Some(match crate::rules::live::live_sg(sg) {
            Some(id) => format!(
                "add the missing rule{} to the group: {}",
                if no_ingress && no_egress { "s" } else { "" },
                crate::rules::live::authorize_self_all(id, no_ingress, no_egress)
            ),
            None if crate::rules::template::in_template(cx.cluster) => {
                let t = crate::rules::template::self_rule;
                let rules: Vec<String> = [(no_ingress, false), (no_egress, true)]
                    .iter()
                    .filter(|(missing, _)| *missing)
                    .map(|(_, egress)| t(sg, *egress, &Protocol::All, None))
                    .collect();
                format!(
                    "add {} {}, or take `{}` off the launch templates' EFA interfaces (`Groups`)",
                    rules.join(", and "),
                    crate::rules::template::SEPARATE,
                    sg.name
                )
            }
            None => format!(
                "add `selfReferencing: true` to `{}`, or take it off the EFA interfaces",
                sg.name
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    const SPEC: &str = "apiVersion: efactl.dev/v1alpha1
name: t
region: us-east-1
availabilityZone: us-east-1a
target: TARGET
network:
  subnets:
    - { name: compute, cidr: 10.0.0.0/20, internet: nat }
securityGroups:
  - { name: efa, selfReferencing: true }
  - name: extra
    ingress:
      - { protocol: tcp, ports: 9100, cidr: 10.0.0.0/16 }
nodeGroups:
  - { name: gpu, instanceType: p4d.24xlarge, count: 2, securityGroups: [efa, extra] }
";

    #[test]
    fn any_mode_accepts_one_good_group() {
        let hyperpod = SPEC.replace("TARGET", "hyperpod");
        assert_eq!(crate::rules::findings_of("EFA003", &hyperpod).len(), 1);
        let any = format!("{hyperpod}checks: {{ efaSecurityGroupMode: any }}\n");
        assert!(crate::rules::findings_of("EFA003", &any).is_empty());
        // ParallelCluster's own validator is the `any` mode, its default.
        let pc = SPEC.replace("TARGET", "parallelcluster");
        assert!(crate::rules::findings_of("EFA003", &pc).is_empty());
    }
}
