use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA028",
    name: "subnet-too-small",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A subnet has fewer free addresses than its nodes and endpoints need",
    doc: "## What it does
For every subnet, adds up the private IPv4 addresses the cluster takes from it at full scale:
- each node group at `maxCount`, times the interfaces of one node that carry an address
  (`interface` and `efa`; `efa-only` interfaces take none); a group spread over several subnets
  counts its share in each;
- one per interface endpoint with a network interface in the subnet;
- one per FSx for Lustre file system in the subnet (a floor: a file system can take more);
and reports the subnet when that exceeds what it has: the CIDR's size less the five addresses
AWS reserves, or `availableIps` when the spec gives it for an existing subnet (then nodes
already running and resources that already exist are not counted again).

## Why it matters
When a subnet runs out of addresses, launches fail with `InsufficientFreeAddressesInSubnet`
and scale-up stops part way, usually in the middle of a job allocation. EFA layouts multiply the
count: a p5.48xlarge with `secondaryInterfaceType: efa` takes 32 addresses (the primary and 31
EFAs with ENA), so 64 nodes need 2,048, while with `efa-only` secondaries (efactl's default) each
node takes one.

## Example
```yaml
network:
  subnets:
    - { name: compute, cidr: 10.0.1.0/24, internet: nat }   # 251 usable addresses
nodeGroups:
  - name: gpu
    instanceType: p5.48xlarge
    count: 16
    maxCount: 64
    secondaryInterfaceType: efa     # 32 addresses per node
    subnet: compute
```

## Fix
Keep `secondaryInterfaceType` at `efa-only` (the default) unless the secondary interfaces need
IP addresses, give the subnet a larger CIDR (the message suggests one with 10% headroom), or
lower `maxCount`.

## Source
efa-facts.md §2.5 and §2.8 (EFA-only interfaces have no IP address, EFAONLY, terraform-aws-eks
#3653); §1.1 (EFA-only support on all EFA types). Not in efa-facts.md: the five reserved
addresses per subnet (https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html) and
the EC2 error code `InsufficientFreeAddressesInSubnet`.
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    for s in &cluster.subnets {
        let existing = s.available_ips.is_some();
        let has: u128 = match (s.available_ips, s.cidr) {
            (Some(n), _) => u128::from(n),
            (None, Some(c)) => c.usable_in_subnet(),
            (None, None) => continue,
        };

        let mut need: u128 = 0;
        let mut parts: Vec<String> = Vec::new();
        let mut secondary_efa: Vec<(&NodeGroup, u32)> = Vec::new();
        for ng in &cluster.node_groups {
            let n_subnets = ng.subnets.len() as u32;
            if n_subnets == 0 || !ng.subnets.contains(&s.key) {
                continue;
            }
            let mut nodes = ng.max_count;
            if existing {
                // Running instances already hold their addresses.
                nodes = nodes.saturating_sub(ng.instances.len() as u32);
            }
            let nodes = nodes.div_ceil(n_subnets);
            let per_node = ng.ips_per_node();
            let total = u128::from(nodes) * u128::from(per_node);
            if total == 0 {
                continue;
            }
            need += total;
            parts.push(format!(
                "`{}`: {} × {}",
                ng.name,
                plural(u128::from(nodes), "node"),
                plural(u128::from(per_node), "address")
            ));
            let extra = ng
                .interfaces
                .iter()
                .filter(|n| n.kind == InterfaceType::Efa && !is_primary(n))
                .count() as u32;
            if extra > 0 {
                secondary_efa.push((ng, extra));
            }
        }
        if need == 0 {
            continue;
        }
        let endpoints = cluster
            .endpoints
            .iter()
            .filter(|e| e.kind == EndpointType::Interface && e.subnets.contains(&s.key))
            .filter(|e| !(existing && matches!(e.origin, Origin::Live(_))))
            .count() as u128;
        if endpoints > 0 {
            need += endpoints;
            parts.push(plural(endpoints, "interface endpoint"));
        }
        let file_systems = cluster
            .file_systems
            .iter()
            .filter(|f| f.subnet == s.key)
            .filter(|f| !(existing && f.id.is_some()))
            .count() as u128;
        if file_systems > 0 {
            need += file_systems;
            parts.push(plural(file_systems, "file system"));
        }
        if need <= has {
            continue;
        }

        let size = match (s.available_ips, s.cidr) {
            (Some(_), _) => format!("has {} free addresses", thousands(has)),
            (None, Some(c)) => format!("({c}) has {} usable addresses", thousands(has)),
            (None, None) => continue,
        };
        let mut message = format!(
            "subnet `{}` {size}, but the cluster needs {} at full scale ({})",
            s.key,
            thousands(need),
            parts.join(" + ")
        );
        let headroom = need + need.div_ceil(10);
        let is_v6 = s.cidr.is_some_and(|c| c.addr.is_ipv6());
        let mut help = match (s.available_ips, is_v6, prefix_for(headroom)) {
            (Some(_), _, _) => format!(
                "make room for {} addresses (10% headroom): free addresses in the subnet or launch in a larger one",
                thousands(headroom)
            ),
            (None, false, Some(p)) => format!(
                "give the subnet at least a /{p} ({} usable addresses, room for {} with 10% headroom)",
                thousands((1u128 << (32 - u32::from(p))) - 5),
                thousands(headroom)
            ),
            _ => format!(
                "give the subnet room for {} addresses (10% headroom)",
                thousands(headroom)
            ),
        };
        let template = crate::rules::template::in_template(cx.cluster);
        if template {
            help = help.replace(
                "give the subnet",
                &format!(
                    "give {} a `CidrBlock` of",
                    crate::rules::template::named(&s.origin, &s.key)
                ),
            );
        }
        if let Some((ng, extra)) = secondary_efa.first() {
            message.push_str(&format!(
                "; {} secondary `efa` interfaces of each `{}` node take an address each",
                extra, ng.name
            ));
            help.push_str(&format!(
                ", or {} `{}` (EFA-only interfaces take no address; {} per node instead of {})",
                if template {
                    "make the secondary EFA interfaces `InterfaceType: efa-only` in the launch template of"
                } else {
                    "set `secondaryInterfaceType: efa-only` on"
                },
                ng.name,
                ng.ips_per_node().saturating_sub(*extra),
                ng.ips_per_node()
            ));
        } else {
            help.push_str(if template {
                ", or lower the group's `MaxSize`"
            } else {
                ", or lower `maxCount`"
            });
        }
        let field = if s.available_ips.is_some() {
            "availableIps"
        } else {
            "cidr"
        };
        r.report(s.origin.at(field), message).help = Some(help);
    }
}

fn is_primary(n: &Nic) -> bool {
    n.network_card == 0 && n.device_index == 0
}

/// The longest IPv4 prefix whose usable addresses hold `need`, if any does.
fn prefix_for(need: u128) -> Option<u8> {
    (16..=28u8)
        .rev()
        .find(|&p| (1u128 << (32 - u32::from(p))) - 5 >= need)
}

fn plural(n: u128, noun: &str) -> String {
    match (n, noun.ends_with('s')) {
        (1, _) => format!("1 {noun}"),
        (_, true) => format!("{} {noun}es", thousands(n)),
        _ => format!("{} {noun}s", thousands(n)),
    }
}

/// 2048 -> `2,048`.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_numbers() {
        assert_eq!(prefix_for(2253), Some(20));
        assert_eq!(prefix_for(251), Some(24));
        assert_eq!(prefix_for(252), Some(23));
        assert_eq!(prefix_for(1), Some(28));
        assert_eq!(prefix_for(70_000), None);
        assert_eq!(thousands(2048), "2,048");
        assert_eq!(thousands(251), "251");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
