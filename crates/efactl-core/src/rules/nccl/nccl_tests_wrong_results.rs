use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL012",
    name: "nccl-tests-wrong-results",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "An nccl-tests run reported wrong results (#wrong > 0)",
    doc: "## What it does
Parses nccl-tests tables (`all_reduce_perf`, `all_gather_perf`, ...) and reports every size
whose out-of-place or in-place `#wrong` column is not 0 (with `-c 1`, the default), and the
`# Out of bounds values` summary when it is not `0 OK`.

## Why it matters
nccl-tests checks the result of every collective against a reference. A wrong value means data
was corrupted on the way: a faulty GPU or NVLink, memory errors, a broken GPUDirect RDMA path,
or a bug in the NCCL / plugin build. Bandwidth figures from such a run mean nothing, and
training on the same nodes silently corrupts gradients.

## Example
```text
#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
   134217728      33554432     float     sum      -1   2100.5   63.90  119.81      3   2098.7   63.95  119.91      3
```

## Fix
Re-run on subsets of the nodes (and single-node) to isolate the bad node, check `nvidia-smi -q`
for ECC and Xid errors, run the GPU's diagnostics (`dcgmi diag -r 3`), and replace the node.

## Source
efa-facts.md §6 (nccl-tests and busbw); NVIDIA/nccl-tests `src/common.cu` (`#wrong`, `Out of
bounds values`).
",
    check: None,
};
