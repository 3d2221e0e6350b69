//! The `pcluster` renderer: an AWS ParallelCluster 3 cluster config for a Slurm spec.
//!
//! | spec | ParallelCluster |
//! |---|---|
//! | the `role: head` node group (or a small default) | `HeadNode` |
//! | each compute node group | one `SlurmQueues` entry with one compute resource: `InstanceType` (`Instances` for a mixed group), `MinCount` = `count`, `MaxCount` = `maxCount`, `Efa/Enabled` when it has EFA interfaces |
//! | each `role: login` node group | a `LoginNodes` pool |
//! | a node group's subnets and security groups | `Networking/SubnetIds` (`SubnetId`), `AdditionalSecurityGroups` |
//! | placement group | `PlacementGroup`: `Enabled` (ParallelCluster creates it) or `Name` (an existing one, such as a reservation's) |
//! | `capacity` | `CapacityType` and `CapacityReservationTarget` |
//! | `parallelcluster.disableManagedDns` / `useEc2Hostnames` | `SlurmSettings/Dns` |
//! | `storage` (FSx for Lustre) | `SharedStorage` |
//! | the node bootstrap | `CustomActions/OnNodeConfigured`, from S3 |
//!
//! ParallelCluster runs custom actions from S3 or HTTPS, never inline, so the config points at
//! `s3://${EFACTL_ARTIFACT_BUCKET}/efactl/<cluster>/bootstrap/<group>.sh` and the renderer writes
//! those scripts under `pcluster/s3/`, a mirror of the bucket (`aws s3 sync pcluster/s3/
//! s3://BUCKET/`). The nodes read them with `Iam/S3Access`. Ids that only exist after the efactl
//! stack is deployed are placeholders (see [`super::conventions`]); the README lists them.
//!
//! Not written: `GdrSupport` (no effect since ParallelCluster 3.0.2: GPUDirect RDMA is on
//! wherever the instance type and OS support it), `Ssh/KeyName` (reach the head node with SSM
//! Session Manager, or add a key pair), `Image/CustomAmi` (the spec has no per-target AMI).

use super::conventions::{file_name, s3_prefix, Placeholders};
use super::{bootstrap, yaml_out, Artifact, RenderError, RenderOptions};
use crate::catalog::Catalog;
use crate::model::{Capacity, Cluster, NodeGroup, NodeRole, Scheduler, StorageKind};
use serde_json::{json, Map, Value};

/// The head node's type when the spec has no `role: head` node group: enough for slurmctld and
/// the shared home of a modest cluster.
pub const DEFAULT_HEAD_NODE_TYPE: &str = "m6i.xlarge";

/// ParallelCluster's node OS: Amazon Linux 2023 (the bootstrap also runs on Ubuntu 22.04).
pub const OS: &str = "alinux2023";

/// Queue and compute-resource names: lowercase letters, digits and hyphens, starting with a
/// letter (ParallelCluster's naming rules).
const MAX_NAME: usize = 25;

pub fn render(
    cluster: &Cluster,
    catalog: &Catalog,
    _opts: &RenderOptions,
) -> Result<Vec<Artifact>, RenderError> {
    if cluster.scheduler != Scheduler::Slurm {
        return Err(RenderError::Unsupported(format!(
            "ParallelCluster runs Slurm, and this spec's scheduler is `{}`",
            cluster.scheduler.name()
        )));
    }
    let heads: Vec<&NodeGroup> = cluster
        .node_groups
        .iter()
        .filter(|g| g.role == NodeRole::Head)
        .collect();
    if heads.len() > 1 {
        return Err(RenderError::Unsupported(format!(
            "ParallelCluster has one head node, and the spec has {} node groups with `role: head`",
            heads.len()
        )));
    }
    let head = heads.first().copied();
    let compute: Vec<&NodeGroup> = cluster
        .node_groups
        .iter()
        .filter(|g| g.role == NodeRole::Compute)
        .collect();
    if compute.is_empty() {
        return Err(RenderError::Unsupported(
            "ParallelCluster needs at least one compute node group (a Slurm queue)".into(),
        ));
    }
    let login: Vec<&NodeGroup> = cluster
        .node_groups
        .iter()
        .filter(|g| g.role == NodeRole::Login)
        .collect();

    let mut ph = Placeholders::default();
    let bucket = ph.bucket();
    let prefix = s3_prefix(cluster);
    let script_uri = |ng: &NodeGroup| {
        format!(
            "s3://{bucket}/{prefix}/bootstrap/{}.sh",
            file_name(&ng.name)
        )
    };

    let mut config = Map::new();
    config.insert("Region".into(), json!(cluster.region));
    config.insert("Image".into(), json!({ "Os": OS }));

    // Head node.
    let mut head_node = Map::new();
    let head_subnet = match head {
        Some(h) => h.subnets.first().cloned(),
        None => compute[0].subnets.first().cloned(),
    }
    .ok_or_else(|| RenderError::Unsupported("the head node's group has no subnet".into()))?;
    head_node.insert(
        "InstanceType".into(),
        json!(head
            .map(NodeGroup::instance_type)
            .unwrap_or(DEFAULT_HEAD_NODE_TYPE)),
    );
    let mut net = Map::new();
    net.insert("SubnetId".into(), json!(ph.subnet(cluster, &head_subnet)));
    if let Some(h) = head {
        let sgs = security_groups(cluster, h, &mut ph);
        if !sgs.is_empty() {
            net.insert("AdditionalSecurityGroups".into(), json!(sgs));
        }
    }
    head_node.insert("Networking".into(), Value::Object(net));
    if let Some(h) = head {
        head_node.insert(
            "CustomActions".into(),
            json!({ "OnNodeConfigured": { "Script": script_uri(h) } }),
        );
    }
    head_node.insert("Iam".into(), iam(cluster, head, &bucket, &prefix, &mut ph));
    config.insert("HeadNode".into(), Value::Object(head_node));

    // Scheduling.
    let mut slurm_settings = Map::new();
    let pc = &cluster.parallelcluster;
    if pc.disable_managed_dns || pc.use_ec2_hostnames {
        let mut dns = Map::new();
        if pc.disable_managed_dns {
            dns.insert("DisableManagedDns".into(), json!(true));
        }
        if pc.use_ec2_hostnames {
            dns.insert("UseEc2Hostnames".into(), json!(true));
        }
        slurm_settings.insert("Dns".into(), Value::Object(dns));
    }
    let mut queues = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for ng in &compute {
        let name = pc_name(&ng.name)?;
        if names.contains(&name) {
            return Err(RenderError::Unsupported(format!(
                "node groups `{}` and another both become Slurm queue `{name}`: rename one",
                ng.name
            )));
        }
        names.push(name.clone());
        queues.push(queue(
            cluster,
            ng,
            &name,
            &script_uri(ng),
            &bucket,
            &prefix,
            &mut ph,
        ));
    }
    let mut scheduling = Map::new();
    scheduling.insert("Scheduler".into(), json!("slurm"));
    if !slurm_settings.is_empty() {
        scheduling.insert("SlurmSettings".into(), Value::Object(slurm_settings));
    }
    scheduling.insert("SlurmQueues".into(), Value::Array(queues));
    config.insert("Scheduling".into(), Value::Object(scheduling));

    if !login.is_empty() {
        let mut pools = Vec::new();
        for ng in &login {
            let mut pool = Map::new();
            pool.insert("Name".into(), json!(pc_name(&ng.name)?));
            pool.insert("InstanceType".into(), json!(ng.instance_type()));
            pool.insert("Count".into(), json!(ng.count));
            let mut net = Map::new();
            net.insert(
                "SubnetIds".into(),
                json!(ng
                    .subnets
                    .iter()
                    .take(1)
                    .map(|s| ph.subnet(cluster, s))
                    .collect::<Vec<_>>()),
            );
            let sgs = security_groups(cluster, ng, &mut ph);
            if !sgs.is_empty() {
                net.insert("AdditionalSecurityGroups".into(), json!(sgs));
            }
            pool.insert("Networking".into(), Value::Object(net));
            pool.insert(
                "CustomActions".into(),
                json!({ "OnNodeConfigured": { "Script": script_uri(ng) } }),
            );
            pool.insert("Iam".into(), login_iam(cluster, ng, &mut ph));
            pools.push(Value::Object(pool));
        }
        config.insert("LoginNodes".into(), json!({ "Pools": pools }));
    }

    let storage: Vec<Value> = cluster
        .file_systems
        .iter()
        .filter(|fs| fs.kind == StorageKind::FsxLustre)
        .map(|fs| {
            let settings = match &fs.id {
                Some(id) => json!({ "FileSystemId": id }),
                // ParallelCluster creates it (SCRATCH_2 unless told otherwise).
                None => json!({ "StorageCapacity": fs.capacity_gib.unwrap_or(1200) }),
            };
            json!({
                "Name": fs.key,
                "StorageType": "FsxLustre",
                "MountDir": fs.mount_path,
                "FsxLustreSettings": settings,
            })
        })
        .collect();
    if !storage.is_empty() {
        config.insert("SharedStorage".into(), Value::Array(storage));
    }

    let mut tags: Vec<Value> = cluster
        .tags
        .iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    tags.push(json!({ "Key": "efactl:cluster", "Value": cluster.name }));
    config.insert("Tags".into(), Value::Array(tags));

    let mut yaml = header(cluster, head.is_none());
    yaml.push_str(&yaml_out::to_yaml(&Value::Object(config)));

    let mut out = vec![Artifact::file("pcluster/cluster-config.yaml", yaml)];
    let mut scripts = Vec::new();
    for ng in cluster.node_groups.iter() {
        let path = format!("pcluster/s3/{prefix}/bootstrap/{}.sh", file_name(&ng.name));
        scripts.push(path.clone());
        out.push(Artifact::script(
            path,
            bootstrap::script(cluster, catalog, ng),
        ));
    }
    out.push(Artifact::file(
        "pcluster/README.md",
        readme(cluster, &ph, &scripts, head.is_none()),
    ));
    Ok(out)
}

/// A ParallelCluster queue / compute resource / pool name for a node group.
fn pc_name(name: &str) -> Result<String, RenderError> {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s.insert_str(0, "q-");
    }
    if s.len() > MAX_NAME {
        return Err(RenderError::Unsupported(format!(
            "node group `{name}` is too long for a ParallelCluster queue name ({MAX_NAME} characters at most)"
        )));
    }
    Ok(s)
}

fn security_groups(cluster: &Cluster, ng: &NodeGroup, ph: &mut Placeholders) -> Vec<String> {
    ng.all_security_groups()
        .into_iter()
        .map(|g| ph.security_group(cluster, g))
        .collect()
}

/// What the nodes' role may do beyond ParallelCluster's own policy: read the bootstrap scripts
/// (and an S3 copy of the EFA installer), plus the statements of the spec's role for the group
/// (the MPI key secret) as a managed policy. An existing role (`arn:`) is used as it is.
fn iam(
    cluster: &Cluster,
    ng: Option<&NodeGroup>,
    bucket: &str,
    prefix: &str,
    ph: &mut Placeholders,
) -> Value {
    let role = ng
        .and_then(|g| g.instance_role.as_deref())
        .and_then(|r| cluster.role(r));
    if let Some(arn) = role.and_then(|r| r.arn.clone()) {
        return json!({ "InstanceRole": arn });
    }
    let mut access = vec![json!({ "BucketName": bucket, "KeyName": format!("{prefix}/*") })];
    if let Some(uri) = cluster
        .settings
        .efa_installer
        .as_ref()
        .and_then(|e| e.s3_uri.as_deref())
    {
        if let Some((b, key)) = uri.trim_start_matches("s3://").split_once('/') {
            access.push(json!({ "BucketName": b, "KeyName": key }));
        }
    }
    let mut iam = Map::new();
    iam.insert("S3Access".into(), Value::Array(access));
    if let Some(r) = role.filter(|r| !r.statements.is_empty()) {
        iam.insert(
            "AdditionalIamPolicies".into(),
            json!([{ "Policy": policy_placeholder(ph, &r.key, &r.name) }]),
        );
    }
    Value::Object(iam)
}

fn login_iam(cluster: &Cluster, ng: &NodeGroup, ph: &mut Placeholders) -> Value {
    // Login pools take no S3Access: their scripts are read with the policy below.
    let role = ng.instance_role.as_deref().and_then(|r| cluster.role(r));
    match role {
        Some(r) if r.arn.is_some() => json!({ "InstanceRole": r.arn }),
        Some(r) => {
            json!({ "AdditionalIamPolicies": [{ "Policy": policy_placeholder(ph, &r.key, &r.name) }] })
        }
        None => json!({}),
    }
}

fn policy_placeholder(ph: &mut Placeholders, key: &str, name: &str) -> String {
    ph.var(
        &format!(
            "EFACTL_POLICY_ARN_{}",
            super::conventions::var_part(key)
        ),
        format!("ARN of a managed IAM policy with the statements of role `{name}` (such as secretsmanager:GetSecretValue on the MPI key secret, and for login nodes s3:GetObject on the bootstrap scripts), created by the efactl CloudFormation stack: a stack output"),
    )
}

fn queue(
    cluster: &Cluster,
    ng: &NodeGroup,
    name: &str,
    script: &str,
    bucket: &str,
    prefix: &str,
    ph: &mut Placeholders,
) -> Value {
    let mut q = Map::new();
    q.insert("Name".into(), json!(name));
    let (capacity_type, reservation) = match &ng.capacity {
        Capacity::OnDemand => ("ONDEMAND", None),
        Capacity::Spot => ("SPOT", None),
        Capacity::Reservation { id, .. } => ("ONDEMAND", Some(id.clone())),
        Capacity::CapacityBlock { id } => ("CAPACITY_BLOCK", Some(id.clone())),
    };
    q.insert("CapacityType".into(), json!(capacity_type));

    let mut net = Map::new();
    net.insert(
        "SubnetIds".into(),
        json!(ng
            .subnets
            .iter()
            .map(|s| ph.subnet(cluster, s))
            .collect::<Vec<_>>()),
    );
    let sgs = security_groups(cluster, ng, ph);
    if !sgs.is_empty() {
        net.insert("AdditionalSecurityGroups".into(), json!(sgs));
    }
    if let Some(pg) = ng
        .placement_group
        .as_deref()
        .and_then(|k| cluster.placement_group(k))
    {
        net.insert(
            "PlacementGroup".into(),
            if pg.managed {
                // ParallelCluster creates and names the cluster placement group itself.
                json!({ "Enabled": true })
            } else {
                json!({ "Enabled": true, "Name": pg.name })
            },
        );
    }
    q.insert("Networking".into(), Value::Object(net));

    let mut cr = Map::new();
    cr.insert("Name".into(), json!(name));
    if ng.instance_types.len() > 1 {
        cr.insert(
            "Instances".into(),
            json!(ng
                .instance_types
                .iter()
                .map(|t| json!({ "InstanceType": t }))
                .collect::<Vec<_>>()),
        );
    } else {
        cr.insert("InstanceType".into(), json!(ng.instance_type()));
    }
    // A capacity block's nodes are static: ParallelCluster wants MinCount = MaxCount.
    let max = if matches!(ng.capacity, Capacity::CapacityBlock { .. }) {
        ng.count
    } else {
        ng.max_count.max(ng.count)
    };
    cr.insert("MinCount".into(), json!(ng.count));
    cr.insert("MaxCount".into(), json!(max));
    if ng.uses_efa() {
        cr.insert("Efa".into(), json!({ "Enabled": true }));
    }
    if let Some(id) = reservation {
        cr.insert(
            "CapacityReservationTarget".into(),
            json!({ "CapacityReservationId": id }),
        );
    }
    q.insert("ComputeResources".into(), json!([Value::Object(cr)]));
    q.insert(
        "CustomActions".into(),
        json!({ "OnNodeConfigured": { "Script": script } }),
    );
    q.insert("Iam".into(), iam(cluster, Some(ng), bucket, prefix, ph));
    Value::Object(q)
}

fn header(cluster: &Cluster, default_head: bool) -> String {
    let mut s = format!(
        "# AWS ParallelCluster 3 config for cluster `{}`, rendered by efactl {} from the cluster spec.\n",
        cluster.name,
        crate::VERSION
    );
    s.push_str("# Why the parts are there:\n");
    s.push_str("# - one Slurm queue per compute node group; Efa/Enabled where the group has EFA interfaces,\n");
    s.push_str("#   and a cluster placement group for every multi-node EFA queue (EFA traffic stays in one\n");
    s.push_str("#   subnet and is fastest inside one placement group);\n");
    s.push_str("# - AdditionalSecurityGroups: the spec's groups, which carry the self-referencing all-traffic\n");
    s.push_str("#   rules EFA needs;\n");
    s.push_str("# - CustomActions/OnNodeConfigured: the efactl node bootstrap (EFA devices, ptrace, huge\n");
    s.push_str("#   pages, limits, NCCL environment, MPI keys), read from S3 with Iam/S3Access;\n");
    if cluster.parallelcluster.disable_managed_dns || cluster.parallelcluster.use_ec2_hostnames {
        s.push_str("# - SlurmSettings/Dns: Route 53 has no VPC endpoint, so nodes without internet use EC2\n");
        s.push_str("#   hostnames instead of ParallelCluster's private hosted zone;\n");
    }
    if default_head {
        s.push_str(&format!(
            "# - HeadNode: the spec has no `role: head` node group, so a {DEFAULT_HEAD_NODE_TYPE} in the first\n#   compute group's subnet;\n"
        ));
    }
    s.push_str(
        "# - ${EFACTL_...} placeholders: ids that exist only after deploy; README.md lists them.\n",
    );
    s
}

fn readme(cluster: &Cluster, ph: &Placeholders, scripts: &[String], default_head: bool) -> String {
    let mut s = format!(
        "# ParallelCluster config for `{}`\n\nRendered by efactl {}. Files:\n\n| file | what |\n|---|---|\n| `cluster-config.yaml` | the ParallelCluster 3 cluster config |\n",
        cluster.name,
        crate::VERSION
    );
    for p in scripts {
        let rel = p.trim_start_matches("pcluster/");
        s.push_str(&format!(
            "| `{rel}` | a node bootstrap, run by `CustomActions/OnNodeConfigured` |\n"
        ));
    }
    s.push_str(&format!(
        "\n## Deploy\n\n1. Deploy the network, security groups and IAM the config refers to (`efactl render --target cfn`,\n   or your own), then fill in the placeholders below.\n2. Upload the bootstrap scripts. ParallelCluster runs custom actions only from S3 or HTTPS;\n   `s3/` mirrors the bucket:\n\n   ```sh\n   aws s3 sync s3/ \"s3://$EFACTL_ARTIFACT_BUCKET/\"\n   ```\n\n3. `pcluster create-cluster --cluster-name {} --cluster-configuration cluster-config.yaml`\n\nThe bootstrap of a node that fails (too few EFA devices, say) fails the custom action, and\nParallelCluster replaces the node: a node without its full fabric never joins a queue. Each\nnode's outcome is in `/var/lib/efactl/bootstrap-status.json`.\n\n",
        cluster.name
    ));
    s.push_str(&ph.readme_section(&["cluster-config.yaml"]));
    s.push_str("\n## Notes\n\n");
    s.push_str("- `Efa/GdrSupport` is not written: it has no effect since ParallelCluster 3.0.2 (GPUDirect\n  RDMA is on wherever the instance type and OS support it).\n");
    s.push_str(
        "- No `Ssh/KeyName`: reach the head node with SSM Session Manager, or add a key pair.\n",
    );
    if default_head {
        s.push_str(&format!(
            "- The spec has no `role: head` node group: the head node is a {DEFAULT_HEAD_NODE_TYPE} and runs no\n  efactl bootstrap.\n"
        ));
    }
    let existing: Vec<&str> = cluster
        .node_groups
        .iter()
        .filter_map(|g| g.instance_role.as_deref())
        .filter_map(|r| cluster.role(r))
        .filter(|r| r.arn.is_some())
        .map(|r| r.name.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for name in existing {
        s.push_str(&format!(
            "- Role `{name}` exists already and is used as it is (`Iam/InstanceRole`), so ParallelCluster\n  adds nothing to it: it must itself read `s3://$EFACTL_ARTIFACT_BUCKET/{}/*` and carry\n  ParallelCluster's node permissions.\n",
            s3_prefix(cluster)
        ));
    }
    if cluster.file_systems.iter().any(|f| f.id.is_none()) {
        s.push_str("- ParallelCluster creates the FSx for Lustre file system (SCRATCH_2 unless you add\n  `DeploymentType`) in the first queue's subnet.\n");
    }
    s
}
