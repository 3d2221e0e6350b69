use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC009",
    name: "mtu-mismatch",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "Nodes of one cluster use different MTUs",
    doc: "## What it does
Compares the largest MTU of each node's up interfaces.

## Why it matters
Mixed MTUs fragment or drop large TCP segments between some pairs (NCCL bootstrap, sockets
fallback, MPI over TCP) and make bandwidth uneven.

## Example
```
warning[DOC009]: rank 3 (10.0.1.7) use a smaller MTU than the others (9001)
```

## Fix
Give every node the same MTU (9001 inside a VPC).

## Source
EC2 User Guide, network MTU for EC2 instances.
",
    check: None,
};
