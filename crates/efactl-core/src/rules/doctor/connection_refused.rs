use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC011",
    name: "connection-refused",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "A rank's data port refuses connections",
    doc: "## What it does
Reports cells on the doctor's own data port where the destination answered with a reset.
(Refused on an extra `--ports` port only means nothing listens there yet and is not reported.)

## Why it matters
The doctor listens on its data port, so a reset there comes from a firewall REJECT rule between
the two nodes, or from a different host answering at that address.

## Example
```
error[DOC011]: rank 1 (10.99.0.2) -> rank 2 (10.99.0.3) on port 29600: refused
```

## Fix
Look for REJECT rules in the host firewalls of the named nodes, and for duplicate addresses.

## Source
test-environment.md (REJECT with tcp-reset looks like a closed port).
",
    check: None,
};
