use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA015",
    name: "efa-group-spans-subnets",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "An EFA node group launches in more than one subnet",
    doc: "## What it does
Checks every node group with EFA interfaces for more than one subnet, and says when those
subnets lie in different availability zones.

## Why it matters
EFA's OS-bypass traffic cannot cross subnets and is not routable: nodes of one group that land
in different subnets fall back to TCP between them, or NCCL fails outright. Across availability
zones it is worse, and AWS ParallelCluster refuses the queue: \"EFA is not supported across
Availability zones\". A cluster placement group, which EFA jobs want, also lives in one zone.

## Example
```yaml
nodeGroups:
  - name: gpu
    instanceType: p5.48xlarge
    count: 16
    subnets: [compute-a, compute-b]
```

## Fix
Give the node group a single `subnet:`. To use capacity in another zone, make a second node
group (with its own placement group) and run each job within one group.

## Source
efa-facts.md §2.9: EC2 User Guide EFA limitations (EC2UG2023 `efa.md`); ParallelCluster
`EfaMultiAzValidator` (PC-VAL); placement groups: EC2UG2023 `efa-start.md` Step 8 (§8).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    for ng in &cluster.node_groups {
        if !ng.uses_efa() || ng.subnets.len() < 2 {
            continue;
        }
        let subnets = crate::rules::and_list(&ng.subnets);
        let message = match distinct_zones(cluster, ng) {
            Some(zones) => format!(
                "node group `{}` uses EFA but launches in subnets {subnets}, in availability zones {}: EFA traffic crosses neither subnets nor zones",
                ng.name,
                crate::rules::and_list(&zones)
            ),
            None => format!(
                "node group `{}` uses EFA but launches in {} subnets ({subnets}): EFA traffic cannot cross subnets",
                ng.name,
                ng.subnets.len()
            ),
        };
        let help = match crate::rules::live::live_id(&ng.origin) {
            Some(id) => {
                let first = ng.subnets.first().map(String::as_str).unwrap_or("SUBNET");
                let asg = if id.starts_with("i-") {
                    String::new()
                } else {
                    format!(" (an Auto Scaling group: `aws autoscaling update-auto-scaling-group --auto-scaling-group-name {id} --vpc-zone-identifier {first}`)")
                };
                format!(
                    "run the nodes that share jobs in one subnet: launch replacements for the nodes outside `{first}` into it{asg} and terminate the others; for capacity elsewhere, keep each job within one subnet"
                )
            }
            None if crate::rules::eksctl::in_config(cx.cluster) => format!(
                "list one zone in `availabilityZones` (or one subnet in `subnets`) of {}: eksctl refuses `efaEnabled` node groups with more (\"efaEnabled nodegroups must have only one subnet or one availability zone\"); for capacity elsewhere, add a second node group",
                crate::rules::eksctl::group(ng)
            ),
            None if crate::rules::pcluster::in_config(cx.cluster) => format!(
                "list one subnet in `Networking.SubnetIds` of {} (ParallelCluster also refuses EFA across zones); for capacity elsewhere, add a second queue and keep each job within one queue",
                crate::rules::pcluster::queue(ng)
            ),
            None if crate::rules::template::in_template(cx.cluster) => format!(
                "list one subnet in {}'s subnets (`VPCZoneIdentifier`, `Subnets` or the interfaces' `SubnetId`); for capacity elsewhere, add a second group of its own and keep each job within one group",
                crate::rules::template::named(&ng.origin, &ng.name)
            ),
            None => "give the node group one `subnet:`; for capacity elsewhere, add a second node group and keep each job within one group".into(),
        };
        r.report(crate::rules::subnet_subject(ng), message).help = Some(help);
    }
}

/// The zones of the group's subnets when at least two known zones of the same kind differ (a
/// zone name and a zone id cannot be compared without the account's mapping).
fn distinct_zones(cluster: &Cluster, ng: &NodeGroup) -> Option<Vec<String>> {
    let zones: Vec<&Zone> = ng
        .subnets
        .iter()
        .filter_map(|k| cluster.subnet(k))
        .filter_map(|s| s.zone.as_ref())
        .collect();
    let mut differ = false;
    for (i, a) in zones.iter().enumerate() {
        for b in &zones[i + 1..] {
            let same_kind = matches!(
                (a, b),
                (Zone::Name(_), Zone::Name(_)) | (Zone::Id(_), Zone::Id(_))
            );
            differ |= same_kind && a != b;
        }
    }
    if !differ {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    for z in zones {
        if !names.iter().any(|n| n == z.as_str()) {
            names.push(z.as_str().to_string());
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::check::check_spec;
    use crate::rules::Options;

    fn messages(zone_a: &str, zone_b: &str) -> Vec<String> {
        let text = format!(
            "apiVersion: efactl.dev/v1alpha1
name: t
region: us-east-1
network:
  subnets:
    - {{ name: a, cidr: 10.0.0.0/20, availabilityZone: {zone_a}, internet: nat }}
    - {{ name: b, cidr: 10.0.16.0/20, availabilityZone: {zone_b}, internet: nat }}
securityGroups:
  - {{ name: efa, selfReferencing: true }}
nodeGroups:
  - {{ name: gpu, instanceType: p4d.24xlarge, count: 2, subnets: [a, b], securityGroups: [efa] }}
"
        );
        check_spec("t.yaml", &text, Catalog::bundled(), &Options::default())
            .findings
            .into_iter()
            .filter(|f| f.rule == "EFA015")
            .map(|f| f.message)
            .collect()
    }

    #[test]
    fn zones_are_named_only_when_comparable() {
        let m = messages("us-east-1a", "us-east-1b");
        assert!(
            m[0].contains("availability zones `us-east-1a` and `us-east-1b`"),
            "{m:?}"
        );
        // A zone name and a zone id may be the same zone: claim nothing about zones.
        let m = messages("us-east-1a", "use1-az6");
        assert!(m[0].contains("2 subnets"), "{m:?}");
        let m = messages("use1-az6", "use1-az6");
        assert!(m[0].contains("2 subnets"), "{m:?}");
    }
}
