use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA014",
    name: "placement-group-capacity-conflict",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "A node group's placement group does not match where its reserved capacity is",
    doc: "## What it does
Checks node groups that launch into reserved capacity against their placement group:

- a Capacity Block (`capacity: { capacityBlock: cr-... }`) used together with a placement group;
- a Capacity Reservation created in a placement group (`reservationPlacementGroup`) used from a
  different placement group, or from none;
- a Capacity Reservation created in no placement group used from inside one (including the
  cluster placement group efactl creates for multi-node EFA groups).

## Why it matters
This is the insufficient-capacity trap: launches fail with `InsufficientInstanceCapacity` even
though the reservation shows available capacity. A Capacity Reservation holds instances in an
Availability Zone; only one created in a cluster placement group holds them inside that group,
and EC2 places reserved capacity only into the placement group the reservation was created for.
A launch into another placement group must satisfy the group's placement, which the reserved
instances were never placed to meet; a launch outside the reservation's placement group does
not match it at all. Capacity Blocks are already placed close together in an EC2 UltraCluster,
so a placement group adds nothing but a second constraint. ParallelCluster warns on both:
\"When using a capacity block reservation, a placement group constraint should not be set as
insufficient capacity errors may occur due to placement constraints outside of the reservation
even if the capacity reservation has remaining capacity\", and \"When using an open or targeted
capacity reservation with an unrelated placement group, insufficient capacity errors may
occur\".

## Example
```yaml
nodeGroups:
  - name: train
    instanceType: p5.48xlarge
    count: 4
    capacity: { capacityBlock: cr-0123456789abcdef0 }
    placementGroup: { name: train-pg, strategy: cluster }
```

## Fix
With a Capacity Block, remove `placementGroup` (efactl creates none for Capacity Blocks). With
a reservation created in a placement group, launch into that group:
`placementGroup: { name: NAME, strategy: cluster }` with `reservationPlacementGroup: NAME`. With
a reservation in no placement group, either set `placementGroup: none`, or create the
reservation in a cluster placement group (an existing reservation cannot be moved into one):
`aws ec2 create-capacity-reservation --instance-type TYPE --instance-platform Linux/UNIX
--availability-zone AZ --instance-count N --placement-group-arn PG_ARN`. Where a reservation
sits: `aws ec2 describe-capacity-reservations --capacity-reservation-ids cr-... --query
'CapacityReservations[].PlacementGroupArn'`.

## Source
EC2 User Guide, Capacity Reservations in cluster placement groups
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/cr-cpg.html: \"To reserve capacity in a
placement group, you must create the Capacity Reservation in the placement group\"), placement
group rules (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/placement-groups.html: \"we
recommend that you reserve capacity explicitly in the cluster placement group\"), Capacity
Blocks for ML (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-capacity-blocks.html);
aws/aws-parallelcluster `cli/src/pcluster/validators/ec2_validators.py`
(`PlacementGroupCapacityTypeValidator`, `PlacementGroupCapacityReservationValidator`;
aws/aws-parallelcluster#6311). Not yet in efa-facts.md.
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for ng in &cx.cluster.node_groups {
        let pg = ng
            .placement_group
            .as_deref()
            .and_then(|k| cx.cluster.placement_group(k));
        let pg_label = |pg: &PlacementGroup| {
            if pg.managed {
                format!("placement group `{}` (which efactl creates)", pg.name)
            } else {
                format!("placement group `{}`", pg.name)
            }
        };
        match &ng.capacity {
            Capacity::CapacityBlock { id } => {
                // Any placement group conflicts, whatever its strategy: one a config only
                // names (not in the model) too.
                let label = match (pg, ng.placement_group.as_deref()) {
                    (Some(pg), _) => pg_label(pg),
                    (None, Some(name)) => format!("placement group `{name}`"),
                    (None, None) => continue,
                };
                r.report(
                    ng.origin.at("placementGroup"),
                    format!(
                        "node group `{}` launches Capacity Block `{id}` into {label}: launches can fail with InsufficientInstanceCapacity although the block has capacity left",
                        ng.name,
                    ),
                )
                .help = Some(if crate::rules::pcluster::in_config(cx.cluster) {
                    format!(
                        "set `Networking.PlacementGroup.Enabled: false` on {}: Capacity Block instances are already placed close together",
                        crate::rules::pcluster::queue(ng)
                    )
                } else if crate::rules::eksctl::in_config(cx.cluster) {
                    format!(
                        "remove `placement` from {}: Capacity Block instances are already placed close together",
                        crate::rules::eksctl::group(ng)
                    )
                } else if crate::rules::template::in_template(cx.cluster) {
                    format!(
                        "leave `Placement.GroupName` out of {}'s launch data: Capacity Block instances are already placed close together",
                        crate::rules::template::named(&ng.origin, &ng.name)
                    )
                } else {
                    "remove `placementGroup`: Capacity Block instances are already placed close together".into()
                });
            }
            Capacity::Reservation {
                id,
                placement_group: reserved_in,
            } => {
                let reserved_in = reserved_in.as_deref().map(pg_name);
                let (subject, message, help) = match (reserved_in, pg) {
                    (Some(rpg), Some(pg)) if rpg == pg.name => continue,
                    (None, None) => continue,
                    (Some(rpg), Some(pg)) => (
                        ng.origin.at("capacity.reservationPlacementGroup"),
                        format!(
                            "node group `{}` uses reservation `{id}`, created in placement group `{rpg}`, but launches into {}: the reserved capacity does not serve it",
                            ng.name,
                            pg_label(pg)
                        ),
                        format!("launch into the reservation's group: `placementGroup: {{ name: {rpg}, strategy: cluster }}`"),
                    ),
                    (Some(rpg), None) => (
                        ng.origin.at("capacity.reservationPlacementGroup"),
                        format!(
                            "node group `{}` uses reservation `{id}`, created in placement group `{rpg}`, but launches in no placement group: the reserved capacity does not serve it",
                            ng.name
                        ),
                        format!("launch into the reservation's group: `placementGroup: {{ name: {rpg}, strategy: cluster }}`"),
                    ),
                    (None, Some(pg)) => (
                        ng.origin.at("placementGroup"),
                        format!(
                            "node group `{}` uses reservation `{id}`, which is in no placement group, from inside {}: launches can fail with InsufficientInstanceCapacity although capacity is reserved",
                            ng.name,
                            pg_label(pg)
                        ),
                        "create the reservation in a cluster placement group and name both (`placementGroup: { name: .. }`, `reservationPlacementGroup: ..`), or set `placementGroup: none`".into(),
                    ),
                };
                let help = if crate::rules::template::in_template(cx.cluster) {
                    let lt = crate::rules::template::named(&ng.origin, &ng.name);
                    match reserved_in {
                        Some(rpg) => format!("launch into the reservation's group: set `Placement.GroupName` of {lt}'s launch data to `{rpg}`"),
                        None => format!("create the reservation in a cluster placement group and name that group in `Placement.GroupName` of {lt}'s launch data, or leave `Placement.GroupName` out"),
                    }
                } else {
                    help
                };
                r.report(subject, message).help = Some(help);
            }
            Capacity::OnDemand | Capacity::Spot => {}
        }
    }
}

/// A placement group's name from its name or ARN (`arn:aws:ec2:...:placement-group/NAME`).
fn pg_name(s: &str) -> &str {
    s.rsplit_once("placement-group/").map_or(s, |(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::pg_name;

    #[test]
    fn placement_group_arns_compare_by_name() {
        assert_eq!(
            pg_name("arn:aws:ec2:us-east-1:123456789012:placement-group/train"),
            "train"
        );
        assert_eq!(pg_name("train"), "train");
    }
}
