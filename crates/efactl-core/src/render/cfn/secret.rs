//! Secrets (`AWS::SecretsManager::Secret`), the MPI SSH key secret above all: created with
//! [`super::secret_placeholder`], which holds no key, tagged with its purpose, and with an
//! output for its ARN.

use super::{r, secret_placeholder, Builder, MPI_SECRET_PURPOSE, PURPOSE_TAG};
use crate::model::*;
use serde_json::{json, Map, Value};

impl<'a> Builder<'a> {
    pub(super) fn secrets(&mut self) {
        let c = self.c;
        let mpi_secret = c.mpi.as_ref().and_then(|m| m.secret.clone());
        for s in c.secrets.iter() {
            let Some(id) = self.secret_id.get(&s.key).cloned() else {
                continue;
            };
            let mpi = mpi_secret.as_deref() == Some(s.key.as_str());
            let mut props = Map::new();
            props.insert("Name".into(), Value::String(s.name.clone()));
            props.insert(
                "Description".into(),
                Value::String(if mpi {
                    format!(
                        "MPI SSH key pair of cluster {}: mpirun logs in to the other nodes with it. Created with a placeholder that holds no key; `efactl keys create --secret {}` stores the key pair. Read by {}, and by nothing else this template creates.",
                        c.name,
                        s.name,
                        readers_words(c)
                    )
                } else {
                    format!("Secret `{}` of cluster {}.", s.name, c.name)
                }),
            );
            props.insert(
                "SecretString".into(),
                Value::String(secret_placeholder(&s.name)),
            );
            if let Some(k) = &s.kms_key {
                props.insert("KmsKeyId".into(), Value::String(k.clone()));
            }
            let mut tags = self.tags(&s.key);
            if mpi {
                if let Value::Array(t) = &mut tags {
                    t.push(json!({ "Key": PURPOSE_TAG, "Value": MPI_SECRET_PURPOSE }));
                }
            }
            props.insert("Tags".into(), tags);
            self.put(
                &id,
                "AWS::SecretsManager::Secret",
                None,
                Value::Object(props),
            );
            self.output(
                &format!("{id}Arn"),
                if mpi {
                    format!(
                        "ARN of secret `{}` (placeholder EFACTL_MPI_SECRET_ARN).",
                        s.name
                    )
                } else {
                    format!("ARN of secret `{}`.", s.name)
                },
                r(&id),
            );
        }
    }
}

/// `role `a``, `roles `a` and `b``: who reads the MPI key.
fn readers_words(c: &Cluster) -> String {
    let names: Vec<String> = c
        .mpi
        .iter()
        .flat_map(|m| &m.readers)
        .map(|k| {
            c.role(k)
                .map(|r| r.name.clone())
                .unwrap_or_else(|| k.clone())
        })
        .collect();
    match names.len() {
        0 => "no role yet".into(),
        1 => format!("role {}", crate::rules::and_list(&names)),
        _ => format!("roles {}", crate::rules::and_list(&names)),
    }
}
