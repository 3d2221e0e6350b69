use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA011",
    name: "placement-group-missing",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "A multi-node EFA node group launches outside any placement group",
    doc: "## What it does
Checks node groups that use EFA and run more than one node (`count` or `maxCount` above 1), and
reports those launched in no placement group (`placementGroup: none`, or live instances with no
group). Groups running in a Capacity Block are not reported: EC2 already places Capacity Block
instances close together. Nor are SageMaker HyperPod instance groups: the CreateCluster request
has no placement setting (HyperPod places the instances itself), so there is nothing to change.

## Why it matters
AWS's EFA setup guide launches the instances into a cluster placement group, and
ParallelCluster's `EfaPlacementGroupValidator` flags EFA queues without one. A cluster placement
group packs instances close together inside one Availability Zone for the low latency that
tightly coupled node-to-node traffic needs; without it EC2 may place the nodes anywhere in the
zone, and collectives see higher latency and less bandwidth between them.

## Example
```yaml
nodeGroups:
  - name: train
    instanceType: p4d.24xlarge
    count: 4
    placementGroup: none
```

## Fix
Remove `placementGroup: none` (efactl then creates a cluster placement group for the group),
or name an existing one: `placementGroup: { name: NAME, strategy: cluster }`. For live
instances: `aws ec2 create-placement-group --group-name NAME --strategy cluster`, then stop
each instance and `aws ec2 modify-instance-placement --instance-id ID --group-name NAME`
before starting it again.

## Source
efa-facts.md §8 (\"Placement: use a cluster placement group\", EC2UG2023 `efa-start.md` Step 8;
PC `EfaPlacementGroupValidator`) and §2.9 (PC-VAL); EC2 User Guide, Capacity Blocks for ML
(\"Instances that run inside a Capacity Block are automatically placed close together inside
Amazon EC2 UltraClusters\", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-capacity-blocks.html).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    if cx.cluster.read_from == crate::model::ReadFrom::HyperPod {
        return;
    }
    for ng in &cx.cluster.node_groups {
        if !ng.uses_efa()
            || !ng.is_multi_node()
            || ng.placement_group.is_some()
            || matches!(ng.capacity, Capacity::CapacityBlock { .. })
        {
            continue;
        }
        r.report(
            ng.origin.at("placementGroup"),
            format!(
                "node group `{}` runs up to {} EFA nodes of `{}` in no placement group, so EC2 may place them far apart in the zone",
                ng.name,
                ng.count.max(ng.max_count),
                ng.instance_type()
            ),
        )
        .help = Some(match &ng.capacity {
            // Reserved capacity only serves launches into the group it was made in, so the
            // fix is on the reservation's side, not a new group.
            Capacity::Reservation { id, .. } if crate::rules::template::in_template(cx.cluster) => format!(
                "reservation `{id}` was made in no placement group; create the reservation in a cluster placement group and name that group in `Placement.GroupName` of {}'s `LaunchTemplateData`",
                crate::rules::template::named(&ng.origin, &ng.name)
            ),
            Capacity::Reservation { id, .. } if crate::rules::eksctl::in_config(cx.cluster) => format!(
                "reservation `{id}` was made in no placement group; create the reservation in a cluster placement group (`aws ec2 create-capacity-reservation --placement-group-arn ...`) and name that group in `placement.groupName` of {}",
                crate::rules::eksctl::group(ng)
            ),
            Capacity::Reservation { id, .. } => format!(
                "reservation `{id}` was made in no placement group; create the reservation in a cluster placement group and name that group with `reservationPlacementGroup`"
            ),
            _ if crate::rules::eksctl::in_config(cx.cluster) => format!(
                "create a cluster placement group (`aws ec2 create-placement-group --group-name NAME --strategy cluster`) and name it in `placement.groupName` of {} (eksctl creates none by itself)",
                crate::rules::eksctl::group(ng)
            ),
            _ if crate::rules::pcluster::in_config(cx.cluster) => format!(
                "set `Networking.PlacementGroup: {{Enabled: true}}` on {} (ParallelCluster then creates a cluster placement group for each compute resource), or name an existing cluster placement group in `Networking.PlacementGroup.Name`",
                crate::rules::pcluster::queue(ng)
            ),
            _ if crate::rules::template::in_template(cx.cluster) => format!(
                "add an `AWS::EC2::PlacementGroup` with `Strategy: cluster` and name it in `Placement.GroupName` of {}'s `LaunchTemplateData` (or the group's own `PlacementGroup` property)",
                crate::rules::template::named(&ng.origin, &ng.name)
            ),
            _ if crate::rules::live::live_id(&ng.origin).is_some() => "create a cluster placement group (`aws ec2 create-placement-group --group-name NAME --strategy cluster`) and launch the nodes into it; a node already running moves only while stopped (`aws ec2 modify-instance-placement --instance-id ID --group-name NAME`)".into(),
            _ => "remove `placementGroup: none` (efactl creates a cluster placement group), or name an existing one with `strategy: cluster`".into(),
        });
    }
}
