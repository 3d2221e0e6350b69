use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC008",
    name: "node-env-obsolete",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "A rank runs with obsolete or harmful NCCL/libfabric variables",
    doc: "## What it does
Judges the NCCL_*, FI_* and RDMAV_* variables of each rank's environment with the same table as
rule EFA029.

## Why it matters
Variables from old guides (FI_PROVIDER, NCCL_PROTO=simple, FI_EFA_USE_DEVICE_RDMA, RDMAV_FORK_SAFE)
cost performance or move traffic off EFA on current stacks.

## Example
```
warning[DOC008]: rank 0 runs with obsolete or harmful NCCL/libfabric settings: RDMAV_FORK_SAFE=1
```

## Fix
Unset them; `efactl explain EFA029` says why for each.

## Source
efa-facts.md §4.
",
    check: None,
};
