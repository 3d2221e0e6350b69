use crate::catalog::InstanceType;
use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA010",
    name: "invalid-interface-layout",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A node's network-interface layout breaks an EC2 placement rule for EFA",
    doc: "## What it does
Checks the network interfaces of one node (the `networkInterfaces` a node group lists, or those
of a live instance) against the rules EC2 applies at launch:

- a primary interface exists at network card 0, device index 0, and no two interfaces share
  a (network card, device index) slot;
- the primary is not `efa-only`;
- a network card carries at most one EFA (`efa` or `efa-only`);
- the network card index is below the type's number of network cards;
- the device index is below the number of interfaces that network card takes (2 per card on
  `p5.48xlarge` and `trn2.48xlarge`, 1 on the odd cards of `p6e-gb200.36xlarge`);
- no EFA sits on network card 0 of a type whose card 0 is ENA-only (`p6-b300.48xlarge`).

Each offending interface is reported once, with the first rule it breaks in this order: card
index, device index, duplicate slot, `efa-only` primary, EFA on an ENA-only card 0, second EFA
on a card. The layout efactl derives from `efa` follows these rules on every EFA type of its
catalog; when `efa` asks for more EFAs than the type has, EFA006 or EFA009 says so instead.

## Why it matters
EC2 rejects the launch, and the node group never starts. The classic case is the p4d-era
pattern \"device index = network card index\" reused on `p5.48xlarge`, whose cards take two
interfaces each:

> The specified number '2' for the device index exceeds the maximum number of network
> interfaces supported by the network card at network card index 2. The maximum devices for
> this network card is 2. Specify a number from 0 to 1, and try again.

\"The primary network interface must be assigned to network card index 0\", \"You can't use an
EFA-only network interface as the primary network interface\", and an instance takes \"up to one
EFA per network card\". On `p6-b300.48xlarge` \"the primary network card (network card index 0)
only supports ENA\": its primary must be `interface` and its 16 EFAs go on cards 1-16.

## Example
```yaml
nodeGroups:
  - name: train
    instanceType: p5.48xlarge
    count: 2
    networkInterfaces:
      - { networkCard: 0, deviceIndex: 0, type: efa }
      - { networkCard: 1, deviceIndex: 1, type: efa-only }
      - { networkCard: 2, deviceIndex: 2, type: efa-only }   # card 2 takes device indexes 0-1
```

## Fix
Remove `networkInterfaces` and let efactl derive the layout from `efa` (primary `efa` at card 0
/ device 0, or `interface` where card 0 is ENA-only, then one `efa-only` per further card at
device index 0). When listing interfaces yourself: one primary at card 0 / device 0 that is
`efa` or `interface`, one EFA per network card, and device indexes below the card's interface
limit. The limits of a type: `aws ec2 describe-instance-types --instance-types TYPE --query
'InstanceTypes[].NetworkInfo.[MaximumNetworkCards,NetworkCards]'`.

## Source
efa-facts.md §2.1 (primary at card 0, no EFA-only primary; EC2UG2023 `using-eni.md`, ACC),
§2.2 (one EFA per card; EKS-EFA), §2.3 (P5EFA layout), §2.4 (device index ceiling,
eksctl-io/eksctl#7520), §2.6 (p6-b300 card 0 ENA-only, aws/aws-parallelcluster#7143), §2.7
(p6e-gb200 ENIs per card, aws/aws-parallelcluster#6930), §2.8 (EFA-only); per-type limits in
instance-catalog.csv (`network_cards`, `enis_per_card`; keys KVPC, CNI).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for ng in &cx.cluster.node_groups {
        // A derived layout is valid by construction (see the test below) unless `efa` asks
        // for more than the type has, which EFA006 and EFA009 report once, at `efa`.
        if ng
            .interfaces
            .iter()
            .all(|n| matches!(n.origin, Origin::Implied(_)))
        {
            continue;
        }
        let t = cx.catalog.get(ng.instance_type());
        for p in problems(&ng.name, &ng.interfaces, t) {
            let subject = match p.nic.and_then(|i| ng.interfaces.get(i)) {
                Some(nic) => nic.origin.subject(),
                None => crate::rules::efa_subject(ng),
            };
            let help = if crate::rules::template::in_template(cx.cluster) {
                crate::rules::template::interface_words(ng, &p.help)
            } else if crate::rules::live::live_id(&ng.origin).is_some() {
                crate::rules::live::relaunch_with("every interface at its own (`NetworkCardIndex`, `DeviceIndex`), at most one EFA per network card, and `efa-only` never as the primary")
            } else {
                p.help
            };
            r.report(subject, p.message).help = Some(help);
        }
    }
}

#[derive(Debug)]
struct Problem {
    /// The offending interface, or `None` for the layout as a whole.
    nic: Option<usize>,
    message: String,
    help: String,
}

/// What is wrong with one node's interfaces on type `t` (`None`: only the checks that need no
/// instance facts). An empty layout is not judged: live groups may come without one.
fn problems(group: &str, nics: &[Nic], t: Option<&InstanceType>) -> Vec<Problem> {
    let mut out = Vec::new();
    if nics.is_empty() {
        return out;
    }
    let type_name = t.map(|t| t.name.as_str()).unwrap_or("this type");
    if !nics
        .iter()
        .any(|n| n.network_card == 0 && n.device_index == 0)
    {
        out.push(Problem {
            nic: None,
            message: format!(
                "node group `{group}` has no primary interface: nothing sits at network card 0, device index 0"
            ),
            help: "add the primary interface `{ networkCard: 0, deviceIndex: 0, type: efa }` (`type: interface` where card 0 is ENA-only)".into(),
        });
    }
    for (i, nic) in nics.iter().enumerate() {
        let (card, dev) = (nic.network_card, nic.device_index);
        let earlier = &nics[..i];
        let problem = if let Some(cards) = t.and_then(|t| t.network_cards).filter(|c| card >= *c) {
            Some((
                format!(
                    "node group `{group}` puts an interface on network card {card}, but `{type_name}` has {cards} network card{} ({})",
                    if cards == 1 { "" } else { "s" },
                    index_range("index", cards)
                ),
                if cards <= 1 {
                    "put every interface on network card 0".to_string()
                } else {
                    format!("use a network card index from 0 to {}", cards - 1)
                },
            ))
        } else if let Some(enis) = t.and_then(|t| t.enis_on_card(card)).filter(|e| dev >= *e) {
            Some((
                format!(
                    "device index {dev} on network card {card} of node group `{group}` exceeds the {enis} network interface{} that card of `{type_name}` takes ({})",
                    if enis == 1 { "" } else { "s" },
                    index_range("device index", enis)
                ),
                if enis > 1 {
                    format!(
                        "on network card {card} use a device index from 0 to {}, and put each further EFA on the next unused network card at device index 0",
                        enis - 1
                    )
                } else {
                    format!(
                        "use device index 0 on network card {card}, and put each further EFA on the next unused network card"
                    )
                },
            ))
        } else if earlier
            .iter()
            .any(|n| n.network_card == card && n.device_index == dev)
        {
            Some((
                format!(
                    "node group `{group}` has a second interface at network card {card}, device index {dev}"
                ),
                "give every interface its own (network card, device index) pair".into(),
            ))
        } else if card == 0 && dev == 0 && nic.kind == InterfaceType::EfaOnly {
            Some((
                format!(
                    "the primary interface of node group `{group}` (network card 0, device index 0) is `efa-only`, which cannot be a primary: it has no IP address"
                ),
                "make the primary `type: efa` (or `interface`) and keep `efa-only` for further network cards".into(),
            ))
        } else if card == 0 && nic.kind.is_efa() && t.is_some_and(|t| t.card0_ena_only) {
            let last = t
                .and_then(|t| t.network_cards)
                .unwrap_or(1)
                .saturating_sub(1);
            Some((
                format!(
                    "node group `{group}` puts an `{}` interface on network card 0, but card 0 of `{type_name}` carries only ENA",
                    nic.kind.name()
                ),
                format!(
                    "make card 0 `type: interface` and put the EFAs on network cards 1-{last} at device index 0 (`efa-only`)"
                ),
            ))
        } else if nic.kind.is_efa()
            && earlier
                .iter()
                .any(|n| n.network_card == card && n.kind.is_efa())
        {
            Some((
                format!(
                    "node group `{group}` puts a second EFA on network card {card}: a network card takes at most one EFA"
                ),
                "move it to an unused network card (device index 0), or make it `type: interface`".into(),
            ))
        } else {
            None
        };
        if let Some((message, help)) = problem {
            out.push(Problem {
                nic: Some(i),
                message,
                help,
            });
        }
    }
    out
}

/// `indexes 0-3`, `index 0`, `no index`.
fn index_range(what: &str, n: u32) -> String {
    match n {
        0 => format!("no {what}"),
        1 => format!("{what} 0"),
        _ => format!("{what}es 0-{}", n - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::resolve::default_layout;

    #[test]
    fn default_layouts_of_every_efa_type_are_valid() {
        let c = Catalog::bundled();
        let mut bad = Vec::new();
        let mut checked = 0;
        for t in c.iter().filter(|t| t.supports_efa()) {
            checked += 1;
            let max = t.max_efa_interfaces.unwrap_or(0);
            let settings = [EfaSetting::Auto, EfaSetting::On]
                .into_iter()
                .chain((1..=max).map(EfaSetting::Count));
            for efa in settings {
                for secondary in [InterfaceType::EfaOnly, InterfaceType::Efa] {
                    let nics = default_layout(Some(t), efa, secondary, &[], "nodeGroups[0]");
                    for p in problems("g", &nics, Some(t)) {
                        bad.push(format!("{} {efa:?} {secondary:?}: {}", t.name, p.message));
                    }
                }
            }
        }
        assert!(checked > 250, "only {checked} EFA types in the catalog");
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    fn nic(card: u32, dev: u32, kind: InterfaceType) -> Nic {
        Nic {
            network_card: card,
            device_index: dev,
            kind,
            security_groups: Vec::new(),
            origin: Origin::Spec(String::new()),
        }
    }

    #[test]
    fn each_condition_is_caught_once() {
        use InterfaceType::*;
        let c = Catalog::bundled();
        let p5 = c.get("p5.48xlarge");
        let count = |nics: &[Nic], t| problems("g", nics, t).len();
        // p4d-era device index = card index on p5: card 2 takes indexes 0-1 only.
        assert_eq!(
            count(
                &[nic(0, 0, Efa), nic(1, 1, EfaOnly), nic(2, 2, EfaOnly)],
                p5
            ),
            1
        );
        assert_eq!(count(&[nic(0, 0, Efa), nic(0, 1, EfaOnly)], p5), 1);
        assert_eq!(count(&[nic(0, 0, EfaOnly)], p5), 1);
        assert_eq!(count(&[nic(0, 0, Efa), nic(0, 0, Interface)], p5), 1);
        assert_eq!(count(&[nic(1, 0, Efa)], p5), 1);
        assert_eq!(count(&[nic(0, 0, Efa), nic(32, 0, EfaOnly)], p5), 1);
        assert_eq!(count(&[nic(0, 0, Efa)], c.get("p6-b300.48xlarge")), 1);
        // The newer guidance: ENA primary and an efa-only beside it on card 0 (§2.5).
        assert_eq!(count(&[nic(0, 0, Interface), nic(0, 1, EfaOnly)], p5), 0);
        // Unknown types still get the checks that need no facts.
        assert_eq!(count(&[nic(0, 0, EfaOnly)], None), 1);
        assert_eq!(count(&[], p5), 0);
    }
}
