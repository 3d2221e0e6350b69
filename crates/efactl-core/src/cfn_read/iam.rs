//! Secrets, IAM roles and their policies, instance profiles.

use super::*;

impl<'t> Reader<'_, 't> {
    pub(super) fn secrets(&mut self) -> (Vec<Secret>, Option<String>) {
        let mut mpi = None;
        let mut out = Vec::new();
        for id in self.of_type("AWS::SecretsManager::Secret") {
            let d = self.doc;
            let ev = |k: &str| d.prop(id, k).map(|v| d.eval(v));
            let tagged = self
                .prop(id, "Tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|t| {
                    t.get("Key").and_then(Value::as_str) == Some(crate::render::cfn::PURPOSE_TAG)
                        && t.get("Value").and_then(Value::as_str)
                            == Some(crate::render::cfn::MPI_SECRET_PURPOSE)
                });
            if mpi.is_none() && (tagged || id == crate::render::cfn::MPI_SECRET_ID) {
                mpi = Some(id.to_string());
            }
            out.push(Secret {
                key: id.to_string(),
                name: ev("Name")
                    .and_then(|v| v.s().map(str::to_string))
                    .unwrap_or_else(|| id.to_string()),
                arn: None,
                managed: true,
                kms_key: ev("KmsKeyId").and_then(|v| v.s().map(str::to_string)),
                origin: Origin::Spec(rpath(id)),
                content: SecretContent::Unknown,
            });
        }
        (out, mpi)
    }

    pub(super) fn statements(&self, doc: Option<&Value>, path: &str) -> Vec<Statement> {
        let Some(doc) = doc else { return Vec::new() };
        let list: Vec<(String, &Value)> = match doc.get("Statement") {
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(j, s)| (format!("{path}.Statement[{j}]"), s))
                .collect(),
            Some(s @ Value::Object(_)) => vec![(format!("{path}.Statement"), s)],
            _ => Vec::new(),
        };
        let mut out = Vec::new();
        for (p, st) in list {
            let ev = |k: &str| st.get(k).map(|v| self.doc.eval(v));
            if st.get("Action").is_none() {
                continue; // NotAction, or nothing: not a grant efactl can weigh
            }
            let allow = ev("Effect").as_ref().and_then(V::s) != Some("Deny");
            let actions: Vec<String> = self
                .list(st.get("Action"))
                .iter()
                .filter_map(|a| a.s().map(str::to_string))
                .collect();
            let resources: Vec<ResourceRef> = self
                .list(st.get("Resource"))
                .iter()
                .filter_map(|r| match r {
                    V::Ref(x) | V::Att(x, _)
                        if self.doc.kind_of(x) == Some("AWS::SecretsManager::Secret") =>
                    {
                        Some(ResourceRef::Secret(x.clone()))
                    }
                    V::S(s) => Some(ResourceRef::Arn(s.clone())),
                    _ => None,
                })
                .collect();
            out.push(Statement {
                allow,
                actions,
                resources,
                origin: Origin::Spec(p),
            });
        }
        out
    }

    pub(super) fn roles(&mut self) -> Vec<Role> {
        let mut out = Vec::new();
        for id in self.of_type("AWS::IAM::Role") {
            let mut statements = Vec::new();
            let policies = self.prop(id, "Policies").and_then(Value::as_array);
            for (i, p) in policies.into_iter().flatten().enumerate() {
                let path = format!("{}[{i}].PolicyDocument", ppath(id, "Policies"));
                statements.extend(self.statements(p.get("PolicyDocument"), &path));
            }
            out.push(Role {
                key: id.to_string(),
                name: id.to_string(),
                arn: None,
                managed: true,
                statements,
                origin: Origin::Spec(rpath(id)),
            });
        }
        // Policies attached to the roles from outside.
        for kind in ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"] {
            for id in self.of_type(kind) {
                let roles: Vec<String> = self
                    .list(self.prop(id, "Roles"))
                    .iter()
                    .filter_map(|v| match v {
                        V::Ref(x) => Some(x.clone()),
                        _ => None,
                    })
                    .collect();
                let st = self.statements(
                    self.prop(id, "PolicyDocument"),
                    &ppath(id, "PolicyDocument"),
                );
                for role in out.iter_mut().filter(|r| roles.contains(&r.key)) {
                    role.statements.extend(st.iter().cloned());
                }
            }
        }
        out
    }

    /// Instance profile -> role key.
    pub(super) fn profiles(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        for id in self.of_type("AWS::IAM::InstanceProfile") {
            if let Some(V::Ref(role)) = self.list(self.prop(id, "Roles")).first() {
                m.insert(id.to_string(), role.clone());
            }
        }
        m
    }
}
