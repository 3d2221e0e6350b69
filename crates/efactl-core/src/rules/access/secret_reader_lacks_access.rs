use super::{origin_label, secret_access, SecretAccess};
use crate::rules::prelude::*;

pub static RULE: Rule = Rule {
    id: "EFA026",
    name: "secret-reader-lacks-access",
    severity: Severity::Error,
    category: Category::Cluster,
    title: "An IAM role that must read the MPI SSH key secret is not allowed to",
    doc: "## What it does
For each role that must read the MPI SSH key secret (`mpi.secretReaders`; when that is empty,
the roles the node groups run as), checks the role's statements for an `Allow` of
`secretsmanager:GetSecretValue` on the secret, and for a `Deny` of it, which always wins.
- Actions match case-insensitively with IAM wildcards: `secretsmanager:GetSecretValue`,
  `secretsmanager:Get*`, `secretsmanager:*`, `*`.
- Resources: the secret's name (for the secret efactl creates), its exact ARN, or an ARN
  pattern with `*` / `?` that matches it. The secret efactl creates has no ARN yet, and
  Secrets Manager appends `-` and six random characters to its name: a pattern covers it only
  when it matches whatever those are (`...:secret:NAME-??????`, `...:secret:NAME-*`,
  `...:secret:NAME*`, `*`), not `...:secret:NAME` alone.

An existing role (`arn:`) whose statements the spec does not describe is not checked.

## Why it matters
The nodes fetch the MPI key pair at boot with the role they run as. Without the permission
the call fails with `AccessDeniedException: User: arn:aws:sts::...:assumed-role/ROLE/i-...
is not authorized to perform: secretsmanager:GetSecretValue on resource: ...`; the nodes come
up without the shared key and every `mpirun` across nodes fails with
`Permission denied (publickey)`.

## Example
```yaml
mpi:
  launcher: ssh
  sshKeySecret: { name: mpi-key }
  secretReaders: [trainer]
iam:
  roles:
    - name: trainer
      arn: arn:aws:iam::111122223333:role/trainer
      statements:
        - actions: [secretsmanager:GetSecretValue]
          resources: [\"arn:aws:secretsmanager:us-east-1:111122223333:secret:mpi-key\"]  # no suffix
```

## Fix
Give the role a statement that names the secret: `{ actions: [secretsmanager:GetSecretValue],
resources: [mpi-key] }` for the secret efactl creates (efactl substitutes its ARN), or the
existing secret's full ARN, or `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-??????`.
Remove or narrow a `Deny` that covers it. A secret encrypted with a customer-managed KMS key
also needs `kms:Decrypt` on that key. For a live role:
`aws iam put-role-policy --role-name ROLE --policy-name mpi-ssh-key --policy-document file://policy.json`.

## Source
AWS Secrets Manager User Guide, \"Permissions to AWS Secrets Manager secrets\" (a secret's ARN
ends in a dash and six random characters; `?` wildcards for them) and IAM policy evaluation
logic (an explicit Deny overrides any Allow). efactl's design: IAM policies name the exact
secret ARN. Secrets Manager endpoint for subnets without internet: efa-facts.md §7.
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
        let fix = match (&secret.arn, &role.arn) {
            (Some(arn), _) => format!("resources: [\"{arn}\"]"),
            // efactl writes the policy of a role it creates and fills in the ARN; an existing
            // role's policy must match the suffix Secrets Manager will add.
            (None, Some(role_arn)) => {
                let mut parts = role_arn.split(':');
                let partition = parts.nth(1).filter(|p| !p.is_empty()).unwrap_or("aws");
                let account = parts.nth(2).filter(|a| !a.is_empty()).unwrap_or("ACCOUNT");
                format!(
                    "resources: [\"arn:{partition}:secretsmanager:{}:{account}:secret:{}-??????\"]",
                    c.region, secret.name
                )
            }
            (None, None) => format!("resources: [{}]", secret.name),
        };
        // An existing role whose policies the spec does not describe: nothing to check.
        if role.arn.is_some() && role.statements.is_empty() {
            continue;
        }
        match secret_access(role, secret, &c.region) {
            SecretAccess::Allowed(_) => {}
            SecretAccess::Denied(st) => {
                r.report(
                    role.origin.subject(),
                    format!(
                        "role `{}` must read the MPI SSH key secret `{}`, but its statement `{}` denies secretsmanager:GetSecretValue on it, and a Deny wins over any Allow",
                        role.name,
                        secret.name,
                        origin_label(&st.origin)
                    ),
                )
                .help = Some(format!(
                    "narrow the Deny in `{}` so that it no longer covers the secret",
                    origin_label(&st.origin)
                ));
            }
            SecretAccess::NotAllowed => {
                // The usual slip: the secret's ARN written without Secrets Manager's suffix.
                let unsuffixed = format!(":secret:{}", secret.name);
                let hint = role
                    .statements
                    .iter()
                    .filter(|st| st.allow)
                    .flat_map(|st| &st.resources)
                    .find_map(|res| match res {
                        ResourceRef::Arn(a) if secret.arn.is_none() && a.ends_with(&unsuffixed) => {
                            Some(format!(
                                " (`{a}` lacks the `-` and six random characters Secrets Manager appends to the name)"
                            ))
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
                r.report(
                    role.origin.subject(),
                    format!(
                        "role `{}` must read the MPI SSH key secret `{}`, but no Allow statement grants secretsmanager:GetSecretValue on it{hint}: the nodes boot without the key and `mpirun` fails with `Permission denied (publickey)`",
                        role.name,
                        secret.name
                    ),
                )
                .help = Some(if crate::rules::template::in_template(cx.cluster) {
                    format!(
                        "add a statement with `Effect: Allow`, `Action: secretsmanager:GetSecretValue` and `Resource:` {} to a policy of {}",
                        crate::rules::template::secret_ref(secret),
                        crate::rules::template::named(&role.origin, &role.name)
                    )
                } else {
                    format!(
                        "add a statement `{{ actions: [secretsmanager:GetSecretValue], {fix} }}` to role `{}`",
                        role.name
                    )
                });
            }
        }
    }
}
