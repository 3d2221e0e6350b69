use crate::net::Cidr;
use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA036",
    name: "network-acl-blocks-cluster-traffic",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A network ACL blocks the nodes' TCP traffic between subnets or to AWS over HTTPS",
    doc: "## What it does
Evaluates the network ACL of every subnet that holds nodes, where efactl can read it: in
`efactl audit` (specs and templates create no ACLs, so their subnets keep the VPC's default
ACL, which allows everything, and `efactl check` never raises this rule). Entries are tried in
rule-number order, the first match decides and no match is a deny, as AWS does. It reports:
- outbound TCP 443, or the replies to it on the ephemeral ports (32768-60999, Linux's
  `ip_local_port_range`), blocked towards AWS: the whole internet for a subnet with a route out,
  the VPC's CIDR (its interface endpoints) for one without;
- between two subnets that both hold nodes, in either direction: SSH (TCP 22) when MPI starts
  its ranks over SSH, the job ports (`nccl.ports`, the `NCCL_COMM_ID` port), and the ephemeral
  ports that NCCL's bootstrap, proxy and socket listeners bind.
ACLs are stateless: a connection needs the way out of one subnet, the way into the other, and
both again for the replies, so each subnet's ACL is checked for both directions. Not checked:
for a subnet without a route out, HTTPS to S3 through a gateway endpoint, which goes to S3's
prefix-list addresses (efactl does not resolve them), and partial denies (an entry counts only
when its CIDR covers the whole peer range).

## Why it matters
Security groups can be right and a job still hang: a network ACL is a second filter at the
subnet's edge. With HTTPS blocked, the node bootstrap cannot read its SSH key from Secrets
Manager and ECR pulls time out; with the ephemeral ports blocked between subnets, NCCL's
bootstrap stalls until `socketPollConnect` gives up, and `mpirun` cannot reach the other
nodes. Nodes in one subnet talk past their ACL (it applies only at the subnet's edge), which
is why such a cluster works on one subnet and breaks when it grows into a second.

## Example
`efactl audit --stack train` on a VPC whose ACL `acl-0abc` has an inbound rule 50 denying TCP
1024-65535 from `10.0.0.0/8`, with nodes in `subnet-a` and `subnet-b`: NCCL connections
between the two subnets never complete.

## Fix
Add `allow` entries before the deny (lower rule numbers): outbound and inbound TCP 443 and
32768-60999 for the AWS side, and all TCP (or at least 22, the job ports and 32768-60999)
between the node subnets' CIDRs, both directions; or associate the subnets with an ACL that
allows all traffic and filter with security groups, which are stateful.

## Source
Amazon VPC user guide, \"Control subnet traffic with network access control lists\" (ACLs are
stateless, evaluated at the subnet boundary in rule-number order, ending in a deny) and
\"Network ACL rules\" (ephemeral ports 32768-60999 for Linux clients); efa-facts.md §3 (the
traffic NCCL and MPI need between nodes); rule EFA031 for the same ports in security groups.
",
    check: Some(check),
};

/// Linux's default ephemeral port range, which NCCL's listeners and every client port use.
const EPHEMERAL: [u16; 2] = [32768, 60999];

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let c = cx.cluster;
    let node_subnets: Vec<&Subnet> = c
        .subnets
        .iter()
        .filter(|s| c.node_groups.iter().any(|ng| ng.subnets.contains(&s.key)))
        .collect();
    // Ports the nodes open to each other, with what uses them.
    let mut ports = crate::rules::sg::job_port_blocked::job_ports(c);
    for p in EPHEMERAL {
        ports.push((
            p,
            "an ephemeral port (NCCL's bootstrap, proxy and socket listeners)".into(),
        ));
    }
    let world = Cidr::world_v4();
    for s in &node_subnets {
        let Some(acl) = &s.network_acl else { continue };
        let label = s.id.as_deref().unwrap_or(&s.key);
        let mut blocked: Vec<String> = Vec::new();

        // HTTPS to AWS: the internet, or the VPC's interface endpoints without a route out.
        let (aws, aws_label) = match (s.internet, c.vpc.cidr) {
            (Internet::None, Some(v)) => (v, format!("the VPC's endpoints ({v})")),
            _ => (world, "0.0.0.0/0".to_string()),
        };
        if !acl.allows(true, &Protocol::Tcp, Some(443), &aws) {
            blocked.push(format!(
                "outbound TCP 443 to {aws_label} (AWS APIs, Secrets Manager, ECR)"
            ));
        } else if let Some(p) = EPHEMERAL
            .iter()
            .find(|p| !acl.allows(false, &Protocol::Tcp, Some(**p), &aws))
        {
            blocked.push(format!(
                "inbound TCP {p} from {aws_label}, where the replies to HTTPS come back"
            ));
        }

        // Node to node across subnets, both directions.
        for t in node_subnets.iter().filter(|t| t.key != s.key) {
            let Some(peer) = t.cidr else { continue };
            let t_label = t.id.as_deref().unwrap_or(&t.key);
            for egress in [true, false] {
                if let Some((p, why)) = ports
                    .iter()
                    .find(|(p, _)| !acl.allows(egress, &Protocol::Tcp, Some(*p), &peer))
                {
                    blocked.push(format!(
                        "{} TCP {p} {} {t_label} ({peer}): {why}",
                        if egress { "outbound" } else { "inbound" },
                        if egress { "to" } else { "from" },
                        why = why.trim_end_matches(','),
                    ));
                }
            }
        }
        if blocked.is_empty() {
            continue;
        }
        r.report(
            s.origin.at("networkAcl"),
            format!(
                "network ACL {} of subnet {label}, which holds nodes, blocks {}",
                acl.id,
                blocked.join("; ")
            ),
        )
        .help = Some(format!(
            "add allow entries with lower rule numbers to {} for these ports, in both directions (ACLs are stateless), or associate {label} with an ACL that allows all traffic and filter with security groups",
            acl.id
        ));
    }
}
