//! `efactl nccl analyze` as users run it: exit codes, the three formats, stdin, gzip and bad
//! input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn efactl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("efactl runs")
}

fn efactl_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("efactl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    // The child may stop reading early (nothing more to do); a broken pipe is fine.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("efactl exits")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn scratch(name: &str, content: &[u8]) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nccl-cli");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let p = dir.join(name);
    std::fs::write(&p, content).expect("scratch file");
    p.to_string_lossy().into_owned()
}

fn corpus(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../efactl-doctor/tests/corpus")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

const HEALTHY: &str = "\
ip-10-0-1-10:1000:1000 [0] NCCL INFO NCCL version 2.18.5+cuda12.2
ip-10-0-1-11:1008:1008 [0] NCCL INFO NCCL version 2.18.5+cuda12.2
ip-10-0-1-10:1000:1100 [0] NCCL INFO NET/Plugin: Failed to find ncclNetPlugin_v8 symbol.
ip-10-0-1-10:1000:1100 [0] NCCL INFO NET/Plugin: Loaded net plugin Libfabric (v7)
ip-10-0-1-10:1000:1100 [0] NCCL INFO NET/OFI Initializing aws-ofi-nccl 1.9.1-aws
ip-10-0-1-10:1000:1100 [0] NCCL INFO NET/OFI Selected provider is efa, fabric is efa (found 4 nics)
ip-10-0-1-11:1008:1108 [0] NCCL INFO NET/OFI Initializing aws-ofi-nccl 1.9.1-aws
ip-10-0-1-11:1008:1108 [0] NCCL INFO NET/OFI Selected provider is efa, fabric is efa (found 4 nics)
ip-10-0-1-10:1000:1100 [0] NCCL INFO Using network Libfabric
ip-10-0-1-11:1008:1108 [0] NCCL INFO Using network Libfabric
ip-10-0-1-10:1000:1100 [0] NCCL INFO comm 0x1 rank 0 nRanks 2 nNodes 2 localRanks 1 localRank 0 MNNVL 0
ip-10-0-1-11:1008:1108 [0] NCCL INFO comm 0x1 rank 1 nRanks 2 nNodes 2 localRanks 1 localRank 0 MNNVL 0
ip-10-0-1-10:1000:1100 [0] NCCL INFO Channel 00/0 : 1[0] -> 0[0] [receive] via NET/Libfabric/0/GDRDMA
ip-10-0-1-11:1008:1108 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[0] [receive] via NET/Libfabric/0/GDRDMA
ip-10-0-1-10:1000:1100 [0] NCCL INFO comm 0x1 rank 0 nranks 2 cudaDev 0 busId 10 - Init COMPLETE
ip-10-0-1-11:1008:1108 [0] NCCL INFO comm 0x1 rank 1 nranks 2 cudaDev 0 busId 10 - Init COMPLETE
";

#[test]
fn healthy_log_exits_0_with_a_verdict_and_a_rank_table() {
    let f = scratch("healthy.log", HEALTHY.as_bytes());
    let o = efactl(&["nccl", "analyze", &f, "--instance-type", "p4d.24xlarge"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.starts_with("verdict: HEALTHY: 2 ranks on 2 hosts"),
        "{out}"
    );
    assert!(out.contains("no findings"), "{out}");
    assert!(out.contains("RANK  HOST"), "{out}");
    assert!(out.contains("ip-10-0-1-11"), "{out}");
}

#[test]
fn findings_exit_1_with_evidence_lines() {
    let f = scratch(
        "socket.log",
        HEALTHY
            .replace(
                "ip-10-0-1-11:1008:1108 [0] NCCL INFO Using network Libfabric",
                "ip-10-0-1-11:1008:1108 [0] NCCL INFO Using network Socket",
            )
            .replace(
                "[receive] via NET/Libfabric/0/GDRDMA\nip-10-0-1-10",
                "[receive] via NET/Socket/0\nip-10-0-1-10",
            )
            .replace(
                "0[0] -> 1[0] [receive] via NET/Libfabric/0/GDRDMA",
                "0[0] -> 1[0] [receive] via NET/Socket/0",
            )
            .as_bytes(),
    );
    let o = efactl(&["nccl", "analyze", &f]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.starts_with("verdict: FAILED:"), "{out}");
    assert!(out.contains("error[NCCL001]"), "{out}");
    assert!(out.contains("socket.log:"), "{out}");
}

#[test]
fn json_has_the_documented_schema() {
    let f = corpus("ofi-663-p5-av-insert-security-group.log");
    let o = efactl(&[
        "nccl",
        "analyze",
        &f,
        "--format",
        "json",
        "--instance-type",
        "p5.48xlarge",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["schema"], "efactl.nccl-analysis/v1");
    assert_eq!(v["tool"]["name"], "efactl");
    assert_eq!(v["verdict"]["status"], "failed");
    assert_eq!(v["verdict"]["rule"], "NCCL005");
    assert!(v["verdict"]["cause"]
        .as_str()
        .is_some_and(|c| c.contains("security group")));
    assert_eq!(v["summary"]["errors"], 1);
    assert_eq!(v["inputs"][0]["lines"], 4);
    assert!(v["inputs"][0]["ncclLines"].as_u64().is_some_and(|n| n > 0));
    let f0 = &v["findings"][0];
    assert_eq!(f0["rule"], "NCCL005");
    assert_eq!(f0["name"], "efa-peer-unreachable");
    assert_eq!(f0["category"], "runtime");
    assert_eq!(f0["location"]["line"], 4);
    assert!(v["ranks"].is_array());
    assert!(v["ncclTests"].is_array());
}

#[test]
fn sarif_lists_the_nccl_rules() {
    let f = corpus("nccl-795-p4d-remote-rank-crashed.log");
    let o = efactl(&["nccl", "analyze", &f, "--format", "sarif"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid SARIF");
    let rules = v["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert!(rules.iter().any(|r| r["id"] == "NCCL008"));
    let res = &v["runs"][0]["results"][0];
    assert_eq!(res["ruleId"], "NCCL008");
    assert!(
        res["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .is_some()
    );
}

#[test]
fn stdin_and_several_files() {
    let o = efactl_stdin(&["nccl", "analyze", "-"], HEALTHY.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let (a, b): (Vec<&str>, Vec<&str>) =
        HEALTHY.lines().partition(|l| l.starts_with("ip-10-0-1-10"));
    let fa = scratch("node0.log", a.join("\n").as_bytes());
    let fb = scratch("node1.log", b.join("\n").as_bytes());
    let o = efactl(&["nccl", "analyze", &fa, &fb, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["inputs"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["ranks"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        v["ranks"][1]["file"]
            .as_str()
            .map(|f| f.ends_with("node1.log")),
        Some(true)
    );
}

#[test]
fn gzip_is_read_directly() {
    let mut gz = Vec::new();
    // A stored (uncompressed) gzip member, written by hand so the test needs no encoder.
    gz.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    let data = HEALTHY.as_bytes();
    let mut block = vec![1u8];
    block.extend_from_slice(&(data.len() as u16).to_le_bytes());
    block.extend_from_slice(&(!(data.len() as u16)).to_le_bytes());
    block.extend_from_slice(data);
    gz.extend_from_slice(&block);
    gz.extend_from_slice(&crc32(data).to_le_bytes());
    gz.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let f = scratch("healthy.log.gz", &gz);
    let o = efactl(&["nccl", "analyze", &f, "--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["inputs"][0]["gzip"], true);
    // Cut short: what was read is analysed, with a warning, and nothing NCCL-like is not claimed.
    let f = scratch("cut.log.gz", &gz[..gz.len() / 2]);
    let o = efactl(&["nccl", "analyze", &f]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("warning"),
        "{o:?}"
    );
    assert!(o.status.code().is_some_and(|c| c == 0 || c == 1 || c == 2));
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn unreadable_or_non_nccl_input_exits_2() {
    let o = efactl(&["nccl", "analyze", "/nonexistent/rank0.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("no such file"), "{}", stdout(&o));
    let f = scratch(
        "garbage.bin",
        &[0u8, 159, 146, 150, 255, 1, 2, 3, 10, 200, 201],
    );
    let o = efactl(&["nccl", "analyze", &f, "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["verdict"]["status"], "unknown");
    assert_eq!(v["findings"][0]["rule"], "NCCL014");
    assert_eq!(v["findings"][0]["category"], "input");
    let f = scratch("empty.log", b"");
    assert_eq!(efactl(&["nccl", "analyze", &f]).status.code(), Some(2));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .to_string_lossy()
        .into_owned();
    assert_eq!(efactl(&["nccl", "analyze", &dir]).status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    let f = scratch("h.log", HEALTHY.as_bytes());
    let o = efactl(&["nccl", "analyze", &f, "--instance-type", "p4d.24xlarg"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("p4d.24xlarge"),
        "{o:?}"
    );
    assert_eq!(efactl(&["nccl", "analyze"]).status.code(), Some(2));
}

#[test]
fn explain_and_rules_know_the_nccl_rules() {
    let o = efactl(&["explain", "NCCL005"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.contains("efa-peer-unreachable") && out.contains("## Fix"),
        "{out}"
    );
    let o = efactl(&["rules"]);
    let out = stdout(&o);
    for id in ["NCCL001", "NCCL007", "NCCL014"] {
        assert!(out.contains(id), "{id} missing from `efactl rules`");
    }
}
