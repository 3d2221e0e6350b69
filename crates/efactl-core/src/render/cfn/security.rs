//! Security groups and their rules: one `AWS::EC2::SecurityGroup` per group the spec creates,
//! its rules as separate `SecurityGroupIngress` / `SecurityGroupEgress` resources (so that groups
//! may refer to each other and to themselves), the VPC default group's output, and the
//! `Metadata.efactl.existingSecurityGroups` record of groups used but not created.

use super::{att, logical_id, r, Builder};
use crate::model::*;
use crate::net::Cidr;
use crate::render::conventions::var_part;
use crate::resolve::DEFAULT_SG;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

impl<'a> Builder<'a> {
    pub(super) fn security_groups(&mut self) {
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
    pub(super) fn default_group_output(&mut self) {
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

    pub(super) fn sg_values(&mut self, keys: &[String]) -> Vec<Value> {
        keys.iter().map(|k| self.sg_value(k)).collect()
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
    pub(super) fn existing_groups_metadata(&self) -> Map<String, Value> {
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

fn is_aws_default_egress(rule: &SgRule) -> bool {
    rule.protocol == Protocol::All && matches!(&rule.peer, Peer::Cidr(c) if *c == Cidr::world_v4())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_group_text_keeps_only_what_ec2_allows() {
        assert_eq!(
            sg_text("a `b` 'c' é <d>, the nodes' groups"),
            "a b c d , the nodes groups"
        );
    }
}
