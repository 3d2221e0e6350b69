use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL010",
    name: "version-skew",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "Ranks or nodes run different NCCL, aws-ofi-nccl, libfabric or CUDA versions",
    doc: "## What it does
Collects per rank the NCCL version (`NCCL version 2.X.Y+cudaA.B`), the aws-ofi-nccl plugin
version (`NET/OFI Initializing aws-ofi-nccl X`), libfabric (`NET/OFI Using Libfabric version`)
and the CUDA driver and runtime (`NET/OFI Using CUDA driver version D with runtime R`,
`cudaDriverVersion D`), and reports every component whose version differs between ranks, naming
the hosts on each side. NCCL's own `Mismatched NCCL version detected` is reported too.

## Why it matters
NCCL ranks must agree on the protocol; different NCCL versions can hang or fail at
communicator creation, a plugin or libfabric that differs between nodes changes the wire
protocol and the defaults, and a container image that was updated on only some nodes is a
common cause of \"works on these nodes, hangs on those\".

## Example
```text
ip-10-0-1-17:4242:4242 [0] NCCL INFO NCCL version 2.18.5+cuda12.2
ip-10-0-1-23:5151:5151 [0] NCCL INFO NCCL version 2.19.3+cuda12.3
```

## Fix
Run every node from the same image or AMI: pin the container tag (a digest, not `latest`),
the EFA installer version and the aws-ofi-nccl build, and rebuild nodes that drifted.

## Source
efa-facts.md §5.2 (version strings of NCCL and aws-ofi-nccl), §5.3 (`Mismatched NCCL version
detected`), §4.2 (minimum versions per instance type).
",
    check: None,
};
