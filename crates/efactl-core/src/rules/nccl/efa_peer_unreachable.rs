use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL005",
    name: "efa-peer-unreachable",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "EFA cannot reach a peer: libfabric completion or address-vector errors",
    doc: "## What it does
Reports libfabric EFA errors that mean a peer cannot be reached over EFA: address-vector insert
failures, `Unreachable remote (never received a response)` (error 15), `Unresponsive receiver
(reachable by EFA device but handshake failed)` (4126) and `Unresponsive receiver (connection
previously established)` (4124), also when only the numeric code is logged, and aws-ofi-nccl's
banner that points at the security group.

## Why it matters
EFA traffic is not IP: security groups match it only through rules that name the group itself.
A group with the default egress to `0.0.0.0/0` but no self-referencing egress lets TCP (and so
NCCL's bootstrap) through while every EFA packet is dropped: the job initialises, then the first
collective fails or hangs. The same errors appear when the peers sit in different subnets or
availability zones, or when a node's EFA is unhealthy.

## Example
```text
ip-10-0-1-17:4242:4400 [0] nccl_net_ofi_rdma.c:1410 NCCL WARN NET/OFI Request 0x7f2c5c0 completed with error. RC: 15. Error: Unreachable remote (never received a response). Completed length: 0
ip-10-0-1-17:4242:4400 [0] NCCL INFO transport/net.cc:1021 -> 6
```

## Fix
Give the security group on every EFA interface an inbound and an outbound all-traffic rule whose
source/destination is the group itself (`efactl check` rules EFA001/EFA002; `efactl audit` on the
live account), keep a job's nodes in one subnet, and run `fi_pingpong -e rdm -p efa` between
two nodes to confirm.

## Source
efa-facts.md §3.1 (EFA security-group requirement), §5.3 (libfabric EFA error codes 13, 15,
4124, 4126 and the aws-ofi-nccl security-group banner); libfabric `prov/efa/src/efa_errno.h`,
`efa_strerror.c`.
",
    check: None,
};
