use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC016",
    name: "allreduce-failed",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "The all-reduce failed or gave a wrong result",
    doc: "## What it does
Reports ranks whose ring all-reduce failed (a peer vanished, a connection broke) or whose result
differs from the exact expected sum.

## Why it matters
A wrong sum is data corruption on the path; a failure is what a training job's first collective
would hit.

## Example
```
error[DOC016]: all-reduce of 67108864 bytes gave a wrong sum on rank 2 (10.99.0.3)
```

## Fix
Rerun to see whether it repeats; a repeatable wrong sum on one node points at its NIC or memory.

## Source
nccl-tests (`#wrong` column).
",
    check: None,
};
