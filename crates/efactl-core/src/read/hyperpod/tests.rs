use super::provisioning::{CONFIG_NAME, FILE_NAME};
use crate::check::CheckReport;
use crate::model::{Capacity, NodeRole, Scheduler, Target};
use crate::read::{check_source, read_file_with};
use crate::rules::Options;
use crate::Catalog;
use std::collections::HashMap;

const CONFIG: &str = r#"{
  "ClusterName": "ml-cluster",
  "InstanceGroups": [
    {
      "InstanceGroupName": "controller-machine",
      "InstanceType": "ml.m5.12xlarge",
      "InstanceCount": 1,
      "LifeCycleConfig": {"SourceS3Uri": "s3://b/src", "OnCreate": "on_create.sh"},
      "ExecutionRole": "arn:aws:iam::111122223333:role/r"
    },
    {
      "InstanceGroupName": "worker-group-1",
      "InstanceType": "ml.p5.48xlarge",
      "InstanceCount": 4,
      "LifeCycleConfig": {"SourceS3Uri": "s3://b/src", "OnCreate": "on_create.sh"},
      "ExecutionRole": "arn:aws:iam::111122223333:role/r"
    }
  ],
  "VpcConfig": {
    "SecurityGroupIds": ["sg-0123456789abcdef0"],
    "Subnets": ["subnet-0123456789abcdef0"]
  }
}
"#;

const PARAMS: &str = r#"{
  "version": "1.0.0",
  "workload_manager": "slurm",
  "controller_group": "controller-machine",
  "login_group": "my-login-group",
  "worker_groups": [
    {"instance_group_name": "worker-group-1", "partition_name": "dev"}
  ]
}
"#;

fn check_beside(file: &str, text: &str, beside: &[(&str, &str)]) -> CheckReport {
    let beside: HashMap<String, String> = beside
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let look = |name: &str| beside.get(name).cloned();
    let read = read_file_with(file, text, Catalog::bundled(), &HashMap::new(), &look);
    check_source(read, Catalog::bundled(), &Options::default())
}

fn rules_of(r: &CheckReport) -> Vec<(String, String)> {
    r.findings
        .iter()
        .map(|f| (f.rule.clone(), f.subject.path.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn a_create_cluster_request_reads_every_group_with_the_efa_its_type_has() {
    let r = check_beside(CONFIG_NAME, CONFIG, &[]);
    let c = r.cluster.as_ref().unwrap();
    assert_eq!(c.target, Target::HyperPod);
    assert_eq!(c.scheduler, Scheduler::Slurm);
    assert_eq!(c.name, "ml-cluster");
    assert_eq!(c.node_groups.len(), 2);
    let w = &c.node_groups[1];
    assert_eq!(w.name, "worker-group-1");
    assert_eq!(w.instance_types, vec!["p5.48xlarge".to_string()]);
    assert_eq!(w.count, 4);
    // p5.48xlarge has 32 network cards, each with an EFA.
    assert_eq!(w.efa_count(), 32);
    assert_eq!(c.node_groups[0].efa_count(), 0);
    assert_eq!(w.subnets, vec!["subnet-0123456789abcdef0".to_string()]);
    // Without provisioning parameters every group is a compute group.
    assert!(c.node_groups.iter().all(|g| g.role == NodeRole::Compute));
    // Existing ids: one note per kind, no rule finding, and no placement-group warning
    // (the request has no placement setting).
    let rules = rules_of(&r);
    assert_eq!(
        rules,
        vec![
            (
                "SPEC013".to_string(),
                "VpcConfig.SecurityGroupIds[0]".to_string()
            ),
            ("SPEC013".to_string(), "VpcConfig.Subnets[0]".to_string()),
        ],
        "{:#?}",
        r.findings
    );
    let loc = r.findings[0].subject.location.as_ref().unwrap();
    assert_eq!(loc.start.line, 20);
}

#[test]
fn provisioning_parameters_beside_give_the_roles() {
    let r = check_beside(CONFIG_NAME, CONFIG, &[(FILE_NAME, PARAMS)]);
    let c = r.cluster.as_ref().unwrap();
    assert_eq!(c.node_groups[0].role, NodeRole::Head);
    assert_eq!(c.node_groups[1].role, NodeRole::Compute);
}

#[test]
fn provisioning_parameters_are_checked_against_the_config_beside() {
    // The AWS sample's default login group is a note; a worker group the config lacks is an
    // error located at its name.
    let params = PARAMS.replace(
        "\"worker-group-1\", \"partition_name\"",
        "\"workers\", \"partition_name\"",
    );
    let r = check_beside(FILE_NAME, &params, &[(CONFIG_NAME, CONFIG)]);
    assert!(r.cluster.is_none());
    let got: Vec<(String, String, String)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.clone(),
                format!("{:?}", f.severity),
                f.subject.path.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "SPEC010".to_string(),
                "Error".to_string(),
                "worker_groups[0].instance_group_name".to_string()
            ),
            (
                "SPEC010".to_string(),
                "Info".to_string(),
                "login_group".to_string()
            ),
        ],
        "{:#?}",
        r.findings
    );
    let err = &r.findings[0];
    assert!(err.message.contains("`workers`"), "{}", err.message);
    assert!(
        err.help
            .as_deref()
            .unwrap()
            .contains("`controller-machine`, `worker-group-1`"),
        "{:?}",
        err.help
    );
    assert_eq!(err.subject.location.as_ref().unwrap().start.line, 7);
    // Alone, the file says what it could not check.
    let alone = check_beside(FILE_NAME, PARAMS, &[]);
    assert_eq!(
        rules_of(&alone),
        vec![("SPEC013".to_string(), String::new())]
    );
}

#[test]
fn placeholders_and_unknown_types_are_not_judged() {
    let text = CONFIG
        .replace("ml.p5.48xlarge", "${ACCEL_INSTANCE_TYPE}")
        .replace("sg-0123456789abcdef0", "$SECURITY_GROUP");
    let r = check_beside(CONFIG_NAME, &text, &[]);
    let c = r.cluster.as_ref().unwrap();
    assert_eq!(
        c.node_groups.len(),
        1,
        "the group of unknown type is not guessed"
    );
    let msgs: Vec<&str> = r.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("`${ACCEL_INSTANCE_TYPE}` is filled in")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains("`$SECURITY_GROUP`")),
        "{msgs:#?}"
    );
    assert!(r
        .findings
        .iter()
        .all(|f| f.severity == crate::Severity::Info));
}

#[test]
fn fragments_training_plans_and_eks_are_read() {
    let groups = r#"[{"InstanceGroupName": "g", "InstanceType": "ml.p4de.24xlarge", "InstanceCount": 4,
      "TrainingPlanArn": "arn:aws:sagemaker:us-west-2:111122223333:training-plan/tp"}]"#;
    let r = check_beside("instance-groups.json", groups, &[]);
    let c = r.cluster.as_ref().unwrap();
    assert_eq!(c.node_groups[0].efa_count(), 4);
    assert!(matches!(
        c.node_groups[0].capacity,
        Capacity::CapacityBlock { .. }
    ));
    assert!(r.findings.is_empty(), "{:#?}", r.findings);

    let vpc = r#"{"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1", "subnet-2"]}"#;
    let r = check_beside("vpc-config.json", vpc, &[]);
    assert!(r.cluster.as_ref().unwrap().node_groups.is_empty());
    assert_eq!(
        rules_of(&r),
        vec![
            ("SPEC013".to_string(), "SecurityGroupIds[0]".to_string()),
            ("SPEC013".to_string(), "Subnets[0]".to_string()),
        ]
    );

    let eks = CONFIG.replace(
        "\"InstanceGroups\"",
        "\"Orchestrator\": {\"Eks\": {\"ClusterArn\": \"arn:aws:eks:us-east-2:111122223333:cluster/c\"}},\n  \"InstanceGroups\"",
    );
    let r = check_beside(CONFIG_NAME, &eks, &[]);
    let c = r.cluster.as_ref().unwrap();
    assert_eq!(c.scheduler, Scheduler::Kubernetes);
    assert_eq!(c.region, "us-east-2");
}

#[test]
fn missing_and_duplicate_names_are_input_errors() {
    let text = CONFIG.replace("worker-group-1", "controller-machine");
    let r = check_beside(CONFIG_NAME, &text, &[]);
    let dup: Vec<&crate::Finding> = r.findings.iter().filter(|f| f.rule == "SPEC009").collect();
    assert_eq!(dup.len(), 1, "{:#?}", r.findings);
    assert_eq!(
        dup[0].subject.path.as_deref(),
        Some("InstanceGroups[1].InstanceGroupName")
    );
    let text = CONFIG.replace("\"InstanceType\": \"ml.p5.48xlarge\",", "");
    let r = check_beside(CONFIG_NAME, &text, &[]);
    assert!(r.findings.iter().any(
        |f| f.rule == "SPEC004" && f.message.contains("`worker-group-1` has no `InstanceType`")
    ));
}
