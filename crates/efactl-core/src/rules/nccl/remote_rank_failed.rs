use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL008",
    name: "remote-rank-failed",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "A peer rank died or its connection dropped",
    doc: "## What it does
Reports messages that mean a peer process went away: NCCL's `remote process exited or there was
a network error`, `socketProgress: Connection closed by remote peer`, libfabric EFA's `Bad queue
pair (QP) number` and `Unresponsive remote (was previously responsive)` (error 13), and torch
messages about a failed or terminated peer, with the peer's address when the log names it.

## Why it matters
These are usually symptoms on the surviving ranks: the rank that failed first (an exception, a
CUDA error, an out-of-memory kill, a node failure) took its connections with it. Reading the
errors of the survivors leads nowhere; the first failure in time, on the peer they name, is the
root cause.

## Example
```text
ip-10-0-1-17:4242:4400 [0] misc/socket.cc:538 NCCL WARN socketProgress: Connection closed by remote peer ip-10-0-1-23.ec2.internal<54022>
ip-10-0-1-17:4242:4400 [0] NCCL INFO transport/net_socket.cc:474 -> 6
torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1275, remote process exited or there was a network error, NCCL version 2.19.3
```

## Fix
Find the peer named in the message (or the rank whose log ends first) and read its log for the
first error; check the node's health (`dmesg` for Xid errors or OOM kills, the EFA device's
counters). If every rank stays alive, the EFA path between them is at fault: see NCCL005.

## Source
efa-facts.md §5.3 (NCCL error strings, `Connection closed by remote peer`, libfabric error 9
`Bad queue pair` and 13 `Unresponsive remote`); NCCL `src/misc/socket.cc`, `src/init.cc`.
",
    check: None,
};
