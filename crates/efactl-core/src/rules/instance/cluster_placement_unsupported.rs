use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA013",
    name: "cluster-placement-unsupported",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A node group's instance type cannot launch in a cluster placement group",
    doc: "## What it does
Checks node groups that launch into a cluster placement group, and reports each of their
instance types that cluster placement groups do not take: burstable types (`t2`, `t3`, `t4g`,
...), Mac instances and the flex types (`m7i-flex`).

## Why it matters
Cluster placement groups support current-generation instance types except burstable
performance instances, Mac instances and the flex types (and some previous-generation types);
EC2 rejects a launch of any other type into one, so the node group never starts. This usually
happens when a small head or test node group is pointed at the compute nodes' placement group.

## Example
```yaml
nodeGroups:
  - name: head
    role: head
    instanceType: t3.large
    placementGroup: { name: train-pg, strategy: cluster }
```

## Fix
Launch the group without a placement group (`placementGroup: none`): only the nodes that talk
over EFA need one. Or use a type that cluster placement groups support (`c6i.large` or
`m6i.large` for a head node). What a type supports:
`aws ec2 describe-instance-types --instance-types TYPE --query 'InstanceTypes[].PlacementGroupInfo.SupportedStrategies'`.

## Source
EC2 User Guide, placement group rules and limitations, cluster placement groups
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/placement-groups.html, section \"Placement
group rules and limitations\"; efactl's catalog encodes it as `cluster_placement`, src/catalog.rs);
EC2 API `PlacementGroupInfo.SupportedStrategies`;
efa-facts.md §8 (why EFA groups use cluster placement groups).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for ng in &cx.cluster.node_groups {
        let Some(pg) = ng
            .placement_group
            .as_deref()
            .and_then(|k| cx.cluster.placement_group(k))
        else {
            continue;
        };
        if pg.strategy != PlacementStrategy::Cluster {
            continue;
        }
        for (j, name) in ng.instance_types.iter().enumerate() {
            let Some(t) = cx.catalog.get(name) else {
                continue;
            };
            if t.cluster_placement {
                continue;
            }
            r.report(
                crate::rules::instance_type_subject(ng, j),
                format!(
                    "node group `{}` launches `{name}` into cluster placement group `{}`, but cluster placement groups do not take {} instances",
                    ng.name,
                    pg.name,
                    t.family()
                ),
            )
            .help = Some(if crate::rules::pcluster::in_config(cx.cluster) {
                format!(
                    "set `Networking.PlacementGroup.Enabled: false` for {}, or use a type that cluster placement groups support (not burstable, Mac or flex)",
                    crate::rules::pcluster::nodes(ng)
                )
            } else if crate::rules::template::in_template(cx.cluster) {
                format!(
                    "leave `Placement.GroupName` out of {}'s launch data, or use a type that cluster placement groups support (not burstable, Mac or flex)",
                    crate::rules::template::named(&ng.origin, &ng.name)
                )
            } else if crate::rules::live::live_id(&ng.origin).is_some() {
                "launch these nodes outside the cluster placement group, or as a type that cluster placement groups support (not burstable, Mac or flex)".into()
            } else {
                "set `placementGroup: none` for this group, or use a type that cluster placement groups support (not burstable, Mac or flex)".into()
            });
        }
    }
}
