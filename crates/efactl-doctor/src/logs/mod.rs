//! NCCL / aws-ofi-nccl / libfabric / torch.distributed / nccl-tests log analysis.
//!
//! ```text
//! bytes ─[reader]─▶ bounded lines ─[line]─▶ prefixes + body ─[detect]─▶ Event
//!        (gzip by magic,                     (host:pid, launcher        │
//!         64 KiB per line)                    rank, timestamps)         ▼
//!                                              per-rank state, bounded evidence, nccl-tests
//!                                              aggregates ─[findings]─▶ Findings ─[verdict]─▶ Verdict
//! ```
//!
//! Everything streams: an input is read once, line by line, and what is kept is bounded by
//! the number of ranks (capped at [`MAX_RANKS`]) and small constants, never by the input's size,
//! so a 10 GB log takes the memory of a small one. Inputs are fed one after another to one
//! [`Analyzer`]; several files are several ranks or nodes of one job.

pub mod detect;
mod findings;
pub mod line;
pub mod nccl_tests;
pub mod rank;
pub mod reader;
pub mod verdict;

use detect::{ConnectKind, CudaFailure, Event, InitFailure, Net, RemoteFailure, Unreachable};
use efactl_core::finding::Finding;
use line::{Launcher, Parsed};
use rank::{set_once, RankState, RankSummary};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

pub use verdict::{Status, Verdict};

/// A place in the input: (file index, 1-based line number).
pub type At = (usize, u64);

/// Processes tracked one by one; lines of further processes are pooled into one entity so a
/// hostile input with a new `host:pid` on every line cannot grow memory without bound.
pub const MAX_RANKS: usize = 4096;

/// Evidence lines kept per finding.
pub const MAX_EVIDENCE: usize = 5;

/// Distinct echoed environment variables kept.
const MAX_ENV: usize = 64;

/// Longest excerpt of a log line quoted in a message.
const MAX_EXCERPT: usize = 160;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The instance type the job ran on, when the log does not say (`--instance-type`).
    pub instance_type: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot read `{file}`: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// What was read from one input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputSummary {
    pub file: String,
    pub gzip: bool,
    /// Bytes read (after decompression).
    pub bytes: u64,
    pub lines: u64,
    /// Lines recognised as NCCL, aws-ofi-nccl, libfabric, torch.distributed or nccl-tests output.
    pub nccl_lines: u64,
    /// Lines longer than the 64 KiB kept of each.
    pub truncated_lines: u64,
    pub invalid_utf8_lines: u64,
    /// Why reading stopped early (a truncated gzip, an I/O error), or why it never started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The input could not be opened at all.
    #[serde(skip)]
    pub unreadable: bool,
}

/// Which finding some evidence belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Init(InitFailure),
    Unreach(Unreachable),
    Connect(ConnectKind),
    Remote(RemoteFailure),
    Cuda(CudaFailure),
    VersionMismatch,
    Mixed,
    NcclError,
}

/// The lines behind one finding: how many, the first few (from distinct ranks where possible),
/// the first one's text, and the ranks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Evidence {
    pub count: u64,
    pub at: Vec<At>,
    pub first: String,
    pub ranks: BTreeSet<usize>,
}

impl Evidence {
    fn add(&mut self, rank: usize, at: At, body: &str) {
        if self.count == 0 {
            self.first = rank::clip(body.trim(), MAX_EXCERPT);
        }
        self.count += 1;
        let new_rank = self.ranks.insert(rank);
        if self.at.len() < MAX_EVIDENCE && (new_rank || self.at.len() < 2) {
            self.at.push(at);
        }
    }
}

/// One rank's watchdog report.
#[derive(Debug, Clone, Default)]
pub(crate) struct WatchdogRec {
    pub seq: Option<u64>,
    pub op: Option<String>,
    pub ran_ms: Option<u64>,
    pub stuck: bool,
    pub at: At,
    pub entity: usize,
}

/// Where torch's rank-less watchdog lines are filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WdKey {
    Rank(u32),
    Entity(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileProcs {
    None,
    One(usize),
    Many,
}

/// One echoed variable.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnvEcho {
    pub ev: Evidence,
}

/// The streaming state.
pub struct Analyzer {
    opts: Options,
    pub(crate) files: Vec<String>,
    pub(crate) inputs: Vec<InputSummary>,
    pub(crate) ranks: Vec<RankState>,
    by_process: HashMap<Box<str>, usize>,
    by_label: HashMap<(usize, u8, u32), usize>,
    file_entity: Vec<Option<usize>>,
    file_procs: Vec<FileProcs>,
    overflow: Option<usize>,
    pub(crate) evidence: BTreeMap<Key, Evidence>,
    pub(crate) env: BTreeMap<(String, String), EnvEcho>,
    pub(crate) watchdogs: BTreeMap<WdKey, WatchdogRec>,
    /// torch's `last enqueued / completed NCCL work`, per global rank.
    pub(crate) progress: BTreeMap<u32, (Option<u64>, Option<u64>, At)>,
    /// Global ranks that launcher labels or torch prefixes name.
    pub(crate) seen_ranks: BTreeSet<u32>,
    /// Largest communicator size seen: the job's world size.
    pub(crate) world: Option<u32>,
    /// The largest line-buffer capacity any input needed (stays at the cap: tested).
    pub(crate) line_buffer_capacity: usize,
    pub(crate) tests: nccl_tests::Parser,
}

/// The result of an analysis.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub verdict: Verdict,
    /// Sorted, deduplicated.
    pub findings: Vec<Finding>,
    pub ranks: Vec<RankSummary>,
    pub inputs: Vec<InputSummary>,
    pub nccl_tests: Vec<TestsSummary>,
}

/// One nccl-tests table (JSON `ncclTests[]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestsSummary {
    pub file: String,
    pub line: u64,
    pub test: Option<String>,
    pub rows: u64,
    pub max_size: u64,
    /// Best bus bandwidth at 128 MiB and above, GB/s.
    pub large_busbw: Option<f64>,
    pub avg_busbw: Option<f64>,
    pub wrong: u64,
    pub hosts: usize,
}

impl Analysis {
    /// The exit code of `efactl nccl analyze`: 2 when an input could not be read or nothing
    /// NCCL-like was found, 1 for any error or warning finding (or a non-healthy verdict), 0
    /// for a healthy run.
    pub fn exit_code(&self) -> u8 {
        use efactl_core::finding::{Category, Severity};
        if self
            .findings
            .iter()
            .any(|f| f.category == Category::Input && f.severity == Severity::Error)
        {
            return 2;
        }
        let any = self
            .findings
            .iter()
            .any(|f| f.severity >= Severity::Warning);
        if any || self.verdict.status != Status::Healthy {
            1
        } else {
            0
        }
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(Options::default())
    }
}

/// Analyses one stream (a convenience for tests and single inputs).
pub fn analyze<R: Read>(name: &str, input: R, opts: Options) -> Analysis {
    let mut a = Analyzer::new(opts);
    // A read error is recorded in the input summary; the analysis covers what was read.
    let _ = a.add(name, input);
    a.finish()
}

impl Analyzer {
    pub fn new(opts: Options) -> Analyzer {
        Analyzer {
            opts,
            files: Vec::new(),
            inputs: Vec::new(),
            ranks: Vec::new(),
            by_process: HashMap::new(),
            by_label: HashMap::new(),
            file_entity: Vec::new(),
            file_procs: Vec::new(),
            overflow: None,
            evidence: BTreeMap::new(),
            env: BTreeMap::new(),
            watchdogs: BTreeMap::new(),
            progress: BTreeMap::new(),
            seen_ranks: BTreeSet::new(),
            world: None,
            line_buffer_capacity: 0,
            tests: nccl_tests::Parser::default(),
        }
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    fn new_input(&mut self, name: &str) -> usize {
        self.files.push(name.to_string());
        self.inputs.push(InputSummary {
            file: name.to_string(),
            ..InputSummary::default()
        });
        self.file_entity.push(None);
        self.file_procs.push(FileProcs::None);
        self.files.len() - 1
    }

    /// Records an input that could not be opened.
    pub fn add_unreadable(&mut self, name: &str, reason: &str) {
        let i = self.new_input(name);
        self.inputs[i].error = Some(reason.to_string());
        self.inputs[i].unreadable = true;
    }

    /// Reads one input to its end (or to its first read error, which is returned after the
    /// lines before it were analysed).
    pub fn add<R: Read>(&mut self, name: &str, input: R) -> Result<(), LogError> {
        let file = self.new_input(name);
        let io_err = |e: std::io::Error| LogError::Io {
            file: name.to_string(),
            source: e,
        };
        let (stream, gzip) = match reader::decode(input) {
            Ok(s) => s,
            Err(e) => {
                self.inputs[file].error = Some(e.to_string());
                self.inputs[file].unreadable = true;
                return Err(io_err(e));
            }
        };
        self.inputs[file].gzip = gzip;
        let mut lines = reader::LineReader::new(stream);
        let result = loop {
            match lines.next_line() {
                Ok(Some(raw)) => {
                    let number = raw.number;
                    // The strict check has a fast ASCII path; the lossy one only runs on
                    // lines that need it.
                    let text = match std::str::from_utf8(raw.bytes) {
                        Ok(t) => Cow::Borrowed(t),
                        Err(_) => {
                            self.inputs[file].invalid_utf8_lines += 1;
                            String::from_utf8_lossy(raw.bytes)
                        }
                    };
                    self.line(file, number, &text);
                }
                Ok(None) => break Ok(()),
                Err(e) => {
                    let what = if gzip && e.kind() == std::io::ErrorKind::UnexpectedEof {
                        "the gzip stream is truncated".to_string()
                    } else {
                        e.to_string()
                    };
                    self.inputs[file].error = Some(format!(
                        "{what}; analysed the {} lines before it",
                        lines.lines_read()
                    ));
                    break Err(io_err(e));
                }
            }
        };
        self.line_buffer_capacity = self.line_buffer_capacity.max(lines.buffer_capacity());
        let s = &mut self.inputs[file];
        s.bytes = lines.bytes;
        s.lines = lines.lines_read();
        s.truncated_lines = lines.truncated_lines;
        result
    }

    /// One line of input `file`.
    fn line(&mut self, file: usize, number: u64, text: &str) {
        let at = (file, number);
        let p = line::parse(text);
        if p.nccl.is_none() && self.tests.feed(p.body, at) {
            self.inputs[file].nccl_lines += 1;
            return;
        }
        let ev = detect::classify(&p);
        if ev == Event::Other {
            return;
        }
        self.inputs[file].nccl_lines += 1;
        let idx = self.entity(file, &p, at);
        self.ranks[idx].lines += 1;
        self.apply(idx, ev, &p, at);
    }

    fn new_entity(&mut self, file: usize, at: At) -> Option<usize> {
        if self.ranks.len() >= MAX_RANKS {
            return None;
        }
        self.ranks.push(RankState {
            file,
            first: at,
            ..RankState::default()
        });
        Some(self.ranks.len() - 1)
    }

    fn overflow_entity(&mut self, file: usize, at: At) -> usize {
        if let Some(i) = self.overflow {
            return i;
        }
        self.ranks.push(RankState {
            file,
            first: at,
            file_level: true,
            label: Some(format!("processes beyond the first {MAX_RANKS}")),
            ..RankState::default()
        });
        let i = self.ranks.len() - 1;
        self.overflow = Some(i);
        i
    }

    fn label_key(file: usize, l: &Launcher<'_>) -> (usize, u8, u32) {
        match l {
            Launcher::Slurm(r) => (file, 0, *r),
            Launcher::Mpi(r) => (file, 1, *r),
            Launcher::TorchRank(r) => (file, 2, *r),
            Launcher::Torchrun(s) => {
                let d = s.len() - s.bytes().rev().take_while(u8::is_ascii_digit).count();
                (file, 3, s[d..].parse().unwrap_or(0))
            }
        }
    }

    fn label_text(l: &Launcher<'_>) -> String {
        match l {
            Launcher::Slurm(r) => format!("{r}:"),
            Launcher::Mpi(r) => format!("[*,{r}]"),
            Launcher::TorchRank(r) => format!("[rank{r}]"),
            Launcher::Torchrun(s) => format!("[{}]", rank::clip(s, 64)),
        }
    }

    /// Which rank a line belongs to: its `host:pid`, else its launcher label, else the only
    /// process of its file, else the file itself.
    fn entity(&mut self, file: usize, p: &Parsed<'_>, at: At) -> usize {
        if let Some(h) = &p.nccl {
            let idx = match self.by_process.get(h.key) {
                Some(&i) => i,
                None => match self.new_entity(file, at) {
                    Some(i) => {
                        let r = &mut self.ranks[i];
                        r.host = Some(rank::clip(h.host, 255));
                        r.pid = Some(h.pid);
                        r.dev = h.dev;
                        self.by_process.insert(h.key.into(), i);
                        i
                    }
                    None => return self.overflow_entity(file, at),
                },
            };
            if let Some(l) = &p.launcher {
                let r = &mut self.ranks[idx];
                if r.label.is_none() {
                    r.label = Some(Self::label_text(l));
                    if let Some(g) = l.global_rank() {
                        r.rank.get_or_insert(g);
                        self.seen_ranks.insert(g);
                    }
                    self.by_label.insert(Self::label_key(file, l), idx);
                }
            }
            self.file_procs[file] = match self.file_procs[file] {
                FileProcs::None => FileProcs::One(idx),
                FileProcs::One(j) if j == idx => FileProcs::One(j),
                _ => FileProcs::Many,
            };
            return idx;
        }
        if let Some(l) = &p.launcher {
            let key = Self::label_key(file, l);
            if let Some(&i) = self.by_label.get(&key) {
                return i;
            }
            let Some(i) = self.new_entity(file, at) else {
                return self.overflow_entity(file, at);
            };
            let r = &mut self.ranks[i];
            r.label = Some(Self::label_text(l));
            if let Some(g) = l.global_rank() {
                r.rank = Some(g);
                self.seen_ranks.insert(g);
            }
            self.by_label.insert(key, i);
            return i;
        }
        if let FileProcs::One(i) = self.file_procs[file] {
            return i;
        }
        if let Some(i) = self.file_entity[file] {
            return i;
        }
        let Some(i) = self.new_entity(file, at) else {
            return self.overflow_entity(file, at);
        };
        self.ranks[i].file_level = true;
        self.file_entity[file] = Some(i);
        i
    }

    fn record(&mut self, key: Key, idx: usize, at: At, body: &str) {
        self.evidence.entry(key).or_default().add(idx, at, body);
    }

    fn apply(&mut self, idx: usize, ev: Event<'_>, p: &Parsed<'_>, at: At) {
        let body = p.body;
        match ev {
            Event::Benign | Event::NcclLike | Event::IntraNode | Event::Other => {}
            Event::NetTransport { net, gdr } => {
                let r = &mut self.ranks[idx];
                match (net, gdr) {
                    (Net::Ofi, true) => r.net_ofi_gdr += 1,
                    (Net::Ofi, false) => {
                        r.net_ofi_plain += 1;
                        r.net_ofi_plain_at.get_or_insert(at);
                    }
                    (Net::Socket, _) => {
                        r.net_socket += 1;
                        r.socket_at.get_or_insert(at);
                    }
                    (Net::Ib, _) => r.net_ib += 1,
                    (Net::Other, _) => {}
                }
            }
            Event::NcclVersion { version, cuda } => {
                let r = &mut self.ranks[idx];
                set_once(&mut r.nccl, version, at);
                if let Some(c) = cuda {
                    set_once(&mut r.nccl_cuda, c, at);
                }
            }
            Event::CudaDriver(v) => set_once(&mut self.ranks[idx].cuda_driver, v, at),
            Event::OfiVersion(v) => {
                let r = &mut self.ranks[idx];
                r.ofi_seen = true;
                set_once(&mut r.ofi, v, at);
            }
            Event::LibfabricVersion(v) => {
                let r = &mut self.ranks[idx];
                r.ofi_seen = true;
                set_once(&mut r.libfabric, v, at);
            }
            Event::OfiCuda { driver, runtime } => {
                let r = &mut self.ranks[idx];
                r.ofi_seen = true;
                set_once(&mut r.cuda_driver, driver, at);
                set_once(&mut r.cuda_runtime, runtime, at);
            }
            Event::Provider {
                provider,
                fabric,
                nics,
            } => {
                let r = &mut self.ranks[idx];
                r.ofi_seen = true;
                set_once(&mut r.provider, provider, at);
                if let Some(f) = fabric {
                    set_once(&mut r.fabric, f, at);
                }
                if let Some(n) = nics {
                    r.nics.get_or_insert((n, at));
                }
            }
            Event::Platform(p) => {
                let r = &mut self.ranks[idx];
                r.ofi_seen = true;
                set_once(&mut r.platform, p, at);
            }
            Event::PluginLoaded => self.ranks[idx].plugin_loaded = true,
            Event::PluginNotFound => {
                self.ranks[idx].plugin_not_found.get_or_insert(at);
            }
            Event::InitFailed(k) => {
                let r = &mut self.ranks[idx];
                r.ofi_seen = true;
                r.init_failed.get_or_insert((k, at));
                self.record(Key::Init(k), idx, at, body);
            }
            Event::Network(n) => {
                let r = &mut self.ranks[idx];
                r.network = Some((n, at));
                if n == Net::Socket {
                    r.socket_at.get_or_insert(at);
                }
            }
            Event::SocketIface { first, unroutable } => {
                let r = &mut self.ranks[idx];
                set_once(&mut r.socket_iface, first, at);
                // NCCL initialises its socket transport when it falls back to it: unless a
                // later `Using network` says otherwise, this rank is on sockets.
                if r.network.is_none() {
                    r.network = Some((Net::Socket, at));
                    r.socket_at.get_or_insert(at);
                }
                if let Some(u) = unroutable {
                    set_once(&mut r.unroutable_iface, u, at);
                }
            }
            Event::NetInitialized(n) => {
                let r = &mut self.ranks[idx];
                if r.network.is_none() {
                    r.network = Some((n, at));
                    if n == Net::Socket {
                        r.socket_at.get_or_insert(at);
                    }
                }
            }
            Event::MixedTransports => self.record(Key::Mixed, idx, at, body),
            Event::BootstrapIface(i) => {
                let r = &mut self.ranks[idx];
                set_once(&mut r.bootstrap_iface, i, at);
                if detect::unroutable_iface(i, "") {
                    set_once(&mut r.unroutable_iface, i, at);
                }
            }
            Event::GdrOn => {
                self.ranks[idx].gdr_on.get_or_insert(at);
            }
            Event::GdrOff(k) => {
                self.ranks[idx].gdr_off.get_or_insert((k, at));
            }
            Event::Comm {
                rank,
                nranks,
                nnodes,
            } => {
                let r = &mut self.ranks[idx];
                // The largest communicator is the job's world: its rank is the global rank.
                if nranks >= r.nranks.unwrap_or(0) {
                    r.rank = Some(rank);
                    r.nranks = Some(nranks);
                }
                if let Some(n) = nnodes {
                    r.nnodes = Some(r.nnodes.map_or(n, |m| m.max(n)));
                }
                self.world = Some(self.world.map_or(nranks, |w| w.max(nranks)));
            }
            Event::InitComplete => self.ranks[idx].init_complete = true,
            Event::EnvEcho { name, value } => {
                let key = (rank::clip(name, 64), rank::clip(value, 64));
                if self.env.len() < MAX_ENV || self.env.contains_key(&key) {
                    self.env.entry(key).or_default().ev.add(idx, at, body);
                }
            }
            Event::PluginSetEnv(name) => self.ranks[idx].note_plugin_env(name),
            Event::PeerUnreachable(k) => self.record(Key::Unreach(k), idx, at, body),
            Event::Connect { kind, weak: false } => {
                self.ranks[idx].strong_connect = true;
                self.record(Key::Connect(kind), idx, at, body);
            }
            Event::Connect { kind, weak: true } => {
                self.ranks[idx].weak_connect.get_or_insert((kind, at));
            }
            Event::Watchdog(w) => {
                let g = w
                    .rank
                    .or_else(|| p.launcher.and_then(|l| l.global_rank()))
                    .or(self.ranks[idx].rank);
                if let Some(g) = g {
                    self.seen_ranks.insert(g);
                    // A process that prints `[Rank N]` is rank N when nothing said otherwise.
                    let r = &mut self.ranks[idx];
                    if !r.file_level && r.rank.is_none() {
                        r.rank = Some(g);
                    }
                }
                let key = g.map_or(WdKey::Entity(idx), WdKey::Rank);
                if self.watchdogs.len() < MAX_RANKS || self.watchdogs.contains_key(&key) {
                    let rec = self.watchdogs.entry(key).or_insert_with(|| WatchdogRec {
                        at,
                        entity: idx,
                        ..WatchdogRec::default()
                    });
                    // The first report with details wins; a later `stuck` line adds nothing.
                    if rec.seq.is_none() && w.seq.is_some() {
                        rec.seq = w.seq;
                        rec.op = w.op.map(|o| rank::clip(o, 32));
                        rec.ran_ms = w.ran_ms;
                        rec.at = at;
                        rec.entity = idx;
                    }
                    rec.stuck |= w.stuck && rec.seq.is_none();
                }
            }
            Event::WorkProgress {
                rank,
                enqueued,
                completed,
            } => {
                let g = rank
                    .or_else(|| p.launcher.and_then(|l| l.global_rank()))
                    .or(self.ranks[idx].rank);
                if let Some(g) = g {
                    self.seen_ranks.insert(g);
                    if self.progress.len() < MAX_RANKS || self.progress.contains_key(&g) {
                        self.progress.entry(g).or_insert((enqueued, completed, at));
                    }
                }
            }
            Event::RemoteFailed(k) => self.record(Key::Remote(k), idx, at, body),
            Event::Cuda(k) => self.record(Key::Cuda(k), idx, at, body),
            Event::VersionMismatch => self.record(Key::VersionMismatch, idx, at, body),
            Event::NcclError => self.record(Key::NcclError, idx, at, body),
        }
    }

    /// Ends the analysis: findings, the verdict and the per-rank table.
    pub fn finish(self) -> Analysis {
        findings::finish(self)
    }
}

#[cfg(test)]
mod tests;
