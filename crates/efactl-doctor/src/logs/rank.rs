//! What the log says about one rank (one NCCL process), kept small and bounded: a handful of
//! short strings and counters, however long the rank's log is.

use super::detect::{ConnectKind, GdrOff, InitFailure, Net};
use super::At;
use serde::Serialize;

/// Longest value kept for a version or name taken from a log line.
const MAX_VALUE: usize = 64;

/// Variables aws-ofi-nccl set itself that are remembered per rank.
const MAX_PLUGIN_ENV: usize = 32;

/// A short value and the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub value: String,
    pub at: At,
}

impl Seen {
    pub fn new(value: &str, at: At) -> Seen {
        Seen {
            value: clip(value, MAX_VALUE),
            at,
        }
    }
}

/// The first `max` characters of `s`.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Sets a value the first time it is seen (later lines of the same rank repeat it).
pub fn set_once(slot: &mut Option<Seen>, value: &str, at: At) {
    if slot.is_none() && !value.is_empty() {
        *slot = Some(Seen::new(value, at));
    }
}

#[derive(Debug, Clone, Default)]
pub struct RankState {
    /// The file the rank was first seen in.
    pub file: usize,
    pub first: At,
    pub host: Option<String>,
    pub pid: Option<u32>,
    /// The launcher's label (`0`, `[1,0]`, `default0`, `rank0`), as printed.
    pub label: Option<String>,
    /// This entity stands for a whole file's unattributed lines, not a process.
    pub file_level: bool,
    /// Global rank: from the largest communicator, a launcher label or torch's `[Rank N]`.
    pub rank: Option<u32>,
    pub nranks: Option<u32>,
    pub nnodes: Option<u32>,
    pub dev: Option<u32>,
    pub lines: u64,

    pub nccl: Option<Seen>,
    /// The CUDA version NCCL was built with (`+cuda12.2`).
    pub nccl_cuda: Option<Seen>,
    pub ofi: Option<Seen>,
    pub libfabric: Option<Seen>,
    pub cuda_driver: Option<Seen>,
    pub cuda_runtime: Option<Seen>,
    pub platform: Option<Seen>,
    pub provider: Option<Seen>,
    pub fabric: Option<Seen>,
    pub nics: Option<(u32, At)>,

    /// `Using network X` (the last one: every communicator prints it).
    pub network: Option<(Net, At)>,
    /// The first `Using network Socket` or `via NET/Socket` line.
    pub socket_at: Option<At>,
    pub net_ofi_gdr: u64,
    pub net_ofi_plain: u64,
    pub net_ofi_plain_at: Option<At>,
    pub net_socket: u64,
    pub net_ib: u64,
    pub gdr_on: Option<At>,
    pub gdr_off: Option<(GdrOff, At)>,

    /// The OFI plugin was tried on this rank (any `NET/OFI` line).
    pub ofi_seen: bool,
    pub plugin_loaded: bool,
    pub plugin_not_found: Option<At>,
    pub init_failed: Option<(InitFailure, At)>,
    pub socket_iface: Option<Seen>,
    pub bootstrap_iface: Option<Seen>,
    /// An interface NCCL listed that other nodes cannot reach (`docker0`, `lo`, 169.254.x).
    pub unroutable_iface: Option<Seen>,
    pub init_complete: bool,
    /// Variables aws-ofi-nccl set itself on this rank.
    pub plugin_env: Vec<String>,
    /// NCCL's `…, retrying` connect lines: a finding only if the rank never initialised.
    pub weak_connect: Option<(ConnectKind, At)>,
    pub strong_connect: bool,
}

impl RankState {
    pub fn note_plugin_env(&mut self, name: &str) {
        if self.plugin_env.len() < MAX_PLUGIN_ENV && !self.plugin_env.iter().any(|n| n == name) {
            self.plugin_env.push(clip(name, MAX_VALUE));
        }
    }

    /// The transport the rank's collectives use between nodes, as far as the log shows.
    pub fn transport(&self) -> Option<Net> {
        if self.net_socket > 0 {
            return Some(Net::Socket);
        }
        if self.net_ofi_gdr + self.net_ofi_plain > 0 {
            return Some(Net::Ofi);
        }
        if self.net_ib > 0 {
            return Some(Net::Ib);
        }
        self.network.map(|(n, _)| n)
    }

    /// The OFI plugin works on this rank: it carries traffic, selected efa, or initialised
    /// without an error and nothing else was chosen.
    pub fn ofi_ok(&self) -> bool {
        self.transport() == Some(Net::Ofi)
            || self.provider.as_ref().is_some_and(|p| p.value == "efa")
            || (self.ofi_seen
                && self.init_failed.is_none()
                && !matches!(self.gdr_off, Some((GdrOff::DisabledOnSupported, _)))
                && self.transport().is_none())
    }

    /// Whether the rank uses NCCL's TCP sockets between nodes.
    pub fn uses_socket(&self) -> bool {
        self.transport() == Some(Net::Socket)
    }

    /// GPUDirect RDMA as the log shows it: on, off, or not said.
    pub fn gdr(&self) -> Option<bool> {
        if self.gdr_on.is_some() || self.net_ofi_gdr > 0 {
            return Some(true);
        }
        if self.gdr_off.is_some() || self.net_ofi_plain > 0 {
            return Some(false);
        }
        None
    }

    /// Every communicator of the rank stayed on one node: no traffic crossed the network.
    pub fn single_node(&self) -> bool {
        self.nnodes == Some(1) && self.net_socket + self.net_ofi_gdr + self.net_ofi_plain == 0
    }

    /// How messages name the rank: `rank 3 (ip-10-0-1-17:4242)`, NCCL's own `host:pid` when
    /// the rank number is unknown.
    pub fn label(&self, files: &[String]) -> String {
        let who = match (&self.host, self.pid) {
            (Some(h), Some(p)) => Some(format!("{h}:{p}")),
            (Some(h), None) => Some(h.clone()),
            _ => None,
        };
        match (self.rank, who) {
            (Some(r), Some(w)) => format!("rank {r} ({w})"),
            (Some(r), None) => format!("rank {r}"),
            (None, Some(w)) => w,
            (None, None) => match &self.label {
                Some(l) => format!("`{l}` in {}", file_name(files, self.file)),
                None => file_name(files, self.file).to_string(),
            },
        }
    }

    pub fn summary(&self, files: &[String]) -> RankSummary {
        let v = |s: &Option<Seen>| s.as_ref().map(|s| s.value.clone());
        RankSummary {
            label: self.label(files),
            rank: self.rank,
            host: self.host.clone(),
            pid: self.pid,
            launcher: self.label.clone(),
            file: file_name(files, self.file).to_string(),
            nccl: v(&self.nccl),
            nccl_cuda: v(&self.nccl_cuda),
            aws_ofi_nccl: v(&self.ofi),
            libfabric: v(&self.libfabric),
            cuda_driver: v(&self.cuda_driver),
            cuda_runtime: v(&self.cuda_runtime),
            platform: v(&self.platform),
            transport: self.transport().map(|n| n.as_str()),
            provider: v(&self.provider),
            fabric: v(&self.fabric),
            nics: self.nics.map(|n| n.0),
            gdr: self.gdr(),
            init_complete: self.init_complete,
        }
    }

    /// Whether the rank has anything for the per-rank table.
    pub fn has_facts(&self) -> bool {
        !self.file_level
            || self.nccl.is_some()
            || self.ofi.is_some()
            || self.network.is_some()
            || self.provider.is_some()
    }
}

pub fn file_name(files: &[String], i: usize) -> &str {
    files.get(i).map_or("<input>", String::as_str)
}

/// One row of the per-rank table (JSON `ranks[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RankSummary {
    pub label: String,
    pub rank: Option<u32>,
    pub host: Option<String>,
    pub pid: Option<u32>,
    pub launcher: Option<String>,
    pub file: String,
    pub nccl: Option<String>,
    pub nccl_cuda: Option<String>,
    pub aws_ofi_nccl: Option<String>,
    pub libfabric: Option<String>,
    pub cuda_driver: Option<String>,
    pub cuda_runtime: Option<String>,
    pub platform: Option<String>,
    /// `OFI`, `Socket`, `IB`, `other`.
    pub transport: Option<&'static str>,
    pub provider: Option<String>,
    pub fabric: Option<String>,
    pub nics: Option<u32>,
    pub gdr: Option<bool>,
    pub init_complete: bool,
}
