use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL009",
    name: "cuda-error-behind-network",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "A CUDA error is the real failure, even where network errors follow",
    doc: "## What it does
Reports CUDA errors in the log: NCCL's `unhandled cuda error`, `Cuda failure '...'`, `CUDA error:
...` (from PyTorch and CUDA runtime messages), `an illegal memory access was encountered`,
`CUBLAS_STATUS_...` failures and `uncorrectable ECC error`, with the rank that logged it.

## Why it matters
A GPU fault on one rank makes its NCCL kernels stop; the other ranks then see a peer that closed
its connections, EFA completion errors or a watchdog timeout, and those network-looking errors
are what users search for. When a CUDA error is in the log it is almost always the cause, and the
network messages are its consequence.

## Example
```text
ip-10-0-1-23:5151:5151 [3] enqueue.cc:1389 NCCL WARN Cuda failure 'an illegal memory access was encountered'
ip-10-0-1-23:5151:5151 [3] NCCL INFO group.cc:64 -> 1
RuntimeError: CUDA error: an illegal memory access was encountered
ip-10-0-1-17:4242:4400 [0] misc/socket.cc:538 NCCL WARN socketProgress: Connection closed by remote peer ip-10-0-1-23<54022>
```

## Fix
Debug the failing rank's CUDA error first: run with `CUDA_LAUNCH_BLOCKING=1` to locate the
kernel, check `nvidia-smi -q` and `dmesg` for Xid or ECC errors on that node (replace a faulty
GPU or node), and check the CUDA driver against the runtime NCCL and PyTorch were built with.

## Source
efa-facts.md §5.3 (NCCL error strings: `unhandled cuda error`); NCCL `src/include/checks.h`
(`Cuda failure '%s'`).
",
    check: None,
};
