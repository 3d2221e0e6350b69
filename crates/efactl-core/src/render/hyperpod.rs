//! The `hyperpod` renderer: a SageMaker HyperPod Slurm cluster as the awsome-distributed-training
//! quickstarts set one up.
//!
//! | file | what |
//! |---|---|
//! | `hyperpod/cluster-config.json` | the `CreateCluster` request (`aws sagemaker create-cluster --cli-input-json file://cluster-config.json`): one instance group per node group, the lifecycle scripts' S3 location, the execution role, the VPC |
//! | `hyperpod/lifecycle/provisioning_parameters.json` | what the quickstart's `lifecycle_script.py` reads: Slurm controller / login / worker groups, the FSx for Lustre file system |
//! | `hyperpod/lifecycle/on_create.sh` | the `OnCreate` hook: finds this node's instance group, runs its efactl bootstrap, then the quickstart's own `on_create` |
//! | `hyperpod/lifecycle/efactl-bootstrap-<group>.sh` | the node bootstraps |
//! | `hyperpod/README.md` | how to deploy, and the placeholders |
//!
//! HyperPod reads the lifecycle scripts from one S3 prefix (`LifeCycleConfig.SourceS3Uri`), and
//! `provisioning_parameters.json` travels with them, so `lifecycle/` mirrors that prefix:
//! `s3://${EFACTL_ARTIFACT_BUCKET}/efactl/<cluster>/lifecycle/`. The execution role's ARN, the
//! subnet and security-group ids and the FSx DNS and mount names exist only after the efactl
//! stack is deployed: they are `${EFACTL_...}` placeholders, listed in the README (decided over
//! render options so that a render stays a pure function of the spec).
//!
//! HyperPod brings its own Slurm setup and placement: node groups' `maxCount`, placement groups
//! and capacity reservations do not carry over (the README says so where it matters).

use super::conventions::{comment_safe, file_name, s3_prefix, sh_quote, Placeholders};
use super::{bootstrap, Artifact, RenderError, RenderOptions};
use crate::catalog::Catalog;
use crate::model::{Capacity, Cluster, NodeGroup, NodeRole, Scheduler, StorageKind};
use serde_json::{json, Map, Value};

/// The file HyperPod runs when a node is created, inside `SourceS3Uri`.
pub const ON_CREATE: &str = "on_create.sh";
/// The quickstart's own `on_create.sh`, renamed so that efactl's hook can run first.
pub const QUICKSTART_ON_CREATE: &str = "on_create_quickstart.sh";

pub fn render(
    cluster: &Cluster,
    catalog: &Catalog,
    _opts: &RenderOptions,
) -> Result<Vec<Artifact>, RenderError> {
    if cluster.scheduler != Scheduler::Slurm {
        return Err(RenderError::Unsupported(format!(
            "efactl renders HyperPod's Slurm flavour, and this spec's scheduler is `{}`",
            cluster.scheduler.name()
        )));
    }
    let controllers: Vec<&NodeGroup> = cluster
        .node_groups
        .iter()
        .filter(|g| g.role == NodeRole::Head)
        .collect();
    let controller = match controllers.as_slice() {
        [one] => *one,
        [] => {
            return Err(RenderError::Unsupported(
                "HyperPod's Slurm needs a controller instance group: add a node group with `role: head`".into(),
            ))
        }
        _ => {
            return Err(RenderError::Unsupported(format!(
                "HyperPod's Slurm has one controller group, and the spec has {} node groups with `role: head`",
                controllers.len()
            )))
        }
    };
    let logins: Vec<&NodeGroup> = cluster
        .node_groups
        .iter()
        .filter(|g| g.role == NodeRole::Login)
        .collect();
    if logins.len() > 1 {
        return Err(RenderError::Unsupported(
            "the HyperPod quickstart's lifecycle scripts know one login group".into(),
        ));
    }
    let workers: Vec<&NodeGroup> = cluster
        .node_groups
        .iter()
        .filter(|g| g.role == NodeRole::Compute)
        .collect();
    if workers.is_empty() {
        return Err(RenderError::Unsupported(
            "HyperPod needs at least one worker (compute) node group".into(),
        ));
    }
    for ng in &cluster.node_groups {
        if ng.instance_types.len() > 1 {
            return Err(RenderError::Unsupported(format!(
                "node group `{}` mixes instance types, and a HyperPod instance group has one",
                ng.name
            )));
        }
        if !valid_group_name(&ng.name) {
            return Err(RenderError::Unsupported(format!(
                "node group `{}` cannot be a HyperPod instance group name (letters, digits and hyphens, up to 63)",
                ng.name
            )));
        }
    }

    let mut ph = Placeholders::default();
    let bucket = ph.bucket();
    let source = format!("s3://{bucket}/{}/lifecycle/", s3_prefix(cluster));

    let mut groups = Vec::new();
    for ng in &cluster.node_groups {
        let role_key = ng
            .instance_role
            .clone()
            .unwrap_or_else(|| crate::resolve::NODE_ROLE.to_string());
        let role = ph.role_arn(
            cluster,
            &role_key,
            "the HyperPod execution role: trusted by sagemaker.amazonaws.com, with AmazonSageMakerClusterInstanceRolePolicy, read access to the lifecycle prefix and secretsmanager:GetSecretValue on the MPI key secret",
        );
        groups.push(json!({
            "InstanceGroupName": ng.name,
            "InstanceType": format!("ml.{}", ng.instance_type()),
            "InstanceCount": ng.count,
            "LifeCycleConfig": { "SourceS3Uri": source, "OnCreate": ON_CREATE },
            "ExecutionRole": role,
            // One thread per core, as the quickstarts configure training nodes.
            "ThreadsPerCore": 1,
        }));
    }

    let mut subnets: Vec<String> = Vec::new();
    let mut sgs: Vec<String> = Vec::new();
    for ng in &cluster.node_groups {
        for s in &ng.subnets {
            let id = ph.subnet(cluster, s);
            if !subnets.contains(&id) {
                subnets.push(id);
            }
        }
        for g in ng.all_security_groups() {
            let id = ph.security_group(cluster, g);
            if !sgs.contains(&id) {
                sgs.push(id);
            }
        }
    }

    let mut req = Map::new();
    req.insert("ClusterName".into(), json!(cluster.name));
    req.insert("InstanceGroups".into(), Value::Array(groups));
    req.insert(
        "VpcConfig".into(),
        json!({ "SecurityGroupIds": sgs, "Subnets": subnets }),
    );
    // A node that fails its health checks is replaced, not left in the cluster.
    req.insert("NodeRecovery".into(), json!("Automatic"));
    let mut tags: Vec<Value> = cluster
        .tags
        .iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    tags.push(json!({ "Key": "efactl:cluster", "Value": cluster.name }));
    req.insert("Tags".into(), Value::Array(tags));

    // provisioning_parameters.json: the quickstart's keys.
    let mut pp = Map::new();
    pp.insert("version".into(), json!("1.0.0"));
    pp.insert("workload_manager".into(), json!("slurm"));
    pp.insert("controller_group".into(), json!(controller.name));
    if let Some(l) = logins.first() {
        pp.insert("login_group".into(), json!(l.name));
    }
    pp.insert(
        "worker_groups".into(),
        json!(workers
            .iter()
            .map(|w| json!({ "instance_group_name": w.name, "partition_name": w.name }))
            .collect::<Vec<_>>()),
    );
    let fsx = cluster
        .file_systems
        .iter()
        .find(|f| f.kind == StorageKind::FsxLustre);
    if let Some(fs) = fsx {
        let which = fs
            .id
            .clone()
            .unwrap_or_else(|| format!("file system `{}` the efactl stack creates", fs.key));
        pp.insert(
            "fsx_dns_name".into(),
            json!(ph.var(
                "EFACTL_FSX_DNS_NAME",
                format!("DNSName of the FSx for Lustre {which} (`aws fsx describe-file-systems`; a stack output)")
            )),
        );
        pp.insert(
            "fsx_mountname".into(),
            json!(ph.var(
                "EFACTL_FSX_MOUNT_NAME",
                format!(
                    "LustreConfiguration.MountName of the FSx for Lustre {which} (a stack output)"
                )
            )),
        );
    }

    let mut out = vec![Artifact::file(
        "hyperpod/cluster-config.json",
        pretty(&Value::Object(req)),
    )];
    out.push(Artifact::file(
        "hyperpod/lifecycle/provisioning_parameters.json",
        pretty(&Value::Object(pp)),
    ));
    out.push(Artifact::script(
        format!("hyperpod/lifecycle/{ON_CREATE}"),
        hook(cluster),
    ));
    for ng in &cluster.node_groups {
        out.push(Artifact::script(
            format!("hyperpod/lifecycle/{}", bootstrap_name(ng)),
            bootstrap::script(cluster, catalog, ng),
        ));
    }
    out.push(Artifact::file(
        "hyperpod/README.md",
        readme(cluster, &ph, &source),
    ));
    Ok(out)
}

/// The bootstrap's file name inside the lifecycle prefix.
pub fn bootstrap_name(ng: &NodeGroup) -> String {
    format!("efactl-bootstrap-{}.sh", file_name(&ng.name))
}

/// HyperPod instance group names: `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$` (the SageMaker API).
fn valid_group_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("JSON");
    s.push('\n');
    s
}

/// The `OnCreate` hook: HyperPod runs it as root, from the downloaded lifecycle prefix, on every
/// new node; /opt/ml/config/resource_config.json says which instance group holds which address.
fn hook(cluster: &Cluster) -> String {
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "# efactl HyperPod lifecycle hook for cluster `{}` (rendered by efactl {}).\n",
        comment_safe(&cluster.name),
        crate::VERSION
    ));
    s.push_str(&format!(
        "# HyperPod runs it (OnCreate) on every new node. It runs the efactl bootstrap of the node's\n\
         # instance group first, so that a node with a broken fabric fails here, visibly, and HyperPod\n\
         # does not add it to the cluster; then the quickstart's own lifecycle scripts (its\n\
         # on_create.sh, renamed {QUICKSTART_ON_CREATE}), which set up Slurm, users and FSx.\n"
    ));
    s.push_str(
        r#"set -euo pipefail
cd "$(dirname "$0")"

# As the quickstart's on_create.sh does: HyperPod's agent restarts systemd-resolved early on,
# and the bootstrap may call AWS APIs (Secrets Manager, S3).
sleep 30

RESOURCE_CONFIG=${SAGEMAKER_RESOURCE_CONFIG_PATH:-/opt/ml/config/resource_config.json}
[[ -f $RESOURCE_CONFIG ]] || { echo "efactl: $RESOURCE_CONFIG is missing: not a HyperPod node?" >&2; exit 1; }

# This node's instance group: the one listing this node's address, found the way the
# quickstart's lifecycle_script.py finds it.
group=$(python3 - "$RESOURCE_CONFIG" <<'EOF'
import json, socket, sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.connect(("10.254.254.254", 1))  # no packet is sent: this only picks the source address
    ip = s.getsockname()[0]
finally:
    s.close()
with open(sys.argv[1]) as f:
    config = json.load(f)
for group in config.get("InstanceGroups", []):
    for instance in group.get("Instances", []):
        if instance.get("CustomerIpAddress") == ip:
            print(group["Name"])
            sys.exit(0)
sys.exit("efactl: address %s is in no instance group of %s" % (ip, sys.argv[1]))
EOF
)

case "$group" in
"#,
    );
    for ng in &cluster.node_groups {
        s.push_str(&format!(
            "  {})\n    bash ./{}\n    ;;\n",
            sh_quote(&ng.name),
            bootstrap_name(ng)
        ));
    }
    s.push_str(
        r#"  *)
    echo "efactl: no bootstrap for instance group $group" >&2
    exit 1
    ;;
esac

if [[ -f ./on_create_quickstart.sh ]]; then
  exec bash ./on_create_quickstart.sh
fi
echo "efactl: WARNING: no on_create_quickstart.sh next to this hook: Slurm is not set up (see README.md)" >&2
"#,
    );
    s
}

fn readme(cluster: &Cluster, ph: &Placeholders, source: &str) -> String {
    let mut s = format!(
        "# SageMaker HyperPod cluster `{}`\n\nRendered by efactl {}, for a Slurm cluster set up with the lifecycle scripts of\nawsome-distributed-training (`1.architectures/5.sagemaker-hyperpod/LifecycleScripts/base-config`).\n\n| file | what |\n|---|---|\n| `cluster-config.json` | the `CreateCluster` request |\n| `lifecycle/provisioning_parameters.json` | Slurm groups and FSx for the quickstart's `lifecycle_script.py` |\n| `lifecycle/{ON_CREATE}` | the `OnCreate` hook: the node's efactl bootstrap, then the quickstart's scripts |\n",
        cluster.name,
        crate::VERSION
    );
    for ng in &cluster.node_groups {
        s.push_str(&format!(
            "| `lifecycle/{}` | the bootstrap of instance group `{}` |\n",
            bootstrap_name(ng),
            ng.name
        ));
    }
    s.push_str(&format!(
        "\n## Deploy\n\n1. Deploy the VPC, security groups, execution role and FSx the request refers to\n   (`efactl render --target cfn`, or your own), then fill in the placeholders below, in\n   `cluster-config.json` and in `lifecycle/provisioning_parameters.json`.\n2. Copy the quickstart's `base-config` files into `lifecycle/`, renaming its `on_create.sh` to\n   `{QUICKSTART_ON_CREATE}` (efactl's `{ON_CREATE}` runs it after the bootstrap), then upload:\n\n   ```sh\n   aws s3 sync lifecycle/ \"{source}\"\n   ```\n\n3. `aws sagemaker create-cluster --cli-input-json file://cluster-config.json --region {}`\n\nA node whose bootstrap fails (too few EFA devices, say) fails its lifecycle script, and\nHyperPod reports it instead of adding it. Each node's outcome is in\n`/var/lib/efactl/bootstrap-status.json`; the hook's output is in CloudWatch Logs\n(`/aws/sagemaker/Clusters/{}/...`).\n\n",
        cluster.region, cluster.name
    ));
    s.push_str(&ph.readme_section(&[
        "cluster-config.json",
        "lifecycle/provisioning_parameters.json",
    ]));
    s.push_str("\n## Notes\n\n");
    s.push_str(
        "- `ThreadsPerCore` is 1, as the quickstarts set it: one rank thread per physical core.\n",
    );
    s.push_str("- HyperPod instance groups have a fixed `InstanceCount` (the node group's `count`);\n  `maxCount` does not carry over.\n");
    if cluster
        .node_groups
        .iter()
        .any(|g| g.placement_group.is_some())
    {
        s.push_str("- HyperPod places the instances of a group itself: the spec's placement groups do not carry\n  over.\n");
    }
    if cluster.node_groups.iter().any(|g| {
        matches!(
            g.capacity,
            Capacity::Reservation { .. } | Capacity::CapacityBlock { .. }
        )
    }) {
        s.push_str("- HyperPod uses reserved capacity through SageMaker training plans (`TrainingPlanArn` on an\n  instance group), not EC2 capacity reservations: the spec's reservation does not carry over.\n");
    }
    if let Some(fs) = cluster
        .file_systems
        .iter()
        .find(|f| f.kind == StorageKind::FsxLustre)
    {
        if fs.mount_path != "/fsx" {
            s.push_str(&format!(
                "- The quickstart mounts FSx for Lustre at /fsx, not at the spec's `{}`.\n",
                fs.mount_path
            ));
        }
    }
    s
}
