//! The orchestration against the fake account and clock: every way a deploy or destroy ends.

use crate::cloud::deploy::*;
use crate::cloud::fake::{FakeBackend, FakeClock, Step};
use crate::cloud::{CloudError, ResourceStatus as R, StackStatus as S, StackTemplate};
use serde_json::json;
use std::time::Duration;

const STACK: &str = "SampleStack";

fn template(resources: serde_json::Value) -> StackTemplate {
    let mut t = StackTemplate::new(STACK, &json!({ "Resources": resources }));
    t.tags.insert("efactl:cluster".into(), STACK.into());
    t
}

fn v1() -> StackTemplate {
    template(json!({
        "EfaSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "EFA"}},
        "ComputeLaunchTemplate": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {"InstanceType": "p5.48xlarge"}}},
        "ComputeAsg": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MinSize": "2", "MaxSize": "2"}},
    }))
}

fn v2() -> StackTemplate {
    template(json!({
        "EfaSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "EFA"}},
        "ComputeLaunchTemplate": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {"InstanceType": "p5.48xlarge"}}},
        "ComputeAsg": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MinSize": "4", "MaxSize": "4"}},
        "EfaSelfEgress": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {"IpProtocol": "-1"}},
    }))
}

fn fast() -> WaitSettings {
    WaitSettings {
        timeout: Duration::from_secs(600),
        ..WaitSettings::default()
    }
}

/// Collects progress as lines, for assertions.
#[derive(Default)]
struct Lines(Vec<String>);

impl Lines {
    fn progress(&mut self) -> impl FnMut(ProgressEvent<'_>) + '_ {
        |e| {
            self.0.push(match e {
                ProgressEvent::Started {
                    stack,
                    operation,
                    expected,
                } => format!("started {stack} {operation:?} {expected}"),
                ProgressEvent::Event(e) => format!("event {} {}", e.logical_id, e.status),
                ProgressEvent::Status(s) => format!("status {s}"),
                ProgressEvent::ChangeSetPending { stack } => format!("change set {stack}"),
                ProgressEvent::Retrying { error, delay } => {
                    format!("retry {}s {error}", delay.as_secs())
                }
            })
        }
    }
}

fn yes(_: &crate::cloud::ChangeSet) -> bool {
    true
}

#[test]
fn create_succeeds_and_reports_every_resource() {
    let fake = FakeBackend::new();
    let clock = FakeClock::new();
    let mut lines = Lines::default();
    let report = Deployer::new(&fake, &clock)
        .with_settings(fast())
        .deploy(&v1(), &mut yes, &mut lines.progress())
        .unwrap();
    let DeployReport::Created(outcome) = report else {
        panic!("{report:?}")
    };
    assert!(outcome.is_success(), "{outcome:?}");
    assert_eq!(
        outcome.message(),
        "stack `SampleStack` created (CREATE_COMPLETE)"
    );
    assert_eq!(fake.mutating_calls(), vec!["create_stack"]);
    assert_eq!(lines.0[0], "started SampleStack Create 3");
    let completed: Vec<&String> = lines
        .0
        .iter()
        .filter(|l| l.starts_with("event") && l.ends_with("CREATE_COMPLETE"))
        .collect();
    // Three resources and the stack itself.
    assert_eq!(completed.len(), 4, "{:#?}", lines.0);
    assert!(lines
        .0
        .iter()
        .any(|l| l == "event SampleStack CREATE_IN_PROGRESS"));
}

#[test]
fn create_failed_names_the_failing_resource_and_the_rollback_status() {
    let fake = FakeBackend::new();
    let capacity = "We currently do not have sufficient p5.48xlarge capacity in the Availability Zone you requested (us-east-1a). Our system will be working on provisioning additional capacity. (Service: AmazonEC2; Status Code: 500; Error Code: InsufficientInstanceCapacity)";
    fake.script_create(
        STACK,
        vec![
            Step::new(S::CreateInProgress)
                .event("EfaSecurityGroup", "AWS::EC2::SecurityGroup", R::CreateInProgress, None)
                .event("ComputeLaunchTemplate", "AWS::EC2::LaunchTemplate", R::CreateInProgress, None),
            Step::new(S::CreateInProgress)
                .event("EfaSecurityGroup", "AWS::EC2::SecurityGroup", R::CreateComplete, None)
                .event("ComputeAsg", "AWS::AutoScaling::AutoScalingGroup", R::CreateFailed, Some(capacity))
                .event("ComputeLaunchTemplate", "AWS::EC2::LaunchTemplate", R::CreateFailed, Some("Resource creation cancelled")),
            Step::new(S::RollbackInProgress)
                .reason("The following resource(s) failed to create: [ComputeLaunchTemplate, ComputeAsg]. Rollback requested by user.")
                .stack_event(Some("The following resource(s) failed to create: [ComputeLaunchTemplate, ComputeAsg]. Rollback requested by user.")),
            Step::new(S::RollbackInProgress)
                .event("EfaSecurityGroup", "AWS::EC2::SecurityGroup", R::DeleteComplete, None),
            Step::new(S::RollbackComplete).stack_event(None),
        ],
    );
    let clock = FakeClock::new();
    let mut lines = Lines::default();
    let report = Deployer::new(&fake, &clock)
        .with_settings(fast())
        .deploy(&v1(), &mut yes, &mut lines.progress())
        .unwrap();
    let DeployReport::Created(Outcome::Failed(f)) = &report else {
        panic!("{report:?}")
    };
    assert_eq!(f.status, S::RollbackComplete);
    assert_eq!(
        f.causes.len(),
        1,
        "the cancelled launch template is a cascade: {:#?}",
        f.causes
    );
    assert_eq!(f.causes[0].logical_id, "ComputeAsg");
    assert_eq!(f.causes[0].status, R::CreateFailed);
    let DeployReport::Created(outcome) = &report else {
        unreachable!()
    };
    let m = outcome.message();
    assert!(
        m.contains(
            "the creation of stack `SampleStack` failed; its final status is ROLLBACK_COMPLETE"
        ),
        "{m}"
    );
    assert!(m.contains("CREATE_FAILED ComputeAsg (AWS::AutoScaling::AutoScalingGroup): We currently do not have sufficient p5.48xlarge capacity"), "{m}");
    assert!(!outcome.is_success());
    // The rollback's events were shown as they came.
    assert!(lines.0.iter().any(|l| l == "status ROLLBACK_IN_PROGRESS"));
    assert!(lines
        .0
        .iter()
        .any(|l| l == "event EfaSecurityGroup DELETE_COMPLETE"));
}

#[test]
fn update_shows_the_change_set_then_executes_it() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::CreateComplete);
    let clock = FakeClock::new();
    let mut shown = Vec::new();
    let mut confirm = |cs: &crate::cloud::ChangeSet| {
        shown = cs
            .changes
            .iter()
            .map(|c| format!("{} {} {}", c.verb(), c.logical_id, c.resource_type))
            .collect();
        true
    };
    let mut lines = Lines::default();
    let report = Deployer::new(&fake, &clock)
        .with_settings(fast())
        .deploy(&v2(), &mut confirm, &mut lines.progress())
        .unwrap();
    assert_eq!(
        shown,
        vec![
            "modify ComputeAsg AWS::AutoScaling::AutoScalingGroup",
            "add EfaSelfEgress AWS::EC2::SecurityGroupEgress",
        ]
    );
    let DeployReport::Updated {
        outcome,
        change_set,
    } = report
    else {
        panic!("{report:?}")
    };
    assert_eq!(change_set.changes.len(), 2);
    assert_eq!(
        outcome.message(),
        "stack `SampleStack` updated (UPDATE_COMPLETE)"
    );
    assert_eq!(
        fake.mutating_calls(),
        vec!["create_change_set", "execute_change_set"]
    );
    // Only this update's events, and the wait did not stop at the cleanup status.
    assert!(lines
        .0
        .iter()
        .any(|l| l == "status UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
    assert!(!lines
        .0
        .iter()
        .any(|l| l.contains("CREATE_COMPLETE") && l.contains("EfaSecurityGroup")));
    assert!(lines
        .0
        .contains(&"started SampleStack Update 2".to_string()));
    assert!(lines.0.contains(&"change set SampleStack".to_string()));
}

#[test]
fn a_declined_change_set_is_deleted_and_nothing_runs() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::UpdateComplete);
    let clock = FakeClock::new();
    let report = Deployer::new(&fake, &clock)
        .deploy(&v2(), &mut |_| false, &mut NoProgress)
        .unwrap();
    assert!(
        matches!(report, DeployReport::Declined { .. }),
        "{report:?}"
    );
    assert_eq!(
        fake.mutating_calls(),
        vec!["create_change_set", "delete_change_set"]
    );
}

#[test]
fn dry_run_computes_the_change_set_and_leaves_the_stack_alone() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::CreateComplete);
    let clock = FakeClock::new();
    let prepared = Deployer::new(&fake, &clock)
        .dry_run(&v2(), &mut NoProgress)
        .unwrap();
    let Prepared::Update(cs) = prepared else {
        panic!("{prepared:?}")
    };
    assert_eq!(cs.changes.len(), 2);
    assert_eq!(
        fake.mutating_calls(),
        vec!["create_change_set", "delete_change_set"]
    );
    let Prepared::Create = Deployer::new(&FakeBackend::new(), &clock)
        .dry_run(&v1(), &mut NoProgress)
        .unwrap()
    else {
        panic!("a missing stack is a creation")
    };
}

#[test]
fn an_unchanged_redeploy_says_no_changes_and_calls_nothing_that_mutates() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::UpdateComplete);
    let clock = FakeClock::new();
    // The same template, its keys in another order: GetTemplate returns what was sent.
    let again = StackTemplate {
        body: serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(&v1().body).unwrap(),
        )
        .unwrap(),
        ..v1()
    };
    let report = Deployer::new(&fake, &clock)
        .deploy(
            &again,
            &mut |_| panic!("nothing to confirm"),
            &mut NoProgress,
        )
        .unwrap();
    assert_eq!(
        report,
        DeployReport::NoChanges {
            stack: STACK.into()
        }
    );
    assert!(fake.mutating_calls().is_empty(), "{:?}", fake.calls());
    assert_eq!(fake.calls(), vec!["describe_stack", "stack_template"]);
    assert_eq!(clock.slept(), Duration::ZERO);
}

#[test]
fn a_change_cloudformation_finds_empty_is_no_changes() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::CreateComplete);
    let clock = FakeClock::new();
    // Only the description differs: CloudFormation fails the change set as empty.
    let mut v: serde_json::Value = serde_json::from_str(&v1().body).unwrap();
    v["Description"] = json!("efactl cluster");
    let desired = StackTemplate {
        body: v.to_string(),
        ..v1()
    };
    let prepared = Deployer::new(&fake, &clock)
        .prepare(&desired, &mut NoProgress)
        .unwrap();
    assert_eq!(prepared, Prepared::NoChanges);
    assert_eq!(
        fake.mutating_calls(),
        vec!["create_change_set", "delete_change_set"]
    );
}

#[test]
fn a_wait_past_its_deadline_says_how_to_resume() {
    let fake = FakeBackend::new();
    fake.script_create(STACK, vec![Step::new(S::CreateInProgress); 100]);
    let clock = FakeClock::new();
    let settings = WaitSettings {
        timeout: Duration::from_secs(60),
        ..WaitSettings::default()
    };
    let outcome = Deployer::new(&fake, &clock)
        .with_settings(settings)
        .create(&v1(), &mut NoProgress)
        .unwrap();
    let Outcome::TimedOut { resume, status, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(resume, "efactl status SampleStack --watch");
    assert_eq!(status.as_ref(), Some(&S::CreateInProgress));
    assert_eq!(clock.slept(), Duration::from_secs(60));
    assert!(outcome.message().contains("the operation goes on in AWS"));
}

#[test]
fn ctrl_c_during_a_wait_leaves_the_stack_going_and_says_how_to_resume() {
    let fake = FakeBackend::new();
    let clock = FakeClock::interrupted_at(0);
    let outcome = Deployer::new(&fake, &clock)
        .create(&v1(), &mut NoProgress)
        .unwrap();
    let Outcome::Interrupted { resume, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(resume, "efactl status SampleStack --watch");
    assert_eq!(fake.mutating_calls(), vec!["create_stack"]);
}

#[test]
fn throttled_polls_back_off_then_resume_the_normal_pace() {
    let fake = FakeBackend::new();
    let ev = |id: &str| {
        Step::new(S::CreateInProgress).event(id, "AWS::EC2::SecurityGroup", R::CreateComplete, None)
    };
    fake.script_create(
        STACK,
        vec![
            ev("A"),
            ev("B"),
            ev("C"),
            ev("D"),
            Step::new(S::CreateComplete).stack_event(None),
        ],
    );
    let throttled = CloudError::Throttled {
        action: "cloudformation:DescribeStackEvents".into(),
    };
    fake.fail("stack_events", throttled, 2);
    let clock = FakeClock::new();
    let mut lines = Lines::default();
    let outcome = Deployer::new(&fake, &clock)
        .with_settings(fast())
        .create(&v1(), &mut lines.progress())
        .unwrap();
    assert!(outcome.is_success(), "{outcome:?}");
    let secs: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, vec![10, 20, 5, 5], "{secs:?}");
    assert_eq!(lines.0.iter().filter(|l| l.starts_with("retry")).count(), 2);
    // No event was lost to the throttling.
    let events: Vec<&String> = lines.0.iter().filter(|l| l.starts_with("event")).collect();
    assert_eq!(events.len(), 6, "{events:#?}");
}

#[test]
fn a_final_status_waits_for_its_events() {
    // The status says ROLLBACK_COMPLETE while the events call is throttled: the failure
    // report needs the events, so the wait polls once more instead of reporting no cause.
    let fake = FakeBackend::new();
    fake.script_create(
        STACK,
        vec![Step::new(S::RollbackComplete).event(
            "ComputeAsg",
            "AWS::AutoScaling::AutoScalingGroup",
            R::CreateFailed,
            Some("Invalid value 'efa_only' for InterfaceType"),
        )],
    );
    fake.fail(
        "stack_events",
        CloudError::Throttled { action: "x".into() },
        1,
    );
    let clock = FakeClock::new();
    let outcome = Deployer::new(&fake, &clock)
        .create(&v1(), &mut NoProgress)
        .unwrap();
    let Outcome::Failed(f) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(f.causes.len(), 1);
    assert_eq!(f.causes[0].logical_id, "ComputeAsg");
}

#[test]
fn a_call_throttled_past_its_retries_is_an_error() {
    let fake = FakeBackend::new();
    fake.fail(
        "describe_stack",
        CloudError::Throttled {
            action: "cloudformation:DescribeStacks".into(),
        },
        100,
    );
    let clock = FakeClock::new();
    let err = Deployer::new(&fake, &clock)
        .prepare(&v1(), &mut NoProgress)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            DeployError::Cloud {
                source: CloudError::Throttled { .. },
                ..
            }
        ),
        "{err:?}"
    );
    let secs: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, vec![10, 20, 40, 60, 60, 60, 60, 60]);
    assert!(err.hint().unwrap().contains("rate-limiting"));
}

#[test]
fn an_error_mid_wait_says_the_operation_goes_on() {
    let fake = FakeBackend::new();
    let clock = FakeClock::new();
    let d = Deployer::new(&fake, &clock);
    fake.fail(
        "describe_stack",
        CloudError::ExpiredToken {
            detail: "ExpiredToken: The security token included in the request is expired".into(),
        },
        1,
    );
    let err = d.create(&v1(), &mut NoProgress).unwrap_err();
    let DeployError::Cloud { resume, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(resume.as_deref(), Some("efactl status SampleStack --watch"));
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("aws sso login") && hint.contains("goes on in AWS"),
        "{hint}"
    );
}

#[test]
fn update_rollback_failed_blocks_with_continue_update_rollback() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::UpdateRollbackFailed);
    let clock = FakeClock::new();
    let report = Deployer::new(&fake, &clock)
        .deploy(&v2(), &mut |_| panic!("blocked"), &mut NoProgress)
        .unwrap();
    let DeployReport::Blocked(b) = report else {
        panic!("{report:?}")
    };
    assert_eq!(b.status, S::UpdateRollbackFailed);
    assert!(
        b.advice
            .contains("aws cloudformation continue-update-rollback --stack-name SampleStack"),
        "{}",
        b.advice
    );
    assert!(b.advice.contains("--resources-to-skip"));
    assert!(fake.mutating_calls().is_empty());
    // The template is not even read: nothing can be done with it.
    assert_eq!(fake.calls(), vec!["describe_stack"]);
}

#[test]
fn every_unsettled_status_blocks_with_advice() {
    for status in S::ALL {
        let b = blocked(STACK, status);
        if status.is_updatable() || *status == S::DeleteComplete {
            assert!(b.is_none(), "{status}");
            continue;
        }
        let b = b.unwrap_or_else(|| panic!("{status} does not block"));
        assert!(b.reason.contains(status.as_str()), "{status}: {}", b.reason);
        assert!(b.advice.contains("SampleStack"), "{status}: {}", b.advice);
    }
    let b = blocked(STACK, &S::UpdateInProgress).unwrap();
    assert!(b.advice.contains("efactl status SampleStack --watch"));
    let b = blocked(STACK, &S::RollbackComplete).unwrap();
    assert!(b.advice.contains("efactl destroy SampleStack --yes"));
}

#[test]
fn a_rejected_change_set_is_explained() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::CreateComplete);
    fake.fail(
        "create_change_set",
        CloudError::Validation {
            action: "cloudformation:CreateChangeSet".into(),
            message: "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template".into(),
        },
        1,
    );
    let clock = FakeClock::new();
    let err = Deployer::new(&fake, &clock)
        .prepare(&v2(), &mut NoProgress)
        .unwrap_err();
    assert!(
        err.to_string().contains("Unresolved resource dependencies"),
        "{err}"
    );
}

#[test]
fn a_template_over_the_inline_limit_is_refused_before_any_call() {
    let fake = FakeBackend::new();
    let mut big = v1();
    big.body = format!(
        "{{\"Resources\": {{}}, \"Description\": \"{}\"}}",
        "x".repeat(TEMPLATE_BODY_LIMIT)
    );
    let clock = FakeClock::new();
    let err = Deployer::new(&fake, &clock)
        .prepare(&big, &mut NoProgress)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DeployError::TemplateTooLarge {
                limit: TEMPLATE_BODY_LIMIT,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.hint().unwrap().contains("--template-bucket"),
        "{:?}",
        err.hint()
    );
    assert!(fake.calls().is_empty());
}

/// `t` padded past the inline limit with a long description (resources unchanged).
fn large(mut t: StackTemplate, pad: usize) -> StackTemplate {
    let mut v: serde_json::Value = serde_json::from_str(&t.body).unwrap();
    v["Description"] = serde_json::Value::String("x".repeat(pad));
    t.body = v.to_string();
    t
}

#[test]
fn a_large_template_goes_through_the_template_bucket_and_only_when_sent() {
    let fake = FakeBackend::new();
    let clock = FakeClock::new();
    let deployer = Deployer::new(&fake, &clock)
        .with_settings(fast())
        .with_template_bucket(Some("my-templates".into()));
    let big = large(v1(), TEMPLATE_BODY_LIMIT);
    let report = deployer.deploy(&big, &mut yes, &mut NoProgress).unwrap();
    assert!(
        matches!(report, DeployReport::Created(ref o) if o.is_success()),
        "{report:?}"
    );
    assert_eq!(fake.mutating_calls(), vec!["put_template", "create_stack"]);
    let key = template_key(STACK, &big.body);
    assert!(
        key.starts_with("efactl/SampleStack/template-") && key.ends_with(".json"),
        "{key}"
    );
    let url = format!("https://s3.us-east-1.amazonaws.com/my-templates/{key}");
    assert_eq!(fake.object(&url).as_deref(), Some(big.body.as_str()));

    // Unchanged: no upload, no change.
    let before = fake.calls().len();
    let report = deployer
        .deploy(&big, &mut |_| panic!("nothing to confirm"), &mut NoProgress)
        .unwrap();
    assert_eq!(
        report,
        DeployReport::NoChanges {
            stack: STACK.into()
        }
    );
    assert!(
        !fake.calls()[before..].iter().any(|c| c == "put_template"),
        "{:?}",
        fake.calls()
    );

    // Changed: the new body is uploaded under its own key and the change set reads it.
    let bigger = large(v2(), TEMPLATE_BODY_LIMIT);
    let before = fake.calls().len();
    let report = deployer.deploy(&bigger, &mut yes, &mut NoProgress).unwrap();
    assert!(matches!(report, DeployReport::Updated { .. }), "{report:?}");
    let all = fake.calls();
    let calls: Vec<&String> = all[before..]
        .iter()
        .filter(|c| crate::cloud::fake::MUTATING.contains(&c.as_str()))
        .collect();
    assert_eq!(
        calls,
        vec!["put_template", "create_change_set", "execute_change_set"]
    );
    let key2 = template_key(STACK, &bigger.body);
    assert_ne!(key, key2);
    assert!(fake
        .object(&format!(
            "https://s3.us-east-1.amazonaws.com/my-templates/{key2}"
        ))
        .is_some());

    // Past CloudFormation's 1 MB limit for S3 templates: refused before any call.
    let fake = FakeBackend::new();
    let err = Deployer::new(&fake, &clock)
        .with_template_bucket(Some("my-templates".into()))
        .deploy(&large(v1(), TEMPLATE_URL_LIMIT), &mut yes, &mut NoProgress)
        .unwrap_err();
    assert!(
        matches!(
            err,
            DeployError::TemplateTooLarge {
                limit: TEMPLATE_URL_LIMIT,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("read from S3"), "{err}");
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[test]
fn destroy_refuses_without_confirmation_and_touches_nothing() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::CreateComplete);
    let clock = FakeClock::new();
    let err = Deployer::new(&fake, &clock)
        .destroy(STACK, false, &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "refusing to delete stack `SampleStack` and everything in it without confirmation: pass --yes"
    );
    assert!(fake.calls().is_empty());
}

#[test]
fn destroying_a_missing_stack_is_a_clear_message() {
    let fake = FakeBackend::new();
    let clock = FakeClock::new();
    let d = Deployer::new(&fake, &clock)
        .destroy("NoSuchStack", true, &mut NoProgress)
        .unwrap();
    assert_eq!(
        d.message(),
        "stack `NoSuchStack` does not exist in this account and region: nothing to delete"
    );
    assert!(fake.mutating_calls().is_empty());
}

#[test]
fn destroy_waits_for_delete_complete() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::CreateComplete);
    let clock = FakeClock::new();
    let mut lines = Lines::default();
    let d = Deployer::new(&fake, &clock)
        .destroy(STACK, true, &mut lines.progress())
        .unwrap();
    let Destroy::Waited(outcome) = &d else {
        panic!("{d:?}")
    };
    assert!(outcome.is_success(), "{outcome:?}");
    assert_eq!(d.message(), "stack `SampleStack` deleted (DELETE_COMPLETE)");
    assert_eq!(fake.mutating_calls(), vec!["delete_stack"]);
    // By name the stack is gone; a second destroy says so.
    let again = Deployer::new(&fake, &clock)
        .destroy(STACK, true, &mut NoProgress)
        .unwrap();
    assert!(matches!(again, Destroy::Missing { .. }));
    assert!(lines
        .0
        .iter()
        .any(|l| l == "event ComputeAsg DELETE_COMPLETE"));
}

#[test]
fn delete_failed_reports_the_resources_left() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::CreateComplete);
    let reason = "resource sg-903004f8 has a dependent object (Service: AmazonEC2; Status Code: 400; Error Code: DependencyViolation)";
    fake.script_delete(
        STACK,
        vec![
            Step::new(S::DeleteInProgress)
                .event(
                    "ComputeAsg",
                    "AWS::AutoScaling::AutoScalingGroup",
                    R::DeleteComplete,
                    None,
                )
                .event(
                    "EfaSecurityGroup",
                    "AWS::EC2::SecurityGroup",
                    R::DeleteFailed,
                    Some(reason),
                ),
            Step::new(S::DeleteFailed)
                .reason("The following resource(s) failed to delete: [EfaSecurityGroup].")
                .stack_event(Some(
                    "The following resource(s) failed to delete: [EfaSecurityGroup].",
                )),
        ],
    );
    let clock = FakeClock::new();
    let d = Deployer::new(&fake, &clock)
        .destroy(STACK, true, &mut NoProgress)
        .unwrap();
    let Destroy::Waited(Outcome::Failed(f)) = &d else {
        panic!("{d:?}")
    };
    assert_eq!(f.status, S::DeleteFailed);
    assert_eq!(f.causes.len(), 1);
    assert_eq!(f.causes[0].logical_id, "EfaSecurityGroup");
    assert!(d.message().contains("DependencyViolation"));
}

#[test]
fn destroy_mid_update_is_blocked() {
    let fake = FakeBackend::new();
    fake.put_stack(&v1(), S::UpdateInProgress);
    let clock = FakeClock::new();
    let d = Deployer::new(&fake, &clock)
        .destroy(STACK, true, &mut NoProgress)
        .unwrap();
    let Destroy::Blocked(b) = d else {
        panic!("{d:?}")
    };
    assert!(b.advice.contains("cancel-update-stack"));
    assert!(fake.mutating_calls().is_empty());
}

#[test]
fn watch_follows_an_operation_from_its_start() {
    let fake = FakeBackend::new();
    let clock = FakeClock::interrupted_at(0);
    // A creation the first command stopped watching.
    let first = Deployer::new(&fake, &clock)
        .create(&v1(), &mut NoProgress)
        .unwrap();
    assert!(matches!(first, Outcome::Interrupted { .. }));
    let clock = FakeClock::new();
    let mut lines = Lines::default();
    let outcome = Deployer::new(&fake, &clock)
        .watch(STACK, &mut lines.progress())
        .unwrap()
        .unwrap();
    assert!(outcome.is_success(), "{outcome:?}");
    assert_eq!(
        lines.0[0], "event SampleStack CREATE_IN_PROGRESS",
        "{:#?}",
        lines.0
    );
    assert!(Deployer::new(&fake, &clock)
        .watch("NoSuchStack", &mut NoProgress)
        .unwrap()
        .is_none());
}

#[test]
fn root_causes_skip_cascades_but_keep_them_when_nothing_else_failed() {
    let ev = |id: &str, status: R, reason: &str| crate::cloud::StackEvent {
        event_id: format!("{id}-{status}"),
        timestamp: crate::cloud::Timestamp(0),
        logical_id: id.into(),
        physical_id: None,
        resource_type: "AWS::EC2::Instance".into(),
        status,
        reason: Some(reason.into()),
    };
    let events = vec![
        ev("A", R::CreateFailed, "Resource creation cancelled"),
        ev("B", R::CreateFailed, "Resource creation cancelled"),
    ];
    assert_eq!(root_causes(&events, STACK).len(), 2);
    let mut events = events;
    events.push(ev(
        "C",
        R::CreateFailed,
        "Invalid value 'efa_only' for InterfaceType",
    ));
    let causes = root_causes(&events, STACK);
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].logical_id, "C");
}

/// The examples render to 10-23 KB of JSON; CloudFormation takes 51,200 bytes inline.
#[test]
fn every_example_fits_an_inline_template_body() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut sizes = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let catalog = crate::Catalog::bundled();
        let report = crate::check::check_spec("x.yaml", &text, catalog, &Default::default());
        let cluster = report.cluster.unwrap();
        let Ok(t) = crate::render::cfn::template(&cluster, catalog) else {
            continue;
        };
        let st = cluster_stack(&cluster, catalog).unwrap();
        assert_eq!(st.tags.get("efactl:cluster"), Some(&cluster.name));
        let iam = t["Resources"]
            .as_object()
            .unwrap()
            .values()
            .any(|r| r["Type"].as_str().unwrap_or("").starts_with("AWS::IAM::"));
        assert_eq!(!st.capabilities.is_empty(), iam, "{}", path.display());
        sizes.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            st.body.len(),
        ));
    }
    assert!(sizes.len() >= 4, "{sizes:?}");
    for (name, size) in &sizes {
        assert!(
            *size <= TEMPLATE_BODY_LIMIT,
            "{name}: {size} bytes: {sizes:?}"
        );
    }
}
