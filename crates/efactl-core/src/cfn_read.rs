//! A CloudFormation template (YAML with or without short-form tags such as `!Ref`, or JSON)
//! read into the [`Cluster`] model, so that the same rules that check a spec check a
//! template: one efactl rendered, or one a user already has (a HyperPod VPC quickstart, an
//! EKS node group stack).
//!
//! The reader models what CloudFormation and EC2 would create from the template with its
//! default parameters: a security group without inline `SecurityGroupEgress` keeps AWS's
//! default egress (all traffic to 0.0.0.0/0), `AWS::EC2::SecurityGroupIngress`/`Egress`
//! resources add rules to the group their `GroupId` names (`Ref` or `GetAtt ...GroupId`), a
//! subnet's internet comes from the default route of its route table, and so on. Model objects
//! are keyed by logical id, and their origins are template paths (`Resources.EfaSecurityGroup`),
//! so findings point at the template through its source map.
//!
//! Launch templates become node groups (with the counts of the Auto Scaling groups that use
//! them). A template that launches no instances itself (HyperPod, ParallelCluster and Batch
//! launch them) still has security groups meant for EFA: a group with an all-traffic rule to or
//! from itself, or one whose name or description says EFA. For each such group that no EFA
//! interface of the template carries, the reader adds a stand-in node group with one EFA
//! interface in that group, so that the EFA security-group rules check it.

use crate::finding::{Category, Finding, Severity, Subject};
use crate::model::*;
use crate::net::Cidr;
use crate::spec::{diag, SourceMap};
use crate::yaml::{self, Kind, Node};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// The result of reading a template.
#[derive(Debug, Clone)]
pub struct TemplateRead {
    pub cluster: Option<Cluster>,
    pub source: SourceMap,
    pub findings: Vec<Finding>,
    /// Model path (`Resources.Lt.instanceType`) -> the template path that holds it
    /// (`Resources.Lt.Properties.LaunchTemplateData.InstanceType`).
    pub aliases: HashMap<String, String>,
}

impl TemplateRead {
    /// The template path a finding's model path stands for: its alias, else the nearest
    /// enclosing path that is written in the template.
    pub fn template_path(&self, path: &str) -> String {
        if let Some(a) = self.aliases.get(path) {
            return a.clone();
        }
        let mut p = path;
        loop {
            if self.source.contains(p) {
                return p.to_string();
            }
            match p.rfind(['.', '[']) {
                Some(cut) => p = &p[..cut],
                None => return path.to_string(),
            }
        }
    }
}

/// Is this text a CloudFormation template rather than a cluster spec? A YAML or JSON mapping
/// with `AWSTemplateFormatVersion` or `Resources` at the top, and no `apiVersion`.
pub fn looks_like_template(text: &str) -> bool {
    let Ok(Some(root)) = yaml::parse(text) else {
        return false;
    };
    let Kind::Map(entries) = &root.kind else {
        return false;
    };
    let has = |k: &str| {
        entries
            .iter()
            .any(|(key, _)| matches!(&key.kind, Kind::Scalar { value, .. } if value == k))
    };
    (has("AWSTemplateFormatVersion") || has("Resources")) && !has("apiVersion")
}

/// The YAML tree as JSON, with short-form intrinsic functions in their long form
/// (`!Ref X` -> `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`).
pub fn to_json(n: &Node) -> Value {
    let inner = match &n.kind {
        Kind::Scalar { value, plain } => {
            if *plain && n.tag.is_none() {
                plain_scalar(value)
            } else {
                Value::String(value.clone())
            }
        }
        Kind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Kind::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                if let Kind::Scalar { value, .. } = &k.kind {
                    m.insert(value.clone(), to_json(v));
                }
            }
            Value::Object(m)
        }
    };
    let Some(tag) = n.tag.as_deref() else {
        return inner;
    };
    let Some(name) = tag.strip_prefix('!').filter(|t| !t.starts_with('!')) else {
        // Core-schema tags (`!!str`) only say how to read the scalar.
        return inner;
    };
    let mut m = Map::new();
    match name {
        "Ref" | "Condition" => {
            m.insert(name.into(), inner);
        }
        "GetAtt" => {
            let arg = match &inner {
                Value::String(s) => match s.split_once('.') {
                    Some((a, b)) => Value::Array(vec![a.into(), b.into()]),
                    None => inner.clone(),
                },
                _ => inner.clone(),
            };
            m.insert("Fn::GetAtt".into(), arg);
        }
        _ => {
            m.insert(format!("Fn::{name}"), inner);
        }
    }
    Value::Object(m)
}

/// A plain YAML scalar: a boolean, a number, null or a string (YAML 1.2 core schema).
fn plain_scalar(s: &str) -> Value {
    if let Some(b) = yaml::parse_bool(s) {
        return Value::Bool(b);
    }
    if matches!(s, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Value::from(i);
    }
    let numeric = s.chars().any(|c| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_digit() || ".eE+-".contains(c));
    if numeric {
        if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_string())
}

/// A value of the template after what can be evaluated is evaluated.
#[derive(Debug, Clone, PartialEq)]
enum V {
    S(String),
    L(Vec<V>),
    /// `Ref` to a resource of the template.
    Ref(String),
    /// `Ref` to a parameter without a default.
    Param(String),
    Att(String, String),
    Unknown,
}

impl V {
    fn s(&self) -> Option<&str> {
        match self {
            V::S(s) => Some(s),
            _ => None,
        }
    }
}

const MAX_EVAL_DEPTH: u32 = 32;

struct Doc<'t> {
    resources: &'t Map<String, Value>,
    params: Map<String, Value>,
    mappings: Map<String, Value>,
    conditions: Map<String, Value>,
    region: String,
    cond_cache: RefCell<HashMap<String, Option<bool>>>,
}

impl<'t> Doc<'t> {
    fn kind_of(&self, id: &str) -> Option<&'t str> {
        self.resources.get(id)?.get("Type")?.as_str()
    }

    fn props(&self, id: &str) -> Option<&'t Map<String, Value>> {
        self.resources.get(id)?.get("Properties")?.as_object()
    }

    fn prop(&self, id: &str, name: &str) -> Option<&'t Value> {
        self.props(id)?.get(name)
    }

    fn eval(&self, v: &Value) -> V {
        self.eval_d(v, 0)
    }

    fn eval_d(&self, v: &Value, d: u32) -> V {
        if d > MAX_EVAL_DEPTH {
            return V::Unknown;
        }
        match v {
            Value::String(s) => V::S(s.clone()),
            Value::Number(n) => V::S(n.to_string()),
            Value::Bool(b) => V::S(b.to_string()),
            Value::Null => V::Unknown,
            Value::Array(a) => V::L(a.iter().map(|x| self.eval_d(x, d + 1)).collect()),
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().expect("one entry");
                self.intrinsic(k, arg, d + 1)
            }
            Value::Object(_) => V::Unknown,
        }
    }

    fn intrinsic(&self, f: &str, arg: &Value, d: u32) -> V {
        let list = |v: &Value| -> Vec<V> {
            match self.eval_d(v, d) {
                V::L(items) => items,
                _ => Vec::new(),
            }
        };
        match f {
            "Ref" => arg.as_str().map_or(V::Unknown, |n| self.eval_ref(n, d)),
            "Fn::GetAtt" => {
                let (a, b) = match arg {
                    Value::String(s) => match s.split_once('.') {
                        Some((a, b)) => (a.to_string(), b.to_string()),
                        None => return V::Unknown,
                    },
                    Value::Array(items) if items.len() == 2 => {
                        match (self.eval_d(&items[0], d).s(), self.eval_d(&items[1], d).s()) {
                            (Some(a), Some(b)) => (a.to_string(), b.to_string()),
                            _ => return V::Unknown,
                        }
                    }
                    _ => return V::Unknown,
                };
                if b == "CidrBlock" && self.kind_of(&a) == Some("AWS::EC2::VPC") {
                    if let Some(c) = self.resources[&a]
                        .get("Properties")
                        .and_then(|p| p.get("CidrBlock"))
                    {
                        return self.eval_d(c, d);
                    }
                }
                V::Att(a, b)
            }
            "Fn::Sub" => {
                let (text, vars) = match arg {
                    Value::String(s) => (s.as_str(), None),
                    Value::Array(items) if !items.is_empty() => match &items[0] {
                        Value::String(s) => (s.as_str(), items.get(1).and_then(Value::as_object)),
                        _ => return V::Unknown,
                    },
                    _ => return V::Unknown,
                };
                self.sub(text, vars, d)
            }
            "Fn::Join" => {
                let Some([delim, items]) = arg
                    .as_array()
                    .map(Vec::as_slice)
                    .and_then(|a| <&[Value; 2]>::try_from(a).ok())
                else {
                    return V::Unknown;
                };
                let Some(delim) = delim.as_str() else {
                    return V::Unknown;
                };
                let parts = list(items);
                let strs: Option<Vec<&str>> = parts.iter().map(V::s).collect();
                match strs {
                    Some(s) if !parts.is_empty() || items.as_array().is_some_and(Vec::is_empty) => {
                        V::S(s.join(delim))
                    }
                    _ => V::Unknown,
                }
            }
            "Fn::Select" => {
                let Some([idx, items]) = arg
                    .as_array()
                    .map(Vec::as_slice)
                    .and_then(|a| <&[Value; 2]>::try_from(a).ok())
                else {
                    return V::Unknown;
                };
                let Some(i) = self
                    .eval_d(idx, d)
                    .s()
                    .and_then(|s| s.parse::<usize>().ok())
                else {
                    return V::Unknown;
                };
                list(items).into_iter().nth(i).unwrap_or(V::Unknown)
            }
            "Fn::Split" => {
                let Some([delim, s]) = arg
                    .as_array()
                    .map(Vec::as_slice)
                    .and_then(|a| <&[Value; 2]>::try_from(a).ok())
                else {
                    return V::Unknown;
                };
                match (delim.as_str(), self.eval_d(s, d)) {
                    (Some(delim), V::S(s)) => {
                        V::L(s.split(delim).map(|x| V::S(x.to_string())).collect())
                    }
                    _ => V::Unknown,
                }
            }
            "Fn::FindInMap" => {
                let keys: Vec<V> = list(arg);
                let (Some(m), Some(k1), Some(k2)) = (
                    keys.first().and_then(V::s),
                    keys.get(1).and_then(V::s),
                    keys.get(2).and_then(V::s),
                ) else {
                    return V::Unknown;
                };
                match self
                    .mappings
                    .get(m)
                    .and_then(|x| x.get(k1))
                    .and_then(|x| x.get(k2))
                {
                    Some(v) => self.eval_d(v, d),
                    None => V::Unknown,
                }
            }
            "Fn::Cidr" => {
                let args = list(arg);
                let (Some(block), Some(count), Some(bits)) = (
                    args.first().and_then(V::s).and_then(Cidr::parse),
                    args.get(1)
                        .and_then(V::s)
                        .and_then(|s| s.parse::<u32>().ok()),
                    args.get(2)
                        .and_then(V::s)
                        .and_then(|s| s.parse::<u32>().ok()),
                ) else {
                    return V::Unknown;
                };
                let std::net::IpAddr::V4(base) = block.addr else {
                    return V::Unknown;
                };
                if bits == 0
                    || bits >= 32
                    || bits > 32 - u32::from(block.prefix)
                    || count == 0
                    || count > 256
                {
                    return V::Unknown;
                }
                let start = u32::from(base);
                let blocks: Option<Vec<V>> = (0..count)
                    .map(|i| {
                        let addr = u64::from(start) + (u64::from(i) << bits);
                        let addr = std::net::Ipv4Addr::from(u32::try_from(addr).ok()?);
                        Some(V::S(format!("{addr}/{}", 32 - bits)))
                    })
                    .collect();
                blocks.map_or(V::Unknown, V::L)
            }
            "Fn::If" => {
                let Some(items) = arg.as_array().filter(|a| a.len() == 3) else {
                    return V::Unknown;
                };
                match items[0].as_str().and_then(|c| self.condition(c, d)) {
                    Some(true) => self.eval_d(&items[1], d),
                    Some(false) => self.eval_d(&items[2], d),
                    None => V::Unknown,
                }
            }
            "Fn::Base64" => self.eval_d(arg, d),
            _ => V::Unknown,
        }
    }

    fn eval_ref(&self, name: &str, d: u32) -> V {
        match name {
            "AWS::Region" => return V::S(self.region.clone()),
            "AWS::Partition" => return V::S("aws".into()),
            "AWS::AccountId" => return V::S("123456789012".into()),
            "AWS::URLSuffix" => return V::S("amazonaws.com".into()),
            "AWS::StackName" => return V::S("stack".into()),
            n if n.starts_with("AWS::") => return V::Unknown,
            _ => {}
        }
        if let Some(p) = self.params.get(name) {
            let Some(default) = p.get("Default") else {
                return V::Param(name.to_string());
            };
            let is_list = p
                .get("Type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("List<") || t == "CommaDelimitedList");
            return match (self.eval_d(default, d + 1), is_list) {
                (V::S(s), true) => V::L(s.split(',').map(|x| V::S(x.trim().to_string())).collect()),
                (v, _) => v,
            };
        }
        if self.resources.contains_key(name) {
            return V::Ref(name.to_string());
        }
        V::Unknown
    }

    fn sub(&self, text: &str, vars: Option<&Map<String, Value>>, d: u32) -> V {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            rest = &after[end + 1..];
            if let Some(lit) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(lit);
                out.push('}');
                continue;
            }
            let v = match vars.and_then(|m| m.get(name)) {
                Some(v) => self.eval_d(v, d + 1),
                None => match name.split_once('.') {
                    Some((a, b)) => {
                        self.intrinsic("Fn::GetAtt", &Value::Array(vec![a.into(), b.into()]), d + 1)
                    }
                    None => self.eval_ref(name, d + 1),
                },
            };
            match v {
                V::S(s) => out.push_str(&s),
                _ => return V::Unknown,
            }
        }
        out.push_str(rest);
        V::S(out)
    }

    /// A condition's value with the parameters' defaults; `None` when it cannot be told.
    fn condition(&self, name: &str, d: u32) -> Option<bool> {
        if d > MAX_EVAL_DEPTH {
            return None;
        }
        if let Some(v) = self.cond_cache.borrow().get(name) {
            return *v;
        }
        // Guards a condition that refers to itself.
        self.cond_cache.borrow_mut().insert(name.to_string(), None);
        let v = self
            .conditions
            .get(name)
            .and_then(|c| self.cond_value(c, d + 1));
        self.cond_cache.borrow_mut().insert(name.to_string(), v);
        v
    }

    fn cond_value(&self, v: &Value, d: u32) -> Option<bool> {
        if d > MAX_EVAL_DEPTH {
            return None;
        }
        let m = v.as_object().filter(|m| m.len() == 1)?;
        let (f, arg) = m.iter().next()?;
        let items = arg.as_array();
        match f.as_str() {
            "Fn::Equals" => {
                let items = items.filter(|a| a.len() == 2)?;
                match (self.eval_d(&items[0], d), self.eval_d(&items[1], d)) {
                    (V::S(a), V::S(b)) => Some(a == b),
                    _ => None,
                }
            }
            "Fn::Not" => self.cond_value(items?.first()?, d + 1).map(|b| !b),
            "Fn::And" => {
                let vals: Vec<Option<bool>> =
                    items?.iter().map(|x| self.cond_value(x, d + 1)).collect();
                if vals.contains(&Some(false)) {
                    Some(false)
                } else {
                    vals.into_iter()
                        .collect::<Option<Vec<bool>>>()
                        .map(|_| true)
                }
            }
            "Fn::Or" => {
                let vals: Vec<Option<bool>> =
                    items?.iter().map(|x| self.cond_value(x, d + 1)).collect();
                if vals.contains(&Some(true)) {
                    Some(true)
                } else {
                    vals.into_iter()
                        .collect::<Option<Vec<bool>>>()
                        .map(|_| false)
                }
            }
            "Condition" => self.condition(arg.as_str()?, d + 1),
            _ => None,
        }
    }
}

fn as_bool(v: &V) -> Option<bool> {
    match v.s()?.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn as_u32(v: &V) -> Option<u32> {
    v.s()?.trim().parse().ok()
}

/// Words of an identifier or a sentence: `EFASecurityGroup` -> EFA, Security, Group.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in s.split(|c: char| !c.is_ascii_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut cur = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = c.is_ascii_uppercase()
                && prev.is_some_and(|p| {
                    p.is_ascii_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
                });
            if boundary && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

fn says_efa(s: &str) -> bool {
    words(s).iter().any(|w| w.eq_ignore_ascii_case("efa"))
}

struct Reader<'a, 't> {
    doc: &'a Doc<'t>,
    /// Resources in template order, without those whose condition is false.
    order: Vec<&'t str>,
    findings: Vec<Finding>,
    aliases: HashMap<String, String>,
    sgs: Vec<SecurityGroup>,
}

fn rpath(id: &str) -> String {
    format!("Resources.{id}")
}

fn ppath(id: &str, prop: &str) -> String {
    format!("Resources.{id}.Properties.{prop}")
}

impl<'t> Reader<'_, 't> {
    fn props(&self, id: &str) -> Option<&'t Map<String, Value>> {
        self.doc.props(id)
    }

    fn prop(&self, id: &str, name: &str) -> Option<&'t Value> {
        self.doc.prop(id, name)
    }

    fn of_type(&self, t: &str) -> Vec<&'t str> {
        self.order
            .iter()
            .copied()
            .filter(|id| self.doc.kind_of(id) == Some(t))
            .collect()
    }

    fn alias(&mut self, from: String, to: String) {
        self.aliases.entry(from).or_insert(to);
    }

    fn list(&self, v: Option<&Value>) -> Vec<V> {
        match v.map(|v| self.doc.eval(v)) {
            Some(V::L(items)) => items,
            Some(V::Unknown) | None => Vec::new(),
            Some(other) => vec![other],
        }
    }

    fn key_of(&self, v: &V, kinds: &[&str]) -> Option<String> {
        match v {
            V::Ref(x) | V::Att(x, _) if kinds.iter().any(|k| self.doc.kind_of(x) == Some(*k)) => {
                Some(x.clone())
            }
            V::S(s) if !s.is_empty() => Some(s.clone()),
            V::Param(p) => Some(p.clone()),
            _ => None,
        }
    }

    fn subnet_key(&self, v: &V) -> Option<String> {
        self.key_of(v, &["AWS::EC2::Subnet"])
    }

    /// The key of the security group a value names. The VPC's default group is added to the
    /// model as AWS creates it; a group from outside the template (an `sg-` id, a parameter)
    /// keeps its key but stays out of the model, since its rules cannot be seen: rules then
    /// judge the groups beside it.
    fn group_key(&mut self, v: &V) -> Option<String> {
        match v {
            V::Att(x, a) if a == "DefaultSecurityGroup" => {
                self.ensure_default(&rpath(x));
                Some(crate::resolve::DEFAULT_SG.to_string())
            }
            _ => self.key_of(v, &["AWS::EC2::SecurityGroup"]),
        }
    }

    fn ensure_default(&mut self, path: &str) {
        let key = crate::resolve::DEFAULT_SG;
        if self.sgs.iter().any(|s| s.key == key) {
            return;
        }
        // As AWS creates it: all traffic in from itself, all traffic out to 0.0.0.0/0.
        let origin = Origin::Implied(path.to_string());
        self.sgs.push(SecurityGroup {
            key: key.into(),
            id: None,
            name: "default".into(),
            ingress: vec![SgRule {
                protocol: Protocol::All,
                ports: None,
                peer: Peer::Group(key.into()),
                origin: origin.clone(),
            }],
            egress: vec![SgRule {
                protocol: Protocol::All,
                ports: None,
                peer: Peer::Cidr(Cidr::world_v4()),
                origin: origin.clone(),
            }],
            origin,
        });
    }

    fn group_keys(&mut self, v: Option<&Value>) -> Vec<String> {
        let items = self.list(v);
        items.iter().filter_map(|x| self.group_key(x)).collect()
    }

    /// One security-group rule (inline, or a separate resource's properties).
    fn sg_rule(
        &mut self,
        m: &Map<String, Value>,
        own: &str,
        ingress: bool,
        path: &str,
    ) -> Option<SgRule> {
        let d = self.doc;
        let ev = |k: &str| m.get(k).map(|v| d.eval(v));
        let proto = ev("IpProtocol")?;
        let protocol = Protocol::from_ec2(proto.s()?)?;
        let from = ev("FromPort")
            .as_ref()
            .and_then(|v| v.s()?.parse::<i64>().ok());
        let to = ev("ToPort")
            .as_ref()
            .and_then(|v| v.s()?.parse::<i64>().ok());
        let ports = match (&protocol, from, to) {
            (Protocol::Tcp | Protocol::Udp, Some(f), Some(t)) if f >= 0 && t >= f && t <= 65535 => {
                if f <= 1 && t == 65535 {
                    None
                } else {
                    Some(PortRange {
                        from: f as u16,
                        to: t as u16,
                    })
                }
            }
            _ => None,
        };
        let (group_key, prefix_key) = if ingress {
            ("SourceSecurityGroupId", "SourcePrefixListId")
        } else {
            ("DestinationSecurityGroupId", "DestinationPrefixListId")
        };
        let peer = if let Some(c) = ev("CidrIp").or_else(|| ev("CidrIpv6")) {
            Peer::Cidr(Cidr::parse(c.s()?)?)
        } else if let Some(g) = ev(group_key) {
            let k = match &g {
                V::Ref(x) | V::Att(x, _) if x == own => own.to_string(),
                _ => self.group_key(&g)?,
            };
            Peer::Group(k)
        } else if let Some(p) = ev(prefix_key) {
            Peer::PrefixList(p.s().unwrap_or("?").to_string())
        } else {
            return None;
        };
        Some(SgRule {
            protocol,
            ports,
            peer,
            origin: Origin::Spec(path.to_string()),
        })
    }

    /// Groups the template uses but does not create, as efactl's renderer describes them in
    /// `Metadata.efactl.existingSecurityGroups` (from the spec): CloudFormation ignores this,
    /// and it lets the template check as its spec did.
    fn existing_groups(&mut self, described: Option<&Map<String, Value>>) {
        for (key, g) in described.into_iter().flatten() {
            let path = format!("Metadata.efactl.existingSecurityGroups.{key}");
            let name = g
                .get("GroupName")
                .and_then(Value::as_str)
                .unwrap_or(key)
                .to_string();
            self.sgs.push(SecurityGroup {
                key: key.clone(),
                id: Some(key.clone()),
                name,
                ingress: Vec::new(),
                egress: Vec::new(),
                origin: Origin::Spec(path.clone()),
            });
            for (prop, ingress) in [
                ("SecurityGroupIngress", true),
                ("SecurityGroupEgress", false),
            ] {
                let list = g.get(prop).and_then(Value::as_array);
                for (i, r) in list.into_iter().flatten().enumerate() {
                    let Some(m) = r.as_object() else { continue };
                    let p = format!("{path}.{prop}[{i}]");
                    if let Some(rule) = self.sg_rule(m, key, ingress, &p) {
                        if let Some(sg) = self.sgs.iter_mut().find(|s| &s.key == key) {
                            if ingress {
                                sg.ingress.push(rule);
                            } else {
                                sg.egress.push(rule);
                            }
                        }
                    }
                }
            }
        }
    }

    fn security_groups(&mut self) {
        for id in self.of_type("AWS::EC2::SecurityGroup") {
            let path = rpath(id);
            let mut ingress = Vec::new();
            let mut egress = Vec::new();
            let inline_in = self
                .prop(id, "SecurityGroupIngress")
                .and_then(Value::as_array);
            for (i, r) in inline_in.into_iter().flatten().enumerate() {
                if let Some(m) = r.as_object() {
                    let p = format!("{}[{i}]", ppath(id, "SecurityGroupIngress"));
                    if let Some(rule) = self.sg_rule(m, id, true, &p) {
                        ingress.push(rule);
                    }
                }
            }
            let inline_out = self
                .prop(id, "SecurityGroupEgress")
                .and_then(Value::as_array);
            match inline_out {
                Some(rules) => {
                    for (i, r) in rules.iter().enumerate() {
                        if let Some(m) = r.as_object() {
                            let p = format!("{}[{i}]", ppath(id, "SecurityGroupEgress"));
                            if let Some(rule) = self.sg_rule(m, id, false, &p) {
                                egress.push(rule);
                            }
                        }
                    }
                    self.alias(format!("{path}.egress"), ppath(id, "SecurityGroupEgress"));
                }
                // No inline egress: AWS's default rule, all traffic to 0.0.0.0/0.
                None => egress.push(SgRule {
                    protocol: Protocol::All,
                    ports: None,
                    peer: Peer::Cidr(Cidr::world_v4()),
                    origin: Origin::Implied(path.clone()),
                }),
            }
            if inline_in.is_some() {
                self.alias(format!("{path}.ingress"), ppath(id, "SecurityGroupIngress"));
            }
            // Named by logical id, so that findings name what the template's reader sees.
            self.sgs.push(SecurityGroup {
                key: id.to_string(),
                id: None,
                name: id.to_string(),
                ingress,
                egress,
                origin: Origin::Spec(path),
            });
        }
        for (kind, ingress) in [
            ("AWS::EC2::SecurityGroupIngress", true),
            ("AWS::EC2::SecurityGroupEgress", false),
        ] {
            for id in self.of_type(kind) {
                let Some(props) = self.props(id) else {
                    continue;
                };
                let target = props.get("GroupId").map(|v| self.doc.eval(v));
                let Some(group) = target.and_then(|t| self.group_key(&t)) else {
                    continue;
                };
                let Some(rule) = self.sg_rule(props, &group, ingress, &rpath(id)) else {
                    continue;
                };
                if let Some(sg) = self.sgs.iter_mut().find(|s| s.key == group) {
                    if ingress {
                        sg.ingress.push(rule);
                    } else {
                        sg.egress.push(rule);
                    }
                }
            }
        }
    }

    fn vpc(&mut self) -> Vpc {
        match self.of_type("AWS::EC2::VPC").first() {
            Some(id) => {
                let d = self.doc;
                let flag = |k: &str, default: bool| {
                    d.prop(id, k)
                        .map(|v| d.eval(v))
                        .and_then(|v| as_bool(&v))
                        .unwrap_or(default)
                };
                let path = rpath(id);
                for (field, prop) in [
                    ("dnsSupport", "EnableDnsSupport"),
                    ("dnsHostnames", "EnableDnsHostnames"),
                ] {
                    self.alias(format!("{path}.{field}"), ppath(id, prop));
                }
                Vpc {
                    id: None,
                    cidr: self
                        .prop(id, "CidrBlock")
                        .map(|v| self.doc.eval(v))
                        .and_then(|v| v.s().and_then(Cidr::parse)),
                    // CloudFormation's defaults are EC2's: DNS support on, hostnames off.
                    dns_support: flag("EnableDnsSupport", true),
                    dns_hostnames: flag("EnableDnsHostnames", false),
                    origin: Origin::Spec(path),
                }
            }
            None => {
                // The template works in a VPC it does not create: what it is like is unknown.
                let id = self
                    .order
                    .iter()
                    .find_map(|id| self.prop(id, "VpcId"))
                    .map(|v| self.doc.eval(v))
                    .and_then(|v| match v {
                        V::S(s) => Some(s),
                        V::Param(p) => Some(p),
                        _ => None,
                    })
                    .unwrap_or_else(|| "existing VPC".into());
                Vpc {
                    id: Some(id),
                    cidr: None,
                    dns_support: true,
                    dns_hostnames: true,
                    origin: Origin::Implied("Resources".into()),
                }
            }
        }
    }

    fn subnets(&mut self) -> Vec<Subnet> {
        // Route table of each subnet, and the default route of each route table.
        let mut rtb_of: HashMap<String, String> = HashMap::new();
        for id in self.of_type("AWS::EC2::SubnetRouteTableAssociation") {
            let s = self.prop(id, "SubnetId").map(|v| self.doc.eval(v));
            let t = self.prop(id, "RouteTableId").map(|v| self.doc.eval(v));
            if let (Some(s), Some(t)) = (
                s.and_then(|s| self.subnet_key(&s)),
                t.and_then(|t| self.key_of(&t, &["AWS::EC2::RouteTable"])),
            ) {
                rtb_of.entry(s).or_insert(t);
            }
        }
        let mut route_of: HashMap<String, Internet> = HashMap::new();
        for id in self.of_type("AWS::EC2::Route") {
            let dest = self
                .prop(id, "DestinationCidrBlock")
                .map(|v| self.doc.eval(v));
            if dest.as_ref().and_then(V::s) != Some("0.0.0.0/0") {
                continue;
            }
            let Some(t) = self
                .prop(id, "RouteTableId")
                .map(|v| self.doc.eval(v))
                .and_then(|t| self.key_of(&t, &["AWS::EC2::RouteTable"]))
            else {
                continue;
            };
            let d = self.doc;
            let via = |k: &str| d.prop(id, k).map(|v| d.eval(v));
            let internet = if let Some(g) = via("GatewayId") {
                let igw = match &g {
                    V::Ref(x) => self.doc.kind_of(x) == Some("AWS::EC2::InternetGateway"),
                    V::S(s) => s.starts_with("igw-"),
                    V::Param(p) => says_internet_gateway(p),
                    _ => false,
                };
                if igw {
                    Internet::Public
                } else {
                    continue;
                }
            } else if [
                "NatGatewayId",
                "TransitGatewayId",
                "NetworkInterfaceId",
                "InstanceId",
            ]
            .iter()
            .any(|k| via(k).is_some())
            {
                Internet::Nat
            } else {
                continue;
            };
            let e = route_of.entry(t).or_insert(internet);
            if internet == Internet::Public {
                *e = Internet::Public;
            }
        }
        let mut out = Vec::new();
        for id in self.of_type("AWS::EC2::Subnet") {
            let path = rpath(id);
            let d = self.doc;
            let ev = |k: &str| d.prop(id, k).map(|v| d.eval(v));
            let zone = ev("AvailabilityZone")
                .or_else(|| ev("AvailabilityZoneId"))
                .and_then(|v| v.s().and_then(Zone::parse));
            let rtb = rtb_of.get(id).cloned();
            let internet = rtb
                .as_ref()
                .and_then(|t| route_of.get(t).copied())
                .unwrap_or(Internet::None);
            self.alias(format!("{path}.cidr"), ppath(id, "CidrBlock"));
            self.alias(
                format!("{path}.mapPublicIpOnLaunch"),
                ppath(id, "MapPublicIpOnLaunch"),
            );
            out.push(Subnet {
                key: id.to_string(),
                id: None,
                cidr: ev("CidrBlock").and_then(|v| v.s().and_then(Cidr::parse)),
                zone,
                internet,
                map_public_ip_on_launch: ev("MapPublicIpOnLaunch")
                    .and_then(|v| as_bool(&v))
                    .unwrap_or(false),
                available_ips: None,
                // A subnet with no association uses the VPC's main route table, which a
                // template-made VPC leaves with its local route only.
                route_table: rtb.unwrap_or_else(|| "main".into()),
                network_acl: None,
                origin: Origin::Spec(path),
            });
        }
        out
    }

    fn endpoints(&mut self) -> Vec<Endpoint> {
        let mut out = Vec::new();
        for id in self.of_type("AWS::EC2::VPCEndpoint") {
            let path = rpath(id);
            let d = self.doc;
            let ev = |k: &str| d.prop(id, k).map(|v| d.eval(v));
            let service = ev("ServiceName")
                .and_then(|v| v.s().map(|s| short_service_name(s).to_string()))
                .unwrap_or_else(|| "?".into());
            // CloudFormation's defaults: a gateway endpoint, private DNS off.
            let kind = match ev("VpcEndpointType").as_ref().and_then(V::s) {
                Some(t) if t.eq_ignore_ascii_case("interface") => EndpointType::Interface,
                _ => EndpointType::Gateway,
            };
            let private_dns = ev("PrivateDnsEnabled")
                .and_then(|v| as_bool(&v))
                .unwrap_or(false);
            let subnets: Vec<String> = self
                .list(self.prop(id, "SubnetIds"))
                .iter()
                .filter_map(|v| self.subnet_key(v))
                .collect();
            let route_tables: Vec<String> = self
                .list(self.prop(id, "RouteTableIds"))
                .iter()
                .filter_map(|v| self.key_of(v, &["AWS::EC2::RouteTable"]))
                .collect();
            let mut security_groups = Vec::new();
            if kind == EndpointType::Interface {
                security_groups = self.group_keys(self.prop(id, "SecurityGroupIds"));
                if security_groups.is_empty() {
                    // An interface endpoint without groups gets the VPC's default group.
                    self.ensure_default(&path);
                    security_groups.push(crate::resolve::DEFAULT_SG.into());
                }
            }
            self.alias(
                format!("{path}.subnets"),
                ppath(
                    id,
                    if kind == EndpointType::Gateway {
                        "RouteTableIds"
                    } else {
                        "SubnetIds"
                    },
                ),
            );
            self.alias(
                format!("{path}.securityGroups"),
                ppath(id, "SecurityGroupIds"),
            );
            self.alias(format!("{path}.privateDns"), ppath(id, "PrivateDnsEnabled"));
            out.push(Endpoint {
                service,
                kind,
                private_dns,
                security_groups,
                subnets,
                route_tables,
                origin: Origin::Spec(path),
            });
        }
        out
    }

    fn placement_groups(&mut self) -> Vec<PlacementGroup> {
        self.of_type("AWS::EC2::PlacementGroup")
            .into_iter()
            .map(|id| {
                let strategy = self
                    .prop(id, "Strategy")
                    .map(|v| self.doc.eval(v))
                    .and_then(|v| v.s().and_then(PlacementStrategy::from_name))
                    .unwrap_or(PlacementStrategy::Cluster);
                PlacementGroup {
                    key: id.to_string(),
                    name: id.to_string(),
                    strategy,
                    managed: true,
                    origin: Origin::Spec(rpath(id)),
                }
            })
            .collect()
    }

    fn secrets(&mut self) -> (Vec<Secret>, Option<String>) {
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

    fn statements(&self, doc: Option<&Value>, path: &str) -> Vec<Statement> {
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

    fn roles(&mut self) -> Vec<Role> {
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

    fn file_systems(&mut self) -> Vec<FileSystem> {
        let mut out = Vec::new();
        for id in self.of_type("AWS::FSx::FileSystem") {
            let path = rpath(id);
            let d = self.doc;
            let ev = |k: &str| d.prop(id, k).map(|v| d.eval(v));
            if !ev("FileSystemType")
                .as_ref()
                .and_then(V::s)
                .is_some_and(|t| t.eq_ignore_ascii_case("lustre"))
            {
                continue;
            }
            let subnet = self
                .list(self.prop(id, "SubnetIds"))
                .first()
                .and_then(|v| self.subnet_key(v))
                .unwrap_or_default();
            let mut security_groups = self.group_keys(self.prop(id, "SecurityGroupIds"));
            if security_groups.is_empty() {
                self.ensure_default(&path);
                security_groups.push(crate::resolve::DEFAULT_SG.into());
            }
            self.alias(format!("{path}.subnet"), ppath(id, "SubnetIds"));
            self.alias(
                format!("{path}.securityGroups"),
                ppath(id, "SecurityGroupIds"),
            );
            out.push(FileSystem {
                key: id.to_string(),
                kind: StorageKind::FsxLustre,
                id: None,
                subnet,
                security_groups,
                capacity_gib: ev("StorageCapacity").as_ref().and_then(as_u32),
                mount_path: "/fsx".into(),
                origin: Origin::Spec(path),
            });
        }
        out
    }

    /// Instance profile -> role key.
    fn profiles(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        for id in self.of_type("AWS::IAM::InstanceProfile") {
            if let Some(V::Ref(role)) = self.list(self.prop(id, "Roles")).first() {
                m.insert(id.to_string(), role.clone());
            }
        }
        m
    }

    fn invalid(&mut self, path: String, message: String, help: String) {
        self.findings.push(Finding {
            rule: diag::INVALID_VALUE.id.into(),
            name: diag::INVALID_VALUE.name.into(),
            severity: Severity::Error,
            category: Category::Input,
            subject: Subject::path(path),
            message,
            help: Some(help),
        });
    }

    fn node_groups(&mut self, placement: &mut Vec<PlacementGroup>) -> Vec<NodeGroup> {
        let profiles = self.profiles();
        let asgs = self.of_type("AWS::AutoScaling::AutoScalingGroup");
        let mut out = Vec::new();
        for lt in self.of_type("AWS::EC2::LaunchTemplate") {
            let o = rpath(lt);
            let data_path = ppath(lt, "LaunchTemplateData");
            let Some(data) = self
                .prop(lt, "LaunchTemplateData")
                .and_then(Value::as_object)
            else {
                continue;
            };
            let d = self.doc;
            let ev = |k: &str| data.get(k).map(|v| d.eval(v));
            let instance_type = ev("InstanceType").and_then(|v| v.s().map(str::to_string));
            let lt_groups = self.group_keys(
                data.get("SecurityGroupIds")
                    .or_else(|| data.get("SecurityGroups")),
            );
            let mut interfaces = Vec::new();
            let mut public_ip = false;
            let mut nic_subnets = Vec::new();
            let nics = data.get("NetworkInterfaces").and_then(Value::as_array);
            for (i, n) in nics.into_iter().flatten().enumerate() {
                let Some(n) = n.as_object() else { continue };
                let p = format!("{data_path}.NetworkInterfaces[{i}]");
                let nev = |k: &str| n.get(k).map(|v| d.eval(v));
                let kind = match nev("InterfaceType").as_ref().map(|v| v.s()) {
                    None => InterfaceType::Interface,
                    Some(Some("interface")) => InterfaceType::Interface,
                    Some(Some("efa")) => InterfaceType::Efa,
                    Some(Some("efa-only")) => InterfaceType::EfaOnly,
                    Some(Some(other)) => {
                        let other = other.to_string();
                        let near = InterfaceType::NAMES
                            .iter()
                            .find(|x| x.eq_ignore_ascii_case(&other.replace('_', "-")))
                            .map(|x| format!(" (did you mean `{x}`?)"))
                            .unwrap_or_default();
                        self.invalid(
                            format!("{p}.InterfaceType"),
                            format!("InterfaceType `{other}` is not one of `interface`, `efa`, `efa-only`{near}: EC2 refuses the launch, and cfn-lint does not check this value"),
                            "use `efa` (EFA with ENA), `efa-only` (EFA device, no IP address; never the primary) or `interface` (ENA only), in lower case".into(),
                        );
                        InterfaceType::Interface
                    }
                    Some(None) => InterfaceType::Interface,
                };
                let mut groups = self.group_keys(n.get("Groups"));
                if groups.is_empty() {
                    groups = lt_groups.clone();
                }
                if groups.is_empty() {
                    self.ensure_default(&p);
                    groups.push(crate::resolve::DEFAULT_SG.into());
                }
                if nev("AssociatePublicIpAddress").as_ref().and_then(as_bool) == Some(true) {
                    public_ip = true;
                }
                if let Some(s) = nev("SubnetId").and_then(|v| self.subnet_key(&v)) {
                    nic_subnets.push(s);
                }
                interfaces.push(Nic {
                    network_card: nev("NetworkCardIndex")
                        .as_ref()
                        .and_then(as_u32)
                        .unwrap_or(0),
                    device_index: nev("DeviceIndex").as_ref().and_then(as_u32).unwrap_or(0),
                    kind,
                    security_groups: groups,
                    origin: Origin::Spec(p),
                });
            }
            let lt_sgs = if lt_groups.is_empty() {
                interfaces
                    .first()
                    .map(|n| n.security_groups.clone())
                    .unwrap_or_default()
            } else {
                lt_groups.clone()
            };
            if interfaces.is_empty() {
                let mut groups = lt_groups.clone();
                if groups.is_empty() {
                    self.ensure_default(&o);
                    groups.push(crate::resolve::DEFAULT_SG.into());
                }
                interfaces.push(Nic {
                    network_card: 0,
                    device_index: 0,
                    kind: InterfaceType::Interface,
                    security_groups: groups,
                    origin: Origin::Implied(o.clone()),
                });
            }
            let placement_v = data
                .get("Placement")
                .and_then(|p| p.get("GroupName"))
                .map(|v| self.doc.eval(v));
            let mut pg = placement_v.and_then(|v| self.placement_key(&v, placement, &o));
            let market = data
                .get("InstanceMarketOptions")
                .and_then(|m| m.get("MarketType"))
                .map(|v| self.doc.eval(v));
            let reservation = data
                .get("CapacityReservationSpecification")
                .and_then(|c| c.get("CapacityReservationTarget"))
                .and_then(|t| t.get("CapacityReservationId"))
                .map(|v| self.doc.eval(v))
                .and_then(|v| v.s().map(str::to_string));
            let pg_name = |pg: &Option<String>, placement: &[PlacementGroup]| {
                pg.as_ref()
                    .and_then(|k| placement.iter().find(|p| &p.key == k))
                    .map(|p| p.name.clone())
            };
            let capacity = match (market.as_ref().and_then(V::s), reservation) {
                (Some("capacity-block"), Some(id)) => Capacity::CapacityBlock { id },
                (Some("spot"), _) => Capacity::Spot,
                (_, Some(id)) => Capacity::Reservation {
                    id,
                    // The reservation serves the group the template launches into.
                    placement_group: pg_name(&pg, placement),
                },
                _ => Capacity::OnDemand,
            };
            let instance_role = data
                .get("IamInstanceProfile")
                .and_then(|p| p.get("Arn").or_else(|| p.get("Name")))
                .map(|v| self.doc.eval(v))
                .and_then(|v| match v {
                    V::Ref(x) | V::Att(x, _) => profiles.get(&x).cloned(),
                    _ => None,
                });
            let ami = ev("ImageId")
                .and_then(|v| v.s().map(str::to_string))
                .filter(|a| a.starts_with("ami-"));
            for (field, to) in [
                ("instanceType", "InstanceType"),
                ("networkInterfaces", "NetworkInterfaces"),
                ("efa", "NetworkInterfaces"),
                ("placementGroup", "Placement"),
                ("capacity.reservationPlacementGroup", "Placement"),
                ("capacity", "CapacityReservationSpecification"),
            ] {
                self.alias(format!("{o}.{field}"), format!("{data_path}.{to}"));
            }
            self.alias(
                format!("{o}.securityGroups"),
                if nics.is_some() {
                    format!("{data_path}.NetworkInterfaces[0].Groups")
                } else {
                    format!("{data_path}.SecurityGroupIds")
                },
            );
            self.alias(
                format!("{o}.publicIp"),
                format!("{data_path}.NetworkInterfaces[0].AssociatePublicIpAddress"),
            );
            let users: Vec<&str> = asgs
                .iter()
                .copied()
                .filter(|a| self.asg_template(a).as_deref() == Some(lt))
                .collect();
            let base = NodeGroup {
                name: lt.to_string(),
                role: NodeRole::Compute,
                instance_types: instance_type.into_iter().collect(),
                count: 1,
                max_count: 1,
                efa: EfaSetting::Auto,
                interfaces,
                subnets: nic_subnets,
                security_groups: lt_sgs,
                placement_group: pg.clone(),
                capacity,
                public_ip,
                instance_role,
                ami,
                instances: Vec::new(),
                origin: Origin::Spec(o.clone()),
            };
            if users.is_empty() {
                out.push(base);
                continue;
            }
            for asg in users {
                let mut ng = base.clone();
                let aev = |k: &str| d.prop(asg, k).map(|v| d.eval(v));
                ng.name = asg.to_string();
                let min = aev("MinSize").as_ref().and_then(as_u32).unwrap_or(0);
                let max = aev("MaxSize").as_ref().and_then(as_u32).unwrap_or(min);
                let desired = aev("DesiredCapacity")
                    .as_ref()
                    .and_then(as_u32)
                    .unwrap_or(min);
                ng.count = desired;
                ng.max_count = max.max(desired);
                let subnets: Vec<String> = self
                    .list(self.prop(asg, "VPCZoneIdentifier"))
                    .iter()
                    .filter_map(|v| self.subnet_key(v))
                    .collect();
                if !subnets.is_empty() {
                    ng.subnets = subnets;
                }
                if let Some(v) = aev("PlacementGroup") {
                    if pg.is_none() {
                        pg = self.placement_key(&v, placement, &rpath(asg));
                        ng.placement_group = pg.clone();
                    }
                    self.alias(format!("{o}.placementGroup"), ppath(asg, "PlacementGroup"));
                }
                let overrides = self
                    .prop(asg, "MixedInstancesPolicy")
                    .and_then(|m| m.get("LaunchTemplate"))
                    .and_then(|l| l.get("Overrides"))
                    .and_then(Value::as_array);
                let types: Vec<String> = overrides
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.get("InstanceType"))
                    .filter_map(|v| self.doc.eval(v).s().map(str::to_string))
                    .collect();
                if !types.is_empty() {
                    for j in 0..types.len() {
                        self.alias(
                            format!("{o}.instanceTypes[{j}]"),
                            format!(
                                "{}.LaunchTemplate.Overrides[{j}].InstanceType",
                                ppath(asg, "MixedInstancesPolicy")
                            ),
                        );
                    }
                    ng.instance_types = types;
                }
                if self
                    .prop(asg, "MixedInstancesPolicy")
                    .and_then(|m| m.get("InstancesDistribution"))
                    .and_then(|d| d.get("OnDemandPercentageAboveBaseCapacity"))
                    .map(|v| self.doc.eval(v))
                    .as_ref()
                    .and_then(as_u32)
                    == Some(0)
                {
                    ng.capacity = Capacity::Spot;
                }
                for field in ["subnet", "subnets"] {
                    self.alias(format!("{o}.{field}"), ppath(asg, "VPCZoneIdentifier"));
                }
                out.push(ng);
            }
        }
        out
    }

    /// The launch template an Auto Scaling group launches from.
    fn asg_template(&self, asg: &str) -> Option<String> {
        let spec = self.prop(asg, "LaunchTemplate").or_else(|| {
            self.prop(asg, "MixedInstancesPolicy")?
                .get("LaunchTemplate")?
                .get("LaunchTemplateSpecification")
        })?;
        if let Some(V::Ref(x)) = spec.get("LaunchTemplateId").map(|v| self.doc.eval(v)) {
            return Some(x);
        }
        let name = spec.get("LaunchTemplateName").map(|v| self.doc.eval(v))?;
        self.of_type("AWS::EC2::LaunchTemplate")
            .into_iter()
            .find(|lt| {
                self.prop(lt, "LaunchTemplateName")
                    .map(|v| self.doc.eval(v))
                    .as_ref()
                    == Some(&name)
            })
            .map(str::to_string)
    }

    fn placement_key(
        &self,
        v: &V,
        placement: &mut Vec<PlacementGroup>,
        path: &str,
    ) -> Option<String> {
        let key = self.key_of(v, &["AWS::EC2::PlacementGroup"])?;
        if !placement.iter().any(|p| p.key == key) {
            // A group the template does not create, named by its name.
            placement.push(PlacementGroup {
                key: key.clone(),
                name: key.clone(),
                strategy: PlacementStrategy::Cluster,
                managed: false,
                origin: Origin::Implied(path.to_string()),
            });
        }
        Some(key)
    }

    /// Stand-in node groups for security groups meant for EFA that no EFA interface of the
    /// template carries (the instances are launched elsewhere).
    fn stand_ins(&self, node_groups: &[NodeGroup]) -> Vec<NodeGroup> {
        let mut out = Vec::new();
        // Only groups the template creates: the VPC's default group and described existing
        // groups are not this template's EFA groups.
        let created = |s: &&SecurityGroup| matches!(&s.origin, Origin::Spec(p) if p.starts_with("Resources."));
        for sg in self.sgs.iter().filter(created) {
            let on_efa = node_groups
                .iter()
                .flat_map(|ng| ng.efa_interfaces())
                .any(|n| n.security_groups.contains(&sg.key));
            if on_efa {
                continue;
            }
            let self_all =
                crate::rules::has_self_rule(sg, false) || crate::rules::has_self_rule(sg, true);
            let text = |k: &str| {
                self.prop(&sg.key, k)
                    .map(|v| self.doc.eval(v))
                    .and_then(|v| v.s().map(str::to_string))
                    .unwrap_or_default()
            };
            let named = says_efa(&sg.key)
                || says_efa(&text("GroupDescription"))
                || says_efa(&text("GroupName"));
            if !self_all && !named {
                continue;
            }
            let origin = Origin::Implied(sg.origin.subject().path.unwrap_or_default());
            out.push(NodeGroup {
                name: format!("instances in {}", sg.key),
                role: NodeRole::Compute,
                instance_types: Vec::new(),
                count: 1,
                max_count: 1,
                efa: EfaSetting::Auto,
                interfaces: vec![Nic {
                    network_card: 0,
                    device_index: 0,
                    kind: InterfaceType::Efa,
                    security_groups: vec![sg.key.clone()],
                    origin: origin.clone(),
                }],
                subnets: Vec::new(),
                security_groups: vec![sg.key.clone()],
                placement_group: None,
                capacity: Capacity::OnDemand,
                public_ip: false,
                instance_role: None,
                ami: None,
                instances: Vec::new(),
                origin,
            });
        }
        out
    }
}

fn says_internet_gateway(param: &str) -> bool {
    let w = words(param);
    w.iter().any(|x| x.eq_ignore_ascii_case("igw"))
        || (w.iter().any(|x| x.eq_ignore_ascii_case("internet"))
            && w.iter().any(|x| x.eq_ignore_ascii_case("gateway")))
}

fn input_finding(
    rule: &crate::rules::Rule,
    path: &str,
    span: Option<yaml::Span>,
    message: String,
    help: Option<String>,
) -> Finding {
    let mut subject = Subject::path(path);
    if path.is_empty() {
        subject.path = None;
    }
    if let Some(span) = span {
        subject.location = Some(crate::finding::Location {
            file: String::new(),
            start: span.start,
            end: span.end,
        });
    }
    Finding {
        rule: rule.id.into(),
        name: rule.name.into(),
        severity: Severity::Error,
        category: Category::Input,
        subject,
        message,
        help,
    }
}

/// Reads a template. `file` is the name used in locations.
pub fn read_template(file: &str, text: &str) -> TemplateRead {
    let empty = |findings: Vec<Finding>| TemplateRead {
        cluster: None,
        source: SourceMap::new(file, text, None),
        findings,
        aliases: HashMap::new(),
    };
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return empty(vec![input_finding(
                &diag::EMPTY,
                "",
                None,
                "the file holds no YAML or JSON document".into(),
                None,
            )])
        }
        Err(e) => {
            let span = yaml::Span {
                start: e.pos,
                end: e.pos,
            };
            return empty(vec![input_finding(
                &diag::SYNTAX,
                "",
                Some(span),
                e.message,
                None,
            )]);
        }
    };
    let source = SourceMap::new(file, text, Some(&root));
    let json = to_json(&root);
    let no_resources = Map::new();
    let resources = json
        .get("Resources")
        .and_then(Value::as_object)
        .unwrap_or(&no_resources);
    if resources.is_empty() {
        return TemplateRead {
            cluster: None,
            source,
            findings: vec![input_finding(
                &diag::MISSING_FIELD,
                "Resources",
                None,
                "a CloudFormation template needs a `Resources` mapping with at least one resource"
                    .into(),
                None,
            )],
            aliases: HashMap::new(),
        };
    }
    let obj = |k: &str| {
        json.get(k)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let meta = json.get("Metadata").and_then(|m| m.get("efactl"));
    let meta_str = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
    let region = meta_str("region").unwrap_or("").to_string();
    let doc = Doc {
        resources,
        params: obj("Parameters"),
        mappings: obj("Mappings"),
        conditions: obj("Conditions"),
        region: if region.is_empty() {
            "us-east-1".into()
        } else {
            region.clone()
        },
        cond_cache: RefCell::new(HashMap::new()),
    };
    let order: Vec<&str> = resources
        .iter()
        .filter(|(_, r)| {
            r.get("Condition")
                .and_then(Value::as_str)
                .is_none_or(|c| doc.condition(c, 0) != Some(false))
        })
        .map(|(k, _)| k.as_str())
        .collect();
    let mut rd = Reader {
        doc: &doc,
        order,
        findings: Vec::new(),
        aliases: HashMap::new(),
        sgs: Vec::new(),
    };
    let vpc = rd.vpc();
    rd.existing_groups(
        meta.and_then(|m| m.get("existingSecurityGroups"))
            .and_then(Value::as_object),
    );
    rd.security_groups();
    let subnets = rd.subnets();
    let endpoints = rd.endpoints();
    let mut placement_groups = rd.placement_groups();
    let (secrets, mpi_secret) = rd.secrets();
    let roles = rd.roles();
    let file_systems = rd.file_systems();
    let mut node_groups = rd.node_groups(&mut placement_groups);
    let stand_ins = rd.stand_ins(&node_groups);
    node_groups.extend(stand_ins);
    // Groups the template neither creates nor describes: their rules cannot be seen, so they
    // leave the lists, and the rules judge the groups beside them (or nothing, when none is
    // left) rather than report traffic blocked by rules that may well exist.
    let known: Vec<String> = rd.sgs.iter().map(|s| s.key.clone()).collect();
    let keep = |v: &mut Vec<String>| v.retain(|k| known.contains(k));
    for ng in &mut node_groups {
        keep(&mut ng.security_groups);
        for n in &mut ng.interfaces {
            keep(&mut n.security_groups);
        }
    }
    let mut endpoints = endpoints;
    for e in &mut endpoints {
        keep(&mut e.security_groups);
    }
    let mut file_systems = file_systems;
    for f in &mut file_systems {
        keep(&mut f.security_groups);
    }

    let target = meta_str("target")
        .and_then(Target::from_name)
        .unwrap_or(Target::CloudFormation);
    let scheduler = meta_str("scheduler")
        .and_then(Scheduler::from_name)
        .unwrap_or(Scheduler::None);
    let mpi = mpi_secret.map(|key| {
        let names_it = |r: &Role| {
            r.statements
                .iter()
                .flat_map(|s| &s.resources)
                .any(|x| *x == ResourceRef::Secret(key.clone()))
        };
        let mut readers: Vec<String> = roles
            .iter()
            .filter(|r| names_it(r))
            .map(|r| r.key.clone())
            .collect();
        if target != Target::Batch {
            // Nodes read the key at boot with their instance role.
            readers.extend(node_groups.iter().filter_map(|ng| ng.instance_role.clone()));
        }
        readers.sort();
        readers.dedup();
        Mpi {
            launcher: MpiLauncher::Ssh,
            secret: Some(key.clone()),
            readers,
            origin: Origin::Spec(rpath(&key)),
        }
    });
    let cluster = Cluster {
        name: meta_str("cluster").unwrap_or("").to_string(),
        region,
        zone: None,
        target,
        scheduler,
        vpc,
        subnets,
        endpoints,
        security_groups: rd.sgs,
        placement_groups,
        node_groups,
        mpi,
        secrets,
        roles,
        nccl: Nccl::default(),
        file_systems,
        parallelcluster: ParallelClusterSettings::default(),
        settings: Settings {
            efa_sg_mode: match target {
                Target::ParallelCluster => SgMode::Any,
                _ => SgMode::Every,
            },
            ..Settings::default()
        },
        tags: Default::default(),
    };
    TemplateRead {
        cluster: Some(cluster),
        source,
        findings: rd.findings,
        aliases: rd.aliases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(text: &str) -> Value {
        to_json(&yaml::parse(text).unwrap().unwrap())
    }

    #[test]
    fn short_form_tags_become_long_form() {
        let v = json_of(
            "a: !Ref X\nb: !GetAtt A.B\nc: !Sub 'x-${AWS::Region}'\nd: !Select [0, !GetAZs '']\ne: 5\nf: true\ng: '5'\n",
        );
        assert_eq!(v["a"], serde_json::json!({ "Ref": "X" }));
        assert_eq!(v["b"], serde_json::json!({ "Fn::GetAtt": ["A", "B"] }));
        assert_eq!(v["c"], serde_json::json!({ "Fn::Sub": "x-${AWS::Region}" }));
        assert_eq!(
            v["d"],
            serde_json::json!({ "Fn::Select": [0, { "Fn::GetAZs": "" }] })
        );
        assert_eq!(v["e"], serde_json::json!(5));
        assert_eq!(v["f"], serde_json::json!(true));
        assert_eq!(v["g"], serde_json::json!("5"));
    }

    #[test]
    fn words_split_identifiers() {
        assert_eq!(words("EFASecurityGroup"), ["EFA", "Security", "Group"]);
        assert_eq!(
            words("DefaultSecurityGroup"),
            ["Default", "Security", "Group"]
        );
        assert!(says_efa("Allow EFA communication"));
        assert!(!says_efa("DefaultSecurityGroup"));
        assert!(says_efa("efa-sg"));
    }

    #[test]
    fn intrinsics_evaluate_with_parameter_defaults() {
        let t = json_of(
            "Parameters:\n  Az: { Type: String, Default: usw2-az4 }\n  Make: { Type: String, Default: 'true' }\nMappings:\n  Net: { Vpc: { Cidr: 10.1.0.0/16 } }\nConditions:\n  Yes: !Equals [!Ref Make, 'true']\n  No: !Not [!Condition Yes]\nResources:\n  Vpc: { Type: AWS::EC2::VPC, Properties: { CidrBlock: !FindInMap [Net, Vpc, Cidr] } }\n",
        );
        let res = t["Resources"].as_object().unwrap();
        let doc = Doc {
            resources: res,
            params: t["Parameters"].as_object().unwrap().clone(),
            mappings: t["Mappings"].as_object().unwrap().clone(),
            conditions: t["Conditions"].as_object().unwrap().clone(),
            region: "us-west-2".into(),
            cond_cache: RefCell::new(HashMap::new()),
        };
        let ev = |s: &str| doc.eval(&json_of(s)["x"]);
        assert_eq!(ev("x: !Ref Az"), V::S("usw2-az4".into()));
        assert_eq!(
            ev("x: !Select [1, !Cidr [!GetAtt Vpc.CidrBlock, 2, 12]]"),
            V::S("10.1.16.0/20".into())
        );
        assert_eq!(
            ev("x: !Join ['', [com.amazonaws., !Ref 'AWS::Region', .s3]]"),
            V::S("com.amazonaws.us-west-2.s3".into())
        );
        assert_eq!(
            ev("x: !Sub 'com.amazonaws.${AWS::Region}.logs'"),
            V::S("com.amazonaws.us-west-2.logs".into())
        );
        assert_eq!(ev("x: !If [No, a, b]"), V::S("b".into()));
        assert_eq!(ev("x: !Ref Vpc"), V::Ref("Vpc".into()));
        assert_eq!(doc.condition("Yes", 0), Some(true));
    }
}
