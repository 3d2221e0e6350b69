use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC013",
    name: "slow-link",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "A link or a node is much slower than the others",
    doc: "## What it does
Compares each measured direction's TCP bandwidth with the median of all links: under half is
slow; a node in most slow links is reported as the slow node. With a known instance type, links
under a tenth of its line rate are reported too.

## Why it matters
One slow link slows every ring collective that crosses it: the whole job runs at the speed of
its slowest link.

## Example
```
warning[DOC013]: rank 2 (10.99.0.3) is slow on 6 of its 6 measured directions (median of all links 9.80 Gbit/s)
```

## Fix
Check that node's interfaces, instance type and placement; a throttled or shared link shows up
here before it shows up in training throughput.

## Source
DESIGN.md (the doctor: outliers against the median and the catalog's line rate).
",
    check: None,
};
