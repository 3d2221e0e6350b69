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

use super::conventions::var_part;
use super::{Artifact, RenderError, RenderOptions};
use crate::catalog::Catalog;
use crate::model::*;
use crate::net::Cidr;
use crate::resolve::DEFAULT_SG;
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

/// Security-group and rule descriptions allow only `a-zA-Z0-9`, spaces and `._-:/()#,@[]+=&;{}!$*`
/// (EC2 API): backticks and apostrophes are dropped, anything else becomes a space, and runs of
/// spaces become one. At most 255 characters.
fn sg_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().filter(|c| *c != '`' && *c != '\'') {
        let c = if c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c) {
            c
        } else {
            ' '
        };
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out.truncate(255);
    out.trim_end().to_string()
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

/// `role/path/name` of an IAM role ARN -> `name`.
fn role_name_of_arn(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The route out of a subnet, in words.
fn route_words(i: Internet) -> &'static str {
    match i {
        Internet::Public => "default route to the internet gateway",
        Internet::Nat => "default route to the NAT gateway (outbound only)",
        Internet::None => "no route out of the VPC: AWS services only through VPC endpoints",
    }
}

fn is_aws_default_egress(rule: &SgRule) -> bool {
    rule.protocol == Protocol::All && matches!(&rule.peer, Peer::Cidr(c) if *c == Cidr::world_v4())
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

    // ---------------------------------------------------------------- checks and ids

    fn refuse_what_cannot_be_rendered(&self) -> Result<(), RenderError> {
        let created: Vec<&Subnet> = self.created_subnets().collect();
        if self.vpc_created()
            && created.iter().any(|s| s.internet == Internet::Nat)
            && !created.iter().any(|s| s.internet == Internet::Public)
            && self.free_small_block().is_none()
        {
            return Err(RenderError::Unsupported(
                "the spec asks for `internet: nat` but has no public subnet for the NAT gateway, and the VPC has no free /28 to add one in: add a subnet with `internet: public`".into(),
            ));
        }
        for sg in self.created_groups() {
            if let Some(rule) = sg
                .ingress
                .iter()
                .find(|r| matches!(&r.peer, Peer::Cidr(c) if c.is_world()))
            {
                let Peer::Cidr(c) = &rule.peer else {
                    unreachable!()
                };
                return Err(RenderError::Unsupported(format!(
                    "security group `{}` admits {} from {c}, the whole internet; efactl never renders ingress from anywhere: narrow the rule to the addresses that need it (SSM Session Manager reaches the nodes with no inbound rule at all)",
                    sg.name,
                    crate::rules::traffic_label(&rule.protocol, rule.ports)
                )));
            }
        }
        Ok(())
    }

    fn created_groups(&self) -> impl Iterator<Item = &'a SecurityGroup> {
        self.c
            .security_groups
            .iter()
            .filter(|s| s.id.is_none() && s.key != DEFAULT_SG)
    }

    fn vpc_created(&self) -> bool {
        self.c.vpc.id.is_none()
    }

    fn created_subnets(&self) -> impl Iterator<Item = &'a Subnet> {
        self.c.subnets.iter().filter(|s| s.id.is_none())
    }

    /// Roles the template creates or gives an instance profile.
    fn instance_role_keys(&self) -> Vec<&'a str> {
        let mut v: Vec<&str> = self
            .c
            .node_groups
            .iter()
            .filter_map(|ng| ng.instance_role.as_deref())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Roles of login node groups (ParallelCluster reads their bootstrap with the role's policy).
    fn login_roles(&self) -> Vec<&'a str> {
        let mut v: Vec<&str> = self
            .c
            .node_groups
            .iter()
            .filter(|ng| ng.role == NodeRole::Login)
            .filter_map(|ng| ng.instance_role.as_deref())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
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

    fn assign_ids(&mut self) {
        let c = self.c;
        // Parameter names first, so that no resource takes one.
        for p in [
            "InternetGatewayId",
            "NatGatewayId",
            "DefaultSecurityGroupId",
            "ArtifactBucket",
        ] {
            self.ids.claim(p);
        }
        for s in c.subnets.iter().filter(|s| s.id.is_some()) {
            let p = self
                .ids
                .claim(&format!("{}RouteTableId", logical_id(&s.key)));
            self.rtb_param.insert(s.route_table.clone(), p);
        }
        if self.nodes != Nodes::None {
            for ng in &c.node_groups {
                let img = self.ids.claim(&format!("{}ImageId", logical_id(&ng.name)));
                self.ng_img.insert(ng.name.clone(), img);
            }
        }
        if self.vpc_created() {
            self.ids.claim("Vpc");
            self.vpc = r("Vpc");
        } else {
            self.vpc = Value::String(c.vpc.id.clone().unwrap_or_default());
        }
        let created: Vec<&Subnet> = self.created_subnets().collect();
        let wants_nat = created.iter().any(|s| s.internet == Internet::Nat);
        let wants_igw = created.iter().any(|s| s.internet == Internet::Public);
        if self.vpc_created() {
            if wants_igw || wants_nat {
                let id = self.ids.claim("InternetGateway");
                self.ids.claim("InternetGatewayAttachment");
                self.igw = Some(r(&id));
            }
            if wants_nat {
                let id = self.ids.claim("NatGateway");
                self.ids.claim("NatGatewayEip");
                self.nat = Some(r(&id));
                if !created.iter().any(|s| s.internet == Internet::Public) {
                    let id = self.ids.claim("NatPublicSubnet");
                    let cidr = self.free_small_block();
                    if let Some(cidr) = cidr {
                        self.nat_subnet = Some((id, cidr));
                    }
                }
            }
        } else {
            // An existing VPC has its own gateways: the stack is told which.
            if wants_igw {
                self.param(
                    "InternetGatewayId",
                    json!({
                        "Type": "String",
                        "AllowedPattern": "^igw-[0-9a-f]+$",
                        "Description": format!("The internet gateway of VPC {}: the public subnets this stack creates route to it.", c.vpc.id.as_deref().unwrap_or(""))
                    }),
                );
                self.igw = Some(r("InternetGatewayId"));
            }
            if wants_nat {
                self.param(
                    "NatGatewayId",
                    json!({
                        "Type": "String",
                        "AllowedPattern": "^nat-[0-9a-f]+$",
                        "Description": format!("A NAT gateway of VPC {} in the cluster's availability zone: the `nat` subnets this stack creates route to it.", c.vpc.id.as_deref().unwrap_or(""))
                    }),
                );
                self.nat = Some(r("NatGatewayId"));
            }
        }
        for s in &created {
            let base = logical_id(&s.key);
            let id = self.ids.claim(&format!("{base}Subnet"));
            self.subnet_id.insert(s.key.clone(), id.clone());
            let rt = self.ids.claim(&format!("{base}RouteTable"));
            self.rtb_id.insert(s.route_table.clone(), rt);
        }
        for sg in self.created_groups().collect::<Vec<_>>() {
            let id = self
                .ids
                .claim(&format!("{}SecurityGroup", logical_id(&sg.key)));
            self.sg_id.insert(sg.key.clone(), id);
        }
        if self.nodes != Nodes::None || c.target == Target::ParallelCluster {
            for pg in c.placement_groups.iter().filter(|p| p.managed) {
                let id = self
                    .ids
                    .claim(&format!("{}PlacementGroup", logical_id(&pg.name)));
                self.pg_id.insert(pg.key.clone(), id);
            }
        }
        let mpi_secret = c.mpi.as_ref().and_then(|m| m.secret.clone());
        for s in c.secrets.iter().filter(|s| s.managed && s.arn.is_none()) {
            let id = if mpi_secret.as_deref() == Some(s.key.as_str()) {
                self.ids.claim(MPI_SECRET_ID)
            } else {
                self.ids.claim(&format!("{}Secret", logical_id(&s.key)))
            };
            self.secret_id.insert(s.key.clone(), id);
        }
        let instance_roles = self.instance_role_keys();
        for role in &c.roles {
            let base = if role.key == crate::resolve::NODE_ROLE {
                "Node".to_string()
            } else {
                logical_id(&role.key)
            };
            let is_instance = instance_roles.contains(&role.key.as_str());
            if c.target == Target::ParallelCluster && is_instance {
                // ParallelCluster makes the nodes' roles itself and attaches extra policies
                // (`AdditionalIamPolicies`): the template gives the role's statements as one.
                if role.managed
                    && role.arn.is_none()
                    && (!role.statements.is_empty()
                        || self.login_roles().contains(&role.key.as_str()))
                {
                    let id = self.ids.claim(&format!("{base}Policy"));
                    self.policy_id.insert(role.key.clone(), id);
                }
                continue;
            }
            if role.managed && role.arn.is_none() {
                let id = self.ids.claim(&format!("{base}Role"));
                self.role_id.insert(role.key.clone(), id);
            }
            if is_instance && c.target != Target::HyperPod && (role.managed || role.arn.is_some()) {
                let id = self.ids.claim(&format!("{base}InstanceProfile"));
                self.profile_id.insert(role.key.clone(), id);
            }
        }
        for fs in c.file_systems.iter().filter(|f| f.id.is_none()) {
            let id = self
                .ids
                .claim(&format!("{}FileSystem", logical_id(&fs.key)));
            self.fs_id.insert(fs.key.clone(), id);
        }
        if self.nodes != Nodes::None {
            for ng in &c.node_groups {
                let base = logical_id(&ng.name);
                let lt = self.ids.claim(&format!("{base}LaunchTemplate"));
                let asg = if self.nodes == Nodes::Launch {
                    self.ids.claim(&format!("{base}AutoScalingGroup"))
                } else {
                    String::new()
                };
                let img = self.ng_img[&ng.name].clone();
                self.ng_id.insert(ng.name.clone(), (lt, asg, img));
            }
        }
    }

    /// A /28 for the NAT gateway's subnet: the highest block of the VPC that overlaps none of
    /// the spec's subnets (kept out of the way of the ranges people allocate from the bottom).
    fn free_small_block(&self) -> Option<Cidr> {
        let vpc = self.c.vpc.cidr?;
        let std::net::IpAddr::V4(base) = vpc.addr else {
            return None;
        };
        if vpc.prefix > 28 {
            return None;
        }
        let start = u32::from(base)
            & (u32::MAX
                .checked_shl(32 - u32::from(vpc.prefix))
                .unwrap_or(0));
        let blocks = 1u32 << (28 - vpc.prefix);
        let taken: Vec<Cidr> = self.c.subnets.iter().filter_map(|s| s.cidr).collect();
        (0..blocks).rev().find_map(|i| {
            let cand = Cidr {
                addr: std::net::IpAddr::V4(std::net::Ipv4Addr::from(start + i * 16)),
                prefix: 28,
            };
            (!taken.iter().any(|t| t.contains(&cand) || cand.contains(t))).then_some(cand)
        })
    }

    // ---------------------------------------------------------------- values

    /// Adds a parameter; its name was claimed in `assign_ids`, before any resource's.
    fn param(&mut self, id: &str, body: Value) {
        if !self.params.contains_key(id) {
            self.params.insert(id.to_string(), body);
        }
    }

    fn subnet_value(&self, key: &str) -> Value {
        match self.subnet_id.get(key) {
            Some(id) => r(id),
            None => Value::String(
                self.c
                    .subnet(key)
                    .and_then(|s| s.id.clone())
                    .unwrap_or_else(|| key.to_string()),
            ),
        }
    }

    fn route_table_value(&mut self, key: &str) -> Value {
        if let Some(id) = self.rtb_id.get(key) {
            return r(id);
        }
        // The route table of an existing subnet: the stack is told which.
        let subnet = self
            .c
            .subnets
            .iter()
            .find(|s| s.route_table == key)
            .map(|s| (s.key.clone(), s.id.clone().unwrap_or_default()));
        let (name, id) = subnet.unwrap_or_else(|| (key.to_string(), String::new()));
        let p = self
            .rtb_param
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("{}RouteTableId", logical_id(&name)));
        self.param(
            &p,
            json!({
                "Type": "String",
                "AllowedPattern": "^rtb-[0-9a-f]+$",
                "Description": format!("The route table of existing subnet `{name}` ({id}): the gateway endpoints are added to it.")
            }),
        );
        r(&p)
    }

    fn sg_value(&mut self, key: &str) -> Value {
        if let Some(id) = self.sg_id.get(key) {
            return r(id);
        }
        let sg = self.c.security_group(key);
        if key == DEFAULT_SG && sg.is_some_and(|s| s.id.is_none()) {
            if self.vpc_created() {
                return att("Vpc", "DefaultSecurityGroup");
            }
            self.param(
                "DefaultSecurityGroupId",
                json!({
                    "Type": "AWS::EC2::SecurityGroup::Id",
                    "Description": format!("The default security group of VPC {}: the spec leaves some of its resources in it.", self.c.vpc.id.as_deref().unwrap_or(""))
                }),
            );
            self.note_existing(key, "DefaultSecurityGroupId");
            return r("DefaultSecurityGroupId");
        }
        let id = sg
            .and_then(|s| s.id.clone())
            .unwrap_or_else(|| key.to_string());
        if sg.is_some() {
            self.note_existing(key, &id);
        }
        Value::String(id)
    }

    /// Remembers a security group the template uses but does not create, so that its rules as
    /// the spec describes them go into `Metadata.efactl.existingSecurityGroups`.
    fn note_existing(&mut self, model_key: &str, template_key: &str) {
        if !self.existing_sgs.iter().any(|(k, _)| k == model_key) {
            self.existing_sgs
                .push((model_key.to_string(), template_key.to_string()));
        }
    }

    /// The existing groups' rules in CloudFormation's rule syntax, peers by plain name: the
    /// template key of an existing group, the logical id of a created one. CloudFormation does
    /// not read this; efactl's template reader does, so that a template checks as its spec.
    fn existing_groups_metadata(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, tkey) in &self.existing_sgs {
            let Some(sg) = self.c.security_group(key) else {
                continue;
            };
            let peer_name = |k: &str| -> String {
                if let Some(id) = self.sg_id.get(k) {
                    return id.clone();
                }
                match self.existing_sgs.iter().find(|(m, _)| m == k) {
                    Some((_, t)) => t.clone(),
                    None => self
                        .c
                        .security_group(k)
                        .and_then(|s| s.id.clone())
                        .unwrap_or_else(|| k.to_string()),
                }
            };
            let rules = |list: &[SgRule], ingress: bool| -> Vec<Value> {
                list.iter()
                    .map(|rule| {
                        let mut m = Map::new();
                        protocol_props(rule, &mut m);
                        match &rule.peer {
                            Peer::Group(k) => {
                                let name = if *k == sg.key {
                                    tkey.clone()
                                } else {
                                    peer_name(k)
                                };
                                m.insert(
                                    if ingress {
                                        "SourceSecurityGroupId"
                                    } else {
                                        "DestinationSecurityGroupId"
                                    }
                                    .into(),
                                    Value::String(name),
                                );
                            }
                            Peer::Cidr(c) => {
                                m.insert(
                                    if c.addr.is_ipv4() {
                                        "CidrIp"
                                    } else {
                                        "CidrIpv6"
                                    }
                                    .into(),
                                    Value::String(c.to_string()),
                                );
                            }
                            Peer::PrefixList(p) => {
                                m.insert(
                                    if ingress {
                                        "SourcePrefixListId"
                                    } else {
                                        "DestinationPrefixListId"
                                    }
                                    .into(),
                                    Value::String(p.clone()),
                                );
                            }
                        }
                        Value::Object(m)
                    })
                    .collect()
            };
            out.insert(
                tkey.clone(),
                json!({
                    "GroupName": sg.name,
                    "SecurityGroupIngress": rules(&sg.ingress, true),
                    "SecurityGroupEgress": rules(&sg.egress, false),
                }),
            );
        }
        out
    }

    fn sg_values(&mut self, keys: &[String]) -> Vec<Value> {
        keys.iter().map(|k| self.sg_value(k)).collect()
    }

    fn pg_value(&self, key: &str) -> Value {
        match self.pg_id.get(key) {
            Some(id) => r(id),
            None => Value::String(
                self.c
                    .placement_group(key)
                    .map(|p| p.name.clone())
                    .unwrap_or_else(|| key.trim_start_matches("pg:").to_string()),
            ),
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

    // ---------------------------------------------------------------- network

    fn vpc(&mut self) {
        let c = self.c;
        if !self.vpc_created() {
            return;
        }
        let cidr = c
            .vpc
            .cidr
            .map(|x| x.to_string())
            .unwrap_or_else(|| "10.0.0.0/16".into());
        let dns = match (c.vpc.dns_support, c.vpc.dns_hostnames) {
            (true, true) => "DNS support and hostnames are on: interface endpoints' private DNS and the nodes' own hostnames depend on both.".to_string(),
            _ => format!(
                "DNS support {}, DNS hostnames {}, as the spec says (efactl check warns about it).",
                if c.vpc.dns_support { "on" } else { "off" },
                if c.vpc.dns_hostnames { "on" } else { "off" }
            ),
        };
        self.put(
            "Vpc",
            "AWS::EC2::VPC",
            Some(format!(
                "The cluster's own VPC ({cidr}): the spec names no existing one. {dns}"
            )),
            json!({
                "CidrBlock": cidr,
                "EnableDnsSupport": c.vpc.dns_support,
                "EnableDnsHostnames": c.vpc.dns_hostnames,
                "Tags": self.tags("vpc"),
            }),
        );
        self.output("VpcId", "The cluster's VPC.".into(), r("Vpc"));
        if let Some(Value::Object(igw)) = self.igw.clone() {
            let id = igw["Ref"].as_str().unwrap_or("InternetGateway").to_string();
            self.put(
                &id,
                "AWS::EC2::InternetGateway",
                Some(if self.created_subnets().any(|s| s.internet == Internet::Public) {
                    "The way out for the public subnets (and for the NAT gateway, if any)."
                        .to_string()
                } else {
                    "Needed by the NAT gateway: a NAT gateway sends its traffic out through the VPC's internet gateway.".to_string()
                }),
                json!({ "Tags": self.tags("igw") }),
            );
            self.put(
                "InternetGatewayAttachment",
                "AWS::EC2::VPCGatewayAttachment",
                Some(
                    "Attaches the internet gateway to the VPC; routes to it wait for this.".into(),
                ),
                json!({ "VpcId": r("Vpc"), "InternetGatewayId": r(&id) }),
            );
        }
    }

    fn zone_props(zone: Option<&Zone>) -> (String, Value) {
        match zone {
            Some(Zone::Name(z)) => ("AvailabilityZone".into(), Value::String(z.clone())),
            Some(Zone::Id(z)) => ("AvailabilityZoneId".into(), Value::String(z.clone())),
            // No zone in the spec: every subnet in the region's first zone, so EFA groups
            // stay in one zone.
            None => (
                "AvailabilityZone".into(),
                json!({ "Fn::Select": [0, { "Fn::GetAZs": "" }] }),
            ),
        }
    }

    fn subnets(&mut self) {
        let c = self.c;
        let created: Vec<&Subnet> = self.created_subnets().collect();
        let n = created.len();
        for (i, s) in created.iter().enumerate() {
            let id = self.subnet_id[&s.key].clone();
            let rt = self.rtb_id[&s.route_table].clone();
            let users: Vec<&str> = c
                .node_groups
                .iter()
                .filter(|ng| ng.subnets.contains(&s.key))
                .map(|ng| ng.name.as_str())
                .collect();
            let who = match users.len() {
                0 => String::new(),
                1 => format!(
                    " Node group {} launches here.",
                    crate::rules::and_list(&users)
                ),
                _ => format!(
                    " Node groups {} launch here.",
                    crate::rules::and_list(&users)
                ),
            };
            let cidr = match s.cidr {
                Some(x) => Value::String(x.to_string()),
                None => {
                    json!({ "Fn::Select": [i, { "Fn::Cidr": [{ "Fn::GetAtt": ["Vpc", "CidrBlock"] }, n.max(1), 8] }] })
                }
            };
            let (zk, zv) = Self::zone_props(s.zone.as_ref().or(c.zone.as_ref()));
            let mut props = Map::new();
            props.insert("VpcId".into(), self.vpc.clone());
            props.insert("CidrBlock".into(), cidr);
            props.insert(zk, zv);
            props.insert(
                "MapPublicIpOnLaunch".into(),
                Value::Bool(s.map_public_ip_on_launch),
            );
            props.insert("Tags".into(), self.tags(&s.key));
            self.put(
                &id,
                "AWS::EC2::Subnet",
                Some(format!(
                    "Subnet `{}` ({}): {}.{who}",
                    s.key,
                    s.internet.name(),
                    route_words(s.internet)
                )),
                Value::Object(props),
            );
            self.route_table(&id, &rt, s.internet, &s.key);
            self.output(
                &format!("{id}Id"),
                format!(
                    "Subnet `{}` (placeholder EFACTL_SUBNET_{} of the other renderings).",
                    s.key,
                    var_part(&s.key)
                ),
                r(&id),
            );
        }
        if let Some((id, cidr)) = self.nat_subnet.clone() {
            let zone = created
                .iter()
                .find(|s| s.internet == Internet::Nat)
                .and_then(|s| s.zone.clone())
                .or_else(|| c.zone.clone());
            let (zk, zv) = Self::zone_props(zone.as_ref());
            let mut props = Map::new();
            props.insert("VpcId".into(), self.vpc.clone());
            props.insert("CidrBlock".into(), Value::String(cidr.to_string()));
            props.insert(zk, zv);
            props.insert("MapPublicIpOnLaunch".into(), Value::Bool(false));
            props.insert("Tags".into(), self.tags("nat"));
            self.put(
                &id,
                "AWS::EC2::Subnet",
                Some(format!(
                    "Not in the spec: a small public subnet ({cidr}, the highest free /28 of the VPC) that only holds the NAT gateway, because the spec asks for `internet: nat` but has no public subnet to put one in. No node launches here."
                )),
                Value::Object(props),
            );
            let rt = self.ids.claim(&format!("{id}RouteTable"));
            self.route_table(&id, &rt, Internet::Public, "nat");
        }
        if let (Some(Value::Object(nat)), true) = (self.nat.clone(), self.vpc_created()) {
            let nat_id = nat["Ref"].as_str().unwrap_or("NatGateway").to_string();
            let home = created
                .iter()
                .find(|s| s.internet == Internet::Public)
                .map(|s| self.subnet_id[&s.key].clone())
                .or_else(|| self.nat_subnet.as_ref().map(|(id, _)| id.clone()));
            if let Some(home) = home {
                self.put_with(
                    "NatGatewayEip",
                    "AWS::EC2::EIP",
                    Some("The NAT gateway's public address.".into()),
                    json!({ "Domain": "vpc", "Tags": self.tags("nat") }),
                    [("DependsOn".to_string(), json!("InternetGatewayAttachment"))]
                        .into_iter()
                        .collect(),
                );
                let nat_users: Vec<&str> = created
                    .iter()
                    .filter(|s| s.internet == Internet::Nat)
                    .map(|s| s.key.as_str())
                    .collect();
                self.put(
                    &nat_id,
                    "AWS::EC2::NatGateway",
                    Some(format!(
                        "Outbound-only internet for subnet{} {} (`internet: nat`): packages, the EFA installer, AWS APIs, with nothing reachable from outside.",
                        if nat_users.len() == 1 { "" } else { "s" },
                        crate::rules::and_list(&nat_users)
                    )),
                    json!({
                        "AllocationId": att("NatGatewayEip", "AllocationId"),
                        "SubnetId": r(&home),
                        "Tags": self.tags("nat"),
                    }),
                );
            }
        }
    }

    fn route_table(&mut self, subnet_id: &str, rt: &str, internet: Internet, name: &str) {
        self.put(
            rt,
            "AWS::EC2::RouteTable",
            Some(format!(
                "Routes of subnet `{name}`: {}.",
                route_words(internet)
            )),
            json!({ "VpcId": self.vpc.clone(), "Tags": self.tags(&format!("{name}-rt")) }),
        );
        let assoc = self.ids.claim(&format!("{rt}Association"));
        self.put(
            &assoc,
            "AWS::EC2::SubnetRouteTableAssociation",
            Some(format!("Gives subnet `{name}` its route table.")),
            json!({ "SubnetId": r(subnet_id), "RouteTableId": r(rt) }),
        );
        let (target_key, target, depends) = match internet {
            Internet::Public => (
                "GatewayId",
                self.igw.clone(),
                self.vpc_created()
                    .then(|| json!("InternetGatewayAttachment")),
            ),
            Internet::Nat => ("NatGatewayId", self.nat.clone(), None),
            Internet::None => return,
        };
        let Some(target) = target else { return };
        let route = self.ids.claim(&format!("{rt}DefaultRoute"));
        let mut attrs = Map::new();
        if let Some(d) = depends {
            attrs.insert("DependsOn".into(), d);
        }
        self.put_with(
            &route,
            "AWS::EC2::Route",
            Some(format!("Subnet `{name}`: {}.", route_words(internet))),
            json!({
                "RouteTableId": r(rt),
                "DestinationCidrBlock": "0.0.0.0/0",
                target_key: target,
            }),
            attrs,
        );
    }

    // ---------------------------------------------------------------- security groups

    fn security_groups(&mut self) {
        let c = self.c;
        for sg in self.created_groups().collect::<Vec<_>>() {
            let id = self.sg_id[&sg.key].clone();
            let users = crate::rules::sg_users(c, &sg.key);
            let why = if sg.key == crate::resolve::ENDPOINT_SG {
                "the interface VPC endpoints: HTTPS (TCP 443) in from the nodes' security groups, nothing else".to_string()
            } else if users.is_empty() {
                "declared in the spec".to_string()
            } else {
                users.join(", ")
            };
            let self_rules =
                crate::rules::has_self_rule(sg, false) && crate::rules::has_self_rule(sg, true);
            let efa = if self_rules {
                ". All traffic in from and out to itself, which EFA requires"
            } else {
                ""
            };
            let keeps_default = sg.egress.iter().any(is_aws_default_egress);
            let mut props = Map::new();
            props.insert(
                "GroupName".into(),
                Value::String(format!("{}-{}", c.name, sg.name)),
            );
            props.insert(
                "GroupDescription".into(),
                Value::String(sg_text(&format!(
                    "efactl {}: security group {} for {why}{efa}",
                    c.name, sg.name
                ))),
            );
            props.insert("VpcId".into(), self.vpc.clone());
            if !keeps_default {
                // CloudFormation removes AWS's default egress (all traffic to 0.0.0.0/0)
                // only when egress rules are given inline, and an inline rule cannot refer to
                // its own group. So: one inline rule that lets nothing leave the host (AWS's
                // documented way to drop the default), and the real rules as resources below.
                props.insert(
                    "SecurityGroupEgress".into(),
                    json!([{
                        "IpProtocol": "-1",
                        "CidrIp": "127.0.0.1/32",
                        "Description": "Removes the default egress to 0.0.0.0/0: the separate egress rules of this group are its only ones"
                    }]),
                );
            }
            props.insert("Tags".into(), self.tags(&sg.name));
            self.put(&id, "AWS::EC2::SecurityGroup", None, Value::Object(props));
            self.output(
                &format!("{id}Id"),
                format!(
                    "Security group `{}` (placeholder EFACTL_SG_{}).",
                    sg.name,
                    var_part(&sg.key)
                ),
                r(&id),
            );
            let mut counts: HashMap<String, u32> = HashMap::new();
            for rule in &sg.ingress {
                self.sg_rule(sg, &id, rule, true, &mut counts);
            }
            for rule in sg.egress.iter().filter(|r| !is_aws_default_egress(r)) {
                self.sg_rule(sg, &id, rule, false, &mut counts);
            }
        }
    }

    /// The VPC's default group, when something in the cluster uses it.
    fn default_group_output(&mut self) {
        let used = self
            .c
            .security_group(DEFAULT_SG)
            .is_some_and(|sg| sg.id.is_none())
            && !crate::rules::sg_users(self.c, DEFAULT_SG).is_empty();
        if used {
            let v = self.sg_value(DEFAULT_SG);
            self.output(
                "DefaultSecurityGroupId",
                "The VPC's default security group, which the spec leaves some resources in (placeholder EFACTL_SG_DEFAULT).".into(),
                v,
            );
        }
    }

    fn sg_rule(
        &mut self,
        sg: &SecurityGroup,
        group_id: &str,
        rule: &SgRule,
        ingress: bool,
        counts: &mut HashMap<String, u32>,
    ) {
        let dir = if ingress { "Ingress" } else { "Egress" };
        let (peer_word, peer_key, peer_value, peer_text) = match &rule.peer {
            Peer::Group(k) if *k == sg.key => (
                "Self".to_string(),
                if ingress {
                    "SourceSecurityGroupId"
                } else {
                    "DestinationSecurityGroupId"
                },
                r(group_id),
                "this group itself".to_string(),
            ),
            Peer::Group(k) => {
                let name = self
                    .c
                    .security_group(k)
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| k.clone());
                (
                    format!(
                        "{}{}",
                        if ingress { "From" } else { "To" },
                        logical_id(&name)
                    ),
                    if ingress {
                        "SourceSecurityGroupId"
                    } else {
                        "DestinationSecurityGroupId"
                    },
                    self.sg_value(k),
                    format!("group {name}"),
                )
            }
            Peer::Cidr(c) => {
                let n = counts.entry(format!("{dir}Cidr")).or_insert(0);
                *n += 1;
                (
                    format!("Cidr{n}"),
                    match (ingress, c.addr.is_ipv4()) {
                        (_, true) => "CidrIp",
                        (_, false) => "CidrIpv6",
                    },
                    Value::String(c.to_string()),
                    c.to_string(),
                )
            }
            Peer::PrefixList(p) => (
                "PrefixList".to_string(),
                if ingress {
                    "SourcePrefixListId"
                } else {
                    "DestinationPrefixListId"
                },
                Value::String(p.clone()),
                format!("prefix list {p}"),
            ),
        };
        let ports_word = match &rule.protocol {
            Protocol::All => String::new(),
            Protocol::Tcp => "Tcp".into(),
            Protocol::Udp => "Udp".into(),
            Protocol::Icmp => "Icmp".into(),
            Protocol::Other(n) => format!("Proto{n}"),
        };
        let ports_word = match (&rule.protocol, rule.ports) {
            (Protocol::Tcp | Protocol::Udp, Some(p)) if p.from == p.to => {
                format!("{ports_word}{}", p.from)
            }
            (Protocol::Tcp | Protocol::Udp, Some(p)) => {
                format!("{ports_word}{}To{}", p.from, p.to)
            }
            _ => ports_word,
        };
        let id = self
            .ids
            .claim(&format!("{group_id}{dir}{peer_word}{ports_word}"));
        let traffic = crate::rules::traffic_label(&rule.protocol, rule.ports);
        let purpose = rule_purpose(rule, rule.peer == Peer::Group(sg.key.clone()));
        let mut traffic = traffic;
        if let Some(first) = traffic.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        let description = sg_text(&format!(
            "{traffic} {} {peer_text}{purpose}",
            if ingress { "in from" } else { "out to" }
        ));
        let mut props = Map::new();
        props.insert("GroupId".into(), r(group_id));
        protocol_props(rule, &mut props);
        props.insert(peer_key.into(), peer_value);
        props.insert("Description".into(), Value::String(description));
        self.put(
            &id,
            if ingress {
                "AWS::EC2::SecurityGroupIngress"
            } else {
                "AWS::EC2::SecurityGroupEgress"
            },
            None,
            Value::Object(props),
        );
    }

    // ---------------------------------------------------------------- endpoints

    fn endpoints(&mut self) {
        let c = self.c;
        for e in &c.endpoints {
            let id = self
                .ids
                .claim(&format!("{}Endpoint", logical_id(&e.service)));
            let mut props = Map::new();
            props.insert("VpcId".into(), self.vpc.clone());
            props.insert(
                "ServiceName".into(),
                sub(&format!("com.amazonaws.${{AWS::Region}}.{}", e.service)),
            );
            let why = match e.kind {
                EndpointType::Interface => {
                    props.insert("VpcEndpointType".into(), json!("Interface"));
                    // One network interface per zone: EC2 refuses two subnets of one zone.
                    let mut zones: Vec<Option<Zone>> = Vec::new();
                    let mut subnets = Vec::new();
                    for k in &e.subnets {
                        let z = c
                            .subnet(k)
                            .and_then(|s| s.zone.clone().or_else(|| c.zone.clone()));
                        if z.is_some() && zones.contains(&z) {
                            continue;
                        }
                        zones.push(z);
                        subnets.push(self.subnet_value(k));
                    }
                    props.insert("SubnetIds".into(), Value::Array(subnets));
                    let sgs = self.sg_values(&e.security_groups);
                    props.insert("SecurityGroupIds".into(), Value::Array(sgs));
                    props.insert("PrivateDnsEnabled".into(), Value::Bool(e.private_dns));
                    format!(
                        "Interface endpoint for {}: nodes in subnet{} {} have no route to the internet and reach {} here{}.",
                        e.service,
                        if e.subnets.len() == 1 { "" } else { "s" },
                        crate::rules::and_list(&e.subnets),
                        e.service,
                        if e.private_dns { " under its usual name (private DNS)" } else { "" }
                    )
                }
                EndpointType::Gateway => {
                    props.insert("VpcEndpointType".into(), json!("Gateway"));
                    let rts: Vec<Value> = e
                        .route_tables
                        .iter()
                        .map(|k| self.route_table_value(k))
                        .collect();
                    props.insert("RouteTableIds".into(), Value::Array(rts));
                    let subnets: Vec<&str> = c
                        .subnets
                        .iter()
                        .filter(|s| e.route_tables.contains(&s.route_table))
                        .map(|s| s.key.as_str())
                        .collect();
                    format!(
                        "Gateway endpoint for {}: a route to {} on the route table{} of subnet{} {}, which {} no internet.",
                        e.service,
                        e.service,
                        if subnets.len() == 1 { "" } else { "s" },
                        if subnets.len() == 1 { "" } else { "s" },
                        crate::rules::and_list(&subnets),
                        if subnets.len() == 1 { "has" } else { "have" }
                    )
                }
            };
            props.insert("Tags".into(), self.tags(&format!("{}-endpoint", e.service)));
            self.put(
                &id,
                "AWS::EC2::VPCEndpoint",
                Some(why),
                Value::Object(props),
            );
        }
    }

    // ---------------------------------------------------------------- placement

    fn placement_groups(&mut self) {
        let c = self.c;
        for pg in c.placement_groups.iter().filter(|p| p.managed) {
            let Some(id) = self.pg_id.get(&pg.key).cloned() else {
                continue;
            };
            let users: Vec<&str> = c
                .node_groups
                .iter()
                .filter(|ng| ng.placement_group.as_deref() == Some(pg.key.as_str()))
                .map(|ng| ng.name.as_str())
                .collect();
            self.put(
                &id,
                "AWS::EC2::PlacementGroup",
                Some(format!(
                    "{} placement group for node group{} {}: EFA's latency and bandwidth assume the nodes sit close together in one zone.",
                    match pg.strategy {
                        PlacementStrategy::Cluster => "Cluster",
                        PlacementStrategy::Spread => "Spread",
                        PlacementStrategy::Partition => "Partition",
                    },
                    if users.len() == 1 { "" } else { "s" },
                    crate::rules::and_list(&users)
                )),
                json!({
                    "GroupName": pg.name,
                    "Strategy": pg.strategy.name(),
                    "Tags": self.tags(&pg.name),
                }),
            );
            let vars: Vec<String> = users
                .iter()
                .map(|u| format!("EFACTL_PLACEMENT_GROUP_{}", var_part(u)))
                .collect();
            self.output(
                &format!("{id}Name"),
                format!(
                    "Placement group `{}` (placeholder {}).",
                    pg.name,
                    vars.join(", ")
                ),
                r(&id),
            );
        }
    }

    // ---------------------------------------------------------------- secrets and IAM

    fn secrets(&mut self) {
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

    fn roles(&mut self) {
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

    // ---------------------------------------------------------------- storage

    fn file_systems(&mut self) -> Result<(), RenderError> {
        let c = self.c;
        for fs in &c.file_systems {
            let Some(id) = self.fs_id.get(&fs.key).cloned() else {
                continue;
            };
            let capacity = fs.capacity_gib.unwrap_or(1200);
            if capacity != 1200 && capacity % 2400 != 0 {
                return Err(RenderError::Unsupported(format!(
                    "file system `{}`: FSx for Lustre PERSISTENT_2 takes 1200 GiB or a multiple of 2400 GiB, not {capacity}",
                    fs.key
                )));
            }
            let sgs = self.sg_values(&fs.security_groups);
            self.put_with(
                &id,
                "AWS::FSx::FileSystem",
                Some(format!(
                    "FSx for Lustre `{}` ({capacity} GiB, mounted at {}), in subnet `{}` beside the nodes: reads and checkpoints stay in one zone. Retained when the stack is deleted, so that deleting the cluster never deletes its data.",
                    fs.key, fs.mount_path, fs.subnet
                )),
                json!({
                    "FileSystemType": "LUSTRE",
                    "FileSystemTypeVersion": "2.15",
                    "StorageType": "SSD",
                    "StorageCapacity": capacity,
                    "SubnetIds": [self.subnet_value(&fs.subnet)],
                    "SecurityGroupIds": sgs,
                    "LustreConfiguration": {
                        "DeploymentType": "PERSISTENT_2",
                        "PerUnitStorageThroughput": 250,
                        "DataCompressionType": "LZ4"
                    },
                    "Tags": self.tags(&fs.key),
                }),
                [
                    ("DeletionPolicy".to_string(), json!("Retain")),
                    ("UpdateReplacePolicy".to_string(), json!("Retain")),
                ]
                .into_iter()
                .collect(),
            );
            self.output(
                &format!("{id}Id"),
                format!("File system `{}`.", fs.key),
                r(&id),
            );
            // The HyperPod rendering takes the first Lustre file system's names.
            let first = c
                .file_systems
                .iter()
                .find(|f| f.kind == StorageKind::FsxLustre)
                .is_some_and(|f| f.key == fs.key);
            let ph = |name: &str| {
                if first {
                    format!(" (placeholder {name})")
                } else {
                    String::new()
                }
            };
            self.output(
                &format!("{id}DnsName"),
                format!(
                    "DNS name of file system `{}`{}.",
                    fs.key,
                    ph("EFACTL_FSX_DNS_NAME")
                ),
                att(&id, "DNSName"),
            );
            self.output(
                &format!("{id}MountName"),
                format!(
                    "Lustre mount name of file system `{}`{}.",
                    fs.key,
                    ph("EFACTL_FSX_MOUNT_NAME")
                ),
                att(&id, "LustreMountName"),
            );
        }
        Ok(())
    }

    // ---------------------------------------------------------------- node groups

    fn node_groups(&mut self) {
        if self.nodes == Nodes::None {
            return;
        }
        let c = self.c;
        for ng in &c.node_groups {
            let (lt, asg, img) = self.ng_id[&ng.name].clone();
            let t = ng.instance_type();
            match &ng.ami {
                Some(ami) => self.param(
                    &img,
                    json!({
                        "Type": "AWS::EC2::Image::Id",
                        "Default": ami,
                        "Description": format!("AMI of node group `{}` ({t}), as the spec names it.", ng.name)
                    }),
                ),
                None => {
                    let (path, what) = default_image(c.target, t, self.catalog);
                    let hint = if c.target == Target::Batch {
                        "AWS Batch container instances need the ECS agent"
                    } else {
                        "the bootstrap installs the EFA software when the AMI lacks it; pass an AMI with the accelerator drivers and EFA (a Deep Learning AMI, or an EKS-optimized AMI for EKS nodes) to skip that"
                    };
                    self.param(
                        &img,
                        json!({
                            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                            "Default": path,
                            "Description": format!("AMI of node group `{}` ({t}): the spec names none, so {what} (a public SSM parameter); {hint}.", ng.name)
                        }),
                    );
                }
            }
            self.launch_template(ng, &lt, &img);
            if self.nodes == Nodes::Launch {
                self.auto_scaling_group(ng, &lt, &asg);
            }
        }
    }

    fn launch_template(&mut self, ng: &NodeGroup, lt: &str, img: &str) {
        let c = self.c;
        let single = ng.interfaces.len() == 1;
        let mut nics = Vec::new();
        for n in &ng.interfaces {
            let mut m = Map::new();
            m.insert("DeviceIndex".into(), json!(n.device_index));
            m.insert("NetworkCardIndex".into(), json!(n.network_card));
            m.insert("InterfaceType".into(), json!(n.kind.name()));
            let groups = self.sg_values(&n.security_groups);
            m.insert("Groups".into(), Value::Array(groups));
            if single && ng.public_ip {
                m.insert("AssociatePublicIpAddress".into(), Value::Bool(true));
            }
            m.insert("DeleteOnTermination".into(), Value::Bool(true));
            nics.push(Value::Object(m));
        }
        let mut data = Map::new();
        data.insert("InstanceType".into(), json!(ng.instance_type()));
        data.insert("ImageId".into(), r(img));
        if let Some(role) = &ng.instance_role {
            if let Some(pid) = self.profile_id.get(role) {
                data.insert(
                    "IamInstanceProfile".into(),
                    json!({ "Arn": att(pid, "Arn") }),
                );
            }
        }
        data.insert("NetworkInterfaces".into(), Value::Array(nics));
        if let Some(pg) = &ng.placement_group {
            data.insert(
                "Placement".into(),
                json!({ "GroupName": self.pg_value(pg) }),
            );
        }
        match &ng.capacity {
            Capacity::Reservation { id, .. } => {
                data.insert(
                    "CapacityReservationSpecification".into(),
                    json!({ "CapacityReservationTarget": { "CapacityReservationId": id } }),
                );
            }
            Capacity::CapacityBlock { id } => {
                data.insert(
                    "InstanceMarketOptions".into(),
                    json!({ "MarketType": "capacity-block" }),
                );
                data.insert(
                    "CapacityReservationSpecification".into(),
                    json!({ "CapacityReservationTarget": { "CapacityReservationId": id } }),
                );
            }
            Capacity::OnDemand | Capacity::Spot => {}
        }
        // Containers (EKS pods, Batch jobs) reach IMDS one hop further than the host.
        let hops = if matches!(c.scheduler, Scheduler::Kubernetes | Scheduler::Batch)
            || c.target == Target::Batch
        {
            2
        } else {
            1
        };
        data.insert(
            "MetadataOptions".into(),
            json!({ "HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": hops }),
        );
        let script = super::bootstrap::script(c, self.catalog, ng);
        let (user_data, compressed) = user_data(&script, c.target == Target::Batch);
        data.insert("UserData".into(), user_data);
        let tags = self.tags(&ng.name);
        data.insert(
            "TagSpecifications".into(),
            json!([
                { "ResourceType": "instance", "Tags": tags },
                { "ResourceType": "volume", "Tags": tags },
                { "ResourceType": "network-interface", "Tags": tags },
            ]),
        );
        let efa = ng.efa_count();
        let layout = if efa == 0 {
            "one ENA interface, no EFA".to_string()
        } else {
            format!(
                "{} interface{} per node, {efa} of them EFA, one per network card",
                ng.interfaces.len(),
                if ng.interfaces.len() == 1 { "" } else { "s" }
            )
        };
        let launched_by = match self.nodes {
            Nodes::TemplatesOnly => "the AWS Batch compute environment launches from it",
            _ => "its Auto Scaling group launches from it",
        };
        let name: String = format!("{}-{}", c.name, ng.name)
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || "().-/_".contains(ch) {
                    ch
                } else {
                    '-'
                }
            })
            .collect();
        self.put(
            lt,
            "AWS::EC2::LaunchTemplate",
            None,
            json!({
                "LaunchTemplateName": truncate(name, 128),
                "VersionDescription": truncate(format!(
                    "Node group {} ({}): {layout}; {launched_by}; IMDSv2 only.{}",
                    ng.name,
                    ng.instance_type(),
                    if compressed {
                        " User data gzip-compressed: the bootstrap is over EC2's 16 KB limit; cloud-init decompresses it."
                    } else {
                        ""
                    }
                ), 255),
                "LaunchTemplateData": Value::Object(data),
                "TagSpecifications": [{ "ResourceType": "launch-template", "Tags": self.tags(&ng.name) }],
            }),
        );
        self.output(
            &format!("{lt}Id"),
            format!(
                "Launch template of node group `{}` (placeholder EFACTL_LAUNCH_TEMPLATE_ID_{}).",
                ng.name,
                var_part(&ng.name)
            ),
            r(lt),
        );
    }

    fn auto_scaling_group(&mut self, ng: &NodeGroup, lt: &str, asg: &str) {
        let c = self.c;
        let spec = json!({ "LaunchTemplateId": r(lt), "Version": att(lt, "LatestVersionNumber") });
        let mut props = Map::new();
        props.insert("MinSize".into(), json!(ng.count.to_string()));
        props.insert(
            "MaxSize".into(),
            json!(ng.max_count.max(ng.count).to_string()),
        );
        props.insert("DesiredCapacity".into(), json!(ng.count.to_string()));
        let subnets: Vec<Value> = ng.subnets.iter().map(|s| self.subnet_value(s)).collect();
        props.insert("VPCZoneIdentifier".into(), Value::Array(subnets));
        let spot = matches!(ng.capacity, Capacity::Spot);
        if ng.instance_types.len() > 1 || spot {
            let mut mip = Map::new();
            let overrides: Vec<Value> = ng
                .instance_types
                .iter()
                .map(|t| json!({ "InstanceType": t }))
                .collect();
            mip.insert(
                "LaunchTemplate".into(),
                json!({ "LaunchTemplateSpecification": spec, "Overrides": overrides }),
            );
            if spot {
                mip.insert(
                    "InstancesDistribution".into(),
                    json!({ "OnDemandPercentageAboveBaseCapacity": 0, "SpotAllocationStrategy": "capacity-optimized" }),
                );
            }
            props.insert("MixedInstancesPolicy".into(), Value::Object(mip));
        } else {
            props.insert("LaunchTemplate".into(), spec);
        }
        if let Some(pg) = &ng.placement_group {
            props.insert("PlacementGroup".into(), self.pg_value(pg));
        }
        let tags: Vec<Value> = match self.tags(&ng.name) {
            Value::Array(t) => t
                .into_iter()
                .map(|mut x| {
                    // The launch template tags the instances; the group's own tags stay on it.
                    x["PropagateAtLaunch"] = Value::Bool(false);
                    x
                })
                .collect(),
            _ => Vec::new(),
        };
        props.insert("Tags".into(), Value::Array(tags));
        let capacity = match &ng.capacity {
            Capacity::OnDemand => "on-demand".to_string(),
            Capacity::Spot => "spot".to_string(),
            Capacity::Reservation { id, .. } => format!("reservation {id}"),
            Capacity::CapacityBlock { id } => format!("capacity block {id}"),
        };
        self.put(
            asg,
            "AWS::AutoScaling::AutoScalingGroup",
            Some(format!(
                "Node group `{}`: {} × {} ({capacity}) in subnet{} {}{}; up to {}.",
                ng.name,
                ng.count,
                ng.instance_type(),
                if ng.subnets.len() == 1 { "" } else { "s" },
                crate::rules::and_list(&ng.subnets),
                match &ng.placement_group {
                    Some(pg) => format!(
                        ", in placement group {}",
                        c.placement_group(pg).map(|p| p.name.as_str()).unwrap_or(pg)
                    ),
                    None => String::new(),
                },
                ng.max_count.max(ng.count)
            )),
            Value::Object(props),
        );
        self.output(
            &format!("{asg}Name"),
            format!("Auto Scaling group of node group `{}`.", ng.name),
            r(asg),
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

/// `IpProtocol` and, where the protocol has them, `FromPort` / `ToPort` of a rule.
fn protocol_props(rule: &SgRule, props: &mut Map<String, Value>) {
    let proto = match &rule.protocol {
        Protocol::All => json!("-1"),
        Protocol::Tcp => json!("tcp"),
        Protocol::Udp => json!("udp"),
        Protocol::Icmp => json!("icmp"),
        Protocol::Other(n) => json!(n.to_string()),
    };
    props.insert("IpProtocol".into(), proto);
    match (&rule.protocol, rule.ports) {
        (Protocol::Tcp | Protocol::Udp, Some(p)) => {
            props.insert("FromPort".into(), json!(p.from));
            props.insert("ToPort".into(), json!(p.to));
        }
        (Protocol::Tcp | Protocol::Udp, None) => {
            props.insert("FromPort".into(), json!(0));
            props.insert("ToPort".into(), json!(65535));
        }
        (Protocol::Icmp, _) => {
            props.insert("FromPort".into(), json!(-1));
            props.insert("ToPort".into(), json!(-1));
        }
        _ => {}
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

/// Why a rule exists, for its description.
fn rule_purpose(rule: &SgRule, is_self: bool) -> &'static str {
    let port = |p: u16| {
        rule.protocol == Protocol::Tcp && rule.ports.is_some_and(|r| r.from <= p && p <= r.to)
    };
    if is_self && rule.is_all_traffic() {
        ": EFA requires all traffic to and from the group itself"
    } else if port(988) || port(1018) {
        ": Lustre"
    } else if port(443) {
        ": HTTPS"
    } else if port(22) {
        ": SSH"
    } else {
        ""
    }
}

/// EC2 takes at most 16 KB of user data, counted before base64.
pub const USER_DATA_LIMIT: usize = 16 * 1024;

/// A launch template's `UserData` for the bootstrap script, and whether it had to be
/// compressed. The script as it is, when it fits EC2's limit (readable in the template); else
/// gzip-compressed, which cloud-init decompresses: the whole user data (written as base64,
/// since CloudFormation's `Fn::Base64` takes text only), or for AWS Batch, which needs MIME
/// multi-part user data to merge its own part in, one `application/x-gzip` part.
fn user_data(script: &str, batch: bool) -> (Value, bool) {
    let plain = if batch {
        mime_wrap(script)
    } else {
        script.to_string()
    };
    if plain.len() <= USER_DATA_LIMIT {
        return (json!({ "Fn::Base64": plain }), false);
    }
    let packed = base64(&gzip(script.as_bytes()));
    if batch {
        let mut lines = String::new();
        for chunk in packed.as_bytes().chunks(76) {
            lines.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            lines.push('\n');
        }
        (
            json!({ "Fn::Base64": format!(
                "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"==EFACTL==\"\n\n--==EFACTL==\nContent-Type: application/x-gzip\nContent-Transfer-Encoding: base64\n\n{lines}--==EFACTL==--\n"
            ) }),
            true,
        )
    } else {
        (Value::String(packed), true)
    }
}

/// gzip with no file name and time 0, so that the same script gives the same bytes.
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = B64.iter().position(|x| *x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The bootstrap script a launch template's `UserData` carries, in any of the forms
/// [`user_data`] writes (plain, gzip, MIME with either), and the user data's size before
/// base64, which EC2 limits to [`USER_DATA_LIMIT`].
pub fn user_data_script(v: &Value) -> Option<(String, usize)> {
    use std::io::Read;
    let gunzip = |b: &[u8]| -> Option<String> {
        let mut s = String::new();
        flate2::read::GzDecoder::new(b)
            .read_to_string(&mut s)
            .ok()?;
        Some(s)
    };
    let (raw, size) = match v {
        Value::String(packed) => {
            let bytes = unbase64(packed)?;
            (gunzip(&bytes)?, bytes.len())
        }
        _ => {
            let text = v.get("Fn::Base64")?.as_str()?;
            (text.to_string(), text.len())
        }
    };
    if !raw.starts_with("MIME-Version:") {
        return Some((raw, size));
    }
    let (_, part) = raw.split_once("\n--==EFACTL==\n")?;
    let (headers, body) = part.split_once("\n\n")?;
    let body = body.strip_suffix("--==EFACTL==--\n")?;
    if headers.contains("application/x-gzip") {
        Some((gunzip(&unbase64(body)?)?, size))
    } else {
        Some((body.to_string(), size))
    }
}

/// AWS Batch takes a launch template's user data only as a MIME multi-part archive (its own
/// part joins the instance to the ECS cluster).
fn mime_wrap(script: &str) -> String {
    format!(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"==EFACTL==\"\n\n--==EFACTL==\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n{}{}--==EFACTL==--\n",
        script,
        if script.ends_with('\n') { "" } else { "\n" }
    )
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
    fn security_group_text_keeps_only_what_ec2_allows() {
        assert_eq!(
            sg_text("a `b` 'c' é <d>, the nodes' groups"),
            "a b c d , the nodes groups"
        );
    }

    #[test]
    fn the_placeholder_holds_no_key_and_never_changes() {
        let p = secret_placeholder("s");
        let v: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v[PRIVATE_KEY_FIELD], "");
        assert_eq!(v[PUBLIC_KEY_FIELD], "");
        assert!(!p.contains(crate::VERSION) || crate::VERSION.is_empty());
    }

    #[test]
    fn base64_round_trips_and_big_scripts_are_compressed() {
        for s in ["", "a", "ab", "abc", "abcd", "hello world\n"] {
            assert_eq!(unbase64(&base64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        let small = "#!/bin/bash\necho hi\n";
        let big: String = std::iter::once("#!/bin/bash\n".to_string())
            .chain((0..3000).map(|i| format!("echo line {i}\n")))
            .collect();
        for batch in [false, true] {
            let (v, packed) = user_data(small, batch);
            assert!(!packed);
            assert_eq!(user_data_script(&v).unwrap().0, small);
            let (v, packed) = user_data(&big, batch);
            assert!(packed, "{} bytes", big.len());
            let (back, size) = user_data_script(&v).unwrap();
            assert_eq!(back, big);
            assert!(size <= USER_DATA_LIMIT, "{size}");
            assert_eq!(user_data(&big, batch).0, v, "deterministic");
        }
    }

    #[test]
    fn mime_parts_end_with_the_boundary() {
        let m = mime_wrap("#!/bin/bash\necho hi");
        assert!(m.contains("text/x-shellscript"));
        assert!(m.ends_with("echo hi\n--==EFACTL==--\n"));
    }
}
