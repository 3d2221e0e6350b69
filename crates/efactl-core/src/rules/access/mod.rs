//! MPI SSH keys, IAM access to them, and the NCCL / libfabric environment.

pub mod mpi_ssh_key_secret_missing;
pub mod mpi_ssh_key_secret_unusable;
pub mod nccl_env_obsolete;
pub mod nccl_socket_ifname_mismatch;
pub mod secret_access_too_broad;
pub mod secret_reader_lacks_access;

use crate::model::{ResourceRef, Role, Secret, Statement};

/// IAM's wildcard match: `*` is any run of characters (colons included), `?` one character.
pub(crate) fn iam_glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative glob with one backtrack point, linear in practice.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Does an action pattern grant `secretsmanager:GetSecretValue`? (`*`, `secretsmanager:*`,
/// `secretsmanager:Get*`, the action itself; IAM compares actions case-insensitively.)
pub(crate) fn grants_get_secret_value(action: &str) -> bool {
    iam_glob(action, "secretsmanager:GetSecretValue", true)
}

/// The random suffix Secrets Manager appends to a secret's name in its ARN, twice with no
/// character in common: a pattern that matches both matches whatever the suffix turns out to be.
const SUFFIXES: [&str; 2] = ["AbCdEf", "uvwxyz"];

/// A name no secret can have (`~` is not allowed in secret names): a pattern that matches it
/// matches other secrets too.
const OTHER: &str = "~other";

/// ARNs a secret named `name` may have, as `pattern` would see them: the partition and account
/// are taken from the pattern where it spells them out (efactl does not know the account).
fn candidates(pattern: &str, region: &str, name: &str) -> [String; 2] {
    let parts: Vec<&str> = pattern.split(':').collect();
    let literal = |i: usize, default: &str| {
        parts
            .get(i)
            .filter(|s| !s.is_empty() && !s.contains(['*', '?']))
            .map_or_else(|| default.to_string(), |s| s.to_string())
    };
    let (partition, account) = (literal(1, "aws"), literal(4, "123456789012"));
    SUFFIXES.map(|suffix| {
        format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{name}-{suffix}")
    })
}

/// Does a policy resource cover the secret? The secret efactl creates has no ARN yet: an ARN
/// pattern covers it when it matches whatever suffix Secrets Manager picks
/// (`...:secret:NAME-??????`, `...:secret:NAME*`, `*`).
pub(crate) fn covers_secret(res: &ResourceRef, secret: &Secret, region: &str) -> bool {
    match (res, &secret.arn) {
        (ResourceRef::Secret(k), _) => *k == secret.key,
        (ResourceRef::Arn(p), Some(arn)) => iam_glob(p, arn, false),
        (ResourceRef::Arn(p), None) => candidates(p, region, &secret.name)
            .iter()
            .all(|a| iam_glob(p, a, false)),
    }
}

/// Does a policy resource also cover secrets other than this one (`*`, `...:secret:*`)?
pub(crate) fn covers_other_secrets(res: &ResourceRef, secret: &Secret, region: &str) -> bool {
    let ResourceRef::Arn(p) = res else {
        return false;
    };
    let other: Vec<String> = match secret.arn.as_deref().and_then(|a| a.split_once(":secret:")) {
        Some((head, _)) => SUFFIXES
            .iter()
            .map(|s| format!("{head}:secret:{OTHER}-{s}"))
            .collect(),
        None => candidates(p, region, OTHER).to_vec(),
    };
    other.iter().any(|a| iam_glob(p, a, false))
}

/// What a role's statements say about reading a secret.
pub(crate) enum SecretAccess<'a> {
    /// Allowed, through these (statement, resource) pairs.
    Allowed(Vec<(&'a Statement, &'a ResourceRef)>),
    /// A Deny statement covers it; a Deny always wins.
    Denied(&'a Statement),
    /// No Allow statement covers it.
    NotAllowed,
}

pub(crate) fn secret_access<'a>(role: &'a Role, secret: &Secret, region: &str) -> SecretAccess<'a> {
    let matching = |st: &'a Statement| -> Vec<(&'a Statement, &'a ResourceRef)> {
        if !st.actions.iter().any(|a| grants_get_secret_value(a)) {
            return Vec::new();
        }
        st.resources
            .iter()
            .filter(|res| covers_secret(res, secret, region))
            .map(|res| (st, res))
            .collect()
    };
    if let Some(deny) = role
        .statements
        .iter()
        .find(|st| !st.allow && !matching(st).is_empty())
    {
        return SecretAccess::Denied(deny);
    }
    let allowed: Vec<_> = role
        .statements
        .iter()
        .filter(|st| st.allow)
        .flat_map(matching)
        .collect();
    if allowed.is_empty() {
        SecretAccess::NotAllowed
    } else {
        SecretAccess::Allowed(allowed)
    }
}

/// How messages name a policy resource.
pub(crate) fn resource_label(res: &ResourceRef) -> &str {
    match res {
        ResourceRef::Arn(a) => a,
        ResourceRef::Secret(k) => k,
    }
}

/// How messages name where a model object is written: its spec path, or its live id.
pub(crate) fn origin_label(origin: &crate::model::Origin) -> &str {
    match origin {
        crate::model::Origin::Spec(p)
        | crate::model::Origin::Implied(p)
        | crate::model::Origin::Live(p) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;

    fn secret(arn: Option<&str>) -> Secret {
        Secret {
            key: "mpi-key".into(),
            name: "mpi-key".into(),
            arn: arn.map(str::to_string),
            managed: arn.is_none(),
            kms_key: None,
            origin: Origin::Spec("mpi.sshKeySecret".into()),
            content: Default::default(),
        }
    }

    fn arn(s: &str) -> ResourceRef {
        ResourceRef::Arn(s.into())
    }

    #[test]
    fn globs() {
        assert!(iam_glob("*", "", false));
        assert!(iam_glob("a*c", "abbbc", false));
        assert!(iam_glob("a?c", "abc", false));
        assert!(!iam_glob("a?c", "ac", false));
        assert!(iam_glob(
            "arn:aws:secretsmanager:*",
            "arn:aws:secretsmanager:us-east-1:1:secret:x",
            false
        ));
        assert!(!iam_glob("ABC", "abc", false));
        assert!(iam_glob("ABC", "abc", true));
    }

    #[test]
    fn actions() {
        for a in [
            "*",
            "secretsmanager:*",
            "secretsmanager:Get*",
            "SecretsManager:GetSecretValue",
            "secretsmanager:getsecretvalue",
        ] {
            assert!(grants_get_secret_value(a), "{a}");
        }
        for a in [
            "secretsmanager:DescribeSecret",
            "s3:*",
            "secretsmanager:List*",
        ] {
            assert!(!grants_get_secret_value(a), "{a}");
        }
    }

    #[test]
    fn managed_secret_patterns() {
        let s = secret(None);
        let r = "us-east-1";
        for p in [
            "*",
            "arn:aws:secretsmanager:*:*:secret:*",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:mpi-key-??????",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:mpi-key*",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:mpi-key-*",
        ] {
            assert!(covers_secret(&arn(p), &s, r), "{p}");
        }
        for p in [
            // No suffix: the real ARN always has one.
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:mpi-key",
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:mpi-key-??????",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:mpi-key-A*",
            "arn:aws:s3:::bucket/*",
        ] {
            assert!(!covers_secret(&arn(p), &s, r), "{p}");
        }
        assert!(covers_secret(&ResourceRef::Secret("mpi-key".into()), &s, r));
        assert!(!covers_secret(&ResourceRef::Secret("other".into()), &s, r));
    }

    #[test]
    fn existing_secret_and_breadth() {
        let a = "arn:aws:secretsmanager:us-east-1:111122223333:secret:mpi-key-Q1w2E3";
        let s = secret(Some(a));
        let r = "us-east-1";
        assert!(covers_secret(&arn(a), &s, r));
        assert!(covers_secret(
            &arn("arn:aws:secretsmanager:us-east-1:111122223333:secret:mpi-key-??????"),
            &s,
            r
        ));
        assert!(!covers_secret(
            &arn("arn:aws:secretsmanager:us-east-1:111122223333:secret:other-??????"),
            &s,
            r
        ));
        assert!(!covers_other_secrets(&arn(a), &s, r));
        assert!(covers_other_secrets(&arn("*"), &s, r));
        assert!(covers_other_secrets(
            &arn("arn:aws:secretsmanager:us-east-1:111122223333:secret:*"),
            &s,
            r
        ));
        let m = secret(None);
        assert!(!covers_other_secrets(
            &arn("arn:aws:secretsmanager:us-east-1:111122223333:secret:mpi-key-??????"),
            &m,
            r
        ));
        assert!(covers_other_secrets(
            &arn("arn:aws:secretsmanager:*:*:secret:*"),
            &m,
            r
        ));
        assert!(!covers_other_secrets(
            &ResourceRef::Secret("mpi-key".into()),
            &m,
            r
        ));
    }
}
