use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA008",
    name: "efa-interfaces-below-max",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "A node group uses fewer EFA interfaces than its instance type supports",
    doc: "## What it does
Checks every node group that uses EFA and compares its number of EFA interfaces per node
(`efa` and secondary `efa-only` interfaces) with the type's `EfaInfo.MaximumEfaInterfaces`. Reports
groups below the maximum, with the share of the type's bandwidth left unused. Types whose
maximum the catalog does not know are skipped.

## Why it matters
On multi-card types each EFA sits on its own network card, and each card carries a share of
the type's bandwidth: `trn2.48xlarge` has 16 cards for 3200 Gbps, `p5.48xlarge` 32 cards for
3200 Gbps. A node launched with 8 of 16 EFAs reaches only 8 cards, so all-reduce bus
bandwidth stops at about half of what the instance can do, with no error anywhere. The usual
causes are a launch template copied from another type (4 EFAs from `p4d.24xlarge` on a `p5`),
or a layout sized from `MaximumNetworkCards` instead of `MaximumEfaInterfaces`.

## Example
```yaml
nodeGroups:
  - name: train
    instanceType: trn2.48xlarge
    count: 4
    efa: 8          # trn2.48xlarge supports 16
```

## Fix
Use `efa: auto` or `efa: on` (one EFA per usable network card), or list one EFA per network
card in `networkInterfaces`. EFA interfaces cannot be added to a running instance: relaunch
from a launch template with one `efa` / `efa-only` interface per card. The maximum of a type:
`aws ec2 describe-instance-types --instance-types TYPE --query 'InstanceTypes[].NetworkInfo.EfaInfo.MaximumEfaInterfaces'`.

## Source
efa-facts.md §1.2 (EFA max, network cards and bandwidth per type; keys KARP, KBW, KVPC),
§1.3 (size EFA lists from `EfaInfo.MaximumEfaInterfaces`; eksctl-io/eksctl#8692), §2.3
(one EFA per card, key P5EFA), §2.11 (no attach while running).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for ng in &cx.cluster.node_groups {
        if !ng.uses_efa() {
            continue;
        }
        let Some(t) = cx.catalog.get(ng.instance_type()) else {
            continue;
        };
        let Some(max) = t.max_efa_interfaces.filter(|m| *m > 0) else {
            continue;
        };
        if !t.supports_efa() {
            continue;
        }
        let n = u32::try_from(ng.efa_count()).unwrap_or(u32::MAX);
        if n >= max {
            continue;
        }
        let unused = match t.bandwidth_gbps {
            Some(bw) => format!(
                ": about {} of {} Gbps left unused",
                crate::rules::gbps((bw * f64::from(max - n) / f64::from(max)).round()),
                crate::rules::gbps(bw)
            ),
            None => String::new(),
        };
        let message = format!(
            "node group `{}` uses {n} of {max} EFA interfaces on `{}`{unused}",
            ng.name, t.name
        );
        let help = if crate::rules::template::in_template(cx.cluster) {
            crate::rules::template::layout_fix(ng, max)
        } else if crate::rules::live::live_id(&ng.origin).is_some() {
            crate::rules::live::relaunch_with(&crate::rules::live::efa_layout(max))
        } else if crate::rules::explicit_layout(ng) {
            format!("list one EFA per network card in `networkInterfaces`, {max} in all")
        } else {
            format!("use `efa: auto` (or `efa: {max}`) to get all {max}")
        };
        r.report(crate::rules::efa_subject(ng), message).help = Some(help);
    }
}
