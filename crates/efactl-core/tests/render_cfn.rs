//! The `cfn` target: a snapshot of every example's template, cfn-lint over all of them, the
//! checks cfn-lint lacks (interface types, one EFA per card, the layout equal to the model's,
//! no ingress from anywhere, IAM naming the exact secret), and the round trip through the
//! CloudFormation reader: every rendered template checks clean with the same rules, and a
//! template with its EFA self egress removed does not.

mod common;

use common::{examples, model_of, model_of_text, require_tool};
use efactl_core::cfn_read::{read_template, to_json};
use efactl_core::check::{check_file, check_template};
use efactl_core::model::{Cluster, InterfaceType, Peer};
use efactl_core::render::cfn::{self, LINT_ALLOWED};
use efactl_core::render::{render, RenderOptions, RenderTarget};
use efactl_core::rules::Options;
use efactl_core::Catalog;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

fn yaml_of(c: &Cluster) -> String {
    let a = render(
        c,
        Catalog::bundled(),
        RenderTarget::Cfn,
        &RenderOptions::default(),
    )
    .unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].path, cfn::TEMPLATE_YAML);
    a[0].contents.clone()
}

fn json_of(c: &Cluster) -> String {
    let a = render(
        c,
        Catalog::bundled(),
        RenderTarget::Cfn,
        &RenderOptions { json: true },
    )
    .unwrap();
    assert_eq!(a[0].path, cfn::TEMPLATE_JSON);
    a[0].contents.clone()
}

/// Every example, and the fixture that exercises what they do not: (stem, model, template as
/// JSON value, YAML text).
fn rendered() -> Vec<(String, Cluster, Value, String)> {
    let mut specs = examples();
    specs.push((
        "variety".into(),
        common::workspace().join("crates/efactl-core/tests/fixtures/cfn/variety.yaml"),
    ));
    specs
        .into_iter()
        .map(|(stem, path)| {
            let c = model_of(&path);
            let yaml = yaml_of(&c);
            let t = cfn::template(&c, Catalog::bundled()).unwrap();
            (stem, c, t, yaml)
        })
        .collect()
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().unwrap()
}

fn of_type<'t>(t: &'t Value, kind: &str) -> Vec<(&'t String, &'t Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// The YAML with each launch template's user data replaced by a marker: the bootstrap script
/// has snapshots of its own, and `user_data_is_the_bootstrap` checks that it is embedded whole.
fn without_user_data(t: &Value) -> String {
    let mut t = t.clone();
    for (id, r) in t["Resources"].as_object_mut().unwrap() {
        if let Some(ud) = r.pointer_mut("/Properties/LaunchTemplateData/UserData") {
            let how = if ud.is_string() {
                "gzip, base64"
            } else {
                "Fn::Base64"
            };
            *ud = Value::from(format!(
                "<the bootstrap script of {id} ({how}): see the bootstrap snapshots>"
            ));
        }
    }
    efactl_core::render::yaml_out::to_yaml(&t)
}

#[test]
fn snapshots_of_every_example() {
    for (stem, _, t, yaml) in rendered() {
        // The file's comment header, then the template.
        let header: String = yaml
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        insta::assert_snapshot!(format!("cfn_{stem}"), header + &without_user_data(&t));
    }
}

#[test]
fn user_data_is_the_bootstrap_within_ec2s_limit() {
    for (stem, c, t, _) in rendered() {
        for ng in &c.node_groups {
            let id = format!("{}LaunchTemplate", cfn::logical_id(&ng.name));
            let Some(lt) = resources(&t).get(&id) else {
                continue;
            };
            let (script, size) =
                cfn::user_data_script(&lt["Properties"]["LaunchTemplateData"]["UserData"])
                    .unwrap_or_else(|| panic!("{stem}/{id}: user data not understood"));
            assert!(
                size <= cfn::USER_DATA_LIMIT,
                "{stem}/{id}: {size} bytes of user data"
            );
            let want = efactl_core::render::bootstrap::script(&c, Catalog::bundled(), ng);
            assert_eq!(script, want, "{stem}/{id}");
        }
    }
}

#[test]
fn yaml_and_json_say_the_same() {
    for (stem, c, t, yaml) in rendered() {
        let from_yaml = to_json(&efactl_core::yaml::parse(&yaml).unwrap().unwrap());
        let from_json: Value = serde_json::from_str(&json_of(&c)).unwrap();
        assert_eq!(
            from_yaml, t,
            "{stem}: the YAML does not read back as the template"
        );
        assert_eq!(from_json, t, "{stem}: the JSON differs from the YAML");
    }
}

#[test]
fn rendering_is_deterministic() {
    for (stem, c, _, yaml) in rendered() {
        assert_eq!(yaml_of(&c), yaml, "{stem}");
    }
}

#[test]
fn cfn_lint_passes_every_example() {
    let Some(lint) = require_tool("cfn-lint", "lint the rendered CloudFormation templates") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("efactl-cfn-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One cfn-lint run per region, with the region the cluster is in.
    let mut by_region: BTreeMap<String, Vec<(String, std::path::PathBuf)>> = BTreeMap::new();
    for (stem, c, _, yaml) in rendered() {
        let p = dir.join(format!("{stem}.yaml"));
        std::fs::write(&p, &yaml).unwrap();
        by_region
            .entry(c.region.clone())
            .or_default()
            .push((stem, p));
    }
    let mut problems = Vec::new();
    let mut allowed = Vec::new();
    for (region, files) in &by_region {
        let out = Command::new(&lint)
            .arg("--format")
            .arg("json")
            .args(files.iter().map(|(_, p)| p))
            .arg("--regions")
            .arg(region)
            .output()
            .expect("run cfn-lint");
        // Exit code bits: 2 errors, 4 warnings, 8 informational; anything else is a crash.
        let code = out.status.code().unwrap_or(-1);
        assert!(
            (0..16).contains(&code) && code & 1 == 0,
            "cfn-lint failed ({code}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let found: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "cfn-lint's JSON: {e}\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        for f in found {
            let rule = f["Rule"]["Id"].as_str().unwrap_or("?").to_string();
            let message = f["Message"].as_str().unwrap_or("").to_string();
            let at = format!(
                "{}:{} {rule} {}",
                f["Filename"].as_str().unwrap_or("?"),
                f["Location"]["Start"]["LineNumber"],
                message.chars().take(200).collect::<String>()
            );
            if LINT_ALLOWED.iter().any(|a| a.covers(&rule, &message)) {
                allowed.push(at);
            } else {
                problems.push(at);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    for a in &allowed {
        eprintln!("allowed (see cfn::LINT_ALLOWED): {a}");
    }
    assert!(
        problems.is_empty(),
        "cfn-lint findings outside the allow-list:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_lint_allowance_for_instance_types_is_narrow() {
    let e3628 = LINT_ALLOWED.iter().find(|a| a.rule == "E3628").unwrap();
    assert!(e3628.covers(
        "E3628",
        "'trn2.48xlarge' is not one of ['a1.2xlarge'] in 'us-east-1'"
    ));
    assert!(e3628.covers("E3628", "'p5e.48xlarge' is not one of [] in 'us-east-1'"));
    assert!(!e3628.covers("E3628", "'p5.48xlarge' is not one of [] in 'us-east-1'"));
    assert!(!e3628.covers("E3012", "'trn2.48xlarge' is not one of []"));
    assert!(LINT_ALLOWED.iter().all(|a| !a.reason.is_empty()));
}

#[test]
fn interface_layout_is_the_models_with_valid_types_and_one_efa_per_card() {
    let mut seen = 0;
    for (stem, c, t, _) in rendered() {
        for (id, lt) in of_type(&t, "AWS::EC2::LaunchTemplate") {
            let ng = c
                .node_groups
                .iter()
                .find(|ng| *id == format!("{}LaunchTemplate", cfn::logical_id(&ng.name)))
                .unwrap_or_else(|| panic!("{stem}: {id} has no node group"));
            let nics = lt["Properties"]["LaunchTemplateData"]["NetworkInterfaces"]
                .as_array()
                .unwrap();
            let mut efa_cards = Vec::new();
            let layout: Vec<(u64, u64, &str)> = nics
                .iter()
                .map(|n| {
                    let kind = n["InterfaceType"].as_str().unwrap();
                    assert!(
                        ["efa", "efa-only", "interface"].contains(&kind),
                        "{stem}/{id}: InterfaceType {kind}"
                    );
                    let card = n["NetworkCardIndex"].as_u64().unwrap();
                    if kind != "interface" {
                        assert!(
                            !efa_cards.contains(&card),
                            "{stem}/{id}: two EFAs on card {card}"
                        );
                        efa_cards.push(card);
                    }
                    assert!(
                        n["Groups"].as_array().is_some_and(|g| !g.is_empty()),
                        "{stem}/{id}: an interface without security groups"
                    );
                    (card, n["DeviceIndex"].as_u64().unwrap(), kind)
                })
                .collect();
            let want: Vec<(u64, u64, &str)> = ng
                .interfaces
                .iter()
                .map(|n| {
                    (
                        u64::from(n.network_card),
                        u64::from(n.device_index),
                        n.kind.name(),
                    )
                })
                .collect();
            assert_eq!(layout, want, "{stem}/{id}");
            // Public IPs only on single-interface nodes.
            if nics.len() > 1 {
                assert!(nics
                    .iter()
                    .all(|n| n.get("AssociatePublicIpAddress").is_none()));
            }
            let data = &lt["Properties"]["LaunchTemplateData"];
            assert_eq!(
                data["MetadataOptions"]["HttpTokens"], "required",
                "{stem}/{id}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 3, "launch templates in the examples: {seen}");
}

#[test]
fn no_ingress_from_anywhere_in_any_example() {
    for (stem, _, t, _) in rendered() {
        let mut rules: Vec<&Value> = of_type(&t, "AWS::EC2::SecurityGroupIngress")
            .into_iter()
            .map(|(_, r)| &r["Properties"])
            .collect();
        for (_, sg) in of_type(&t, "AWS::EC2::SecurityGroup") {
            if let Some(inline) = sg["Properties"]["SecurityGroupIngress"].as_array() {
                rules.extend(inline);
            }
        }
        for r in rules {
            for k in ["CidrIp", "CidrIpv6"] {
                let v = r[k].as_str().unwrap_or("");
                assert!(!v.ends_with("/0"), "{stem}: ingress from {v}: {r}");
            }
        }
    }
}

#[test]
fn world_ingress_is_refused() {
    let spec = "apiVersion: efactl.dev/v1alpha1\nname: c\nregion: us-east-1\navailabilityZone: us-east-1a\nnetwork:\n  subnets:\n    - { name: s, cidr: 10.0.0.0/20, internet: public }\nsecurityGroups:\n  - name: efa\n    selfReferencing: true\n    ingress:\n      - { protocol: tcp, ports: 22, cidr: 0.0.0.0/0 }\nnodeGroups:\n  - { name: g, instanceType: c5n.18xlarge, count: 2, securityGroups: [efa] }\n";
    let c = model_of_text("c.yaml", spec);
    let e = cfn::template(&c, Catalog::bundled()).unwrap_err();
    assert!(e.to_string().contains("0.0.0.0/0"), "{e}");
}

#[test]
fn every_resource_says_why_and_ids_are_alphanumeric() {
    for (stem, _, t, _) in rendered() {
        for (id, r) in resources(&t) {
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric()) && id.len() <= 255,
                "{stem}: logical id {id}"
            );
            let p = &r["Properties"];
            let says = r["Metadata"]["Comment"].is_string()
                || p["Description"].is_string()
                || p["GroupDescription"].is_string()
                || p["VersionDescription"].is_string();
            assert!(says, "{stem}: {id} does not say why it exists");
        }
    }
}

/// Upgrading efactl must not change any resource: the version is template Metadata only.
#[test]
fn the_efactl_version_changes_no_resource() {
    let marker = format!("\"{}\"", efactl_core::VERSION);
    for (stem, c, t, _) in rendered() {
        assert_eq!(
            t["Metadata"]["efactl"]["version"],
            Value::from(efactl_core::VERSION),
            "{stem}"
        );
        assert_eq!(
            t["Metadata"]["efactl"]["cluster"],
            Value::from(c.name.clone()),
            "{stem}"
        );
        let resources = serde_json::to_string(&t["Resources"]).unwrap();
        assert!(
            !resources.contains(&marker),
            "{stem}: a resource carries the efactl version {marker}"
        );
    }
}

#[test]
fn tags_on_everything_taggable() {
    // Types whose `Tags` property is a list of Key/Value (and the launch template's own).
    let taggable = [
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::RouteTable",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::VPCEndpoint",
        "AWS::EC2::PlacementGroup",
        "AWS::SecretsManager::Secret",
        "AWS::IAM::Role",
        "AWS::FSx::FileSystem",
        "AWS::AutoScaling::AutoScalingGroup",
    ];
    for (stem, c, t, _) in rendered() {
        for (id, r) in resources(&t) {
            let kind = r["Type"].as_str().unwrap();
            let tags: Vec<&Value> = if kind == "AWS::EC2::LaunchTemplate" {
                let mut v = vec![&r["Properties"]["TagSpecifications"][0]["Tags"]];
                for spec in r["Properties"]["LaunchTemplateData"]["TagSpecifications"]
                    .as_array()
                    .unwrap()
                {
                    v.push(&spec["Tags"]);
                }
                v
            } else if taggable.contains(&kind) {
                vec![&r["Properties"]["Tags"]]
            } else {
                continue;
            };
            for list in tags {
                let get = |k: &str| {
                    list.as_array()
                        .unwrap_or_else(|| panic!("{stem}: {id} has no tags"))
                        .iter()
                        .find(|t| t["Key"] == k)
                        .map(|t| t["Value"].clone())
                };
                assert_eq!(
                    get("efactl:cluster"),
                    Some(Value::from(c.name.clone())),
                    "{stem}: {id}"
                );
                // The version lives in the template's Metadata only (see below).
                assert_eq!(get("efactl:version"), None, "{stem}: {id}");
                for (k, v) in &c.tags {
                    assert_eq!(
                        get(k),
                        Some(Value::from(v.clone())),
                        "{stem}: {id} lacks tag {k}"
                    );
                }
            }
        }
    }
}

#[test]
fn iam_reads_the_exact_secret_only() {
    let mut checked = 0;
    for (stem, _, t, _) in rendered() {
        for (id, role) in of_type(&t, "AWS::IAM::Role") {
            let policies = role["Properties"]["Policies"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for p in policies {
                for st in p["PolicyDocument"]["Statement"].as_array().unwrap() {
                    let actions = st["Action"].as_array().unwrap();
                    if !actions
                        .iter()
                        .any(|a| a.as_str().unwrap().starts_with("secretsmanager:"))
                    {
                        continue;
                    }
                    assert_eq!(
                        st["Resource"],
                        serde_json::json!([{ "Ref": cfn::MPI_SECRET_ID }]),
                        "{stem}: {id}"
                    );
                    checked += 1;
                }
            }
        }
        // The secret holds no key: only the recognisable placeholder.
        for (_, s) in of_type(&t, "AWS::SecretsManager::Secret") {
            let v: Value =
                serde_json::from_str(s["Properties"]["SecretString"].as_str().unwrap()).unwrap();
            assert_eq!(v[cfn::PRIVATE_KEY_FIELD], "", "{stem}");
            assert!(v["efactl"].as_str().unwrap().contains("efactl keys create"));
        }
    }
    assert!(checked >= 2, "secret-reading statements checked: {checked}");
}

#[test]
fn kms_key_adds_decrypt_through_secrets_manager_only() {
    let spec = "apiVersion: efactl.dev/v1alpha1\nname: c\nregion: us-east-1\navailabilityZone: us-east-1a\nnetwork:\n  subnets:\n    - { name: s, cidr: 10.0.0.0/20, internet: nat }\nsecurityGroups:\n  - { name: efa, selfReferencing: true }\nnodeGroups:\n  - { name: g, instanceType: c5n.18xlarge, count: 2, securityGroups: [efa] }\nmpi:\n  sshKeySecret: { name: k, kmsKey: alias/mine }\n";
    let c = model_of_text("c.yaml", spec);
    let t = cfn::template(&c, Catalog::bundled()).unwrap();
    let secret = &resources(&t)[cfn::MPI_SECRET_ID]["Properties"];
    assert_eq!(secret["KmsKeyId"], "alias/mine");
    let st = &resources(&t)["NodeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    let kms = st
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Action"][0] == "kms:Decrypt")
        .expect("a kms:Decrypt statement");
    assert_eq!(
        kms["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
        "alias/mine"
    );
    assert!(kms["Condition"]["StringEquals"]["kms:ViaService"].is_object());
}

#[test]
fn default_egress_is_removed_exactly_when_the_model_has_none() {
    // `egress` given without the world rule: the template must drop AWS's default egress, which
    // CloudFormation does only for inline egress; the self rule stays a separate resource.
    let spec = "apiVersion: efactl.dev/v1alpha1\nname: c\nregion: us-east-1\navailabilityZone: us-east-1a\nnetwork:\n  subnets:\n    - { name: s, cidr: 10.0.0.0/20, internet: nat }\n  endpoints:\n    - service: s3\nsecurityGroups:\n  - name: efa\n    selfReferencing: true\n    egress:\n      - { protocol: tcp, ports: 443, cidr: 10.0.0.0/16 }\n  - name: open\n    selfReferencing: true\nnodeGroups:\n  - { name: g, instanceType: c5n.18xlarge, count: 2, securityGroups: [efa, open] }\n";
    let c = model_of_text("c.yaml", spec);
    let t = cfn::template(&c, Catalog::bundled()).unwrap();
    let r = resources(&t);
    let inline = &r["EfaSecurityGroup"]["Properties"]["SecurityGroupEgress"];
    assert_eq!(inline.as_array().unwrap().len(), 1, "{inline}");
    assert_eq!(inline[0]["CidrIp"], "127.0.0.1/32");
    assert_eq!(
        r["EfaSecurityGroupEgressSelf"]["Properties"]["DestinationSecurityGroupId"],
        serde_json::json!({ "Ref": "EfaSecurityGroup" })
    );
    assert!(r["EfaSecurityGroupEgressCidr1Tcp443"].is_object());
    // The group that keeps the default gets no inline egress, and no copy of the default.
    assert!(r["OpenSecurityGroup"]["Properties"]
        .get("SecurityGroupEgress")
        .is_none());
    assert!(!r
        .keys()
        .any(|k| k.starts_with("OpenSecurityGroupEgressCidr")));

    // Read back, the groups have exactly the model's egress (plus the harmless localhost rule).
    let yaml = yaml_of(&c);
    let read = read_template("t.yaml", &yaml);
    let m = read.cluster.unwrap();
    let world = |k: &str| {
        m.security_group(k)
            .unwrap()
            .egress
            .iter()
            .any(|r| matches!(&r.peer, Peer::Cidr(c) if c.is_world()))
    };
    assert!(!world("EfaSecurityGroup"));
    assert!(world("OpenSecurityGroup"));
    let efa = m.security_group("EfaSecurityGroup").unwrap();
    assert!(efa
        .egress
        .iter()
        .any(|r| r.is_all_traffic() && r.peer == Peer::Group("EfaSecurityGroup".into())));
    // The endpoint group admits HTTPS from the nodes and sends nothing anywhere.
    let e = model_of(&common::workspace().join("examples/p5-slurm-private.yaml"));
    let t = cfn::template(&e, Catalog::bundled()).unwrap();
    let ep = &resources(&t)["EfactlEndpointsSecurityGroup"]["Properties"]["SecurityGroupEgress"];
    assert_eq!(ep[0]["CidrIp"], "127.0.0.1/32");
}

#[test]
fn nat_without_a_public_subnet_gets_a_small_one_and_says_so() {
    let c = model_of(&common::workspace().join("examples/c5n-mpi.yaml"));
    let t = cfn::template(&c, Catalog::bundled()).unwrap();
    let r = resources(&t);
    let nat_subnet = &r["NatPublicSubnet"];
    assert!(nat_subnet["Metadata"]["Comment"]
        .as_str()
        .unwrap()
        .contains("no public subnet"));
    assert_eq!(nat_subnet["Properties"]["CidrBlock"], "10.3.255.240/28");
    assert_eq!(
        r["NatGateway"]["Properties"]["SubnetId"],
        serde_json::json!({ "Ref": "NatPublicSubnet" })
    );
}

#[test]
fn names_that_sanitize_alike_get_distinct_ids() {
    let spec = "apiVersion: efactl.dev/v1alpha1\nname: c\nregion: us-east-1\navailabilityZone: us-east-1a\nnetwork:\n  subnets:\n    - { name: s, cidr: 10.0.0.0/20, internet: nat }\nsecurityGroups:\n  - { name: efa, selfReferencing: true }\nnodeGroups:\n  - { name: gpu-a, instanceType: c5n.18xlarge, count: 2, subnet: s, securityGroups: [efa] }\n  - { name: gpu_a, instanceType: c5n.18xlarge, count: 2, subnet: s, securityGroups: [efa] }\n";
    let c = model_of_text("c.yaml", spec);
    let t = cfn::template(&c, Catalog::bundled()).unwrap();
    let lts: Vec<&String> = of_type(&t, "AWS::EC2::LaunchTemplate")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(lts, ["GpuALaunchTemplate", "GpuALaunchTemplate2"]);
    // The round trip sees both groups.
    let r = check_template(
        "t.yaml",
        &yaml_of(&c),
        Catalog::bundled(),
        &Options::default(),
    );
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.cluster.unwrap().node_groups.len(), 2);
}

#[test]
fn every_rendered_template_reads_back_clean() {
    for (stem, c, _, yaml) in rendered() {
        for (name, text) in [
            (format!("{stem}.yaml"), yaml.clone()),
            (format!("{stem}.json"), json_of(&c)),
        ] {
            let r = check_file(&name, &text, Catalog::bundled(), &Options::default());
            assert!(r.findings.is_empty(), "{name}: {:#?}", r.findings);
            let m = r.cluster.expect("a model");
            // What the rules look at survives the trip: interface layouts and security groups
            // of the node groups the template launches.
            for ng in c.node_groups.iter().filter(|_| m.target == c.target) {
                let Some(back) = m.node_groups.iter().find(|b| {
                    b.origin.subject().path.as_deref()
                        == Some(&format!(
                            "Resources.{}LaunchTemplate",
                            cfn::logical_id(&ng.name)
                        ))
                }) else {
                    continue;
                };
                let kinds =
                    |v: &[efactl_core::model::Nic]| -> Vec<(u32, u32, InterfaceType, usize)> {
                        v.iter()
                            .map(|n| {
                                (
                                    n.network_card,
                                    n.device_index,
                                    n.kind,
                                    n.security_groups.len(),
                                )
                            })
                            .collect()
                    };
                assert_eq!(
                    kinds(&back.interfaces),
                    kinds(&ng.interfaces),
                    "{name}: {}",
                    ng.name
                );
                if m.target == efactl_core::model::Target::CloudFormation {
                    // Only an Auto Scaling group carries the count (Batch sizes its own).
                    assert_eq!(back.count, ng.count, "{name}: {}", ng.name);
                    assert_eq!(back.max_count, ng.max_count, "{name}: {}", ng.name);
                }
            }
        }
    }
}

/// A YAML template without the resource `id` (its key line and everything indented under it).
fn without_resource(yaml: &str, id: &str) -> String {
    let lines: Vec<&str> = yaml.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == format!("  {id}:"))
        .unwrap_or_else(|| panic!("{id} not in the template"));
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.starts_with("   ") && !l.is_empty())
        .map_or(lines.len(), |i| start + 1 + i);
    let mut out: Vec<&str> = lines[..start].to_vec();
    out.extend(&lines[end..]);
    out.join("\n") + "\n"
}

fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.starts_with(needle))
        .unwrap_or_else(|| panic!("`{needle}` not found")) as u32
        + 1
}

#[test]
fn a_template_without_its_self_egress_yields_efa002_at_the_group() {
    let c = model_of(&common::workspace().join("examples/c5n-mpi.yaml"));
    let broken = without_resource(&yaml_of(&c), "EfaSecurityGroupEgressSelf");
    assert!(!broken.contains("EfaSecurityGroupEgressSelf"));
    let r = check_file(
        "broken.yaml",
        &broken,
        Catalog::bundled(),
        &Options::default(),
    );
    let rules: Vec<&str> = r.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["EFA002"], "{:#?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(
        f.subject.path.as_deref(),
        Some("Resources.EfaSecurityGroup")
    );
    let loc = f.subject.location.as_ref().unwrap();
    assert_eq!(loc.file, "broken.yaml");
    // The group's first line (its `Type`), right under `EfaSecurityGroup:`.
    assert_eq!(loc.start.line, line_of(&broken, "  EfaSecurityGroup:") + 1);
    // The fix in the template's own terms.
    assert!(
        f.help
            .as_deref()
            .unwrap()
            .contains("AWS::EC2::SecurityGroupEgress` with `GroupId: !Ref EfaSecurityGroup`"),
        "{:?}",
        f.help
    );
    assert_eq!(r.exit_code(efactl_core::Severity::Error), 1);
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        common::workspace()
            .join("crates/efactl-core/tests/fixtures/cfn")
            .join(name),
    )
    .unwrap()
}

#[test]
fn a_hyperpod_style_vpc_template_checks_clean_and_its_broken_twin_does_not() {
    let text = fixture("hyperpod-vpc-quickstart.yaml");
    let r = check_file("vpc.yaml", &text, Catalog::bundled(), &Options::default());
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    let m = r.cluster.unwrap();
    // What the reader understood.
    assert!(m.vpc.dns_support && m.vpc.dns_hostnames);
    let private = m.subnet("PrimaryPrivateSubnet").unwrap();
    assert_eq!(private.internet, efactl_core::model::Internet::Nat);
    assert_eq!(private.cidr.unwrap().to_string(), "10.1.0.0/17");
    assert_eq!(private.zone.as_ref().unwrap().as_str(), "usw2-az4");
    assert_eq!(
        m.subnet("PublicSubnet").unwrap().internet,
        efactl_core::model::Internet::Public
    );
    let s3 = &m.endpoints[0];
    assert_eq!(s3.service, "s3");
    assert_eq!(s3.route_tables, ["PublicRouteTable", "PrivateRouteTable"]);
    let sg = m.security_group("SecurityGroup").unwrap();
    assert_eq!(sg.ingress.len(), 2, "{:#?}", sg.ingress);
    assert_eq!(m.file_systems[0].capacity_gib, Some(1200));
    // The stand-in for the instances HyperPod launches into the group.
    assert!(m
        .node_groups
        .iter()
        .any(|ng| ng.uses_efa() && ng.interfaces[0].security_groups == ["SecurityGroup"]));

    // Without the self egress: EFA002 at the group. (The JSON form of the same template too.)
    let broken = without_resource(&text, "EFASecurityGroupEgress");
    let json = serde_json::to_string_pretty(&to_json(
        &efactl_core::yaml::parse(&broken).unwrap().unwrap(),
    ))
    .unwrap();
    for (name, t, line) in [
        (
            "vpc.yaml",
            broken.as_str(),
            line_of(&broken, "  SecurityGroup:") + 1,
        ),
        // In JSON the group's mapping opens on the line of its key.
        (
            "vpc.json",
            json.as_str(),
            line_of(&json, "    \"SecurityGroup\": {"),
        ),
    ] {
        let r = check_file(name, t, Catalog::bundled(), &Options::default());
        let rules: Vec<&str> = r.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["EFA002"], "{name}: {:#?}", r.findings);
        let loc = r.findings[0].subject.location.as_ref().unwrap();
        assert_eq!(loc.start.line, line, "{name}");
    }
}

#[test]
fn an_interface_type_ec2_does_not_know_is_reported_where_it_is_written() {
    let text = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Sg:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      GroupDescription: efa\n      SecurityGroupEgress:\n        - { IpProtocol: '-1', DestinationSecurityGroupId: !Ref Sg }\n  SgSelf:\n    Type: AWS::EC2::SecurityGroupIngress\n    Properties: { GroupId: !Ref Sg, IpProtocol: '-1', SourceSecurityGroupId: !Ref Sg }\n  Lt:\n    Type: AWS::EC2::LaunchTemplate\n    Properties:\n      LaunchTemplateData:\n        InstanceType: p4d.24xlarge\n        NetworkInterfaces:\n          - { DeviceIndex: 0, NetworkCardIndex: 0, InterfaceType: efa, Groups: [!Ref Sg] }\n          - { DeviceIndex: 0, NetworkCardIndex: 1, InterfaceType: EFA_ONLY, Groups: [!Ref Sg] }\n          - { DeviceIndex: 0, NetworkCardIndex: 2, InterfaceType: efa-only, Groups: [!Ref Sg] }\n          - { DeviceIndex: 0, NetworkCardIndex: 2, InterfaceType: efa-only, Groups: [!Ref Sg] }\n";
    let r = check_template("lt.yaml", text, Catalog::bundled(), &Options::default());
    let by_rule: Vec<(&str, u32)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.as_str(),
                f.subject.location.as_ref().unwrap().start.line,
            )
        })
        .collect();
    // The made-up type where it is written, and the second EFA on card 2 (EFA010).
    assert!(by_rule.contains(&("SPEC006", 19)), "{by_rule:?}");
    assert!(
        by_rule.iter().any(|(r, l)| *r == "EFA010" && *l == 21),
        "{by_rule:?}"
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.message.contains("`EFA_ONLY`")
                && f.message.contains("did you mean `efa-only`"))
    );
    assert_eq!(r.exit_code(efactl_core::Severity::Error), 2);
}

#[test]
fn json_templates_and_specs_are_told_apart() {
    use efactl_core::cfn_read::looks_like_template;
    assert!(looks_like_template("{\"Resources\": {}}"));
    assert!(looks_like_template(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
    ));
    assert!(!looks_like_template(
        "apiVersion: efactl.dev/v1alpha1\nname: x\nResources: {}\n"
    ));
    assert!(!looks_like_template("a: [\n"));
    let r = check_file(
        "t.json",
        "{\"Resources\": {}}",
        Catalog::bundled(),
        &Options::default(),
    );
    assert!(r.has_input_errors());
}

mod hostile {
    //! The reader must take any template without panicking: random resources of the types it
    //! reads, with property trees built from CloudFormation's own keys and intrinsics, and
    //! randomly edited rendered templates.
    use super::*;
    use proptest::prelude::*;

    const TYPES: &[&str] = &[
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::RouteTable",
        "AWS::EC2::Route",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::VPCEndpoint",
        "AWS::EC2::LaunchTemplate",
        "AWS::AutoScaling::AutoScalingGroup",
        "AWS::IAM::Role",
        "AWS::IAM::InstanceProfile",
        "AWS::SecretsManager::Secret",
        "AWS::FSx::FileSystem",
        "AWS::EC2::PlacementGroup",
    ];
    const KEYS: &[&str] = &[
        "Ref",
        "Fn::GetAtt",
        "Fn::Sub",
        "Fn::Join",
        "Fn::Select",
        "Fn::Cidr",
        "Fn::If",
        "Fn::FindInMap",
        "Fn::Split",
        "Condition",
        "GroupId",
        "IpProtocol",
        "FromPort",
        "ToPort",
        "CidrIp",
        "SourceSecurityGroupId",
        "DestinationSecurityGroupId",
        "SecurityGroupIngress",
        "SecurityGroupEgress",
        "SubnetId",
        "RouteTableId",
        "GatewayId",
        "NatGatewayId",
        "DestinationCidrBlock",
        "CidrBlock",
        "AvailabilityZone",
        "LaunchTemplateData",
        "NetworkInterfaces",
        "InterfaceType",
        "NetworkCardIndex",
        "DeviceIndex",
        "Groups",
        "LaunchTemplate",
        "LaunchTemplateId",
        "VPCZoneIdentifier",
        "MinSize",
        "MaxSize",
        "Policies",
        "PolicyDocument",
        "Statement",
        "Action",
        "Resource",
        "Roles",
        "ServiceName",
        "VpcEndpointType",
        "SubnetIds",
        "SecurityGroupIds",
        "Placement",
        "GroupName",
        "IamInstanceProfile",
        "Arn",
        "Tags",
        "Key",
        "Value",
    ];

    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("A".to_string()),
            Just("B".to_string()),
            Just("\"-1\"".to_string()),
            Just("10.0.0.0/16".to_string()),
            Just("efa".to_string()),
            Just("\"${A.B}-${AWS::Region}\"".to_string()),
            (0u32..70000).prop_map(|n| n.to_string()),
            "[a-zA-Z0-9:/.-]{0,12}",
        ]
    }

    fn tree() -> impl Strategy<Value = String> {
        scalar().prop_recursive(5, 80, 6, |inner| {
            prop_oneof![
                prop::collection::vec((prop::sample::select(KEYS), inner.clone()), 0..5).prop_map(
                    |kv| {
                        let body: Vec<String> = kv
                            .into_iter()
                            .map(|(k, v)| format!("\"{k}\": {v}"))
                            .collect();
                        format!("{{{}}}", body.join(", "))
                    }
                ),
                prop::collection::vec(inner, 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
            ]
        })
    }

    fn check(text: &str) {
        let a = check_file("t.yaml", text, Catalog::bundled(), &Options::default());
        let b = check_file("t.yaml", text, Catalog::bundled(), &Options::default());
        assert_eq!(a.findings, b.findings, "not deterministic");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

        #[test]
        fn random_resources_are_read(
            res in prop::collection::vec((prop::sample::select(TYPES), tree()), 1..8)
        ) {
            let mut text = String::from("{\"AWSTemplateFormatVersion\": \"2010-09-09\", \"Resources\": {");
            let body: Vec<String> = res
                .iter()
                .enumerate()
                .map(|(i, (t, p))| {
                    let name = if i % 2 == 0 { "A" } else { "B" };
                    format!("\"{name}{i}\": {{\"Type\": \"{t}\", \"Properties\": {p}}}")
                })
                .collect();
            text.push_str(&body.join(", "));
            text.push_str("}}");
            check(&text);
        }

        #[test]
        fn edited_rendered_templates_are_read(
            which in 0usize..5,
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..60, "\\PC{0,8}"), 1..6),
        ) {
            let (_, path) = &examples()[which];
            let mut text = yaml_of(&model_of(path));
            for (at, cut, insert) in edits {
                let mut i = at.index(text.len().max(1)).min(text.len());
                while !text.is_char_boundary(i) { i -= 1; }
                let mut j = (i + cut).min(text.len());
                while !text.is_char_boundary(j) { j -= 1; }
                text.replace_range(i..j, &insert);
            }
            check(&text);
        }
    }
}

/// A broken example whose template the renderer would write (efactl refuses to, because of the
/// errors) fails as a template the way it fails as a spec: the same rules, on the same model.
#[test]
fn a_broken_spec_and_its_template_fail_alike() {
    let path = common::workspace().join("examples/broken/trn2-eks-half-efa.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let spec =
        efactl_core::check::check_spec("s.yaml", &text, Catalog::bundled(), &Options::default());
    let t = cfn::template(spec.cluster.as_ref().unwrap(), Catalog::bundled()).unwrap();
    let yaml = efactl_core::render::yaml_out::to_yaml(&t);
    let back = check_template("t.yaml", &yaml, Catalog::bundled(), &Options::default());
    let rules = |r: &efactl_core::check::CheckReport| -> Vec<String> {
        let mut v: Vec<String> = r.findings.iter().map(|f| f.rule.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(rules(&back), rules(&spec), "{:#?}", back.findings);
    assert_eq!(rules(&spec), ["EFA002", "EFA008"]);
}

#[test]
fn a_nat_with_no_room_for_its_subnet_is_refused() {
    let spec = "apiVersion: efactl.dev/v1alpha1\nname: c\nregion: us-east-1\navailabilityZone: us-east-1a\nnetwork:\n  vpc: { cidr: 10.0.0.0/28 }\n  subnets:\n    - { name: s, cidr: 10.0.0.0/28, internet: nat }\nsecurityGroups:\n  - { name: efa, selfReferencing: true }\nnodeGroups:\n  - { name: g, instanceType: m5.large, securityGroups: [efa] }\n";
    let c = model_of_text("c.yaml", spec);
    let e = cfn::template(&c, Catalog::bundled()).unwrap_err();
    assert!(e.to_string().contains("no free /28"), "{e}");
}
