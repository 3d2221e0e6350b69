//! `efactl doctor` end to end on this host: --local ranks over loopback, fixture node trees,
//! ranks that never arrive or die mid-run. Every run is bounded in time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn efactl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args(args)
        .env("NO_COLOR", "1")
        // Tests never ask the instance metadata service.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("efactl runs")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn rules(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

const QUICK: &[&str] = &[
    "--duration",
    "0.3",
    "--sizes",
    "256K,1M",
    "--iters",
    "2",
    "--format",
    "json",
];

fn local(n: usize) -> serde_json::Value {
    let n = n.to_string();
    let mut args = vec!["doctor", "--local", &n];
    args.extend_from_slice(QUICK);
    let start = Instant::now();
    let o = efactl(&args);
    let v = json(&o);
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "--local {n} took {:?}",
        start.elapsed()
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "--local {n}: {}",
        serde_json::to_string_pretty(&v["findings"]).unwrap()
    );
    v
}

fn assert_all_stages_pass(v: &serde_json::Value, n: usize) {
    assert_eq!(v["schema"], "efactl.doctor/v2");
    assert_eq!(v["verdict"], "healthy", "{}", v["findings"]);
    assert_eq!(v["size"], n);
    assert!(v["missing"].as_object().unwrap().is_empty());
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(
        cells.len(),
        n * (n - 1),
        "one data-port probe per ordered pair"
    );
    assert!(cells.iter().all(|c| c["state"] == "ok"));
    // Round-robin: every unordered pair once in latency, twice (both directions) in bandwidth.
    assert_eq!(v["latency"].as_array().unwrap().len(), n * (n - 1) / 2);
    assert_eq!(v["bandwidth"].as_array().unwrap().len(), n * (n - 1));
    let ar = v["allreduce"].as_array().unwrap();
    assert_eq!(ar.len(), n, "every rank reports its all-reduce");
    for rank in ar {
        for size in rank[1].as_array().unwrap() {
            assert_eq!(size["correct"], true, "{size}");
        }
    }
}

#[test]
fn two_ranks() {
    assert_all_stages_pass(&local(2), 2);
}

#[test]
fn four_ranks() {
    assert_all_stages_pass(&local(4), 4);
}

#[test]
fn sixteen_ranks() {
    // All stages, with the pairing sampled so the test stays short on two cores.
    let o = efactl(&[
        "doctor",
        "--local",
        "16",
        "--pairs",
        "3",
        "--duration",
        "0.1",
        "--sizes",
        "64K,256K",
        "--iters",
        "1",
        "--format",
        "json",
    ]);
    let v = json(&o);
    assert_eq!(o.status.code(), Some(0), "{}", v["findings"]);
    assert_eq!(v["cells"].as_array().unwrap().len(), 16 * 15);
    assert!(v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["state"] == "ok"));
    assert_eq!(
        v["latency"].as_array().unwrap().len(),
        3 * 8,
        "3 rounds of 8 pairs"
    );
    assert_eq!(v["allreduce"].as_array().unwrap().len(), 16);
}

#[test]
fn closed_extra_port_is_refused_but_not_a_finding() {
    // A port nothing listens on: the path is open (refused), which is what the user needs.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let o = efactl(&[
        "doctor",
        "--local",
        "3",
        "--ports",
        &closed,
        "--stages",
        "connectivity",
        "--format",
        "json",
    ]);
    let v = json(&o);
    assert_eq!(o.status.code(), Some(0));
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3 * 2 * 2);
    assert_eq!(cells.iter().filter(|c| c["state"] == "refused").count(), 6);
    assert!(rules(&v).is_empty());
}

#[test]
fn missing_ranks_are_named_within_the_deadline() {
    let start = Instant::now();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let o = efactl(&[
        "doctor",
        "--rank",
        "0",
        "--size",
        "3",
        "--coordinator",
        &format!("127.0.0.1:{port}"),
        "--rendezvous",
        "1.5",
        "--format",
        "json",
    ]);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );
    let v = json(&o);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(v["verdict"], "failed");
    let missing = v["missing"].as_object().unwrap();
    assert_eq!(missing.keys().collect::<Vec<_>>(), vec!["1", "2"]);
    assert!(rules(&v).iter().filter(|r| *r == "DOC001").count() == 2);
    assert!(v["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("never arrived"));
}

#[test]
fn a_rank_without_its_coordinator_gives_up_in_time() {
    let start = Instant::now();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let o = efactl(&[
        "doctor",
        "--rank",
        "1",
        "--size",
        "2",
        "--coordinator",
        &format!("127.0.0.1:{port}"),
        "--rendezvous",
        "1",
    ]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("could not be reached"));
}

#[test]
fn a_rank_killed_mid_run_is_named() {
    let dir = scratch("kill");
    let pids = dir.join("pids");
    let child = Command::new(env!("CARGO_BIN_EXE_efactl"))
        .args([
            "doctor",
            "--local",
            "4",
            "--stages",
            "bandwidth",
            "--duration",
            "3",
            "--format",
            "json",
        ])
        .arg("--pids-to")
        .arg(&pids)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let victim = loop {
        if let Ok(text) = std::fs::read_to_string(&pids) {
            if let Some(line) = text.lines().find(|l| l.starts_with("2 ")) {
                break line[2..].trim().to_string();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "ranks never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Into the first bandwidth round, then kill rank 2.
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill").args(["-9", &victim]).status().unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(90),
        "took {:?}",
        start.elapsed()
    );
    let v = json(&o);
    assert_eq!(o.status.code(), Some(1));
    let missing = v["missing"].as_object().unwrap();
    assert!(missing.contains_key("2"), "{v}");
    assert!(
        missing["2"].as_str().unwrap().contains("bandwidth"),
        "{}",
        missing["2"]
    );
    assert!(rules(&v).contains(&"DOC001".to_string()));
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("doctor-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_tree(root: &Path, files: &[(String, String)]) {
    for (p, content) in files {
        let path = root.join(p.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// A p5.48xlarge node tree with `efa` EFA devices.
fn p5_tree(name: &str, efa: usize, ptrace: u32, devices: bool) -> PathBuf {
    let root = scratch(name);
    let mut files: Vec<(String, String)> = vec![
        ("/proc/sys/kernel/hostname".into(), format!("{name}\n")),
        (
            "/proc/sys/kernel/yama/ptrace_scope".into(),
            format!("{ptrace}\n"),
        ),
        ("/proc/meminfo".into(), "HugePages_Total:    5128\n".into()),
        (
            "/proc/self/limits".into(),
            "Max locked memory         unlimited            unlimited            bytes\n".into(),
        ),
        (
            "/opt/amazon/ofi-nccl/lib/libnccl-net.so".into(),
            String::new(),
        ),
    ];
    let mut fi = String::new();
    for i in 0..efa {
        files.push((
            format!("/sys/class/infiniband/rdmap{i}s0/node_type"),
            "1\n".into(),
        ));
        if devices {
            files.push((format!("/dev/infiniband/uverbs{i}"), String::new()));
        }
        fi.push_str("provider: efa\n    fabric: efa\n");
    }
    for g in 0..8 {
        files.push((format!("/dev/nvidia{g}"), String::new()));
    }
    files.push(("/efactl-fixtures/fi_info-efa.txt".into(), fi));
    write_tree(&root, &files);
    root
}

fn node_stage(root: &Path) -> serde_json::Value {
    let o = efactl(&[
        "doctor",
        "--local",
        "1",
        "--stages",
        "node",
        "--instance-type",
        "p5.48xlarge",
        "--sysroot",
        &root.to_string_lossy(),
        "--format",
        "json",
    ]);
    json(&o)
}

#[test]
fn node_checks_on_fixture_trees() {
    let healthy = node_stage(&p5_tree("healthy-p5", 32, 0, true));
    assert!(rules(&healthy).is_empty(), "{}", healthy["findings"]);
    assert_eq!(
        healthy["nodes"][0][1]["efaDevices"]
            .as_array()
            .unwrap()
            .len(),
        32
    );

    let two_missing = node_stage(&p5_tree("p5-missing-two", 30, 0, true));
    let f = &two_missing["findings"][0];
    assert_eq!(f["rule"], "DOC002");
    assert!(
        f["message"].as_str().unwrap().contains("30 of the 32"),
        "{f}"
    );

    let container = node_stage(&p5_tree("container", 0, 0, false));
    assert!(rules(&container).contains(&"DOC002".to_string()));
    assert!(
        rules(&container).contains(&"DOC003".to_string()),
        "fi_info lists no efa provider: {}",
        container["findings"]
    );

    let ptrace = node_stage(&p5_tree("ptrace-on", 32, 1, true));
    assert_eq!(rules(&ptrace), vec!["DOC006"]);
}

#[test]
fn plot_and_launch_templates() {
    let dir = scratch("plot");
    let svg = dir.join("m.svg");
    let o = efactl(&[
        "doctor",
        "--local",
        "3",
        "--stages",
        "connectivity,latency",
        "--plot",
        &svg.to_string_lossy(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<!-- efactl doctor --plot -->\n<svg")
            && text.contains("connectivity")
            && text.trim_end().ends_with("</svg>")
    );
    assert_eq!(
        text.matches("<rect").count(),
        1 + 3 * 9,
        "background + three 3x3 grids"
    );
    for engine in ["slurm", "mpirun", "torchrun", "k8s"] {
        let o = efactl(&["doctor", "launch", engine, "--nodes", "4"]);
        assert_eq!(o.status.code(), Some(0));
        let t = String::from_utf8_lossy(&o.stdout);
        assert!(t.contains("efactl") && t.contains('4'), "{engine}: {t}");
    }
}

#[test]
fn human_report_leads_with_the_verdict() {
    let o = efactl(&[
        "doctor",
        "--local",
        "2",
        "--stages",
        "connectivity,allreduce",
        "--sizes",
        "64K",
        "--iters",
        "1",
    ]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(
        t.starts_with("efactl doctor: HEALTHY (2 of 2 ranks, via local"),
        "{t}"
    );
    assert!(t.contains("busbw (GB/s)"), "{t}");
}

#[test]
fn ranks_end_when_the_coordinator_dies() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let coord = format!("127.0.0.1:{port}");
    let spawn = |rank: &str| {
        Command::new(env!("CARGO_BIN_EXE_efactl"))
            .args([
                "doctor",
                "--rank",
                rank,
                "--size",
                "2",
                "--coordinator",
                &coord,
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--stages",
                "bandwidth",
                "--duration",
                "5",
                "--format",
                "json",
            ])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut rank0 = spawn("0");
    let rank1 = spawn("1");
    // Let the rendezvous finish and the first bandwidth direction start, then kill rank 0.
    std::thread::sleep(Duration::from_millis(2500));
    rank0.kill().unwrap();
    let _ = rank0.wait();
    let start = Instant::now();
    let o = rank1.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "rank 1 outlived its coordinator by {:?}",
        start.elapsed()
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("lost the coordinator"), "{err}");
}
