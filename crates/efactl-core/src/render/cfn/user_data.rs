//! Launch-template user data: the bootstrap script as it is when it fits EC2's 16 KB limit,
//! else gzip-compressed and base64-encoded (for AWS Batch inside a MIME multi-part archive),
//! and the reverse, [`user_data_script`], which the tests use to read a template's script back.

use base64ct::{Base64, Base64Unpadded, Encoding};
use serde_json::{json, Value};

/// EC2 takes at most 16 KB of user data, counted before base64.
pub const USER_DATA_LIMIT: usize = 16 * 1024;

/// A launch template's `UserData` for the bootstrap script, and whether it had to be
/// compressed. The script as it is, when it fits EC2's limit (readable in the template); else
/// gzip-compressed, which cloud-init decompresses: the whole user data (written as base64,
/// since CloudFormation's `Fn::Base64` takes text only), or for AWS Batch, which needs MIME
/// multi-part user data to merge its own part in, one `application/x-gzip` part.
pub(super) fn user_data(script: &str, batch: bool) -> (Value, bool) {
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

/// Standard base64 with `=` padding, as `Fn::Base64` and cloud-init expect.
fn base64(data: &[u8]) -> String {
    Base64::encode_string(data)
}

/// The bytes of base64 text as [`base64`] and [`user_data`] write it: ASCII whitespace (the
/// 76-column lines of the MIME part) and `=` are ignored, so padding is optional; any other
/// character outside the standard alphabet gives `None`.
fn unbase64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && *c != '=')
        .collect();
    Base64Unpadded::decode_vec(&compact).ok()
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
    fn base64_round_trips_and_big_scripts_are_compressed() {
        for s in ["", "a", "ab", "abc", "abcd", "hello world\n"] {
            assert_eq!(unbase64(&base64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(unbase64("TWE").unwrap(), b"Ma", "padding is optional");
        assert_eq!(
            unbase64(" TW\nFu\r\n").unwrap(),
            b"Man",
            "whitespace is ignored"
        );
        assert_eq!(unbase64("TW-u"), None, "not the standard alphabet");
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
