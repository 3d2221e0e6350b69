//! What the AWS commands (deploy, status, destroy, audit, keys) share: the AWS CLI's options,
//! the backend, Ctrl-C, progress on stderr, and how a failure is told.

use crate::output::{self, ColorChoice, Format};
use efactl_aws::{AwsBackend, AwsOptions, Identity};
use efactl_core::cloud::deploy::{DeployError, Operation, Progress, ProgressEvent};
use efactl_core::cloud::{CloudError, SystemClock};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The AWS CLI's options; the standard credential chain and `AWS_*` variables apply.
#[derive(clap::Args, Debug, Clone)]
pub struct AwsArgs {
    /// Use a named profile from ~/.aws/config (else AWS_PROFILE, else `default`).
    #[arg(long)]
    pub profile: Option<String>,
    /// The region (else AWS_REGION / AWS_DEFAULT_REGION, else the profile's).
    #[arg(long)]
    pub region: Option<String>,
    /// Send every call to this URL instead of AWS's endpoints (an emulator, a proxy).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    pub fn options(&self, concurrency: usize) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            concurrency,
        }
    }
}

pub fn connect(args: &AwsArgs, concurrency: usize) -> Result<AwsBackend, CloudError> {
    AwsBackend::connect(&args.options(concurrency))
}

/// A clock whose sleeps end at Ctrl-C. The first Ctrl-C stops the wait (the stack operation
/// goes on in AWS, and the message says how to follow it); a second one exits at once.
pub fn interruptible_clock() -> SystemClock {
    let clock = SystemClock::new();
    let flag = clock.interrupt_flag();
    // Fails only when a handler is already set (a second command in one process: tests).
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
    clock
}

/// Wait settings with `--timeout MIN`.
pub fn wait_settings(minutes: u64) -> efactl_core::cloud::deploy::WaitSettings {
    efactl_core::cloud::deploy::WaitSettings {
        timeout: Duration::from_secs(minutes.max(1) * 60),
        ..Default::default()
    }
}

/// How a command of the AWS family tells a failure: `efactl: error: ...` and a hint on
/// stderr and, under `--format json`, an `efactl.error/v1` document on stdout. Returns the
/// exit code: 2 for what was wrong before any call (credentials, region, profile, endpoint
/// URL, a refused flag), 1 for what AWS or the network answered.
#[derive(Clone, Copy, Debug)]
pub struct Failure {
    pub format: Format,
    pub command: &'static str,
}

impl Failure {
    pub fn new(format: Format, command: &'static str) -> Failure {
        Failure { format, command }
    }

    pub fn cloud(&self, doing: &str, e: &CloudError) -> u8 {
        if let CloudError::NoCredentials { detail } = e {
            if std::env::var_os("EFACTL_DEBUG").is_some_and(|v| !v.is_empty()) {
                eprintln!("efactl: debug: {detail}");
            }
        }
        self.emit(e.exit_code(), &format!("{doing}: {e}"), e.hint().as_deref())
    }

    pub fn deploy(&self, e: &DeployError) -> u8 {
        let code = match e {
            DeployError::Cloud { source, .. } => source.exit_code(),
            DeployError::NotConfirmed { .. } => output::exit::USAGE,
            _ => output::exit::FINDINGS,
        };
        self.emit(code, &e.to_string(), e.hint().as_deref())
    }

    /// A failure of efactl's own (a refused flag, a spec with errors).
    pub fn message(&self, code: u8, message: &str) -> u8 {
        self.emit(code, message, None)
    }

    fn emit(&self, code: u8, message: &str, hint: Option<&str>) -> u8 {
        eprintln!("efactl: error: {message}");
        if let Some(h) = hint {
            eprintln!("  hint: {h}");
        }
        if self.format == Format::Json {
            // stdout closed early (`| head`) is no reason to change the exit code.
            let _ = output::print(&output::error_document(self.command, code, message, hint));
        }
        code
    }
}

/// Who and where a changing command acts, said before it acts (`sts:GetCallerIdentity`):
/// `stack `x` in account 123456789012 (arn:...), region eu-west-1` on stderr.
pub fn announce(backend: &AwsBackend, fail: Failure, what: &str) -> Result<Identity, u8> {
    let identity = backend
        .identity()
        .map_err(|e| fail.cloud("checking the credentials", &e))?;
    eprintln!(
        "{what} in account {} ({}), region {}",
        identity.account,
        identity.arn,
        backend.region()
    );
    Ok(identity)
}

/// Progress on stderr: a bar fed by stack events on a terminal, one line per event
/// elsewhere (logs, CI), nothing with `quiet` (JSON output).
pub struct StderrProgress {
    bar: Option<ProgressBar>,
    quiet: bool,
    color: bool,
}

impl StderrProgress {
    pub fn new(quiet: bool, color: ColorChoice) -> StderrProgress {
        StderrProgress {
            bar: None,
            quiet,
            color: color.enabled_for_stderr(),
        }
    }

    fn terminal() -> bool {
        std::io::stderr().is_terminal()
    }

    fn line(&self, s: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => b.println(s),
            None => eprintln!("{s}"),
        }
    }

    fn paint(&self, status: &str) -> String {
        if !self.color {
            return status.to_string();
        }
        let code = if status.ends_with("_FAILED") || status.contains("ROLLBACK") {
            "31"
        } else if status.ends_with("_COMPLETE") {
            "32"
        } else {
            "33"
        };
        format!("\x1b[{code}m{status}\x1b[0m")
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for StderrProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Progress for StderrProgress {
    fn report(&mut self, event: ProgressEvent<'_>) {
        match event {
            ProgressEvent::Started {
                stack,
                operation,
                expected,
            } => {
                let doing = match operation {
                    Operation::Create => "creating",
                    Operation::Update => "updating",
                    Operation::Delete => "deleting",
                };
                if !self.quiet && Self::terminal() {
                    let bar = if expected > 0 {
                        ProgressBar::new(expected as u64)
                    } else {
                        ProgressBar::new_spinner()
                    };
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                    let style = if expected > 0 {
                        ProgressStyle::with_template(
                            "{spinner} {prefix} [{bar:30}] {pos}/{len} resources {elapsed} {msg}",
                        )
                    } else {
                        ProgressStyle::with_template("{spinner} {prefix} {elapsed} {msg}")
                    };
                    if let Ok(style) = style {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar.set_prefix(format!("{doing} stack `{stack}`"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bar = Some(bar);
                } else {
                    self.line(&format!("{doing} stack `{stack}`..."));
                }
            }
            ProgressEvent::Event(e) => {
                let physical = e
                    .physical_id
                    .as_deref()
                    .filter(|p| !p.is_empty() && *p != e.logical_id)
                    .map(|p| format!(" [{p}]"))
                    .unwrap_or_default();
                let reason = e
                    .reason
                    .as_deref()
                    .filter(|r| !r.is_empty())
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                self.line(&format!(
                    "  {} {} {} ({}){physical}{reason}",
                    e.timestamp,
                    self.paint(e.status.as_str()),
                    e.logical_id,
                    e.resource_type
                ));
                if let Some(b) = &self.bar {
                    if e.status.is_complete() && e.resource_type != "AWS::CloudFormation::Stack" {
                        b.inc(1);
                    }
                }
            }
            ProgressEvent::Status(s) => {
                if let Some(b) = &self.bar {
                    b.set_message(s.to_string());
                }
            }
            ProgressEvent::ChangeSetPending { stack } => self.line(&format!(
                "CloudFormation is computing the changes to stack `{stack}`..."
            )),
            ProgressEvent::Retrying { error, delay } => {
                self.line(&format!("  {error}; trying again in {} s", delay.as_secs()))
            }
        }
    }
}
