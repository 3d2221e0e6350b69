use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC010",
    name: "connection-blocked",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "Connections between two ranks time out",
    doc: "## What it does
Reports cells of the connectivity matrix where a TCP connect got no answer before the timeout,
grouped: a whole row (a node that reaches no one: its egress), a whole column (a node no one
reaches: its ingress), else each pair and port. Failed latency and bandwidth tests are reported
here too.

## Why it matters
A timeout means the packets were dropped: a security group (egress of the source or ingress of
the destination), a network ACL or a host firewall. NCCL's bootstrap then hangs until
`socketPollConnect: exceeded timeouts`.

## Example
```
error[DOC010]: rank 0 (10.99.0.1) -> rank 2 (10.99.0.3) on port 29600: timed out (the other direction works)
```

## Fix
Allow all traffic between the nodes' security group and itself (ingress and egress, rule
EFA001/EFA002), and check NACLs and host firewalls on the named nodes.

## Source
efa-facts.md §3; test-environment.md (DROP = timeout, REJECT = refused).
",
    check: None,
};
