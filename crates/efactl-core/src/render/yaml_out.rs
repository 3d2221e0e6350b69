//! A small, deterministic YAML writer for JSON values (CloudFormation templates, ParallelCluster
//! configs). Keys keep their insertion order; strings are quoted only when YAML would read them
//! as something else; multi-line strings become literal blocks so scripts stay readable.

use serde_json::Value;

pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, ind: usize) {
    for (k, v) in m {
        indent(out, ind);
        out.push_str(&key(k));
        out.push(':');
        write_value_after_key(out, v, ind);
    }
}

fn write_seq(out: &mut String, a: &[Value], ind: usize) {
    for v in a {
        indent(out, ind);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // First key on the dash line, the rest aligned under it.
                let mut first = true;
                for (k, val) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(out, ind + 2);
                    }
                    out.push_str(&key(k));
                    out.push(':');
                    write_value_after_key(out, val, ind + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, ind + 2);
            }
            other => {
                out.push(' ');
                write_scalar_or_block(out, other, ind + 2);
            }
        }
    }
}

fn write_value_after_key(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, ind + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, ind + 2);
        }
        other => {
            out.push(' ');
            write_scalar_or_block(out, other, ind + 2);
        }
    }
}

fn write_scalar_or_block(out: &mut String, v: &Value, ind: usize) {
    if let Value::String(s) = v {
        if s.contains('\n') && block_safe(s) {
            out.push('|');
            if !s.ends_with('\n') {
                out.push('-');
            } else if s.ends_with("\n\n") {
                out.push('+');
            }
            out.push('\n');
            for line in s.trim_end_matches('\n').split('\n') {
                if !line.is_empty() {
                    indent(out, ind);
                    out.push_str(line);
                }
                out.push('\n');
            }
            return;
        }
    }
    out.push_str(&scalar(v));
    out.push('\n');
}

/// A literal block keeps every character except a leading space on the first line (which would
/// change the indentation indicator) and non-printable characters.
fn block_safe(s: &str) -> bool {
    !s.starts_with(' ')
        && !s.starts_with('\n')
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
        && !s.contains('\r')
}

fn key(k: &str) -> String {
    if plain_ok(k) {
        k.to_string()
    } else {
        quote(k)
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if plain_ok(s) {
                s.clone()
            } else {
                quote(s)
            }
        }
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn quote(s: &str) -> String {
    // JSON string syntax is valid YAML double-quoted syntax.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// May `s` be written as a plain scalar and read back as the same string?
fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return false;
    }
    // Words YAML 1.1 or 1.2 readers take as booleans, nulls or numbers.
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | "null"
            | "~"
            | ".inf"
            | "-.inf"
            | ".nan"
    ) {
        return false;
    }
    if s.parse::<f64>().is_ok() || looks_numeric(s) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // A leading dash followed by a non-space is fine in YAML, but keep it simple.
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    s.chars().all(|c| !c.is_control())
}

/// 0x1F, 0o17, 1_000, 12:30 (sexagesimal in YAML 1.1) and friends.
fn looks_numeric(s: &str) -> bool {
    let t = s.trim_start_matches(['+', '-']);
    t.starts_with("0x")
        || t.starts_with("0o")
        || t.starts_with("0b")
        || (t.chars().next().is_some_and(|c| c.is_ascii_digit())
            && t.chars()
                .all(|c| c.is_ascii_digit() || "_:.eE+-".contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_nested_maps_lists_and_blocks() {
        let v = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {
                "Sg": { "Type": "AWS::EC2::SecurityGroup", "Properties": { "Tags": [ { "Key": "a", "Value": "true" } ] } }
            },
            "List": [ "x", 1, [ "y" ] ],
            "Script": "#!/bin/bash\nset -e\n",
            "Empty": {},
        });
        let y = to_yaml(&v);
        assert_eq!(
            y,
            "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n  Sg:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      Tags:\n        - Key: a\n          Value: \"true\"\nList:\n  - x\n  - 1\n  -\n    - \"y\"\nScript: |\n  #!/bin/bash\n  set -e\nEmpty: {}\n"
        );
    }

    #[test]
    fn round_trips_through_the_parser() {
        let v = json!({
            "a": ["-1", "0x10", "yes", "", " lead", "a: b", "x #y", "12:30", "ok", "é", "line1\nline2", "tab\there"],
            "b": { "c": null, "d": 1.5, "e": false }
        });
        let y = to_yaml(&v);
        let node = crate::yaml::parse(&y).unwrap().unwrap();
        let crate::yaml::Kind::Map(entries) = &node.kind else {
            panic!()
        };
        let crate::yaml::Kind::Seq(items) = &entries[0].1.kind else {
            panic!()
        };
        let strings: Vec<(String, bool)> = items
            .iter()
            .map(|n| match &n.kind {
                crate::yaml::Kind::Scalar { value, plain } => (value.clone(), *plain),
                _ => panic!(),
            })
            .collect();
        let want = [
            "-1",
            "0x10",
            "yes",
            "",
            " lead",
            "a: b",
            "x #y",
            "12:30",
            "ok",
            "é",
            "line1\nline2",
            "tab\there",
        ];
        for ((got, plain), want) in strings.iter().zip(want) {
            assert_eq!(got, want);
            // Anything YAML might not read as a string must not be plain.
            if ["-1", "0x10", "yes", "", "12:30"].contains(&want) {
                assert!(!plain, "{want} was written plain");
            }
        }
    }
}
