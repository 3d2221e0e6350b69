use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC001",
    name: "rank-missing",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "A rank never arrived at the rendezvous or stopped answering",
    doc: "## What it does
Reports every rank that did not report to rank 0 before the rendezvous deadline, or that
stopped answering (its process died, or its connection closed or went silent) during a stage.

## Why it matters
A collective needs every rank. A rank that cannot reach rank 0 cannot join NCCL's bootstrap
either (same path, same failure), and a rank that dies mid-stage is what a hung job looks like
from the other nodes: NCCL waits until its watchdog fires.

## Example
```
error[DOC001]: rank 3 (10.99.0.4) died during the bandwidth stage (its connection closed)
```

## Fix
Look at that node's launcher output (srun/mpirun/kubectl logs), check it can reach rank 0's
coordinator port (the connectivity matrix of the surviving ranks shows the network side), and
check for an out-of-memory kill or a crash.

## Source
efactl doctor design (DESIGN.md, the doctor); NCCL bootstrap (efa-facts.md §3.2).
",
    check: None,
};
