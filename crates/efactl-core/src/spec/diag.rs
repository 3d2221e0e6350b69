//! Input rules: the file could not be read or does not make sense. They are raised by the
//! parsers, the decoder, the resolver and the readers of other kinds; their findings are
//! errors that make `efactl check` exit 2, except the notes of SPEC013 (a value not known, so
//! not judged) and SPEC010's note on a HyperPod login group that names no instance group.

use crate::finding::{Category, Severity};
use crate::rules::Rule;

pub type InputRule = Rule;

macro_rules! input_rule {
    ($ident:ident, $id:literal, $name:literal, $title:literal, $doc:literal) => {
        pub static $ident: Rule = Rule {
            id: $id,
            name: $name,
            severity: Severity::Error,
            category: Category::Input,
            title: $title,
            doc: $doc,
            check: None,
        };
    };
}

input_rule!(
    SYNTAX,
    "SPEC001",
    "yaml-syntax-error",
    "The file is not valid YAML",
    "## What it does
Reports a file that the YAML parser cannot read: unbalanced brackets, bad indentation, a tab
used for indentation, more than one document, nesting deeper than 64 levels, aliases that
expand to more than a million values, or a file over 8 MiB.

## Why it matters
Nothing else can be checked until the file reads as one YAML document.

## Example
```yaml
nodeGroups: [ { name: gpu, count: 4 }
```

## Fix
Correct the syntax at the line and column shown. `efactl init` writes a valid starting point.

## Source
YAML 1.2 specification; efactl's input limits (docs/spec.md).
"
);

input_rule!(
    UNKNOWN_FIELD,
    "SPEC002",
    "unknown-field",
    "A key the spec does not define",
    "## What it does
Reports a mapping key that is not part of the spec at that place, with the closest known key.

## Why it matters
A misspelt key is otherwise silently ignored: `placementGrup: none` would leave the default
placement group in place while the user believes it is off.

## Example
```yaml
nodeGroups:
  - name: gpu
    instanceTyp: p5.48xlarge
```

## Fix
Use the suggested key, or remove the line. docs/spec.md lists every field.

## Source
efactl spec reference (docs/spec.md).
"
);

input_rule!(
    WRONG_TYPE,
    "SPEC003",
    "wrong-value-type",
    "A value of the wrong type",
    "## What it does
Reports a value whose type does not fit the field: a list where a mapping is expected, a
string where a number is expected, and so on.

## Why it matters
The spec cannot be understood until every value has the shape its field needs.

## Example
```yaml
nodeGroups:
  - name: gpu
    count: four
```

## Fix
Write the value in the type named by the message.

## Source
efactl spec reference (docs/spec.md).
"
);

input_rule!(
    MISSING_FIELD,
    "SPEC004",
    "missing-field",
    "A required field is absent",
    "## What it does
Reports a required field that is missing, such as `apiVersion`, `name`, `region`, a node
group's `instanceType`, or a node group's `subnet` when the spec has several subnets.

## Why it matters
efactl does not guess what a cluster needs to be correct: a missing subnet or instance type
would make every later check meaningless.

## Example
```yaml
nodeGroups:
  - name: gpu
    count: 4
```

## Fix
Add the field named in the message.

## Source
efactl spec reference (docs/spec.md).
"
);

input_rule!(
    DUPLICATE_KEY,
    "SPEC005",
    "duplicate-key",
    "The same key twice in one mapping",
    "## What it does
Reports a key given twice in the same mapping.

## Why it matters
YAML parsers keep one of the two values, and which one differs between tools: the
cluster you check and the cluster you deploy could differ.

## Example
```yaml
nodeGroups:
  - name: gpu
    count: 4
    count: 8
```

## Fix
Keep one of them.

## Source
YAML 1.2 specification, 3.2.1.1 (mapping keys are unique).
"
);

input_rule!(
    INVALID_VALUE,
    "SPEC006",
    "invalid-value",
    "A value outside what the field accepts",
    "## What it does
Reports a value of the right type that the field does not accept: an unknown enum value, a
negative count, a malformed CIDR, port range, AWS id, region or zone.

## Why it matters
AWS would reject such a value at deploy time, minutes into a stack creation; efactl reports
it before anything is created.

## Example
```yaml
network:
  subnets:
    - name: compute
      cidr: 10.0.1.0/33
      internet: none
```

## Fix
Use one of the values named in the message.

## Source
efactl spec reference (docs/spec.md); EC2 API reference for id and CIDR formats.
"
);

input_rule!(
    API_VERSION,
    "SPEC007",
    "unsupported-api-version",
    "An apiVersion this efactl does not read",
    "## What it does
Reports an `apiVersion` other than the one this release reads (`efactl.dev/v1alpha1`).

## Why it matters
Fields change meaning between spec versions; reading a spec with the wrong version's rules
would give wrong answers.

## Example
```yaml
apiVersion: efactl.dev/v2
```

## Fix
Use the apiVersion printed by `efactl init`, or the efactl release that matches the spec.

## Source
efactl spec reference (docs/spec.md).
"
);

input_rule!(
    EMPTY,
    "SPEC008",
    "empty-spec",
    "The file holds no YAML document",
    "## What it does
Reports an empty file, or one that holds only comments.

## Why it matters
There is no cluster to check.

## Example
An empty cluster.yaml.

## Fix
Start from an example: `efactl init --example p5-slurm-private cluster.yaml`.

## Source
efactl spec reference (docs/spec.md).
"
);

input_rule!(
    DUPLICATE_NAME,
    "SPEC009",
    "duplicate-name",
    "Two entries of one list share a name",
    "## What it does
Reports two subnets, security groups, node groups, roles or file systems with the same `name`.

## Why it matters
Other parts of the spec refer to entries by name; with two of the same name the reference is
ambiguous and the rendered CloudFormation would have clashing logical ids.

## Example
```yaml
nodeGroups:
  - { name: gpu, instanceType: p5.48xlarge }
  - { name: gpu, instanceType: p4d.24xlarge }
```

## Fix
Rename one of them.

## Source
efactl spec reference (docs/spec.md).
"
);

input_rule!(
    UNDEFINED_REFERENCE,
    "SPEC010",
    "undefined-reference",
    "A reference to something the spec does not define",
    "## What it does
Reports a name that refers to a subnet, security group, IAM role or placement group the spec
does not define, or an existing `sg-` id that the spec uses without describing its rules.

In a HyperPod `provisioning_parameters.json` checked beside its `cluster-config.json`, it
reports a `controller_group` or `worker_groups[].instance_group_name` that names no instance
group of the config (an error), and a `login_group` that names none (a note, not an error:
the AWS samples ship `login_group: my-login-group` as a default, and then no node becomes a
login node while nothing else fails).

## Why it matters
efactl checks security groups by their rules; a group it cannot see could be the one that
blocks EFA traffic. The HyperPod lifecycle scripts give each node its Slurm role by its
instance group's name: a controller group the config lacks leaves the cluster without a
controller, a worker group it lacks leaves a partition empty.

## Example
```yaml
nodeGroups:
  - name: gpu
    securityGroups: [efa-sg]   # but the group is named `efa`
```

## Fix
Use a defined name (the message suggests the closest), or describe the existing group under
`securityGroups` with its `id` and rules. In provisioning parameters, name one of the
config's instance groups (the help lists them), or add the group to the config.

## Source
efactl spec reference (docs/spec.md).
"
);

input_rule!(
    UNKNOWN_INSTANCE_TYPE,
    "SPEC011",
    "unknown-instance-type",
    "An instance type the catalog does not know",
    "## What it does
Reports an instance type that is not in efactl's bundled catalog, with the closest known name.

## Why it matters
Every EFA check depends on the type's facts: how many EFA interfaces and network cards it has,
how many interfaces each card takes, its bandwidth. A typo such as `p5.48xlage` would
otherwise surface as a failed launch.

## Example
```yaml
nodeGroups:
  - name: gpu
    instanceType: p5.48xlage
```

## Fix
Correct the name. For a type released after this efactl, `efactl audit` reads the facts from
a live `DescribeInstanceTypes`.

## Source
crates/efactl-core/data/instance-catalog.csv (sources per row).
"
);

input_rule!(
    UNREADABLE,
    "SPEC012",
    "unreadable-file",
    "The file cannot be read",
    "## What it does
Reports a path that does not exist, is a directory, cannot be read, or is not UTF-8 text.

## Why it matters
There is nothing to check.

## Example
`efactl check clsuter.yaml`

## Fix
Check the path and the file's encoding (cluster specs are UTF-8).

## Source
efactl CLI reference.
"
);

/// Not an error: a note that part of a template was not judged because a value it depends on
/// is known only at deploy time.
pub static NOT_KNOWN: Rule = Rule {
    id: "SPEC013",
    name: "value-not-known",
    severity: Severity::Info,
    category: Category::Input,
    title: "A value known only at deploy time: what it decides is not judged",
    doc: "## What it does
Notes a value of a CloudFormation template that cannot be known before the stack is deployed:
an `Fn::ImportValue` of another stack, a parameter without a default, a condition on such a
parameter, an attribute of a custom resource, an SSM dynamic reference. The part of the model
it decides (the security groups of a node group, its instance type, its network interfaces)
is left out of the rules instead of being replaced by a default.

## Why it matters
A guessed value makes findings about a cluster that will not exist: the VPC's default group
in place of an imported EFA group, one interface in place of 32 behind a condition. A note
that says what was not judged is honest; a false error is switched off.

## Example
```yaml
SecurityGroupIds:
  - !ImportValue network-stack-EfaSecurityGroup
```

## Fix
Nothing is wrong. To judge it, pass the value: `efactl check template.yaml --parameter
SecurityGroupId=sg-0abc`, or judge the deployed stack with `efactl audit`.

## Source
AWS CloudFormation User Guide: parameters, `Fn::ImportValue`, dynamic references.
",
    check: None,
};

input_rule!(
    UNKNOWN_KIND,
    "SPEC014",
    "unknown-file-kind",
    "A file of no kind efactl reads",
    "## What it does
Reports a file that is none of the kinds efactl reads: an efactl cluster spec (`apiVersion:
efactl.dev/v1alpha1`), a CloudFormation template (`AWSTemplateFormatVersion` or
`Resources`), a ParallelCluster 3 cluster config (`HeadNode` and `Scheduling`). The message
says what the file looks like (its `apiVersion` and `kind`, or its first keys) and lists the
kinds with how each is recognised.

## Why it matters
A file read as the wrong kind gives findings about fields it does not have (\"unknown field
HeadNode\"), which say nothing about what is wrong.

## Example
```yaml
apiVersion: v1
kind: Pod
```

## Fix
Pass one of the kinds listed. A spec that lost its `apiVersion` is still read as a spec when
its top level has a spec's keys (`name`, `nodeGroups`, `network`, ...).

## Source
efactl CLI reference (`efactl check`); docs/formats.md.
"
);
