//! `efactl keys`: the MPI SSH key pair, generated and checked without AWS.
//!
//! The secret's value is a contract between three places: `efactl keys create` writes it, the
//! node bootstrap ([`crate::render::bootstrap`]) reads it at boot, and the rendered template
//! ([`crate::render::cfn::secret_placeholder`]) stands in for it until the key exists. So the
//! shape lives here, next to the field names those renderers export, and is tested against
//! them: a JSON object with [`PRIVATE_KEY_FIELD`] (the OpenSSH private key file) and
//! [`PUBLIC_KEY_FIELD`] (the `authorized_keys` line), each base64 without line breaks.
//!
//! Storing the value is the AWS backend's job ([`crate::cloud::CloudBackend::create_secret`],
//! [`crate::cloud::CloudBackend::put_secret_value`]); deciding whether to create, populate,
//! replace or refuse is [`plan_store`], pure.
//!
//! Key material never reaches a `Debug` or `Display` impl: [`SecretText`] and [`KeyPair`]
//! print as redacted, and both wipe their memory when dropped (the private key through
//! `ssh-key`'s own zeroizing types, the encoded text through [`zeroize::Zeroizing`]).

use crate::render::cfn::{PRIVATE_KEY_FIELD, PUBLIC_KEY_FIELD};
use base64ct::{Base64, Encoding};
use ssh_key::private::{KeypairData, RsaKeypair};
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey};
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// RSA keys are made this large: OpenSSH's own default is 3072, and older MPI stacks that need
/// RSA at all are the ones least likely to be upgraded soon.
pub const RSA_BITS: usize = 4096;

/// The key types `efactl keys create` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// Small, fast, and what every OpenSSH since 6.5 (2014) accepts.
    #[default]
    Ed25519,
    /// For MPI stacks whose SSH predates ed25519 support.
    Rsa,
}

impl KeyKind {
    pub const NAMES: &'static [&'static str] = &["ed25519", "rsa"];

    pub fn from_name(s: &str) -> Option<KeyKind> {
        match s.to_ascii_lowercase().as_str() {
            "ed25519" => Some(KeyKind::Ed25519),
            "rsa" => Some(KeyKind::Rsa),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        KeyKind::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate a {kind} key pair: {message}")]
    Generate { kind: &'static str, message: String },
    #[error("cannot encode the key pair: {0}")]
    Encode(String),
}

/// Text that holds key material: a secret's value on its way to or from Secrets Manager.
/// Its `Debug` prints only its length, it has no `Display`, and its memory is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    pub fn new(text: impl Into<String>) -> SecretText {
        SecretText(Zeroizing::new(text.into()))
    }

    /// The text itself, for the one place that must send it (the SDK call).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretText(<redacted, {} bytes>)", self.0.len())
    }
}

/// A generated key pair. The private half stays inside `ssh-key`'s zeroizing types; it leaves
/// only as the secret's value ([`KeyPair::secret_value`]).
pub struct KeyPair {
    private: PrivateKey,
    public_line: String,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("algorithm", &self.private.algorithm().as_str())
            .field("fingerprint", &self.fingerprint())
            .field("private", &"<redacted>")
            .finish()
    }
}

/// Makes a new key pair from the operating system's random source. `comment` ends the
/// public key line (`ssh-ed25519 AAAA... COMMENT`): efactl puts the secret's name there so
/// that an `authorized_keys` line says where it came from.
pub fn generate(kind: KeyKind, comment: &str) -> Result<KeyPair, KeyError> {
    let fail = |e: ssh_key::Error| KeyError::Generate {
        kind: kind.name(),
        message: e.to_string(),
    };
    let mut private = match kind {
        KeyKind::Ed25519 => PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(fail)?,
        KeyKind::Rsa => {
            let pair = RsaKeypair::random(&mut OsRng, RSA_BITS).map_err(fail)?;
            PrivateKey::new(KeypairData::from(pair), "").map_err(fail)?
        }
    };
    private.set_comment(comment);
    let public_line = private
        .public_key()
        .to_openssh()
        .map_err(|e| KeyError::Encode(e.to_string()))?;
    Ok(KeyPair {
        private,
        public_line,
    })
}

impl KeyPair {
    /// The `authorized_keys` line (no newline): public, safe to print.
    pub fn public_line(&self) -> &str {
        &self.public_line
    }

    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        self.private.fingerprint(HashAlg::Sha256).to_string()
    }

    pub fn algorithm(&self) -> String {
        self.private.algorithm().as_str().to_string()
    }

    /// The secret's value: `{"MPI_SSH_KEY_PRIVATE": "<base64>", "MPI_SSH_KEY_PUBLIC":
    /// "<base64>"}`. Written by hand rather than through serde so that no unzeroized copy of
    /// the private key is left behind (base64 needs no JSON escaping).
    pub fn secret_value(&self) -> Result<SecretText, KeyError> {
        let pem = self
            .private
            .to_openssh(LineEnding::LF)
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        let private_b64 = encode_zeroizing(pem.as_bytes())?;
        let public_b64 = Base64::encode_string(self.public_line.as_bytes());
        let mut out = Zeroizing::new(String::with_capacity(
            private_b64.len() + public_b64.len() + 64,
        ));
        out.push_str("{\"");
        out.push_str(PRIVATE_KEY_FIELD);
        out.push_str("\":\"");
        out.push_str(&private_b64);
        out.push_str("\",\"");
        out.push_str(PUBLIC_KEY_FIELD);
        out.push_str("\":\"");
        out.push_str(&public_b64);
        out.push_str("\"}");
        Ok(SecretText(out))
    }
}

fn encode_zeroizing(data: &[u8]) -> Result<Zeroizing<String>, KeyError> {
    let mut buf = Zeroizing::new(vec![0u8; Base64::encoded_len(data)]);
    let len = Base64::encode(data, &mut buf)
        .map_err(|e| KeyError::Encode(e.to_string()))?
        .len();
    buf.truncate(len);
    // Base64 output is ASCII; the check cannot fail, and an error is returned rather than a panic.
    let text = std::str::from_utf8(&buf).map_err(|e| KeyError::Encode(e.to_string()))?;
    Ok(Zeroizing::new(text.to_string()))
}

/// What a secret's value holds, as far as the nodes are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretState {
    /// A usable key pair.
    Populated(KeyInfo),
    /// The template's placeholder (or empty fields): `efactl keys create` has not run.
    Placeholder,
    /// A secret created without a value (the console and `aws secretsmanager create-secret`
    /// allow it): it has no version, so reading it fails.
    NoValue,
    /// Something the nodes cannot use; each string says why, in words for the user.
    Malformed(Vec<String>),
}

/// The public facts of a stored key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// `ssh-ed25519`, `ssh-rsa`.
    pub algorithm: String,
    /// `SHA256:...`.
    pub fingerprint: String,
    pub comment: String,
}

/// Reads a secret's value the way the node bootstrap will, and says whether it would work.
/// Never fails and never panics, whatever the text.
pub fn check_secret_value(text: &str) -> SecretState {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str::<serde_json::Value>(text)
    else {
        return SecretState::Malformed(vec![format!(
            "the value is not a JSON object with `{PRIVATE_KEY_FIELD}` and `{PUBLIC_KEY_FIELD}`"
        )]);
    };
    // The fields move into wiping strings; whatever else the object holds is wiped before
    // the parsed tree is dropped.
    let mut take = |name: &str| match map.remove(name) {
        None => None,
        Some(serde_json::Value::String(s)) => Some(Some(Zeroizing::new(s))),
        Some(_) => Some(None),
    };
    let (private_text, public_text) = (take(PRIVATE_KEY_FIELD), take(PUBLIC_KEY_FIELD));
    for v in map.values_mut() {
        if let serde_json::Value::String(s) = v {
            s.zeroize();
        }
    }
    let (private, public) = (field_str(&private_text), field_str(&public_text));
    let blank = |v: Option<Option<&str>>| matches!(v, Some(Some(s)) if s.trim().is_empty());
    if blank(private) && blank(public) {
        return SecretState::Placeholder;
    }
    let mut problems = Vec::new();
    let private_key = match private {
        None => {
            problems.push(format!("`{PRIVATE_KEY_FIELD}` is missing"));
            None
        }
        Some(None) => {
            problems.push(format!("`{PRIVATE_KEY_FIELD}` is not a string"));
            None
        }
        Some(Some(s)) if s.trim().is_empty() => {
            problems.push(format!("`{PRIVATE_KEY_FIELD}` is empty"));
            None
        }
        Some(Some(s)) => parse_private(s, &mut problems),
    };
    let public_key = match public {
        None => {
            problems.push(format!("`{PUBLIC_KEY_FIELD}` is missing"));
            None
        }
        Some(None) => {
            problems.push(format!("`{PUBLIC_KEY_FIELD}` is not a string"));
            None
        }
        Some(Some(s)) if s.trim().is_empty() => {
            problems.push(format!("`{PUBLIC_KEY_FIELD}` is empty"));
            None
        }
        Some(Some(s)) => parse_public(s, &mut problems),
    };
    if let (Some(private), Some(public)) = (&private_key, &public_key) {
        if private.public_key().key_data() != public.key_data() {
            problems.push(format!(
                "`{PUBLIC_KEY_FIELD}` is not the public half of `{PRIVATE_KEY_FIELD}`: the nodes would not accept each other's logins"
            ));
        }
    }
    match (problems.is_empty(), private_key) {
        (true, Some(private)) => SecretState::Populated(KeyInfo {
            algorithm: private.algorithm().as_str().to_string(),
            fingerprint: private.fingerprint(HashAlg::Sha256).to_string(),
            comment: private.comment().to_string(),
        }),
        (true, None) => SecretState::Malformed(vec![format!("`{PRIVATE_KEY_FIELD}` is missing")]),
        (false, _) => SecretState::Malformed(problems),
    }
}

/// A field as read: absent, not a string, or its text.
fn field_str(f: &Option<Option<Zeroizing<String>>>) -> Option<Option<&str>> {
    f.as_ref().map(|v| v.as_ref().map(|s| s.as_str()))
}

/// Base64 as the bootstrap's `base64 -d` reads it: line breaks and spaces are tolerated.
fn decode_b64(field: &str, text: &str, problems: &mut Vec<String>) -> Option<Zeroizing<Vec<u8>>> {
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    match Base64::decode_vec(&compact) {
        Ok(bytes) => Some(Zeroizing::new(bytes)),
        Err(_) => {
            problems.push(format!("`{field}` is not base64"));
            None
        }
    }
}

fn parse_private(b64: &str, problems: &mut Vec<String>) -> Option<PrivateKey> {
    let bytes = decode_b64(PRIVATE_KEY_FIELD, b64, problems)?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        problems.push(format!(
            "`{PRIVATE_KEY_FIELD}` does not decode to text: it is not an OpenSSH private key file"
        ));
        return None;
    };
    let trimmed = text.trim_start();
    if !trimmed.starts_with("-----BEGIN ") {
        problems.push(format!(
            "`{PRIVATE_KEY_FIELD}` does not decode to a private key file (no `-----BEGIN` line)"
        ));
        return None;
    }
    if !trimmed.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----") {
        problems.push(format!(
            "`{PRIVATE_KEY_FIELD}` is a PEM key, not in OpenSSH's format, so efactl cannot check it; `efactl keys create --rotate` replaces it with one it can"
        ));
        return None;
    }
    // OpenSSH reads its key files whatever their line width; ssh-key insists on OpenSSH's own
    // 70 columns, and Python's `cryptography` and Go's x/crypto write 64. Rewrap and retry.
    let parsed = PrivateKey::from_openssh(trimmed).or_else(|e| {
        rewrap_openssh(trimmed)
            .and_then(|t| PrivateKey::from_openssh(t.as_str()).ok())
            .ok_or(e)
    });
    match parsed {
        Ok(k) if k.is_encrypted() => {
            problems.push(format!(
                "`{PRIVATE_KEY_FIELD}` is protected by a passphrase: the nodes cannot use it unattended"
            ));
            None
        }
        Ok(k) => Some(k),
        Err(e) => {
            problems.push(format!(
                "`{PRIVATE_KEY_FIELD}` is not a valid OpenSSH private key ({e})"
            ));
            None
        }
    }
}

/// The key file with its Base64 body rewrapped at 70 columns, the width ssh-key expects.
fn rewrap_openssh(text: &str) -> Option<Zeroizing<String>> {
    const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const END: &str = "-----END OPENSSH PRIVATE KEY-----";
    let body = text.strip_prefix(BEGIN)?;
    let end = body.find(END)?;
    let b64: Zeroizing<String> =
        Zeroizing::new(body[..end].chars().filter(|c| !c.is_whitespace()).collect());
    let mut out = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 70 + 80));
    out.push_str(BEGIN);
    out.push('\n');
    for chunk in b64.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).ok()?);
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    Some(out)
}

fn parse_public(b64: &str, problems: &mut Vec<String>) -> Option<PublicKey> {
    let bytes = decode_b64(PUBLIC_KEY_FIELD, b64, problems)?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        problems.push(format!("`{PUBLIC_KEY_FIELD}` does not decode to text"));
        return None;
    };
    let line = text.lines().next().unwrap_or("").trim();
    match PublicKey::from_openssh(line) {
        Ok(k) => Some(k),
        Err(e) => {
            problems.push(format!(
                "`{PUBLIC_KEY_FIELD}` is not an OpenSSH public key line ({e})"
            ));
            None
        }
    }
}

/// What Secrets Manager says of the secret before a store, as `efactl keys create` needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Missing,
    /// Scheduled for deletion: Secrets Manager refuses new values until it is restored.
    PendingDeletion,
    Present(SecretState),
}

/// What `efactl keys create` does with a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreAction {
    /// CreateSecret with the key pair.
    Create,
    /// PutSecretValue over the template's placeholder: the normal first run after a deploy.
    Populate,
    /// PutSecretValue over a key pair (`--rotate`).
    Replace,
    /// Nothing is written; the message says why and what to do.
    Refuse(String),
}

/// Decides what a store does. A key pair already in place is never overwritten without
/// `--rotate`: nodes running with it keep it until they boot again, and a new pair locks them
/// out of each other.
pub fn plan_store(secret: &str, existing: &Existing, rotate: bool) -> StoreAction {
    match existing {
        Existing::Missing => StoreAction::Create,
        Existing::PendingDeletion => StoreAction::Refuse(format!(
            "secret `{secret}` is scheduled for deletion; restore it first (`aws secretsmanager restore-secret --secret-id {secret}`) or choose another name"
        )),
        Existing::Present(SecretState::Placeholder | SecretState::NoValue) => StoreAction::Populate,
        Existing::Present(_) if rotate => StoreAction::Replace,
        Existing::Present(SecretState::Populated(info)) => StoreAction::Refuse(format!(
            "secret `{secret}` already holds a key pair ({} {}); `--rotate` replaces it (running nodes keep the old pair until their bootstrap runs again)",
            info.algorithm, info.fingerprint
        )),
        Existing::Present(SecretState::Malformed(problems)) => StoreAction::Refuse(format!(
            "secret `{secret}` holds a value that is not an efactl key pair ({}); `--rotate` replaces it",
            problems.join("; ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::cfn::secret_placeholder;

    fn decode(v: &serde_json::Value, field: &str) -> String {
        let b64 = v[field].as_str().unwrap();
        assert!(
            !b64.contains('\n'),
            "{field} must be base64 without line breaks"
        );
        String::from_utf8(Base64::decode_vec(b64).unwrap()).unwrap()
    }

    #[test]
    fn ed25519_secret_has_the_shape_the_bootstrap_reads() {
        let pair = generate(KeyKind::Ed25519, "efactl-mpi").unwrap();
        let value = pair.secret_value().unwrap();
        let v: serde_json::Value = serde_json::from_str(value.expose()).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(
            obj.keys().map(String::as_str).collect::<Vec<_>>(),
            vec![PRIVATE_KEY_FIELD, PUBLIC_KEY_FIELD]
        );
        let private = decode(&v, PRIVATE_KEY_FIELD);
        assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        let public = decode(&v, PUBLIC_KEY_FIELD);
        assert!(public.starts_with("ssh-ed25519 "), "{public}");
        assert!(public.ends_with(" efactl-mpi"));
        assert_eq!(public, pair.public_line());
        // The private key parses and its public half is the one stored beside it.
        let parsed = PrivateKey::from_openssh(&private).unwrap();
        assert_eq!(parsed.public_key().to_openssh().unwrap(), public);
        match check_secret_value(value.expose()) {
            SecretState::Populated(info) => {
                assert_eq!(info.algorithm, "ssh-ed25519");
                assert_eq!(info.fingerprint, pair.fingerprint());
                assert_eq!(info.comment, "efactl-mpi");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rsa_keys_are_4096_bits() {
        let pair = generate(KeyKind::Rsa, "mpi").unwrap();
        assert!(pair.public_line().starts_with("ssh-rsa "));
        let value = pair.secret_value().unwrap();
        let v: serde_json::Value = serde_json::from_str(value.expose()).unwrap();
        let parsed = PrivateKey::from_openssh(decode(&v, PRIVATE_KEY_FIELD)).unwrap();
        match parsed.key_data() {
            KeypairData::Rsa(k) => {
                assert_eq!(k.public.n.as_positive_bytes().map(<[u8]>::len), Some(512))
            }
            other => panic!("not RSA: {:?}", other.algorithm()),
        }
        assert!(matches!(
            check_secret_value(value.expose()),
            SecretState::Populated(_)
        ));
    }

    #[test]
    fn nothing_secret_in_debug_output() {
        let pair = generate(KeyKind::Ed25519, "c").unwrap();
        let value = pair.secret_value().unwrap();
        let v: serde_json::Value = serde_json::from_str(value.expose()).unwrap();
        let private_b64 = v[PRIVATE_KEY_FIELD].as_str().unwrap().to_string();
        for shown in [
            format!("{pair:?}"),
            format!("{value:?}"),
            format!("{pair:#?}"),
        ] {
            assert!(!shown.contains(&private_b64), "{shown}");
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }

    #[test]
    fn the_template_placeholder_reads_as_placeholder() {
        assert_eq!(
            check_secret_value(&secret_placeholder("mpi-key")),
            SecretState::Placeholder
        );
    }

    #[test]
    fn malformed_values_say_why() {
        let problems = |text: &str| match check_secret_value(text) {
            SecretState::Malformed(p) => p.join(" | "),
            other => panic!("{text}: {other:?}"),
        };
        assert!(problems("not json").contains("not a JSON object"));
        assert!(problems("[]").contains("not a JSON object"));
        assert!(problems("{}").contains("`MPI_SSH_KEY_PRIVATE` is missing"));
        assert!(
            problems(r#"{"MPI_SSH_KEY_PRIVATE": "!!!", "MPI_SSH_KEY_PUBLIC": "x"}"#)
                .contains("not base64")
        );
        let b64 = |s: &str| Base64::encode_string(s.as_bytes());
        let text = format!(
            r#"{{"MPI_SSH_KEY_PRIVATE": "{}", "MPI_SSH_KEY_PUBLIC": "{}"}}"#,
            b64("hello"),
            b64("ssh-ed25519 AAAA")
        );
        let p = problems(&text);
        assert!(p.contains("no `-----BEGIN` line"), "{p}");
        assert!(p.contains("not an OpenSSH public key line"), "{p}");
        let text = format!(
            r#"{{"MPI_SSH_KEY_PRIVATE": "{}", "MPI_SSH_KEY_PUBLIC": 7}}"#,
            b64("-----BEGIN RSA PRIVATE KEY-----\nxyz\n-----END RSA PRIVATE KEY-----\n")
        );
        let p = problems(&text);
        assert!(p.contains("not in OpenSSH's format"), "{p}");
        assert!(p.contains("`MPI_SSH_KEY_PUBLIC` is not a string"), "{p}");
        let text = format!(
            r#"{{"MPI_SSH_KEY_PRIVATE": "{}", "MPI_SSH_KEY_PUBLIC": ""}}"#,
            b64("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
        );
        let p = problems(&text);
        assert!(p.contains("not a valid OpenSSH private key"), "{p}");
        assert!(p.contains("`MPI_SSH_KEY_PUBLIC` is empty"), "{p}");
    }

    #[test]
    fn a_public_key_of_another_pair_is_caught() {
        let a = generate(KeyKind::Ed25519, "a").unwrap();
        let b = generate(KeyKind::Ed25519, "b").unwrap();
        let mut v: serde_json::Value =
            serde_json::from_str(a.secret_value().unwrap().expose()).unwrap();
        v[PUBLIC_KEY_FIELD] = Base64::encode_string(b.public_line().as_bytes()).into();
        match check_secret_value(&v.to_string()) {
            SecretState::Malformed(p) => assert!(p[0].contains("not the public half"), "{p:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn line_broken_base64_is_read_as_the_bootstrap_reads_it() {
        let pair = generate(KeyKind::Ed25519, "c").unwrap();
        let mut v: serde_json::Value =
            serde_json::from_str(pair.secret_value().unwrap().expose()).unwrap();
        let b64 = v[PRIVATE_KEY_FIELD].as_str().unwrap().to_string();
        let wrapped: Vec<String> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        v[PRIVATE_KEY_FIELD] = wrapped.join("\n").into();
        assert!(matches!(
            check_secret_value(&v.to_string()),
            SecretState::Populated(_)
        ));
    }

    #[test]
    fn keys_wrapped_at_64_columns_are_read_as_openssh_reads_them() {
        // Python's `cryptography` and Go's x/crypto wrap the OpenSSH body at 64 columns.
        let pair = generate(KeyKind::Ed25519, "py").unwrap();
        let pem = pair.private.to_openssh(LineEnding::LF).unwrap();
        let lines: Vec<&str> = pem.lines().collect();
        let body: String = lines[1..lines.len() - 1].concat();
        let mut wrapped = format!("{}\n", lines[0]);
        for c in body.as_bytes().chunks(64) {
            wrapped.push_str(std::str::from_utf8(c).unwrap());
            wrapped.push('\n');
        }
        wrapped.push_str(lines[lines.len() - 1]);
        wrapped.push('\n');
        assert!(
            PrivateKey::from_openssh(&wrapped).is_err(),
            "ssh-key alone refuses it"
        );
        let value = format!(
            "{{\"{PRIVATE_KEY_FIELD}\":\"{}\",\"{PUBLIC_KEY_FIELD}\":\"{}\"}}",
            Base64::encode_string(wrapped.as_bytes()),
            Base64::encode_string(pair.public_line().as_bytes())
        );
        match check_secret_value(&value) {
            SecretState::Populated(info) => assert_eq!(info.fingerprint, pair.fingerprint()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stores_never_overwrite_a_key_without_rotate() {
        let info = KeyInfo {
            algorithm: "ssh-ed25519".into(),
            fingerprint: "SHA256:x".into(),
            comment: String::new(),
        };
        let populated = Existing::Present(SecretState::Populated(info));
        assert_eq!(
            plan_store("s", &Existing::Missing, false),
            StoreAction::Create
        );
        assert_eq!(
            plan_store("s", &Existing::Present(SecretState::Placeholder), false),
            StoreAction::Populate
        );
        assert_eq!(
            plan_store("s", &Existing::Present(SecretState::NoValue), false),
            StoreAction::Populate
        );
        assert_eq!(plan_store("s", &populated, true), StoreAction::Replace);
        match plan_store("s", &populated, false) {
            StoreAction::Refuse(m) => assert!(m.contains("--rotate") && m.contains("SHA256:x")),
            other => panic!("{other:?}"),
        }
        let bad = Existing::Present(SecretState::Malformed(vec!["x".into()]));
        assert!(matches!(
            plan_store("s", &bad, false),
            StoreAction::Refuse(_)
        ));
        assert_eq!(plan_store("s", &bad, true), StoreAction::Replace);
        match plan_store("s", &Existing::PendingDeletion, true) {
            StoreAction::Refuse(m) => assert!(m.contains("restore-secret")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        for text in [
            "",
            "null",
            "{\"MPI_SSH_KEY_PRIVATE\": null}",
            "{\"MPI_SSH_KEY_PRIVATE\": \"====\", \"MPI_SSH_KEY_PUBLIC\": \"====\"}",
            "{\"MPI_SSH_KEY_PRIVATE\": \"/w==\", \"MPI_SSH_KEY_PUBLIC\": \"/w==\"}",
        ] {
            let _ = check_secret_value(text);
        }
    }
}
