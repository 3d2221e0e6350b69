use super::{covers_other_secrets, resource_label, secret_access, SecretAccess};
use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA027",
    name: "secret-access-too-broad",
    severity: Severity::Warning,
    category: Category::Cluster,
    title:
        "An IAM role reads the MPI SSH key secret only through a wildcard that covers other secrets",
    doc: "## What it does
For each role that reads the MPI SSH key secret (`mpi.secretReaders`; when that is empty, the
roles the node groups run as), looks at the Allow statements through which it may call
`secretsmanager:GetSecretValue` on it. When every one of them names the secret only through a
resource that matches other secrets as well (`*`, `arn:aws:secretsmanager:*:*:secret:*`,
`...:secret:*`), it warns. A pattern for this one secret's random suffix
(`...:secret:NAME-??????`) is exact enough.

## Why it matters
Every node of the cluster runs as the role, and so does every process on it: a training job,
a notebook, a compromised container can then read every secret in the account and region,
not only the cluster's SSH key. Naming the exact secret ARN in IAM policies is a requirement
of efactl's design, and least privilege in AWS's own IAM guidance.

## Example
```yaml
iam:
  roles:
    - name: trainer
      statements:
        - actions: [secretsmanager:GetSecretValue]
          resources: [\"*\"]
```

## Fix
Name the secret: its name for the secret efactl creates (`resources: [mpi-key]`, efactl
substitutes the ARN), or the existing secret's full ARN, or
`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-??????`. Keep wider reads in a separate
role that the nodes do not run as.

## Source
AWS IAM User Guide, \"Security best practices in IAM: apply least-privilege permissions\";
AWS Secrets Manager User Guide, \"Permissions to AWS Secrets Manager secrets\" (the `-??????`
suffix pattern). efactl's design: IAM policies name the exact secret ARN.
",
    check: Some(check),
};

fn check(cx: &Context<'_>, r: &mut Reporter<'_>) {
    let c = cx.cluster;
    let Some(mpi) = &c.mpi else { return };
    let Some(secret) = mpi.secret.as_deref().and_then(|k| c.secret(k)) else {
        return;
    };
    for role in mpi.readers.iter().filter_map(|k| c.role(k)) {
        let SecretAccess::Allowed(through) = secret_access(role, secret, &c.region) else {
            continue;
        };
        if !through
            .iter()
            .all(|(_, res)| covers_other_secrets(res, secret, &c.region))
        {
            continue;
        }
        let Some((st, res)) = through.first() else {
            continue;
        };
        let exact = match &secret.arn {
            Some(arn) => format!("`{arn}`"),
            None => format!(
                "`{}` (efactl substitutes the ARN of the secret it creates)",
                secret.name
            ),
        };
        r.report(
            st.origin.at("resources"),
            format!(
                "role `{}` reads the MPI SSH key secret `{}` only through resource `{}`, which lets it read other secrets too",
                role.name,
                secret.name,
                resource_label(res)
            ),
        )
        .help = Some(if crate::rules::template::in_template(cx.cluster) {
            format!(
                "name the secret itself in the statement's `Resource`: {}",
                crate::rules::template::secret_ref(secret)
            )
        } else {
            format!("name the secret itself in `resources`: {exact}")
        });
    }
}
