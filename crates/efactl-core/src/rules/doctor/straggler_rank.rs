use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC015",
    name: "straggler-rank",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "One rank is much slower in the all-reduce",
    doc: "## What it does
Compares each rank's time for the largest all-reduce size with the median: over 1.5x is a
straggler.

## Why it matters
Collectives run at the pace of the slowest rank; a straggler costs every step of training.

## Example
```
warning[DOC015]: rank 3 took 412.0 ms per all-reduce of the largest size, 2.1x the median
```

## Fix
Check that node's load, thermal state and links (the bandwidth stage names slow links).

## Source
nccl-tests practice (per-rank timings expose stragglers).
",
    check: None,
};
