//! Values as a config file writes them, for every config reader: known, absent, or written
//! but filled in later by a script (a placeholder), which is never guessed.

use serde_json::Value;

/// A value as a config writes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<T> {
    Absent,
    Known(T),
    /// Written, but filled in later by a script or a template engine: the text.
    Unknown(String),
}

/// Is this text a placeholder that a script or template engine fills in before the tool that
/// reads the file sees it (`${X}`, `$X`, `{{ x }}`, `{% ... %}`, `<X>`, `{X}`)?
pub(crate) fn is_placeholder(s: &str) -> bool {
    let s = s.trim();
    s.contains("${")
        || s.contains("{{")
        || s.contains("{%")
        || (s.starts_with('$') && s.len() > 1)
        || (s.starts_with('<') && s.ends_with('>'))
        || (s.starts_with('{') && s.ends_with('}'))
        || s.chars().any(char::is_whitespace)
}

/// The value at a path of keys.
pub(crate) fn at<'v>(v: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter().try_fold(v, |v, k| v.get(*k))
}

pub(crate) fn text(v: Option<&Value>) -> Val<String> {
    match v {
        None | Some(Value::Null) => Val::Absent,
        Some(Value::String(s)) if is_placeholder(s) => Val::Unknown(s.clone()),
        Some(Value::String(s)) => Val::Known(s.clone()),
        Some(other) => Val::Unknown(other.to_string()),
    }
}

pub(crate) fn flag(v: Option<&Value>) -> Val<bool> {
    match v {
        None | Some(Value::Null) => Val::Absent,
        Some(Value::Bool(b)) => Val::Known(*b),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Val::Known(true),
            "false" => Val::Known(false),
            _ => Val::Unknown(s.clone()),
        },
        Some(other) => Val::Unknown(other.to_string()),
    }
}

pub(crate) fn number(v: Option<&Value>) -> Val<u32> {
    match v {
        None | Some(Value::Null) => Val::Absent,
        Some(Value::Number(n)) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Val::Known(n),
            None => Val::Unknown(n.to_string()),
        },
        Some(Value::String(s)) => match s.trim().parse() {
            Ok(n) => Val::Known(n),
            Err(_) => Val::Unknown(s.clone()),
        },
        Some(other) => Val::Unknown(other.to_string()),
    }
}

/// The strings of a list (`SubnetIds`, `SecurityGroups`); a single string is a list of one.
pub(crate) fn strings(v: Option<&Value>) -> Vec<Val<String>> {
    match v {
        Some(Value::Array(items)) => items.iter().map(|i| text(Some(i))).collect(),
        Some(Value::String(_)) => vec![text(v)],
        _ => Vec::new(),
    }
}
