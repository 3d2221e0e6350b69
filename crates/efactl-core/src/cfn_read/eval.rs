//! Intrinsic functions and conditions, evaluated with the parameters' values.

use crate::net::Cidr;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;

/// A value of the template after what can be evaluated is evaluated.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum V {
    S(String),
    L(Vec<V>),
    /// `Ref` to a resource of the template.
    Ref(String),
    /// `Ref` to a parameter without a default.
    Param(String),
    Att(String, String),
    /// `Ref AWS::NoValue`: the property or list item is left out.
    NoValue,
    Unknown,
}

impl V {
    pub(super) fn s(&self) -> Option<&str> {
        match self {
            V::S(s) => Some(s),
            _ => None,
        }
    }
}

pub(super) const MAX_EVAL_DEPTH: u32 = 32;

pub(super) struct Doc<'t> {
    pub(super) resources: &'t Map<String, Value>,
    pub(super) params: Map<String, Value>,
    pub(super) mappings: Map<String, Value>,
    pub(super) conditions: Map<String, Value>,
    pub(super) region: String,
    /// `--parameter KEY=VALUE`: wins over the parameter's default.
    pub(super) overrides: HashMap<String, String>,
    pub(super) cond_cache: RefCell<HashMap<String, Option<bool>>>,
}

impl<'t> Doc<'t> {
    pub(super) fn kind_of(&self, id: &str) -> Option<&'t str> {
        self.resources.get(id)?.get("Type")?.as_str()
    }

    pub(super) fn props(&self, id: &str) -> Option<&'t Map<String, Value>> {
        self.resources.get(id)?.get("Properties")?.as_object()
    }

    pub(super) fn prop(&self, id: &str, name: &str) -> Option<&'t Value> {
        self.props(id)?.get(name)
    }

    pub(super) fn eval(&self, v: &Value) -> V {
        self.eval_d(v, 0)
    }

    pub(super) fn eval_d(&self, v: &Value, d: u32) -> V {
        if d > MAX_EVAL_DEPTH {
            return V::Unknown;
        }
        match v {
            Value::String(s) => V::S(s.clone()),
            Value::Number(n) => V::S(n.to_string()),
            Value::Bool(b) => V::S(b.to_string()),
            Value::Null => V::Unknown,
            Value::Array(a) => V::L(
                a.iter()
                    .map(|x| self.eval_d(x, d + 1))
                    .filter(|x| *x != V::NoValue)
                    .collect(),
            ),
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().expect("one entry");
                self.intrinsic(k, arg, d + 1)
            }
            Value::Object(_) => V::Unknown,
        }
    }

    pub(super) fn intrinsic(&self, f: &str, arg: &Value, d: u32) -> V {
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
            // The zones of the region in order. Their names in an account are its own
            // mapping, but distinct indexes are distinct zones and equal indexes one zone,
            // which is what the rules weigh.
            "Fn::GetAZs" => V::L(
                ('a'..='f')
                    .map(|c| V::S(format!("{}{c}", self.region)))
                    .collect(),
            ),
            _ => V::Unknown,
        }
    }

    pub(super) fn eval_ref(&self, name: &str, d: u32) -> V {
        match name {
            "AWS::Region" => return V::S(self.region.clone()),
            "AWS::NoValue" => return V::NoValue,
            "AWS::Partition" => return V::S("aws".into()),
            "AWS::AccountId" => return V::S("123456789012".into()),
            "AWS::URLSuffix" => return V::S("amazonaws.com".into()),
            "AWS::StackName" => return V::S("stack".into()),
            n if n.starts_with("AWS::") => return V::Unknown,
            _ => {}
        }
        if let Some(p) = self.params.get(name) {
            let is_list = p
                .get("Type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("List<") || t == "CommaDelimitedList");
            let given = self.overrides.get(name).map(|v| Value::String(v.clone()));
            let Some(default) = given.as_ref().or_else(|| p.get("Default")) else {
                return V::Param(name.to_string());
            };
            if is_list && default.as_str() == Some("") {
                return V::L(Vec::new());
            }
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

    pub(super) fn sub(&self, text: &str, vars: Option<&Map<String, Value>>, d: u32) -> V {
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
    pub(super) fn condition(&self, name: &str, d: u32) -> Option<bool> {
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

    pub(super) fn cond_value(&self, v: &Value, d: u32) -> Option<bool> {
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

/// Intrinsic functions whose value the resolver computes in place.
const COMPUTED: &[&str] = &[
    "Fn::Select",
    "Fn::Join",
    "Fn::Sub",
    "Fn::FindInMap",
    "Fn::Split",
    "Fn::GetAZs",
    "Fn::Cidr",
    "Fn::Base64",
];

/// A value of the evaluator back in the template's JSON form, when it has one.
fn to_value(v: &V) -> Option<Value> {
    Some(match v {
        V::S(s) => Value::String(s.clone()),
        V::L(items) => Value::Array(items.iter().map(to_value).collect::<Option<Vec<_>>>()?),
        V::Ref(x) | V::Param(x) => serde_json::json!({ "Ref": x }),
        V::Att(a, b) => serde_json::json!({ "Fn::GetAtt": [a, b] }),
        V::NoValue | V::Unknown => return None,
    })
}

/// Where a resolved value sits in the template, when that differs from where it sits in the
/// resolved tree: a list item after a left-out one, a branch of `Fn::If`.
pub(super) type Moved = Vec<(String, String)>;

impl Doc<'_> {
    /// The template's resources as CloudFormation would see them with these parameters:
    /// resources whose condition is false left out, `Fn::If` replaced by its branch,
    /// `AWS::NoValue` properties and list items removed, parameter references and computable
    /// functions replaced by their values. What cannot be known (`Fn::ImportValue`, a
    /// parameter without a value, a condition on one) stays as written, and reads as unknown.
    pub(super) fn resolve_resources(
        &self,
        written: &dyn Fn(&str) -> bool,
    ) -> (Map<String, Value>, Moved) {
        let mut out = Map::new();
        let mut moved = Vec::new();
        for (id, r) in self.resources {
            let on = r
                .get("Condition")
                .and_then(Value::as_str)
                .is_none_or(|c| self.condition(c, 0) != Some(false));
            if !on {
                continue;
            }
            let mut r = r.clone();
            if let Some(props) = r.get_mut("Properties") {
                let path = format!("Resources.{id}.Properties");
                let cx = Cx {
                    written,
                    moved: &mut moved,
                };
                *props = self
                    .resolve(props, &path, &path, cx, 0)
                    .unwrap_or(Value::Object(Map::new()));
            }
            out.insert(id.clone(), r);
        }
        (out, moved)
    }

    fn resolve(
        &self,
        v: &Value,
        out: &str,
        src: &str,
        mut cx: Cx<'_, '_>,
        d: u32,
    ) -> Option<Value> {
        if d > MAX_EVAL_DEPTH {
            return Some(v.clone());
        }
        match v {
            Value::Array(items) => {
                let mut res = Vec::with_capacity(items.len());
                for (j, x) in items.iter().enumerate() {
                    let o = format!("{out}[{}]", res.len());
                    let s = format!("{src}[{j}]");
                    if let Some(r) = self.resolve(x, &o, &s, cx.again(), d + 1) {
                        if res.len() != j {
                            cx.moved.push((o, s));
                        }
                        res.push(r);
                    }
                }
                Some(Value::Array(res))
            }
            Value::Object(m) if m.len() == 1 && is_function(m.keys().next().expect("one")) => {
                let (f, arg) = m.iter().next().expect("one entry");
                self.resolve_function(v, f, arg, out, src, cx, d)
            }
            Value::Object(m) => {
                let mut res = Map::new();
                for (k, x) in m {
                    let o = format!("{out}.{k}");
                    let s = format!("{src}.{k}");
                    if let Some(r) = self.resolve(x, &o, &s, cx.again(), d + 1) {
                        res.insert(k.clone(), r);
                    }
                }
                Some(Value::Object(res))
            }
            _ => Some(v.clone()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn resolve_function(
        &self,
        v: &Value,
        f: &str,
        arg: &Value,
        out: &str,
        src: &str,
        mut cx: Cx<'_, '_>,
        d: u32,
    ) -> Option<Value> {
        // The argument's path: `X.Fn::If` in the long form, `X` itself under a short-form tag.
        let long = format!("{src}.{f}");
        let arg_src = if (cx.written)(&long) {
            long
        } else {
            src.to_string()
        };
        match f {
            "Ref" => match self.eval_d(v, d) {
                V::NoValue => None,
                V::Param(_) | V::Unknown => Some(v.clone()),
                e => Some(to_value(&e).unwrap_or_else(|| v.clone())),
            },
            "Fn::If" => {
                let items = arg.as_array().filter(|a| a.len() == 3)?;
                let branch = match items[0].as_str().and_then(|c| self.condition(c, d)) {
                    Some(true) => 1,
                    Some(false) => 2,
                    None => return Some(v.clone()),
                };
                let s = format!("{arg_src}[{branch}]");
                let r = self.resolve(&items[branch], out, &s, cx.again(), d + 1)?;
                cx.moved.push((out.to_string(), s));
                Some(r)
            }
            _ if COMPUTED.contains(&f) => match self.eval_d(v, d) {
                V::NoValue => None,
                e => Some(to_value(&e).unwrap_or_else(|| v.clone())),
            },
            _ => Some(v.clone()),
        }
    }
}

fn is_function(k: &str) -> bool {
    k == "Ref" || k == "Condition" || k.starts_with("Fn::")
}

/// What the resolver carries down the tree.
struct Cx<'a, 'm> {
    written: &'a dyn Fn(&str) -> bool,
    moved: &'m mut Moved,
}

impl Cx<'_, '_> {
    fn again(&mut self) -> Cx<'_, '_> {
        Cx {
            written: self.written,
            moved: self.moved,
        }
    }
}

pub(super) fn as_bool(v: &V) -> Option<bool> {
    match v.s()?.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

pub(super) fn as_u32(v: &V) -> Option<u32> {
    v.s()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn_read::decode::to_json;
    use crate::yaml;

    fn json_of(text: &str) -> Value {
        to_json(&yaml::parse(text).unwrap().unwrap())
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
            overrides: HashMap::new(),
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
