use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC004",
    name: "nccl-net-plugin-missing",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "NCCL's net plugin (aws-ofi-nccl) is not findable",
    doc: "## What it does
Looks for the library NCCL loads (`NCCL_NET_PLUGIN`'s name, else `libnccl-net.so`) on
LD_LIBRARY_PATH and the AWS install locations, on NVIDIA GPU nodes with EFA.

## Why it matters
Without the plugin NCCL prints `NET/Plugin: Could not find ...` and silently uses its socket
transport: the job runs, at a fraction of the bandwidth.

## Example
```
error[DOC004]: rank 2: NCCL's net plugin (aws-ofi-nccl, libnccl-net.so) is not findable
```

## Fix
Add the plugin directory (`/opt/amazon/ofi-nccl/lib` with recent EFA installers,
`/opt/aws-ofi-nccl/lib` with older images) to LD_LIBRARY_PATH.

## Source
efa-facts.md §4.3 (plugin discovery) and §5.3 (fallback signatures).
",
    check: None,
};
