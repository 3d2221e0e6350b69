use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA022",
    name: "scheduler-unsupported-without-internet",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "A ParallelCluster cluster without internet uses a scheduler other than Slurm",
    doc: "## What it does
For target `parallelcluster`, reports a scheduler other than `slurm` when a node group launches
in a subnet with `internet: none`.

## Why it matters
ParallelCluster's guide for subnets with no internet access: \"`slurm` is the only valid value.
Only the Slurm scheduler supports a cluster in a subnet without internet access.\" With the
`awsbatch` scheduler, AWS Batch launches ECS container instances that \"need external network
access to communicate with the Amazon ECS service endpoint\": the guide asks for a NAT gateway
(or public IPs behind an internet gateway), and a NAT gateway is required for multi-node
parallel jobs.

## Example
```yaml
target: parallelcluster
scheduler: batch
network:
  subnets:
    - { name: compute, cidr: 10.0.16.0/20, internet: none }
```

## Fix
Use `scheduler: slurm`, or give the compute subnet a NAT gateway (`internet: nat`). For AWS
Batch without ParallelCluster, use `target: batch` with the endpoints EFA017 lists.

## Source
PC-UG `network-configuration-v3.md` (sections \"AWS ParallelCluster with AWS Batch scheduler\"
and \"AWS ParallelCluster in a single subnet with no internet access\"), the guide efa-facts.md §7
cites; efa-facts.md itself does not quote these sentences.
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let cluster = cx.cluster;
    if cluster.target != Target::ParallelCluster || cluster.scheduler == Scheduler::Slurm {
        return;
    }
    let subnets = crate::rules::node_subnets_without_internet(cluster);
    if subnets.is_empty() {
        return;
    }
    let keys: Vec<&str> = subnets.iter().map(|s| s.key.as_str()).collect();
    let (noun, have) = if keys.len() > 1 {
        ("subnets", "have")
    } else {
        ("subnet", "has")
    };
    let why = if cluster.scheduler == Scheduler::Batch {
        ": AWS Batch's ECS container instances need network access to the ECS service endpoint"
    } else {
        ""
    };
    r.report(
        Subject::path("scheduler"),
        format!(
            "ParallelCluster supports subnets without internet access only with the Slurm scheduler, but the scheduler is `{}` and {noun} {} {have} no internet{why}",
            cluster.scheduler.name(),
            crate::rules::and_list(&keys)
        ),
    )
    .help = Some(
        "use `scheduler: slurm`, or give the nodes' subnet a NAT gateway (`internet: nat`)".into(),
    );
}
