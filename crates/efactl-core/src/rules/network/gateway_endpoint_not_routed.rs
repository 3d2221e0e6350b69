use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA018",
    name: "gateway-endpoint-not-routed",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A gateway endpoint the nodes need is not on their subnet's route table",
    doc: "## What it does
For every subnet with `internet: none` that a node group launches in, and every service the
nodes need through a gateway endpoint (`s3`, and `dynamodb` for ParallelCluster; the lists are
EFA017's), checks that a gateway endpoint for the service is on the subnet's route table. It
reports only when such an endpoint exists but is on other route tables (no endpoint at all is
EFA017; an interface endpoint for the service counts as serving the subnet).

Interface endpoints are not checked here: with private DNS on, their addresses resolve and are
reachable from every subnet of the VPC, whichever subnets their network interfaces sit in
(crossing zones only adds latency and data-transfer cost).

## Why it matters
A gateway endpoint is a route (to the service's prefix list) in the route tables it is
associated with, and nothing else. A subnet whose route table lacks it has no path to S3 at
all: downloads from S3, ECR image layers, ParallelCluster's configuration and the
CloudFormation wait-condition signal all time out.

## Example
```yaml
network:
  subnets:
    - { name: public, cidr: 10.0.0.0/24, internet: public }
    - { name: compute, cidr: 10.0.16.0/20, internet: none }
  endpoints:
    - service: s3
      subnets: [public]      # on the public subnet's route table only
```

## Fix
Add the subnet to the endpoint's `subnets`, or leave `subnets` out so efactl puts the endpoint
on the route table of every subnet with no internet. On a live VPC:
`aws ec2 modify-vpc-endpoint --vpc-endpoint-id VPCE --add-route-table-ids RTB`.

## Source
efa-facts.md §7 (PC-UG `network-configuration-v3.md`: `s3` and `dynamodb` as Gateway
endpoints; EKS-PRIV; ADAI HyperPod `vpc_endpoints/main.tf` S3 gateway on the private route
tables).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    let subnets = crate::rules::node_subnets_without_internet(cluster);
    if subnets.is_empty() {
        return;
    }
    let needs = super::vpc_endpoint_missing::needs(cluster);
    for subnet in subnets {
        for &(service, kind, why) in &needs {
            if kind != EndpointType::Gateway {
                continue;
            }
            let mut gateways = cluster
                .endpoints
                .iter()
                .filter(|e| e.service == service && e.kind == EndpointType::Gateway);
            let Some(first) = gateways.clone().next() else {
                continue;
            };
            let routed = gateways.any(|e| e.route_tables.contains(&subnet.route_table));
            let interface = cluster
                .endpoints
                .iter()
                .any(|e| e.service == service && e.kind == EndpointType::Interface);
            if routed || interface {
                continue;
            }
            let help = match &first.origin {
                Origin::Live(id) => format!(
                    "associate the endpoint with the subnet's route table: `aws ec2 modify-vpc-endpoint --vpc-endpoint-id {id} --add-route-table-ids {}`",
                    subnet.route_table
                ),
                _ if crate::rules::template::in_template(cluster) => format!(
                    "add the route table of {} to `RouteTableIds` of {}",
                    crate::rules::template::named(&subnet.origin, &subnet.key),
                    crate::rules::template::named(&first.origin, &first.service)
                ),
                _ => format!(
                    "add `{}` to the endpoint's `subnets`, or remove `subnets` so it serves every subnet with no internet",
                    subnet.key
                ),
            };
            r.report(
                first.origin.at("subnets"),
                format!(
                    "the gateway endpoint for `{service}` is not on the route table of subnet `{}`, which has no internet, so its nodes have no route to {service}: {why}",
                    subnet.key
                ),
            )
            .help = Some(help);
        }
    }
}
