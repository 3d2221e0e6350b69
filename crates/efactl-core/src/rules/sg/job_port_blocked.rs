use crate::rules::prelude::*;
use crate::rules::{and_list, primary_security_groups, range_passes, sg_label};

pub static RULE: Rule = Rule {
    id: "EFA031",
    name: "job-port-blocked",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A TCP port that multi-node jobs use is blocked between the nodes of a group",
    doc: "## What it does
For every compute node group with more than one node (now or after scaling), checks that the
TCP ports its jobs open between nodes pass the group's security groups both ways (egress of
the sending node, ingress of the receiving one): the ports in `nccl.ports` (torchrun's
`--master-port`, 29500 by default; the c10d rendezvous port, 29400), port 22 when `mpi`
launches ranks over SSH, and the port of `NCCL_COMM_ID=<ip>:<port>` in `nccl.env`. It also
checks that the ephemeral ports (32768-60999, Linux's default `ip_local_port_range`) pass:
NCCL's bootstrap, proxy and socket listeners bind OS-assigned ports, so no fixed list covers
them. A group whose security group allows all traffic to and from itself passes everything.

## Why it matters
EFA carries only the collectives' data. Everything before it is TCP over the primary
interface: torchrun's rendezvous, NCCL's bootstrap ring (rank 0 listens on an ephemeral port
unless `NCCL_COMM_ID` pins it), MPI's SSH launch of remote ranks. A blocked port does not
fail fast: NCCL retries `connect` and gives up after its timeouts (`socketStartConnect:
exceeded timeouts`, `connect to ... returned Connection timed out, exceeded error retry
count`), torchrun workers wait at the rendezvous, and `mpirun` reports \"ORTE was unable to
reliably start one or more daemons\".

## Example
```yaml
securityGroups:
  - name: nodes
    ingress:
      - { protocol: tcp, ports: 22, self: true }
    egress:
      - { protocol: tcp, ports: 22, self: true }
nccl:
  ports: [29500]          # torchrun --master-port: blocked between the nodes
```

## Fix
Give the group `selfReferencing: true` (all traffic to and from itself, which EFA needs
anyway), or add the port both ways: `{ protocol: tcp, ports: 29500, self: true }` under
`ingress` and `egress`; for NCCL's ephemeral ports `{ protocol: tcp, ports: 1024-65535, self:
true }`. On a live group:
`aws ec2 authorize-security-group-ingress --group-id SG --protocol tcp --port 29500 --source-group SG`
and the same with `authorize-security-group-egress`.

## Source
efa-facts.md §3.2 (torchrun `--master-port` 29500 and c10d 29400, TORCH-RUN and the PyTorch
elastic quickstart; NCCL `src/misc/socket.cc` \"Port is forced by env\" else an OS-assigned
port; `NCCL_COMM_ID` in NCCL `src/bootstrap.cc`: \"allow all TCP between nodes\") and §5.3
(NCCL's connect timeout messages by version). The `mpirun` text: Open MPI's ORTE, e.g.
https://github.com/open-mpi/ompi/issues/5639.
",
    check: Some(check),
};

/// Linux's default `net.ipv4.ip_local_port_range`, where NCCL's unpinned listeners land.
const EPHEMERAL: PortRange = PortRange {
    from: 32768,
    to: 60999,
};

/// The port of `NCCL_COMM_ID=<ip>:<port>` (also `[v6]:port`, `host:port`).
fn comm_id_port(value: &str) -> Option<u16> {
    let (_, port) = value.trim().rsplit_once(':')?;
    port.parse().ok().filter(|p| *p != 0)
}

/// Which side blocks: "no egress rule of `a` lets it out to ...".
fn blocked_by(groups: &str, egress_ok: bool, ingress_ok: bool) -> String {
    match (egress_ok, ingress_ok) {
        (false, false) => format!("neither an egress nor an ingress rule of {groups} lets it pass"),
        (false, true) => {
            format!("no egress rule of {groups} lets it out to the other nodes")
        }
        _ => format!("no ingress rule of {groups} admits it from the other nodes"),
    }
}

/// The fixed TCP ports a cluster's jobs open between its nodes, with what uses each: SSH for
/// `mpirun`, `nccl.ports`, the `NCCL_COMM_ID` port. (NCCL's own listeners take ephemeral
/// ports, which each rule checks its own way.) Shared with EFA036 (network ACLs).
pub(crate) fn job_ports(c: &Cluster) -> Vec<(u16, String)> {
    let mut ports: Vec<(u16, String)> = Vec::new();
    let mut want = |port: u16, why: String| {
        if !ports.iter().any(|(p, _)| *p == port) {
            ports.push((port, why));
        }
    };
    for p in &c.nccl.ports {
        want(*p, format!("job port {p} (`nccl.ports`)"));
    }
    if c.mpi
        .as_ref()
        .is_some_and(|m| m.launcher == MpiLauncher::Ssh)
    {
        want(
            22,
            "SSH (TCP 22), which `mpirun` starts remote ranks over,".into(),
        );
    }
    if let Some(p) = c
        .nccl
        .env
        .get("NCCL_COMM_ID")
        .and_then(|(v, _)| comm_id_port(v))
    {
        want(p, format!("the `NCCL_COMM_ID` port {p}"));
    }
    ports
}

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let c = cx.cluster;
    let ports = job_ports(c);

    for ng in &c.node_groups {
        if !ng.is_multi_node() || ng.role != NodeRole::Compute {
            continue;
        }
        let groups = primary_security_groups(ng);
        if groups.is_empty() {
            continue;
        }
        let side = Side {
            groups,
            cidr: c.node_cidr(ng),
        };
        let labels: Vec<String> = groups
            .iter()
            .map(|k| {
                c.security_group(k)
                    .map(sg_label)
                    .unwrap_or_else(|| k.clone())
            })
            .collect();
        let names = and_list(&labels);
        // The VPC default group is not in the spec: name a group of one's own instead.
        let fix = match groups.first().map(String::as_str) {
            Some(crate::resolve::DEFAULT_SG) | None => {
                "name a security group with `selfReferencing: true` in `securityGroups`".to_string()
            }
            Some(g) => format!("give `{g}` `selfReferencing: true`"),
        };
        // A live group: the finding is the first group's (where the rule goes), and its fix
        // the AWS CLI calls that add the missing directions.
        let live = groups
            .first()
            .and_then(|k| c.security_group(k))
            .and_then(|sg| crate::rules::live::live_sg(sg).map(|id| (sg, id)));
        let subject = |egress_ok: bool, ingress_ok: bool| match live {
            Some((sg, _)) => sg.origin.at(match (egress_ok, ingress_ok) {
                (true, false) => "ingress",
                (false, true) => "egress",
                _ => "rules",
            }),
            None => ng.origin.at("securityGroups"),
        };
        let live_fix = |range: PortRange, egress_ok: bool, ingress_ok: bool| {
            live.map(|(_, id)| {
                let both = !egress_ok && !ingress_ok;
                format!(
                    "add the rule{} to `{id}`: {}",
                    if both { "s" } else { "" },
                    crate::rules::live::authorize_self_dirs(
                        id,
                        &Protocol::Tcp,
                        Some(range),
                        !ingress_ok,
                        !egress_ok
                    )
                )
            })
        };
        // A template's group: the rule resources that add the missing directions.
        let first = groups.first().and_then(|k| c.security_group(k));
        let template_fix = |range: PortRange, egress_ok: bool, ingress_ok: bool| {
            let sg = first.filter(|_| crate::rules::template::in_template(c))?;
            let rules: Vec<String> = [(!ingress_ok, false), (!egress_ok, true)]
                .iter()
                .filter(|(missing, _)| *missing)
                .map(|(_, egress)| {
                    crate::rules::template::self_rule(sg, *egress, &Protocol::Tcp, Some(range))
                })
                .collect();
            Some(format!(
                "add {} {}",
                rules.join(", and "),
                crate::rules::template::SEPARATE
            ))
        };
        for (port, why) in &ports {
            if c.allows(side, side, &Protocol::Tcp, Some(*port), false) {
                continue;
            }
            let (egress_ok, ingress_ok) = range_passes(
                c,
                side,
                side,
                &Protocol::Tcp,
                PortRange {
                    from: *port,
                    to: *port,
                },
            );
            let range = PortRange {
                from: *port,
                to: *port,
            };
            r.report(
                subject(egress_ok, ingress_ok),
                format!(
                    "node group `{}` runs multi-node jobs, but {why} is blocked between its nodes: {}",
                    ng.name,
                    blocked_by(&names, egress_ok, ingress_ok)
                ),
            )
            .help = Some(live_fix(range, egress_ok, ingress_ok).or_else(|| template_fix(range, egress_ok, ingress_ok)).unwrap_or_else(|| format!(
                "{fix}, or add `{{ protocol: tcp, ports: {port}, self: true }}` under both its `ingress` and `egress`"
            )));
        }
        let (egress_ok, ingress_ok) = range_passes(c, side, side, &Protocol::Tcp, EPHEMERAL);
        if !(egress_ok && ingress_ok) {
            r.report(
                subject(egress_ok, ingress_ok),
                format!(
                    "node group `{}` runs multi-node jobs, but TCP on the ephemeral ports {}-{} is blocked between its nodes, where NCCL's bootstrap and proxy listen on OS-assigned ports: {}",
                    ng.name,
                    EPHEMERAL.from,
                    EPHEMERAL.to,
                    blocked_by(&names, egress_ok, ingress_ok)
                ),
            )
            .help = Some(live_fix(EPHEMERAL, egress_ok, ingress_ok).or_else(|| template_fix(EPHEMERAL, egress_ok, ingress_ok)).unwrap_or_else(|| format!(
                "{fix}, or add `{{ protocol: tcp, ports: 1024-65535, self: true }}` under both its `ingress` and `egress`"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_id_ports() {
        assert_eq!(comm_id_port("10.0.0.1:5000"), Some(5000));
        assert_eq!(comm_id_port("[fe80::1]:29400"), Some(29400));
        assert_eq!(comm_id_port("head-node:70000"), None);
        assert_eq!(comm_id_port("10.0.0.1"), None);
    }

    #[test]
    fn rules_cover_a_range_together() {
        let spec = "apiVersion: efactl.dev/v1alpha1
name: t
region: us-east-1
availabilityZone: us-east-1a
network:
  subnets:
    - { name: compute, cidr: 10.0.0.0/20, internet: nat }
securityGroups:
  - name: nodes
    ingress:
      - { protocol: tcp, ports: 1024-40000, self: true }
      - { protocol: tcp, ports: 40001-65535, cidr: 10.0.0.0/16 }
    egress:
      - { protocol: tcp, ports: 1-65535, self: true }
nodeGroups:
  - { name: gpu, instanceType: p4d.24xlarge, count: 2, securityGroups: [nodes] }
nccl:
  ports: [29500]
";
        assert!(crate::rules::findings_of("EFA031", spec).is_empty());
        let blocked = spec.replace("40001-65535", "40002-65535");
        assert_eq!(crate::rules::findings_of("EFA031", &blocked).len(), 1);
    }
}
