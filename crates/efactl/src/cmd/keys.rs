//! `efactl keys create|check --secret NAME`: the MPI SSH key pair in Secrets Manager.
//!
//! The private key exists only in memory (wiped on drop) on its way into Secrets Manager; it
//! is never printed, logged or written to disk. What is printed is the public line and its
//! fingerprint.

use super::aws::{self, AwsArgs};
use crate::output::{print, Format};
use efactl_core::cloud::CloudBackend;
use efactl_core::keys::{self, Existing, KeyKind, SecretState, StoreAction};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Generate a key pair and store it in the secret (creating the secret when needed).
    Create(CreateArgs),
    /// Check that the secret exists and holds a usable key pair.
    Check(CheckArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The secret's name or ARN.
    #[arg(long)]
    pub secret: String,
    /// The KMS key to encrypt a new secret with (id, ARN or alias); AWS's own key otherwise.
    #[arg(long, value_name = "ID")]
    pub kms_key: Option<String>,
    /// ed25519 (default) or rsa (4096 bits, for MPI stacks whose SSH predates ed25519).
    #[arg(long = "type", value_parser = parse_kind, default_value = "ed25519")]
    pub kind: KeyKind,
    /// Replace a key pair that is already there.
    #[arg(long)]
    pub rotate: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The secret's name or ARN.
    #[arg(long)]
    pub secret: String,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub aws: AwsArgs,
}

fn parse_kind(s: &str) -> Result<KeyKind, String> {
    KeyKind::from_name(s).ok_or_else(|| format!("`{s}` is not ed25519 or rsa"))
}

/// What the secret holds now, reading its value only when it exists.
fn existing(
    backend: &dyn CloudBackend,
    secret: &str,
) -> Result<(Option<String>, Existing), efactl_core::cloud::CloudError> {
    let Some(record) = backend.describe_secret(secret)? else {
        return Ok((None, Existing::Missing));
    };
    if record.pending_deletion {
        return Ok((Some(record.arn), Existing::PendingDeletion));
    }
    let state = match backend.secret_value(&record.arn) {
        Ok(v) => keys::check_secret_value(v.expose()),
        // A secret created without a value (the console allows it) has no version yet.
        Err(efactl_core::cloud::CloudError::NotFound { .. }) => SecretState::NoValue,
        Err(e) => return Err(e),
    };
    Ok((Some(record.arn), Existing::Present(state)))
}

/// The backend and what the secret holds now, or the exit code after saying why not.
/// `changing`: the command writes the secret, so it says first which account and region.
fn open(
    args: &AwsArgs,
    secret: &str,
    fail: aws::Failure,
    changing: bool,
) -> Result<(efactl_aws::AwsBackend, Option<String>, Existing), u8> {
    let backend = aws::connect(args, 0).map_err(|e| fail.cloud("connecting to AWS", &e))?;
    if changing {
        aws::announce(&backend, fail, &format!("secret `{secret}`"))?;
    }
    let (arn, current) = existing(&backend, secret)
        .map_err(|e| fail.cloud(&format!("reading secret `{secret}`"), &e))?;
    Ok((backend, arn, current))
}

fn emit(format: Format, human: String, value: serde_json::Value) -> anyhow::Result<()> {
    match format {
        Format::Human => print(&human),
        Format::Json => print(&format!("{}\n", serde_json::to_string_pretty(&value)?)),
    }
}

fn create(a: CreateArgs) -> anyhow::Result<u8> {
    let fail = aws::Failure::new(a.format, "keys create");
    let (backend, arn, current) = match open(&a.aws, &a.secret, fail, true) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let action = keys::plan_store(&a.secret, &current, a.rotate);
    if let StoreAction::Refuse(why) = &action {
        return Ok(fail.message(1, why));
    }
    if a.kms_key.is_some() && action != StoreAction::Create {
        eprintln!(
            "note: --kms-key applies to a new secret only; `{}` keeps its own key",
            a.secret
        );
    }
    // The comment ends the authorized_keys line: it says where the key came from.
    let name = a.secret.rsplit(':').next().unwrap_or(&a.secret);
    let pair = match keys::generate(a.kind, &format!("efactl-mpi@{name}")) {
        Ok(p) => p,
        Err(e) => return Ok(fail.message(1, &e.to_string())),
    };
    let value = match pair.secret_value() {
        Ok(v) => v,
        Err(e) => return Ok(fail.message(1, &e.to_string())),
    };
    let (verb, arn) = match action {
        StoreAction::Create => {
            let tags = BTreeMap::from([("efactl:purpose".to_string(), "mpi-ssh-key".to_string())]);
            match backend.create_secret(&a.secret, &value, a.kms_key.as_deref(), &tags) {
                Ok(arn) => ("created", arn),
                Err(e) => return Ok(fail.cloud(&format!("creating secret `{}`", a.secret), &e)),
            }
        }
        StoreAction::Populate | StoreAction::Replace => {
            let target = arn.unwrap_or_else(|| a.secret.clone());
            if let Err(e) = backend.put_secret_value(&target, &value) {
                return Ok(fail.cloud(&format!("storing the key pair in `{}`", a.secret), &e));
            }
            (
                if action == StoreAction::Replace {
                    "rotated"
                } else {
                    "populated"
                },
                target,
            )
        }
        StoreAction::Refuse(_) => return Ok(1),
    };
    drop(value);
    let rotated_note = if verb == "rotated" {
        "\nnodes pick the new pair up when their bootstrap runs again (a reboot or a new node); until then, nodes with the old and the new pair cannot reach each other"
    } else {
        ""
    };
    emit(
        a.format,
        format!(
            "{verb} secret `{}` ({arn})\n  {} {}\n  {}{rotated_note}\n",
            a.secret,
            pair.algorithm(),
            pair.fingerprint(),
            pair.public_line()
        ),
        json!({
            "schema": "efactl.keys/v1",
            "secret": a.secret, "arn": arn, "action": verb,
            "algorithm": pair.algorithm(), "fingerprint": pair.fingerprint(),
            "publicKey": pair.public_line(),
        }),
    )?;
    Ok(0)
}

fn check(a: CheckArgs) -> anyhow::Result<u8> {
    let fail = aws::Failure::new(a.format, "keys check");
    let (_, arn, current) = match open(&a.aws, &a.secret, fail, false) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let (ok, state, text) = match &current {
        Existing::Missing => (false, "missing", format!("secret `{}` does not exist; `efactl keys create --secret {}` makes it", a.secret, a.secret)),
        Existing::PendingDeletion => (false, "pending-deletion", format!("secret `{}` is scheduled for deletion; `aws secretsmanager restore-secret --secret-id {}` keeps it", a.secret, a.secret)),
        Existing::Present(SecretState::Placeholder) => (false, "placeholder", format!("secret `{}` holds the template's placeholder, not a key pair; `efactl keys create --secret {}` fills it", a.secret, a.secret)),
        Existing::Present(SecretState::NoValue) => (false, "no-value", format!("secret `{}` was created without a value; `efactl keys create --secret {}` fills it", a.secret, a.secret)),
        Existing::Present(SecretState::Malformed(p)) => (false, "malformed", format!("secret `{}` does not hold a usable key pair: {}", a.secret, p.join("; "))),
        Existing::Present(SecretState::Populated(info)) => (true, "ok", format!("secret `{}`: {} {} ({})", a.secret, info.algorithm, info.fingerprint, info.comment)),
    };
    let info = match &current {
        Existing::Present(SecretState::Populated(i)) => {
            json!({"algorithm": i.algorithm, "fingerprint": i.fingerprint, "comment": i.comment})
        }
        _ => serde_json::Value::Null,
    };
    if a.format == Format::Human && !ok {
        eprintln!("efactl: {text}");
    } else {
        emit(
            a.format,
            format!("{text}\n"),
            json!({"schema": "efactl.keys/v1", "secret": a.secret, "arn": arn, "state": state, "key": info}),
        )?;
    }
    Ok(u8::from(!ok))
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Command::Create(a) => create(a),
        Command::Check(a) => check(a),
    }
}
