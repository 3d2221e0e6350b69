use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA012",
    name: "placement-group-not-cluster",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "An EFA node group launches into a spread or partition placement group",
    doc: "## What it does
Checks node groups that use EFA and launch into a placement group, and reports those whose
group has the `spread` or `partition` strategy instead of `cluster`.

## Why it matters
Spread and partition groups do the opposite of what EFA traffic needs: a spread group puts
every instance on a distinct rack (at most seven running instances per Availability Zone per
group, so an eighth node cannot launch), and a partition group splits instances over
partitions that share no racks. Both keep the nodes apart, while tightly coupled NCCL and MPI
jobs need them close together. Spread and partition groups also cannot hold Capacity
Reservations. The placement group of a live instance cannot be changed while it runs.

## Example
```yaml
nodeGroups:
  - name: train
    instanceType: p5.48xlarge
    count: 4
    placementGroup: { name: train-pg, strategy: spread }
```

## Fix
Use a cluster placement group: remove `placementGroup` (efactl creates one) or name a group
created with `strategy: cluster`. A placement group's strategy cannot be changed; create a new
one with `aws ec2 create-placement-group --group-name NAME --strategy cluster`, stop the
instances and move them with `aws ec2 modify-instance-placement --instance-id ID --group-name NAME`.

## Source
efa-facts.md §8 (\"Placement: use a cluster placement group\", EC2UG2023 `efa-start.md` Step 8;
PC `EfaPlacementGroupValidator`); EC2 User Guide, placement group strategies and rules
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/placement-groups.html,
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/cr-cpg.html: \"Spread and Partition
placement groups do not support Capacity Reservations\").
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for ng in &cx.cluster.node_groups {
        if !ng.uses_efa() {
            continue;
        }
        let Some(pg) = ng
            .placement_group
            .as_deref()
            .and_then(|k| cx.cluster.placement_group(k))
        else {
            continue;
        };
        if pg.strategy == PlacementStrategy::Cluster {
            continue;
        }
        let subject = match &pg.origin {
            // A live group is its own resource; a planned one is written on the node group.
            Origin::Live(_) => pg.origin.at("strategy"),
            _ => ng.origin.at("placementGroup.strategy"),
        };
        r.report(
            subject,
            format!(
                "node group `{}` uses EFA but launches into placement group `{}`, whose strategy is {}: its nodes are kept apart instead of close together",
                ng.name,
                pg.name,
                pg.strategy.name()
            ),
        )
        .help = Some(match &pg.origin {
            // A group's strategy cannot be changed: a new group, and the nodes moved into it.
            Origin::Live(_) => "a placement group's strategy cannot be changed: create a cluster placement group (`aws ec2 create-placement-group --group-name NAME --strategy cluster`) and launch the nodes into it; a node already running moves only while stopped (`aws ec2 modify-instance-placement --instance-id ID --group-name NAME`)".into(),
            _ => "use a placement group with `strategy: cluster` (or remove `placementGroup` and let efactl create one)".into(),
        });
    }
}
