use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL013",
    name: "nccl-tests-low-busbw",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "nccl-tests large-message bus bandwidth is well below what the instance type reaches",
    doc: "## What it does
Takes the best bus bandwidth of an nccl-tests run at message sizes of 128 MiB and above
(out-of-place or in-place) on a multi-node all_reduce, all_gather or reduce_scatter run (named
by `# Collective test starting:` or the command line that ran it; an unnamed table counts when
its `redop` is a reduction, since an unnamed `none` table may be alltoall, whose busbw stays far
below the line rate on a healthy fabric) and compares it with the instance type's
network bandwidth from the catalog (EFA line rate in GB/s; ring busbw is close to the per-node
EFA bandwidth). Below half of it is reported. The instance type comes from the log's platform
line (`NET/OFI Running on p5.48xlarge platform`) or `--instance-type`; without one the check is
skipped.

## Why it matters
Measured two-node all_reduce busbw reaches about 78 GB/s on p4de.24xlarge (400 Gbps = 50 GB/s
line rate; tree can exceed it on 2 nodes) and 440-490 GB/s on p5.48xlarge (3200 Gbps = 400
GB/s). A run at a fraction of that points at a socket fallback, missing EFAs or GPUDirect RDMA,
a bad node, or an `NCCL_PROTO` / `NCCL_ALGO` override.

## Example
```text
ip-10-0-1-17:4242:4242 [0] NCCL INFO NET/OFI Running on p5.48xlarge platform, topology file /opt/amazon/ofi-nccl/share/aws-ofi-nccl/xml/p5.48xl-topo.xml
#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
  1073741824     268435456     float     sum      -1   54321.0   19.77   37.06      0   54290.1   19.78   37.08      0
```

## Fix
Look for NCCL001/NCCL003/NCCL004 in the same log first. Re-run with `NCCL_DEBUG=INFO` and
check `Using network Libfabric`, the NIC count and `/GDRDMA` on the transport lines; remove
`NCCL_PROTO`, `NCCL_ALGO` and `NCCL_BUFFSIZE` overrides; test pairs of nodes to find a slow one.

## Source
efa-facts.md §6 (measured busbw on p4d/p4de/p5 and the busbw definition), §1 (instance catalog
bandwidth).
",
    check: None,
};
