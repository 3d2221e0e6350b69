use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC003",
    name: "efa-provider-missing",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "libfabric lists no EFA provider on an EFA node",
    doc: "## What it does
Runs `fi_info -p efa -t FI_EP_RDM` (bounded in time) and reports a node where it lists no
provider although the instance type supports EFA.

## Why it matters
aws-ofi-nccl only uses libfabric's efa provider; without it the plugin fails to initialise and
NCCL uses TCP sockets.

## Example
```
error[DOC003]: rank 0: `fi_info -p efa` lists no EFA provider
```

## Fix
Install the EFA software (efa-installer) on the AMI, or make /opt/amazon/efa/lib visible in the
container; check `lsmod | grep efa`.

## Source
efa-facts.md §6 (`fi_info -p efa -t FI_EP_RDM` should list one provider block per EFA).
",
    check: None,
};
