use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC017",
    name: "hugepages-missing",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "An EFA node has no huge pages reserved",
    doc: "## What it does
Reads HugePages_Total from /proc/meminfo on nodes whose type supports EFA and reports 0.

## Why it matters
The EFA driver pre-allocates 5128 2 MiB huge pages that libfabric uses for its buffers; without
them, registration is slower and some configurations fail.

## Example
```
warning[DOC017]: rank 1 (p5-node-2) has no huge pages reserved
```

## Fix
Reserve them (`vm.nr_hugepages`, efactl's bootstrap does), or set FI_EFA_USE_HUGE_PAGE=0 knowingly.

## Source
efa-facts.md §8 (huge pages).
",
    check: None,
};
