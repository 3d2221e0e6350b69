use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA032",
    name: "mixed-network-cards",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "An EFA node group mixes instance types with different network cards or EFA counts",
    doc: "## What it does
Checks node groups that use EFA and list several instance types (`instanceTypes`), and reports
each type whose number of network cards or maximum number of EFA interfaces differs from the
group's first type.

## Why it matters
A node group launches from one launch template, and the template fixes the interface layout:
one EFA per network card, each at a given network card index. A layout made for the first type
does not fit the others: on a type with fewer network cards or a lower EFA maximum EC2 refuses
the launch (a network card index that does not exist, more EFAs than `MaximumEfaInterfaces`),
and on a type with more it leaves cards and bandwidth unused. `p5.48xlarge` (32 cards, 32 EFAs)
and `p5en.48xlarge` (16 cards, 16 EFAs) look interchangeable in a fleet request but need
different templates.

## Example
```yaml
nodeGroups:
  - name: train
    instanceTypes: [p5.48xlarge, p4d.24xlarge]
    count: 4
```

## Fix
Split the group: one node group per instance-type shape, each with its own layout. Types with
the same network cards and EFA maximum (`p4d.24xlarge` and `p4de.24xlarge`) can stay together.
The shape of a type: `aws ec2 describe-instance-types --instance-types TYPE --query
'InstanceTypes[].NetworkInfo.[MaximumNetworkCards,EfaInfo.MaximumEfaInterfaces]'`.

## Source
efa-facts.md §1.2 (network cards and EFA maximum per type; keys KARP, KVPC), §1.3 (EFA
maximum can be below the number of network cards), §2.2-§2.4 (one EFA per card, network card
and device index limits).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for ng in &cx.cluster.node_groups {
        // Without EFA a node has one interface on card 0, which every type takes.
        if ng.instance_types.len() < 2 || !ng.uses_efa() {
            continue;
        }
        let mut known = ng
            .instance_types
            .iter()
            .enumerate()
            .filter_map(|(j, n)| cx.catalog.get(n).map(|t| (j, t)));
        let Some((_, first)) = known.next() else {
            continue;
        };
        let differs =
            |a: Option<u32>, b: Option<u32>| matches!((a, b), (Some(x), Some(y)) if x != y);
        let shape = |t: &crate::catalog::InstanceType| {
            let n = |v: Option<u32>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
            format!(
                "{} network cards, up to {} EFAs",
                n(t.network_cards),
                n(t.max_efa_interfaces)
            )
        };
        for (j, t) in known {
            if !differs(first.network_cards, t.network_cards)
                && !differs(first.max_efa_interfaces, t.max_efa_interfaces)
            {
                continue;
            }
            r.report(
                crate::rules::instance_type_subject(ng, j),
                format!(
                    "node group `{}` mixes `{}` ({}) with `{}` ({}): one launch template's interface layout cannot fit both",
                    ng.name,
                    t.name,
                    shape(t),
                    first.name,
                    shape(first)
                ),
            )
            .help = Some(if crate::rules::template::in_template(cx.cluster) {
                format!(
                    "launch `{}` from a launch template and group of its own (take it out of {}'s instance types or overrides), with the interface layout of that type",
                    t.name,
                    crate::rules::template::named(&ng.origin, &ng.name)
                )
            } else if crate::rules::live::live_id(&ng.origin).is_some() {
                format!(
                    "launch `{}` from a launch template (and Auto Scaling group) of its own, with the interface layout of that type",
                    t.name
                )
            } else {
                format!("move `{}` to a node group of its own", t.name)
            });
        }
    }
}
