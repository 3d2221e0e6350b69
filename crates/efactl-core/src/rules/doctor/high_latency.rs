use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC014",
    name: "high-latency",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "A pair's round trip is far above the others",
    doc: "## What it does
Reports pairs whose median 64-byte TCP round trip is over three times the median of all pairs.

## Why it matters
Small-message collectives are latency-bound; a distant pair (no cluster placement group) or an
overloaded node stretches every step.

## Example
```
warning[DOC014]: rank 0 <-> rank 5: round trip 420 us, over three times the median 35 us
```

## Fix
Launch the nodes in one cluster placement group; check for loaded nodes.

## Source
efa-facts.md §6 (small-message latency), §2.9 (placement).
",
    check: None,
};
