use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC006",
    name: "ptrace-restricted",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "kernel.yama.ptrace_scope blocks libfabric's shared-memory path",
    doc: "## What it does
Reads /proc/sys/kernel/yama/ptrace_scope and reports a value above 0.

## Why it matters
libfabric's intra-node shared-memory transport uses Cross Memory Attach, which ptrace protection
blocks (`Operation not permitted`, `CMA error`); MPI jobs then fail or fall back.

## Example
```
warning[DOC006]: rank 1: kernel.yama.ptrace_scope is 1, which blocks libfabric's shared-memory (CMA) path
```

## Fix
`sysctl -w kernel.yama.ptrace_scope=0` and persist it in /etc/sysctl.d/10-ptrace.conf (efactl's
bootstrap does both).

## Source
efa-facts.md §8 (EC2UG2023 efa-start.md Step 4).
",
    check: None,
};
