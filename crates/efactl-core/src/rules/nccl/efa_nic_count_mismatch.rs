use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL003",
    name: "efa-nic-count-mismatch",
    severity: Severity::Warning,
    category: Category::Runtime,
    title: "aws-ofi-nccl found fewer EFA NICs than the instance type has, or ranks disagree",
    doc: "## What it does
Reads `NET/OFI Selected provider is efa, fabric is efa (found N nics)` (plugin 1.14 and later;
`Selected Provider is efa (found N nics)` from 1.6 to 1.13) on every rank, and reports a rank
whose N is below the instance type's maximum number of EFA interfaces (when the type is known
from the log's platform line or from `--instance-type`), or ranks that found different numbers.

## Why it matters
Each EFA carries its share of the node's bandwidth: a p4d.24xlarge with 1 of its 4 EFAs, or a
p5.48xlarge with 8 of its 32, runs collectives at a quarter of what it should. It happens when a
launch template attaches a single EFA, when a container gets only some of the devices, or when
a node group mixes layouts.

## Example
```text
ip-10-0-1-17:4242:4242 [0] NCCL INFO NET/OFI Running on p4d.24xlarge platform, Setting NCCL_TOPO_FILE environment variable to /opt/amazon/ofi-nccl/share/aws-ofi-nccl/xml/p4d-24xl-topo.xml
ip-10-0-1-17:4242:4242 [0] NCCL INFO NET/OFI Selected Provider is efa (found 1 nics)
```

## Fix
Attach one EFA per network card (`efactl check` reports the layout: EFA003/EFA004), pass every
`/dev/infiniband/uverbs*` device (or all `vpc.amazonaws.com/efa` resources) into the
container, and make every node of a job the same type and layout.

## Source
efa-facts.md §1 (instance catalog: max EFA interfaces), §5.2 (the `Selected provider` string per
plugin version); aws-ofi-nccl `src/nccl_ofi_net.cpp`.
",
    check: None,
};
