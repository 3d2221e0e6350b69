use crate::rules::and_list;
use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA025",
    name: "mpi-ssh-key-secret-missing",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "MPI starts ranks over SSH but no SSH key secret reaches the nodes",
    doc: "## What it does
Checks clusters whose `mpi.launcher` is `ssh` and that have a compute node group of more than
one node (now or after scaling): with target `cloudformation` or `batch` they need
`mpi.sshKeySecret`, the Secrets Manager secret holding the key pair the nodes log in to each
other with. ParallelCluster and SageMaker HyperPod manage SSH keys among their cluster nodes
themselves, so the rule does not apply to those targets; nor to `launcher: pmix`, where Slurm
starts the ranks and no SSH between nodes is needed.

## Why it matters
`mpirun` (Open MPI's `rsh` launcher) starts a daemon on every other node over SSH. Without a shared key pair
in the nodes' `~/.ssh`, each login fails with `Permission denied (publickey)` and the job dies
with \"ORTE was unable to reliably start one or more daemons\" before any NCCL or EFA traffic
is sent. A key baked into the AMI or user data ends up in every launch template and image
copy; a secret read at boot by the node role keeps it in one audited place.

## Example
```yaml
target: cloudformation
mpi:
  launcher: ssh        # no sshKeySecret
nodeGroups:
  - { name: gpu, instanceType: p5.48xlarge, count: 4 }
```

## Fix
Add `mpi.sshKeySecret`: `{ name: mpi-ssh-key }` makes efactl create the secret and grant the
node role `secretsmanager:GetSecretValue` on it; `{ name: ..., arn: arn:aws:secretsmanager:... }`
uses an existing one. Or launch ranks with Slurm (`launcher: pmix`, `srun --mpi=pmix`).

## Source
Open MPI: \"ORTE was unable to reliably start one or more daemons ... lack of authority to
execute on one or more specified nodes\" (https://github.com/open-mpi/ompi/issues/5639,
https://github.com/openpmix/prrte/issues/1493); efa-facts.md §7 (a `secretsmanager` endpoint
where subnets have no internet). efactl's design: the key lives in Secrets Manager and the
IAM policy names the exact secret ARN.
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let c = cx.cluster;
    let Some(mpi) = &c.mpi else { return };
    if mpi.launcher != MpiLauncher::Ssh
        || mpi.secret.is_some()
        || !matches!(c.target, Target::CloudFormation | Target::Batch)
    {
        return;
    }
    let groups: Vec<&str> = c
        .node_groups
        .iter()
        .filter(|ng| ng.is_multi_node() && ng.role == NodeRole::Compute)
        .map(|ng| ng.name.as_str())
        .collect();
    if groups.is_empty() {
        return;
    }
    let word = if groups.len() == 1 {
        "node group"
    } else {
        "node groups"
    };
    r.report(
        mpi.origin.at("sshKeySecret"),
        format!(
            "MPI launches ranks over SSH between the nodes of {word} {}, but no `sshKeySecret` gives the nodes a shared key pair (target `{}` sets none up): `mpirun` fails with `Permission denied (publickey)`",
            and_list(&groups),
            c.target.name()
        ),
    )
    .help = Some(if let Some(name) = crate::rules::live::live_id(&mpi.origin) {
        format!("create the key pair's secret with `efactl keys create --secret {name}`, let the nodes' instance role read it (`secretsmanager:GetSecretValue` on its ARN), and have the bootstrap install it; or launch ranks with PMIx instead of SSH")
    } else {
        "add `sshKeySecret: { name: mpi-ssh-key }` under `mpi` (efactl creates the secret and lets the node role read it), or use `launcher: pmix`".into()
    });
}

#[cfg(test)]
mod tests {
    const SPEC: &str = "apiVersion: efactl.dev/v1alpha1
name: t
region: us-east-1
availabilityZone: us-east-1a
target: TARGET
network:
  subnets:
    - { name: compute, cidr: 10.0.0.0/20, internet: nat }
securityGroups:
  - { name: efa, selfReferencing: true }
nodeGroups:
  - { name: gpu, instanceType: p4d.24xlarge, count: 1, maxCount: 8, securityGroups: [efa] }
mpi:
  launcher: LAUNCHER
";

    fn count(target: &str, launcher: &str) -> usize {
        let spec = SPEC.replace("TARGET", target).replace("LAUNCHER", launcher);
        crate::rules::findings_of("EFA025", &spec).len()
    }

    #[test]
    fn only_targets_that_leave_ssh_keys_to_the_user() {
        assert_eq!(count("batch", "ssh"), 1);
        assert_eq!(count("cloudformation", "ssh"), 1);
        assert_eq!(count("parallelcluster", "ssh"), 0);
        assert_eq!(count("hyperpod", "ssh"), 0);
        assert_eq!(count("cloudformation", "pmix"), 0);
    }
}
