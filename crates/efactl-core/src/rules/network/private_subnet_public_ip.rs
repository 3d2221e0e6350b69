use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA023",
    name: "private-subnet-public-ip",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "Public IPs are assigned in a subnet that has no internet gateway route",
    doc: "## What it does
Warns about public IPv4 addresses that cannot be used:
- a subnet with `internet: none` or `internet: nat` that has `mapPublicIpOnLaunch: true`;
- a node group with `publicIp: true` that launches in such a subnet.

## Why it matters
A public IP works only through a route to an internet gateway. In a subnet with no internet it
reaches nothing; behind a NAT gateway, replies to traffic sent to the public IP leave through
the NAT gateway and never complete. Tools that prefer a node's public IP then fail: the
ParallelCluster guide says \"the public IP of a head node isn't accessible if the subnet doesn't
have internet access\" and asks to verify that auto-assign public IPv4 is disabled in the
subnet \"to ensure that the `pcluster` commands have access to the cluster\" (`pcluster ssh` and
`dcv-connect` use the public IP when one exists). It also puts addresses on the nodes that
suggest an exposure the network does not have, and multi-interface nodes cannot get one at all
(EFA016).

## Example
```yaml
network:
  subnets:
    - name: compute
      cidr: 10.0.16.0/20
      internet: none
      mapPublicIpOnLaunch: true
```

## Fix
Set `mapPublicIpOnLaunch: false` on the subnet and drop `publicIp: true` from node groups in
it; reach the nodes by their private address (a bastion, SSM, or a VPN). On a live subnet:
`aws ec2 modify-subnet-attribute --subnet-id SUBNET --no-map-public-ip-on-launch`.

## Source
PC-UG `network-configuration-v3.md` (\"AWS ParallelCluster in a single subnet with no internet
access\": SubnetId and Limitations), the guide efa-facts.md §2.10 and §7 cite.
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    for s in &cluster.subnets {
        if s.internet == Internet::Public || !s.map_public_ip_on_launch {
            continue;
        }
        r.report(
            s.origin.at("mapPublicIpOnLaunch"),
            format!(
                "subnet `{}` auto-assigns public IPs but has {}, so those addresses cannot be reached",
                s.key,
                route(s.internet)
            ),
        )
        .help = Some(match &s.origin {
            Origin::Live(id) => format!(
                "turn it off: `aws ec2 modify-subnet-attribute --subnet-id {id} --no-map-public-ip-on-launch`"
            ),
            _ if crate::rules::template::in_template(cluster) => format!(
                "set `MapPublicIpOnLaunch: false` on {}",
                crate::rules::template::named(&s.origin, &s.key)
            ),
            _ => "set `mapPublicIpOnLaunch: false`".into(),
        });
    }
    for ng in &cluster.node_groups {
        if !ng.public_ip {
            continue;
        }
        let Some(s) = ng
            .subnets
            .iter()
            .filter_map(|k| cluster.subnet(k))
            .find(|s| s.internet != Internet::Public)
        else {
            continue;
        };
        r.report(
            ng.origin.at("publicIp"),
            format!(
                "node group `{}` asks for public IPs but launches in subnet `{}`, which has {}, so those addresses cannot be reached",
                ng.name,
                s.key,
                route(s.internet)
            ),
        )
        .help = Some(if crate::rules::template::in_template(cluster) {
            format!(
                "remove `AssociatePublicIpAddress: true` from {}'s interfaces; reach the nodes by their private addresses",
                crate::rules::template::named(&ng.origin, &ng.name)
            )
        } else {
            "remove `publicIp: true`; reach the nodes by their private addresses".into()
        });
    }
}

fn route(internet: Internet) -> &'static str {
    match internet {
        Internet::Nat => "only a NAT gateway route out",
        _ => "no route to the internet",
    }
}
