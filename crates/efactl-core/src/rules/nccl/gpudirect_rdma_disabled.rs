use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL004",
    name: "gpudirect-rdma-disabled",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "GPUDirect RDMA is off where the instance type supports it",
    doc: "## What it does
Reports a rank whose log says GPUDirect RDMA is not in use: `NET/OFI GDR disabled on
GDR-supported instance type`, `NET/OFI Need to force simple protocol: GDR not supported`,
`NET/OFI Could not disable CUDA API usage for HMEM, disabling GDR`, `GPU Direct RDMA Disabled
for HCA`, `Connected all rings ... GDR 0`, or net transport lines without `/GDRDMA` on an
instance type whose catalog entry says it supports GPUDirect RDMA.

## Why it matters
Without GPUDirect RDMA every message is staged through host memory: extra copies, more PCIe
traffic and a forced `NCCL_PROTO=simple`, which costs bandwidth and latency. On the types where
aws-ofi-nccl requires it (p4d, p5, p6, trn) the plugin refuses to start instead.

## Example
```text
ip-10-0-1-17:4242:4242 [0] NCCL INFO NET/OFI Need to force simple protocol: GDR not supported
ip-10-0-1-17:4242:4310 [0] NCCL INFO Channel 00/0 : 8[0] -> 0[0] [receive] via NET/Libfabric/0
```

## Fix
Use a kernel with the NVIDIA peer-memory / DMA-BUF support the EFA installer expects (recent
EFA installer and NVIDIA driver; `nvidia-peermem` or DMA-BUF), and do not set
`FI_EFA_USE_DEVICE_RDMA=0` or `OFI_NCCL_DISABLE_GDR_REQUIRED_CHECK`. Check with
`NCCL_DEBUG_SUBSYS=INIT,NET` that transport lines end in `/GDRDMA`.

## Source
efa-facts.md §4.1 (`NCCL_PROTO=simple` forced without GDR, `gdr_required` platforms), §5.2
(`/GDRDMA` suffix, `GPU Direct RDMA Enabled for HCA`), §5.3 (GDR problem strings); instance
catalog (`gpudirect_rdma`).
",
    check: None,
};
