use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA007",
    name: "efa-disabled-on-capable-type",
    severity: Severity::Warning,
    category: Category::Cluster,
    title: "A multi-node compute group runs an EFA-capable type without EFA",
    doc: "## What it does
Checks compute node groups that run more than one node (`count` or `maxCount` above 1) on an
instance type that supports EFA, and reports those whose nodes get no EFA interface
(`efa: off`, or `networkInterfaces` with only `type: interface`).

## Why it matters
Without an EFA device, libfabric finds no `efa` provider and NCCL falls back to its internal
TCP transport (`Using network Socket`, `via NET/Socket/0` in an `NCCL_DEBUG=INFO` log): every
collective between nodes runs over TCP sockets, through the kernel, with no GPUDirect RDMA.
The network bandwidth of these types (3200 Gbps on `p5.48xlarge`) is spread over their network
cards (32 on `p5.48xlarge`), and a node with one ENA interface uses one of them. MPI jobs lose
OS bypass in the same way.

## Example
```yaml
nodeGroups:
  - name: train
    instanceType: p5.48xlarge
    count: 4
    efa: off
```

## Fix
Remove `efa: off` (the default `efa: auto` gives each node one EFA per usable network card),
or list EFA interfaces in `networkInterfaces`. EFA interfaces cannot be attached to a running
instance: a live group must be relaunched from a launch template with `InterfaceType=efa`
(or `efa-only`) interfaces. If TCP is intended (a CPU-only test), set `count: 1` or ignore the
rule with `checks: { ignore: [EFA007] }`.

## Source
efa-facts.md §1.2 (bandwidth per type, key KBW), §2.11 (EFA cannot be attached to a running
instance), §4.1 (\"On a non-EFA instance this makes NCCL fall back to its internal TCP
transport\", key OFI), §5.3 (socket fallback signatures, key NCCL).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    for ng in &cx.cluster.node_groups {
        if ng.role != NodeRole::Compute || !ng.is_multi_node() || ng.uses_efa() {
            continue;
        }
        let Some(t) = cx.catalog.get(ng.instance_type()) else {
            continue;
        };
        if !t.supports_efa() {
            continue;
        }
        let given_up = match t.bandwidth_gbps {
            Some(bw) => format!(
                "giving up the EFA fabric behind its {} Gbps of network bandwidth",
                crate::rules::gbps(bw)
            ),
            None => "giving up the EFA fabric".to_string(),
        };
        let message = format!(
            "node group `{}` runs up to {} nodes of `{}` without EFA, {given_up}: NCCL falls back to TCP sockets between nodes",
            ng.name,
            ng.count.max(ng.max_count),
            t.name,
        );
        let help = if crate::rules::pcluster::in_config(cx.cluster) {
            format!(
                "set `Efa: {{Enabled: true}}` on {} (ParallelCluster then attaches {} EFA interface{} to each node) with a placement group (`Networking.PlacementGroup.Enabled: true`); leave it off only for jobs that never span nodes",
                crate::rules::pcluster::nodes(ng),
                t.max_efa_interfaces.unwrap_or(1),
                if t.max_efa_interfaces == Some(1) { "" } else { "s" }
            )
        } else if crate::rules::eksctl::in_config(cx.cluster) {
            format!(
                "set `efaEnabled: true` on {} (eksctl then attaches {} EFA interface{} to each node and creates the EFA security group) in one availability zone, with `placement.groupName` naming a cluster placement group; leave it off only for workloads that never span nodes",
                crate::rules::eksctl::group(ng),
                t.max_efa_interfaces.unwrap_or(1),
                if t.max_efa_interfaces == Some(1) { "" } else { "s" }
            )
        } else if crate::rules::template::in_template(cx.cluster) {
            crate::rules::template::layout_fix(ng, t.max_efa_interfaces.unwrap_or(1))
        } else if crate::rules::live::live_id(&ng.origin).is_some() {
            crate::rules::live::relaunch_with(&crate::rules::live::efa_layout(
                t.max_efa_interfaces.unwrap_or(1),
            ))
        } else if crate::rules::explicit_layout(ng) {
            if t.max_efa_interfaces.unwrap_or(1) > 1 {
                "add EFA interfaces to `networkInterfaces`: `type: efa` on the primary, one `efa-only` on each further network card".to_string()
            } else {
                "make the primary interface in `networkInterfaces` `type: efa`".to_string()
            }
        } else {
            format!(
                "remove `efa: off`: efactl then gives each node {} EFA interface{}",
                t.max_efa_interfaces.unwrap_or(1),
                if t.max_efa_interfaces == Some(1) {
                    ""
                } else {
                    "s"
                }
            )
        };
        r.report(crate::rules::efa_subject(ng), message).help = Some(help);
    }
}
