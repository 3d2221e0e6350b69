//! AWS behind one narrow trait, and everything efactl decides about AWS as pure code.
//!
//! [`CloudBackend`] is the only door to AWS: stack operations for `deploy` / `status` /
//! `destroy`, the `Describe*` reads of `audit`, and the secret calls of `keys`. It speaks
//! efactl's types ([`stack`], [`records`], [`crate::catalog`], [`crate::keys::SecretText`]),
//! never the SDK's, so that:
//!
//! - the orchestration ([`deploy`]: plan, change set, wait, report) and the audit mapping
//!   ([`audit`]: live records -> [`crate::model::Cluster`]) are plain functions, tested here
//!   against [`fake::FakeBackend`] and [`time::Clock`] fakes, with no network and no
//!   10-minute SDK build in the fast test loop;
//! - efactl-aws, the one crate that links the AWS SDK, only converts: each method is one or
//!   a few paginated SDK calls and a field-by-field copy. That is the "fetch live state, then
//!   a pure comparison" split of Bottlerocket's pubsys and coldsnap.
//!
//! The trait is synchronous. The core stays free of an async runtime; efactl-aws owns a
//! tokio runtime and blocks on it per call, and runs the many describes behind one read
//! (instances by the hundred, security groups in chunks) concurrently inside that call, with
//! a bound. The orchestration itself is a sequence of dependent calls, where async would buy
//! nothing but a runtime in every test.

pub mod audit;
pub mod deploy;
pub mod fake;
pub mod records;
pub mod stack;
pub mod status;
pub mod time;

pub use records::*;
pub use stack::*;
pub use time::{Clock, SystemClock, Timestamp, Wake};

use crate::keys::SecretText;

/// Why an AWS call failed, in the classes the CLI explains differently. efactl-aws maps every
/// SDK error into one of them (by error code, then by the kind of dispatch failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// No credentials anywhere in the chain (flags, environment, profile, SSO, IMDS).
    /// `detail` is the SDK's account of every provider it tried: kept for `EFACTL_DEBUG=1`,
    /// never in the message, which is one plain sentence.
    #[error("no AWS credentials found")]
    NoCredentials { detail: String },
    /// A credential provider of the chain is set up but failed (a profile without keys, a
    /// `credential_process` that exits non-zero, a role it cannot assume): its reason.
    #[error("the AWS credentials could not be loaded: {reason}")]
    CredentialsUnusable { reason: String },
    /// `--profile X` or `AWS_PROFILE=X` names a profile that neither the config file nor the
    /// credentials file defines (the AWS CLI's own words).
    #[error("the config profile ({profile}) could not be found")]
    ProfileNotFound { profile: String },
    /// The AWS config or credentials file could not be parsed.
    #[error("the AWS config files cannot be read: {detail}")]
    BadConfig { detail: String },
    /// `--endpoint-url` is not an absolute http(s) URL.
    #[error("--endpoint-url `{url}` is not usable: {reason}")]
    BadEndpoint { url: String, reason: String },
    /// Credentials were found but AWS does not accept them (`InvalidClientTokenId`,
    /// `AuthFailure`, `SignatureDoesNotMatch`, `UnrecognizedClientException`).
    #[error("AWS rejected the credentials ({detail})")]
    CredentialsRejected { detail: String },
    /// No region from `--region`, `AWS_REGION` or the profile.
    #[error("no AWS region is configured")]
    NoRegion,
    /// `ExpiredToken`, `ExpiredTokenException`, `RequestExpired`, or an SSO session that
    /// has run out.
    #[error("the AWS credentials have expired ({detail})")]
    ExpiredToken { detail: String },
    /// `AccessDenied`, `UnauthorizedOperation`, ...: `action` is the IAM action
    /// (`ec2:DescribeSecurityGroups`) so the message can say what to grant.
    #[error("access denied to {action}: {message}")]
    AccessDenied { action: String, message: String },
    /// `Throttling`, `RequestLimitExceeded`, ...: retried with backoff.
    #[error("AWS throttled {action}")]
    Throttled { action: String },
    /// The object does not exist. Reads that may legitimately find nothing
    /// (`describe_stack`, `describe_secret`) answer `Ok(None)` instead.
    #[error("{what} not found")]
    NotFound { what: String },
    /// DNS, connection refused, TLS, timeouts: the endpoint could not be reached.
    #[error("cannot reach the AWS endpoint {endpoint} ({detail})")]
    EndpointUnreachable { endpoint: String, detail: String },
    /// The request was refused as invalid (`ValidationError`, `InvalidParameterValue`):
    /// CloudFormation's own messages are of this class and are shown as they are.
    #[error("{action} was rejected: {message}")]
    Validation { action: String, message: String },
    #[error("{action} failed: {message}")]
    Other { action: String, message: String },
}

impl CloudError {
    /// Worth trying again after a pause.
    pub fn is_retryable(&self) -> bool {
        matches!(self, CloudError::Throttled { .. })
    }

    /// The exit code of a command that stops on this error: 2 (usage) for what is wrong
    /// before any call (no credentials, region or profile, a malformed endpoint URL), 1 for
    /// what AWS answered or the network did.
    pub fn exit_code(&self) -> u8 {
        match self {
            CloudError::NoCredentials { .. }
            | CloudError::CredentialsUnusable { .. }
            | CloudError::NoRegion
            | CloudError::ProfileNotFound { .. }
            | CloudError::BadConfig { .. }
            | CloudError::BadEndpoint { .. } => 2,
            _ => 1,
        }
    }

    /// What the user can do about it, for the line after the error.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            CloudError::NoCredentials { .. } => "efactl uses the AWS CLI's credential chain: pass --profile, set AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or run `aws configure` / `aws sso login`".into(),
            CloudError::CredentialsRejected { .. } => "the access key is wrong or deactivated, or belongs to another partition; `aws sts get-caller-identity` with the same profile tells".into(),
            CloudError::CredentialsUnusable { .. } => "`aws sts get-caller-identity` with the same profile and environment shows the same failure; fix the profile it names".into(),
            CloudError::ProfileNotFound { .. } => "`aws configure list-profiles` lists the profiles there are; `aws configure --profile NAME` makes one (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE name other files)".into(),
            CloudError::BadConfig { .. } => "fix the file named (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and ~/.aws/credentials)".into(),
            CloudError::BadEndpoint { .. } => "write it as the AWS CLI takes it: http://127.0.0.1:5000 or https://HOST".into(),
            CloudError::NoRegion => "pass --region, set AWS_REGION, or set `region` in the profile (`aws configure`)".into(),
            CloudError::ExpiredToken { .. } => "refresh them (`aws sso login`, or new temporary credentials) and run the command again".into(),
            CloudError::AccessDenied { action, .. } => format!("the identity in use needs `{action}`; `aws sts get-caller-identity` shows which identity that is"),
            CloudError::Throttled { .. } => "AWS is rate-limiting this account; wait a minute and run the command again".into(),
            CloudError::EndpointUnreachable { .. } => "check the network, --region and --endpoint-url (and HTTPS_PROXY where one is needed)".into(),
            CloudError::NotFound { .. } | CloudError::Validation { .. } | CloudError::Other { .. } => return None,
        })
    }
}

/// Every AWS call efactl makes. Methods take and return efactl's own types; names are the
/// AWS operations they stand for. Every list call is paginated to the end by the
/// implementation. `stack` arguments take a stack name or its ARN (an ARN also finds a
/// deleted stack).
pub trait CloudBackend {
    // Stacks.

    /// `DescribeStacks` of one stack; `None` when it does not exist (CloudFormation answers
    /// that with a `ValidationError`, which the implementation turns into `None`).
    fn describe_stack(&self, stack: &str) -> Result<Option<StackInfo>, CloudError>;
    /// `GetTemplate` (stage `Original`): the body as it was submitted.
    fn stack_template(&self, stack: &str) -> Result<String, CloudError>;
    /// `PutObject` of a template too large to pass inline; returns the `https://s3.REGION.
    /// amazonaws.com/BUCKET/KEY` URL CloudFormation reads it from (`TemplateURL`).
    fn put_template(&self, bucket: &str, key: &str, body: &str) -> Result<String, CloudError>;
    /// `CreateStack` (rollback on failure) with `TemplateURL` when the template has one,
    /// `TemplateBody` otherwise; returns the stack's ARN.
    fn create_stack(&self, template: &StackTemplate) -> Result<String, CloudError>;
    /// `CreateChangeSet` of type `UPDATE`; returns the change set's ARN.
    fn create_change_set(&self, template: &StackTemplate, name: &str)
        -> Result<String, CloudError>;
    /// `DescribeChangeSet` by ARN, every page of changes.
    fn describe_change_set(&self, change_set: &str) -> Result<ChangeSet, CloudError>;
    fn execute_change_set(&self, change_set: &str) -> Result<(), CloudError>;
    fn delete_change_set(&self, change_set: &str) -> Result<(), CloudError>;
    fn delete_stack(&self, stack: &str) -> Result<(), CloudError>;
    /// `DescribeStackEvents`: events at or after `since` (AWS's clock), oldest first. The
    /// implementation pages from the newest and stops at the first older event.
    fn stack_events(
        &self,
        stack: &str,
        since: Option<Timestamp>,
    ) -> Result<Vec<StackEvent>, CloudError>;

    /// `DescribeStackResources`: the stack's resources and their status.
    fn stack_resources(&self, stack: &str) -> Result<Vec<StackResource>, CloudError>;

    // Audit reads.

    /// `DescribeInstances` with the scope as filters; every state.
    fn instances(&self, scope: &InstanceScope) -> Result<Vec<InstanceRecord>, CloudError>;
    fn security_groups(&self, ids: &[String]) -> Result<Vec<SecurityGroupRecord>, CloudError>;
    fn placement_groups(&self, names: &[String]) -> Result<Vec<PlacementGroupRecord>, CloudError>;
    /// `DescribeVpcs` and `DescribeVpcAttribute` (DNS support, DNS hostnames).
    fn vpc(&self, vpc_id: &str) -> Result<Option<VpcRecord>, CloudError>;
    fn subnets(&self, vpc_id: &str) -> Result<Vec<SubnetRecord>, CloudError>;
    fn route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTableRecord>, CloudError>;
    fn vpc_endpoints(&self, vpc_id: &str) -> Result<Vec<VpcEndpointRecord>, CloudError>;
    fn network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAclRecord>, CloudError>;
    fn instance_types(&self, names: &[String]) -> Result<Vec<InstanceTypeRecord>, CloudError>;
    /// `DescribeInstanceTypes` with no filter, every page: every type the region offers
    /// (`efactl catalog refresh`).
    fn all_instance_types(&self) -> Result<Vec<InstanceTypeRecord>, CloudError>;
    /// `GetConsoleOutput` (`Latest`) of each instance, decoded from base64, in the order
    /// given; `None` where the instance has printed nothing yet. `status` reads the node
    /// bootstrap's result from it.
    fn console_outputs(&self, ids: &[String]) -> Result<Vec<(String, Option<String>)>, CloudError>;

    // Secrets (`keys` and the audit of the MPI key).

    /// `DescribeSecret`; `None` when there is no such secret.
    fn describe_secret(&self, secret: &str) -> Result<Option<SecretRecord>, CloudError>;
    /// `GetSecretValue` (`SecretString`).
    fn secret_value(&self, secret: &str) -> Result<SecretText, CloudError>;
    /// `CreateSecret`; returns its ARN.
    fn create_secret(
        &self,
        name: &str,
        value: &SecretText,
        kms_key: Option<&str>,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<String, CloudError>;
    /// `PutSecretValue`.
    fn put_secret_value(&self, secret: &str, value: &SecretText) -> Result<(), CloudError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    mod audit;
    mod deploy;

    #[test]
    fn every_error_class_but_the_aws_messages_has_a_hint() {
        let e = CloudError::AccessDenied {
            action: "ec2:DescribeSecurityGroups".into(),
            message: "You are not authorized to perform this operation.".into(),
        };
        assert_eq!(
            e.to_string(),
            "access denied to ec2:DescribeSecurityGroups: You are not authorized to perform this operation."
        );
        assert!(e.hint().unwrap().contains("ec2:DescribeSecurityGroups"));
        assert!(CloudError::Throttled { action: "x".into() }.is_retryable());
        assert!(!CloudError::ExpiredToken {
            detail: String::new()
        }
        .is_retryable());
        assert!(CloudError::NoCredentials {
            detail: String::new()
        }
        .hint()
        .unwrap()
        .contains("--profile"));
    }
}
