use crate::resolve::DEFAULT_SG;
use crate::rules::prelude::*;
use crate::rules::{and_list, primary_security_groups, range_passes, sg_label};

pub static RULE: Rule = Rule {
    id: "EFA033",
    name: "fsx-lustre-ports-blocked",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "Security groups block the Lustre ports between an FSx for Lustre file system and the nodes",
    doc: "## What it does
For every FSx for Lustre file system, checks that Lustre's TCP ports, 988 and 1018-1023, pass
the security groups (egress of the sender, ingress of the receiver):
- from every node group (its primary interface's groups and subnet) to the file system's
  groups and subnet, since every node mounts it;
- from the file system back to every node group: Lustre servers also open connections to
  their clients;
- between the file system's own servers (its groups to themselves).

A file system that names no `securityGroups` gets the VPC's default group, as in AWS.

## Why it matters
Lustre runs LNet over TCP: clients connect to port 988 from the privileged ports 1018-1023.
With a blocked port FSx refuses to create the file system (\"The file system cannot be created
because the default security group in the subnet provided or the provided security groups do
not permit Lustre LNET network traffic on port 988\"), or the mount hangs and fails on the
nodes (`mount -t lustre ...` then, after two minutes, `Connection timed out`; with blocked
client egress: `mount.lustre: ... failed: Input/output error Is the MGS running?`). Training
jobs then start without their data or checkpoints directory.

## Example
```yaml
securityGroups:
  - name: nodes
    selfReferencing: true
  - name: fsx
    ingress:
      - { protocol: tcp, ports: 988, securityGroup: nodes }   # 1018-1023 missing
storage:
  - { name: scratch, type: fsx-lustre, subnet: compute, securityGroups: [fsx] }
```

## Fix
On the file system's group, admit TCP 988 and 1018-1023 from itself and from the nodes'
groups; on the nodes' group, admit the same ports from the file system's group:
```yaml
  - name: fsx
    ingress:
      - { protocol: tcp, ports: 988, self: true }
      - { protocol: tcp, ports: 1018-1023, self: true }
      - { protocol: tcp, ports: 988, securityGroup: nodes }
      - { protocol: tcp, ports: 1018-1023, securityGroup: nodes }
```
On a live group:
`aws ec2 authorize-security-group-ingress --group-id FSX_SG --protocol tcp --port 988 --source-group NODES_SG`
(and `--port 1018-1023`).

## Source
Amazon FSx for Lustre User Guide, \"File system access control with Amazon VPC\"
(https://docs.aws.amazon.com/fsx/latest/LustreGuide/limit-access-security-groups.html),
\"Creating an FSx for Lustre file system fails\"
(https://docs.aws.amazon.com/fsx/latest/LustreGuide/cannot-create-fs.html: \"allow inbound
traffic on ports 988 and 1018-1023\") and \"Troubleshooting file system mount issues\"
(https://docs.aws.amazon.com/fsx/latest/LustreGuide/mount-troubleshooting.html). Not covered
by efa-facts.md.
",
    check: Some(check),
};

const LUSTRE_PORTS: [PortRange; 2] = [
    PortRange { from: 988, to: 988 },
    PortRange {
        from: 1018,
        to: 1023,
    },
];

/// Which way traffic goes, for the message.
#[derive(Clone, Copy, PartialEq)]
enum Way {
    ToFs,
    FromFs,
    Servers,
}

fn port_label(p: PortRange) -> String {
    crate::rules::traffic_label(&Protocol::Tcp, Some(p))
}

fn labels(cx: &Context<'_>, groups: &[String], of_fs: bool) -> String {
    let names: Vec<String> = groups
        .iter()
        .map(|k| match cx.cluster.security_group(k) {
            Some(sg) if of_fs && sg.key == DEFAULT_SG => {
                "default (the VPC's default group, used because the file system names none)".into()
            }
            Some(sg) => sg_label(sg),
            None => k.clone(),
        })
        .collect();
    and_list(&names)
}

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let c = cx.cluster;
    for fs in &c.file_systems {
        if fs.kind != StorageKind::FsxLustre || fs.security_groups.is_empty() {
            continue;
        }
        let fs_side = Side {
            groups: &fs.security_groups,
            cidr: c.subnet(&fs.subnet).and_then(|s| s.cidr),
        };
        let fs_groups = labels(cx, &fs.security_groups, true);

        for ports in LUSTRE_PORTS {
            let (egress_ok, ingress_ok) = range_passes(c, fs_side, fs_side, &Protocol::Tcp, ports);
            if !(egress_ok && ingress_ok) {
                report(
                    cx,
                    r,
                    fs,
                    Way::Servers,
                    ports,
                    &[],
                    &fs_groups,
                    egress_ok,
                    ingress_ok,
                );
            }
        }

        // One finding per way, port range and verdict, naming every node group it concerns.
        for way in [Way::ToFs, Way::FromFs] {
            for ports in LUSTRE_PORTS {
                let mut failing: Vec<((bool, bool), Vec<&NodeGroup>)> = Vec::new();
                for ng in &c.node_groups {
                    let groups = primary_security_groups(ng);
                    if groups.is_empty() {
                        continue;
                    }
                    let node = Side {
                        groups,
                        cidr: c.node_cidr(ng),
                    };
                    let verdict = match way {
                        Way::ToFs => range_passes(c, node, fs_side, &Protocol::Tcp, ports),
                        _ => range_passes(c, fs_side, node, &Protocol::Tcp, ports),
                    };
                    if verdict == (true, true) {
                        continue;
                    }
                    match failing.iter_mut().find(|(v, _)| *v == verdict) {
                        Some((_, list)) => list.push(ng),
                        None => failing.push((verdict, vec![ng])),
                    }
                }
                for ((egress_ok, ingress_ok), ngs) in failing {
                    report(
                        cx, r, fs, way, ports, &ngs, &fs_groups, egress_ok, ingress_ok,
                    );
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    cx: &Context<'_>,
    r: &mut Reporter<'_>,
    fs: &FileSystem,
    way: Way,
    ports: PortRange,
    ngs: &[&NodeGroup],
    fs_groups: &str,
    egress_ok: bool,
    ingress_ok: bool,
) {
    let port = port_label(ports);
    let names: Vec<&str> = ngs.iter().map(|ng| ng.name.as_str()).collect();
    let node_word = if names.len() == 1 {
        "node group"
    } else {
        "node groups"
    };
    let mut node_sgs: Vec<String> = ngs
        .iter()
        .flat_map(|ng| primary_security_groups(ng).iter().cloned())
        .collect();
    node_sgs.sort();
    node_sgs.dedup();
    let node_groups = labels(cx, &node_sgs, false);
    // What fails, and whose egress and ingress rules it passes through.
    let (what, egress_of, ingress_of) = match way {
        Way::ToFs => (
            format!(
                "{node_word} {} cannot reach file system `{}` on Lustre's {port}",
                and_list(&names),
                fs.key
            ),
            node_groups.as_str(),
            fs_groups,
        ),
        Way::FromFs => (
            format!(
                "file system `{}` cannot reach {node_word} {} on {port}, which Lustre servers connect back to their clients on",
                fs.key,
                and_list(&names)
            ),
            fs_groups,
            node_groups.as_str(),
        ),
        Way::Servers => (
            format!(
                "the servers of file system `{}` cannot reach each other on Lustre's {port}{}",
                fs.key,
                // FSx's own creation check is on port 988.
                if ports.from == 988 {
                    ", so FSx refuses to create it"
                } else {
                    ", which AWS requires between them"
                }
            ),
            fs_groups,
            fs_groups,
        ),
    };
    let why = match (egress_ok, ingress_ok) {
        (false, false) => format!(
            "neither the egress rules of {egress_of} nor the ingress rules of {ingress_of} let it pass"
        ),
        (false, true) => format!("no egress rule of {egress_of} lets it out"),
        _ => format!("no ingress rule of {ingress_of} admits it"),
    };
    let source = match way {
        Way::ToFs => node_sgs.first().cloned(),
        Way::FromFs => fs.security_groups.first().cloned(),
        Way::Servers => None,
    };
    let peer = match &source {
        Some(g) => format!("securityGroup: {g}"),
        None => "self: true".into(),
    };
    let ports_yaml = if ports.from == ports.to {
        ports.from.to_string()
    } else {
        format!("{}-{}", ports.from, ports.to)
    };
    let target = match way {
        Way::ToFs | Way::Servers => "the file system's security group",
        Way::FromFs => "the nodes' security group",
    };
    // The fix of a rule on the fs's side, when that side is the VPC default group.
    let fs_default = fs.security_groups.iter().any(|g| g == DEFAULT_SG)
        && match way {
            Way::ToFs => !ingress_ok,
            Way::FromFs => !egress_ok,
            Way::Servers => true,
        };
    let c = cx.cluster;
    let template = crate::rules::template::in_template(c);
    let group = |k: &String| c.security_group(k).map(crate::rules::template::group_ref);
    let target_group = match way {
        Way::ToFs | Way::Servers => fs.security_groups.first(),
        Way::FromFs => node_sgs.first(),
    }
    .and_then(group);
    r.report(fs.origin.at("securityGroups"), format!("{what}: {why}"))
        .help = Some(if template && fs_default {
        format!(
            "give {} a security group of its own in `SecurityGroupIds`, with `AWS::EC2::SecurityGroupIngress` resources that admit TCP 988 and TCP 1018-1023 from that group itself and from the nodes' groups",
            crate::rules::template::named(&fs.origin, &fs.key)
        )
    } else if template && !ingress_ok && target_group.is_some() {
        let target_group = target_group.unwrap_or_default();
        let peer = source
            .as_ref()
            .and_then(group)
            .unwrap_or_else(|| target_group.clone());
        format!(
            "add {}",
            crate::rules::template::rule_resource(
                &target_group,
                false,
                &Protocol::Tcp,
                Some(ports),
                crate::rules::template::Peer::Group(&peer)
            )
        )
    } else if template && ingress_ok {
        format!("let the egress of {egress_of} reach the other side on TCP {ports_yaml}: add an `AWS::EC2::SecurityGroupEgress` for it, or leave out the group's `SecurityGroupEgress` to keep AWS's default (all traffic to 0.0.0.0/0)")
    } else if fs_default {
        "give the file system a security group of its own under `securityGroups` that admits TCP 988 and 1018-1023 from itself and from the nodes' groups, and name it in `securityGroups` of the storage entry".to_string()
    } else if ingress_ok {
        format!("let the egress of {egress_of} reach the other side on TCP {ports_yaml} (AWS's default egress, all traffic to 0.0.0.0/0, does)")
    } else {
        format!("add `{{ protocol: tcp, ports: {ports_yaml}, {peer} }}` to the ingress of {target}")
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn world_egress_reaches_a_subnet_of_unknown_cidr() {
        // The file system's subnet is an existing one given by id only.
        let spec = "apiVersion: efactl.dev/v1alpha1
name: t
region: us-east-1
availabilityZone: us-east-1a
network:
  vpc: { id: vpc-0123456789abcdef0, cidr: 10.0.0.0/16 }
  subnets:
    - { name: compute, cidr: 10.0.0.0/20, internet: nat }
    - { name: storage, id: subnet-0123456789abcdef0, internet: none }
securityGroups:
  - name: nodes
    selfReferencing: true
    ingress:
      - { protocol: tcp, ports: 988, securityGroup: fsx }
      - { protocol: tcp, ports: 1018-1023, securityGroup: fsx }
  - name: fsx
    ingress:
      - { protocol: tcp, ports: 988, self: true }
      - { protocol: tcp, ports: 1018-1023, self: true }
      - { protocol: tcp, ports: 988, securityGroup: nodes }
      - { protocol: tcp, ports: 1018-1023, securityGroup: nodes }
nodeGroups:
  - { name: gpu, instanceType: p4d.24xlarge, count: 2, subnet: compute, securityGroups: [nodes] }
storage:
  - { name: scratch, type: fsx-lustre, subnet: storage, securityGroups: [fsx] }
";
        assert!(crate::rules::findings_of("EFA033", spec).is_empty());
    }
}
