use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA035",
    name: "mpi-ssh-key-secret-unusable",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "The MPI SSH key secret exists but holds no key pair the nodes can use",
    doc: "## What it does
Checks the value of the Secrets Manager secret that gives the nodes their MPI SSH key pair,
where efactl can read it: in `efactl audit` (a spec or a template names the secret but not its
value, so `efactl check` never raises this rule). It reports a secret that still holds the
placeholder the rendered template created it with, a secret created without any value, a value that is not the JSON the node
bootstrap reads (`MPI_SSH_KEY_PRIVATE` and `MPI_SSH_KEY_PUBLIC`, base64 of an unencrypted
OpenSSH private key and its public line), and a secret scheduled for deletion.

## Why it matters
The nodes boot, read the secret and install what they find. With the placeholder, nothing is
installed; with a malformed or passphrase-protected key, `ssh` cannot use it; a secret pending
deletion cannot be read at all. Each way, `mpirun` fails with `Permission denied (publickey)`
and \"ORTE was unable to reliably start one or more daemons\" on the first multi-node job,
long after the deploy looked fine.

## Example
After `efactl deploy`, the stack's secret holds
`{\"MPI_SSH_KEY_PRIVATE\": \"\", \"MPI_SSH_KEY_PUBLIC\": \"\"}` until `efactl keys create` runs.

## Fix
`efactl keys create --secret NAME` fills a placeholder; `--rotate` replaces a value that is
not a usable key pair; `aws secretsmanager restore-secret --secret-id NAME` cancels a
deletion. Nodes already running pick the key up when their bootstrap runs again.

## Source
efactl's node bootstrap (docs/bootstrap.md, step `ssh-keys`) and `efactl keys` (docs/deploy.md);
Open MPI's daemon launch over SSH (https://github.com/open-mpi/ompi/issues/5639).
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let c = cx.cluster;
    let Some(mpi) = &c.mpi else { return };
    if mpi.launcher != MpiLauncher::Ssh {
        return;
    }
    let Some(key) = &mpi.secret else { return };
    let Some(secret) = c.secrets.iter().find(|s| &s.key == key) else {
        return;
    };
    let (what, help) = match &secret.content {
        SecretContent::Unknown | SecretContent::KeyPair => return,
        SecretContent::Placeholder => (
            "still holds the template's placeholder, not a key pair".to_string(),
            format!("run `efactl keys create --secret {}`", secret.name),
        ),
        SecretContent::NoValue => (
            "was created without a value, so the nodes have nothing to read".to_string(),
            format!("run `efactl keys create --secret {}`", secret.name),
        ),
        SecretContent::Unusable(problems) => (
            format!("does not hold a usable key pair ({})", problems.join("; ")),
            format!(
                "`efactl keys create --secret {} --rotate` replaces it",
                secret.name
            ),
        ),
        SecretContent::PendingDeletion => (
            "is scheduled for deletion, so the nodes cannot read it".to_string(),
            format!(
                "`aws secretsmanager restore-secret --secret-id {}` keeps it",
                secret.name
            ),
        ),
    };
    r.report(
        secret.origin.at("value"),
        format!(
            "secret `{}`, which gives the nodes their MPI SSH key, {what}: `mpirun` fails with `Permission denied (publickey)`",
            secret.name
        ),
    )
    .help = Some(help);
}
