//! The `batch` renderer: an AWS Batch multi-node parallel (MNP) job and the compute environment
//! it runs in, per compute node group.
//!
//! | file | request |
//! |---|---|
//! | `batch/<group>-compute-environment.json` | `CreateComputeEnvironment`: MANAGED, EC2, the group's instance types, subnet, security groups, placement group, and the group's launch template (its EFA network interfaces and the node bootstrap as user-data) |
//! | `batch/<group>-job-definition.json` | `RegisterJobDefinition`: `multinode`, one node range over all nodes, a container with the MPI SSH key injected from Secrets Manager, the `/dev/infiniband/uverbsN` devices (one per EFA), memlock unlimited, and the NCCL environment |
//! | `batch/README.md` | how to submit, and the placeholders |
//!
//! Why each part: MNP nodes run one container per instance (single tenant), with the
//! instance's EFA devices passed in as `uverbs` device files; EFA pins memory, hence the
//! unlimited memlock ulimit; mpirun on the main node reaches the others over SSH with the key
//! pair the container gets as `MPI_SSH_KEY_PRIVATE` / `MPI_SSH_KEY_PUBLIC` (base64, from the
//! secret's JSON keys); Batch does not run MNP jobs on Spot.
//!
//! The job's image and its memory are the user's (placeholders); so are ids the efactl stack
//! creates. The vCPU count comes from the instance type's size (see [`vcpus`]).

use super::conventions::{file_name, var_part, Placeholders};
use super::{bootstrap, Artifact, RenderError, RenderOptions};
use crate::catalog::Catalog;
use crate::model::{Capacity, Cluster, MpiLauncher, NodeGroup, NodeRole, Scheduler};
use serde_json::{json, Map, Value};

pub fn render(
    cluster: &Cluster,
    catalog: &Catalog,
    _opts: &RenderOptions,
) -> Result<Vec<Artifact>, RenderError> {
    if !matches!(cluster.scheduler, Scheduler::Batch | Scheduler::None) {
        return Err(RenderError::Unsupported(format!(
            "an AWS Batch job replaces the scheduler, and this spec's scheduler is `{}`",
            cluster.scheduler.name()
        )));
    }
    let groups: Vec<&NodeGroup> = cluster
        .node_groups
        .iter()
        .filter(|g| g.role == NodeRole::Compute)
        .collect();
    if groups.is_empty() {
        return Err(RenderError::Unsupported(
            "an AWS Batch multi-node job needs a compute node group".into(),
        ));
    }
    let mut ph = Placeholders::default();
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for ng in &groups {
        if matches!(ng.capacity, Capacity::Spot) {
            return Err(RenderError::Unsupported(format!(
                "node group `{}` runs on Spot, and AWS Batch does not run multi-node parallel jobs on Spot",
                ng.name
            )));
        }
        if ng.instance_types.len() > 1 {
            return Err(RenderError::Unsupported(format!(
                "node group `{}` mixes instance types, and every node of a multi-node parallel job must be of one type",
                ng.name
            )));
        }
        let t = ng.instance_type();
        let Some(cpus) = vcpus(t) else {
            return Err(RenderError::Unsupported(format!(
                "efactl cannot tell the vCPUs of `{t}` from its name (node group `{}`): use a sized type",
                ng.name
            )));
        };
        let base = file_name(&ng.name);
        out.push(Artifact::file(
            format!("batch/{base}-compute-environment.json"),
            pretty(&compute_environment(cluster, catalog, ng, cpus, &mut ph)),
        ));
        out.push(Artifact::file(
            format!("batch/{base}-job-definition.json"),
            pretty(&job_definition(
                cluster, catalog, ng, cpus, &mut ph, &mut notes,
            )),
        ));
    }
    out.push(Artifact::file(
        "batch/README.md",
        readme(cluster, &groups, &ph, &notes),
    ));
    Ok(out)
}

/// vCPUs of an instance type, from its size: EC2 sizes count in units of 4 vCPUs per `xlarge`
/// (`large` 2, `medium` 1, `48xlarge` 192), except the x86 HPC families, which run one thread
/// per core (hpc6a.48xlarge 96, hpc6id.32xlarge 64, hpc7a.96xlarge 192). `metal` sizes say
/// nothing: `None`.
pub fn vcpus(instance_type: &str) -> Option<u32> {
    let (family, size) = instance_type.split_once('.')?;
    let per_unit = if ["hpc6a", "hpc6id", "hpc7a"].contains(&family) {
        2
    } else {
        4
    };
    let units = match size {
        "medium" => return Some(1),
        "large" => return Some(per_unit / 2),
        "xlarge" => 1,
        s => s.strip_suffix("xlarge")?.parse::<u32>().ok()?,
    };
    Some(units * per_unit)
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("JSON");
    s.push('\n');
    s
}

fn tags(cluster: &Cluster) -> Value {
    let mut m = Map::new();
    for (k, v) in &cluster.tags {
        m.insert(k.clone(), json!(v));
    }
    m.insert("efactl:cluster".into(), json!(cluster.name));
    Value::Object(m)
}

fn compute_environment(
    cluster: &Cluster,
    catalog: &Catalog,
    ng: &NodeGroup,
    cpus: u32,
    ph: &mut Placeholders,
) -> Value {
    let t = ng.instance_type();
    let gpu = catalog
        .get(t)
        .and_then(|c| c.accelerator.as_deref())
        .is_some_and(|a| a.starts_with("nvidia"));
    let mut cr = Map::new();
    cr.insert("type".into(), json!("EC2"));
    cr.insert("allocationStrategy".into(), json!("BEST_FIT_PROGRESSIVE"));
    // Nothing runs while no job waits; at most the group's maxCount nodes.
    cr.insert("minvCpus".into(), json!(0));
    cr.insert("maxvCpus".into(), json!(cpus * ng.max_count.max(ng.count)));
    cr.insert("instanceTypes".into(), json!([t]));
    cr.insert(
        "subnets".into(),
        json!(ng
            .subnets
            .iter()
            .map(|s| ph.subnet(cluster, s))
            .collect::<Vec<_>>()),
    );
    cr.insert(
        "securityGroupIds".into(),
        json!(ng
            .all_security_groups()
            .into_iter()
            .map(|g| ph.security_group(cluster, g))
            .collect::<Vec<_>>()),
    );
    if let Some(pg) = ng
        .placement_group
        .as_deref()
        .and_then(|k| cluster.placement_group(k))
    {
        let name = if pg.managed {
            // CloudFormation names the group it creates: the stack reports the name.
            ph.var(
                &format!("EFACTL_PLACEMENT_GROUP_{}", var_part(&ng.name)),
                format!("name of the cluster placement group the efactl CloudFormation stack creates for node group `{}`: a stack output", ng.name),
            )
        } else {
            pg.name.clone()
        };
        cr.insert("placementGroup".into(), json!(name));
    }
    let role = ng
        .instance_role
        .clone()
        .unwrap_or_else(|| crate::resolve::NODE_ROLE.to_string());
    let role_name = cluster
        .role(&role)
        .map(|r| r.name.clone())
        .unwrap_or_else(|| role.clone());
    cr.insert(
        "instanceRole".into(),
        json!(ph.var(
            &format!("EFACTL_INSTANCE_PROFILE_ARN_{}", var_part(&role)),
            format!("ARN of the instance profile of IAM role `{role_name}` (with AmazonEC2ContainerServiceforEC2Role, for the ECS agent), created by the efactl CloudFormation stack: a stack output"),
        )),
    );
    cr.insert(
        "launchTemplate".into(),
        json!({ "launchTemplateId": ph.var(
            &format!("EFACTL_LAUNCH_TEMPLATE_ID_{}", var_part(&ng.name)),
            format!("id of node group `{}`'s launch template (its EFA network interfaces, and the node bootstrap as MIME multi-part user-data), created by the efactl CloudFormation stack: a stack output", ng.name),
        ) }),
    );
    // The ECS-optimized Amazon Linux 2023 AMI; its NVIDIA flavour for GPU types.
    cr.insert(
        "ec2Configuration".into(),
        json!([{ "imageType": if gpu { "ECS_AL2023_NVIDIA" } else { "ECS_AL2023" } }]),
    );
    cr.insert("tags".into(), tags(cluster));
    json!({
        "computeEnvironmentName": format!("{}-{}", cluster.name, ng.name),
        "type": "MANAGED",
        "state": "ENABLED",
        "computeResources": Value::Object(cr),
        "tags": tags(cluster),
    })
}

fn job_definition(
    cluster: &Cluster,
    catalog: &Catalog,
    ng: &NodeGroup,
    cpus: u32,
    ph: &mut Placeholders,
    notes: &mut Vec<String>,
) -> Value {
    let t = ng.instance_type();
    let info = catalog.get(t);
    let mut resources = vec![
        json!({ "type": "VCPU", "value": cpus.to_string() }),
        json!({ "type": "MEMORY", "value": ph.var(
            "EFACTL_JOB_MEMORY_MIB",
            "memory of each node's container in MiB: a hard limit, so most of the instance's memory (`aws ec2 describe-instance-types --query 'InstanceTypes[0].MemoryInfo.SizeInMiB'` less what the ECS agent and the OS keep)",
        ) }),
    ];
    match info.and_then(|i| Some((i.accelerator.as_deref()?, i.accelerator_count?))) {
        Some((a, n)) if a.starts_with("nvidia") && n > 0 => {
            resources.push(json!({ "type": "GPU", "value": n.to_string() }));
        }
        Some((a, _)) if a != "none" => notes.push(format!(
            "`{t}` carries {a} accelerators, which Batch does not schedule as a resource: pass their device files (`/dev/neuron*`) in `linuxParameters.devices` yourself."
        )),
        _ => {}
    }

    let (env, skipped) = bootstrap::nccl_env(cluster);
    for (name, why) in skipped {
        notes.push(format!(
            "`{name}` from `nccl.env` is not in the job's environment: {why}."
        ));
    }
    let environment: Vec<Value> = env
        .into_iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();

    let mut container = Map::new();
    container.insert(
        "image".into(),
        json!(ph.var(
            "EFACTL_JOB_IMAGE",
            "the job's container image: with the EFA software (libfabric, aws-ofi-nccl), MPI and sshd, as in AWS's EFA container examples",
        )),
    );
    container.insert("instanceType".into(), json!(t));
    container.insert("resourceRequirements".into(), Value::Array(resources));

    let ssh = cluster
        .mpi
        .as_ref()
        .filter(|m| m.launcher == MpiLauncher::Ssh)
        .and_then(|m| m.secret.clone());
    // The job's role: the reader of the key that is not a node's instance role (the job runs
    // in a container, with its own role); without one, a placeholder.
    let node_roles: Vec<&str> = cluster
        .node_groups
        .iter()
        .filter_map(|g| g.instance_role.as_deref())
        .collect();
    let job_role = cluster.mpi.as_ref().and_then(|m| {
        m.readers
            .iter()
            .find(|r| !node_roles.contains(&r.as_str()))
            .cloned()
    });
    let role_arn = match &job_role {
        Some(r) => ph.role_arn(
            cluster,
            r,
            "the job's role, and its execution role: trusted by ecs-tasks.amazonaws.com, with AmazonECSTaskExecutionRolePolicy and secretsmanager:GetSecretValue on the MPI key secret",
        ),
        None => ph.var(
            "EFACTL_ROLE_ARN_BATCH_JOB",
            "ARN of the job's IAM role, also its execution role: trusted by ecs-tasks.amazonaws.com, with AmazonECSTaskExecutionRolePolicy (and secretsmanager:GetSecretValue on the MPI key secret, when there is one)",
        ),
    };
    container.insert("jobRoleArn".into(), json!(role_arn));
    // The execution role is the one that fetches `secrets` for the container.
    container.insert("executionRoleArn".into(), json!(role_arn));
    if !environment.is_empty() {
        container.insert("environment".into(), Value::Array(environment));
    }
    if let Some(key) = &ssh {
        let arn = ph.secret_arn(cluster, key);
        container.insert(
            "secrets".into(),
            json!([
                { "name": "MPI_SSH_KEY_PRIVATE", "valueFrom": format!("{arn}:MPI_SSH_KEY_PRIVATE::") },
                { "name": "MPI_SSH_KEY_PUBLIC", "valueFrom": format!("{arn}:MPI_SSH_KEY_PUBLIC::") },
            ]),
        );
    }
    let devices: Vec<Value> = (0..ng.efa_count())
        .map(|i| {
            let p = format!("/dev/infiniband/uverbs{i}");
            json!({ "hostPath": p, "containerPath": p, "permissions": ["READ", "WRITE", "MKNOD"] })
        })
        .collect();
    if !devices.is_empty() {
        container.insert("linuxParameters".into(), json!({ "devices": devices }));
    }
    container.insert(
        "ulimits".into(),
        json!([
            { "name": "memlock", "softLimit": -1, "hardLimit": -1 },
            { "name": "nofile", "softLimit": bootstrap::NOFILE_LIMIT, "hardLimit": bootstrap::NOFILE_LIMIT },
        ]),
    );
    container.insert("privileged".into(), json!(false));

    json!({
        "jobDefinitionName": format!("{}-{}", cluster.name, ng.name),
        "type": "multinode",
        "nodeProperties": {
            "numNodes": ng.count,
            "mainNode": 0,
            "nodeRangeProperties": [
                { "targetNodes": "0:", "container": Value::Object(container) }
            ],
        },
        "platformCapabilities": ["EC2"],
        "propagateTags": true,
        "tags": tags(cluster),
    })
}

fn readme(cluster: &Cluster, groups: &[&NodeGroup], ph: &Placeholders, notes: &[String]) -> String {
    let mut s = format!(
        "# AWS Batch for `{}`\n\nRendered by efactl {}: a multi-node parallel job and its compute environment per compute\nnode group.\n\n| file | request |\n|---|---|\n",
        cluster.name,
        crate::VERSION
    );
    let mut files = Vec::new();
    for ng in groups {
        let base = file_name(&ng.name);
        s.push_str(&format!("| `{base}-compute-environment.json` | `aws batch create-compute-environment --cli-input-json file://{base}-compute-environment.json` |\n"));
        s.push_str(&format!("| `{base}-job-definition.json` | `aws batch register-job-definition --cli-input-json file://{base}-job-definition.json` |\n"));
        files.push(format!("{base}-compute-environment.json"));
        files.push(format!("{base}-job-definition.json"));
    }
    s.push_str("\n## Deploy\n\n1. Deploy the network, launch templates, placement groups, roles and the MPI key secret the\n   requests refer to (`efactl render --target cfn`; `efactl keys create` fills the secret),\n   then fill in the placeholders below.\n2. Create the compute environment, a job queue on it (`aws batch create-job-queue`), and\n   register the job definition.\n3. Submit with `aws batch submit-job --job-definition ... --job-queue ...`; the main node (index\n   0) runs mpirun over SSH to the others, whose addresses Batch gives in\n   `AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS` and through the job's node list.\n\nThe container must write the key from `MPI_SSH_KEY_PRIVATE` / `MPI_SSH_KEY_PUBLIC` (base64)\ninto its `~/.ssh` (0600) and start sshd on the child nodes: Batch injects the values, the image\ndecides where they go.\n\n");
    let names: Vec<&str> = files.iter().map(String::as_str).collect();
    s.push_str(&ph.readme_section(&names));
    s.push_str("\n## Notes\n\n");
    s.push_str(
        "- The launch template's user-data must be MIME multi-part for Batch to accept it.\n",
    );
    s.push_str("- NCCL in a container needs a large `/dev/shm`: add `linuxParameters.sharedMemorySize` (MiB)\n  if the image's default (64 MiB under Docker) is too small for your ranks per node.\n");
    for n in notes {
        s.push_str(&format!("- {n}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::vcpus;

    #[test]
    fn vcpus_from_the_size() {
        for (t, n) in [
            ("g5.48xlarge", 192),
            ("p5.48xlarge", 192),
            ("p4d.24xlarge", 96),
            ("c5n.18xlarge", 72),
            ("trn1.32xlarge", 128),
            ("m5.xlarge", 4),
            ("m5.large", 2),
            ("p6e-gb200.36xlarge", 144),
            ("hpc6a.48xlarge", 96),
            ("hpc6id.32xlarge", 64),
            ("hpc7a.96xlarge", 192),
            ("hpc7g.16xlarge", 64),
        ] {
            assert_eq!(vcpus(t), Some(n), "{t}");
        }
        assert_eq!(vcpus("c5n.metal"), None);
        assert_eq!(vcpus("nonsense"), None);
    }
}
