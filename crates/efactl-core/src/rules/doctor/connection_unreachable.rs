use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC012",
    name: "connection-unreachable",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "No route between two ranks",
    doc: "## What it does
Reports cells where connect failed with `No route to host` or `Network is unreachable`.

## Why it matters
The two nodes are in networks without a route between them: different VPCs, a down interface,
or NCCL_SOCKET_IFNAME-style address choices that pick an interface other nodes cannot reach.

## Example
```
error[DOC012]: rank 0 -> rank 3 on port 29600: unreachable
```

## Fix
Put the nodes in one subnet (EFA requires it), and check routes and interfaces.

## Source
efa-facts.md §2.9 (EFA traffic does not cross subnets).
",
    check: None,
};
