//! The SDK conversion layer on responses in AWS's real wire shape (tests/wire/, sources in its
//! README): what moto cannot produce (EFA interfaces on instances, placement groups, real
//! CloudFormation failure events, AWS's error replies). A router stands in for the network:
//! it answers each request by its operation (`Action=` of the query protocols, the
//! `X-Amz-Target` header of Secrets Manager's JSON protocol) with a recorded body.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use aws_smithy_types::body::SdkBody;
use efactl_aws::{AwsBackend, AwsOptions};
use efactl_core::cloud::deploy::{blocked, root_causes};
use efactl_core::cloud::*;
use efactl_core::model::{InterfaceType, PlacementStrategy};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn wire(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/wire")
            .join(file),
    )
    .unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// operation -> (HTTP status, content type, body); records the operations asked for.
#[derive(Clone, Default)]
struct Router {
    routes: Arc<HashMap<String, (u16, &'static str, String)>>,
    asked: Arc<Mutex<Vec<String>>>,
}

fn operation(req: &http::Request<SdkBody>) -> String {
    if let Some(t) = req.headers().get("x-amz-target") {
        let t = t.to_str().unwrap_or_default();
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    let body = req
        .body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let action = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("?");
    // A later page is its own route: `Action?NextToken=TOKEN`.
    match body.split('&').find_map(|kv| kv.strip_prefix("NextToken=")) {
        Some(token) => format!("{action}?NextToken={token}"),
        None => action.to_string(),
    }
}

impl Router {
    fn new(routes: &[(&str, u16, &str)]) -> Router {
        let map = routes
            .iter()
            .map(|(op, status, file)| {
                let kind = if file.ends_with(".json") {
                    "application/x-amz-json-1.1"
                } else {
                    "text/xml"
                };
                (op.to_string(), (*status, kind, wire(file)))
            })
            .collect();
        Router {
            routes: Arc::new(map),
            asked: Arc::default(),
        }
    }

    fn backend(&self, max_attempts: u32) -> AwsBackend {
        let me = self.clone();
        let client = aws_smithy_http_client::test_util::infallible_client_fn(move |req| {
            let op = operation(&req);
            me.asked.lock().unwrap().push(op.clone());
            let (status, kind, body) = me
                .routes
                .get(&op)
                .cloned()
                .unwrap_or_else(|| panic!("no recorded response for {op}"));
            http::Response::builder()
                .status(status)
                .header("content-type", kind)
                .body(SdkBody::from(body))
                .unwrap()
        });
        let retry = if max_attempts <= 1 {
            RetryConfig::disabled()
        } else {
            RetryConfig::standard()
                .with_max_attempts(max_attempts)
                .with_initial_backoff(std::time::Duration::from_millis(1))
        };
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "replay",
            )))
            .http_client(client)
            .retry_config(retry)
            .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().unwrap())
            .build();
        AwsBackend::with_config(&config, &AwsOptions::default()).unwrap()
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

#[test]
fn instances_keep_their_efa_interfaces_cards_and_placement() {
    let r = Router::new(&[("DescribeInstances", 200, "ec2-describe-instances-efa.xml")]);
    let b = r.backend(1);
    let found = b
        .instances(&InstanceScope::Tag {
            key: "efactl:cluster".into(),
            value: "train".into(),
        })
        .unwrap();
    assert_eq!(found.len(), 3);
    let i = &found[0];
    assert_eq!(i.id, "i-0a1b2c3d4e5f60001");
    assert_eq!(i.instance_type, "p5.48xlarge");
    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.placement_group.as_deref(), Some("train-pg"));
    assert_eq!(i.availability_zone.as_deref(), Some("us-east-1a"));
    assert_eq!(
        i.tags.get("efactl:cluster").map(String::as_str),
        Some("train")
    );
    let layout: Vec<(InterfaceType, u32, u32, bool)> = i
        .network_interfaces
        .iter()
        .map(|n| {
            (
                n.interface_type,
                n.network_card,
                n.device_index,
                n.private_ip.is_some(),
            )
        })
        .collect();
    assert_eq!(
        layout,
        vec![
            (InterfaceType::Efa, 0, 0, true),
            (InterfaceType::EfaOnly, 1, 1, false),
            (InterfaceType::EfaOnly, 2, 1, false),
        ]
    );
    assert!(i
        .network_interfaces
        .iter()
        .all(|n| n.groups == vec!["sg-0123456789abcdef0".to_string()]));
    assert_eq!(found[2].state, InstanceState::Terminated);
    assert_eq!(r.asked(), vec!["DescribeInstances"]);
}

#[test]
fn instances_by_id_are_split_into_concurrent_requests() {
    let r = Router::new(&[("DescribeInstances", 200, "ec2-describe-instances-efa.xml")]);
    let b = r.backend(1);
    let ids: Vec<String> = (0..120).map(|n| format!("i-{n:017x}")).collect();
    let found = b.instances(&InstanceScope::Ids(ids)).unwrap();
    // 120 ids in requests of 50: three requests, each answered with the same three
    // instances; the backend keeps one record per instance id.
    assert_eq!(r.asked().len(), 3);
    assert_eq!(found.len(), 3);
}

#[test]
fn placement_groups_keep_their_strategy() {
    let r = Router::new(&[(
        "DescribePlacementGroups",
        200,
        "ec2-describe-placement-groups.xml",
    )]);
    let pgs = r
        .backend(1)
        .placement_groups(&["train-pg".into(), "spread-pg".into()])
        .unwrap();
    assert_eq!(pgs.len(), 2);
    assert_eq!(pgs[0].name, "train-pg");
    assert_eq!(pgs[0].strategy, PlacementStrategy::Cluster);
    assert_eq!(pgs[0].id.as_deref(), Some("pg-0123456789abcdef0"));
    assert_eq!(pgs[0].state, "available");
    assert_eq!(pgs[1].strategy, PlacementStrategy::Spread);
}

#[test]
fn a_failed_creation_reads_as_its_cause_oldest_first() {
    let r = Router::new(&[(
        "DescribeStackEvents",
        200,
        "cfn-describe-stack-events-create-failed.xml",
    )]);
    let events = r.backend(1).stack_events("train", None).unwrap();
    assert_eq!(events.len(), 9);
    assert_eq!(events[0].status, ResourceStatus::CreateInProgress);
    assert!(events[0].is_stack("train"));
    assert_eq!(events[8].status, ResourceStatus::RollbackComplete);
    assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    let causes = root_causes(&events, "train");
    assert_eq!(causes.len(), 1, "{causes:#?}");
    assert_eq!(causes[0].logical_id, "PlacementGroup");
    assert_eq!(causes[0].resource_type, "AWS::EC2::PlacementGroup");
    assert!(causes[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("already exists"));

    // Events before `since` are left out (the page is read newest first).
    let since = events[5].timestamp;
    let newer = r.backend(1).stack_events("train", Some(since)).unwrap();
    assert!(newer.iter().all(|e| e.timestamp >= since));
    assert!(newer.len() < 9);
}

#[test]
fn a_stack_in_update_rollback_failed_is_blocked_with_advice() {
    let r = Router::new(&[(
        "DescribeStacks",
        200,
        "cfn-describe-stacks-update-rollback-failed.xml",
    )]);
    let info = r.backend(1).describe_stack("train").unwrap().unwrap();
    assert_eq!(info.status, StackStatus::UpdateRollbackFailed);
    assert!(info.id.starts_with("arn:aws:cloudformation:us-east-1:"));
    assert_eq!(
        info.tags.get("efactl:cluster").map(String::as_str),
        Some("train")
    );
    assert!(info.last_updated.is_some());
    let b = blocked("train", &info.status).expect("UPDATE_ROLLBACK_FAILED blocks a deploy");
    assert!(
        b.advice.contains("continue-update-rollback"),
        "{}",
        b.advice
    );
}

#[test]
fn a_missing_stack_is_none_not_an_error() {
    let r = Router::new(&[("DescribeStacks", 400, "cfn-error-stack-missing.xml")]);
    assert_eq!(r.backend(1).describe_stack("train").unwrap(), None);
}

#[test]
fn a_change_set_says_add_replace_modify_remove() {
    let r = Router::new(&[("DescribeChangeSet", 200, "cfn-describe-change-set.xml")]);
    let cs = r.backend(1).describe_change_set("arn:cs").unwrap();
    assert_eq!(cs.status, ChangeSetStatus::CreateComplete);
    let verbs: Vec<(&str, &str)> = cs
        .changes
        .iter()
        .map(|c| (c.verb(), c.logical_id.as_str()))
        .collect();
    assert_eq!(
        verbs,
        vec![
            ("add", "EfaSelfIngress"),
            ("replace", "LaunchTemplate"),
            ("modify", "EfaSecurityGroup"),
            ("remove", "LegacySshIngress"),
        ]
    );
    assert!(cs.changes[1]
        .properties
        .contains(&"LaunchTemplateName".to_string()));
}

/// A change set of more changes than one reply holds: the second page is asked for with the
/// first's `NextToken`, and the changes are joined in order.
#[test]
fn a_change_set_on_two_pages_is_read_to_the_end() {
    let r = Router::new(&[
        (
            "DescribeChangeSet",
            200,
            "cfn-describe-change-set-page1.xml",
        ),
        (
            "DescribeChangeSet?NextToken=AAAAAEefactlPageTwoTokenExampleAAAA",
            200,
            "cfn-describe-change-set-page2.xml",
        ),
    ]);
    let cs = r.backend(1).describe_change_set("arn:cs").unwrap();
    let ids: Vec<&str> = cs.changes.iter().map(|c| c.logical_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "EfaSelfIngress",
            "LaunchTemplate",
            "EfaSecurityGroup",
            "LegacySshIngress"
        ]
    );
    assert_eq!(
        r.asked(),
        vec![
            "DescribeChangeSet".to_string(),
            "DescribeChangeSet?NextToken=AAAAAEefactlPageTwoTokenExampleAAAA".to_string()
        ]
    );
}

#[test]
fn aws_error_replies_become_their_classes() {
    let r = Router::new(&[("DescribeInstances", 403, "ec2-error-unauthorized.xml")]);
    match r.backend(1).instances(&InstanceScope::Vpc("vpc-1".into())) {
        Err(CloudError::AccessDenied { action, message }) => {
            assert_eq!(action, "ec2:DescribeInstances");
            assert!(message.contains("not authorized"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // Throttling is retried by the SDK first: 3 attempts, then efactl's class.
    let r = Router::new(&[("DescribeInstances", 503, "ec2-error-request-limit.xml")]);
    match r.backend(3).instances(&InstanceScope::Vpc("vpc-1".into())) {
        Err(e @ CloudError::Throttled { .. }) => assert!(e.is_retryable()),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.asked().len(), 3);

    let r = Router::new(&[("GetCallerIdentity", 403, "sts-error-expired-token.xml")]);
    match r.backend(1).identity() {
        Err(e @ CloudError::ExpiredToken { .. }) => {
            assert!(e.hint().unwrap().contains("aws sso login"))
        }
        other => panic!("{other:?}"),
    }
    let r = Router::new(&[("GetCallerIdentity", 200, "sts-get-caller-identity.xml")]);
    let id = r.backend(1).identity().unwrap();
    assert_eq!(id.account.len(), 12);

    let r = Router::new(&[(
        "DescribeSecret",
        400,
        "secretsmanager-error-access-denied.json",
    )]);
    match r.backend(1).describe_secret("train-mpi-ssh-key") {
        Err(CloudError::AccessDenied { action, .. }) => {
            assert_eq!(action, "secretsmanager:DescribeSecret")
        }
        other => panic!("{other:?}"),
    }
    let r = Router::new(&[("DescribeSecret", 400, "secretsmanager-error-not-found.json")]);
    assert_eq!(r.backend(1).describe_secret("nope").unwrap(), None);
}

#[test]
fn a_secret_scheduled_for_deletion_says_so() {
    let r = Router::new(&[("DescribeSecret", 200, "secretsmanager-describe-secret.json")]);
    let s = r
        .backend(1)
        .describe_secret("train-mpi-ssh-key")
        .unwrap()
        .unwrap();
    assert_eq!(s.name, "train-mpi-ssh-key");
    assert!(s.arn.ends_with(":secret:train-mpi-ssh-key-Ab12Cd"));
    assert!(s.pending_deletion);
    assert_eq!(s.kms_key, None);
}

/// `catalog refresh`: DescribeInstanceTypes with no filter is read page by page (the second
/// request carries the first answer's `nextToken`), and each type keeps the facts the rules
/// use: p5's 32 EFA interfaces on 32 cards, trn2's 16 EFAs, m5's lack of EFA.
#[test]
fn every_instance_type_is_read_on_all_pages() {
    let token = "AAEAAWAkUyTQh0dnBzZWNyZXQ";
    let page2 = format!("DescribeInstanceTypes?NextToken={token}");
    let r = Router::new(&[
        (
            "DescribeInstanceTypes",
            200,
            "ec2-describe-instance-types-page1.xml",
        ),
        (&page2, 200, "ec2-describe-instance-types-page2.xml"),
    ]);
    let types = r.backend(1).all_instance_types().unwrap();
    let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["m5.12xlarge", "p5.48xlarge", "trn2.48xlarge"]);
    assert_eq!(r.asked(), vec!["DescribeInstanceTypes".to_string(), page2]);
    let p5 = &types[1];
    assert_eq!(p5.efa_supported, Some(true));
    assert_eq!(p5.maximum_efa_interfaces, Some(32));
    assert_eq!(p5.maximum_network_cards, Some(32));
    assert_eq!(p5.vcpus, Some(192));
    assert_eq!(p5.network_cards.len(), 32);
    assert_eq!(types[2].maximum_efa_interfaces, Some(16));
    assert_eq!(types[0].efa_supported, Some(false));
    let rows = efactl_core::catalog::rows_from_describe(&types, "us-east-1", "2026-12-03");
    let p5 = rows.iter().find(|t| t.name == "p5.48xlarge").unwrap();
    assert!(p5.supports_efa());
    assert_eq!(p5.bandwidth_gbps, Some(3200.0));
    // What the API does not say stays from the curated row.
    assert_eq!(p5.gpudirect_rdma, Some(true));
    assert_eq!(
        p5.sources.last().map(String::as_str),
        Some("DescribeInstanceTypes us-east-1 2026-12-03")
    );
}
