//! Every SDK failure as one of efactl's [`CloudError`] classes.
//!
//! Service errors are classified by their AWS error code (the same codes across EC2's XML,
//! CloudFormation's and STS's query XML and Secrets Manager's JSON); failures before a reply
//! by what the SDK says of them (credentials, timeouts, connection errors). The full text of
//! the SDK's error chain is kept in the detail so nothing the SDK knew is lost.

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use efactl_core::cloud::CloudError;
use std::error::Error as StdError;

/// Error codes of a throttled call (the SDK has retried these already).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "SlowDown",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "BandwidthLimitExceeded",
];

const EXPIRED: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
];

const REJECTED: &[&str] = &[
    "InvalidClientTokenId",
    "AuthFailure",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "OptInRequired",
];

const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "Forbidden",
];

const VALIDATION: &[&str] = &[
    "ValidationError",
    "ValidationException",
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidParameter",
    "InvalidParameterException",
    "MissingParameter",
    "InvalidRequestException",
    "InsufficientCapabilitiesException",
    "LimitExceededException",
    "AlreadyExistsException",
    "ResourceExistsException",
    "InvalidChangeSetStatus",
    "MalformedPolicyDocumentException",
    // S3: the template bucket is in another region than the stack.
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
];

/// A code that means the object asked for does not exist.
pub(crate) fn is_not_found_code(code: &str) -> bool {
    code.ends_with(".NotFound")
        || code.ends_with(".Malformed") && code.starts_with("InvalidInstanceID")
        || matches!(
            code,
            "ResourceNotFoundException"
                | "ChangeSetNotFound"
                | "StackNotFoundException"
                | "NoSuchBucket"
        )
}

/// The service's error code and message, when AWS answered with an error.
pub(crate) fn service_code<E, R>(err: &SdkError<E, R>) -> Option<(String, Option<String>)>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(se) => se
            .err()
            .code()
            .map(|c| (c.to_string(), se.err().message().map(str::to_string))),
        _ => None,
    }
}

fn chain_find<'e, T: StdError + 'static>(err: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        cur = e.source();
    }
    None
}

/// `SdkError` -> `CloudError`. `action` is the IAM action (`ec2:DescribeInstances`), which
/// is also what an access-denied message tells the user to grant; `endpoint` names where the
/// call went, for connection failures.
pub(crate) fn map<E>(action: &str, endpoint: &str, err: SdkError<E, HttpResponse>) -> CloudError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    if let Some(c) = chain_find::<CredentialsError>(&err) {
        return credentials(c, detail);
    }
    match &err {
        SdkError::ServiceError(se) if se.err().code().is_none() => {
            // No AWS error in the reply: a proxy's or an emulator's page, not the service's.
            let status = se.raw().status().as_u16();
            CloudError::Other {
                action: action.to_string(),
                message: format!(
                    "{endpoint} answered HTTP {status} without an AWS error code{}",
                    if status >= 500 {
                        " (an internal error on its side)"
                    } else {
                        ""
                    }
                ),
            }
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("").to_string();
            let message = se
                .err()
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| detail.clone());
            from_code(action, &code, message, detail)
        }
        SdkError::TimeoutError(_) => CloudError::EndpointUnreachable {
            endpoint: endpoint.to_string(),
            detail: "the call timed out".into(),
        },
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() || d.is_other() => {
            CloudError::EndpointUnreachable {
                endpoint: endpoint.to_string(),
                detail: short_io_detail(&detail),
            }
        }
        SdkError::ResponseError(_) => CloudError::Other {
            action: action.to_string(),
            message: format!("the reply could not be read: {detail}"),
        },
        _ if detail.to_ascii_lowercase().contains("region") => CloudError::NoRegion,
        _ => CloudError::Other {
            action: action.to_string(),
            message: detail,
        },
    }
}

/// The part of a connection error a user can act on: "Connection refused", "dns error", ...
fn short_io_detail(detail: &str) -> String {
    let lower = detail.to_ascii_lowercase();
    for (needle, said) in [
        ("connection refused", "connection refused"),
        ("dns error", "the host name does not resolve"),
        ("failed to lookup address", "the host name does not resolve"),
        ("timed out", "the connection timed out"),
        ("certificate", "the TLS certificate was not accepted"),
        ("connection reset", "the connection was reset"),
    ] {
        if lower.contains(needle) {
            return said.to_string();
        }
    }
    detail.to_string()
}

fn credentials(c: &CredentialsError, detail: String) -> CloudError {
    let lower = detail.to_ascii_lowercase();
    match c {
        CredentialsError::CredentialsNotLoaded(_) => CloudError::NoCredentials { detail },
        _ if lower.contains("expired") || lower.contains("sso session") => {
            CloudError::ExpiredToken {
                detail: c.to_string(),
            }
        }
        _ => CloudError::CredentialsUnusable {
            reason: innermost(c),
        },
    }
}

/// The last error of a chain: the SDK wraps the reason ("profile `b` did not contain
/// credential information") in several layers of "an error occurred while...".
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A service error by its code.
pub(crate) fn from_code(action: &str, code: &str, message: String, detail: String) -> CloudError {
    let action = action.to_string();
    if THROTTLING.contains(&code) {
        CloudError::Throttled { action }
    } else if EXPIRED.contains(&code) {
        CloudError::ExpiredToken {
            detail: format!("{code}: {message}"),
        }
    } else if REJECTED.contains(&code) {
        CloudError::CredentialsRejected {
            detail: format!("{code}: {message}"),
        }
    } else if DENIED.contains(&code) || code.starts_with("AccessDenied") {
        CloudError::AccessDenied { action, message }
    } else if is_not_found_code(code) {
        // AWS's own message already says what is missing ("The subnet ID 'subnet-1' does not
        // exist"): shown as it is, with the call it came from.
        let lower = message.to_ascii_lowercase();
        if lower.contains("not exist") || lower.contains("not found") {
            CloudError::Validation { action, message }
        } else {
            CloudError::NotFound { what: message }
        }
    } else if VALIDATION.contains(&code) || code.starts_with("Invalid") {
        CloudError::Validation { action, message }
    } else if code.is_empty() {
        CloudError::Other {
            action,
            message: detail,
        }
    } else {
        CloudError::Other {
            action,
            message: format!("{code}: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_fall_into_their_classes() {
        let c = |code: &str| from_code("ec2:DescribeInstances", code, "m".into(), "d".into());
        assert!(matches!(
            c("RequestLimitExceeded"),
            CloudError::Throttled { .. }
        ));
        assert!(matches!(c("Throttling"), CloudError::Throttled { .. }));
        assert!(matches!(c("ExpiredToken"), CloudError::ExpiredToken { .. }));
        assert!(matches!(
            c("RequestExpired"),
            CloudError::ExpiredToken { .. }
        ));
        assert!(matches!(
            c("AuthFailure"),
            CloudError::CredentialsRejected { .. }
        ));
        assert!(matches!(
            c("InvalidClientTokenId"),
            CloudError::CredentialsRejected { .. }
        ));
        match c("UnauthorizedOperation") {
            CloudError::AccessDenied { action, message } => {
                assert_eq!(action, "ec2:DescribeInstances");
                assert_eq!(message, "m");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            c("InvalidGroup.NotFound"),
            CloudError::NotFound { .. }
        ));
        assert!(matches!(
            c("ResourceNotFoundException"),
            CloudError::NotFound { .. }
        ));
        assert!(matches!(
            c("ValidationError"),
            CloudError::Validation { .. }
        ));
        assert!(matches!(
            c("InvalidParameterValue"),
            CloudError::Validation { .. }
        ));
        match c("InternalError") {
            CloudError::Other { message, .. } => assert_eq!(message, "InternalError: m"),
            other => panic!("{other:?}"),
        }
        match c("") {
            CloudError::Other { message, .. } => assert_eq!(message, "d"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn connection_details_are_said_plainly() {
        assert_eq!(
            short_io_detail("dispatch failure: io error: Connection refused (os error 111)"),
            "connection refused"
        );
        assert_eq!(
            short_io_detail("dispatch failure: other: client error (Connect): dns error: failed to lookup address information"),
            "the host name does not resolve"
        );
        assert_eq!(short_io_detail("odd"), "odd");
    }
}
