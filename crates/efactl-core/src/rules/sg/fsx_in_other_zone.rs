use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA034",
    name: "fsx-in-other-zone",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "An FSx for Lustre file system is in another availability zone than an EFA node group",
    doc: "## What it does
Compares the availability zone of each file system's subnet with the zones of the subnets of
every node group that uses EFA. It warns when they differ. Zones are compared only when both
are known and of the same kind (two zone names, or two zone ids: `us-east-1a` names a
different physical zone in each account, `use1-az4` does not).

## Why it matters
An FSx for Lustre file system lives in the one subnet, and so the one availability zone, it is
created in. EFA node groups must sit in one zone (EFA traffic does not leave its subnet), and
that is where the training reads come from: with the file system in another zone every read
of the data set and every checkpoint write crosses zones, which adds latency to each Lustre
round trip and is billed as inter-AZ data transfer, in both directions, on every byte.

## Example
```yaml
network:
  subnets:
    - { name: compute, cidr: 10.0.0.0/20, availabilityZone: us-east-1a }
    - { name: storage, cidr: 10.0.16.0/24, availabilityZone: us-east-1b }
storage:
  - { name: scratch, type: fsx-lustre, subnet: storage, securityGroups: [fsx] }
```

## Fix
Create the file system in a subnet of the EFA node group's zone (`storage[].subnet`); an
existing file system cannot move: create a new one there (from a backup or its S3 data
repository). Find a live file system's zone with
`aws fsx describe-file-systems --file-system-ids fs-... --query 'FileSystems[0].SubnetIds'`
and `aws ec2 describe-subnets --subnet-ids subnet-... --query 'Subnets[0].AvailabilityZoneId'`.

## Source
efa-facts.md §2 item 9 (EFA traffic cannot cross subnets; ParallelCluster's
EfaMultiAzValidator); Amazon FSx for Lustre User Guide, file systems are created in one
subnet (https://docs.aws.amazon.com/fsx/latest/LustreGuide/limit-access-security-groups.html);
Amazon EC2 pricing, data transfer between availability zones
(https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer_within_the_same_AWS_Region).
",
    check: Some(check),
};

fn same_kind(a: &Zone, b: &Zone) -> bool {
    matches!(
        (a, b),
        (Zone::Name(_), Zone::Name(_)) | (Zone::Id(_), Zone::Id(_))
    )
}

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let c = cx.cluster;
    for fs in &c.file_systems {
        let Some(fs_subnet) = c.subnet(&fs.subnet) else {
            continue;
        };
        let Some(fs_zone) = &fs_subnet.zone else {
            continue;
        };
        for ng in c.node_groups.iter().filter(|ng| ng.uses_efa()) {
            // The first of the group's subnets in another zone, if any.
            let other = ng.subnets.iter().filter_map(|k| c.subnet(k)).find_map(|s| {
                s.zone
                    .as_ref()
                    .filter(|z| same_kind(z, fs_zone) && *z != fs_zone)
                    .map(|z| (s, z))
            });
            let Some((subnet, zone)) = other else {
                continue;
            };
            r.report(
                fs.origin.at("subnet"),
                format!(
                    "file system `{}` is in subnet `{}` ({}), but EFA node group `{}` runs in subnet `{}` ({}): every read and checkpoint write crosses availability zones",
                    fs.key,
                    fs_subnet.key,
                    fs_zone.as_str(),
                    ng.name,
                    subnet.key,
                    zone.as_str()
                ),
            )
            .help = Some(format!(
                "create the file system in a subnet of {} (the zone of node group `{}`){}",
                zone.as_str(),
                ng.name,
                if crate::rules::template::in_template(cx.cluster) {
                    ": name that subnet in the file system's `SubnetIds`"
                } else {
                    ""
                }
            ));
        }
    }
}
