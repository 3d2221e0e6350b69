use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "NCCL014",
    name: "nccl-output-missing",
    severity: Severity::Error,
    category: Category::Input,
    title: "Nothing NCCL-like was found in the input",
    doc: "## What it does
Raised by `efactl nccl analyze` when none of its inputs contains a line it recognises: no NCCL
`INFO`/`WARN` line, no aws-ofi-nccl or libfabric message, no torch.distributed
ProcessGroupNCCL message and no nccl-tests table. Binary data, an empty file, a truncated
compressed file and the wrong log all end here. The command exits 2.

## Why it matters
An analysis that finds nothing must not look like a healthy run. Most often NCCL was not
asked to log (`NCCL_DEBUG` unset prints nothing but warnings), the log of another process was
given, or the output went to a file the launcher keeps elsewhere.

## Example
```text
$ efactl nccl analyze job.out
error[NCCL014]: nothing NCCL-like in `job.out` (1 204 lines read)
```

## Fix
Run the job with `NCCL_DEBUG=INFO` (and `NCCL_DEBUG_SUBSYS=INIT,NET,ENV` for transport
details), keep the launcher's rank prefixes (`srun --label`, `mpirun --tag-output`), and give
efactl every rank's output (several files, or one interleaved file; `.gz` is read directly).

## Source
efa-facts.md §5.1 (NCCL log line format and `NCCL_DEBUG_SUBSYS` defaults).
",
    check: None,
};
