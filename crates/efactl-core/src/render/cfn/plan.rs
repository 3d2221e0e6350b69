//! Before anything is emitted: the refusals (what the template cannot express), the questions
//! every family asks of the model (which VPC, subnets, groups and roles the template creates),
//! and `Builder::assign_ids`, which hands out every logical id up front so that ids do not
//! depend on the order in which the resources are written.

use super::{logical_id, r, Builder, Nodes, MPI_SECRET_ID};
use crate::model::*;
use crate::net::Cidr;
use crate::render::RenderError;
use crate::resolve::DEFAULT_SG;
use serde_json::{json, Value};

impl<'a> Builder<'a> {
    pub(super) fn refuse_what_cannot_be_rendered(&self) -> Result<(), RenderError> {
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

    pub(super) fn created_groups(&self) -> impl Iterator<Item = &'a SecurityGroup> {
        self.c
            .security_groups
            .iter()
            .filter(|s| s.id.is_none() && s.key != DEFAULT_SG)
    }

    pub(super) fn vpc_created(&self) -> bool {
        self.c.vpc.id.is_none()
    }

    pub(super) fn created_subnets(&self) -> impl Iterator<Item = &'a Subnet> {
        self.c.subnets.iter().filter(|s| s.id.is_none())
    }

    /// Roles the template creates or gives an instance profile.
    pub(super) fn instance_role_keys(&self) -> Vec<&'a str> {
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
    pub(super) fn login_roles(&self) -> Vec<&'a str> {
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

    pub(super) fn assign_ids(&mut self) {
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
}
