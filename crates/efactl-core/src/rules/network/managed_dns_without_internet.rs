use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA021",
    name: "managed-dns-without-internet",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A ParallelCluster cluster without internet keeps Route 53 managed DNS",
    doc: "## What it does
For target `parallelcluster`, when a node group launches in a subnet with `internet: none`,
checks that `parallelcluster.disableManagedDns` and `parallelcluster.useEc2Hostnames` are both
`true`, and reports each one that is not.

## Why it matters
For a Slurm cluster ParallelCluster creates a private Route 53 hosted zone to resolve its
compute node names (`{queue}-{st|dy}-{compute_resource}-{N}`). \"Because Route 53 doesn't
support VPC endpoints, this feature must be disabled\", and the nodes must use the default EC2
hostnames (`ip-10-0-16-5`) instead. Without both settings, nodes in a subnet with no internet
cannot reach Route 53 and the cluster does not come up.

## Example
```yaml
target: parallelcluster
network:
  subnets:
    - { name: compute, cidr: 10.0.16.0/20, internet: none }
# no parallelcluster: section
```

## Fix
```yaml
parallelcluster:
  disableManagedDns: true
  useEc2Hostnames: true
```
(ParallelCluster's `Scheduling/SlurmSettings/Dns/DisableManagedDns` and `UseEc2Hostnames`.) With
both on, Slurm's `NodeName` is no longer resolvable by DNS: use `NodeHostName`.

## Source
efa-facts.md §7 (PC-UG `network-configuration-v3.md`, \"Disable Route 53 and use EC2 hostnames\").
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    if cluster.target != Target::ParallelCluster {
        return;
    }
    let subnets = crate::rules::node_subnets_without_internet(cluster);
    if subnets.is_empty() {
        return;
    }
    let keys: Vec<&str> = subnets.iter().map(|s| s.key.as_str()).collect();
    let names = crate::rules::and_list(&keys);
    let (plural, have) = if keys.len() > 1 {
        ("s", "have")
    } else {
        ("", "has")
    };
    let pc = &cluster.parallelcluster;
    let origin = pc
        .origin
        .clone()
        .unwrap_or_else(|| Origin::Implied("parallelcluster".into()));
    if !pc.disable_managed_dns {
        r.report(
            origin.at("disableManagedDns"),
            format!(
                "ParallelCluster's Route 53 managed DNS is on, but subnet{plural} {names} {have} no internet and Route 53 has no VPC endpoint"
            ),
        )
        .help = Some("set `parallelcluster.disableManagedDns: true` (and `useEc2Hostnames: true`)".into());
    }
    if !pc.use_ec2_hostnames {
        r.report(
            origin.at("useEc2Hostnames"),
            format!(
                "`useEc2Hostnames` is off, so ParallelCluster gives nodes hostnames that only its Route 53 zone resolves, but subnet{plural} {names} {have} no internet and Route 53 has no VPC endpoint"
            ),
        )
        .help = Some("set `parallelcluster.useEc2Hostnames: true` (with `disableManagedDns: true`)".into());
    }
}
