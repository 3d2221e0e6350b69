use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL011",
    name: "obsolete-env-echoed",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "The log shows an obsolete or harmful NCCL / libfabric environment variable",
    doc: "## What it does
Reads the environment variables a log echoes (NCCL's `NAME set by environment to VALUE` lines,
and `NAME=VALUE` lines from an `env` dump in the job script) and judges them with the same
table as the spec rule EFA029 (`nccl-env-obsolete`): `FI_EFA_USE_DEVICE_RDMA`, `FI_PROVIDER`
other than `efa` (or `efa` with a recent plugin), `NCCL_PROTO=simple`, `RDMAV_*`,
`FI_EFA_FORK_SAFE`, socket-only tuning, `NCCL_BUFFSIZE`, `NCCL_MIN_NCHANNELS` (and
`NCCL_MIN_CHANNELS`, the guidance's spelling, which NCCL does not read),
`FI_EFA_ENABLE_SHM_TRANSFER`, `NCCL_NET=Socket` and `NCCL_NET_PLUGIN=none`. Variables that
aws-ofi-nccl set itself on that rank (it forces `NCCL_PROTO=simple` without GPUDirect RDMA and
sets `NCCL_BUFFSIZE` on some platforms) are not reported.

## Why it matters
Copied from old guides into job scripts and container images, these variables cost bandwidth
(`NCCL_PROTO=simple`), abort on hardware without RDMA read (`FI_EFA_USE_DEVICE_RDMA=1`), break on
newer kernels (`RDMAV_FORK_SAFE`) or move all traffic off EFA (`FI_PROVIDER=tcp`,
`NCCL_NET=Socket`).

## Example
```text
ip-10-0-1-17:4242:4242 [0] NCCL INFO NCCL_PROTO set by environment to simple
FI_EFA_USE_DEVICE_RDMA=1
```

## Fix
Remove the variable from the job script, the container image and the AMI; with an old
aws-ofi-nccl (1.5.0 and older) `FI_PROVIDER=efa` and `NCCL_PROTO=simple` were still needed:
upgrade the plugin instead.

## Source
efa-facts.md §4.1 (what aws-ofi-nccl sets itself), §4.2 (version-dependent guidance from
aws-ofi-nccl `doc/efa-env-var.md`), §4.3 (`NCCL_NET`, `NCCL_NET_PLUGIN`); rule EFA029.
",
    check: None,
};
