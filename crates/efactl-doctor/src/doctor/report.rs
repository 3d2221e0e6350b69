//! What the coordinator learned: the raw results of every stage, the findings they imply and
//! a verdict, rendered for people (summary first, then tables) and as JSON (stable schema
//! `efactl.doctor/v2`; v1 had snake_case keys).

use super::allreduce::{bandwidths, SizeResult};
use super::node::NodeReport;
use super::perf::{BandwidthResult, LatencyResult};
use super::probe::{Cell, CellState};
use super::{Config, PeerInfo};
use efactl_core::finding::{sort_findings, Category, Finding, Severity, Subject};
use efactl_core::rules::{self, Rule};
use efactl_core::Catalog;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

pub const SCHEMA: &str = "efactl.doctor/v2";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema: &'static str,
    pub version: &'static str,
    pub size: usize,
    pub engine: String,
    pub verdict: &'static str,
    pub cause: Option<String>,
    pub peers: Vec<PeerInfo>,
    /// Ranks that never arrived or stopped answering, with why.
    pub missing: BTreeMap<usize, String>,
    pub nodes: Vec<(usize, NodeReport)>,
    pub ports: Vec<u16>,
    pub cells: Vec<Cell>,
    pub latency: Vec<LatencyResult>,
    pub bandwidth: Vec<BandwidthResult>,
    pub ring: Vec<usize>,
    pub allreduce: Vec<(usize, Vec<SizeResult>)>,
    pub allreduce_errors: Vec<(usize, String)>,
    pub rendezvous_seconds: f64,
    pub stage_seconds: Vec<(String, f64)>,
    pub total_seconds: f64,
    pub findings: Vec<Finding>,
    pub problems: Vec<String>,
    /// All ranks on one host (`--local`).
    pub local: bool,
    #[serde(skip)]
    instance_type: Option<String>,
    #[serde(skip)]
    local_addrs: Vec<IpAddr>,
}

impl Report {
    pub fn new(size: usize, cfg: &Config) -> Report {
        Report {
            schema: SCHEMA,
            version: efactl_core::VERSION,
            size,
            engine: String::new(),
            verdict: "healthy",
            cause: None,
            peers: Vec::new(),
            missing: BTreeMap::new(),
            nodes: Vec::new(),
            ports: cfg.ports.clone(),
            cells: Vec::new(),
            latency: Vec::new(),
            bandwidth: Vec::new(),
            ring: Vec::new(),
            allreduce: Vec::new(),
            allreduce_errors: Vec::new(),
            rendezvous_seconds: 0.0,
            stage_seconds: Vec::new(),
            total_seconds: 0.0,
            findings: Vec::new(),
            problems: Vec::new(),
            instance_type: cfg.instance_type.clone(),
            local: cfg.local,
            local_addrs: Vec::new(),
        }
    }

    pub(super) fn note_local_addr(&mut self, a: Option<IpAddr>) {
        if let Some(a) = a {
            if !self.local_addrs.contains(&a) {
                self.local_addrs.push(a);
            }
        }
    }

    pub(super) fn lost(&mut self, rank: usize, why: &str) {
        self.missing.entry(rank).or_insert_with(|| why.to_string());
    }

    fn host(&self, rank: usize) -> String {
        self.peers
            .iter()
            .find(|p| p.rank == rank)
            .map(|p| {
                if p.host == p.addr.to_string() {
                    format!("rank {rank} ({})", p.addr)
                } else {
                    format!("rank {rank} ({}, {})", p.host, p.addr)
                }
            })
            .unwrap_or_else(|| format!("rank {rank}"))
    }

    fn add(&mut self, rule: &Rule, subject: Subject, message: String, help: Option<String>) {
        self.findings.push(Finding {
            rule: rule.id.into(),
            name: rule.name.into(),
            severity: rule.severity,
            category: Category::Runtime,
            subject,
            message,
            help,
        });
    }

    /// Computes findings and the verdict from the raw results.
    pub fn finish(&mut self) {
        use efactl_core::rules::doctor as d;
        self.cells.sort_by_key(|c| (c.from, c.to, c.port));
        self.latency.sort_by_key(|l| (l.from, l.to));
        self.bandwidth.sort_by_key(|b| (b.from, b.to));
        let catalog = Catalog::bundled();
        for (r, why) in self.missing.clone() {
            let who = self.host(r);
            self.add(
                &d::rank_missing::RULE,
                Subject::resource(format!("rank {r}")),
                format!("{who} {why}"),
                Some("check that the process started on that node (launcher logs), that it can reach rank 0's coordinator port, and that it did not crash".into()),
            );
        }
        self.node_findings(catalog);
        self.connectivity_findings();
        self.test_failures();
        if self.local {
            self.problems.push(
                "performance outliers are not judged on a --local run: every rank shares this host's CPUs and loopback".into(),
            );
        } else {
            self.perf_findings(catalog);
        }
        self.allreduce_findings();
        sort_findings(&mut self.findings);
        let worst = self.findings.iter().map(|f| f.severity).max();
        self.verdict = match worst {
            Some(Severity::Error) => "failed",
            Some(Severity::Warning) => "degraded",
            _ => "healthy",
        };
        self.cause = self
            .findings
            .first()
            .filter(|f| f.severity >= Severity::Warning)
            .map(|f| f.message.clone());
    }

    fn node_findings(&mut self, catalog: &Catalog) {
        use efactl_core::rules::doctor as d;
        let nodes = self.nodes.clone();
        for (rank, n) in &nodes {
            let who = self.host(*rank);
            let subject = Subject::resource(format!("rank {rank}"));
            let itype = n
                .instance_type
                .clone()
                .or_else(|| self.instance_type.clone());
            let expected = itype.as_deref().and_then(|t| catalog.get(t));
            if let Some(t) = expected {
                let want = t.max_efa_interfaces.unwrap_or(0) as usize;
                if t.supports_efa() && n.efa_devices.len() < want {
                    self.add(
                        &d::efa_devices_missing::RULE,
                        subject.clone(),
                        format!("{who} sees {} of the {want} EFA devices a {} has", n.efa_devices.len(), t.name),
                        Some(if n.efa_devices.is_empty() && n.uverbs_devices == 0 {
                            "no EFA device at all: in a container, pass /dev/infiniband (the EFA device plugin's vpc.amazonaws.com/efa resource); on the host, launch with EFA interfaces and install the EFA driver".into()
                        } else {
                            "launch with one EFA interface per network card (efactl check on the spec names the layout)".into()
                        }),
                    );
                }
                if t.supports_efa() && n.fi_info_efa == Some(0) {
                    self.add(
                        &d::efa_provider_missing::RULE,
                        subject.clone(),
                        format!("{who}: `fi_info -p efa` lists no EFA provider"),
                        Some("install the EFA software (efa-installer) or make /opt/amazon/efa/lib visible to the job".into()),
                    );
                }
                if t.supports_efa()
                    && t.accelerator
                        .as_deref()
                        .is_some_and(|a| a.starts_with("nvidia"))
                    && n.nccl_net_plugin.is_none()
                {
                    self.add(
                        &d::nccl_net_plugin_missing::RULE,
                        subject.clone(),
                        format!("{who}: NCCL's net plugin (aws-ofi-nccl, libnccl-net.so) is not findable, so NCCL will use TCP sockets"),
                        Some("add the plugin's directory (e.g. /opt/amazon/ofi-nccl/lib) to LD_LIBRARY_PATH".into()),
                    );
                }
                let want_gpus = t.accelerator_count.unwrap_or(0) as usize;
                let seen = if t
                    .accelerator
                    .as_deref()
                    .is_some_and(|a| a.starts_with("nvidia"))
                {
                    Some(n.nvidia_gpus)
                } else if t
                    .accelerator
                    .as_deref()
                    .is_some_and(|a| a.starts_with("trainium") || a.starts_with("inferentia"))
                {
                    Some(n.neuron_devices)
                } else {
                    None
                };
                if let Some(seen) = seen {
                    if seen < want_gpus {
                        self.add(
                            &d::accelerators_missing::RULE,
                            subject.clone(),
                            format!("{who} sees {seen} of the {want_gpus} accelerators a {} has", t.name),
                            Some("in a container, request every GPU/Neuron device; on the host, check the driver (nvidia-smi / neuron-ls)".into()),
                        );
                    }
                }
            }
            if expected.is_some_and(|t| t.supports_efa()) && n.hugepages_total == Some(0) {
                self.add(
                    &d::hugepages_missing::RULE,
                    subject.clone(),
                    format!("{who} has no huge pages reserved"),
                    Some("reserve 2 MiB huge pages (vm.nr_hugepages; efactl's bootstrap does), or set FI_EFA_USE_HUGE_PAGE=0 knowingly".into()),
                );
            }
            if n.ptrace_scope.is_some_and(|p| p > 0) {
                self.add(
                    &d::ptrace_restricted::RULE,
                    subject.clone(),
                    format!("{who}: kernel.yama.ptrace_scope is {}, which blocks libfabric's shared-memory (CMA) path between local ranks", n.ptrace_scope.unwrap_or(0)),
                    Some("sysctl -w kernel.yama.ptrace_scope=0 and persist it in /etc/sysctl.d/".into()),
                );
            }
            // Pinned memory matters where EFA is in play: an EFA type, or EFA devices present.
            let efa_node = expected.is_some_and(|t| t.supports_efa()) || !n.efa_devices.is_empty();
            if efa_node && !n.memlock_unlimited && n.memlock_bytes.is_some_and(|b| b < 16 << 30) {
                self.add(
                    &d::memlock_limited::RULE,
                    subject.clone(),
                    format!("{who}: the locked-memory limit is {} KiB; EFA registers memory and needs it unlimited", n.memlock_bytes.unwrap_or(0) / 1024),
                    Some("set memlock unlimited (limits.d, or --ulimit memlock=-1 for containers)".into()),
                );
            }
            let facts = efactl_core::rules::access::nccl_env_obsolete::Facts {
                efa: !n.efa_devices.is_empty() || expected.is_some_and(|t| t.supports_efa()),
                ..Default::default()
            };
            let obsolete: Vec<String> = n
                .env
                .iter()
                .filter(|(k, v)| {
                    efactl_core::rules::access::nccl_env_obsolete::judge(k, v, &facts).is_some()
                })
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if !obsolete.is_empty() {
                self.add(
                    &d::node_env_obsolete::RULE,
                    subject.clone(),
                    format!(
                        "{who} runs with obsolete or harmful NCCL/libfabric settings: {}",
                        obsolete.join(", ")
                    ),
                    Some("unset them; `efactl explain EFA029` says why for each".into()),
                );
            }
        }
        // MTU: nodes of one cluster should agree.
        let mtus: Vec<(usize, u32)> = nodes
            .iter()
            .filter_map(|(r, n)| n.mtu.iter().map(|(_, m)| *m).max().map(|m| (*r, m)))
            .collect();
        if let Some(max) = mtus.iter().map(|(_, m)| *m).max() {
            let low: Vec<usize> = mtus
                .iter()
                .filter(|(_, m)| *m < max)
                .map(|(r, _)| *r)
                .collect();
            if !low.is_empty() {
                let list = low
                    .iter()
                    .map(|r| self.host(*r))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.add(
                    &d::mtu_mismatch::RULE,
                    Subject::resource(format!("rank {}", low[0])),
                    format!("{list} use a smaller MTU than the others ({max})"),
                    Some("give every node the same MTU (9001 inside a VPC)".into()),
                );
            }
        }
    }

    fn connectivity_findings(&mut self) {
        use efactl_core::rules::doctor as d;
        let n = self.size;
        let live: Vec<usize> = self
            .peers
            .iter()
            .map(|p| p.rank)
            .filter(|r| !self.missing.contains_key(r))
            .collect();
        let mut bad: BTreeMap<(u16, CellState), Vec<(usize, usize)>> = BTreeMap::new();
        for c in &self.cells {
            if cell_is_bad(c) {
                bad.entry((c.port, c.state))
                    .or_default()
                    .push((c.from, c.to));
            }
        }
        for ((port, state), pairs) in bad {
            let rule = match state {
                CellState::Timeout => &d::connection_blocked::RULE,
                CellState::Unreachable => &d::connection_unreachable::RULE,
                _ => &d::connection_refused::RULE,
            };
            // Whole row: a node's outbound path; whole column: its inbound path.
            let others = live.len().saturating_sub(1);
            let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
            let mut cols: BTreeMap<usize, usize> = BTreeMap::new();
            for (a, b) in &pairs {
                *rows.entry(*a).or_default() += 1;
                *cols.entry(*b).or_default() += 1;
            }
            let mut explained: Vec<(usize, usize)> = Vec::new();
            if others >= 2 {
                for (&r, &k) in &rows {
                    if k == others {
                        let who = self.host(r);
                        self.add(
                            rule,
                            Subject::resource(format!("rank {r}")),
                            format!("{who} cannot reach any other rank on port {port} ({}): its outbound path is closed", state_word(state)),
                            Some("look at the egress rules of that node's security groups, its host firewall (OUTPUT chain) and its subnet's network ACL".into()),
                        );
                        explained.extend(pairs.iter().filter(|(a, _)| *a == r));
                    }
                }
                for (&c, &k) in &cols {
                    if k == others {
                        let who = self.host(c);
                        self.add(
                            rule,
                            Subject::resource(format!("rank {c}")),
                            format!("no other rank can reach {who} on port {port} ({}): its inbound path is closed", state_word(state)),
                            Some("look at the ingress rules of that node's security groups, its host firewall (INPUT chain) and its subnet's network ACL".into()),
                        );
                        explained.extend(pairs.iter().filter(|(_, b)| *b == c));
                    }
                }
            }
            for (a, b) in pairs {
                if explained.contains(&(a, b)) {
                    continue;
                }
                let (wa, wb) = (self.host(a), self.host(b));
                let reverse_ok = self.cells.iter().any(|c| {
                    c.from == b && c.to == a && c.port == port && c.state == CellState::Ok
                });
                self.add(
                    rule,
                    Subject::resource(format!("rank {a} -> rank {b}")),
                    format!(
                        "{wa} -> {wb} on port {port}: {}{}",
                        state_word(state),
                        if reverse_ok { " (the other direction works)" } else { "" }
                    ),
                    Some(match state {
                        CellState::Timeout => "packets are dropped: a security group (egress of the source or ingress of the destination), a network ACL or a host firewall".into(),
                        CellState::Unreachable => "no route between the two: different subnets or VPCs without a route, or a down interface".into(),
                        _ => "the destination answered with a reset: the port is closed or rejected by a firewall".into(),
                    }),
                );
            }
        }
        let _ = n;
    }

    fn perf_findings(&mut self, catalog: &Catalog) {
        use efactl_core::rules::doctor as d;
        let ok: Vec<BandwidthResult> = self
            .bandwidth
            .iter()
            .filter(|b| b.error.is_none() && b.gbps > 0.0)
            .cloned()
            .collect();
        if ok.len() >= 3 {
            let mut v: Vec<f64> = ok.iter().map(|b| b.gbps).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            let median = v[v.len() / 2];
            let slow: Vec<(usize, usize, f64)> = ok
                .iter()
                .filter(|b| b.gbps < 0.5 * median)
                .map(|b| (b.from, b.to, b.gbps))
                .collect();
            // A node in most of the slow links is the slow one.
            let mut count: BTreeMap<usize, usize> = BTreeMap::new();
            for (a, b, _) in &slow {
                *count.entry(*a).or_default() += 1;
                *count.entry(*b).or_default() += 1;
            }
            let live = self.peers.len().saturating_sub(self.missing.len()).max(2);
            let mut blamed = Vec::new();
            for (&r, &k) in &count {
                if k >= 2 * (live - 1) * 3 / 4 && live > 2 {
                    blamed.push(r);
                    let who = self.host(r);
                    self.add(
                        &d::slow_link::RULE,
                        Subject::resource(format!("rank {r}")),
                        format!("{who} is slow on {k} of its {} measured directions (median of all links {median:.2} Gbit/s)", 2 * (live - 1)),
                        Some("check that node's network interfaces, its instance type, and for a throttled or shared link".into()),
                    );
                }
            }
            for (a, b, g) in slow {
                if blamed.contains(&a) || blamed.contains(&b) {
                    continue;
                }
                let (wa, wb) = (self.host(a), self.host(b));
                self.add(
                    &d::slow_link::RULE,
                    Subject::resource(format!("rank {a} -> rank {b}")),
                    format!("{wa} -> {wb} reaches {g:.2} Gbit/s, under half the median {median:.2} Gbit/s"),
                    None,
                );
            }
        }
        // Against the catalog's line rate, when the type is known. TCP through the ENA path
        // tops out well below the EFA aggregate, so only a tenth of it is flagged.
        if let Some(t) = self.instance_type.as_deref().and_then(|t| catalog.get(t)) {
            if let Some(line) = t.bandwidth_gbps {
                for b in self
                    .bandwidth
                    .clone()
                    .iter()
                    .filter(|b| b.error.is_none() && b.gbps > 0.0 && b.gbps < line * 0.1)
                {
                    let (wa, wb) = (self.host(b.from), self.host(b.to));
                    self.add(
                        &d::slow_link::RULE,
                        Subject::resource(format!("rank {} -> rank {}", b.from, b.to)),
                        format!("{wa} -> {wb} reaches {:.2} Gbit/s over TCP, under a tenth of a {}'s {line} Gbit/s", b.gbps, t.name),
                        None,
                    );
                }
            }
        }
        let ok: Vec<LatencyResult> = self
            .latency
            .iter()
            .filter(|l| l.error.is_none() && l.samples > 0)
            .cloned()
            .collect();
        if ok.len() >= 3 {
            let mut v: Vec<f64> = ok.iter().map(|l| l.p50_us).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            let median = v[v.len() / 2];
            for l in ok
                .iter()
                .filter(|l| l.p50_us > 3.0 * median && l.p50_us > median + 50.0)
            {
                let (wa, wb) = (self.host(l.from), self.host(l.to));
                self.add(
                    &d::high_latency::RULE,
                    Subject::resource(format!("rank {} -> rank {}", l.from, l.to)),
                    format!("{wa} <-> {wb}: round trip {:.0} us, over three times the median {median:.0} us", l.p50_us),
                    Some("nodes far apart in the zone (no cluster placement group), or a loaded node".into()),
                );
            }
        }
    }

    /// Latency and bandwidth tests that could not run are connection problems, judged on
    /// every kind of run.
    fn test_failures(&mut self) {
        use efactl_core::rules::doctor as d;
        for l in self.latency.clone().iter().filter(|l| l.error.is_some()) {
            let (wa, wb) = (self.host(l.from), self.host(l.to));
            self.add(
                &d::connection_blocked::RULE,
                Subject::resource(format!("rank {} -> rank {}", l.from, l.to)),
                format!(
                    "{wa} -> {wb}: latency test failed: {}",
                    l.error.clone().unwrap_or_default()
                ),
                None,
            );
        }
        for b in self.bandwidth.clone().iter().filter(|b| b.error.is_some()) {
            let (wa, wb) = (self.host(b.from), self.host(b.to));
            self.add(
                &d::connection_blocked::RULE,
                Subject::resource(format!("rank {} -> rank {}", b.from, b.to)),
                format!(
                    "{wa} -> {wb}: bandwidth test failed: {}",
                    b.error.clone().unwrap_or_default()
                ),
                None,
            );
        }
    }

    fn allreduce_findings(&mut self) {
        use efactl_core::rules::doctor as d;
        for (r, e) in self.allreduce_errors.clone() {
            let who = self.host(r);
            self.add(
                &d::allreduce_failed::RULE,
                Subject::resource(format!("rank {r}")),
                format!("all-reduce on {who} failed: {e}"),
                None,
            );
        }
        for (r, sizes) in self.allreduce.clone() {
            if let Some(s) = sizes.iter().find(|s| !s.correct) {
                let who = self.host(r);
                self.add(
                    &d::allreduce_failed::RULE,
                    Subject::resource(format!("rank {r}")),
                    format!("all-reduce of {} bytes gave a wrong sum on {who}", s.bytes),
                    Some("data corruption on the path: a faulty NIC or memory; rerun and compare ranks".into()),
                );
            }
        }
        if self.local {
            return;
        }
        // Stragglers: the largest size, per-rank time against the median.
        let last: Vec<(usize, f64)> = self
            .allreduce
            .iter()
            .filter_map(|(r, s)| s.last().map(|x| (*r, x.time_us)))
            .collect();
        if last.len() >= 3 {
            let mut v: Vec<f64> = last.iter().map(|x| x.1).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            let median = v[v.len() / 2];
            for (r, t) in last {
                if t > 1.5 * median {
                    let who = self.host(r);
                    self.add(
                        &d::straggler_rank::RULE,
                        Subject::resource(format!("rank {r}")),
                        format!("{who} took {:.1} ms per all-reduce of the largest size, {:.1}x the median", t / 1e3, t / median),
                        Some("a straggler slows every collective: check that node's load, thermal throttling and links".into()),
                    );
                }
            }
        }
    }

    /// nccl-tests style rows: size, count, time (slowest rank), algbw, busbw.
    pub fn allreduce_table(&self) -> Vec<(usize, usize, f64, f64, f64, bool)> {
        let n = self.ring.len();
        let Some((_, first)) = self.allreduce.first() else {
            return Vec::new();
        };
        (0..first.len())
            .map(|i| {
                let time = self
                    .allreduce
                    .iter()
                    .filter_map(|(_, s)| s.get(i))
                    .map(|s| s.time_us)
                    .fold(0.0, f64::max);
                let ok = self
                    .allreduce
                    .iter()
                    .all(|(_, s)| s.get(i).is_some_and(|x| x.correct));
                let (alg, bus) = bandwidths(first[i].bytes, time, n);
                (first[i].bytes, first[i].count, time, alg, bus, ok)
            })
            .collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn exit_code(&self) -> u8 {
        if self
            .findings
            .iter()
            .any(|f| f.severity >= Severity::Warning)
        {
            1
        } else {
            0
        }
    }

    pub fn to_human(&self, color: bool) -> String {
        let mut s = String::new();
        let live = self.size - self.missing.len();
        let _ = writeln!(
            s,
            "efactl doctor: {} ({} of {} ranks{}, {:.1} s)",
            self.verdict.to_uppercase(),
            live,
            self.size,
            if self.engine.is_empty() {
                String::new()
            } else {
                format!(", via {}", self.engine)
            },
            self.total_seconds
        );
        if let Some(c) = &self.cause {
            let _ = writeln!(s, "most likely cause: {c}");
        }
        s.push('\n');
        if !self.findings.is_empty() {
            s.push_str(&efactl_core::report::human::render(
                &self.findings,
                None,
                &efactl_core::report::human::HumanOptions { color },
            ));
            s.push('\n');
        }
        if !self.nodes.is_empty() {
            s.push_str("nodes\n  rank  host                  EFA  fi_info  plugin  ptrace  hugepages  memlock    GPUs\n");
            for (r, n) in &self.nodes {
                let _ = writeln!(
                    s,
                    "  {r:<4}  {:<20}  {:<3}  {:<7}  {:<6}  {:<6}  {:<9}  {:<9}  {}",
                    truncate(&n.hostname, 20),
                    n.efa_devices.len(),
                    n.fi_info_efa
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "-".into()),
                    if n.nccl_net_plugin.is_some() {
                        "yes"
                    } else {
                        "no"
                    },
                    n.ptrace_scope
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "-".into()),
                    n.hugepages_total
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "-".into()),
                    if n.memlock_unlimited {
                        "unlimited".to_string()
                    } else {
                        n.memlock_bytes
                            .map(|b| format!("{} KiB", b / 1024))
                            .unwrap_or_else(|| "-".into())
                    },
                    n.nvidia_gpus + n.neuron_devices,
                );
            }
            s.push('\n');
        }
        if !self.cells.is_empty() {
            let mut ports: Vec<u16> = self
                .cells
                .iter()
                .filter(|c| c.data_port)
                .map(|c| c.port)
                .collect();
            ports.sort_unstable();
            ports.dedup();
            let failed = self.cells.iter().filter(|c| cell_is_bad(c)).count();
            let _ = writeln!(
                s,
                "connectivity ({} probes, {} failed)",
                self.cells.len(),
                failed
            );
            if self.size <= 32 {
                // One matrix over all ports: a cell shows the worst state of the pair.
                s.push_str("  from\\to");
                for r in 0..self.size {
                    let _ = write!(s, "{r:>4}");
                }
                s.push('\n');
                for a in 0..self.size {
                    let _ = write!(s, "  {a:>7}");
                    for b in 0..self.size {
                        let cells: Vec<&Cell> = self
                            .cells
                            .iter()
                            .filter(|c| c.from == a && c.to == b)
                            .collect();
                        let mark = if a == b {
                            "."
                        } else if cells.is_empty() {
                            "?"
                        } else if cells.iter().any(|c| c.state == CellState::Timeout) {
                            "T"
                        } else if cells.iter().any(|c| c.state == CellState::Unreachable) {
                            "U"
                        } else if cells.iter().any(|c| cell_is_bad(c)) {
                            "R"
                        } else {
                            "ok"
                        };
                        let _ = write!(s, "{mark:>4}");
                    }
                    s.push('\n');
                }
                s.push_str("  (T timed out: dropped; R refused; U unreachable; ? not measured)\n");
            } else {
                for c in self.cells.iter().filter(|c| cell_is_bad(c)) {
                    let _ = writeln!(
                        s,
                        "  {} -> {} port {}: {}",
                        c.from,
                        c.to,
                        c.port,
                        state_word(c.state)
                    );
                }
            }
            s.push('\n');
        }
        if !self.latency.is_empty() {
            s.push_str("latency (64-byte TCP round trip)\n  pair        p50 us    p99 us\n");
            for l in &self.latency {
                let _ = writeln!(
                    s,
                    "  {:>3} <-> {:<3} {:>8.1}  {:>8.1}{}",
                    l.from,
                    l.to,
                    l.p50_us,
                    l.p99_us,
                    l.error
                        .as_ref()
                        .map(|e| format!("  error: {e}"))
                        .unwrap_or_default()
                );
            }
            s.push('\n');
        }
        if !self.bandwidth.is_empty() {
            s.push_str("bandwidth (TCP, per direction)\n  link        streams   Gbit/s\n");
            for b in &self.bandwidth {
                let _ = writeln!(
                    s,
                    "  {:>3} -> {:<3}  {:>7}  {:>7.2}{}",
                    b.from,
                    b.to,
                    b.streams,
                    b.gbps,
                    b.error
                        .as_ref()
                        .map(|e| format!("  error: {e}"))
                        .unwrap_or_default()
                );
            }
            s.push('\n');
        }
        let table = self.allreduce_table();
        if !table.is_empty() {
            let _ = writeln!(
                s,
                "all-reduce (ring over TCP, float sum, {} ranks)",
                self.ring.len()
            );
            s.push_str(
                "        size         count    time (us)   algbw (GB/s)   busbw (GB/s)   #wrong\n",
            );
            for (bytes, count, time, alg, bus, ok) in table {
                let _ = writeln!(
                    s,
                    "  {bytes:>10}  {count:>12}  {time:>11.1}  {alg:>13.3}  {bus:>13.3}  {:>7}",
                    if ok { 0 } else { 1 }
                );
            }
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "stages: rendezvous {:.2} s, {}",
            self.rendezvous_seconds,
            self.stage_seconds
                .iter()
                .map(|(n, t)| format!("{n} {t:.2} s"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        s
    }
}

/// A cell worth reporting: anything but ok, except "refused" on a user port where nothing
/// listens yet (which proves the path is open).
fn cell_is_bad(c: &Cell) -> bool {
    c.state != CellState::Ok && (c.state != CellState::Refused || c.data_port)
}

fn state_word(s: CellState) -> &'static str {
    match s {
        CellState::Ok => "ok",
        CellState::Refused => "refused",
        CellState::Timeout => "timed out",
        CellState::Unreachable => "unreachable",
        CellState::Error => "error",
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// Every rule this module can raise is registered in efactl-core.
pub fn rule_ids() -> Vec<&'static str> {
    rules::RULES
        .iter()
        .filter(|r| r.id.starts_with("DOC"))
        .map(|r| r.id)
        .collect()
}
