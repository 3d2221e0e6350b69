use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL007",
    name: "collective-watchdog-timeout",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "PyTorch's NCCL watchdog timed out a collective",
    doc: "## What it does
Reads torch.distributed's `Watchdog caught collective operation timeout: WorkNCCL(SeqNum=N,
OpType=OP, ...) ran for T milliseconds before timing out` from every rank and reports which
ranks timed out, on which collective and sequence number. Ranks of the job that did not report
a timeout, or that report a lower sequence number (`last enqueued/completed work`), are named
as the suspects: a collective only completes when every rank arrives, so the rank that is
missing or behind is where to look.

## Why it matters
A watchdog timeout is a symptom: every healthy rank waits in the collective until the timeout
(10 or 30 minutes by default) and then aborts. The cause is on the rank that never arrived: it
crashed, hung in data loading or a host-side deadlock, ran a different number of collectives
(a code path that skips one on some ranks), or its network path is broken.

## Example
```text
[rank0]:[E ProcessGroupNCCL.cpp:563] [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1823, OpType=ALLREDUCE, NumelIn=1048576, NumelOut=1048576, Timeout(ms)=600000) ran for 600312 milliseconds before timing out.
[rank1]:[E ProcessGroupNCCL.cpp:563] [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1823, OpType=ALLREDUCE, NumelIn=1048576, NumelOut=1048576, Timeout(ms)=600000) ran for 600298 milliseconds before timing out.
```

## Fix
Look at the suspect ranks' own logs first (an earlier CUDA error, an exception, an OOM kill, a
hang in data loading). Set `TORCH_NCCL_ASYNC_ERROR_HANDLING=1` and, to find a desynchronised
collective, `TORCH_NCCL_DESYNC_DEBUG=1` / the flight recorder (`TORCH_NCCL_TRACE_BUFFER_SIZE`).
Raise the timeout only when a step legitimately takes that long.

## Source
efa-facts.md §5.3 (PyTorch ProcessGroupNCCL watchdog message and what follows it);
pytorch/pytorch `torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp`.
",
    check: None,
};
