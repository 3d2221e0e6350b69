use crate::catalog::{Catalog, InstanceType};
use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA006",
    name: "efa-unsupported-instance-type",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A node group asks for EFA on an instance type without EFA support",
    doc: "## What it does
Checks every node group that has EFA interfaces (`efa: on`, `efa: N`, or `networkInterfaces`
with `type: efa` / `efa-only`) against the instance-type catalog, and reports each of its
instance types that does not support EFA. Types whose EFA support the catalog does not know
(`trn2u.48xlarge`) are not reported.

## Why it matters
EFA exists only on the instance types listed in the EC2 User Guide, and on those only up to
`EfaInfo.MaximumEfaInterfaces` interfaces. A launch template that asks for an `efa` or `efa-only`
interface on any other type is refused by EC2, so the node group never starts. The mistake is
easy to make inside a family: `g5.xlarge` has no EFA while `g5.8xlarge` does, and `inf2.48xlarge`
has none at all while `inf1.24xlarge` and the Trainium types do.

## Example
```yaml
nodeGroups:
  - name: infer
    instanceType: inf2.48xlarge   # no EFA
    count: 2
    efa: on
```

## Fix
Use an EFA-capable type (efactl suggests the smallest size of the same family that has EFA,
e.g. `g5.8xlarge` for `g5.xlarge`), or set `efa: off` (or give every interface in
`networkInterfaces` `type: interface`). To see whether a type supports EFA:
`aws ec2 describe-instance-types --instance-types TYPE --query 'InstanceTypes[].NetworkInfo.[EfaSupported,EfaInfo.MaximumEfaInterfaces]'`,
or list them all with `aws ec2 describe-instance-types --filters Name=network-info.efa-supported,Values=true`.

## Source
efa-facts.md §1.1-§1.2 and instance-catalog.csv (`efa_supported`, `max_efa_interfaces`; keys
KARP, EKSCTL: inf2.48xlarge has no `vpc.amazonaws.com/efa` resource and `EFASupported=false`);
EC2 User Guide efa.md, supported instance types (EC2UG2023).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for ng in &cx.cluster.node_groups {
        if !ng.uses_efa() {
            continue;
        }
        for (j, name) in ng.instance_types.iter().enumerate() {
            let Some(t) = cx.catalog.get(name) else {
                continue;
            };
            // Unknown support (no source says) is not a finding.
            if t.efa_supported.is_none() || t.supports_efa() {
                continue;
            }
            let why = match ng.efa {
                EfaSetting::On => " (`efa: on`)".to_string(),
                EfaSetting::Count(k) => format!(" (`efa: {k}`)"),
                _ => String::new(),
            };
            let message = format!(
                "node group `{}` has {} EFA interface{}{why}, but `{name}` does not support EFA",
                ng.name,
                ng.efa_count(),
                if ng.efa_count() == 1 { "" } else { "s" },
            );
            let live = crate::rules::live::live_id(&ng.origin).is_some();
            let in_config = crate::rules::pcluster::in_config(cx.cluster);
            let off_config = format!(
                "set `Efa.Enabled: false` on {}",
                crate::rules::pcluster::nodes(ng)
            );
            let off_eksctl = format!(
                "remove `efaEnabled: true` from {}",
                crate::rules::eksctl::group(ng)
            );
            let off = if in_config {
                off_config.as_str()
            } else if crate::rules::eksctl::in_config(cx.cluster) {
                off_eksctl.as_str()
            } else if crate::rules::template::in_template(cx.cluster) {
                "make every interface of the launch template `InterfaceType: interface` (or leave `InterfaceType` out)"
            } else if live {
                "launch them without EFA interfaces (`InterfaceType=interface`; EFA interfaces cannot be changed on a running instance)"
            } else if crate::rules::explicit_layout(ng) {
                "give every interface `type: interface`"
            } else {
                "set `efa: off`"
            };
            let help = match smallest_efa_size(cx.catalog, t) {
                Some(s) => format!(
                    "{} `{}`, the smallest {} size with EFA ({} EFA interface{}), or {off}",
                    if live { "launch the nodes as" } else { "use" },
                    s.name,
                    t.family(),
                    s.max_efa_interfaces.unwrap_or(0),
                    if s.max_efa_interfaces == Some(1) {
                        ""
                    } else {
                        "s"
                    },
                ),
                None => format!(
                    "no {} size supports EFA: use an EFA-capable type, or {off}",
                    t.family()
                ),
            };
            r.report(crate::rules::instance_type_subject(ng, j), message)
                .help = Some(help);
        }
    }
}

/// The smallest size of `t`'s family that supports EFA.
fn smallest_efa_size<'c>(catalog: &'c Catalog, t: &InstanceType) -> Option<&'c InstanceType> {
    catalog
        .iter()
        .filter(|c| c.family() == t.family() && c.supports_efa())
        .min_by(|a, b| {
            size_rank(&a.name)
                .total_cmp(&size_rank(&b.name))
                .then_with(|| a.name.cmp(&b.name))
        })
}

/// Orders sizes within a family: `large` < `xlarge` < `8xlarge` < `48xlarge` < `metal`.
fn size_rank(name: &str) -> f64 {
    let size = name.split_once('.').map(|(_, s)| s).unwrap_or(name);
    if size.starts_with("metal") {
        return f64::MAX;
    }
    match size.strip_suffix("xlarge") {
        Some("") => 1.0,
        Some(n) => n.parse().unwrap_or(f64::MAX),
        None => match size {
            "large" => 0.5,
            "medium" => 0.25,
            "small" => 0.125,
            "micro" => 0.0625,
            "nano" => 0.03125,
            _ => f64::MAX,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_smallest_efa_size_of_the_family() {
        let c = Catalog::bundled();
        let pick = |n: &str| {
            c.get(n)
                .and_then(|t| smallest_efa_size(c, t))
                .map(|t| t.name.as_str())
        };
        assert_eq!(pick("g5.xlarge"), Some("g5.8xlarge"));
        assert_eq!(pick("inf2.48xlarge"), None);
    }

    #[test]
    fn sizes_order_by_their_multiplier() {
        assert!(size_rank("g5.xlarge") < size_rank("g5.8xlarge"));
        assert!(size_rank("g5.8xlarge") < size_rank("g5.12xlarge"));
        assert!(size_rank("c5n.18xlarge") < size_rank("c5n.metal"));
        assert!(size_rank("c5.large") < size_rank("c5.xlarge"));
    }
}
