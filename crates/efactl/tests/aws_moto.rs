//! The AWS commands against a real AWS API emulator: moto's server (5.2.x, installed by
//! scripts/setup.sh into the venv), started once per test binary on a free loopback port.
//! Every test works in a region of its own, so the tests share the server and run in
//! parallel. Resources are made and broken through boto3 (tests/aws/moto_account.py), never
//! through efactl, and what efactl deployed is read back the same way.
//!
//! Where moto differs from AWS, the test says so:
//! - moto's CloudFormation skips `AWS::EC2::SecurityGroupEgress`, `AWS::EC2::PlacementGroup`
//!   and `AWS::SecretsManager::Secret`, creates a stack synchronously with two events, and
//!   drops `EnableDnsHostnames` and route table associations made by a template;
//! - instances come back with every interface `interface` on card 0 (no EFA), so audits here
//!   run on non-EFA instances, and the EFA-only findings (self egress on EFA interfaces, a
//!   node in a second zone) are proven by the replayed wire responses in
//!   crates/efactl-aws/tests/replay.rs;
//! - deleting a stack whose template has a route table fails in moto (DependencyViolation),
//!   so the destroy test deploys a spec into an existing VPC and subnet.

use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn venv() -> PathBuf {
    match std::env::var_os("EFACTL_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => workspace().join(".venv"),
    }
}

struct Moto {
    url: String,
    // Holds the wrapper's stdin: when the test binary exits, the pipe closes and the wrapper
    // kills the server, so no emulator outlives the tests.
    _guard: Mutex<Child>,
}

/// The shared server, or `None` (with a notice; a failure under CI) when moto is missing.
fn moto() -> Option<&'static Moto> {
    static MOTO: OnceLock<Option<Moto>> = OnceLock::new();
    MOTO.get_or_init(|| {
        let server = venv().join("bin/moto_server");
        if !server.is_file() {
            let msg = format!("{} not found; run scripts/setup.sh", server.display());
            if std::env::var_os("CI").is_some() {
                panic!("{msg}");
            }
            eprintln!("notice: skipping: {msg}");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("efactl-moto-{port}.log"));
        let script = format!(
            "'{}' -H 127.0.0.1 -p {port} >'{}' 2>&1 & pid=$!; read -r _; kill $pid",
            server.display(),
            log.display()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port} within 60 s; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto {
            url: format!("http://127.0.0.1:{port}"),
            _guard: Mutex::new(child),
        })
    })
    .as_ref()
}

/// An environment with no credentials or config of the machine's: only what the test gives.
fn clean_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/efactl-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/efactl-test-credentials",
        )
        .env("NO_COLOR", "1")
}

fn efactl(m: &Moto, region: Option<&str>, args: &[&str]) -> Output {
    efactl_env(m, region, &[], args)
}

fn efactl_env(m: &Moto, region: Option<&str>, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_efactl"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    clean_env(&mut cmd)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(args)
        .args(["--endpoint-url", &m.url]);
    if let Some(r) = region {
        cmd.args(["--region", r]);
    }
    cmd.stdin(Stdio::null()).output().expect("run efactl")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[track_caller]
fn json_out(o: &Output) -> Value {
    let (out, err) = text(o);
    match serde_json::from_str(&out) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}), {}:\n{out}\nstderr:\n{err}", o.status),
    }
}

/// tests/aws/moto_account.py COMMAND ARGS in `region`, as JSON.
fn account(m: &Moto, region: &str, args: &[&str]) -> Value {
    let out = Command::new(venv().join("bin/python"))
        .arg(workspace().join("crates/efactl/tests/aws/moto_account.py"))
        .arg(&m.url)
        .arg(region)
        .args(args)
        .output()
        .expect("run moto_account.py");
    assert!(
        out.status.success(),
        "moto_account.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (rule, message) of each finding of an audit's JSON report.
fn findings(v: &Value) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                format!("{} {}", f["message"], f["resource"]),
            )
        })
        .collect()
}

fn audit(m: &Moto, region: &str, secret: &str) -> (Output, Value) {
    let o = efactl(
        m,
        Some(region),
        &[
            "audit",
            "--tag",
            "efactl:cluster=audit",
            "--secret",
            secret,
            "--format",
            "json",
        ],
    );
    let v = json_out(&o);
    (o, v)
}

/// A healthy baseline broken in one way yields exactly that rule's findings, naming `id`.
fn broken_yields(region: &str, break_what: &str, secret: &str, rule: &str) {
    let Some(m) = moto() else { return };
    let ids = account(m, region, &["baseline"]);
    let id = match break_what {
        "" => Value::Null,
        w => account(m, region, &["break", w, &ids.to_string()]),
    };
    let (o, v) = audit(m, region, secret);
    let got = findings(&v);
    if rule.is_empty() {
        assert!(
            got.is_empty(),
            "the healthy baseline has findings: {got:#?}"
        );
        assert_eq!(o.status.code(), Some(0));
        return;
    }
    assert!(!got.is_empty(), "{break_what}: no finding");
    for (r, msg) in &got {
        assert_eq!(r, rule, "{break_what} raised {r} too: {msg}");
        let id = id.as_str().unwrap();
        let short = id.rsplit(':').next().unwrap();
        assert!(
            msg.contains(id) || msg.contains(short),
            "{break_what}: the finding does not name {id}: {msg}"
        );
    }
    assert_eq!(o.status.code(), Some(1), "error findings exit 1");
}

#[test]
fn audit_of_a_healthy_cluster_is_clean() {
    broken_yields("us-west-1", "", "audit-mpi-key", "");
}

#[test]
fn audit_finds_the_removed_self_egress_rule() {
    // Non-EFA nodes (moto): TCP between them is what breaks (EFA031); the EFA form of the
    // same mistake (EFA002) is in replay.rs.
    broken_yields("eu-west-3", "self-egress", "audit-mpi-key", "EFA031");
}

#[test]
fn audit_finds_world_ingress() {
    broken_yields("ap-south-1", "world-ingress", "audit-mpi-key", "EFA004");
}

#[test]
fn audit_finds_the_missing_interface_endpoint() {
    broken_yields(
        "ap-southeast-1",
        "endpoint-missing",
        "audit-mpi-key",
        "EFA017",
    );
}

#[test]
fn audit_finds_the_gateway_endpoint_off_the_route_table() {
    broken_yields(
        "eu-west-2",
        "gateway-off-route-table",
        "audit-mpi-key",
        "EFA018",
    );
}

#[test]
fn audit_finds_the_network_acl_that_blocks_https() {
    broken_yields(
        "ap-northeast-2",
        "acl-deny-https",
        "audit-mpi-key",
        "EFA036",
    );
}

#[test]
fn audit_finds_the_missing_key_secret() {
    let Some(m) = moto() else { return };
    account(m, "sa-east-1", &["baseline"]);
    let (o, v) = audit(m, "sa-east-1", "no-such-secret");
    let got = findings(&v);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].0, "EFA025");
    assert!(got[0].1.contains("no-such-secret"), "{}", got[0].1);
    assert!(
        text(&o)
            .1
            .contains("secret `no-such-secret` does not exist"),
        "{}",
        text(&o).1
    );
}

#[test]
fn deploy_creates_each_example_and_a_second_deploy_changes_nothing() {
    let Some(m) = moto() else { return };
    for (name, stack) in [
        ("c5n-mpi", "c5n-mpi"),
        ("g5-batch-mpi", "g5-batch"),
        ("hyperpod-slurm", "hyperpod-train"),
        ("p5-slurm-private", "p5-train"),
        ("trn2-eks", "trn2-eks"),
    ] {
        let spec = workspace().join(format!("examples/{name}.yaml"));
        let spec = spec.to_str().unwrap();
        let mut args = vec!["deploy", spec, "--yes", "--format", "json"];
        if name == "hyperpod-slurm" {
            // Its lifecycle scripts' bucket is the template's one parameter without a default.
            let o = efactl(m, None, &args);
            assert_eq!(o.status.code(), Some(2));
            assert!(text(&o).1.contains("`ArtifactBucket`"), "{:?}", text(&o));
            args.extend(["--parameter", "ArtifactBucket=efactl-test-artifacts"]);
        }
        let o = efactl(m, None, &args);
        if name == "hyperpod-slurm" {
            // moto 5.2.5's CloudFormation crashes on this template (a GetAtt of a resource
            // type it skips: `'NoneType' object has no attribute 'has_cfn_attr'`) and answers
            // HTTP 500. The template itself is validated by cfn-lint in the render tests.
            let (_, err) = text(&o);
            assert_eq!(o.status.code(), Some(1), "{err}");
            assert!(
                err.contains("answered HTTP 500 without an AWS error code"),
                "{err}"
            );
            continue;
        }
        if name == "trn2-eks" {
            // It launches into an existing EKS VPC's subnets, which this account lacks. AWS
            // would fail the subnet's resources with CREATE_FAILED and roll back; moto fails
            // CreateStack itself. Either way: a clear message naming the subnet, exit 1.
            let (_, err) = text(&o);
            assert_eq!(o.status.code(), Some(1), "{err}");
            assert!(err.contains("subnet-0a1b2c3d4e5f60719"), "{err}");
            assert!(!err.contains("panicked"));
            continue;
        }
        let v = json_out(&o);
        assert_eq!(v["action"], "create", "{name}: {v}\n{}", text(&o).1);
        assert_eq!(v["outcome"]["status"], "CREATE_COMPLETE", "{name}: {v}");
        assert_eq!(o.status.code(), Some(0));

        // Read back through EC2 / IAM, not through efactl.
        let region = match name {
            "c5n-mpi" => "eu-west-1",
            "g5-batch-mpi" => "us-west-2",
            "trn2-eks" => "us-east-2",
            _ => "us-east-1",
        };
        let live = account(m, region, &["read-stack", stack]);
        let groups = live["security_groups"].as_object().unwrap();
        assert!(!groups.is_empty(), "{name}: no security group");
        let efa = &groups["EfaSecurityGroup"];
        let self_in = efa["ingress"].as_array().unwrap().iter().any(|p| {
            p["IpProtocol"] == "-1"
                && p["UserIdGroupPairs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| g["GroupId"] == efa["id"])
        });
        assert!(self_in, "{name}: no self-referencing ingress: {efa}");
        for (_, g) in groups {
            for p in g["ingress"].as_array().unwrap() {
                for r in p["IpRanges"].as_array().unwrap() {
                    assert_ne!(r["CidrIp"], "0.0.0.0/0", "{name}: world ingress: {g}");
                }
            }
        }
        // The launch templates carry the EFA interfaces (moto stores them as given).
        for (lt, data) in live["launch_templates"].as_object().unwrap() {
            let nics = data["NetworkInterfaces"].as_array().unwrap();
            assert!(
                nics.iter().any(|n| n["InterfaceType"] == "efa"),
                "{name}/{lt}: no efa interface: {data}"
            );
            assert!(
                nics.iter()
                    .all(|n| n["Groups"].as_array().unwrap().contains(&efa["id"])),
                "{name}/{lt}: an interface without the EFA group"
            );
        }
        // Roles that read the MPI secret name it exactly: no `*` resource on secrets.
        for (role, policies) in live["roles"].as_object().unwrap() {
            let text = policies.to_string();
            if text.contains("secretsmanager:GetSecretValue") {
                assert!(
                    !text.contains("\"Resource\":\"*\""),
                    "{name}/{role}: {text}"
                );
            }
        }

        let again = efactl(m, None, &args);
        let v = json_out(&again);
        assert_eq!(v["action"], "none", "{name}: second deploy: {v}");
        assert_eq!(again.status.code(), Some(0));
    }
}

/// A template over the 51,200-byte inline limit: refused without `--template-bucket`, before
/// any change; with it, uploaded to S3 and created from its URL; unchanged, nothing uploaded.
#[test]
fn a_large_template_deploys_through_the_template_bucket() {
    let Some(m) = moto() else { return };
    let region = "eu-south-1";
    let spec = workspace().join("crates/efactl/tests/aws/large-c5n.yaml");
    let spec = spec.to_str().unwrap();
    let o = efactl(m, None, &["deploy", spec, "--yes"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("over CloudFormation's 51200-byte limit") && err.contains("--template-bucket"),
        "{err}"
    );
    let o = efactl(
        m,
        Some(region),
        &["status", "large-c5n", "--format", "json"],
    );
    assert_ne!(
        o.status.code(),
        Some(0),
        "no stack was made: {:?}",
        text(&o)
    );

    account(m, region, &["bucket", "efactl-templates-test"]);
    let args = [
        "deploy",
        spec,
        "--yes",
        "--template-bucket",
        "efactl-templates-test",
        "--format",
        "json",
    ];
    let o = efactl(m, None, &args);
    let v = json_out(&o);
    assert_eq!(o.status.code(), Some(0), "{v}");
    assert_eq!(v["action"], "create", "{v}");
    assert_eq!(v["outcome"]["status"], "CREATE_COMPLETE", "{v}");
    let objects = account(
        m,
        region,
        &["objects", "efactl-templates-test", "efactl/large-c5n/"],
    );
    let objects = objects.as_object().unwrap();
    assert_eq!(objects.len(), 1, "{objects:?}");
    let (key, size) = objects.iter().next().unwrap();
    assert!(
        key.starts_with("efactl/large-c5n/template-") && key.ends_with(".json"),
        "{key}"
    );
    assert!(size.as_u64().unwrap() > 51_200, "{size}");
    // CloudFormation built the stack from the uploaded body: five launch templates.
    let live = account(m, region, &["read-stack", "large-c5n"]);
    assert_eq!(
        live["launch_templates"].as_object().unwrap().len(),
        5,
        "{live}"
    );

    let again = efactl(m, None, &args);
    let v = json_out(&again);
    assert_eq!(v["action"], "none", "{v}");
    let objects = account(
        m,
        region,
        &["objects", "efactl-templates-test", "efactl/large-c5n/"],
    );
    assert_eq!(objects.as_object().unwrap().len(), 1);
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), deploy's progress is the bar,
/// with the stack events printed above it and their statuses in colour; the test below checks
/// the plain lines of the same deploy without a terminal.
#[test]
fn deploy_on_a_terminal_uses_the_bar_and_colour() {
    let Some(m) = moto() else { return };
    let dir = tempdir("tty");
    let spec = std::fs::read_to_string(workspace().join("examples/c5n-mpi.yaml"))
        .unwrap()
        .replace("name: c5n-mpi", "name: c5n-tty")
        .replace("region: eu-west-1", "region: eu-central-2")
        .replace(
            "availabilityZone: eu-west-1a",
            "availabilityZone: eu-central-2a",
        );
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, spec).unwrap();
    let line = format!(
        "{} deploy {} --yes --endpoint-url {}",
        env!("CARGO_BIN_EXE_efactl"),
        path.display(),
        m.url
    );
    let mut cmd = Command::new("script");
    clean_env(&mut cmd)
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .stdin(Stdio::null());
    let o = cmd.output().expect("util-linux script runs");
    let all = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("stack `c5n-tty` created"), "{all}");
    // The bar took the place of the line-mode "creating stack `c5n-tty`..." line.
    assert!(!all.contains("creating stack `c5n-tty`..."), "{all}");
    // Events above the bar, their statuses in colour.
    assert!(
        all.contains("\x1b[32mCREATE_COMPLETE\x1b[0m c5n-tty (AWS::CloudFormation::Stack)"),
        "{all:?}"
    );
}

#[test]
fn a_changed_spec_shows_its_change_set_and_applies_it() {
    let Some(m) = moto() else { return };
    let dir = tempdir("changed");
    let base = std::fs::read_to_string(workspace().join("examples/c5n-mpi.yaml")).unwrap();
    let base = base.replace("name: c5n-mpi", "name: c5n-changed");
    let spec = dir.join("cluster.yaml");
    std::fs::write(&spec, &base).unwrap();
    let spec = spec.to_str().unwrap();
    let o = efactl(m, None, &["deploy", spec, "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).0.contains("stack `c5n-changed` created"));
    // Without a terminal, progress is one line per stack event on stderr (no bar, no colour).
    let (_, err) = text(&o);
    assert!(err.contains("creating stack `c5n-changed`..."), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains(" CREATE_COMPLETE c5n-changed (AWS::CloudFormation::Stack)")),
        "{err}"
    );
    assert!(!err.contains('\x1b'), "colour without a terminal: {err}");

    assert!(base.contains("count: 8"));
    std::fs::write(
        dir.join("cluster.yaml"),
        base.replace("count: 8", "count: 6"),
    )
    .unwrap();
    let plan = efactl(m, None, &["deploy", spec, "--dry-run", "--format", "json"]);
    let v = json_out(&plan);
    assert_eq!(v["plan"], "update", "{v}");
    let changed: Vec<(&str, &str)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["logicalId"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        changed.contains(&("modify", "HpcAutoScalingGroup")),
        "{changed:?}"
    );
    // Without --yes and without a terminal, nothing is applied.
    let declined = efactl(m, None, &["deploy", spec]);
    assert_eq!(declined.status.code(), Some(1));
    assert!(
        text(&declined).1.contains("pass --yes"),
        "{:?}",
        text(&declined)
    );
    let applied = efactl(m, None, &["deploy", spec, "--yes", "--format", "json"]);
    let v = json_out(&applied);
    assert_eq!(v["action"], "update", "{v}");
    assert_eq!(v["outcome"]["result"], "completed", "{v}");
    let again = efactl(m, None, &["deploy", spec, "--yes", "--format", "json"]);
    assert_eq!(json_out(&again)["action"], "none");
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("efactl-moto-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn destroy_deletes_the_stack_and_a_missing_stack_is_a_message() {
    let Some(m) = moto() else { return };
    let region = "eu-north-1";
    let ids = account(m, region, &["subnet"]);
    let spec = format!(
        "apiVersion: efactl.dev/v1alpha1\nname: small\nregion: {region}\ntarget: cloudformation\n\
network:\n  vpc:\n    id: {}\n  subnets:\n    - name: compute\n      id: {}\n      availabilityZone: {region}a\n      internet: nat\n\
nodeGroups:\n  - name: compute\n    instanceType: c5n.18xlarge\n    count: 1\n    subnet: compute\n    securityGroups: [efa]\n\
securityGroups:\n  - name: efa\n    selfReferencing: true\n",
        ids["vpc"].as_str().unwrap(),
        ids["subnet"].as_str().unwrap()
    );
    let dir = tempdir("destroy");
    let path = dir.join("small.yaml");
    std::fs::write(&path, spec).unwrap();
    let path = path.to_str().unwrap();
    let o = efactl(m, None, &["deploy", path, "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));

    let refused = efactl(m, Some(region), &["destroy", "small"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused).1.contains("pass --yes"));

    let o = efactl(
        m,
        Some(region),
        &["destroy", "small", "--yes", "--format", "json"],
    );
    let v = json_out(&o);
    assert_eq!(v["result"], "deleted", "{v}\n{}", text(&o).1);
    let status = efactl(m, Some(region), &["status", "small"]);
    assert_eq!(status.status.code(), Some(1));
    assert!(
        text(&status).1.contains("does not exist"),
        "{:?}",
        text(&status)
    );

    let o = efactl(m, Some(region), &["destroy", "small", "--yes"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.contains("nothing to delete"), "{:?}", text(&o));
}

#[test]
fn status_shows_the_stack_resources_and_nodes() {
    let Some(m) = moto() else { return };
    // The c5n example under its own name: the deploy test deploys `c5n-mpi` in the same
    // region at the same time.
    let dir = tempdir("status");
    let spec = dir.join("cluster.yaml");
    let text_in = std::fs::read_to_string(workspace().join("examples/c5n-mpi.yaml")).unwrap();
    std::fs::write(&spec, text_in.replace("name: c5n-mpi", "name: c5n-status")).unwrap();
    let spec = spec.to_str().unwrap();
    let o = efactl(m, None, &["deploy", spec, "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = efactl(
        m,
        Some("eu-west-1"),
        &["status", "c5n-status", "--format", "json"],
    );
    let v = json_out(&o);
    assert_eq!(v["stack"]["status"], "CREATE_COMPLETE");
    let types: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"AWS::EC2::LaunchTemplate"), "{types:?}");
    // moto's Auto Scaling group launches the 8 nodes; each has a zone and a zone id.
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 8, "{v}");
    for n in nodes {
        assert_eq!(n["type"], "c5n.18xlarge");
        assert!(
            n["availabilityZone"].is_string() && n["availabilityZoneId"].is_string(),
            "{n}"
        );
        assert_eq!(n["bootstrap"]["result"], "not-reported");
    }
    let human = efactl(m, Some("eu-west-1"), &["status", "c5n-status"]);
    let (out, _) = text(&human);
    assert!(out.contains("stack `c5n-status`: CREATE_COMPLETE"), "{out}");
    assert!(out.contains("nodes (8):"), "{out}");
}

#[test]
fn keys_create_check_and_rotate_without_printing_the_private_key() {
    let Some(m) = moto() else { return };
    let region = "eu-central-1";
    let o = efactl(
        m,
        Some(region),
        &["keys", "create", "--secret", "mpi-key", "--format", "json"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    for t in [&out, &err] {
        assert!(!t.contains("PRIVATE KEY"), "a private key was printed: {t}");
        assert!(!t.contains("MPI_SSH_KEY_PRIVATE"), "{t}");
    }
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["action"], "created");
    assert!(v["publicKey"].as_str().unwrap().starts_with("ssh-ed25519 "));

    // Read back through Secrets Manager with boto3 and parse with `cryptography`.
    let check = Command::new(venv().join("bin/python"))
        .arg("-c")
        .arg(
            r#"
import base64, json, sys, boto3
from cryptography.hazmat.primitives import serialization
sm = boto3.client("secretsmanager", endpoint_url=sys.argv[1], region_name=sys.argv[2],
                  aws_access_key_id="testing", aws_secret_access_key="testing")
v = json.loads(sm.get_secret_value(SecretId="mpi-key")["SecretString"])
assert sorted(v) == ["MPI_SSH_KEY_PRIVATE", "MPI_SSH_KEY_PUBLIC"], sorted(v)
assert "\n" not in v["MPI_SSH_KEY_PRIVATE"] and "\n" not in v["MPI_SSH_KEY_PUBLIC"]
key = serialization.load_ssh_private_key(base64.b64decode(v["MPI_SSH_KEY_PRIVATE"]), None)
pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
stored = base64.b64decode(v["MPI_SSH_KEY_PUBLIC"]).decode()
assert stored.startswith(pub + " "), (stored, pub)
print(stored)
"#,
        )
        .args([&m.url, region])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        v["publicKey"].as_str().unwrap()
    );

    let o = efactl(m, Some(region), &["keys", "check", "--secret", "mpi-key"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).0.contains(v["fingerprint"].as_str().unwrap()));

    // A second create does not overwrite the pair; --rotate does.
    let o = efactl(m, Some(region), &["keys", "create", "--secret", "mpi-key"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("--rotate"), "{:?}", text(&o));
    let o = efactl(
        m,
        Some(region),
        &[
            "keys", "create", "--secret", "mpi-key", "--rotate", "--type", "rsa", "--format",
            "json",
        ],
    );
    let r = json_out(&o);
    assert_eq!(r["action"], "rotated");
    assert_eq!(r["algorithm"], "ssh-rsa");
    assert_ne!(r["fingerprint"], v["fingerprint"]);
    assert!(!text(&o).0.contains("PRIVATE KEY") && !text(&o).1.contains("PRIVATE KEY"));

    let o = efactl(
        m,
        Some(region),
        &["keys", "check", "--secret", "missing-key"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("does not exist"), "{:?}", text(&o));
}

/// A secret created without a value has no version: GetSecretValue answers
/// ResourceNotFoundException. `keys check` says it has no value (not that it is missing), and
/// `keys create` fills it in place.
#[test]
fn keys_on_a_secret_created_without_a_value() {
    let Some(m) = moto() else { return };
    let region = "ap-southeast-2";
    let made = account(m, region, &["empty-secret", "empty-key"]);
    let o = efactl(
        m,
        Some(region),
        &["keys", "check", "--secret", "empty-key", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let v = json_out(&o);
    assert_eq!(v["state"], "no-value", "{v}");
    assert_eq!(v["arn"], made["arn"], "{v}");
    let o = efactl(
        m,
        Some(region),
        &[
            "keys",
            "create",
            "--secret",
            "empty-key",
            "--format",
            "json",
        ],
    );
    let v = json_out(&o);
    assert_eq!(o.status.code(), Some(0), "{v}");
    assert_eq!(v["action"], "populated", "{v}");
    let o = efactl(m, Some(region), &["keys", "check", "--secret", "empty-key"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(text(&o).0.contains(v["fingerprint"].as_str().unwrap()));
}

#[test]
fn no_credentials_is_a_clear_error() {
    let Some(m) = moto() else { return };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_efactl"));
    let o = clean_env(&mut cmd)
        .args([
            "audit",
            "--vpc",
            "vpc-1",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &m.url,
        ])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    // Usage (2): nothing was asked of AWS. One sentence and a hint, not the SDK's chain of
    // every provider it tried (1.7 KB of `DispatchFailure(...)` before).
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no AWS credentials found"), "{err}");
    assert!(err.contains("hint:") && err.contains("--profile"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.len() < 400, "{} bytes: {err}", err.len());
}

#[test]
fn no_region_and_an_endpoint_that_is_down_are_clear_errors() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_efactl"));
    let o = clean_env(&mut cmd)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["status", "x"])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no AWS region is configured"), "{err}");
    assert!(err.contains("--region"), "{err}");

    // A loopback port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_efactl"));
    let started = Instant::now();
    let o = clean_env(&mut cmd)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["status", "x", "--region", "us-east-1"])
        .args(["--endpoint-url", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach the AWS endpoint") && err.contains("connection refused"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn deploy_refuses_a_spec_with_errors_and_a_conflicting_region() {
    let Some(m) = moto() else { return };
    let broken = workspace().join("examples/broken");
    let bad = std::fs::read_dir(&broken)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "yaml"))
        .unwrap();
    let o = efactl(m, None, &["deploy", bad.to_str().unwrap(), "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).1.contains("refusing to deploy"), "{:?}", text(&o));

    let spec = workspace().join("examples/c5n-mpi.yaml");
    let o = efactl(
        m,
        Some("us-east-1"),
        &["deploy", spec.to_str().unwrap(), "--yes"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("is for region eu-west-1"),
        "{:?}",
        text(&o)
    );
    let _ = std::io::stderr().flush();
}

#[test]
fn audit_finds_the_placeholder_key_secret() {
    broken_yields(
        "ca-central-1",
        "placeholder-secret",
        "audit-mpi-key",
        "EFA035",
    );
}

/// Two profiles in two accounts in a temporary AWS config, and environment keys of a third
/// (moto serves many accounts and picks a request's account by its access key).
struct Profiles {
    dir: PathBuf,
}

impl Profiles {
    /// `tag` names the test: tests run in parallel, each needs a directory of its own.
    fn new(m: &Moto, tag: &str) -> Profiles {
        static KEYS: OnceLock<(Value, Value)> = OnceLock::new();
        let (alpha, beta) = KEYS.get_or_init(|| {
            (
                account(
                    m,
                    "us-east-1",
                    &["access-key", "111111111111", "efactl-alpha"],
                ),
                account(
                    m,
                    "us-east-1",
                    &["access-key", "222222222222", "efactl-beta"],
                ),
            )
        });
        let dir = tempdir(&format!("profiles-{tag}"));
        std::fs::write(
            dir.join("config"),
            "[default]\nregion = us-east-1\n\n[profile alpha]\nregion = us-east-1\n\n[profile beta]\nregion = us-east-1\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("credentials"),
            format!(
                "[alpha]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n[beta]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                alpha["id"].as_str().unwrap(),
                alpha["secret"].as_str().unwrap(),
                beta["id"].as_str().unwrap(),
                beta["secret"].as_str().unwrap()
            ),
        )
        .unwrap();
        Profiles { dir }
    }

    /// efactl with the temporary config, the environment's keys when `env_keys`, and `env`.
    fn run(&self, endpoint: &str, env_keys: bool, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_efactl"));
        clean_env(&mut cmd)
            .env("AWS_CONFIG_FILE", self.dir.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.join("credentials"));
        if env_keys {
            cmd.env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(args)
            .args(["--endpoint-url", endpoint])
            .stdin(Stdio::null())
            .output()
            .expect("run efactl")
    }
}

/// `destroy` of a stack that does not exist changes nothing, and says first in which account.
fn destroy_account(
    p: &Profiles,
    m: &Moto,
    env_keys: bool,
    env: &[(&str, &str)],
    profile: Option<&str>,
) -> String {
    let mut args = vec![
        "destroy",
        "efactl-no-such-stack",
        "--yes",
        "--format",
        "json",
    ];
    if let Some(name) = profile {
        args.extend(["--profile", name]);
    }
    let o = p.run(&m.url, env_keys, env, &args);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let v = json_out(&o);
    assert_eq!(v["result"], "missing", "{v}");
    let account = v["account"].as_str().unwrap().to_string();
    let said = format!("in account {account} (");
    assert!(
        text(&o).1.contains(&said),
        "stderr does not say {said:?}: {}",
        text(&o).1
    );
    assert!(text(&o).1.contains("region us-east-1"), "{}", text(&o).1);
    account
}

#[test]
fn an_explicit_profile_wins_over_environment_credentials() {
    let Some(m) = moto() else { return };
    let p = Profiles::new(m, "precedence");
    // The environment's keys alone: the default account.
    assert_eq!(destroy_account(&p, m, true, &[], None), "123456789012");
    // --profile beats AWS_ACCESS_KEY_ID, as in the AWS CLI (the SDK's default chain would
    // read the environment first and act in 123456789012).
    assert_eq!(
        destroy_account(&p, m, true, &[], Some("beta")),
        "222222222222"
    );
    assert_eq!(
        destroy_account(&p, m, false, &[], Some("alpha")),
        "111111111111"
    );
    // AWS_PROFILE names the profile when there are no keys in the environment; keys in the
    // environment win over AWS_PROFILE (the AWS CLI's order), and --profile over both.
    assert_eq!(
        destroy_account(&p, m, false, &[("AWS_PROFILE", "alpha")], None),
        "111111111111"
    );
    assert_eq!(
        destroy_account(&p, m, true, &[("AWS_PROFILE", "alpha")], None),
        "123456789012"
    );
    assert_eq!(
        destroy_account(&p, m, true, &[("AWS_PROFILE", "alpha")], Some("beta")),
        "222222222222"
    );

    // What a changing command writes lands in the profile's account, not the environment's.
    let o = p.run(
        &m.url,
        true,
        &[],
        &[
            "keys",
            "create",
            "--secret",
            "efactl-profile-key",
            "--profile",
            "beta",
            "--region",
            "us-east-1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert!(
        text(&o).1.contains("in account 222222222222"),
        "{}",
        text(&o).1
    );
    let in_env_account = p.run(
        &m.url,
        true,
        &[],
        &[
            "keys",
            "check",
            "--secret",
            "efactl-profile-key",
            "--region",
            "us-east-1",
            "--format",
            "json",
        ],
    );
    assert_eq!(json_out(&in_env_account)["state"], "missing");
    let in_beta = p.run(
        &m.url,
        false,
        &[],
        &[
            "keys",
            "check",
            "--secret",
            "efactl-profile-key",
            "--profile",
            "beta",
            "--format",
            "json",
        ],
    );
    assert_eq!(json_out(&in_beta)["state"], "ok", "{:?}", text(&in_beta));
}

#[test]
fn a_missing_profile_or_a_malformed_endpoint_is_refused_before_any_call() {
    let Some(m) = moto() else { return };
    let p = Profiles::new(m, "refused");
    // A port nobody listens on: a call would fail with "cannot reach", not with the message
    // asserted, so these errors come before any call.
    let dead = {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}")
    };
    for (env, args) in [
        (vec![], vec!["status", "x", "--profile", "nosuch"]),
        (vec![("AWS_PROFILE", "nosuch")], vec!["status", "x"]),
        (vec![], vec!["destroy", "x", "--yes", "--profile", "nosuch"]),
        (
            vec![],
            vec!["audit", "--vpc", "vpc-1", "--profile", "nosuch"],
        ),
    ] {
        let o = p.run(&dead, true, &env, &args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("the config profile (nosuch) could not be found"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("in account"), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    // Under --format json the error is a document on stdout too.
    let o = p.run(
        &dead,
        true,
        &[],
        &[
            "destroy",
            "x",
            "--yes",
            "--profile",
            "nosuch",
            "--format",
            "json",
        ],
    );
    let v = json_out(&o);
    assert_eq!(v["schema"], "efactl.error/v1");
    assert_eq!(v["command"], "destroy");
    assert_eq!(v["exitCode"], 2);
    assert!(v["error"].as_str().unwrap().contains("(nosuch)"), "{v}");
    assert!(v["hint"].as_str().unwrap().contains("list-profiles"), "{v}");

    for bad in ["not a url", "127.0.0.1:5000", "ftp://127.0.0.1", "http://"] {
        let o = p.run(bad, true, &[], &["status", "x", "--region", "us-east-1"]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("--endpoint-url") && err.contains("is not usable"),
            "{bad}: {err}"
        );
        assert!(
            err.len() < 400 && !err.contains("DispatchFailure"),
            "{bad}: {err}"
        );
    }
}

/// `catalog refresh` reads every type moto knows (AWS's recorded DescribeInstanceTypes
/// answers) into the cache; `catalog show` then names the cache as the row's source; a second
/// region's refresh keeps the cache whole; a file at the cache's path that efactl did not
/// write is left alone.
#[test]
fn catalog_refresh_writes_the_cache_that_show_and_check_read() {
    let Some(m) = moto() else { return };
    let dir = tempdir("catalog");
    let cache = dir.join("cache/instance-types.csv");
    let env = [("EFACTL_CATALOG_CACHE", cache.as_path())];
    let o = efactl_env(
        m,
        Some("eu-north-1"),
        &env,
        &["catalog", "refresh", "--format", "json"],
    );
    let v = json_out(&o);
    assert!(o.status.success(), "{}", text(&o).1);
    let n = v["types"].as_u64().unwrap();
    assert!(n > 1000, "{v}");
    assert_eq!(v["region"], "eu-north-1");
    let written = std::fs::read_to_string(&cache).unwrap();
    assert!(written.starts_with(efactl_core::catalog::CACHE_MARKER));
    let rows = efactl_core::catalog::parse_csv(&written).unwrap();
    assert_eq!(rows.len() as u64, n);
    let p5 = rows.iter().find(|t| t.name == "p5.48xlarge").unwrap();
    assert_eq!(p5.max_efa_interfaces, Some(32));
    assert!(p5
        .sources
        .iter()
        .any(|s| s.starts_with("DescribeInstanceTypes eu-north-1 ")));

    let o = Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(["catalog", "show", "m5.12xlarge", "--format", "json"])
        .env("EFACTL_CATALOG_CACHE", &cache)
        .output()
        .unwrap();
    let v = json_out(&o);
    assert!(o.status.success());
    let t = &v["instanceTypes"][0];
    assert_eq!(t["efaSupported"], false);
    assert_eq!(t["vcpus"], 48);
    assert!(
        t["from"].as_str().unwrap().contains("instance-types.csv"),
        "{t}"
    );

    let o = efactl_env(m, Some("ap-south-1"), &env, &["catalog", "refresh"]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(text(&o)
        .0
        .contains("from DescribeInstanceTypes in ap-south-1"));
    let again = efactl_core::catalog::parse_csv(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert!(again.len() >= rows.len());

    let foreign = dir.join("mine.csv");
    std::fs::write(&foreign, "instance_type\nmy.own\n").unwrap();
    let env = [("EFACTL_CATALOG_CACHE", foreign.as_path())];
    let o = efactl_env(m, Some("eu-north-1"), &env, &["catalog", "refresh"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    assert!(text(&o).1.contains("was not written by efactl"));
    assert_eq!(
        std::fs::read_to_string(&foreign).unwrap(),
        "instance_type\nmy.own\n"
    );
}
