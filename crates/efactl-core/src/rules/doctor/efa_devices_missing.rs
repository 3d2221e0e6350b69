use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC002",
    name: "efa-devices-missing",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "A node sees fewer EFA devices than its instance type has",
    doc: "## What it does
Counts the EFA devices under /sys/class/infiniband (and /dev/infiniband/uverbs*) and compares
them with the catalog's maximum EFA interfaces for the node's instance type (from IMDSv2 or
`--instance-type`).

## Why it matters
Every missing EFA device is bandwidth NCCL cannot use (on a p5.48xlarge each of the 32 carries
100 Gbit/s); with none, NCCL falls back to TCP sockets. In containers the usual cause is that
/dev/infiniband was not passed in.

## Example
```
error[DOC002]: rank 1 (p5-node-2) sees 30 of the 32 EFA devices a p5.48xlarge has
```

## Fix
Launch with one EFA interface per network card (`efactl check` on the spec shows the layout);
in Kubernetes request `vpc.amazonaws.com/efa` from the EFA device plugin; in Docker pass
`--device /dev/infiniband/uverbsN` for each.

## Source
efa-facts.md §1 (catalog), §2 (interface layout), §8 (containers need /dev/infiniband).
",
    check: None,
};
