//! The template's YAML or JSON as one JSON tree, short-form tags in their long form.

use crate::yaml::{self, Kind, Node};
use serde_json::{Map, Value};

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
pub(super) fn plain_scalar(s: &str) -> Value {
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
}
