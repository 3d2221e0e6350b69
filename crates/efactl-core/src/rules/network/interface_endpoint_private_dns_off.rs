use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA019",
    name: "interface-endpoint-private-dns-off",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "An interface endpoint that nodes without internet rely on has private DNS off",
    doc: "## What it does
Checks interface endpoints with private DNS disabled when node groups launch in subnets with
`internet: none`, unless another interface endpoint for the same service has private DNS on.

## Why it matters
With private DNS on, the service's ordinary name (`logs.REGION.amazonaws.com`) resolves inside
the VPC to the endpoint's private addresses. With it off, that name resolves to the service's
public addresses, which a subnet without internet cannot reach: the AWS SDKs, the CLI and
agents use the ordinary name, so their calls hang until they time out even though the endpoint
exists. Only a client configured with the endpoint-specific name (`vpce-….amazonaws.com`) could
use it. ParallelCluster, EKS and HyperPod all expect private DNS on the endpoints they use.

## Example
```yaml
network:
  endpoints:
    - service: logs
      privateDns: false
```

## Fix
Set `privateDns: true` (the default) or remove the key. Private DNS also needs the VPC's
`dnsSupport` and `dnsHostnames` (EFA024). On a live endpoint:
`aws ec2 modify-vpc-endpoint --vpc-endpoint-id VPCE --private-dns-enabled`.

## Source
efa-facts.md §7 (PC-UG `network-configuration-v3.md`: endpoints for subnets with no internet;
EKS-PRIV `private-clusters.adoc`); private DNS of interface endpoints:
https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html
(not quoted in efa-facts.md).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    let subnets = crate::rules::node_subnets_without_internet(cluster);
    if subnets.is_empty() {
        return;
    }
    let keys: Vec<&str> = subnets.iter().map(|s| s.key.as_str()).collect();
    let names = crate::rules::and_list(&keys);
    let plural = if keys.len() > 1 { "s" } else { "" };
    for e in &cluster.endpoints {
        if e.kind != EndpointType::Interface || e.private_dns {
            continue;
        }
        let other = cluster
            .endpoints
            .iter()
            .any(|o| o.kind == EndpointType::Interface && o.private_dns && o.service == e.service);
        if other {
            continue;
        }
        let help = match &e.origin {
            Origin::Live(id) => format!(
                "enable private DNS: `aws ec2 modify-vpc-endpoint --vpc-endpoint-id {id} --private-dns-enabled`"
            ),
            _ if crate::rules::template::in_template(cx.cluster) => format!(
                "set `PrivateDnsEnabled: true` on {}",
                crate::rules::template::named(&e.origin, &e.service)
            ),
            _ => "set `privateDns: true` (the default) on the endpoint".into(),
        };
        r.report(
            e.origin.at("privateDns"),
            format!(
                "interface endpoint for `{}` has private DNS off, so nodes in subnet{plural} {names} (no internet) resolve the service's public name, cannot reach it, and their calls time out",
                e.service
            ),
        )
        .help = Some(help);
    }
}
