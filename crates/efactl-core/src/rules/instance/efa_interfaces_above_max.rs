use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA009",
    name: "efa-interfaces-above-max",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A node group asks for more EFA interfaces than its instance type supports",
    doc: "## What it does
Checks every node group that uses EFA and compares its number of EFA interfaces per node
(`efa` and `efa-only` interfaces) with the type's `EfaInfo.MaximumEfaInterfaces`. Reports groups
above the maximum. Types whose maximum the catalog does not know are skipped; types with no
EFA at all are rule EFA006.

## Why it matters
EC2 refuses to launch an instance with more EFA interfaces than the type supports, so the node
group never starts. The maximum is not the number of network cards: `p6-b300.48xlarge` and
`p6e-gb200.36xlarge` have 17 cards but take 16 EFAs, and `p6e-gb300r.36xlarge` 9 cards but 2
EFAs. Layouts sized from `MaximumNetworkCards`, or copied from a larger type (32 EFAs from
`p5.48xlarge` on a `p5en.48xlarge`, which takes 16), hit this.

## Example
```yaml
nodeGroups:
  - name: train
    instanceType: p4d.24xlarge
    count: 2
    efa: 8          # p4d.24xlarge supports 4
```

## Fix
Use `efa: auto` or `efa: on` (one EFA per usable network card, never above the maximum), or
remove EFA interfaces from `networkInterfaces` until there are at most the maximum. The maximum
of a type: `aws ec2 describe-instance-types --instance-types TYPE --query 'InstanceTypes[].NetworkInfo.EfaInfo.MaximumEfaInterfaces'`.

## Source
efa-facts.md §1.2 (EFA max per type, key KARP = `EfaInfo.MaximumEfaInterfaces`), §1.3
(`max_efa_interfaces` smaller than `network_cards`; eksctl-io/eksctl#8692 broke new types by
sizing from `MaximumNetworkCards`), §2.6-§2.7 (p6-b300, p6e-gb200 layouts).
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
        if !t.supports_efa() {
            continue;
        }
        let Some(max) = t.max_efa_interfaces else {
            continue;
        };
        let n = ng.efa_count();
        if n <= max as usize {
            continue;
        }
        let message = format!(
            "node group `{}` has {n} EFA interfaces per node, but `{}` supports at most {max}: EC2 refuses the launch",
            ng.name, t.name
        );
        let help = if crate::rules::template::in_template(cx.cluster) {
            crate::rules::template::layout_fix(ng, max)
        } else if crate::rules::live::live_id(&ng.origin).is_some() {
            crate::rules::live::relaunch_with(&crate::rules::live::efa_layout(max))
        } else if crate::rules::explicit_layout(ng) {
            format!("keep at most {max} `efa` / `efa-only` interfaces in `networkInterfaces`, one per network card")
        } else {
            format!("use `efa: auto` (or `efa: {max}`)")
        };
        r.report(crate::rules::efa_subject(ng), message).help = Some(help);
    }
}
