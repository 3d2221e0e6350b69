use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA020",
    name: "interface-endpoint-https-blocked",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "Security groups block HTTPS from the nodes to an interface endpoint",
    doc: "## What it does
Evaluates, for every interface endpoint and every node group that uses it, whether a TCP 443
connection from a node's primary interface passes both sides' security groups:
- the endpoint's security groups must admit it (ingress from the nodes' groups or subnet);
- the nodes' security groups must let it out (egress to the endpoint's groups or to a CIDR
  that holds the endpoint's subnet). A group whose `egress` lists only the EFA self rule blocks
  everything else.
With private DNS on, every subnet of the VPC resolves the service's name to the endpoint, so
every node group uses it; with private DNS off, only node groups in the endpoint's subnets are
considered. Where a side's address block is unknown and a CIDR rule could match, the rule stays
silent.

## Why it matters
An endpoint that drops the nodes' HTTPS looks exactly like a missing one: the service's name
resolves to the endpoint's private addresses, the TCP handshake is dropped, and every SDK call
hangs until it times out. ParallelCluster's guide warns that the endpoints' security groups must
admit the cluster's (a VPC endpoint created without a security group gets the VPC's default
group, which admits only its own members).

## Example
```yaml
securityGroups:
  - name: efa
    selfReferencing: true
  - name: endpoints
    ingress:
      - { protocol: tcp, ports: 443, cidr: 192.168.0.0/16 }   # not the VPC
network:
  endpoints:
    - service: logs
      securityGroups: [endpoints]
```

## Fix
Admit HTTPS from the nodes' security group on the endpoint's group
(`{ protocol: tcp, ports: 443, securityGroup: efa }`), or leave the endpoint's `securityGroups`
out and efactl creates a group that admits every node group. When the nodes' egress is the
problem, add `{ protocol: tcp, ports: 443, cidr: VPC_CIDR }` to their group's `egress` (or drop
the `egress` list to keep AWS's default all-traffic egress). On a live group:
`aws ec2 authorize-security-group-ingress --group-id ENDPOINT_SG --protocol tcp --port 443 --source-group NODE_SG`.

## Source
efa-facts.md §7 (PC-UG `network-configuration-v3.md`: \"All instances in the VPC must have proper
security groups to communicate with the endpoints\"; \"endpoint SGs must be reachable from
cluster SGs\").
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    // Node group index -> services it cannot send 443 to (its own egress blocks).
    let mut egress_blocked: Vec<(usize, Vec<&str>)> = Vec::new();
    for e in &cluster.endpoints {
        if e.kind != EndpointType::Interface || e.security_groups.is_empty() {
            continue;
        }
        let mut ingress_blocked: Vec<&str> = Vec::new();
        for (i, ng) in cluster.node_groups.iter().enumerate() {
            let uses = e.private_dns || ng.subnets.iter().any(|s| e.subnets.contains(s));
            let groups = crate::rules::primary_security_groups(ng);
            if !uses || groups.is_empty() {
                continue;
            }
            let from = Side {
                groups,
                cidr: cluster.node_cidr(ng),
            };
            let to = Side {
                groups: &e.security_groups,
                cidr: endpoint_cidr(cluster, e, ng),
            };
            let https = Protocol::Tcp;
            // With one side's address unknown, a CIDR rule might match: say nothing then.
            let ingress_ok = cluster.ingress_allows(from, to, &https, Some(443), false)
                || (from.cidr.is_none() && has_cidr_rule(cluster, to.groups, false));
            let egress_ok = cluster.egress_allows(from, to, &https, Some(443), false)
                || (to.cidr.is_none() && has_cidr_rule(cluster, from.groups, true));
            if !ingress_ok {
                ingress_blocked.push(ng.name.as_str());
            }
            if !egress_ok {
                match egress_blocked.iter_mut().find(|(k, _)| *k == i) {
                    Some((_, services)) => services.push(e.service.as_str()),
                    None => egress_blocked.push((i, vec![e.service.as_str()])),
                }
            }
        }
        if ingress_blocked.is_empty() {
            continue;
        }
        let endpoint_sg = e
            .security_groups
            .first()
            .and_then(|k| cluster.security_group(k))
            .and_then(crate::rules::live::live_sg);
        let plural = if ingress_blocked.len() > 1 { "s" } else { "" };
        r.report(
            e.origin.at("securityGroups"),
            format!(
                "interface endpoint for `{}` does not admit HTTPS (TCP 443) from node group{plural} {}: {} no ingress rule for TCP 443 from the nodes' security groups or subnet",
                e.service,
                crate::rules::and_list(&ingress_blocked),
                groups_have(cluster, &e.security_groups)
            ),
        )
        .help = Some(match endpoint_sg {
            Some(id) => format!(
                "let the endpoint's security group admit the nodes: {}",
                crate::rules::live::authorize_from(
                    id,
                    false,
                    &Protocol::Tcp,
                    Some(PortRange { from: 443, to: 443 }),
                    &first_group_id(cluster, ingress_blocked.first().copied())
                )
            ),
            None if crate::rules::template::in_template(cluster) => {
                let t = crate::rules::template::group_ref;
                let endpoint_group = e
                    .security_groups
                    .first()
                    .and_then(|k| cluster.security_group(k))
                    .map(t);
                let node_group = first_group(cluster, ingress_blocked.first().copied()).map(t);
                match (endpoint_group, node_group) {
                    (Some(eg), Some(ng)) => format!(
                        "let the endpoint's security group admit the nodes: add {}",
                        crate::rules::template::rule_resource(
                            &eg,
                            false,
                            &Protocol::Tcp,
                            Some(PortRange { from: 443, to: 443 }),
                            crate::rules::template::Peer::Group(&ng)
                        )
                    ),
                    _ => format!(
                        "give {} a security group in `SecurityGroupIds` that admits TCP 443 from the nodes' security groups",
                        crate::rules::template::named(&e.origin, &e.service)
                    ),
                }
            }
            None => format!(
                "let the endpoint's security group admit the nodes: an ingress rule `{{ protocol: tcp, ports: 443, securityGroup: {} }}`",
                first_group_name(cluster, ingress_blocked.first().copied())
            ),
        });
    }
    for (i, services) in egress_blocked {
        let Some(ng) = cluster.node_groups.get(i) else {
            continue;
        };
        let groups = crate::rules::primary_security_groups(ng);
        let subject = match groups {
            [only] => cluster
                .security_group(only)
                .map(|sg| sg.origin.at("egress"))
                .unwrap_or_else(|| ng.origin.at("securityGroups")),
            _ => ng.origin.at("securityGroups"),
        };
        let plural = if services.len() > 1 { "s" } else { "" };
        let vpc = cluster
            .vpc
            .cidr
            .map(|c| c.to_string())
            .unwrap_or_else(|| "VPC_CIDR".into());
        let live_node_sg = match groups {
            [first, ..] => cluster
                .security_group(first)
                .and_then(crate::rules::live::live_sg),
            [] => None,
        };
        r.report(
            subject,
            format!(
                "node group `{}` cannot reach the interface endpoint{plural} for {} over HTTPS (TCP 443): {} no egress rule that lets TCP 443 out to the endpoint's security groups or subnet",
                ng.name,
                crate::rules::and_list(&services),
                groups_have(cluster, groups)
            ),
        )
        .help = Some(match live_node_sg {
            Some(id) => format!(
                "let the nodes' security group send HTTPS into the VPC: {}",
                crate::rules::live::authorize_cidr(
                    id,
                    true,
                    &Protocol::Tcp,
                    Some(PortRange { from: 443, to: 443 }),
                    &vpc
                )
            ),
            None if crate::rules::template::in_template(cluster) => match groups
                .first()
                .and_then(|k| cluster.security_group(k))
            {
                Some(sg) => format!(
                    "add {}, or leave out the group's `SecurityGroupEgress` to keep AWS's default all-traffic egress",
                    crate::rules::template::rule_resource(
                        &crate::rules::template::group_ref(sg),
                        true,
                        &Protocol::Tcp,
                        Some(PortRange { from: 443, to: 443 }),
                        crate::rules::template::Peer::Cidr(&vpc)
                    )
                ),
                None => format!("let the nodes' security groups send TCP 443 to {vpc}"),
            },
            None => format!(
                "add an egress rule `{{ protocol: tcp, ports: 443, cidr: {vpc} }}` to the nodes' security group, or drop its `egress` list to keep AWS's default all-traffic egress"
            ),
        });
    }
}

/// The address block of the endpoint's network interface a node talks to: the one in the
/// node's own subnet, else any of the endpoint's subnets, else the VPC.
fn endpoint_cidr(cluster: &Cluster, e: &Endpoint, ng: &NodeGroup) -> Option<crate::net::Cidr> {
    let own = ng
        .subnets
        .iter()
        .filter(|s| e.subnets.contains(s))
        .find_map(|s| cluster.subnet(s).and_then(|x| x.cidr));
    own.or_else(|| {
        e.subnets
            .iter()
            .find_map(|s| cluster.subnet(s).and_then(|x| x.cidr))
    })
    .or(cluster.vpc.cidr)
}

/// Some rule of these groups admits TCP 443 by CIDR: with the other side's address unknown,
/// the connection may well pass.
fn has_cidr_rule(cluster: &Cluster, groups: &[String], egress: bool) -> bool {
    groups
        .iter()
        .filter_map(|g| cluster.security_group(g))
        .flat_map(|sg| if egress { &sg.egress } else { &sg.ingress })
        .any(|rule| rule.covers(&Protocol::Tcp, Some(443)) && matches!(rule.peer, Peer::Cidr(_)))
}

/// `its security group `x` has` / `its security groups `x` and `y` have`.
fn groups_have(cluster: &Cluster, keys: &[String]) -> String {
    let labels: Vec<String> = keys
        .iter()
        .map(|k| match cluster.security_group(k) {
            Some(sg) => crate::rules::sg_label(sg),
            None => k.clone(),
        })
        .collect();
    let list = crate::rules::and_list(&labels);
    if labels.len() > 1 {
        format!("its security groups {list} have")
    } else {
        format!("its security group {list} has")
    }
}

/// The first security group of node group `node_group`: its name names it in a spec's fix,
/// its id in a live one.
fn first_group<'c>(cluster: &'c Cluster, node_group: Option<&str>) -> Option<&'c SecurityGroup> {
    node_group
        .and_then(|n| cluster.node_groups.iter().find(|ng| ng.name == n))
        .and_then(|ng| crate::rules::primary_security_groups(ng).first())
        .and_then(|k| cluster.security_group(k))
}

fn first_group_id(cluster: &Cluster, node_group: Option<&str>) -> String {
    first_group(cluster, node_group)
        .and_then(|sg| sg.id.clone())
        .unwrap_or_else(|| "NODE_SG".into())
}

fn first_group_name(cluster: &Cluster, node_group: Option<&str>) -> String {
    first_group(cluster, node_group)
        .map(|sg| sg.name.clone())
        .unwrap_or_else(|| "NODE_SG".into())
}
