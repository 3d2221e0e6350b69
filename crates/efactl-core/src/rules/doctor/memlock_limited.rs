use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC007",
    name: "memlock-limited",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "The locked-memory limit is too small for EFA",
    doc: "## What it does
Reads the rank's `Max locked memory` limit and reports one under 16 GiB that is not unlimited.

## Why it matters
EFA registers (pins) communication buffers; with a small memlock limit registration fails and
NCCL or MPI aborts. Containers default to 64 KiB.

## Example
```
error[DOC007]: rank 0: the locked-memory limit is 64 KiB; EFA registers memory and needs it unlimited
```

## Fix
Set memlock unlimited: /etc/security/limits.d (efactl's bootstrap writes it), `--ulimit
memlock=-1` for Docker, the Batch job definition's ulimits.

## Source
efa-facts.md §8 (memlock; ADAI health check warns under 16 GiB; open-mpi/ompi#6468).
",
    check: None,
};
