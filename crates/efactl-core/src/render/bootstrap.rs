//! The `bootstrap` renderer: the script a node of one node group runs when it boots.
//!
//! The same script is the user-data of the group's launch template (`cfn`), the
//! `OnNodeConfigured` custom action of its ParallelCluster queue (`pcluster`) and what the
//! HyperPod lifecycle hook runs (`hyperpod`). It is written for Amazon Linux 2023 and Ubuntu
//! 22.04 (bash, coreutils, util-linux, python3), and does, in order, only what the node group
//! needs:
//!
//! | step | what | why |
//! |---|---|---|
//! | `efa-software` | use the EFA software the AMI has (`/opt/amazon/efa/bin/fi_info`), or install the pinned, checksum-verified installer (from S3 when the subnet has no internet) | libfabric, the kernel driver and aws-ofi-nccl |
//! | `efa-devices` | `fi_info -p efa -t FI_EP_RDM` lists as many EFA devices as the launch template attaches | a missing EFA halves bandwidth silently |
//! | `ptrace` | `kernel.yama.ptrace_scope = 0` in /etc/sysctl.d | libfabric's shared-memory path needs Cross Memory Attach (efa-facts.md §8) |
//! | `hugepages` | `vm.nr_hugepages` at least 5128 | what EFA nodes pre-allocate (efa-facts.md §8) |
//! | `limits` | memlock unlimited, nofile 65536 in /etc/security/limits.d | EFA pins the memory it registers |
//! | `nccl-env` | /etc/profile.d/efactl-nccl.sh | the spec's `nccl.env`, minus what rule EFA029 calls obsolete |
//! | `ssh-keys` | the MPI key pair from Secrets Manager into the cluster user's ~/.ssh | mpirun starts remote ranks over SSH |
//!
//! Every step checks before it changes anything, so a second run changes nothing. The result
//! of every step lands in `/var/lib/efactl/bootstrap-status.json` (docs/bootstrap.md), which
//! `efactl doctor` and `efactl status` read. Every path the script writes is under
//! `$EFACTL_ROOT` (default `/`), which is how the test suite runs it against a scratch directory.

use super::conventions::{comment_safe, file_name, sh_quote};
use super::{Artifact, RenderError, RenderOptions};
use crate::catalog::Catalog;
use crate::model::{Cluster, Internet, MpiLauncher, NodeGroup, NodeRole};
use crate::net::Cidr;
use crate::rules::access::nccl_env_obsolete::{judge, parse_version, Facts};
use std::net::IpAddr;

/// The EFA installer version a node installs when its AMI has no EFA software, and the SHA-256
/// of `aws-efa-installer-<version>.tar.gz`. They MUST be updated together: AWS publishes every
/// release's checksum in the EC2 User Guide, "Verify the EFA installer using a checksum"
/// (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-verify.html). This pair is the one
/// AWS ParallelCluster pins in aws-parallelcluster-cookbook
/// `cookbooks/aws-parallelcluster-environment/attributes/environment.rb` (PR #2953, "Upgrade EFA
/// installer to 1.41.0": libfabric-aws 2.1.0, efa driver 2.15.0, rdma-core 57.0). A spec can
/// name another version with its checksum (`efaInstaller:`, docs/spec.md).
pub const EFA_INSTALLER_VERSION: &str = "1.41.0";
/// See [`EFA_INSTALLER_VERSION`].
pub const EFA_INSTALLER_SHA256: &str =
    "3506354cdfbe31ff552fe75f5d0d9bb7efd29cf79bd99457347d29c751c38f9f";

/// 2 MiB huge pages an EFA node reserves: "Amazon EC2 instances with the EFA driver installed
/// pre-allocate 5128 2MiB Huge Pages" (EKS user guide, node-efa; efa-facts.md §8).
pub const EFA_HUGEPAGES: u32 = 5128;

/// Open files per process: NCCL and PyTorch data loaders open many sockets and files; the EFA
/// installer's own limits file stops at 8192 (efa-facts.md §8).
pub const NOFILE_LIMIT: u32 = 65536;

/// Where the script writes its machine-readable result (under `$EFACTL_ROOT`).
pub const STATUS_FILE: &str = "/var/lib/efactl/bootstrap-status.json";
/// Where the script logs (under `$EFACTL_ROOT`), besides the console.
pub const LOG_FILE: &str = "/var/log/efactl-bootstrap.log";
/// The NCCL / libfabric environment file.
pub const PROFILE_FILE: &str = "/etc/profile.d/efactl-nccl.sh";
/// Private key file name in the cluster user's ~/.ssh.
pub const SSH_KEY_NAME: &str = "efactl_mpi";

pub fn render(
    cluster: &Cluster,
    catalog: &Catalog,
    _opts: &RenderOptions,
) -> Result<Vec<Artifact>, RenderError> {
    if cluster.node_groups.is_empty() {
        return Err(RenderError::Unsupported(
            "the spec has no node groups to bootstrap".into(),
        ));
    }
    Ok(cluster
        .node_groups
        .iter()
        .map(|ng| Artifact::script(path(ng), script(cluster, catalog, ng)))
        .collect())
}

/// `bootstrap/<node-group>.sh`: where `render` puts a node group's script.
pub fn path(ng: &NodeGroup) -> String {
    format!("bootstrap/{}.sh", file_name(&ng.name))
}

/// What one node group's script does, decided from the model.
struct Plan<'a> {
    cluster: &'a Cluster,
    ng: &'a NodeGroup,
    efa: usize,
    ptrace: bool,
    secret: Option<String>,
    ssh_skip: Option<String>,
}

impl<'a> Plan<'a> {
    fn new(cluster: &'a Cluster, ng: &'a NodeGroup) -> Plan<'a> {
        let efa = ng.efa_count();
        let (secret, ssh_skip) = match &cluster.mpi {
            Some(m) if m.launcher == MpiLauncher::Ssh => match &m.secret {
                Some(key) => {
                    let id = cluster
                        .secret(key)
                        .map(|s| s.arn.clone().unwrap_or_else(|| s.name.clone()))
                        .unwrap_or_else(|| key.clone());
                    (Some(id), None)
                }
                None => (
                    None,
                    Some("mpi.launcher is ssh but the spec names no SSH key secret".into()),
                ),
            },
            Some(_) => (
                None,
                Some(
                    "ranks are started by the scheduler (mpi.launcher: pmix), not over SSH".into(),
                ),
            ),
            None => (None, Some("the spec has no mpi section".into())),
        };
        Plan {
            cluster,
            ng,
            efa,
            // Compute nodes run the ranks whose shared-memory transport needs it; a head or login
            // node without EFA does not, and keeps the distribution's protection.
            ptrace: efa > 0 || ng.role == NodeRole::Compute,
            secret,
            ssh_skip,
        }
    }

    fn internet(&self) -> &'static str {
        match self
            .ng
            .subnets
            .first()
            .and_then(|s| self.cluster.subnet(s))
            .map(|s| s.internet)
        {
            Some(Internet::None) => "none",
            Some(Internet::Nat) => "nat",
            Some(Internet::Public) => "public",
            None => "unknown",
        }
    }
}

/// The user-data script of one node group: embedded in its launch template by the `cfn`
/// renderer and run by the other targets' lifecycle hooks.
pub fn script(cluster: &Cluster, catalog: &Catalog, ng: &NodeGroup) -> String {
    let plan = Plan::new(cluster, ng);
    let t = ng.instance_type();
    let installer = cluster.settings.efa_installer.clone().unwrap_or_default();
    let (version, sha256) = match (&installer.version, &installer.sha256) {
        (Some(v), Some(s)) => (v.clone(), s.clone()),
        _ => (EFA_INSTALLER_VERSION.into(), EFA_INSTALLER_SHA256.into()),
    };
    let mut s = String::with_capacity(24 * 1024);

    // Header: what, for whom, and the house rules of this file.
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "# efactl node bootstrap: cluster `{}`, node group `{}` ({}, {} node(s), {}).\n",
        comment_safe(&cluster.name),
        comment_safe(&ng.name),
        comment_safe(&ng.instance_types.join(", ")),
        ng.count,
        match plan.efa {
            0 => "no EFA".to_string(),
            1 => "1 EFA interface".to_string(),
            n => format!("{n} EFA interfaces"),
        }
    ));
    s.push_str(&format!(
        "# Rendered by efactl {} from the cluster spec: change the spec and render again rather than\n# editing this file.\n",
        crate::VERSION
    ));
    s.push_str(
        "#\n\
         # It is idempotent: every step looks before it changes anything, so running it again (a\n\
         # reboot, a retried lifecycle hook) changes nothing. The outcome of each step is written to\n\
         # /var/lib/efactl/bootstrap-status.json for `efactl doctor` and `efactl status`; the log\n\
         # goes to /var/log/efactl-bootstrap.log and the console.\n\
         #\n\
         # Never add `set -x` here: the script handles the MPI private key, which must not reach a\n\
         # log.\n",
    );
    s.push_str("set -euo pipefail\nset -E\numask 022\n\n");

    // Configuration: everything the model decided, as shell variables.
    s.push_str("# ---- this node group, as the spec resolved it ----\n");
    let var = |s: &mut String, name: &str, value: &str, why: &str| {
        if !why.is_empty() {
            s.push_str(&format!("# {}\n", comment_safe(why)));
        }
        s.push_str(&format!("{name}={}\n", sh_quote(value)));
    };
    var(&mut s, "EFACTL_VERSION", crate::VERSION, "");
    var(&mut s, "CLUSTER", &cluster.name, "");
    var(&mut s, "NODE_GROUP", &ng.name, "");
    var(&mut s, "INSTANCE_TYPE", t, "");
    if plan.efa > 0 || plan.secret.is_some() {
        var(
            &mut s,
            "REGION",
            &cluster.region,
            "AWS CLI calls name the region: user-data runs with no AWS configuration.",
        );
    }
    let efa_why = match catalog.get(t).and_then(|c| c.max_efa_interfaces) {
        Some(max) if plan.efa > 0 => format!(
            "EFA devices fi_info must list: the interfaces of type efa / efa-only in this group's layout ({t} supports {max})."
        ),
        _ => "EFA devices fi_info must list: the interfaces of type efa / efa-only in this group's layout.".into(),
    };
    s.push_str(&format!(
        "# {}\nEFA_EXPECTED={}\n",
        comment_safe(&efa_why),
        plan.efa
    ));
    if plan.efa > 0 {
        var(&mut s, "EFA_INSTALLER_VERSION", &version, "The EFA installer used only when the AMI has no EFA software, verified against its SHA-256 before it runs.");
        var(&mut s, "EFA_INSTALLER_SHA256", &sha256, "");
        var(
            &mut s,
            "EFA_INSTALLER_S3_URI",
            installer.s3_uri.as_deref().unwrap_or(""),
            "A copy of the installer in S3 (efaInstaller.s3Uri); empty: download it from efa-installer.amazonaws.com.",
        );
        var(
            &mut s,
            "SUBNET_INTERNET",
            plan.internet(),
            "How the node's subnet reaches the internet: public, nat or none.",
        );
        s.push_str(&format!(
            "# What EFA nodes pre-allocate (efa-facts.md §8); never lowered.\nHUGEPAGES={EFA_HUGEPAGES}\n"
        ));
    }
    if let Some(secret) = &plan.secret {
        var(
            &mut s,
            "MPI_SECRET_ID",
            secret,
            "The Secrets Manager secret with the MPI key pair (JSON: MPI_SSH_KEY_PRIVATE, MPI_SSH_KEY_PUBLIC, base64).",
        );
        var(
            &mut s,
            "SSH_KEY",
            SSH_KEY_NAME,
            "The key's file in ~/.ssh: its own name, so the user's own id_* keys stay untouched.",
        );
    }
    s.push('\n');

    // The library: only the parts this node group uses.
    s.push_str(LIB_COMMON);
    if plan.efa > 0 {
        s.push_str(LIB_EFA);
        s.push_str(LIB_HUGEPAGES);
    }
    if plan.ptrace {
        s.push_str(LIB_PTRACE);
    }
    s.push_str(LIB_LIMITS);
    s.push_str(&nccl_profile(cluster, catalog, ng));
    s.push_str(LIB_NCCL);
    if plan.secret.is_some() {
        s.push_str(&ssh_config_block(cluster));
        s.push_str(LIB_SSH);
    }

    // main: the steps in order; the ones that do not apply are recorded as skipped, with why.
    s.push_str("\n# ---- the steps ----\nmain() {\n");
    s.push_str("  log \"efactl $EFACTL_VERSION bootstrap: cluster $CLUSTER, node group $NODE_GROUP, $INSTANCE_TYPE\"\n");
    let mut steps: Vec<(&str, Result<&str, String>)> = Vec::new();
    if plan.efa > 0 {
        steps.push(("efa-software", Ok("step_efa_software")));
        steps.push(("efa-devices", Ok("step_efa_devices")));
    } else {
        let why = "this node group has no EFA interfaces".to_string();
        steps.push(("efa-software", Err(why.clone())));
        steps.push(("efa-devices", Err(why)));
    }
    if plan.ptrace {
        steps.push(("ptrace", Ok("step_ptrace")));
    } else {
        steps.push((
            "ptrace",
            Err(format!(
                "a {} node without EFA runs no ranks: Yama's ptrace protection stays",
                ng.role.name()
            )),
        ));
    }
    if plan.efa > 0 {
        steps.push(("hugepages", Ok("step_hugepages")));
    } else {
        steps.push((
            "hugepages",
            Err("this node group has no EFA interfaces".into()),
        ));
    }
    steps.push(("limits", Ok("step_limits")));
    steps.push(("nccl-env", Ok("step_nccl_env")));
    match (&plan.secret, &plan.ssh_skip) {
        (Some(_), _) => steps.push(("ssh-keys", Ok("step_ssh_keys"))),
        (None, Some(why)) => steps.push(("ssh-keys", Err(why.clone()))),
        (None, None) => {}
    }
    for (name, what) in &steps {
        match what {
            Ok(_) => s.push_str(&format!("  plan {name}\n")),
            Err(why) => s.push_str(&format!("  skip {name} {}\n", sh_quote(why))),
        }
    }
    for (name, what) in &steps {
        if let Ok(f) = what {
            s.push_str(&format!("  begin {name}\n  {f}\n  finish\n"));
        }
    }
    s.push_str("}\n\nmain \"$@\"\n");
    s
}

/// (name, value) pairs, or (name, why it was left out).
pub type NameValues = Vec<(String, String)>;

/// The NCCL / libfabric environment efactl writes for the cluster: the spec's `nccl.env`, minus
/// every variable rule EFA029 would report (efactl never writes what it warns about) and names
/// or values a shell or a container runtime cannot carry. Returns (exported, skipped with why).
pub fn nccl_env(cluster: &Cluster) -> (NameValues, NameValues) {
    let facts = Facts {
        plugin: cluster
            .nccl
            .aws_ofi_nccl_version
            .as_deref()
            .and_then(parse_version),
        libfabric: cluster
            .nccl
            .libfabric_version
            .as_deref()
            .and_then(parse_version),
        efa: cluster.node_groups.iter().any(NodeGroup::uses_efa),
    };
    let mut exported = Vec::new();
    let mut skipped = Vec::new();
    for (name, (value, _)) in &cluster.nccl.env {
        if !valid_env_name(name) {
            skipped.push((name.clone(), "not a valid environment variable name".into()));
        } else if value.chars().any(char::is_control) {
            skipped.push((name.clone(), "its value has a control character".into()));
        } else if let Some((message, _)) = judge(name, value, &facts) {
            skipped.push((name.clone(), format!("rule EFA029: {message}")));
        } else {
            exported.push((name.clone(), value.clone()));
        }
    }
    (exported, skipped)
}

/// The NCCL / libfabric environment file, as a shell function that prints it.
fn nccl_profile(cluster: &Cluster, catalog: &Catalog, ng: &NodeGroup) -> String {
    let mut body = String::new();
    body.push_str(&format!(
        "# efactl: the NCCL / libfabric environment of cluster `{}`, node group `{}` ({}).\n",
        comment_safe(&cluster.name),
        comment_safe(&ng.name),
        comment_safe(ng.instance_type())
    ));
    body.push_str(
        "# Written by the efactl bootstrap from the spec's `nccl.env`; rewritten on every run.\n",
    );
    match catalog
        .get(ng.instance_type())
        .and_then(|t| t.aws_ofi_nccl_platform.clone())
    {
        Some(platform) => body.push_str(&format!(
            "# Nothing is added for {}: aws-ofi-nccl selects the efa provider and sets its platform\n# settings for it ({}) by itself (efa-facts.md §4.1).\n",
            comment_safe(ng.instance_type()),
            comment_safe(&platform)
        )),
        None => body.push_str(
            "# Nothing is added for this instance type: aws-ofi-nccl selects the efa provider itself,\n# and libfabric's defaults suit MPI (efa-facts.md §4.1).\n",
        ),
    }
    let (exported, skipped) = nccl_env(cluster);
    for (name, why) in &skipped {
        body.push_str(&format!(
            "# skipped {}: {}\n",
            comment_safe(name),
            comment_safe(why)
        ));
    }
    for (name, value) in &exported {
        body.push_str(&format!("export {name}={}\n", sh_quote(value)));
    }
    if exported.is_empty() {
        body.push_str("# The spec sets no variables.\n");
    }
    format!("nccl_profile() {{\n  cat <<'EFACTL_PROFILE'\n{body}EFACTL_PROFILE\n}}\n")
}

fn valid_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The subnets the cluster's nodes live in (IPv4 CIDRs, deduplicated, in spec order).
fn cluster_cidrs(cluster: &Cluster) -> (Vec<Cidr>, Vec<String>) {
    let mut cidrs: Vec<Cidr> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for ng in &cluster.node_groups {
        for key in &ng.subnets {
            match cluster.subnet(key).and_then(|s| s.cidr) {
                Some(c) if c.addr.is_ipv4() => {
                    if !cidrs.contains(&c) {
                        cidrs.push(c);
                    }
                }
                _ => {
                    if !unknown.contains(key) {
                        unknown.push(key.clone());
                    }
                }
            }
        }
    }
    (cidrs, unknown)
}

/// The ssh_config block for MPI between the nodes, as a shell function that prints it.
fn ssh_config_block(cluster: &Cluster) -> String {
    let (cidrs, unknown) = cluster_cidrs(cluster);
    let mut b = String::new();
    b.push_str(&format!(
        "# BEGIN efactl (cluster {}): rewritten by the efactl bootstrap; edit outside this block\n",
        comment_safe(&cluster.name)
    ));
    b.push_str(
        "# mpirun starts remote ranks over SSH with the cluster's shared key. Host keys are not\n",
    );
    b.push_str(
        "# checked ONLY for addresses in the cluster's own subnets: nodes are replaced and\n",
    );
    b.push_str(
        "# rescaled with new host keys, and these addresses are the cluster's private network.\n",
    );
    if !unknown.is_empty() {
        b.push_str(&format!(
            "# Subnet(s) {} have no CIDR in the spec: hosts there keep normal host-key checks.\n",
            comment_safe(&unknown.join(", "))
        ));
    }
    let mut patterns = Vec::new();
    for c in &cidrs {
        b.push_str(&format!(
            "# {c}: by address and by EC2 hostname (ip-a-b-c-d)\n"
        ));
        patterns.extend(ssh_patterns(c));
    }
    if patterns.is_empty() {
        // Never `Host *`: without a CIDR there is no safe set of hosts to configure.
        b.push_str(&format!(
            "# No subnet CIDR is known: nothing is configured; pass `-i ~/.ssh/{SSH_KEY_NAME}` to ssh.\n"
        ));
    } else {
        b.push_str(&format!("Host {}\n", patterns.join(" ")));
        b.push_str(&format!("    IdentityFile ~/.ssh/{SSH_KEY_NAME}\n"));
        b.push_str("    IdentitiesOnly yes\n");
        b.push_str("    StrictHostKeyChecking no\n");
        b.push_str("    UserKnownHostsFile /dev/null\n");
        b.push_str("    LogLevel ERROR\n");
    }
    b.push_str("# END efactl\n");
    format!("ssh_config_block() {{\n  cat <<'EFACTL_SSH'\n{b}EFACTL_SSH\n}}\n")
}

/// ssh_config `Host` patterns that match exactly the addresses of an IPv4 CIDR, written both as
/// dotted addresses (`10.0.16.*`) and as EC2 hostnames (`ip-10-0-16-*`, with or without a
/// domain). OpenSSH patterns know only `*` and `?`, so a block that does not end on an octet
/// boundary is spelled out digit by digit: 10.0.16.0/20 is `10.0.1[6-9].*` and `10.0.2?.*` and
/// `10.0.3[01].*`, each digit listed.
pub fn ssh_patterns(cidr: &Cidr) -> Vec<String> {
    let IpAddr::V4(addr) = cidr.addr else {
        return Vec::new();
    };
    let prefix = u32::from(cidr.prefix.min(32));
    if prefix == 0 {
        // The whole address space would be `Host *`: never.
        return Vec::new();
    }
    let o = addr.octets();
    // Octets entirely inside the network part stay literal; the one the prefix ends in is a
    // range; the ones after it are wildcards.
    let full = (prefix / 8) as usize;
    let rem = prefix % 8;
    let mut heads: Vec<Vec<String>> = vec![Vec::new()];
    let fixed: Vec<String> = o[..full.min(4)].iter().map(|x| x.to_string()).collect();
    let mut wild = 4 - full.min(4);
    if full < 4 && rem > 0 {
        let span = 1u32 << (8 - rem);
        let lo = u32::from(o[full]) & !(span - 1);
        let hi = lo + span - 1;
        heads = octet_patterns(lo, hi)
            .into_iter()
            .map(|p| vec![p])
            .collect();
        wild -= 1;
    }
    let mut out = Vec::new();
    for form in [".", "-"] {
        for h in &heads {
            let mut parts: Vec<String> = fixed.clone();
            parts.extend(h.iter().cloned());
            let lead = if form == "-" { "ip-" } else { "" };
            if wild > 0 {
                out.push(format!("{lead}{}{form}*", parts.join(form)));
            } else {
                let p = format!("{lead}{}", parts.join(form));
                out.push(p.clone());
                if form == "-" {
                    // ip-10-0-0-65.ec2.internal
                    out.push(format!("{p}.*"));
                }
            }
        }
    }
    out
}

/// Glob patterns (`?` = one digit) matching exactly the decimal spellings of lo..=hi (0..=255,
/// no leading zeros).
fn octet_patterns(lo: u32, hi: u32) -> Vec<String> {
    let mut out = Vec::new();
    for (min, max, width) in [(0u32, 9u32, 1u32), (10, 99, 2), (100, 255, 3)] {
        let a = lo.max(min);
        let b = hi.min(max);
        if a > b {
            continue;
        }
        if a == min && b == max && width < 3 {
            out.push("?".repeat(width as usize));
        } else {
            out.extend(digit_patterns(a, b, width));
        }
    }
    out
}

/// Patterns of exactly `width` digits (inner digits may be 0) for lo..=hi.
fn digit_patterns(lo: u32, hi: u32, width: u32) -> Vec<String> {
    if width == 0 {
        return vec![String::new()];
    }
    let p = 10u32.pow(width - 1);
    if lo == 0 && hi == p * 10 - 1 {
        return vec!["?".repeat(width as usize)];
    }
    let (lf, hf) = (lo / p, hi / p);
    if lf == hf {
        return digit_patterns(lo % p, hi % p, width - 1)
            .into_iter()
            .map(|s| format!("{lf}{s}"))
            .collect();
    }
    let mut out = Vec::new();
    let mut first = lf;
    if lo % p != 0 {
        out.extend(
            digit_patterns(lo % p, p - 1, width - 1)
                .into_iter()
                .map(|s| format!("{lf}{s}")),
        );
        first += 1;
    }
    let mut last = hf;
    let mut tail = Vec::new();
    if hi % p != p - 1 {
        tail = digit_patterns(0, hi % p, width - 1)
            .into_iter()
            .map(|s| format!("{hf}{s}"))
            .collect();
        last -= 1;
    }
    for d in first..=last {
        out.push(format!("{d}{}", "?".repeat((width - 1) as usize)));
    }
    out.extend(tail);
    out
}

/// Logging, the step bookkeeping, the status file and idempotent file writes.
const LIB_COMMON: &str = r##"# ---- efactl bootstrap library ----

# Every path the script writes lives under EFACTL_ROOT (default /): the test suite runs it
# against a scratch directory with stub commands on PATH, never against the real system.
ROOT=${EFACTL_ROOT:-/}
ROOT=${ROOT%/}
LOG_FILE=$ROOT/var/log/efactl-bootstrap.log
STATE_DIR=$ROOT/var/lib/efactl
STATUS_FILE=$STATE_DIR/bootstrap-status.json
CONSOLE=${EFACTL_CONSOLE:-/dev/console}

mkdir -p "$ROOT/var/log" "$STATE_DIR"
# The log goes to a file, to the serial console (`aws ec2 get-console-output`) and to stdout,
# which cloud-init, ParallelCluster and HyperPod each keep in their own logs.
if [[ -w $CONSOLE ]]; then
  exec > >(tee -a "$LOG_FILE" "$CONSOLE") 2>&1
else
  exec > >(tee -a "$LOG_FILE") 2>&1
fi

log() {
  printf '%s efactl-bootstrap: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"
}

# One run at a time: cloud-init and a lifecycle hook (or a person) may start it together.
exec 9>>"$STATE_DIR/bootstrap.lock"
if ! flock -w 900 9; then
  log "ERROR: another efactl bootstrap holds $STATE_DIR/bootstrap.lock"
  exit 1
fi

declare -A STEP_STATUS=() STEP_DETAIL=()
STEP_ORDER=()
CURRENT_STEP=""
FAILED_STEP=""
LAST_COMMAND=""
CLEANUP=()
EFA_FOUND=""
EFA_SOFTWARE="none"
EFA_INSTALLED_VERSION=""
LIBFABRIC_VERSION=""

plan() {
  STEP_ORDER+=("$1")
  STEP_STATUS[$1]=not-run
  STEP_DETAIL[$1]=""
}

skip() {
  plan "$1"
  STEP_STATUS[$1]=skipped
  STEP_DETAIL[$1]=$2
  log "step $1: skipped: $2"
}

begin() {
  CURRENT_STEP=$1
  log "step $1"
}

finish() {
  STEP_STATUS[$CURRENT_STEP]=ok
  log "step $CURRENT_STEP: ok${STEP_DETAIL[$CURRENT_STEP]:+: ${STEP_DETAIL[$CURRENT_STEP]}}"
  CURRENT_STEP=""
}

# The detail the status file shows for the current step.
note() {
  STEP_DETAIL[$CURRENT_STEP]=$1
}

fail() {
  if [[ -n $CURRENT_STEP ]]; then
    STEP_DETAIL[$CURRENT_STEP]=$1
  fi
  log "ERROR: $1"
  exit 1
}

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/ }
  s=${s//[[:cntrl:]]/}
  printf '"%s"' "$s"
}

json_num() {
  if [[ $1 =~ ^[0-9]+$ ]]; then printf '%s' "$1"; else printf 'null'; fi
}

json_opt() {
  if [[ -n $1 ]]; then json_str "$1"; else printf 'null'; fi
}

write_status() {
  local rc=$1 result=ok first=1 name tmp
  ((rc == 0)) || result=failed
  # A temporary file beside the target (same file system, so the rename below is atomic).
  tmp=$(mktemp -p "$(dirname "$STATUS_FILE")")
  {
    printf '{\n'
    printf '  "schemaVersion": 1,\n'
    printf '  "efactlVersion": %s,\n' "$(json_str "$EFACTL_VERSION")"
    printf '  "cluster": %s,\n' "$(json_str "$CLUSTER")"
    printf '  "nodeGroup": %s,\n' "$(json_str "$NODE_GROUP")"
    printf '  "instanceType": %s,\n' "$(json_str "$INSTANCE_TYPE")"
    printf '  "result": %s,\n' "$(json_str "$result")"
    printf '  "exitCode": %s,\n' "$rc"
    printf '  "failedStep": %s,\n' "$(json_opt "$FAILED_STEP")"
    printf '  "efa": {\n'
    printf '    "expected": %s,\n' "$EFA_EXPECTED"
    printf '    "found": %s,\n' "$(json_num "$EFA_FOUND")"
    printf '    "software": %s,\n' "$(json_str "$EFA_SOFTWARE")"
    printf '    "installerVersion": %s,\n' "$(json_opt "$EFA_INSTALLED_VERSION")"
    printf '    "libfabricVersion": %s\n' "$(json_opt "$LIBFABRIC_VERSION")"
    printf '  },\n'
    printf '  "steps": ['
    for name in "${STEP_ORDER[@]}"; do
      ((first)) || printf ','
      first=0
      printf '\n    {"name": %s, "status": %s, "detail": %s}' \
        "$(json_str "$name")" "$(json_str "${STEP_STATUS[$name]}")" "$(json_str "${STEP_DETAIL[$name]}")"
    done
    printf '\n  ],\n'
    printf '  "finishedAt": %s\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '}\n'
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$STATUS_FILE"
}

on_exit() {
  local rc=$? dir
  if ((rc != 0)) && [[ -n $CURRENT_STEP ]]; then
    STEP_STATUS[$CURRENT_STEP]=failed
    if [[ -z ${STEP_DETAIL[$CURRENT_STEP]} ]]; then
      STEP_DETAIL[$CURRENT_STEP]="exit status $rc from: $LAST_COMMAND"
    fi
    FAILED_STEP=$CURRENT_STEP
  fi
  for dir in "${CLEANUP[@]}"; do
    rm -rf "$dir"
  done
  write_status "$rc" || log "ERROR: cannot write $STATUS_FILE"
  if ((rc == 0)); then
    log "done: every step ok ($STATUS_FILE)"
  else
    log "FAILED in step ${FAILED_STEP:-setup} ($STATUS_FILE)"
  fi
}
trap on_exit EXIT
trap 'LAST_COMMAND=$BASH_COMMAND' ERR

# put_file PATH MODE [OWNER] < CONTENT: installs CONTENT as PATH only when it differs, so a
# second run leaves the file (and its mtime) alone. The temporary file is created 0600, so a
# key is never readable by others, not even for a moment.
put_file() {
  local path=$1 mode=$2 owner=${3:-} tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp -p "$(dirname "$path")")
  cat >"$tmp"
  # sha256sum rather than cmp: coreutils is on every image, diffutils not on minimal ones.
  if [[ -f $path && $(sha256sum <"$tmp") == "$(sha256sum <"$path")" ]]; then
    rm -f "$tmp"
    [[ $(stat -c %a "$path") == "${mode#0}" ]] || chmod "$mode" "$path"
    [[ -z $owner ]] || chown "$owner" "$path"
    return 0
  fi
  chmod "$mode" "$tmp"
  [[ -z $owner ]] || chown "$owner" "$tmp"
  mv -f "$tmp" "$path"
  log "wrote $path"
}

# sysctl_set KEY VALUE: applies now; persistence is the caller's /etc/sysctl.d file.
sysctl_set() {
  local key=$1 want=$2 have
  if ! have=$(sysctl -n "$key" 2>/dev/null); then
    log "sysctl $key does not exist on this kernel; left alone"
    return 0
  fi
  if [[ $have != "$want" ]]; then
    sysctl -q -w "$key=$want"
  fi
}

"##;

const LIB_EFA: &str = r##"
# The EFA software's own fi_info: present when the AMI (or the installer) put it there.
FI_INFO=$ROOT/opt/amazon/efa/bin/fi_info
# The installer's web site: efactl never runs what it has not verified.
EFA_INSTALLER_BASE_URL=https://efa-installer.amazonaws.com

install_efa_software() {
  local work tarball name
  name=aws-efa-installer-$EFA_INSTALLER_VERSION.tar.gz
  work=$(mktemp -d)
  CLEANUP+=("$work")
  tarball=$work/$name
  if [[ -n $EFA_INSTALLER_S3_URI ]]; then
    command -v aws >/dev/null || fail "the AWS CLI is missing: it is needed to copy $EFA_INSTALLER_S3_URI"
    log "copying $EFA_INSTALLER_S3_URI"
    aws s3 cp --only-show-errors --region "$REGION" "$EFA_INSTALLER_S3_URI" "$tarball" ||
      fail "cannot copy $EFA_INSTALLER_S3_URI: the instance role needs s3:GetObject on it, and a subnet with no internet an S3 gateway endpoint"
  elif [[ $SUBNET_INTERNET == none ]]; then
    fail "the AMI has no EFA software ($FI_INFO) and this subnet has no route to the internet: use an AMI with the EFA software, or copy $name to S3 and name it in the spec's efaInstaller.s3Uri"
  else
    log "downloading $EFA_INSTALLER_BASE_URL/$name"
    curl -fsSL --retry 5 --retry-delay 3 --connect-timeout 10 -o "$tarball" "$EFA_INSTALLER_BASE_URL/$name" ||
      fail "cannot download $EFA_INSTALLER_BASE_URL/$name"
  fi
  if ! printf '%s  %s\n' "$EFA_INSTALLER_SHA256" "$tarball" | sha256sum -c --status; then
    fail "checksum mismatch for $name: expected SHA-256 $EFA_INSTALLER_SHA256, got $(sha256sum "$tarball" | cut -d' ' -f1); it was not run"
  fi
  tar -xzf "$tarball" -C "$work"
  log "running efa_installer.sh -y: EFA kernel driver, rdma-core, libfabric, Open MPI, aws-ofi-nccl"
  (cd "$work/aws-efa-installer" && ./efa_installer.sh -y) ||
    fail "efa_installer.sh $EFA_INSTALLER_VERSION failed (its output is above)"
  [[ -x $FI_INFO ]] || fail "efa_installer.sh finished, but $FI_INFO is missing"
}

read_efa_versions() {
  local line
  if [[ -r $ROOT/opt/amazon/efa_installed_packages ]]; then
    line=$(grep -m1 '^# EFA installer version:' "$ROOT/opt/amazon/efa_installed_packages" || true)
    EFA_INSTALLED_VERSION=${line##*: }
  fi
  line=$("$FI_INFO" --version 2>/dev/null | grep -m1 '^libfabric:' || true)
  LIBFABRIC_VERSION=${line##*: }
}

step_efa_software() {
  if [[ -x $FI_INFO ]]; then
    EFA_SOFTWARE=preinstalled
    note "the AMI has the EFA software ($FI_INFO): nothing installed"
  else
    install_efa_software
    EFA_SOFTWARE=installed
    note "installed aws-efa-installer $EFA_INSTALLER_VERSION (SHA-256 verified)"
  fi
  read_efa_versions
}

step_efa_devices() {
  local out rc=0
  out=$("$FI_INFO" -p efa -t FI_EP_RDM 2>&1) || rc=$?
  # One `domain:` per EFA device (efa_0-rdm, or rdmapXsY-rdm with newer installers).
  EFA_FOUND=$(printf '%s\n' "$out" | awk '$1 == "domain:" { print $2 }' | sort -u | wc -l)
  EFA_FOUND=$((EFA_FOUND + 0))
  if ((EFA_FOUND < EFA_EXPECTED)); then
    fail "fi_info -p efa -t FI_EP_RDM lists $EFA_FOUND EFA device(s) (exit status $rc), but this node group's launch template attaches $EFA_EXPECTED to each $INSTANCE_TYPE: check the launch template's NetworkInterfaces (InterfaceType efa or efa-only, one per network card) and that the efa kernel module is loaded (lsmod | grep efa)"
  fi
  if ((EFA_FOUND > EFA_EXPECTED)); then
    note "$EFA_FOUND EFA devices, more than the $EFA_EXPECTED this node group's layout attaches"
  else
    note "$EFA_FOUND of $EFA_EXPECTED EFA devices"
  fi
}
"##;

const LIB_PTRACE: &str = r##"
step_ptrace() {
  put_file "$ROOT/etc/sysctl.d/10-efactl-ptrace.conf" 0644 <<'EOF'
# efactl: libfabric's shared-memory transport and Open MPI copy between the ranks of one node
# with Cross Memory Attach, which Yama's ptrace protection blocks (efa-facts.md §8).
kernel.yama.ptrace_scope = 0
EOF
  sysctl_set kernel.yama.ptrace_scope 0
  note "kernel.yama.ptrace_scope = 0, persisted in /etc/sysctl.d/10-efactl-ptrace.conf"
}
"##;

const LIB_HUGEPAGES: &str = r##"
step_hugepages() {
  local have want got
  have=$(sysctl -n vm.nr_hugepages 2>/dev/null || echo 0)
  # Never lower what the AMI or another tool reserved.
  want=$((have > HUGEPAGES ? have : HUGEPAGES))
  put_file "$ROOT/etc/sysctl.d/90-efactl-hugepages.conf" 0644 <<EOF
# efactl: EFA nodes reserve 2 MiB huge pages for libfabric's buffers (efa-facts.md §8).
vm.nr_hugepages = $want
EOF
  if ((have < want)); then
    sysctl -q -w "vm.nr_hugepages=$want"
  fi
  got=$(sysctl -n vm.nr_hugepages 2>/dev/null || echo 0)
  if ((got < want)); then
    # Fragmented memory: the boot-time setting in sysctl.d reserves them after a reboot.
    note "vm.nr_hugepages is $got of $want now (memory is fragmented); $want after a reboot"
  else
    note "vm.nr_hugepages = $got"
  fi
}
"##;

const LIB_LIMITS: &str = r##"
step_limits() {
  put_file "$ROOT/etc/security/limits.d/90-efactl.conf" 0644 <<'EOF'
# efactl: EFA pins (registers) the memory it sends from and receives into, so the lock limit
# must be unlimited; NCCL and data loaders open many files and sockets. `*` does not cover
# root, hence the root lines.
*     soft  memlock  unlimited
*     hard  memlock  unlimited
root  soft  memlock  unlimited
root  hard  memlock  unlimited
*     soft  nofile   65536
*     hard  nofile   65536
root  soft  nofile   65536
root  hard  nofile   65536
EOF
  note "memlock unlimited, nofile 65536 (/etc/security/limits.d/90-efactl.conf)"
}
"##;

const LIB_NCCL: &str = r##"
step_nccl_env() {
  nccl_profile | put_file "$ROOT/etc/profile.d/efactl-nccl.sh" 0644
  note "/etc/profile.d/efactl-nccl.sh"
}
"##;

const LIB_SSH: &str = r##"
# The cluster's login user: ec2-user on Amazon Linux, ubuntu on Ubuntu (HyperPod).
cluster_user() {
  local u
  if [[ -n ${EFACTL_CLUSTER_USER:-} ]]; then
    printf '%s' "$EFACTL_CLUSTER_USER"
    return 0
  fi
  for u in ec2-user ubuntu; do
    if getent passwd "$u" >/dev/null; then
      printf '%s' "$u"
      return 0
    fi
  done
  return 1
}

# secret_field NAME < JSON: prints one string field of the secret; never logs it.
secret_field() {
  python3 -c '
import json, sys
try:
    value = json.load(sys.stdin).get(sys.argv[1])
except Exception:
    sys.exit(2)
if not isinstance(value, str) or not value:
    sys.exit(3)
sys.stdout.write(value)
' "$1"
}

step_ssh_keys() {
  local user entry home uid gid ssh_dir secret priv_b64 pub_b64 priv pub old_pub
  user=$(cluster_user) || fail "no cluster user: neither ec2-user nor ubuntu exists (set EFACTL_CLUSTER_USER)"
  entry=$(getent passwd "$user") || fail "user $user does not exist"
  IFS=: read -r _ _ uid gid _ home _ <<<"$entry"
  ssh_dir=$ROOT$home/.ssh
  command -v aws >/dev/null || fail "the AWS CLI is missing: it is needed to read $MPI_SECRET_ID"
  command -v python3 >/dev/null || fail "python3 is missing: it is needed to read the secret's JSON"
  secret=$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "$MPI_SECRET_ID" \
    --query SecretString --output text) ||
    fail "cannot read secret $MPI_SECRET_ID: the instance role needs secretsmanager:GetSecretValue on it, and \`efactl keys create\` must have filled it"
  priv_b64=$(printf '%s' "$secret" | secret_field MPI_SSH_KEY_PRIVATE) ||
    fail "secret $MPI_SECRET_ID has no MPI_SSH_KEY_PRIVATE (expected JSON from \`efactl keys create\`)"
  pub_b64=$(printf '%s' "$secret" | secret_field MPI_SSH_KEY_PUBLIC) ||
    fail "secret $MPI_SECRET_ID has no MPI_SSH_KEY_PUBLIC"
  priv=$(printf '%s' "$priv_b64" | base64 -d 2>/dev/null) ||
    fail "MPI_SSH_KEY_PRIVATE in $MPI_SECRET_ID is not base64"
  pub=$(printf '%s' "$pub_b64" | base64 -d 2>/dev/null) ||
    fail "MPI_SSH_KEY_PUBLIC in $MPI_SECRET_ID is not base64"
  [[ $priv == -----BEGIN* ]] || fail "MPI_SSH_KEY_PRIVATE in $MPI_SECRET_ID is not a private key"
  [[ $pub == ssh-* || $pub == ecdsa-* || $pub == sk-* ]] ||
    fail "MPI_SSH_KEY_PUBLIC in $MPI_SECRET_ID is not an OpenSSH public key"
  pub=${pub%%$'\n'*}

  umask 077
  mkdir -p "$ssh_dir"
  chmod 0700 "$ssh_dir"
  chown "$uid:$gid" "$ssh_dir"
  old_pub=$(head -n1 "$ssh_dir/$SSH_KEY.pub" 2>/dev/null || true)
  printf '%s\n' "$priv" | put_file "$ssh_dir/$SSH_KEY" 0600 "$uid:$gid"
  printf '%s\n' "$pub" | put_file "$ssh_dir/$SSH_KEY.pub" 0600 "$uid:$gid"
  # authorized_keys: the user's own lines stay; a rotated efactl key replaces the old one.
  {
    if [[ -s $ssh_dir/authorized_keys ]]; then
      awk 1 "$ssh_dir/authorized_keys" |
        if [[ -n $old_pub && $old_pub != "$pub" ]]; then grep -vxF -- "$old_pub" || true; else cat; fi |
        grep -vxF -- "$pub" || true
    fi
    printf '%s\n' "$pub"
  } | put_file "$ssh_dir/authorized_keys" 0600 "$uid:$gid"
  # ssh_config: efactl's block first (ssh takes the first value it reads), the rest kept.
  {
    ssh_config_block
    if [[ -s $ssh_dir/config ]]; then
      awk '/^# BEGIN efactl/ { skip = 1 } !skip { print } /^# END efactl/ { skip = 0 }' "$ssh_dir/config"
    fi
  } | put_file "$ssh_dir/config" 0600 "$uid:$gid"
  umask 022
  note "key pair from $MPI_SECRET_ID in $home/.ssh of $user; host-key checks skipped only inside the cluster's subnets"
}
"##;

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(c: &str) -> Vec<String> {
        ssh_patterns(&Cidr::parse(c).unwrap())
    }

    #[test]
    fn octet_aligned_blocks() {
        assert_eq!(pats("10.0.0.0/8"), vec!["10.*", "ip-10-*"]);
        assert_eq!(pats("10.4.0.0/16"), vec!["10.4.*", "ip-10-4-*"]);
        assert_eq!(pats("10.4.7.0/24"), vec!["10.4.7.*", "ip-10-4-7-*"]);
        assert_eq!(
            pats("10.4.7.9/32"),
            vec!["10.4.7.9", "ip-10-4-7-9", "ip-10-4-7-9.*"]
        );
        assert!(pats("0.0.0.0/0").is_empty(), "never Host *");
    }

    #[test]
    fn a_slash_20_lists_its_sixteen_third_octets() {
        let p = pats("10.0.16.0/20");
        assert_eq!(
            &p[..7],
            &[
                "10.0.16.*",
                "10.0.17.*",
                "10.0.18.*",
                "10.0.19.*",
                "10.0.2?.*",
                "10.0.30.*",
                "10.0.31.*"
            ]
        );
        assert_eq!(p[7], "ip-10-0-16-*");
    }

    #[test]
    fn patterns_match_exactly_the_block() {
        // Every octet value, against every pattern: a pattern set is right when it matches the
        // members of the block and nothing else.
        fn glob(p: &str, s: &str) -> bool {
            let (p, s) = (p.as_bytes(), s.as_bytes());
            fn m(p: &[u8], s: &[u8]) -> bool {
                match (p.first(), s.first()) {
                    (None, None) => true,
                    (Some(b'*'), _) => m(&p[1..], s) || (!s.is_empty() && m(p, &s[1..])),
                    (Some(b'?'), Some(_)) => m(&p[1..], &s[1..]),
                    (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
                    _ => false,
                }
            }
            m(p, s)
        }
        for cidr in [
            "10.0.16.0/20",
            "10.3.0.0/22",
            "172.16.0.0/12",
            "10.1.64.0/18",
            "192.168.5.64/26",
            "10.9.200.0/21",
            "10.0.0.128/25",
            "100.64.0.0/10",
            "10.250.0.0/15",
        ] {
            let c = Cidr::parse(cidr).unwrap();
            let p = ssh_patterns(&c);
            for x in 0..=255u32 {
                {
                    // Vary the octet the prefix ends in; keep the others inside the block.
                    let IpAddr::V4(base) = c.addr else {
                        unreachable!()
                    };
                    let mut o = base.octets();
                    let idx = ((c.prefix - 1) / 8) as usize;
                    o[idx] = x as u8;
                    let ip = std::net::Ipv4Addr::from(o);
                    let inside = c.contains(&Cidr::parse(&format!("{ip}/32")).unwrap());
                    let dotted = ip.to_string();
                    let host = format!("ip-{}", dotted.replace('.', "-"));
                    assert_eq!(
                        p.iter().any(|q| glob(q, &dotted)),
                        inside,
                        "{cidr} {dotted} {p:?}"
                    );
                    assert_eq!(p.iter().any(|q| glob(q, &host)), inside, "{cidr} {host}");
                    assert_eq!(
                        p.iter().any(|q| glob(q, &format!("{host}.ec2.internal"))),
                        inside,
                        "{cidr} {host}.ec2.internal"
                    );
                }
            }
        }
    }

    #[test]
    fn octet_ranges() {
        assert_eq!(
            octet_patterns(0, 255),
            vec![
                "?", "??", "1??", "20?", "21?", "22?", "23?", "24?", "250", "251", "252", "253",
                "254", "255"
            ]
        );
        assert_eq!(
            octet_patterns(64, 127),
            vec![
                "64", "65", "66", "67", "68", "69", "7?", "8?", "9?", "10?", "11?", "120", "121",
                "122", "123", "124", "125", "126", "127"
            ]
        );
    }
}
