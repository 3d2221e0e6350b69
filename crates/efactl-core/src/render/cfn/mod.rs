//! The `cfn` renderer: one CloudFormation template for the cluster.
//!
//! What goes in depends on who launches the nodes:
//!
//! | target | network, security groups, endpoints, secret, roles, FSx | placement groups | launch templates | Auto Scaling groups |
//! |---|---|---|---|---|
//! | `cloudformation` | yes | yes | yes | yes |
//! | `batch` | yes | yes | yes (the compute environment launches from them) | no |
//! | `parallelcluster` | yes | yes | no (ParallelCluster launches the nodes) | no |
//! | `hyperpod` | yes, the node role is HyperPod's execution role | no (HyperPod places the nodes) | no | no |
//!
//! Every resource says why it exists: in its own description field where the type has one,
//! else in `Metadata.Comment`. Security-group rules are separate Ingress/Egress resources so
//! that groups may refer to each other (and to themselves) without a circular dependency.
//! Logical ids derive from spec names through [`logical_id`]; [`Ids`] keeps them unique.
//!
//! This file holds the public API and the `Builder`'s state, its primitives (parameters, tags,
//! resources, outputs) and the assembly of the template. The resources themselves are emitted
//! by resource family, each file one `impl Builder` block, listed about in the order
//! [`template`] calls them: `plan.rs` (refusals, and every logical id handed out first),
//! `network.rs` (VPC, subnets, route tables, gateways, endpoints), `security.rs` (security
//! groups and rules), `placement.rs`, `secret.rs` (the MPI SSH key secret), `iam.rs` (roles,
//! instance profiles, policies), `storage.rs` (FSx), `nodes.rs` (AMI parameters, Auto Scaling
//! groups), `launch.rs` (launch templates, network interfaces) and `user_data.rs` (gzip, MIME
//! and base64 user data). Each family writes its outputs beside its resources.

mod iam;
mod launch;
mod network;
mod nodes;
mod placement;
mod plan;
mod secret;
mod security;
mod storage;
mod user_data;

pub use user_data::{user_data_script, USER_DATA_LIMIT};

use super::{Artifact, RenderError, RenderOptions};
use crate::catalog::Catalog;
use crate::model::*;
use crate::net::Cidr;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};

/// File name of the template (YAML).
pub const TEMPLATE_YAML: &str = "cloudformation.yaml";
/// File name of the template with `--json`.
pub const TEMPLATE_JSON: &str = "cloudformation.json";
/// Logical id of the MPI SSH key secret (its `Ref` is the secret's ARN).
pub const MPI_SECRET_ID: &str = "MpiSshKeySecret";
/// Tag that marks the MPI SSH key secret, so that readers of the template know it.
pub const PURPOSE_TAG: &str = "efactl:purpose";
pub const MPI_SECRET_PURPOSE: &str = "mpi-ssh-key";
/// Fields of the secret's JSON value (base64 of the OpenSSH key files): what `efactl keys
/// create` writes, the node bootstrap reads and AWS Batch injects into the job's container.
pub const PRIVATE_KEY_FIELD: &str = "MPI_SSH_KEY_PRIVATE";
pub const PUBLIC_KEY_FIELD: &str = "MPI_SSH_KEY_PUBLIC";

/// The value the template gives a secret it creates. It holds no key: `efactl keys create`
/// replaces it. CloudFormation writes `SecretString` only when it creates the secret or when the
/// template's value changes, so this text must never change (no version, no date): a stack
/// update would otherwise overwrite the real key with the placeholder.
pub fn secret_placeholder(secret_name: &str) -> String {
    let mut m = Map::new();
    m.insert(
        "efactl".into(),
        Value::String(format!(
            "placeholder: no key yet; run `efactl keys create --secret {secret_name}`"
        )),
    );
    m.insert(PRIVATE_KEY_FIELD.into(), Value::String(String::new()));
    m.insert(PUBLIC_KEY_FIELD.into(), Value::String(String::new()));
    Value::Object(m).to_string()
}

/// cfn-lint findings that may remain on a rendered template, each with the reason it is not
/// a problem. The test that runs cfn-lint over every example fails on anything else.
pub struct LintAllowance {
    /// cfn-lint rule id.
    pub rule: &'static str,
    /// The finding is allowed only when its message names one of these (empty: any message).
    pub only_for: &'static [&'static str],
    pub reason: &'static str,
}

/// Instance types whose region lists lag in cfn-lint's bundled data (efa-facts.md §9,
/// test-environment.md: E3628 false positives for trn2.48xlarge and p5e in us-east-1).
pub const LINT_LAGGING_TYPES: &[&str] = &[
    "trn2.48xlarge",
    "trn2u.48xlarge",
    "p5e.48xlarge",
    "p5en.48xlarge",
    "p6-b200.48xlarge",
    "p6-b300.48xlarge",
    "p6e-gb200.36xlarge",
];

/// The allow-list, run with `--regions` set to the cluster's region. Everything else cfn-lint
/// reports fails the test.
pub const LINT_ALLOWED: &[LintAllowance] = &[
    LintAllowance {
        rule: "W3010",
        only_for: &[],
        reason: "availability zones are pinned on purpose: the spec names the zone because EFA traffic cannot leave it, and the capacity reservations, capacity blocks and FSx file systems of a cluster are zonal; a portable `!GetAZs` pick could land the nodes away from their capacity and storage",
    },
    LintAllowance {
        rule: "E3628",
        only_for: LINT_LAGGING_TYPES,
        reason: "cfn-lint's per-region instance-type enum lags EC2: it reports these types as unavailable in regions where they are sold (capacity blocks and reservations for them are); EC2 itself is the judge at launch. Only these types, only this check",
    },
];

impl LintAllowance {
    /// Does this allowance cover a cfn-lint finding?
    pub fn covers(&self, rule: &str, message: &str) -> bool {
        rule == self.rule
            && (self.only_for.is_empty()
                || self
                    .only_for
                    .iter()
                    .any(|t| message.starts_with(&format!("'{t}'"))))
    }
}

/// `efa-sg` -> `EfaSg`; `ecr.dkr` -> `EcrDkr`. CloudFormation logical ids are ASCII letters and
/// digits only: every other character separates words, and each word starts upper-case. A
/// name that leaves nothing gets `X`; one that starts with a digit gets an `N` in front (a
/// logical id may not start with a digit in cfn-lint's eyes). At most 200 characters.
pub fn logical_id(name: &str) -> String {
    let mut out = String::new();
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() {
        out.push('X');
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'N');
    }
    out.truncate(200);
    out
}

/// Logical ids handed out so far. Two names that sanitize alike (`gpu-a`, `gpu_a`) get `GpuA`
/// and `GpuA2`, in model order, so the result is deterministic.
#[derive(Debug, Default)]
pub struct Ids {
    used: BTreeSet<String>,
}

impl Ids {
    pub fn claim(&mut self, base: &str) -> String {
        let base = logical_id(base);
        if self.used.insert(base.clone()) {
            return base;
        }
        (2u32..)
            .map(|n| format!("{base}{n}"))
            .find(|c| !self.used.contains(c))
            .inspect(|c| {
                self.used.insert(c.clone());
            })
            .expect("an unused suffix exists")
    }
}

/// `x86_64` or `arm64` for an instance type. Graviton types carry a `g` among the attribute
/// letters after the generation digit (`c7gn`, `hpc7g`, `g5g`, `m6gd`); Grace ones are the
/// `-gb` UltraServer types (`p6e-gb200`).
pub fn architecture(instance_type: &str) -> &'static str {
    let family = instance_type.split('.').next().unwrap_or("");
    if family.contains("-gb") || family == "a1" {
        return "arm64";
    }
    let rest = family.trim_start_matches(|c: char| c.is_ascii_lowercase());
    let attrs = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let attrs = attrs.split('-').next().unwrap_or("");
    if attrs.contains('g') {
        "arm64"
    } else {
        "x86_64"
    }
}

/// The public SSM parameter whose value is the default AMI of a node group that names none,
/// and what it is (for the parameter's description).
pub fn default_image(target: Target, t: &str, catalog: &Catalog) -> (String, &'static str) {
    let arch = architecture(t);
    let accel = catalog
        .get(t)
        .and_then(|x| x.accelerator.clone())
        .unwrap_or_default();
    if target == Target::Batch {
        // Batch container instances run the ECS agent: the ECS-optimized Amazon Linux 2023.
        let variant = if accel.starts_with("nvidia") && arch == "x86_64" {
            (
                "gpu/",
                "the ECS-optimized Amazon Linux 2023 GPU AMI (NVIDIA driver, ECS agent)",
            )
        } else if accel.starts_with("trainium") || accel.starts_with("inferentia") {
            ("neuron/", "the ECS-optimized Amazon Linux 2023 Neuron AMI")
        } else if arch == "arm64" {
            (
                "arm64/",
                "the ECS-optimized Amazon Linux 2023 AMI for arm64",
            )
        } else {
            ("", "the ECS-optimized Amazon Linux 2023 AMI")
        };
        return (
            format!(
                "/aws/service/ecs/optimized-ami/amazon-linux-2023/{}recommended/image_id",
                variant.0
            ),
            variant.1,
        );
    }
    (
        format!("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"),
        if arch == "arm64" {
            "the latest Amazon Linux 2023 for arm64"
        } else {
            "the latest Amazon Linux 2023 for x86_64"
        },
    )
}

pub fn render(
    cluster: &Cluster,
    catalog: &Catalog,
    opts: &RenderOptions,
) -> Result<Vec<Artifact>, RenderError> {
    let t = template(cluster, catalog)?;
    Ok(vec![if opts.json {
        let mut text = serde_json::to_string_pretty(&t)
            .map_err(|e| RenderError::Unsupported(format!("cannot write JSON: {e}")))?;
        text.push('\n');
        Artifact::file(TEMPLATE_JSON, text)
    } else {
        let mut text = format!(
            "# CloudFormation template for cluster `{}`, rendered by efactl {} from the cluster spec.\n# Change the spec and render again rather than editing this file: `efactl check` and\n# `efactl render` keep it consistent with the rules. `efactl check` reads this file too.\n",
            cluster.name,
            crate::VERSION
        );
        text.push_str(&super::yaml_out::to_yaml(&t));
        Artifact::file(TEMPLATE_YAML, text)
    }])
}

/// The template as a JSON value (key order is output order).
pub fn template(cluster: &Cluster, catalog: &Catalog) -> Result<Value, RenderError> {
    let mut b = Builder::new(cluster, catalog);
    b.refuse_what_cannot_be_rendered()?;
    b.assign_ids();
    b.vpc();
    b.subnets();
    b.security_groups();
    b.default_group_output();
    b.endpoints();
    b.placement_groups();
    b.secrets();
    b.roles();
    b.file_systems()?;
    b.node_groups();
    Ok(b.finish())
}

fn r(id: &str) -> Value {
    json!({ "Ref": id })
}

fn att(id: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attr] })
}

fn sub(s: &str) -> Value {
    json!({ "Fn::Sub": s })
}

fn truncate(s: String, n: usize) -> String {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// What the template does about node groups.
#[derive(Clone, Copy, PartialEq)]
enum Nodes {
    /// Launch templates and Auto Scaling groups: the template launches the nodes.
    Launch,
    /// Launch templates only: AWS Batch launches from them.
    TemplatesOnly,
    /// Nothing: ParallelCluster or HyperPod launch the nodes.
    None,
}

struct Builder<'a> {
    c: &'a Cluster,
    catalog: &'a Catalog,
    ids: Ids,
    nodes: Nodes,
    params: Map<String, Value>,
    res: Map<String, Value>,
    outs: Map<String, Value>,
    vpc: Value,
    /// Model subnet key -> logical id, for subnets the template creates.
    subnet_id: HashMap<String, String>,
    /// Model route-table key -> logical id, for route tables the template creates.
    rtb_id: HashMap<String, String>,
    sg_id: HashMap<String, String>,
    pg_id: HashMap<String, String>,
    secret_id: HashMap<String, String>,
    role_id: HashMap<String, String>,
    profile_id: HashMap<String, String>,
    /// ParallelCluster: role key -> the managed policy that carries its statements.
    policy_id: HashMap<String, String>,
    /// Groups used but not created: (model key, how the template names them).
    existing_sgs: Vec<(String, String)>,
    /// Route-table key of an existing subnet -> its parameter.
    rtb_param: HashMap<String, String>,
    /// Node group -> its AMI parameter.
    ng_img: HashMap<String, String>,
    fs_id: HashMap<String, String>,
    /// Node group name -> (launch template, Auto Scaling group, image parameter).
    ng_id: HashMap<String, (String, String, String)>,
    igw: Option<Value>,
    nat: Option<Value>,
    /// The extra public subnet that holds the NAT gateway when the spec has no public subnet.
    nat_subnet: Option<(String, Cidr)>,
}

impl<'a> Builder<'a> {
    fn new(c: &'a Cluster, catalog: &'a Catalog) -> Self {
        let nodes = match c.target {
            Target::CloudFormation => Nodes::Launch,
            Target::Batch => Nodes::TemplatesOnly,
            Target::ParallelCluster | Target::HyperPod => Nodes::None,
        };
        Builder {
            c,
            catalog,
            ids: Ids::default(),
            nodes,
            params: Map::new(),
            res: Map::new(),
            outs: Map::new(),
            vpc: Value::Null,
            subnet_id: HashMap::new(),
            rtb_id: HashMap::new(),
            sg_id: HashMap::new(),
            pg_id: HashMap::new(),
            secret_id: HashMap::new(),
            role_id: HashMap::new(),
            profile_id: HashMap::new(),
            policy_id: HashMap::new(),
            existing_sgs: Vec::new(),
            rtb_param: HashMap::new(),
            ng_img: HashMap::new(),
            fs_id: HashMap::new(),
            ng_id: HashMap::new(),
            igw: None,
            nat: None,
            nat_subnet: None,
        }
    }

    /// Adds a parameter; its name was claimed in `assign_ids`, before any resource's.
    fn param(&mut self, id: &str, body: Value) {
        if !self.params.contains_key(id) {
            self.params.insert(id.to_string(), body);
        }
    }

    fn tags(&self, name: &str) -> Value {
        let mut v = Vec::new();
        if !self.c.tags.contains_key("Name") {
            v.push(json!({ "Key": "Name", "Value": format!("{}-{name}", self.c.name) }));
        }
        v.push(json!({ "Key": "efactl:cluster", "Value": self.c.name }));
        // No `efactl:version` tag: it would make every resource a "Modify" in the change set
        // of the first deploy after an efactl upgrade, hiding the changes that matter. The
        // version is in the template's `Metadata.efactl.version`, which changes no resource.
        for (k, val) in &self.c.tags {
            v.push(json!({ "Key": k, "Value": val }));
        }
        Value::Array(v)
    }

    fn put(&mut self, id: &str, kind: &str, comment: Option<String>, props: Value) {
        self.put_with(id, kind, comment, props, Map::new());
    }

    fn put_with(
        &mut self,
        id: &str,
        kind: &str,
        comment: Option<String>,
        props: Value,
        attrs: Map<String, Value>,
    ) {
        let mut m = Map::new();
        m.insert("Type".into(), Value::String(kind.into()));
        for (k, v) in attrs {
            m.insert(k, v);
        }
        if let Some(c) = comment {
            m.insert("Metadata".into(), json!({ "Comment": c }));
        }
        m.insert("Properties".into(), props);
        self.res.insert(id.to_string(), Value::Object(m));
    }

    fn output(&mut self, id: &str, description: String, value: Value) {
        self.outs.insert(
            logical_id(id),
            json!({ "Description": description, "Value": value }),
        );
    }

    fn finish(self) -> Value {
        let c = self.c;
        let what = match self.nodes {
            Nodes::Launch => "network, security groups, IAM, launch templates and Auto Scaling groups",
            Nodes::TemplatesOnly => "network, security groups, IAM and launch templates (AWS Batch launches the nodes)",
            Nodes::None if c.target == Target::HyperPod => "network, security groups, storage and the execution role (HyperPod launches the nodes)",
            Nodes::None => "network, security groups and IAM (ParallelCluster launches the nodes)",
        };
        let mut t = Map::new();
        t.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
        t.insert(
            "Description".into(),
            Value::String(truncate(
                format!(
                    "efactl {}: cluster {} ({}, {}): {what}. Rendered from the cluster spec; `efactl check` reads this template back.",
                    crate::VERSION,
                    c.name,
                    c.target.name(),
                    c.region
                ),
                1024,
            )),
        );
        let mut meta = json!({
            "version": crate::VERSION,
            "cluster": c.name,
            "region": c.region,
            "target": c.target.name(),
            "scheduler": c.scheduler.name(),
        });
        let existing = self.existing_groups_metadata();
        if !existing.is_empty() {
            meta["existingSecurityGroups"] = Value::Object(existing);
        }
        t.insert("Metadata".into(), json!({ "efactl": meta }));
        if !self.params.is_empty() {
            t.insert("Parameters".into(), Value::Object(self.params));
        }
        t.insert("Resources".into(), Value::Object(self.res));
        if !self.outs.is_empty() {
            t.insert("Outputs".into(), Value::Object(self.outs));
        }
        Value::Object(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_alphanumeric_and_unique() {
        assert_eq!(logical_id("efa"), "Efa");
        assert_eq!(logical_id("efactl-endpoints"), "EfactlEndpoints");
        assert_eq!(logical_id("ecr.dkr"), "EcrDkr");
        assert_eq!(logical_id("gpu_a b"), "GpuAB");
        assert_eq!(logical_id("5gpu"), "N5gpu");
        assert_eq!(logical_id("--"), "X");
        assert_eq!(logical_id("héllo"), "HLlo");
        let mut ids = Ids::default();
        assert_eq!(ids.claim("gpu-a"), "GpuA");
        assert_eq!(ids.claim("gpu_a"), "GpuA2");
        assert_eq!(ids.claim("GpuA2"), "GpuA22");
        assert_eq!(ids.claim("gpu.a"), "GpuA3");
    }

    #[test]
    fn architectures() {
        for (t, a) in [
            ("p5.48xlarge", "x86_64"),
            ("c7gn.16xlarge", "arm64"),
            ("hpc7g.16xlarge", "arm64"),
            ("g5g.16xlarge", "arm64"),
            ("g5.48xlarge", "x86_64"),
            ("p6e-gb200.36xlarge", "arm64"),
            ("p6-b300.48xlarge", "x86_64"),
            ("trn2.48xlarge", "x86_64"),
            ("im4gn.16xlarge", "arm64"),
        ] {
            assert_eq!(architecture(t), a, "{t}");
        }
    }

    #[test]
    fn the_placeholder_holds_no_key_and_never_changes() {
        let p = secret_placeholder("s");
        let v: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v[PRIVATE_KEY_FIELD], "");
        assert_eq!(v[PUBLIC_KEY_FIELD], "");
        assert!(!p.contains(crate::VERSION) || crate::VERSION.is_empty());
    }
}
