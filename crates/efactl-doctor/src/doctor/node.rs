//! Stage 1: what one node looks like from the inside. Every path is read under a sysroot, so
//! the checks run on fixture trees in tests (a healthy p5, one missing EFA devices, a container
//! without /dev/infiniband) exactly as on a node.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeReport {
    pub hostname: String,
    pub instance_type: Option<String>,
    /// RDMA devices under /sys/class/infiniband whose name says EFA (`efa_0`, `rdmap…`).
    pub efa_devices: Vec<String>,
    /// /dev/infiniband/uverbs* character devices (what a container must be given).
    pub uverbs_devices: usize,
    /// EFA providers `fi_info -p efa` listed; None when fi_info is not installed.
    pub fi_info_efa: Option<usize>,
    /// The NCCL net plugin library NCCL would load, if found.
    pub nccl_net_plugin: Option<String>,
    pub ptrace_scope: Option<u32>,
    pub hugepages_total: Option<u64>,
    /// Max locked memory in bytes (None = unlimited).
    pub memlock_bytes: Option<u64>,
    pub memlock_unlimited: bool,
    pub nvidia_gpus: usize,
    pub neuron_devices: usize,
    /// Interface name -> MTU, for interfaces that are up and not loopback.
    pub mtu: Vec<(String, u32)>,
    /// NCCL_* / FI_* / RDMAV_* variables of the rank's environment.
    pub env: Vec<(String, String)>,
    /// Problems reading the node (unreadable files), for the report.
    pub notes: Vec<String>,
}

pub struct NodeProbe<'a> {
    pub sysroot: &'a Path,
    pub env: &'a [(String, String)],
    /// Overrides IMDS.
    pub instance_type: Option<String>,
    /// Allow asking IMDSv2 for the instance type (never in tests).
    pub use_imds: bool,
}

fn at(root: &Path, p: &str) -> PathBuf {
    root.join(p.trim_start_matches('/'))
}

fn read(root: &Path, p: &str) -> Option<String> {
    std::fs::read_to_string(at(root, p)).ok()
}

pub fn inspect(p: &NodeProbe<'_>) -> NodeReport {
    let root = p.sysroot;
    let mut r = NodeReport {
        hostname: read(root, "/proc/sys/kernel/hostname")
            .or_else(|| read(root, "/etc/hostname"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        ..NodeReport::default()
    };
    r.instance_type = p.instance_type.clone().or_else(|| {
        if p.use_imds {
            super::imds::instance_type(Duration::from_secs(1))
        } else {
            None
        }
    });

    if let Ok(entries) = std::fs::read_dir(at(root, "/sys/class/infiniband")) {
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("efa") || n.starts_with("rdmap"))
            .collect();
        names.sort();
        r.efa_devices = names;
    }
    if let Ok(entries) = std::fs::read_dir(at(root, "/dev/infiniband")) {
        r.uverbs_devices = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("uverbs"))
            .count();
    }
    r.fi_info_efa = fi_info_efa(root);
    r.nccl_net_plugin = find_plugin(root, p.env);
    r.ptrace_scope =
        read(root, "/proc/sys/kernel/yama/ptrace_scope").and_then(|s| s.trim().parse().ok());
    r.hugepages_total = read(root, "/proc/meminfo").and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("HugePages_Total:"))
            .and_then(|v| v.trim().parse().ok())
    });
    if let Some(limits) = read(root, "/proc/self/limits") {
        if let Some(line) = limits.lines().find(|l| l.starts_with("Max locked memory")) {
            // "Max locked memory  <soft>  <hard>  bytes"
            let soft = line["Max locked memory".len()..]
                .split_whitespace()
                .next()
                .unwrap_or("");
            if soft == "unlimited" {
                r.memlock_unlimited = true;
            } else {
                r.memlock_bytes = soft.parse().ok();
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(at(root, "/dev")) {
        for e in entries.filter_map(|e| e.ok()) {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("nvidia") && n[6..].chars().all(|c| c.is_ascii_digit()) && n.len() > 6
            {
                r.nvidia_gpus += 1;
            }
            if n.starts_with("neuron") && n[6..].chars().all(|c| c.is_ascii_digit()) && n.len() > 6
            {
                r.neuron_devices += 1;
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(at(root, "/sys/class/net")) {
        let mut mtus: Vec<(String, u32)> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "lo")
            .filter(|n| {
                read(root, &format!("/sys/class/net/{n}/operstate"))
                    .is_none_or(|s| s.trim() != "down")
            })
            .filter_map(|n| {
                let m = read(root, &format!("/sys/class/net/{n}/mtu"))?
                    .trim()
                    .parse()
                    .ok()?;
                Some((n, m))
            })
            .collect();
        mtus.sort();
        r.mtu = mtus;
    }
    r.env = p
        .env
        .iter()
        .filter(|(k, _)| {
            k.starts_with("NCCL_")
                || k.starts_with("FI_")
                || k.starts_with("RDMAV_")
                || k.starts_with("OFI_NCCL_")
        })
        .cloned()
        .collect();
    r.env.sort();
    r
}

/// Runs `fi_info -p efa -t FI_EP_RDM` (bounded in time) and counts the providers listed.
fn fi_info_efa(root: &Path) -> Option<usize> {
    // Under a sysroot, a fixture file stands in for the command's output.
    let fixture = at(root, "/efactl-fixtures/fi_info-efa.txt");
    let text = if root != Path::new("/") {
        std::fs::read_to_string(fixture).ok()?
    } else {
        let bin = ["/opt/amazon/efa/bin/fi_info", "/usr/bin/fi_info"]
            .into_iter()
            .find(|b| Path::new(b).exists())?;
        run_bounded(
            bin,
            &["-p", "efa", "-t", "FI_EP_RDM"],
            Duration::from_secs(10),
        )?
    };
    Some(
        text.lines()
            .filter(|l| l.trim_start().starts_with("provider: efa"))
            .count(),
    )
}

/// Runs a command with a deadline; kills it when it overstays.
fn run_bounded(bin: &str, args: &[&str], limit: Duration) -> Option<String> {
    let mut child = std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()?
        .take(4 << 20)
        .read_to_string(&mut out)
        .ok()?;
    Some(out)
}

/// Where NCCL would find its net plugin: NCCL_NET_PLUGIN's name, else libnccl-net.so, on
/// LD_LIBRARY_PATH and the install locations AWS images use.
fn find_plugin(root: &Path, env: &[(String, String)]) -> Option<String> {
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let names: Vec<String> = match get("NCCL_NET_PLUGIN") {
        Some("none") => return None,
        Some(p) if p.contains('/') => vec![p.to_string()],
        Some(p) => vec![p.to_string(), format!("libnccl-net-{p}.so")],
        None => vec!["libnccl-net.so".into(), "libnccl-net-ofi.so".into()],
    };
    let mut dirs: Vec<String> = get("LD_LIBRARY_PATH")
        .map(|p| {
            p.split(':')
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    dirs.extend(
        [
            "/opt/amazon/ofi-nccl/lib",
            "/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu",
            "/opt/amazon/ofi-nccl/lib64",
            "/opt/aws-ofi-nccl/lib",
            "/opt/aws-ofi-nccl/install/lib",
            "/usr/local/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib64",
        ]
        .map(str::to_string),
    );
    for n in &names {
        if n.starts_with('/') && at(root, n).exists() {
            return Some(n.clone());
        }
        for d in &dirs {
            let p = format!("{}/{n}", d.trim_end_matches('/'));
            if at(root, &p).exists() {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Fixture node trees, written by tests into a temp dir.
    use std::path::Path;

    pub fn write(root: &Path, files: &[(&str, &str)]) {
        for (p, content) in files {
            let path = root.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }

    /// A p5.48xlarge as AWS's DLAMI sets it up, with `efa` EFA devices.
    pub fn healthy_p5(root: &Path, efa: usize) {
        let mut files: Vec<(String, String)> = vec![
            ("/proc/sys/kernel/hostname".into(), "p5-node-1\n".into()),
            ("/proc/sys/kernel/yama/ptrace_scope".into(), "0\n".into()),
            ("/proc/meminfo".into(), "MemTotal: 2097152000 kB\nHugePages_Total:    5128\n".into()),
            (
                "/proc/self/limits".into(),
                "Limit                     Soft Limit           Hard Limit           Units\nMax locked memory         unlimited            unlimited            bytes\n".into(),
            ),
            ("/opt/amazon/ofi-nccl/lib/libnccl-net.so".into(), String::new()),
            ("/sys/class/net/ens32/mtu".into(), "9001\n".into()),
            ("/sys/class/net/ens32/operstate".into(), "up\n".into()),
        ];
        let mut fi = String::new();
        for i in 0..efa {
            files.push((
                format!("/sys/class/infiniband/rdmap{i}s0/node_type"),
                "1\n".into(),
            ));
            files.push((format!("/dev/infiniband/uverbs{i}"), String::new()));
            fi.push_str(&format!(
                "provider: efa\n    fabric: efa\n    domain: rdmap{i}s0-rdm\n"
            ));
        }
        for g in 0..8 {
            files.push((format!("/dev/nvidia{g}"), String::new()));
        }
        files.push(("/efactl-fixtures/fi_info-efa.txt".into(), fi));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        write(root, &refs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(root: &Path, env: &[(String, String)]) -> NodeReport {
        inspect(&NodeProbe {
            sysroot: root,
            env,
            instance_type: Some("p5.48xlarge".into()),
            use_imds: false,
        })
    }

    #[test]
    fn healthy_p5_tree_reads_fully() {
        let dir = tempdir("healthy");
        fixtures::healthy_p5(&dir, 32);
        let r = probe(&dir, &[]);
        assert_eq!(r.hostname, "p5-node-1");
        assert_eq!(r.efa_devices.len(), 32);
        assert_eq!(r.uverbs_devices, 32);
        assert_eq!(r.fi_info_efa, Some(32));
        assert_eq!(
            r.nccl_net_plugin.as_deref(),
            Some("/opt/amazon/ofi-nccl/lib/libnccl-net.so")
        );
        assert_eq!(
            (r.ptrace_scope, r.hugepages_total, r.memlock_unlimited),
            (Some(0), Some(5128), true)
        );
        assert_eq!(r.nvidia_gpus, 8);
        assert_eq!(r.mtu, vec![("ens32".to_string(), 9001)]);
    }

    #[test]
    fn container_without_devices_and_plugin_off() {
        let dir = tempdir("container");
        fixtures::write(
            &dir,
            &[(
                "/proc/self/limits",
                "Max locked memory         65536                65536                bytes\n",
            )],
        );
        let env = vec![("NCCL_NET_PLUGIN".to_string(), "none".to_string())];
        let r = probe(&dir, &env);
        assert!(r.efa_devices.is_empty());
        assert_eq!(r.uverbs_devices, 0);
        assert_eq!(r.fi_info_efa, None);
        assert_eq!(r.nccl_net_plugin, None);
        assert_eq!(r.memlock_bytes, Some(65536));
        assert_eq!(r.env, env);
    }

    pub(crate) fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("efactl-node-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
