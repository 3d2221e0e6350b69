use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA016",
    name: "public-ip-multi-interface",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A node with more than one network interface is expected to get a public IP",
    doc: "## What it does
Checks node groups whose nodes launch with more than one network interface (every multi-EFA
layout: p4d, p5, trn1, hpc6id …) for two ways of asking for a public IPv4 address:
- `publicIp: true` on the node group;
- a subnet with `mapPublicIpOnLaunch: true`, when the subnet is `internet: public` (the nodes
  would depend on that address to reach anything) or the target is ParallelCluster (whose
  validator rejects it whatever the route).

## Why it matters
\"AWS public IPs can only be assigned to instances launched with a single network interface.\"
With `publicIp: true` (`AssociatePublicIpAddress` in the launch template) EC2 refuses the launch:
`InvalidParameterCombination: The associatePublicIPAddress parameter cannot be specified when
launching with multiple network interfaces`. A subnet's auto-assign setting fails silently
instead: the nodes come up without a public IP, and in a subnet whose only way out is an
internet gateway they reach neither the internet nor AWS's public endpoints. ParallelCluster's
`MultiNetworkInterfacesInstancesValidator` rejects both configurations with an error.

## Example
```yaml
network:
  subnets:
    - { name: public, cidr: 10.0.0.0/20, internet: public, mapPublicIpOnLaunch: true }
nodeGroups:
  - name: gpu
    instanceType: p5.48xlarge
    count: 2
    subnet: public
    publicIp: true
```

## Fix
Put multi-interface nodes in a private subnet with `internet: nat` (or `internet: none` with
VPC endpoints) and drop `publicIp`. A head node that needs a public address can use an
Elastic IP associated after launch. On a live subnet:
`aws ec2 modify-subnet-attribute --subnet-id SUBNET --no-map-public-ip-on-launch`.

## Source
efa-facts.md §2.10 (PC-UG `network-configuration-v3.md`: \"AWS public IPs can only be assigned
to instances launched with a single network interface\"); ParallelCluster
`MultiNetworkInterfacesInstancesValidator` in `cluster_validators.py` (PC-VAL file); the EC2
error string as reported in aws/karpenter-provider-aws#5666 (not in efa-facts.md).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    for ng in &cluster.node_groups {
        let nics = ng.interfaces.len();
        if nics < 2 {
            continue;
        }
        let what = match ng.instance_type() {
            "" => format!("node group `{}`", ng.name),
            t => format!("node group `{}` ({t})", ng.name),
        };
        if ng.public_ip {
            r.report(
                ng.origin.at("publicIp"),
                format!(
                    "{what} asks for a public IP but its nodes launch with {nics} network interfaces; EC2 rejects the launch, as public IPs can only be assigned to instances with a single network interface"
                ),
            )
            .help = Some(if crate::rules::pcluster::in_config(cluster) {
                format!(
                    "set `Networking.AssignPublicIp: false` on {} and launch its nodes in a subnet whose route table sends 0.0.0.0/0 to a NAT gateway (or one with VPC endpoints)",
                    crate::rules::pcluster::queue(ng)
                )
            } else if crate::rules::template::in_template(cluster) {
                "remove `AssociatePublicIpAddress: true` from the launch template's interfaces and launch the nodes in a subnet whose route table sends 0.0.0.0/0 to a NAT gateway (or one with VPC endpoints)".into()
            } else {
                "remove `publicIp: true` and give the nodes a subnet with `internet: nat` (or `none` with VPC endpoints)".into()
            });
            continue;
        }
        for key in &ng.subnets {
            let Some(subnet) = cluster.subnet(key) else {
                continue;
            };
            if !subnet.map_public_ip_on_launch {
                continue;
            }
            let live = crate::rules::live::live_id(&subnet.origin).is_some();
            let (message, help) = if subnet.internet == Internet::Public {
                (
                    format!(
                        "{what} launches nodes with {nics} network interfaces in public subnet `{key}`, whose auto-assigned public IPs do not apply to them: the nodes get no public IP and cannot reach the internet through the internet gateway"
                    ),
                    if crate::rules::template::in_template(cluster) {
                        format!(
                            "launch {} in a private subnet (its `VPCZoneIdentifier`, `Subnets` or the interfaces' `SubnetId`) whose route table sends 0.0.0.0/0 to a NAT gateway (or one with VPC endpoints for the services they use)",
                            crate::rules::template::named(&ng.origin, &ng.name)
                        )
                    } else if live {
                        "launch the nodes in a private subnet whose route table sends 0.0.0.0/0 to a NAT gateway (or one with VPC endpoints for the services they use)".to_string()
                    } else {
                        "launch the node group in a subnet with `internet: nat` (or `none` with VPC endpoints)".to_string()
                    },
                )
            } else if cluster.target == Target::ParallelCluster {
                (
                    format!(
                        "{what} launches nodes with {nics} network interfaces in subnet `{key}`, which auto-assigns public IPs; ParallelCluster rejects this, as public IPs can only be assigned to instances with a single network interface"
                    ),
                    if crate::rules::template::in_template(cluster) {
                        format!("set `MapPublicIpOnLaunch: false` on {}", crate::rules::template::named(&subnet.origin, key))
                    } else if live {
                        format!("turn it off: `aws ec2 modify-subnet-attribute --subnet-id {key} --no-map-public-ip-on-launch`")
                    } else {
                        format!("set `mapPublicIpOnLaunch: false` on subnet `{key}`")
                    },
                )
            } else {
                continue;
            };
            r.report(crate::rules::subnet_subject(ng), message).help = Some(help);
        }
    }
}
