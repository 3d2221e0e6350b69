//! The doctor across real network paths: four hosts in network namespaces that the test
//! creates (veth pairs on a bridge in a switch namespace, addresses 10.99.X.1-4 on that private
//! bridge only), with faults injected by iptables and tc. Under CI these tests must run: they
//! fail, not skip, when namespaces cannot be made.

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT_NET: AtomicU32 = AtomicU32::new(0);

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn ok(args: &[&str]) {
    let o = sh(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Four hosts on one bridge; deleted (with everything in them) when dropped.
struct Fabric {
    tag: String,
    subnet: u32,
    hosts: Vec<String>,
    switch: String,
    procs: Vec<Child>,
}

impl Fabric {
    fn new(n: usize) -> Option<Fabric> {
        let root = unsafe_is_root();
        let can = root
            && sh(&["ip", "netns", "list"]).status.success()
            && sh(&["iptables", "--version"]).status.success();
        if !can {
            if std::env::var_os("CI").is_some() {
                panic!("network-namespace tests need root, iproute2 and iptables (scripts/setup.sh installs them)");
            }
            eprintln!("skipping: network namespaces need root, iproute2 and iptables");
            return None;
        }
        let subnet = 100 + (std::process::id() % 50) * 2 + NEXT_NET.fetch_add(1, Ordering::SeqCst);
        let tag = format!("efd{}x{subnet}", std::process::id() % 100_000);
        let switch = format!("{tag}-sw");
        let mut f = Fabric {
            tag: tag.clone(),
            subnet,
            hosts: Vec::new(),
            switch: switch.clone(),
            procs: Vec::new(),
        };
        ok(&["ip", "netns", "add", &switch]);
        ok(&["ip", "-n", &switch, "link", "set", "lo", "up"]);
        ok(&["ip", "-n", &switch, "link", "add", "br0", "type", "bridge"]);
        ok(&["ip", "-n", &switch, "link", "set", "br0", "up"]);
        for i in 1..=n {
            let ns = format!("{tag}-h{i}");
            ok(&["ip", "netns", "add", &ns]);
            f.hosts.push(ns.clone());
            ok(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            let (v, p) = (format!("v{subnet}h{i}"), format!("p{subnet}h{i}"));
            ok(&[
                "ip", "link", "add", &v, "netns", &ns, "type", "veth", "peer", "name", &p, "netns",
                &switch,
            ]);
            ok(&["ip", "-n", &ns, "link", "set", &v, "name", "eth0"]);
            ok(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.99.{subnet}.{i}/24"),
                "dev",
                "eth0",
            ]);
            ok(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            ok(&[
                "ip", "-n", &switch, "link", "set", &p, "master", "br0", "up",
            ]);
        }
        Some(f)
    }

    fn addr(&self, host: usize) -> String {
        format!("10.99.{}.{}", self.subnet, host + 1)
    }

    /// `ip netns exec` into host `i` (0-based).
    fn exec(&self, i: usize, args: &[&str]) {
        let mut a = vec!["ip", "netns", "exec", &self.hosts[i]];
        a.extend_from_slice(args);
        ok(&a);
    }

    /// Starts one doctor rank per host; rank 0 (host 0) returns its output.
    fn doctor(&mut self, extra: &[&str]) -> Output {
        let n = self.hosts.len().to_string();
        let coord = format!("{}:29417", self.addr(0));
        let exe = env!("CARGO_BIN_EXE_efactl");
        let mut rank0 = None;
        for (r, ns) in self.hosts.clone().iter().enumerate() {
            let bind = self.addr(r);
            let rank = r.to_string();
            let mut c = Command::new("ip");
            c.args([
                "netns", "exec", ns, exe, "doctor", "--rank", &rank, "--size", &n,
            ])
            .args([
                "--coordinator",
                &coord,
                "--bind",
                &bind,
                "--data-port",
                "29600",
            ])
            .args([
                "--rendezvous",
                "20",
                "--probe-timeout",
                "1000",
                "--format",
                "json",
            ])
            .args(extra)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(if r == 0 {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped());
            let child = c.spawn().unwrap();
            if r == 0 {
                rank0 = Some(child);
            } else {
                self.procs.push(child);
            }
        }
        let out = rank0.unwrap().wait_with_output().unwrap();
        for p in &mut self.procs {
            let _ = p.wait();
        }
        out
    }
}

impl Drop for Fabric {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
        for ns in self.hosts.iter().chain(std::iter::once(&self.switch)) {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
        let _ = &self.tag;
    }
}

fn unsafe_is_root() -> bool {
    // No libc dependency for one call: ask id(1).
    sh(&["id", "-u"]).stdout.starts_with(b"0")
}

fn report(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn bad_cells(v: &serde_json::Value) -> Vec<(u64, u64, String)> {
    v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] != "ok")
        .map(|c| {
            (
                c["from"].as_u64().unwrap(),
                c["to"].as_u64().unwrap(),
                c["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_dropped_direction_is_exactly_one_timeout_cell() {
    let Some(mut f) = Fabric::new(4) else { return };
    // Host 3 (rank 2) drops what rank 0 sends to the data port: one direction of one pair.
    let src = f.addr(0);
    f.exec(
        2,
        &[
            "iptables", "-A", "INPUT", "-p", "tcp", "-s", &src, "--dport", "29600", "-j", "DROP",
        ],
    );
    let start = Instant::now();
    let o = f.doctor(&["--stages", "connectivity"]);
    assert!(start.elapsed() < Duration::from_secs(60));
    let v = report(&o);
    assert_eq!(bad_cells(&v), vec![(0, 2, "timeout".to_string())]);
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0]["rule"], "DOC010");
    let m = findings[0]["message"].as_str().unwrap();
    assert!(
        m.contains("rank 0")
            && m.contains("rank 2")
            && m.contains("29600")
            && m.contains("other direction works"),
        "{m}"
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_rejected_pair_is_refused() {
    let Some(mut f) = Fabric::new(4) else { return };
    let src = f.addr(1);
    f.exec(
        2,
        &[
            "iptables",
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "-s",
            &src,
            "--dport",
            "29600",
            "-j",
            "REJECT",
            "--reject-with",
            "tcp-reset",
        ],
    );
    let v = report(&f.doctor(&["--stages", "connectivity"]));
    assert_eq!(bad_cells(&v), vec![(1, 2, "refused".to_string())]);
    assert_eq!(v["findings"][0]["rule"], "DOC011");
}

#[test]
fn a_node_that_reaches_no_one_is_named_as_the_row() {
    let Some(mut f) = Fabric::new(4) else { return };
    // Rank 3's egress to the data port is closed: a whole row.
    f.exec(
        3,
        &[
            "iptables", "-A", "OUTPUT", "-p", "tcp", "--dport", "29600", "-j", "DROP",
        ],
    );
    let v = report(&f.doctor(&["--stages", "connectivity"]));
    let cells = bad_cells(&v);
    assert_eq!(cells.len(), 3);
    assert!(cells
        .iter()
        .all(|(from, _, s)| *from == 3 && s == "timeout"));
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(findings[0]["message"]
        .as_str()
        .unwrap()
        .contains("outbound path is closed"));
}

#[test]
fn a_rate_limited_host_is_the_slow_one() {
    let Some(mut f) = Fabric::new(4) else { return };
    // Shape both directions of host 4's link (rank 3): its eth0 and the switch port facing it.
    f.exec(
        3,
        &[
            "tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "200mbit", "burst", "64kb",
            "latency", "100ms",
        ],
    );
    let port = format!("p{}h4", f.subnet);
    ok(&[
        "ip", "netns", "exec", &f.switch, "tc", "qdisc", "add", "dev", &port, "root", "tbf",
        "rate", "200mbit", "burst", "64kb", "latency", "100ms",
    ]);
    let v = report(&f.doctor(&["--stages", "bandwidth", "--duration", "1", "--streams", "2"]));
    let slow: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule"] == "DOC013")
        .collect();
    assert_eq!(slow.len(), 1, "{:#?}", v["findings"]);
    let m = slow[0]["message"].as_str().unwrap();
    assert!(m.starts_with("rank 3"), "{m}");
    for b in v["bandwidth"].as_array().unwrap() {
        let touches = b["from"] == 3 || b["to"] == 3;
        let g = b["gbps"].as_f64().unwrap();
        if touches {
            assert!(g < 0.3, "{b}");
        } else {
            assert!(g > 0.5, "{b}");
        }
    }
}
