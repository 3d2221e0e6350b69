//! What the deployment-tool renderers (`pcluster`, `hyperpod`, `batch`) agree on: where artifacts
//! live in S3, how a value that only exists after deploy is written (a `${EFACTL_...}`
//! placeholder), and the README that lists those placeholders.
//!
//! ParallelCluster, HyperPod and Batch each take ids that do not exist when efactl renders:
//! subnets and security groups the efactl stack creates, role ARNs, an S3 bucket. Rather than
//! invent values, a renderer writes a placeholder named after what it stands for, and its README
//! lists every placeholder it used with where the value comes from. The names are valid shell
//! variable names, so `envsubst` fills them (given the explicit list, so that nothing else in the
//! file that looks like a variable is touched). Ids the spec already gives (`id: subnet-...`)
//! are written as they are.

use crate::model::Cluster;
use std::collections::BTreeMap;

/// The bucket the deployment-tool artifacts are uploaded to.
pub const ARTIFACT_BUCKET: &str = "EFACTL_ARTIFACT_BUCKET";

/// `efactl/<cluster>`: the key prefix of a cluster's artifacts in the bucket, so that one bucket
/// serves many clusters.
pub fn s3_prefix(cluster: &Cluster) -> String {
    format!("efactl/{}", cluster.name)
}

/// A file-name-safe form of a node-group (or other) name.
pub fn file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("ng-{s}")
    } else {
        s
    }
}

/// `my-group` -> `MY_GROUP`: the part of a placeholder name taken from a spec name.
pub fn var_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The placeholders one renderer used, with what each stands for and where its value comes from.
#[derive(Debug, Default)]
pub struct Placeholders {
    vars: BTreeMap<String, String>,
}

impl Placeholders {
    /// `${NAME}`, recording what it means.
    pub fn var(&mut self, name: &str, meaning: impl Into<String>) -> String {
        self.vars
            .entry(name.to_string())
            .or_insert_with(|| meaning.into());
        format!("${{{name}}}")
    }

    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// The artifact bucket (a placeholder: the spec has no bucket).
    pub fn bucket(&mut self) -> String {
        self.var(
            ARTIFACT_BUCKET,
            "an S3 bucket in the cluster's region that you own, for the scripts efactl renders: upload them as the README says",
        )
    }

    /// A subnet's id: the spec's own, or a placeholder for one the efactl stack creates.
    pub fn subnet(&mut self, cluster: &Cluster, key: &str) -> String {
        match cluster.subnet(key) {
            Some(s) => match &s.id {
                Some(id) => id.clone(),
                None => {
                    let cidr = s.cidr.map(|c| format!(" ({c})")).unwrap_or_default();
                    self.var(
                        &format!("EFACTL_SUBNET_{}", var_part(key)),
                        format!("id of subnet `{key}`{cidr}, created by the efactl CloudFormation stack (`efactl render --target cfn`): a stack output"),
                    )
                }
            },
            None => self.var(
                &format!("EFACTL_SUBNET_{}", var_part(key)),
                format!("id of subnet `{key}`"),
            ),
        }
    }

    /// A security group's id: the spec's own, or a placeholder.
    pub fn security_group(&mut self, cluster: &Cluster, key: &str) -> String {
        if key.starts_with("sg-") {
            return key.to_string();
        }
        match cluster.security_group(key).and_then(|s| s.id.clone()) {
            Some(id) => id,
            None if key == crate::resolve::DEFAULT_SG => self.var(
                "EFACTL_SG_DEFAULT",
                "id of the VPC's default security group (the node groups name no group of their own)",
            ),
            None => self.var(
                &format!("EFACTL_SG_{}", var_part(key)),
                format!("id of security group `{key}`, created by the efactl CloudFormation stack: a stack output"),
            ),
        }
    }

    /// A role's ARN: the spec's own, or a placeholder.
    pub fn role_arn(&mut self, cluster: &Cluster, key: &str, why: &str) -> String {
        match cluster.role(key).and_then(|r| r.arn.clone()) {
            Some(arn) => arn,
            None => {
                let name = cluster
                    .role(key)
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| key.to_string());
                self.var(
                    &format!("EFACTL_ROLE_ARN_{}", var_part(key)),
                    format!("ARN of IAM role `{name}` ({why}), created by the efactl CloudFormation stack: a stack output"),
                )
            }
        }
    }

    /// The MPI SSH-key secret's ARN: the spec's own, or a placeholder.
    pub fn secret_arn(&mut self, cluster: &Cluster, key: &str) -> String {
        match cluster.secret(key).and_then(|s| s.arn.clone()) {
            Some(arn) => arn,
            None => self.var(
                "EFACTL_MPI_SECRET_ARN",
                format!("ARN of the Secrets Manager secret `{key}` (the MPI SSH key pair), created by the efactl CloudFormation stack: a stack output; `efactl keys create` fills it"),
            ),
        }
    }

    /// The README section that lists the placeholders, with a command that fills them.
    pub fn readme_section(&self, files: &[&str]) -> String {
        if self.vars.is_empty() {
            return "## Placeholders\n\nNone: every value is in the spec.\n".into();
        }
        let mut s = String::from(
            "## Placeholders\n\nValues that do not exist until the network and roles are deployed are written as\n`${NAME}`. Each stands for:\n\n| placeholder | value |\n|---|---|\n",
        );
        for (k, v) in &self.vars {
            s.push_str(&format!("| `{k}` | {v} |\n"));
        }
        let list: Vec<String> = self.vars.keys().map(|k| format!("${k}")).collect();
        s.push_str(
            "\nExport each one, then fill them in (only these names are replaced):\n\n```sh\n",
        );
        for f in files {
            s.push_str(&format!(
                "envsubst '{}' < {f} > {f}.filled && mv {f}.filled {f}\n",
                list.join(" ")
            ));
        }
        s.push_str("```\n");
        s
    }
}

/// Single-quotes a string for POSIX shells.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Text safe inside a one-line `#` comment (a newline would end the comment).
pub fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_safe() {
        assert_eq!(file_name("gpu"), "gpu");
        assert_eq!(file_name("a/b c"), "a-b-c");
        assert_eq!(file_name(".x"), "ng-.x");
        assert_eq!(var_part("my-group.1"), "MY_GROUP_1");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(comment_safe("a\nb"), "a b");
    }
}
