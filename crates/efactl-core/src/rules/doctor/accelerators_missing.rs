use crate::rules::prelude::*;

/// Raised by `efactl doctor` (efactl-doctor's report), not by a check over the model.
pub static RULE: Rule = Rule {
    id: "DOC005",
    name: "accelerators-missing",
    severity: Severity::Error,
    category: Category::Runtime,
    title: "A node sees fewer GPUs or Neuron devices than its type has",
    doc: "## What it does
Counts /dev/nvidiaN (NVIDIA) or /dev/neuronN (Trainium, Inferentia) and compares with the
catalog's accelerator count for the instance type.

## Why it matters
A rank without its GPUs either fails or, worse, runs with fewer ranks per node than the job
expects; in containers it usually means the device request was wrong.

## Example
```
error[DOC005]: rank 0 sees 4 of the 8 accelerators a p5.48xlarge has
```

## Fix
Request every device in the container spec; on the host check the driver (`nvidia-smi`,
`neuron-ls`).

## Source
instance-catalog.csv (accelerator, accelerator_count).
",
    check: None,
};
