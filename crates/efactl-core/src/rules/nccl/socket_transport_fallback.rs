use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL001",
    name: "socket-transport-fallback",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "A rank runs NCCL over TCP sockets where EFA (aws-ofi-nccl) was expected",
    doc: "## What it does
Reports every rank whose NCCL log shows the internal Socket transport (`Using network Socket`,
transport lines `via NET/Socket/N`) when EFA was expected: the instance type has EFA (from the
log or `--instance-type`), another rank of the job uses the OFI plugin, or the log shows the
plugin being tried. The message names the cause the log shows: the plugin library was not
found, it loaded but failed to initialise, libfabric found no provider, the EFA devices are not
in the container, \"Only EFA provider is supported\", GPUDirect RDMA is missing, or
`NCCL_NET=Socket` / `NCCL_NET_PLUGIN=none` was set.

## Why it matters
NCCL falls back to TCP silently: the job runs, but collectives move at a fraction of the EFA
bandwidth (a p5.48xlarge has 3200 Gbps of EFA and one ENA interface of 100 Gbps or less that the
sockets share), so a training step can take ten times longer with no error anywhere.

## Example
```text
ip-10-0-1-17:4242:4242 [0] NCCL INFO NET/Plugin: Could not find: libnccl-net.so. Using internal network plugin.
ip-10-0-1-17:4242:4242 [0] NCCL INFO NET/Socket : Using [0]ens32:10.0.1.17<0>
ip-10-0-1-17:4242:4242 [0] NCCL INFO Using network Socket
ip-10-0-1-17:4242:4310 [0] NCCL INFO Channel 00/0 : 8[0] -> 0[0] [receive] via NET/Socket/0
```

## Fix
Follow the cause in the message: put aws-ofi-nccl's `lib` directory on `LD_LIBRARY_PATH` (or
install it: the EFA installer and the AWS Deep Learning AMIs/containers ship it under
`/opt/amazon/ofi-nccl/lib` or `/opt/aws-ofi-nccl/lib`); pass the EFA devices into the container
(`--device /dev/infiniband/uverbs0`... or the `vpc.amazonaws.com/efa` resource on EKS); unset
`NCCL_NET=Socket`, `NCCL_NET_PLUGIN=none` and `FI_PROVIDER` values other than `efa`; check that
the instance really has EFA interfaces (`fi_info -p efa`). Run `efactl explain NCCL002` when the
plugin loaded but failed.

## Source
efa-facts.md §4.3 (plugin discovery), §5.2 (healthy path: `Using network Libfabric`,
`via NET/Libfabric/0/GDRDMA`), §5.3 (no-plugin messages of every NCCL version, socket fallback,
plugin init failure); NCCL `src/plugin/net.cc`, `src/transport/net_socket.cc`;
aws/aws-k8s-tester#464.
",
    check: None,
};
