//! `deploy`, `status --watch` and `destroy` as a state machine over [`CloudBackend`].
//!
//! Everything here is decided from what the backend returns and what the [`Clock`] says, so
//! every path (a failed creation and its rollback, a throttled poll, a stack stuck in
//! `UPDATE_ROLLBACK_FAILED`, a 45-minute timeout, Ctrl-C) is a unit test against
//! [`super::fake::FakeBackend`] instead of an afternoon in a real account.
//!
//! A deploy reads the stack first ([`plan`]): no stack is a creation; a stack whose template,
//! parameters and tags are what the spec renders is "no changes", and nothing that mutates is
//! called; a stack mid-operation or stuck is [`Blocked`], with the command that unblocks it;
//! anything else is an update through a change set, which the caller shows and confirms
//! before it runs. Creation, update and deletion are then watched until a final status,
//! fed by stack events: the result names the resources that failed first, skipping the
//! "Resource creation cancelled" cascade, and the rollback's final status. A wait that ends
//! early (deadline, Ctrl-C) says how to resume watching: the operation goes on in AWS.

use super::stack::*;
use super::time::{Clock, Timestamp, Wake};
use super::{CloudBackend, CloudError};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

/// CloudFormation's limit on an inline template body (`TemplateBody`); larger templates must
/// be uploaded to S3 and passed by URL.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// CloudFormation's limit on a template read from S3 (`TemplateURL`).
pub const TEMPLATE_URL_LIMIT: usize = 1_000_000;

/// The S3 key a template is uploaded under: per stack, named by a hash of the body, so an
/// unchanged template is the same object.
pub fn template_key(stack: &str, body: &str) -> String {
    // FNV-1a, 64 bits: a name, not a security measure.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("efactl/{stack}/template-{h:016x}.json")
}

/// The stack a cluster deploys as: named after the cluster, its CloudFormation template as
/// JSON (what `GetTemplate` hands back to compare), tagged `efactl:cluster` so that `audit
/// --tag efactl:cluster=NAME` finds everything it made.
pub fn cluster_stack(
    cluster: &crate::model::Cluster,
    catalog: &crate::catalog::Catalog,
) -> Result<StackTemplate, crate::render::RenderError> {
    let template = crate::render::cfn::template(cluster, catalog)?;
    let mut stack = StackTemplate::new(cluster.name.clone(), &template);
    stack
        .tags
        .insert("efactl:cluster".into(), cluster.name.clone());
    Ok(stack)
}

/// How long and how often to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitSettings {
    /// How long a stack operation is watched before efactl stops waiting (the operation
    /// itself goes on).
    pub timeout: Duration,
    /// Time between two polls of a stack.
    pub poll: Duration,
    /// The longest pause between retries of a throttled call (the pause doubles from `poll`).
    pub max_backoff: Duration,
    /// A throttled call outside a wait is tried this many times before giving up.
    pub max_retries: u32,
    /// How long CloudFormation may take to compute a change set.
    pub change_set_timeout: Duration,
}

impl Default for WaitSettings {
    fn default() -> Self {
        WaitSettings {
            timeout: Duration::from_secs(45 * 60),
            poll: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            max_retries: 8,
            change_set_timeout: Duration::from_secs(5 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    fn done(self) -> &'static str {
        match self {
            Operation::Create => "created",
            Operation::Update => "updated",
            Operation::Delete => "deleted",
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Operation::Create => "creation",
            Operation::Update => "update",
            Operation::Delete => "deletion",
        }
    }
}

/// What the progress display is told, as it happens.
#[derive(Debug, Clone, Copy)]
pub enum ProgressEvent<'e> {
    /// A stack operation began; `expected` resources will report (0 when unknown).
    Started {
        stack: &'e str,
        operation: Operation,
        expected: usize,
    },
    /// A new stack event, oldest first.
    Event(&'e StackEvent),
    /// The stack's status changed.
    Status(&'e StackStatus),
    /// CloudFormation is computing the change set.
    ChangeSetPending { stack: &'e str },
    /// A call was throttled; the next try is after `delay`.
    Retrying {
        error: &'e CloudError,
        delay: Duration,
    },
}

/// Receives progress. Any `FnMut(ProgressEvent)` closure is one.
pub trait Progress {
    fn report(&mut self, event: ProgressEvent<'_>);
}

impl<F: FnMut(ProgressEvent<'_>)> Progress for F {
    fn report(&mut self, event: ProgressEvent<'_>) {
        self(event)
    }
}

/// Progress that nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&mut self, _: ProgressEvent<'_>) {}
}

/// A stack no operation can start on, and what to run about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub stack: String,
    pub status: StackStatus,
    pub reason: String,
    pub advice: String,
}

impl Blocked {
    pub fn message(&self) -> String {
        format!("{}\n{}", self.reason, self.advice)
    }
}

/// What a deploy would do, decided from the live stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Create,
    Update,
    NoChanges,
    Blocked(Blocked),
}

fn watch_cmd(stack: &str) -> String {
    format!("efactl status {stack} --watch")
}

/// Why a deploy cannot start on a stack in this status, and what unblocks it; `None` when it
/// can. The advice follows the CloudFormation user guide's troubleshooting section.
pub fn blocked(stack: &str, status: &StackStatus) -> Option<Blocked> {
    let s = status.as_str();
    let (reason, advice) = match status {
        _ if status.is_updatable() => return None,
        StackStatus::DeleteComplete => return None,
        StackStatus::ReviewInProgress => (
            format!("stack `{stack}` is in {s}: a change set created it and was never executed, so it holds no resources"),
            format!("delete it with `efactl destroy {stack} --yes`, then deploy again"),
        ),
        StackStatus::UpdateRollbackFailed => (
            format!("stack `{stack}` is in {s}: an update failed, and rolling it back failed too; CloudFormation accepts no update until the rollback is finished"),
            format!("see the resources that could not roll back with `efactl status {stack}`, fix them (or decide to skip them), then run `aws cloudformation continue-update-rollback --stack-name {stack}` (with `--resources-to-skip LOGICAL_ID ...` for resources that cannot return to their old state), wait for UPDATE_ROLLBACK_COMPLETE with `{}`, and deploy again", watch_cmd(stack)),
        ),
        _ if status.is_in_progress() => (
            format!("stack `{stack}` is in {s}: another operation is running"),
            format!("wait for it with `{}`, then deploy again", watch_cmd(stack)),
        ),
        StackStatus::RollbackComplete => (
            format!("stack `{stack}` is in {s}: its creation failed and was rolled back; such a stack holds no resources and cannot be updated"),
            format!("`efactl status {stack}` shows why it failed; remove it with `efactl destroy {stack} --yes`, then deploy again"),
        ),
        StackStatus::RollbackFailed => (
            format!("stack `{stack}` is in {s}: its creation failed and so did the rollback"),
            format!("`efactl status {stack}` shows the resources left behind; delete the stack with `efactl destroy {stack} --yes` (a resource that cannot be deleted needs `aws cloudformation delete-stack --stack-name {stack} --retain-resources LOGICAL_ID`), then deploy again"),
        ),
        StackStatus::DeleteFailed => (
            format!("stack `{stack}` is in {s}: a deletion did not finish"),
            format!("`efactl status {stack}` shows the resources that were not deleted; run `efactl destroy {stack} --yes` again once they can be"),
        ),
        StackStatus::CreateFailed | StackStatus::UpdateFailed => (
            format!("stack `{stack}` is in {s}: the last operation failed with rollback disabled"),
            format!("roll it back with `aws cloudformation rollback-stack --stack-name {stack}`, wait with `{}`, then deploy again", watch_cmd(stack)),
        ),
        StackStatus::ImportRollbackFailed => (
            format!("stack `{stack}` is in {s}: a resource import failed and its rollback failed too"),
            format!("see the failed resources with `efactl status {stack}` and resolve them in the CloudFormation console before deploying again"),
        ),
        _ => (
            format!("stack `{stack}` is in {s}, which efactl does not know how to deploy over"),
            format!("check the stack in the CloudFormation console (`efactl status {stack}` shows its events)"),
        ),
    };
    Some(Blocked {
        stack: stack.to_string(),
        status: status.clone(),
        reason,
        advice,
    })
}

/// Two template bodies mean the same: equal as JSON when both are JSON (GetTemplate returns
/// the body as it was sent, which efactl sends as JSON), else equal as text.
fn same_body(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// Decides what a deploy does, from the stack as it is. `current_body` is the stack's
/// template (`GetTemplate`), read only for a stack that can be updated.
pub fn plan(
    desired: &StackTemplate,
    current: Option<&StackInfo>,
    current_body: Option<&str>,
) -> Plan {
    let Some(cur) = current else {
        return Plan::Create;
    };
    if cur.status == StackStatus::DeleteComplete {
        return Plan::Create;
    }
    if let Some(b) = blocked(&desired.name, &cur.status) {
        return Plan::Blocked(b);
    }
    // Parameters the deploy does not pass keep their values; only the ones it passes count.
    let params_same = desired
        .parameters
        .iter()
        .all(|(k, v)| cur.parameters.get(k) == Some(v));
    let same = current_body.is_some_and(|b| same_body(b, &desired.body))
        && params_same
        && desired.tags == cur.tags;
    if same {
        Plan::NoChanges
    } else {
        Plan::Update
    }
}

/// The result of preparing a deploy: what will happen when it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    Create,
    /// An update, as computed by CloudFormation: show it, then [`Deployer::update`] or
    /// [`Deployer::discard`].
    Update(ChangeSet),
    NoChanges,
    Blocked(Blocked),
}

/// How a watched stack operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed {
        stack: String,
        operation: Operation,
        status: StackStatus,
        outputs: Vec<StackOutput>,
    },
    Failed(Failure),
    /// efactl stopped waiting; the operation goes on in AWS.
    TimedOut {
        stack: String,
        status: Option<StackStatus>,
        waited: Duration,
        resume: String,
    },
    /// The user stopped the wait (Ctrl-C); the operation goes on in AWS.
    Interrupted {
        stack: String,
        status: Option<StackStatus>,
        resume: String,
    },
}

/// A stack operation that ended in failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub stack: String,
    pub operation: Operation,
    /// The final status: `ROLLBACK_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, `DELETE_FAILED`...
    pub status: StackStatus,
    pub status_reason: Option<String>,
    /// The failing resource events, first cause first.
    pub causes: Vec<StackEvent>,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Completed { .. })
    }

    /// What the CLI prints about it (several lines for a failure).
    pub fn message(&self) -> String {
        match self {
            Outcome::Completed {
                stack,
                operation,
                status,
                ..
            } => format!("stack `{stack}` {} ({status})", operation.done()),
            Outcome::Failed(f) => {
                let mut s = format!(
                    "the {} of stack `{}` failed; its final status is {}",
                    f.operation.doing(),
                    f.stack,
                    f.status
                );
                if let Some(r) = &f.status_reason {
                    let _ = write!(s, " ({r})");
                }
                for e in &f.causes {
                    let _ = write!(
                        s,
                        "\n  {} {} ({}){}: {}",
                        e.status,
                        e.logical_id,
                        e.resource_type,
                        e.physical_id
                            .as_deref()
                            .filter(|p| !p.is_empty())
                            .map(|p| format!(" [{p}]"))
                            .unwrap_or_default(),
                        e.reason.as_deref().unwrap_or("no reason given")
                    );
                }
                s
            }
            Outcome::TimedOut {
                stack,
                status,
                waited,
                resume,
            } => format!(
                "stopped waiting for stack `{stack}` after {} min{}; the operation goes on in AWS: `{resume}` follows it",
                waited.as_secs() / 60,
                status
                    .as_ref()
                    .map(|s| format!(" (status {s})"))
                    .unwrap_or_default()
            ),
            Outcome::Interrupted {
                stack,
                status,
                resume,
            } => format!(
                "stopped watching stack `{stack}`{}; the operation goes on in AWS: `{resume}` follows it",
                status
                    .as_ref()
                    .map(|s| format!(" (status {s})"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// The end of a whole deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployReport {
    Created(Outcome),
    Updated {
        change_set: ChangeSet,
        outcome: Outcome,
    },
    /// The stack is already what the spec renders; nothing was changed.
    NoChanges {
        stack: String,
    },
    Blocked(Blocked),
    /// The user did not confirm the change set; it was deleted.
    Declined {
        change_set: ChangeSet,
    },
}

/// The end of a destroy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destroy {
    /// No such stack in this account and region.
    Missing {
        stack: String,
    },
    Blocked(Blocked),
    Waited(Outcome),
}

impl Destroy {
    pub fn message(&self) -> String {
        match self {
            Destroy::Missing { stack } => format!(
                "stack `{stack}` does not exist in this account and region: nothing to delete"
            ),
            Destroy::Blocked(b) => b.message(),
            Destroy::Waited(o) => o.message(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error("{doing}: {source}")]
    Cloud {
        doing: String,
        source: CloudError,
        /// Set when a stack operation was already under way: how to keep watching it.
        resume: Option<String>,
    },
    #[error(
        "refusing to delete stack `{stack}` and everything in it without confirmation: pass --yes"
    )]
    NotConfirmed { stack: String },
    #[error("the template for `{stack}` is {size} bytes, over CloudFormation's {limit}-byte limit for a template {}", if *limit == TEMPLATE_BODY_LIMIT { "passed inline" } else { "read from S3" })]
    TemplateTooLarge {
        stack: String,
        size: usize,
        limit: usize,
    },
    #[error("CloudFormation could not compute the changes to stack `{stack}`: {reason}")]
    ChangeSetFailed { stack: String, reason: String },
    #[error("CloudFormation had not computed the changes to stack `{stack}` after {} s", waited.as_secs())]
    ChangeSetTimedOut { stack: String, waited: Duration },
    #[error("stack `{stack}` disappeared while efactl was watching its {operation}")]
    StackVanished {
        stack: String,
        operation: &'static str,
    },
    #[error("interrupted before anything was changed")]
    Interrupted,
}

impl DeployError {
    /// The line after the error: what to do.
    pub fn hint(&self) -> Option<String> {
        match self {
            DeployError::Cloud { source, resume, .. } => match (resume, source.hint()) {
                (Some(r), Some(h)) => Some(format!("{h}; the stack operation goes on in AWS: `{r}` follows it")),
                (Some(r), None) => Some(format!("the stack operation goes on in AWS: `{r}` follows it")),
                (None, h) => h,
            },
            DeployError::TemplateTooLarge { limit, .. } if *limit == TEMPLATE_BODY_LIMIT => Some("pass --template-bucket BUCKET (an S3 bucket in the stack's region that you can write to): efactl uploads the template there and CloudFormation reads it by URL".into()),
            DeployError::TemplateTooLarge { .. } => Some("fewer or smaller node groups make the template smaller".into()),
            DeployError::ChangeSetTimedOut { stack, .. } => Some(format!("`aws cloudformation list-change-sets --stack-name {stack}` shows it; deploy again to retry")),
            _ => None,
        }
    }
}

/// A stack operation to watch: where its events start, and whether it has visibly begun
/// (after an update or a delete is requested, the stack may still show its old, settled
/// status for a moment: only what follows the operation's start ends the wait).
struct Watched<'s> {
    stack_id: &'s str,
    stack: &'s str,
    operation: Operation,
    since: Option<Timestamp>,
    seen: HashSet<String>,
    started: bool,
}

enum Polled<T> {
    Ok(T),
    Throttled(CloudError),
}

/// Runs deploys and destroys against a backend, waiting on a clock.
pub struct Deployer<'a> {
    backend: &'a dyn CloudBackend,
    clock: &'a dyn Clock,
    settings: WaitSettings,
    /// Where templates over [`TEMPLATE_BODY_LIMIT`] are uploaded (`--template-bucket`).
    template_bucket: Option<String>,
}

impl<'a> Deployer<'a> {
    pub fn new(backend: &'a dyn CloudBackend, clock: &'a dyn Clock) -> Deployer<'a> {
        Deployer {
            backend,
            clock,
            settings: WaitSettings::default(),
            template_bucket: None,
        }
    }

    /// The S3 bucket for templates too large to pass inline.
    pub fn with_template_bucket(mut self, bucket: Option<String>) -> Deployer<'a> {
        self.template_bucket = bucket;
        self
    }

    /// A template too large for the way it can be sent is an error before any call.
    fn check_size(&self, desired: &StackTemplate) -> Result<(), DeployError> {
        let size = desired.body.len();
        let limit = match (&desired.url, &self.template_bucket) {
            (Some(_), _) | (None, Some(_)) => TEMPLATE_URL_LIMIT,
            (None, None) => TEMPLATE_BODY_LIMIT,
        };
        if size > limit {
            return Err(DeployError::TemplateTooLarge {
                stack: desired.name.clone(),
                size,
                limit,
            });
        }
        Ok(())
    }

    /// The template as it will be sent: inline when it fits, else uploaded to the template
    /// bucket and sent by URL. Called only where a template is sent, so a deploy that changes
    /// nothing uploads nothing.
    fn stage<'t>(
        &self,
        desired: &'t StackTemplate,
        progress: &mut dyn Progress,
    ) -> Result<std::borrow::Cow<'t, StackTemplate>, DeployError> {
        let size = desired.body.len();
        if size <= TEMPLATE_BODY_LIMIT || desired.url.is_some() {
            return Ok(std::borrow::Cow::Borrowed(desired));
        }
        let too_large = |limit| DeployError::TemplateTooLarge {
            stack: desired.name.clone(),
            size,
            limit,
        };
        let Some(bucket) = &self.template_bucket else {
            return Err(too_large(TEMPLATE_BODY_LIMIT));
        };
        if size > TEMPLATE_URL_LIMIT {
            return Err(too_large(TEMPLATE_URL_LIMIT));
        }
        let key = template_key(&desired.name, &desired.body);
        let url = self.call(
            &format!("uploading the template to s3://{bucket}/{key}"),
            progress,
            || self.backend.put_template(bucket, &key, &desired.body),
        )?;
        let mut staged = desired.clone();
        staged.url = Some(url);
        Ok(std::borrow::Cow::Owned(staged))
    }

    pub fn with_settings(mut self, settings: WaitSettings) -> Deployer<'a> {
        self.settings = settings;
        self
    }

    fn backoff(&self, delay: Duration) -> Duration {
        (delay * 2)
            .min(self.settings.max_backoff)
            .max(self.settings.poll)
    }

    /// One call outside a wait: throttling is retried with a doubling pause, anything else is
    /// the caller's error.
    fn call<T>(
        &self,
        doing: &str,
        progress: &mut dyn Progress,
        mut f: impl FnMut() -> Result<T, CloudError>,
    ) -> Result<T, DeployError> {
        let mut delay = self.settings.poll;
        let mut tries = 0;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && tries < self.settings.max_retries => {
                    tries += 1;
                    delay = self.backoff(delay);
                    progress.report(ProgressEvent::Retrying { error: &e, delay });
                    if self.clock.sleep(delay) == Wake::Interrupted {
                        return Err(DeployError::Interrupted);
                    }
                }
                Err(source) => {
                    return Err(DeployError::Cloud {
                        doing: doing.to_string(),
                        source,
                        resume: None,
                    })
                }
            }
        }
    }

    fn poll<T>(&self, f: impl FnOnce() -> Result<T, CloudError>) -> Result<Polled<T>, CloudError> {
        match f() {
            Ok(v) => Ok(Polled::Ok(v)),
            Err(e) if e.is_retryable() => Ok(Polled::Throttled(e)),
            Err(e) => Err(e),
        }
    }

    /// Reads the stack and decides; for an update, has CloudFormation compute the change set
    /// (a change set that changes nothing is deleted again and reported as no changes).
    pub fn prepare(
        &self,
        desired: &StackTemplate,
        progress: &mut dyn Progress,
    ) -> Result<Prepared, DeployError> {
        self.check_size(desired)?;
        let name = &desired.name;
        let current = self.call(&format!("reading stack `{name}`"), progress, || {
            self.backend.describe_stack(name)
        })?;
        let body = match &current {
            Some(info) if info.status.is_updatable() => Some(self.call(
                &format!("reading the template of stack `{name}`"),
                progress,
                || self.backend.stack_template(&info.id),
            )?),
            _ => None,
        };
        Ok(match plan(desired, current.as_ref(), body.as_deref()) {
            Plan::Create => Prepared::Create,
            Plan::NoChanges => Prepared::NoChanges,
            Plan::Blocked(b) => Prepared::Blocked(b),
            Plan::Update => {
                let cs = self.change_set(desired, progress)?;
                if cs.is_empty_failure() {
                    self.call(
                        &format!("deleting the empty change set of `{name}`"),
                        progress,
                        || self.backend.delete_change_set(&cs.id),
                    )?;
                    Prepared::NoChanges
                } else {
                    Prepared::Update(cs)
                }
            }
        })
    }

    fn change_set(
        &self,
        desired: &StackTemplate,
        progress: &mut dyn Progress,
    ) -> Result<ChangeSet, DeployError> {
        let desired = &*self.stage(desired, progress)?;
        let stack = &desired.name;
        let name = format!("efactl-{}", self.clock.now().millis());
        let id = self.call(
            &format!("creating a change set for stack `{stack}`"),
            progress,
            || self.backend.create_change_set(desired, &name),
        )?;
        progress.report(ProgressEvent::ChangeSetPending { stack });
        let start = self.clock.now();
        let mut delay = self.settings.poll;
        loop {
            let cs = self.call(
                &format!("reading the change set for stack `{stack}`"),
                progress,
                || self.backend.describe_change_set(&id),
            )?;
            match cs.status {
                ChangeSetStatus::CreatePending | ChangeSetStatus::CreateInProgress => {}
                ChangeSetStatus::CreateComplete => return Ok(cs),
                _ if cs.is_empty_failure() => return Ok(cs),
                _ => {
                    // Leave nothing behind that a later deploy would trip on.
                    let _ = self.backend.delete_change_set(&id);
                    return Err(DeployError::ChangeSetFailed {
                        stack: stack.clone(),
                        reason: cs
                            .status_reason
                            .unwrap_or_else(|| format!("status {}", cs.status)),
                    });
                }
            }
            let waited = self.clock.now().since(start);
            if waited >= self.settings.change_set_timeout {
                return Err(DeployError::ChangeSetTimedOut {
                    stack: stack.clone(),
                    waited,
                });
            }
            if self.clock.sleep(delay) == Wake::Interrupted {
                let _ = self.backend.delete_change_set(&id);
                return Err(DeployError::Interrupted);
            }
            // CloudFormation takes seconds to a minute; poll sooner at first.
            delay = self.backoff(delay).min(Duration::from_secs(15));
        }
    }

    /// Drops a change set the user did not confirm.
    pub fn discard(&self, cs: &ChangeSet, progress: &mut dyn Progress) -> Result<(), DeployError> {
        self.call("deleting the change set", progress, || {
            self.backend.delete_change_set(&cs.id)
        })
    }

    /// `--dry-run`: what a deploy would do. An update's change set is computed to show it,
    /// then deleted; the stack is not touched.
    pub fn dry_run(
        &self,
        desired: &StackTemplate,
        progress: &mut dyn Progress,
    ) -> Result<Prepared, DeployError> {
        let prepared = self.prepare(desired, progress)?;
        if let Prepared::Update(cs) = &prepared {
            self.discard(cs, progress)?;
        }
        Ok(prepared)
    }

    /// Creates the stack and watches it to the end.
    pub fn create(
        &self,
        desired: &StackTemplate,
        progress: &mut dyn Progress,
    ) -> Result<Outcome, DeployError> {
        self.check_size(desired)?;
        let desired = &*self.stage(desired, progress)?;
        let name = &desired.name;
        let id = self.call(&format!("creating stack `{name}`"), progress, || {
            self.backend.create_stack(desired)
        })?;
        progress.report(ProgressEvent::Started {
            stack: name,
            operation: Operation::Create,
            expected: desired.resource_count(),
        });
        let watched = Watched {
            stack_id: &id,
            stack: name,
            operation: Operation::Create,
            since: None,
            seen: HashSet::new(),
            started: true,
        };
        self.wait(watched, progress)
    }

    /// The newest events of a stack before an operation starts: the wait reports only what
    /// comes after them.
    fn baseline(
        &self,
        info: &StackInfo,
        progress: &mut dyn Progress,
    ) -> Result<(Option<Timestamp>, HashSet<String>), DeployError> {
        let since = info.last_updated.unwrap_or(info.created);
        let events = self.call(
            &format!("reading the events of stack `{}`", info.name),
            progress,
            || self.backend.stack_events(&info.id, Some(since)),
        )?;
        let newest = events.iter().map(|e| e.timestamp).max().unwrap_or(since);
        Ok((
            Some(newest),
            events.into_iter().map(|e| e.event_id).collect(),
        ))
    }

    /// Executes a confirmed change set and watches the update to the end.
    pub fn update(
        &self,
        stack: &str,
        cs: &ChangeSet,
        progress: &mut dyn Progress,
    ) -> Result<Outcome, DeployError> {
        let info = self
            .call(&format!("reading stack `{stack}`"), progress, || {
                self.backend.describe_stack(&cs.stack_id)
            })?
            .ok_or_else(|| DeployError::StackVanished {
                stack: stack.to_string(),
                operation: "update",
            })?;
        let (since, seen) = self.baseline(&info, progress)?;
        self.call(
            &format!("executing the change set of stack `{stack}`"),
            progress,
            || self.backend.execute_change_set(&cs.id),
        )?;
        progress.report(ProgressEvent::Started {
            stack,
            operation: Operation::Update,
            expected: cs.changes.len(),
        });
        let watched = Watched {
            stack_id: &info.id,
            stack,
            operation: Operation::Update,
            since,
            seen,
            started: false,
        };
        self.wait(watched, progress)
    }

    /// The whole deploy: prepare, then create; or show the change set to `confirm` and
    /// update when it says yes (`--yes` passes a closure that always does).
    pub fn deploy(
        &self,
        desired: &StackTemplate,
        confirm: &mut dyn FnMut(&ChangeSet) -> bool,
        progress: &mut dyn Progress,
    ) -> Result<DeployReport, DeployError> {
        Ok(match self.prepare(desired, progress)? {
            Prepared::Create => DeployReport::Created(self.create(desired, progress)?),
            Prepared::NoChanges => DeployReport::NoChanges {
                stack: desired.name.clone(),
            },
            Prepared::Blocked(b) => DeployReport::Blocked(b),
            Prepared::Update(cs) => {
                if confirm(&cs) {
                    let outcome = self.update(&desired.name, &cs, progress)?;
                    DeployReport::Updated {
                        change_set: cs,
                        outcome,
                    }
                } else {
                    self.discard(&cs, progress)?;
                    DeployReport::Declined { change_set: cs }
                }
            }
        })
    }

    /// Deletes the stack and waits for `DELETE_COMPLETE`. Refuses without confirmation; a
    /// missing stack is an answer, not an error.
    pub fn destroy(
        &self,
        stack: &str,
        confirmed: bool,
        progress: &mut dyn Progress,
    ) -> Result<Destroy, DeployError> {
        if !confirmed {
            return Err(DeployError::NotConfirmed {
                stack: stack.to_string(),
            });
        }
        let Some(info) = self.call(&format!("reading stack `{stack}`"), progress, || {
            self.backend.describe_stack(stack)
        })?
        else {
            return Ok(Destroy::Missing {
                stack: stack.to_string(),
            });
        };
        match &info.status {
            StackStatus::DeleteComplete => {
                return Ok(Destroy::Missing {
                    stack: stack.to_string(),
                })
            }
            // Already being deleted: watch rather than ask again.
            StackStatus::DeleteInProgress => {}
            s if s.is_in_progress() && *s != StackStatus::ReviewInProgress => {
                return Ok(Destroy::Blocked(Blocked {
                    stack: stack.to_string(),
                    status: s.clone(),
                    reason: format!("stack `{stack}` is in {s}: another operation is running, and CloudFormation deletes a stack only between operations"),
                    advice: format!(
                        "wait for it with `{}` (an update can be stopped with `aws cloudformation cancel-update-stack --stack-name {stack}`), then destroy again",
                        watch_cmd(stack)
                    ),
                }))
            }
            _ => {}
        }
        let (since, seen) = self.baseline(&info, progress)?;
        if info.status != StackStatus::DeleteInProgress {
            self.call(&format!("deleting stack `{stack}`"), progress, || {
                self.backend.delete_stack(&info.id)
            })?;
        }
        progress.report(ProgressEvent::Started {
            stack,
            operation: Operation::Delete,
            expected: 0,
        });
        let watched = Watched {
            stack_id: &info.id,
            stack,
            operation: Operation::Delete,
            since,
            seen,
            started: info.status == StackStatus::DeleteInProgress,
        };
        Ok(Destroy::Waited(self.wait(watched, progress)?))
    }

    /// `status --watch`: follows whatever the stack is doing until it settles (at once, for a
    /// settled stack), reporting the events of the current operation from its start.
    pub fn watch(
        &self,
        stack: &str,
        progress: &mut dyn Progress,
    ) -> Result<Option<Outcome>, DeployError> {
        let Some(info) = self.call(&format!("reading stack `{stack}`"), progress, || {
            self.backend.describe_stack(stack)
        })?
        else {
            return Ok(None);
        };
        let operation = operation_of(&info.status);
        let since = info.last_updated.unwrap_or(info.created);
        let events = self.call(
            &format!("reading the events of stack `{stack}`"),
            progress,
            || self.backend.stack_events(&info.id, Some(since)),
        )?;
        // Earlier operations' events are history: start at this operation's first event.
        let start = events
            .iter()
            .rposition(|e| {
                e.is_stack(&info.name)
                    && matches!(
                        e.status,
                        ResourceStatus::CreateInProgress
                            | ResourceStatus::UpdateInProgress
                            | ResourceStatus::DeleteInProgress
                            | ResourceStatus::ImportInProgress
                    )
                    && !e.reason.as_deref().is_some_and(|r| r.contains("cleanup"))
            })
            .unwrap_or(0);
        let (before, _) = events.split_at(start);
        let seen: HashSet<String> = before.iter().map(|e| e.event_id.clone()).collect();
        let watched = Watched {
            stack_id: &info.id,
            stack,
            operation,
            since: Some(since),
            seen,
            started: true,
        };
        Ok(Some(self.wait(watched, progress)?))
    }

    fn wait(&self, w: Watched<'_>, progress: &mut dyn Progress) -> Result<Outcome, DeployError> {
        let Watched {
            stack_id,
            stack,
            operation,
            mut since,
            mut seen,
            mut started,
        } = w;
        let resume = watch_cmd(stack);
        let fail = |source: CloudError| DeployError::Cloud {
            doing: format!("watching the {} of stack `{stack}`", operation.doing()),
            source,
            resume: Some(resume.clone()),
        };
        let start = self.clock.now();
        let deadline = start.plus(self.settings.timeout);
        let mut events: Vec<StackEvent> = Vec::new();
        let mut status: Option<StackStatus> = None;
        let mut delay = self.settings.poll;
        loop {
            let mut throttled: Option<CloudError> = None;
            let info = match self
                .poll(|| self.backend.describe_stack(stack_id))
                .map_err(fail)?
            {
                Polled::Ok(Some(info)) => Some(info),
                Polled::Ok(None) if operation == Operation::Delete => {
                    return Ok(Outcome::Completed {
                        stack: stack.to_string(),
                        operation,
                        status: StackStatus::DeleteComplete,
                        outputs: Vec::new(),
                    })
                }
                Polled::Ok(None) => {
                    return Err(DeployError::StackVanished {
                        stack: stack.to_string(),
                        operation: operation.doing(),
                    })
                }
                Polled::Throttled(e) => {
                    throttled = Some(e);
                    None
                }
            };
            // Events after the status, so that a final status comes with every event before
            // it: a status is judged only in a round whose events were read too.
            let info = match info {
                Some(info) => {
                    match self
                        .poll(|| self.backend.stack_events(stack_id, since))
                        .map_err(fail)?
                    {
                        Polled::Ok(new) => {
                            for e in new {
                                if !seen.insert(e.event_id.clone()) {
                                    continue;
                                }
                                started = true;
                                since = Some(since.map_or(e.timestamp, |s| s.max(e.timestamp)));
                                progress.report(ProgressEvent::Event(&e));
                                events.push(e);
                            }
                            Some(info)
                        }
                        Polled::Throttled(e) => {
                            throttled = Some(e);
                            None
                        }
                    }
                }
                None => None,
            };
            if let Some(info) = info {
                if status.as_ref() != Some(&info.status) {
                    progress.report(ProgressEvent::Status(&info.status));
                    status = Some(info.status.clone());
                }
                started |= info.status.is_in_progress();
                if let Some(ok) = settled(operation, &info.status).filter(|_| started) {
                    return Ok(if ok {
                        Outcome::Completed {
                            stack: stack.to_string(),
                            operation,
                            status: info.status,
                            outputs: info.outputs,
                        }
                    } else {
                        Outcome::Failed(Failure {
                            stack: stack.to_string(),
                            operation,
                            causes: root_causes(&events, stack),
                            status: info.status,
                            status_reason: info.status_reason,
                        })
                    });
                }
            }
            delay = match &throttled {
                Some(e) => {
                    let d = self.backoff(delay);
                    progress.report(ProgressEvent::Retrying { error: e, delay: d });
                    d
                }
                None => self.settings.poll,
            };
            let now = self.clock.now();
            if now >= deadline {
                return Ok(Outcome::TimedOut {
                    stack: stack.to_string(),
                    status,
                    waited: now.since(start),
                    resume,
                });
            }
            if self.clock.sleep(delay.min(deadline.since(now))) == Wake::Interrupted {
                return Ok(Outcome::Interrupted {
                    stack: stack.to_string(),
                    status,
                    resume,
                });
            }
        }
    }
}

/// The operation a stack in this status is in (or last went through).
fn operation_of(status: &StackStatus) -> Operation {
    let s = status.as_str();
    if s.starts_with("DELETE") {
        Operation::Delete
    } else if s.starts_with("CREATE") || s.starts_with("ROLLBACK") || s.starts_with("REVIEW") {
        Operation::Create
    } else {
        Operation::Update
    }
}

/// Whether the operation has settled in this status: `Some(true)` done, `Some(false)` failed
/// (after its rollback finished), `None` still going.
fn settled(operation: Operation, status: &StackStatus) -> Option<bool> {
    use StackStatus as S;
    match (operation, status) {
        (_, s) if s.is_in_progress() => None,
        (Operation::Create, S::CreateComplete) => Some(true),
        (
            Operation::Create,
            S::CreateFailed
            | S::RollbackComplete
            | S::RollbackFailed
            | S::DeleteComplete
            | S::DeleteFailed,
        ) => Some(false),
        (Operation::Update, S::UpdateComplete | S::ImportComplete) => Some(true),
        (
            Operation::Update,
            S::UpdateFailed
            | S::UpdateRollbackComplete
            | S::UpdateRollbackFailed
            | S::ImportRollbackComplete
            | S::ImportRollbackFailed,
        ) => Some(false),
        (Operation::Delete, S::DeleteComplete) => Some(true),
        (Operation::Delete, S::DeleteFailed) => Some(false),
        // A settled status of another operation: the one before this one, still showing.
        _ => None,
    }
}

/// The events that explain a failure: the resources that failed of their own accord, first
/// first; the "Resource creation cancelled" failures they caused are left out. When every
/// failure is such a cascade (the cause was outside the stack), all of them are kept.
pub fn root_causes(events: &[StackEvent], stack: &str) -> Vec<StackEvent> {
    let failed: Vec<&StackEvent> = events
        .iter()
        .filter(|e| e.status.is_failed() && !e.is_stack(stack))
        .collect();
    let own: Vec<StackEvent> = failed
        .iter()
        .filter(|e| !e.is_cascade())
        .map(|e| (*e).clone())
        .collect();
    if !own.is_empty() {
        return own;
    }
    if !failed.is_empty() {
        return failed.into_iter().cloned().collect();
    }
    // Nothing failed below the stack: its own failed event carries the reason.
    events
        .iter()
        .filter(|e| e.is_stack(stack) && e.status.is_failed())
        .cloned()
        .collect()
}
