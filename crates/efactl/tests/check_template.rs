//! `efactl check` on CloudFormation templates: the one efactl renders, read back, and one a user
//! already has; the same exit codes and formats as for a spec.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn efactl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("efactl runs")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("check-template");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_rendered_template_checks_clean_and_its_broken_twin_fails() {
    let out = scratch().join("c5n");
    let spec = root().join("examples/c5n-mpi.yaml");
    let o = efactl(&[
        "render",
        spec.to_str().unwrap(),
        "--target",
        "cfn",
        "--out",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let template = out.join("cloudformation.yaml");
    let o = efactl(&["check", template.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("no findings"));

    // From stdin too.
    let mut child = Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(["check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&template).unwrap())
        .unwrap();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(0));

    // Without the self egress: exit 1, EFA002 at the group, in every format.
    let text = std::fs::read_to_string(&template).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "  EfaSecurityGroupEgressSelf:")
        .unwrap();
    let end = start
        + 1
        + lines[start + 1..]
            .iter()
            .position(|l| !l.starts_with("   "))
            .unwrap();
    let broken: Vec<&str> = lines[..start]
        .iter()
        .chain(&lines[end..])
        .copied()
        .collect();
    let broken_path = scratch().join("broken.yaml");
    std::fs::write(&broken_path, broken.join("\n") + "\n").unwrap();
    let group_line = broken
        .iter()
        .position(|l| *l == "  EfaSecurityGroup:")
        .unwrap()
        + 2;
    let o = efactl(&["check", broken_path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["rule"], "EFA002", "{v:#}");
    assert_eq!(f["path"], "Resources.EfaSecurityGroup", "{v:#}");
    assert_eq!(f["location"]["line"], group_line, "{v:#}");
    assert!(f["help"]
        .as_str()
        .unwrap()
        .contains("AWS::EC2::SecurityGroupEgress"));
    let o = efactl(&["check", broken_path.to_str().unwrap()]);
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(
        human.contains(&format!("broken.yaml:{group_line}:5")),
        "{human}"
    );
    let o = efactl(&["check", broken_path.to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_users_hyperpod_vpc_template_checks_clean() {
    let t = root().join("crates/efactl-core/tests/fixtures/cfn/hyperpod-vpc-quickstart.yaml");
    let o = efactl(&["check", t.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
