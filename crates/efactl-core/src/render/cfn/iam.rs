//! IAM: the roles (`AWS::IAM::Role`) with their trust, managed and inline policies per target
//! (EC2 instance roles, HyperPod's execution role, Batch job roles), their instance profiles,
//! for ParallelCluster the managed policies it attaches (`AdditionalIamPolicies`), and the
//! `ArtifactBucket` parameter the policies grant reads from.

use super::{att, r, sub, truncate, Builder};
use crate::model::*;
use crate::render::conventions::var_part;
use serde_json::{json, Map, Value};

impl<'a> Builder<'a> {
    pub(super) fn roles(&mut self) {
        let c = self.c;
        if c.target == Target::ParallelCluster {
            self.pcluster_policies();
        }
        let instance_roles = self.instance_role_keys();
        let readers: Vec<String> = c
            .mpi
            .as_ref()
            .map(|m| m.readers.clone())
            .unwrap_or_default();
        for role in &c.roles {
            let is_instance = instance_roles.contains(&role.key.as_str());
            if let Some(id) = self.role_id.get(&role.key).cloned() {
                let users: Vec<&str> = c
                    .node_groups
                    .iter()
                    .filter(|ng| ng.instance_role.as_deref() == Some(role.key.as_str()))
                    .map(|ng| ng.name.as_str())
                    .collect();
                let (service, mut description) = if is_instance && c.target == Target::HyperPod {
                    (
                        "sagemaker.amazonaws.com",
                        format!(
                            "HyperPod execution role of node group{} {}: SageMaker assumes it for the instances it launches",
                            if users.len() == 1 { "" } else { "s" },
                            users.join(", ")
                        ),
                    )
                } else if is_instance {
                    (
                        "ec2.amazonaws.com",
                        format!(
                            "Instance role of node group{} {}",
                            if users.len() == 1 { "" } else { "s" },
                            users.join(", ")
                        ),
                    )
                } else if c.target == Target::Batch {
                    (
                        "ecs-tasks.amazonaws.com",
                        format!(
                            "Job role `{}`: the Batch job's containers run as it",
                            role.name
                        ),
                    )
                } else {
                    (
                        "ec2.amazonaws.com",
                        format!("Role `{}` of the spec", role.name),
                    )
                };
                let mut statements = self.statements_of(role);
                if readers.contains(&role.key) && !role.statements.is_empty() {
                    description.push_str("; reads the MPI SSH key secret and no other secret");
                }
                let mut managed: Vec<Value> = Vec::new();
                if is_instance && c.target == Target::HyperPod {
                    managed.push(sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"));
                    // HyperPod puts the instances' interfaces in the cluster's VPC on the
                    // execution role's behalf (the VpcConfig of the cluster).
                    statements.push(json!({
                        "Effect": "Allow",
                        "Action": [
                            "ec2:CreateNetworkInterface",
                            "ec2:CreateNetworkInterfacePermission",
                            "ec2:DeleteNetworkInterface",
                            "ec2:DeleteNetworkInterfacePermission",
                            "ec2:DescribeNetworkInterfaces",
                            "ec2:DescribeVpcs",
                            "ec2:DescribeDhcpOptions",
                            "ec2:DescribeSubnets",
                            "ec2:DescribeSecurityGroups",
                            "ec2:DetachNetworkInterface"
                        ],
                        "Resource": "*"
                    }));
                    statements.push(json!({
                        "Effect": "Allow",
                        "Action": ["ec2:CreateTags"],
                        "Resource": [sub("arn:${AWS::Partition}:ec2:*:*:network-interface/*")]
                    }));
                    // The lifecycle scripts live under efactl/<cluster>/ in the artifact
                    // bucket, which need not be one of the `sagemaker-*` buckets HyperPod's own
                    // policy covers.
                    let bucket = self.artifact_bucket();
                    statements.push(json!({
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket"],
                        "Resource": [{ "Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", { "Bucket": bucket.clone() }] }],
                        "Condition": { "StringLike": { "s3:prefix": [format!("efactl/{}/*", c.name)] } }
                    }));
                    statements.push(json!({
                        "Effect": "Allow",
                        "Action": ["s3:GetObject"],
                        "Resource": [{ "Fn::Sub": [
                            format!("arn:${{AWS::Partition}}:s3:::${{Bucket}}/efactl/{}/*", c.name),
                            { "Bucket": bucket }
                        ] }]
                    }));
                    description.push_str(". AmazonSageMakerClusterInstanceRolePolicy is HyperPod's own policy for cluster instances; the inline statements let HyperPod attach the instances to the cluster's VPC and read the lifecycle scripts from the artifact bucket");
                } else if !is_instance && c.target == Target::Batch {
                    // The Batch rendering runs the job with this role as its execution role
                    // too: ECS pulls the image, writes the logs and injects the secret with it.
                    managed.push(sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"));
                    description.push_str(". AmazonECSTaskExecutionRolePolicy: the job definition uses it as the execution role too, which pulls the image, writes the logs and injects the secret");
                } else if is_instance {
                    managed.push(sub(
                        "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
                    ));
                    description.push_str(". AmazonSSMManagedInstanceCore lets operators reach the nodes through SSM Session Manager, so no security group needs SSH open to the internet");
                    if c.target == Target::Batch {
                        managed.push(sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"));
                        description.push_str("; AmazonEC2ContainerServiceforEC2Role lets the ECS agent register the instance with the Batch compute environment");
                    }
                    if c.scheduler == Scheduler::Kubernetes && c.target == Target::CloudFormation {
                        for p in [
                            "AmazonEKSWorkerNodePolicy",
                            "AmazonEC2ContainerRegistryReadOnly",
                            "AmazonEKS_CNI_Policy",
                        ] {
                            managed
                                .push(sub(&format!("arn:${{AWS::Partition}}:iam::aws:policy/{p}")));
                        }
                        description.push_str("; the EKS worker, ECR read-only and VPC CNI policies let the nodes join the EKS cluster and pull images");
                    }
                    if let Some(uri) = c
                        .settings
                        .efa_installer
                        .as_ref()
                        .and_then(|i| i.s3_uri.as_deref())
                        .and_then(|u| u.strip_prefix("s3://"))
                    {
                        // The bootstrap copies the EFA installer from S3 with this role.
                        statements.push(json!({
                            "Effect": "Allow",
                            "Action": ["s3:GetObject"],
                            "Resource": [sub(&format!("arn:${{AWS::Partition}}:s3:::{uri}"))]
                        }));
                        description
                            .push_str("; s3:GetObject on the EFA installer the bootstrap copies");
                    }
                }
                description.push('.');
                let mut props = Map::new();
                props.insert(
                    "Description".into(),
                    Value::String(truncate(description, 1000)),
                );
                props.insert(
                    "AssumeRolePolicyDocument".into(),
                    json!({
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": { "Service": service },
                            "Action": "sts:AssumeRole"
                        }]
                    }),
                );
                if !managed.is_empty() {
                    props.insert("ManagedPolicyArns".into(), Value::Array(managed));
                }
                if !statements.is_empty() {
                    props.insert(
                        "Policies".into(),
                        json!([{
                            "PolicyName": format!("efactl-{}", role.name),
                            "PolicyDocument": { "Version": "2012-10-17", "Statement": statements }
                        }]),
                    );
                }
                let tag_name = if role.key == crate::resolve::NODE_ROLE {
                    "node"
                } else {
                    role.key.as_str()
                };
                props.insert("Tags".into(), self.tags(tag_name));
                self.put(&id, "AWS::IAM::Role", None, Value::Object(props));
                self.output(
                    &format!("{id}Arn"),
                    format!(
                        "ARN of role `{}` (placeholder EFACTL_ROLE_ARN_{}).",
                        role.name,
                        var_part(&role.key)
                    ),
                    att(&id, "Arn"),
                );
            }
            if let Some(pid) = self.profile_id.get(&role.key).cloned() {
                let role_value = match self.role_id.get(&role.key) {
                    Some(id) => r(id),
                    None => Value::String(
                        role.arn
                            .as_deref()
                            .map(role_name_of_arn)
                            .unwrap_or("")
                            .to_string(),
                    ),
                };
                self.put(
                    &pid,
                    "AWS::IAM::InstanceProfile",
                    Some(format!(
                        "Instance profile of role `{}`: how an EC2 instance takes a role.",
                        role.name
                    )),
                    json!({ "Roles": [role_value] }),
                );
                self.output(
                    &format!("{pid}Arn"),
                    format!(
                        "ARN of the instance profile of role `{}` (placeholder EFACTL_INSTANCE_PROFILE_ARN_{}).",
                        role.name,
                        var_part(&role.key)
                    ),
                    att(&pid, "Arn"),
                );
            }
        }
    }

    /// ParallelCluster: each node role's statements as a managed policy the cluster config
    /// attaches (`AdditionalIamPolicies`), plus read access to the bootstrap scripts for login
    /// nodes (ParallelCluster's `S3Access` does not apply to login pools).
    fn pcluster_policies(&mut self) {
        let c = self.c;
        let logins = self.login_roles();
        for role in &c.roles {
            let Some(id) = self.policy_id.get(&role.key).cloned() else {
                continue;
            };
            let mut statements = self.statements_of(role);
            let mut why = format!(
                "Statements of role `{}` for ParallelCluster to attach to the nodes' roles (AdditionalIamPolicies)",
                role.name
            );
            if logins.contains(&role.key.as_str()) {
                let bucket = self.artifact_bucket();
                statements.push(json!({
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": [{ "Fn::Sub": [
                        format!("arn:${{AWS::Partition}}:s3:::${{Bucket}}/efactl/{}/*", c.name),
                        { "Bucket": bucket }
                    ] }]
                }));
                why.push_str(
                    "; login nodes read their bootstrap script from the artifact bucket with it",
                );
            }
            self.put(
                &id,
                "AWS::IAM::ManagedPolicy",
                None,
                json!({
                    "Description": truncate(format!("{why}."), 1000),
                    "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
                }),
            );
            self.output(
                &format!("{id}Arn"),
                format!(
                    "ARN of the policy of role `{}` (placeholder EFACTL_POLICY_ARN_{}).",
                    role.name,
                    var_part(&role.key)
                ),
                r(&id),
            );
        }
    }

    /// A role's statements as policy statements, with `kms:Decrypt` beside each read of a
    /// secret encrypted with a key of its own.
    fn statements_of(&self, role: &Role) -> Vec<Value> {
        let mut statements: Vec<Value> = Vec::new();
        for st in &role.statements {
            statements.push(json!({
                "Effect": if st.allow { "Allow" } else { "Deny" },
                "Action": st.actions,
                "Resource": self.resource_values(&st.resources),
            }));
            if st.allow
                && st
                    .actions
                    .iter()
                    .any(|a| crate::rules::access::grants_get_secret_value(a))
            {
                for res in &st.resources {
                    if let ResourceRef::Secret(k) = res {
                        if let Some(kms) = self.c.secret(k).and_then(|s| self.kms_statement(s)) {
                            statements.push(kms);
                        }
                    }
                }
            }
        }
        statements
    }

    /// A statement's resources in the policy: the secret the template creates by `Ref` (its
    /// ARN), anything else as written.
    fn resource_values(&self, res: &[ResourceRef]) -> Vec<Value> {
        res.iter()
            .map(|x| match x {
                ResourceRef::Secret(k) => match self.secret_id.get(k) {
                    Some(id) => r(id),
                    None => Value::String(
                        self.c
                            .secret(k)
                            .and_then(|s| s.arn.clone())
                            .unwrap_or_else(|| k.clone()),
                    ),
                },
                ResourceRef::Arn(a) => Value::String(a.clone()),
            })
            .collect()
    }

    /// `kms:Decrypt` on the key of a secret the statement reads, through Secrets Manager only.
    fn kms_statement(&self, secret: &Secret) -> Option<Value> {
        let key = secret.kms_key.as_deref()?;
        let via = sub("secretsmanager.${AWS::Region}.amazonaws.com");
        Some(if key.starts_with("arn:") && key.contains(":key/") {
            json!({ "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key], "Condition": { "StringEquals": { "kms:ViaService": via } } })
        } else if let Some(alias) = key
            .strip_prefix("arn:")
            .and_then(|k| k.split_once(":alias/").map(|(_, a)| format!("alias/{a}")))
            .or_else(|| key.starts_with("alias/").then(|| key.to_string()))
        {
            // IAM authorizes kms:Decrypt on the key, not on its alias: any key of the account
            // that carries the alias, and only through Secrets Manager.
            json!({
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*")],
                "Condition": {
                    "StringEquals": { "kms:ViaService": via },
                    "ForAnyValue:StringEquals": { "kms:ResourceAliases": alias }
                }
            })
        } else {
            json!({
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [sub(&format!("arn:${{AWS::Partition}}:kms:${{AWS::Region}}:${{AWS::AccountId}}:key/{key}"))],
                "Condition": { "StringEquals": { "kms:ViaService": via } }
            })
        })
    }

    /// The bucket the deployment tools' artifacts are uploaded to (a stack parameter).
    fn artifact_bucket(&mut self) -> Value {
        self.param(
            "ArtifactBucket",
            json!({
                "Type": "String",
                "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                "Description": format!(
                    "The S3 bucket the efactl renderings' scripts are uploaded to (EFACTL_ARTIFACT_BUCKET), under efactl/{}/: the nodes read them from there.",
                    self.c.name
                )
            }),
        );
        r("ArtifactBucket")
    }
}

/// `role/path/name` of an IAM role ARN -> `name`.
fn role_name_of_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
