use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL002",
    name: "ofi-plugin-init-failed",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "The aws-ofi-nccl plugin loaded but failed to initialise",
    doc: "## What it does
Reports a rank where the aws-ofi-nccl net plugin was found but did not start:
`NET/OFI aws-ofi-nccl initialization failed`, `NET/OFI No eligible providers were found`,
`NET/OFI OFI fi_getinfo() call failed`, `NET/OFI Couldn't find any optimal provider` (plugin
1.7 and older), `NET/OFI Unable to find a protocol that worked`, \"Only EFA provider is
supported\", NCCL's `Failed to initialize NET plugin` / `Failed to initialize any NET plugin`,
and the EFA provider's demand for a newer libfabric.

## Why it matters
After a failed plugin init NCCL quietly moves on to its internal IB or Socket transport (see
NCCL001), or, when nothing is left, aborts communicator creation. The plugin's own message says
why: no EFA device visible (not an EFA instance, or the devices were not passed into the
container), a libfabric too old for the plugin, or a `FI_PROVIDER` that excludes `efa`.

## Example
```text
ip-10-0-1-17:4242:4242 [0] NCCL INFO NET/OFI Initializing aws-ofi-nccl 1.9.1-aws
ip-10-0-1-17:4242:4242 [0] nccl_net_ofi_init:1444 NCCL WARN NET/OFI OFI fi_getinfo() call failed: No data available
ip-10-0-1-17:4242:4242 [0] nccl_net_ofi_init:1471 NCCL WARN NET/OFI aws-ofi-nccl initialization failed
ip-10-0-1-17:4242:4242 [0] NCCL INFO NET/IB : No device found.
ip-10-0-1-17:4242:4242 [0] NCCL INFO NET/Socket : Using [0]eth0:10.0.1.17<0>
```

## Fix
Run `fi_info -p efa -t FI_EP_RDM` where the job runs (inside the container): it must list one
`provider: efa` block per EFA. If it lists none, the instance has no EFA interface or the
container lacks `/dev/infiniband/uverbs*` (EKS: request `vpc.amazonaws.com/efa`; Docker:
`--device`); install an EFA installer whose libfabric matches the plugin; unset `FI_PROVIDER`
unless it is `efa`.

## Source
efa-facts.md §4.1 (libfabric >= 1.22.0 for the EFA provider), §5.3 (plugin init failure
strings, per plugin version); aws-ofi-nccl `src/nccl_ofi_net.cpp`, `src/platform-aws.cpp`;
NCCL `src/plugin/net.cc`.
",
    check: None,
};
