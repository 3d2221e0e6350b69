use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL006",
    name: "bootstrap-connect-failed",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "NCCL's TCP bootstrap could not connect to another rank or the root",
    doc: "## What it does
Reports NCCL's bootstrap and socket connect failures in every version's wording: `Call to
connect returned Connection timed out, retrying` and `Net : Connect to ... failed` (2.12 and
older), `socketStartConnect: exceeded timeouts`, `socketPollConnect: exceeded retries` /
`Connect to ... returned ...` (2.13-2.24), `connect returned ..., exceeded error retry count`
(2.25 and later), and also `Bootstrap : no socket interface found`, `NET/Socket : no interface
found` and `Invalid NCCL_COMM_ID`. Connection refused, timed out and network unreachable are
told apart in the message.

## Why it matters
Every NCCL communicator starts with TCP connections between ranks and to the root's address
(`MASTER_ADDR` / `NCCL_COMM_ID`). A timeout means packets are dropped (a security group without
self-referencing ingress for TCP, or NCCL binding to an interface other ranks cannot reach,
such as `docker0` or a second ENI); refused means nothing listens (a wrong `MASTER_ADDR` /
port, or the peer already died); unreachable means no route (wrong subnet or interface).

## Example
```text
ip-10-0-1-17:4242:4242 [0] NCCL INFO Bootstrap : Using docker0:172.17.0.1<0>
ip-10-0-1-17:4242:4330 [0] misc/socket.cc:484 NCCL WARN socketStartConnect: exceeded timeouts (20000)
ip-10-0-1-17:4242:4330 [0] NCCL INFO misc/socket.cc:564 -> 6
```

## Fix
Set `NCCL_SOCKET_IFNAME` to the interface that carries the nodes' private addresses (for example
`^docker,lo` or `ens`), allow all traffic between the nodes' security group and itself, and
check `MASTER_ADDR` / `MASTER_PORT` (or `NCCL_COMM_ID=<ipv4>:<port>`) against the address of rank
0's host.

## Source
efa-facts.md §3.2 (TCP ports NCCL/torch need), §5.3 (bootstrap and socket connect messages of
NCCL 2.12 through 2.27+, `no socket interface found`, `Invalid NCCL_COMM_ID`); NCCL
`src/misc/socket.cc`, `src/bootstrap.cc`.
",
    check: None,
};
