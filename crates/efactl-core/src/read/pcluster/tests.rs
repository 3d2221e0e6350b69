use crate::check::check_file;
use crate::rules::Options;
use crate::Catalog;

fn findings(text: &str) -> Vec<(String, String, String)> {
    let r = check_file(
        "cluster-config.yaml",
        text,
        Catalog::bundled(),
        &Options::default(),
    );
    r.findings
        .iter()
        .map(|f| {
            (
                f.rule.clone(),
                f.subject.path.clone().unwrap_or_default(),
                f.help.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn rules(text: &str) -> Vec<String> {
    findings(text)
        .into_iter()
        .map(|(r, _, _)| r)
        .filter(|r| r != "SPEC013")
        .collect()
}

const BASE: &str = "Region: us-east-1
Image:
  Os: alinux2
HeadNode:
  InstanceType: c5.2xlarge
  Networking:
    SubnetId: subnet-0head
  Ssh:
    KeyName: mykey
    AllowedIps: 10.0.0.0/16
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: gpu
      Networking:
        SubnetIds:
          - subnet-0compute
        PlacementGroup:
          Enabled: true
      ComputeResources:
        - Name: p5
          InstanceType: p5.48xlarge
          MinCount: 0
          MaxCount: 4
          Efa:
            Enabled: true
";

#[test]
fn a_sound_efa_queue_has_no_findings_but_notes_what_it_names() {
    assert_eq!(rules(BASE), Vec::<String>::new());
    let notes: Vec<_> = findings(BASE)
        .into_iter()
        .filter(|f| f.0 == "SPEC013")
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].1, "HeadNode.Networking.SubnetId");
}

#[test]
fn the_model_has_thirty_two_efas_and_parallelclusters_groups() {
    let r = check_file("c.yaml", BASE, Catalog::bundled(), &Options::default());
    let c = r.cluster.unwrap();
    let p5 = c.node_groups.iter().find(|n| n.name == "gpu/p5").unwrap();
    assert_eq!(p5.efa_count(), 32);
    assert_eq!(p5.max_count, 4);
    assert_eq!(p5.security_groups, vec!["ComputeSecurityGroup".to_string()]);
    assert!(p5.placement_group.is_some());
    let head = c.node_groups.iter().find(|n| n.name == "HeadNode").unwrap();
    assert_eq!(
        head.security_groups,
        vec!["HeadNodeSecurityGroup".to_string()]
    );
}

#[test]
fn an_efa_queue_without_placement_group_is_told_in_the_configs_terms() {
    let text = BASE.replace("        PlacementGroup:\n          Enabled: true\n", "");
    let f = findings(&text);
    let pg = f.iter().find(|f| f.0 == "EFA011").expect("EFA011");
    assert_eq!(pg.1, "Scheduling.SlurmQueues[0].Networking");
    assert!(pg.2.contains("PlacementGroup"), "{}", pg.2);
    assert!(!pg.2.contains("placementGroup: none"), "{}", pg.2);
}

#[test]
fn the_default_ssh_rule_of_the_head_node_is_open_to_the_world() {
    let text = BASE.replace("    AllowedIps: 10.0.0.0/16\n", "");
    let f = findings(&text);
    let ssh = f.iter().find(|f| f.0 == "EFA005").expect("EFA005");
    assert_eq!(ssh.1, "HeadNode.Ssh");
    assert!(ssh.2.contains("AllowedIps"), "{}", ssh.2);
}

#[test]
fn efa_on_a_type_without_it_is_an_error_at_efa_enabled() {
    let text = BASE.replace("p5.48xlarge", "t3.large");
    let f = findings(&text);
    let e = f.iter().find(|f| f.0 == "EFA006").expect("EFA006");
    assert_eq!(
        e.1,
        "Scheduling.SlurmQueues[0].ComputeResources[0].InstanceType"
    );
    assert!(
        e.2.contains("`Efa.Enabled: false` on compute resource `p5` of queue `gpu`"),
        "{}",
        e.2
    );
}

#[test]
fn groups_the_config_only_names_are_not_judged() {
    let text = BASE.replace(
        "        PlacementGroup:\n",
        "        SecurityGroups:\n          - sg-0abc\n        PlacementGroup:\n",
    );
    let f = findings(&text);
    assert!(!f.iter().any(|f| f.0.starts_with("EFA00")), "{f:?}");
    assert!(
        f.iter()
            .any(|f| f.0 == "SPEC013"
                && f.1 == "Scheduling.SlurmQueues[0].Networking.SecurityGroups[0]"),
        "{f:?}"
    );
}

#[test]
fn placeholders_are_unknown_not_guessed() {
    let text = BASE
        .replace("p5.48xlarge", "${INSTANCE_TYPE}")
        .replace("subnet-0compute", "${SUBNET}");
    let f = findings(&text);
    assert_eq!(rules(&text), Vec::<String>::new());
    assert!(
        f.iter()
            .any(|f| f.0 == "SPEC013" && f.1.ends_with("ComputeResources[0].InstanceType")),
        "{f:?}"
    );
}

#[test]
fn an_efa_queue_over_two_subnets_is_an_error() {
    let text = BASE.replace(
        "          - subnet-0compute\n",
        "          - subnet-0compute\n          - subnet-0other\n",
    );
    let f = findings(&text);
    let e = f.iter().find(|f| f.0 == "EFA015").expect("EFA015");
    assert_eq!(e.1, "Scheduling.SlurmQueues[0].Networking.SubnetIds");
}
