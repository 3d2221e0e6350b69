//! What one message means: a pure function from a line's body (and NCCL header, if any) to an
//! [`Event`]. The exact strings come from efa-facts.md §5 (NCCL, aws-ofi-nccl, libfabric and
//! PyTorch sources, every version that changed them); each is unit-tested below.
//!
//! The checks are ordered by how often their lines occur in a healthy log (channel and
//! transport lines first), and each starts with a cheap prefix test, so that the common line
//! costs a few comparisons.

use super::line::{Level, NcclHeader, Parsed};

/// How a bootstrap / TCP connect failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConnectKind {
    Timeout,
    Refused,
    Unreachable,
    NoInterface,
    InvalidCommId,
    Other,
}

/// Which NCCL002 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InitFailure {
    /// `NET/OFI aws-ofi-nccl initialization failed`.
    OfiInitFailed,
    NoEligibleProviders,
    GetinfoFailed,
    NoOptimalProvider,
    NoProtocol,
    OnlyEfaSupported,
    LibfabricTooOld,
    /// NCCL: `Failed to initialize NET plugin X` / `Failed to initialize any NET plugin`.
    NetPluginInitFailed,
}

/// Which NCCL004 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GdrOff {
    /// `GDR disabled on GDR-supported instance type`: the plugin then fails.
    DisabledOnSupported,
    ForceSimple,
    HmemCudaApi,
    HcaDisabled,
    RingsGdr0,
    /// libfabric: `Failed to register CUDA buffer with the EFA device, FI_HMEM transfers that
    /// require peer to peer support will fail.`
    HmemRegister,
}

/// Which NCCL005 message. The first three mean the peer was never reached (a configuration
/// problem); the others that an established path stopped working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unreachable {
    SecurityGroup,
    AvInsert,
    /// libfabric 15, `Unreachable remote (never received a response)`.
    NeverResponded,
    /// 4126, `Unresponsive receiver (reachable by EFA device but handshake failed)`.
    HandshakeFailed,
    /// 4124, `Unresponsive receiver (connection previously established)`.
    ReceiverUnresponsive,
}

impl Unreachable {
    /// Never reached at all: configuration (security group, subnet), not a peer that died.
    pub fn never_reached(self) -> bool {
        !matches!(self, Unreachable::ReceiverUnresponsive)
    }
}

/// Which NCCL008 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RemoteFailure {
    RemoteExited,
    ClosedByPeer,
    ResetByPeer,
    BadQueuePair,
    /// libfabric 13, `Unresponsive remote (was previously responsive)`.
    RemoteUnresponsive,
}

/// Which NCCL009 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CudaFailure {
    Unhandled,
    CudaCall,
    IllegalAccess,
    OutOfMemory,
    Ecc,
    Cublas,
    Other,
}

/// The transport a rank's NCCL picked (`Using network X`, `via NET/X/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Net {
    Ofi,
    Socket,
    Ib,
    Other,
}

impl Net {
    pub fn from_name(name: &str) -> Net {
        let n = name.trim();
        if n.eq_ignore_ascii_case("Socket") {
            Net::Socket
        } else if n.eq_ignore_ascii_case("IB") {
            Net::Ib
        } else if n.contains("Libfabric") || n.eq_ignore_ascii_case("OFI") || n.contains("AWS") {
            Net::Ofi
        } else {
            Net::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Net::Ofi => "OFI",
            Net::Socket => "Socket",
            Net::Ib => "IB",
            Net::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A recognised line that changes nothing (harmless probing, informational lines).
    Benign,
    /// `Channel 00/0 : 8[0] -> 0[0] [receive] via NET/Libfabric/0/GDRDMA`.
    NetTransport {
        net: Net,
        gdr: bool,
    },
    /// A channel line over P2P / SHM: intra-node, says nothing about the network.
    IntraNode,
    NcclVersion {
        version: &'a str,
        cuda: Option<&'a str>,
    },
    CudaDriver(&'a str),
    OfiVersion(&'a str),
    LibfabricVersion(&'a str),
    OfiCuda {
        driver: &'a str,
        runtime: &'a str,
    },
    Provider {
        provider: &'a str,
        fabric: Option<&'a str>,
        nics: Option<u32>,
    },
    Platform(&'a str),
    PluginLoaded,
    PluginNotFound,
    InitFailed(InitFailure),
    Network(Net),
    NetInitialized(Net),
    /// `NET/Socket : Using [0]ens5:10.0.1.17<0> …`: the first interface, and one other nodes
    /// cannot reach (a local bridge, a link-local 169.254 address) if listed.
    SocketIface {
        first: &'a str,
        unroutable: Option<&'a str>,
    },
    BootstrapIface(&'a str),
    GdrOn,
    GdrOff(GdrOff),
    Comm {
        rank: u32,
        nranks: u32,
        nnodes: Option<u32>,
    },
    InitComplete,
    EnvEcho {
        name: &'a str,
        value: &'a str,
    },
    /// aws-ofi-nccl set a variable itself (so its echo is not the user's doing).
    PluginSetEnv(&'a str),
    PeerUnreachable(Unreachable),
    Connect {
        kind: ConnectKind,
        weak: bool,
    },
    Watchdog(Watchdog<'a>),
    /// torch: `last enqueued NCCL work: N, last completed NCCL work: M`.
    WorkProgress {
        rank: Option<u32>,
        enqueued: Option<u64>,
        completed: Option<u64>,
    },
    RemoteFailed(RemoteFailure),
    Cuda(CudaFailure),
    VersionMismatch,
    /// `ncclSocketInit: connecting to address with family 33022 is neither AF_INET(2) nor
    /// AF_INET6(10)`: some ranks use sockets, others EFA.
    MixedTransports,
    /// An NCCL failure with no more specific meaning (`unhandled system error`, …).
    NcclError,
    /// A line from NCCL / OFI / torch.distributed with nothing to record.
    NcclLike,
    /// Not ours.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watchdog<'a> {
    /// `[Rank N]` in torch's log prefix.
    pub rank: Option<u32>,
    pub seq: Option<u64>,
    pub op: Option<&'a str>,
    pub ran_ms: Option<u64>,
    /// `watchdog got stuck` / heartbeat: no WorkNCCL details.
    pub stuck: bool,
}

fn after<'a>(s: &'a str, pat: &str) -> Option<&'a str> {
    find(s, pat).map(|i| &s[i + pat.len()..])
}

/// `str::find` for the short needles and lines of a log: std's Two-Way searcher pays a setup
/// per call that costs more than scanning a 150-byte line for the needle's first byte.
pub fn find(h: &str, n: &str) -> Option<usize> {
    let (hb, nb) = (h.as_bytes(), n.as_bytes());
    let first = *nb.first()?;
    let mut i = 0;
    while i + nb.len() <= hb.len() {
        let p = hb[i..=hb.len() - nb.len()]
            .iter()
            .position(|&b| b == first)?;
        if hb[i + p..].starts_with(nb) {
            return Some(i + p);
        }
        i += p + 1;
    }
    None
}

/// The leading run of non-space characters.
fn word(s: &str) -> &str {
    let s = s.trim_start();
    &s[..s.find([' ', ',', ')']).unwrap_or(s.len())]
}

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    let s = s.trim_start();
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    s[..n].parse().ok()
}

/// The number after `key` (`SeqNum=` → 1823).
fn number_after<T: std::str::FromStr>(s: &str, key: &str) -> Option<T> {
    after(s, key).and_then(number)
}

/// Whether `n` appears in `s` as a whole number (not inside a longer one).
fn has_code(s: &str, n: &str) -> bool {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = s[from..].find(n) {
        let start = from + i;
        let end = start + n.len();
        let before_ok = start == 0 || !b[start - 1].is_ascii_digit();
        let after_ok = end >= b.len() || !b[end].is_ascii_digit();
        if before_ok && after_ok {
            return true;
        }
        from = end;
    }
    false
}

/// Classifies one parsed line.
pub fn classify<'a>(p: &Parsed<'a>) -> Event<'a> {
    match &p.nccl {
        Some(h) => nccl_line(h, p.body),
        None => other_line(p.body),
    }
}

fn nccl_line<'a>(h: &NcclHeader<'a>, b: &'a str) -> Event<'a> {
    nccl_body(b, h.level == Level::Warn)
}

/// Starts of NCCL messages that are recognised even without NCCL's header (logs that users
/// abbreviated, or tools that strip it).
const NCCL_BODIES: &[&str] = &[
    "NET/",
    "Channel ",
    "Ring ",
    "Using network ",
    "comm 0x",
    "Bootstrap",
    "Initialized NET plugin",
    "Assigned NET plugin",
    "Connected all rings",
    "socketStartConnect",
    "socketPollConnect",
    "socketProgress",
    "ncclSocketInit",
    "cudaDriverVersion",
];

fn nccl_body(b: &str, warn: bool) -> Event<'_> {
    // Dispatch on the first byte: a line is compared with the few messages that start like
    // it, not with all of them.
    let ev = match b.as_bytes().first() {
        Some(b'C') => {
            if let Some(rest) = b.strip_prefix("Channel ") {
                return channel(rest);
            }
            if b.starts_with("Connected all rings") {
                // NCCL >= 2.19: `Connected all rings, use ring PXN 0 GDR 1`.
                return match after(b, " GDR ").map(word) {
                    Some("0") => Event::GdrOff(GdrOff::RingsGdr0),
                    Some("1") => Event::GdrOn,
                    _ => Event::NcclLike,
                };
            }
            None
        }
        Some(b'R') => b.strip_prefix("Ring ").map(channel),
        Some(b'N') => {
            if let Some(rest) = b.strip_prefix("NET/OFI ") {
                return ofi(rest);
            }
            if b.starts_with("NET/Plugin") {
                return plugin(b);
            }
            if let Some(rest) = b.strip_prefix("NCCL version ") {
                return nccl_version(rest);
            }
            if let Some(rest) = b.strip_prefix("NET/Socket : Using ") {
                return socket_ifaces(rest);
            }
            if b.starts_with("NET/") && b.contains("GPU Direct RDMA") {
                // `NET/IB : GPU Direct RDMA Enabled for HCA 0 'rdmap16s27'` (NET subsystem).
                if b.contains("Enabled for") {
                    return Event::GdrOn;
                }
                if b.contains("Disabled for") {
                    return Event::GdrOff(GdrOff::HcaDisabled);
                }
            }
            None
        }
        Some(b'U') => b
            .strip_prefix("Using network ")
            .map(|rest| Event::Network(Net::from_name(rest))),
        // `Assigned NET plugin Libfabric to comm` (NCCL >= 2.27).
        Some(b'A') => b
            .strip_prefix("Assigned NET plugin ")
            .map(|rest| Event::Network(Net::from_name(word(rest)))),
        // Several plugins may initialise; only the first says which one a rank will use.
        Some(b'I') => b
            .strip_prefix("Initialized NET plugin ")
            .map(|rest| Event::NetInitialized(Net::from_name(word(rest)))),
        Some(b'c') => {
            if let Some(rest) = b.strip_prefix("comm ") {
                return comm(rest);
            }
            b.strip_prefix("cudaDriverVersion ")
                .map(|rest| Event::CudaDriver(word(rest)))
        }
        Some(b'B') => b
            .strip_prefix("Bootstrap : Using ")
            .or_else(|| b.strip_prefix("Bootstrap: Using "))
            .map(|rest| Event::BootstrapIface(iface(rest))),
        Some(b'F') if b.starts_with("Failed to initialize") => {
            // NCCL tries its internal IB transport after the plugin; only a failure of the OFI
            // plugin, or of every plugin, is the plugin's failure.
            if b.starts_with("Failed to initialize any NET plugin")
                || (b.starts_with("Failed to initialize NET plugin")
                    && (b.contains("Libfabric") || b.contains("OFI") || b.contains("AWS")))
            {
                return Event::InitFailed(InitFailure::NetPluginInitFailed);
            }
            return Event::NcclLike;
        }
        _ => None,
    };
    if let Some(ev) = ev {
        return ev;
    }
    if b.ends_with("Init COMPLETE") {
        return Event::InitComplete;
    }
    // Only a line that starts with a variable name can be an echo.
    if b.as_bytes().first().is_some_and(u8::is_ascii_uppercase) {
        if let Some(ev) = env_echo(b) {
            return ev;
        }
    }
    // Failures are printed at WARN; at INFO only NCCL's connect retries say something went
    // wrong. Keeping the full failure scan to WARN lines is what makes INFO lines (nearly
    // all of a log) cheap.
    if warn || b.contains("retrying") {
        if let Some(ev) = failure(b, warn) {
            return ev;
        }
    }
    Event::NcclLike
}

/// `[0]ens32:10.0.1.17<0>` / `ens32:10.0.1.17<0>` -> `ens32`.
fn iface(s: &str) -> &str {
    let s = s.trim_start();
    let s = match s.strip_prefix('[') {
        Some(r) => r.split_once(']').map_or(r, |(_, x)| x),
        None => s,
    };
    &s[..s.find([':', ' ', '<']).unwrap_or(s.len())]
}

/// Interfaces other nodes cannot reach: container bridges, loopback, link-local addresses.
pub fn unroutable_iface(name: &str, addr: &str) -> bool {
    [
        "docker", "lo", "virbr", "veth", "br-", "cni", "flannel", "cali",
    ]
    .iter()
    .any(|p| name.starts_with(p))
        || addr.starts_with("169.254.")
        || addr.starts_with("127.")
}

fn socket_ifaces(rest: &str) -> Event<'_> {
    let mut first = None;
    let mut unroutable = None;
    for item in rest.split_ascii_whitespace().take(64) {
        let Some(item) = item
            .strip_prefix('[')
            .and_then(|i| i.split_once(']'))
            .map(|x| x.1)
        else {
            continue;
        };
        let (name, addr) = item.split_once(':').unwrap_or((item, ""));
        first.get_or_insert(name);
        if unroutable.is_none() && unroutable_iface(name, addr) {
            unroutable = Some(name);
        }
    }
    Event::SocketIface {
        first: first.unwrap_or_else(|| iface(rest)),
        unroutable,
    }
}

fn channel(rest: &str) -> Event<'_> {
    let Some(via) = after(rest, " via ") else {
        // Ring and tree listings: `Channel 00/32 :    0   1   2 …`.
        return Event::NcclLike;
    };
    let Some(net) = via.strip_prefix("NET/") else {
        return Event::IntraNode;
    };
    // `Libfabric/0/GDRDMA`, `AWS Libfabric/0`, `Socket/0`, `IB/0/GDRDMA(PCI)`.
    let name = &net[..net.find('/').unwrap_or(net.len())];
    Event::NetTransport {
        net: Net::from_name(name),
        gdr: net.contains("/GDRDMA"),
    }
}

fn nccl_version(rest: &str) -> Event<'_> {
    let v = word(rest);
    match v.split_once("+cuda") {
        Some((version, cuda)) => Event::NcclVersion {
            version,
            cuda: Some(cuda),
        },
        None => Event::NcclVersion {
            version: v,
            cuda: None,
        },
    }
}

fn comm(rest: &str) -> Event<'_> {
    // HEAD: `comm 0x55d0 rank 3 nRanks 16 nNodes 2 localRanks 8 localRank 3 MNNVL 0`;
    // Init COMPLETE: `comm 0x55d0 rank 3 nranks 16 cudaDev 3 … - Init COMPLETE`.
    if rest.contains("Init COMPLETE") {
        return Event::InitComplete;
    }
    let rank = number_after(rest, " rank ");
    let nranks = number_after(rest, " nRanks ").or_else(|| number_after(rest, " nranks "));
    match (rank, nranks) {
        (Some(rank), Some(nranks)) => Event::Comm {
            rank,
            nranks,
            nnodes: number_after(rest, " nNodes "),
        },
        _ => Event::NcclLike,
    }
}

fn ofi(b: &str) -> Event<'_> {
    if let Some(v) = b.strip_prefix("Initializing aws-ofi-nccl ") {
        return Event::OfiVersion(word(v));
    }
    if let Some(v) = b.strip_prefix("Using Libfabric version ") {
        return Event::LibfabricVersion(word(v));
    }
    if let Some(v) = b.strip_prefix("Using CUDA driver version ") {
        let driver = word(v);
        let runtime = after(v, "with runtime ").map(word).unwrap_or("");
        return Event::OfiCuda { driver, runtime };
    }
    if let Some(v) = b
        .strip_prefix("Selected provider is ")
        .or_else(|| b.strip_prefix("Selected Provider is "))
    {
        let provider = v[..v.find([',', ' ']).unwrap_or(v.len())].trim();
        let fabric = after(v, "fabric is ").map(word);
        let nics = number_after(v, "(found ");
        return Event::Provider {
            provider,
            fabric,
            nics,
        };
    }
    if let Some(v) = b.strip_prefix("Running on ") {
        // `Running on p4d.24xlarge platform, …`.
        return Event::Platform(word(v));
    }
    if b.starts_with("GDR disabled on GDR-supported instance type") {
        return Event::GdrOff(GdrOff::DisabledOnSupported);
    }
    if let Some(reason) = b.strip_prefix("Need to force simple protocol") {
        // `: GDR not supported` means GPUDirect RDMA is off; other reasons (1.16.2 on p4d: `: byte
        // delivery ordering not supported`) only mean the plugin sets NCCL_PROTO.
        if reason.contains("GDR") || reason.trim().is_empty() {
            return Event::GdrOff(GdrOff::ForceSimple);
        }
        return Event::PluginSetEnv("NCCL_PROTO");
    }
    if b.starts_with("Could not disable CUDA API usage for HMEM") {
        return Event::GdrOff(GdrOff::HmemCudaApi);
    }
    if b.contains("initialization failed") || b.contains("Initializing plugin failed") {
        return Event::InitFailed(InitFailure::OfiInitFailed);
    }
    if b.starts_with("No eligible providers were found") {
        return Event::InitFailed(InitFailure::NoEligibleProviders);
    }
    if b.contains("fi_getinfo() call failed") || b.contains("fi_getinfo call failed") {
        return Event::InitFailed(InitFailure::GetinfoFailed);
    }
    if b.starts_with("Couldn't find any optimal provider") {
        return Event::InitFailed(InitFailure::NoOptimalProvider);
    }
    if b.starts_with("Unable to find a protocol that worked") {
        return Event::InitFailed(InitFailure::NoProtocol);
    }
    if b.contains("Only EFA provider is supported") {
        return Event::InitFailed(InitFailure::OnlyEfaSupported);
    }
    if b.contains("requires at least libfabric version") {
        return Event::InitFailed(InitFailure::LibfabricTooOld);
    }
    if let Some(v) = b
        .strip_prefix("Adding ")
        .filter(|v| v.ends_with(" to environment"))
    {
        // Recent plugins (seen with 1.16.2, 1.18.0): `Adding NCCL_BUFFSIZE=8388608 to environment`.
        let name = v.split('=').next().unwrap_or("");
        if !name.is_empty()
            && name
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
        {
            return Event::PluginSetEnv(name);
        }
        return Event::NcclLike;
    }
    if let Some(v) = b.strip_prefix("Setting ") {
        // `Setting NCCL_PROTO to simple`, `Setting FI_EFA_FORK_SAFE environment variable to 1`,
        // `Setting provider_filter to efa` (not a variable: lower case is ignored later).
        let name = word(v);
        if name
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
        {
            return Event::PluginSetEnv(name);
        }
        return Event::NcclLike;
    }
    if let Some(ev) = failure(b, true) {
        return ev;
    }
    Event::NcclLike
}

fn plugin(b: &str) -> Event<'_> {
    // A library that exists but cannot be loaded: a missing dependency (libfabric, libcudart).
    if b.contains("undefined symbol") || b.contains("cannot open shared object") {
        return Event::PluginNotFound;
    }
    // Probing API versions newest first is normal; only the absence of a later `Loaded net
    // plugin` makes it a problem, which the rank state tells.
    if b.contains("Failed to find ncclNetPlugin")
        || b.contains("Failed to find ncclCollNetPlugin")
        || b.contains("Failed to find ncclGinPlugin")
        || b.contains("Failed to find ncclTunerPlugin")
        || b.contains("Failed to find ncclProfiler")
        || b.contains("symbol")
    {
        return Event::Benign;
    }
    if b.contains("Loaded net plugin") || b.contains("Loaded collnet plugin") {
        return Event::PluginLoaded;
    }
    // ≤2.18 `No plugin found, using internal implementation`; 2.19 `dlerror=… No plugin
    // found (…), using internal implementation`; 2.21 `No plugin found (…)`, `Using internal
    // network plugin.`; 2.23 `Could not find:… Using internal network plugin.`; ≥2.27
    // `Could not find: libnccl-net.so …`; `Plugin load (…) returned N : …`.
    if b.contains("No plugin found")
        || b.contains("Could not find")
        || b.contains("Using internal network plugin")
        || b.contains("returned ")
        || b.contains("dlerror")
        || b.contains("cannot open shared object")
    {
        return Event::PluginNotFound;
    }
    Event::NcclLike
}

/// `NCCL_PROTO set by environment to simple`, `NCCL_SOCKET_IFNAME set by environment to ens`.
fn env_echo(b: &str) -> Option<Event<'_>> {
    // The name is the first word; check it before looking for the phrase.
    let end = b.find(' ')?;
    let name_bytes = &b.as_bytes()[..end];
    if !name_bytes
        .iter()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
    {
        return None;
    }
    let value = b[end..].strip_prefix(" set by environment to ")?;
    let name = &b[..end];
    let name = name.trim();
    if name.is_empty() || name.contains(' ') {
        return None;
    }
    let value = value.trim_end_matches('.').trim();
    Some(Event::EnvEcho { name, value })
}

/// A `NAME=value` line of an environment dump (`env | grep NCCL`, `export NAME=value`).
fn env_dump(b: &str) -> Option<Event<'_>> {
    let t = b.trim();
    let t = t.strip_prefix("export ").unwrap_or(t);
    let (name, value) = t.split_once('=')?;
    let known = ["NCCL_", "FI_", "RDMAV_", "OFI_NCCL_"];
    if !known.iter().any(|p| name.starts_with(p))
        || !name
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
        || value.contains(' ')
    {
        return None;
    }
    Some(Event::EnvEcho {
        name,
        value: value.trim_matches(['"', '\'']),
    })
}

/// Failure messages that appear both on NCCL lines and in plain output (torch exceptions,
/// libfabric's own log, launcher output). `warn` tells that the line is an NCCL WARN, where
/// weaker wording still means an error.
fn failure(b: &str, warn: bool) -> Option<Event<'_>> {
    if b.contains("Failed to register CUDA buffer with the EFA device") {
        return Some(Event::GdrOff(GdrOff::HmemRegister));
    }
    // CUDA first: it is the real failure whatever follows on the same line.
    if let Some(c) = cuda(b) {
        return Some(Event::Cuda(c));
    }
    if let Some(u) = unreachable(b) {
        return Some(Event::PeerUnreachable(u));
    }
    if b.contains("remote process exited or there was a network error")
        || b.contains("ncclRemoteError")
    {
        return Some(Event::RemoteFailed(RemoteFailure::RemoteExited));
    }
    if b.contains("Connection closed by remote peer") {
        return Some(Event::RemoteFailed(RemoteFailure::ClosedByPeer));
    }
    if b.contains("Bad queue pair") {
        return Some(Event::RemoteFailed(RemoteFailure::BadQueuePair));
    }
    if b.contains("Unresponsive remote") {
        return Some(Event::RemoteFailed(RemoteFailure::RemoteUnresponsive));
    }
    if let Some(c) = connect(b, warn) {
        return Some(c);
    }
    if warn && b.contains("Connection reset by peer") {
        return Some(Event::RemoteFailed(RemoteFailure::ResetByPeer));
    }
    if b.contains("Mismatched NCCL version") {
        return Some(Event::VersionMismatch);
    }
    if b.contains("is neither AF_INET") {
        // A Socket rank was handed an EFA address: ranks on different networks.
        return Some(Event::MixedTransports);
    }
    if b.contains("unhandled system error")
        || b.contains("internal error - please report")
        || b.contains("ncclSystemError")
        || b.contains("ncclInternalError")
        || b.contains("ncclInvalidUsage")
        || b.contains("NCCL error in:")
        || b.contains("NCCL failure")
    {
        return Some(Event::NcclError);
    }
    None
}

fn cuda(b: &str) -> Option<CudaFailure> {
    if !(b.contains("uda") || b.contains("CUDA") || b.contains("ECC") || b.contains("CUBLAS")) {
        return None;
    }
    if b.contains("unhandled cuda error") || b.contains("ncclUnhandledCudaError") {
        return Some(CudaFailure::Unhandled);
    }
    if b.contains("illegal memory access") || b.contains("cudaErrorIllegalAddress") {
        return Some(CudaFailure::IllegalAccess);
    }
    if b.contains("CUDA out of memory") || b.contains("cudaErrorMemoryAllocation") {
        return Some(CudaFailure::OutOfMemory);
    }
    if b.contains("uncorrectable ECC error") {
        return Some(CudaFailure::Ecc);
    }
    if b.contains("Cuda failure") {
        return Some(CudaFailure::CudaCall);
    }
    if b.contains("CUBLAS_STATUS_") && !b.contains("CUBLAS_STATUS_SUCCESS") {
        return Some(CudaFailure::Cublas);
    }
    if b.contains("CUDA error:") || b.contains("CUDA error: ") || b.contains("CUDA Error:") {
        return Some(CudaFailure::Other);
    }
    None
}

fn unreachable(b: &str) -> Option<Unreachable> {
    let lower_sg = b.contains("security group") || b.contains("Security Group");
    if lower_sg && (b.contains("EFA") || b.contains("efa") || b.contains("NET/OFI")) {
        return Some(Unreachable::SecurityGroup);
    }
    if b.contains("Unreachable remote") {
        return Some(Unreachable::NeverResponded);
    }
    if b.contains("handshake failed") && b.contains("nresponsive receiver") {
        return Some(Unreachable::HandshakeFailed);
    }
    if b.contains("Unresponsive receiver") {
        return Some(Unreachable::ReceiverUnresponsive);
    }
    if (b.contains("address vector") || b.contains("fi_av_insert") || b.contains("av_insert"))
        && (b.contains("nable") || b.contains("ail") || b.contains("rror"))
    {
        return Some(Unreachable::AvInsert);
    }
    // Only the numeric code: `… completed with error. RC: 5. Error: 4126 …`, `prov_errno 15`.
    if b.contains("rror")
        && (b.contains("NET/OFI") || b.contains("efa") || b.contains("completed with error"))
    {
        if has_code(b, "4126") {
            return Some(Unreachable::HandshakeFailed);
        }
        if has_code(b, "4124") {
            return Some(Unreachable::ReceiverUnresponsive);
        }
    }
    None
}

fn connect(b: &str, warn: bool) -> Option<Event<'static>> {
    let kind = |s: &str| {
        if s.contains("timed out") || s.contains("timeout") || s.contains("ETIMEDOUT") {
            ConnectKind::Timeout
        } else if s.contains("refused") || s.contains("ECONNREFUSED") {
            ConnectKind::Refused
        } else if s.contains("unreachable")
            || s.contains("No route to host")
            || s.contains("ENETUNREACH")
            || s.contains("EHOSTUNREACH")
        {
            ConnectKind::Unreachable
        } else {
            ConnectKind::Other
        }
    };
    if b.contains("no socket interface found") || b.contains("NET/Socket : no interface found") {
        return Some(Event::Connect {
            kind: ConnectKind::NoInterface,
            weak: false,
        });
    }
    if b.contains("Invalid NCCL_COMM_ID") {
        return Some(Event::Connect {
            kind: ConnectKind::InvalidCommId,
            weak: false,
        });
    }
    // ≥2.13: `socketStartConnect: exceeded timeouts (N)`, `socketPollConnect: exceeded
    // retries (N)`.
    if b.contains("exceeded timeouts") {
        return Some(Event::Connect {
            kind: ConnectKind::Timeout,
            weak: false,
        });
    }
    if b.contains("exceeded retries") || b.contains("exceeded error retry count") {
        return Some(Event::Connect {
            kind: kind(b),
            weak: false,
        });
    }
    // 2.13-2.24 `socketPollConnect: Connect to X returned N(reason) errno N(reason)`;
    // ≤2.12 `Net : Connect to X failed : reason`; ≥2.27 `connect to X failed : reason`.
    if (b.contains("Connect to ") || b.contains("connect to "))
        && (b.contains(" failed") || b.contains(" returned "))
        && (b.contains("socket")
            || b.contains("Net :")
            || b.contains("bootstrap")
            || b.contains("Bootstrap")
            || warn)
    {
        // A `returned …, retrying` line is NCCL trying again: weak evidence that becomes a
        // finding only if the rank never finished initialising.
        let retrying = b.contains("retrying");
        return Some(Event::Connect {
            kind: kind(b),
            weak: retrying,
        });
    }
    // ≤2.12 INFO `Call to connect returned Connection timed out, retrying`; 2.25-2.26
    // `connect returned X, retrying (N/M) after sleep`.
    if (b.contains("Call to connect returned") || b.contains("connect returned "))
        && b.contains("retrying")
    {
        return Some(Event::Connect {
            kind: kind(b),
            weak: true,
        });
    }
    // torch's TCPStore rendezvous (MASTER_ADDR / MASTER_PORT).
    if b.contains("The client socket has timed out after")
        || b.contains("The server socket has timed out")
    {
        return Some(Event::Connect {
            kind: ConnectKind::Timeout,
            weak: false,
        });
    }
    if b.contains("The client socket has failed to connect to") {
        return Some(Event::Connect {
            kind: kind(b),
            weak: false,
        });
    }
    None
}

fn watchdog(b: &str) -> Option<Event<'_>> {
    let rank = after(b, "Rank ").and_then(number);
    if let Some(w) = after(b, "Watchdog caught collective operation timeout") {
        return Some(Event::Watchdog(Watchdog {
            rank,
            seq: number_after(w, "SeqNum="),
            op: after(w, "OpType=").map(word),
            ran_ms: number_after(w, "ran for "),
            stuck: false,
        }));
    }
    if b.contains("watchdog got stuck")
        || b.contains("Heartbeat monitor timed out")
        || b.contains("watchdog thread seems to be either stuck")
    {
        return Some(Event::Watchdog(Watchdog {
            rank,
            stuck: true,
            ..Watchdog::default()
        }));
    }
    if b.contains("last enqueued NCCL work") || b.contains("last completed NCCL work") {
        return Some(Event::WorkProgress {
            rank,
            enqueued: number_after(b, "last enqueued NCCL work: "),
            completed: number_after(b, "last completed NCCL work: "),
        });
    }
    None
}

/// Lines without an NCCL header: torch.distributed, tracebacks, libfabric, env dumps.
/// Words at least one of which is in every non-NCCL line [`other_line`] recognises: a cheap
/// gate that lets the common line of a training log (loss, throughput, progress bars) through
/// with a few short scans instead of the full set.
const GATE: &[&str] = &[
    "CCL",
    "ccl",
    "uda",
    "UDA",
    "rror",
    "ail",
    "atchdog",
    "NET",
    "network",
    "fabric",
    "=",
    "imed out",
    "efused",
    "each",
    "espons",
    "losed",
    "eset",
    "ECC",
    "ecurity",
    "queue",
    "vector",
    "Rank",
    "socket",
    "onnect",
    "BLAS",
    "comm 0x",
    "Bootstrap",
    "COMPLETE",
];

fn other_line(b: &str) -> Event<'_> {
    if !GATE.iter().any(|g| b.contains(g)) {
        return Event::Other;
    }
    if let Some(ev) = watchdog(b) {
        return ev;
    }
    // Version lines printed alone (NCCL_DEBUG=VERSION, torch's `NCCL version 2.x.y`).
    if let Some(rest) = b.trim_start().strip_prefix("NCCL version ") {
        return nccl_version(rest);
    }
    let t = b.trim_start();
    if NCCL_BODIES.iter().any(|p| t.starts_with(p)) {
        // Without NCCL's header the level is unknown: scan it as a WARN line.
        return nccl_body(t, true);
    }
    let ours = b.contains("NCCL")
        || b.contains("nccl")
        || b.contains("libfabric")
        || b.contains("NET/OFI")
        || b.contains("ProcessGroup");
    if let Some(ev) = failure(b, false) {
        // Generic words (`CUDA error:`, `Connection reset`) count in any line; they are what
        // PyTorch prints when NCCL fails.
        return ev;
    }
    if let Some(ev) = env_dump(b) {
        return ev;
    }
    if ours {
        if let Some(rest) = after(b, "NET/OFI ") {
            return ofi(rest);
        }
        return Event::NcclLike;
    }
    Event::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::parse;

    fn ev(line: &str) -> Event<'_> {
        classify(&parse(line))
    }

    fn info(body: &str) -> String {
        format!("ip-10-0-1-17:4242:4301 [0] NCCL INFO {body}")
    }

    fn warn(body: &str) -> String {
        format!("ip-10-0-1-17:4242:4301 [0] misc/socket.cc:484 NCCL WARN {body}")
    }

    #[test]
    fn healthy_path_strings() {
        assert_eq!(
            ev(&info("NCCL version 2.18.5+cuda12.2")),
            Event::NcclVersion {
                version: "2.18.5",
                cuda: Some("12.2")
            }
        );
        assert_eq!(
            ev(&info("NET/OFI Initializing aws-ofi-nccl 1.7.4-aws")),
            Event::OfiVersion("1.7.4-aws")
        );
        assert_eq!(
            ev(&info("NET/OFI Using Libfabric version 1.22")),
            Event::LibfabricVersion("1.22")
        );
        assert_eq!(
            ev(&info(
                "NET/OFI Using CUDA driver version 12040 with runtime 12020"
            )),
            Event::OfiCuda {
                driver: "12040",
                runtime: "12020"
            }
        );
        assert_eq!(
            ev(&info("cudaDriverVersion 12040")),
            Event::CudaDriver("12040")
        );
        // Provider line, by plugin version.
        assert_eq!(
            ev(&info(
                "NET/OFI Selected provider is efa, fabric is efa (found 32 nics)"
            )),
            Event::Provider {
                provider: "efa",
                fabric: Some("efa"),
                nics: Some(32)
            }
        );
        assert_eq!(
            ev(&info("NET/OFI Selected Provider is efa (found 4 nics)")),
            Event::Provider {
                provider: "efa",
                fabric: None,
                nics: Some(4)
            }
        );
        assert_eq!(
            ev(&info("NET/OFI Selected Provider is efa")),
            Event::Provider {
                provider: "efa",
                fabric: None,
                nics: None
            }
        );
        assert_eq!(
            ev(&info("NET/OFI Running on P4d platform, Setting NCCL_TOPO_FILE environment variable to /opt/aws-ofi-nccl/share/aws-ofi-nccl/xml/p4d-24xl-topo.xml")),
            Event::Platform("P4d")
        );
        assert_eq!(
            ev(&info("NET/OFI Running on p5.48xlarge platform, topology file /opt/amazon/ofi-nccl/share/aws-ofi-nccl/xml/p5.48xl-topo.xml")),
            Event::Platform("p5.48xlarge")
        );
        assert_eq!(
            ev(&info("NET/Plugin: Loaded net plugin Libfabric (v10)")),
            Event::PluginLoaded
        );
        assert_eq!(
            ev(&info("Using network Libfabric")),
            Event::Network(Net::Ofi)
        );
        assert_eq!(
            ev(&info("Using network AWS Libfabric")),
            Event::Network(Net::Ofi)
        );
        assert_eq!(ev(&info("Using network IB")), Event::Network(Net::Ib));
        assert_eq!(
            ev(&info(
                "Channel 00/0 : 8[0] -> 0[0] [receive] via NET/Libfabric/0/GDRDMA"
            )),
            Event::NetTransport {
                net: Net::Ofi,
                gdr: true
            }
        );
        assert_eq!(
            ev(&info(
                "Channel 01/0 : 0[0] -> 8[0] [send] via NET/AWS Libfabric/0"
            )),
            Event::NetTransport {
                net: Net::Ofi,
                gdr: false
            }
        );
        assert_eq!(
            ev(&info("Channel 00/0 : 0[0] -> 1[1] via P2P/IPC/read")),
            Event::IntraNode
        );
        assert_eq!(
            ev(&info("Channel 00/32 :    0   1   2   3   4   5   6   7")),
            Event::NcclLike
        );
        assert_eq!(
            ev(&info(
                "comm 0x55d0c0e0 rank 3 nRanks 16 nNodes 2 localRanks 8 localRank 3 MNNVL 0"
            )),
            Event::Comm {
                rank: 3,
                nranks: 16,
                nnodes: Some(2)
            }
        );
        assert_eq!(
            ev(&info("comm 0x55d0c0e0 rank 3 nranks 16 cudaDev 3 nvmlDev 3 busId 53000 commId 0x1 - Init COMPLETE")),
            Event::InitComplete
        );
        assert_eq!(
            ev(&info("Connected all rings, use ring PXN 0 GDR 1")),
            Event::GdrOn
        );
        assert_eq!(
            ev(&info(
                "NET/Libfabric : GPU Direct RDMA Enabled for HCA 0 'rdmap16s27'"
            )),
            Event::GdrOn
        );
    }

    #[test]
    fn harmless_lines() {
        for line in [
            info("NET/Plugin: Failed to find ncclNetPlugin_v8 symbol."),
            info("NET/Plugin: Failed to find ncclCollNetPlugin_v8 symbol."),
            info("NET/Plugin : Failed to find ncclCollNetPlugin_v6 symbol."),
            info("NET/Plugin: Failed to find ncclCollNetPlugin symbol (>= v5). ncclCollNetPlugin symbols v4 and lower are not supported."),
        ] {
            assert_eq!(ev(&line), Event::Benign, "{line}");
        }
        for line in [
            info("NVLS multicast support is not available on dev 0"),
            info("CC Off, Multi-GPU CC Off, workFifoBytes 1048576"),
            info("Setting affinity for GPU 0 to ffffff"),
            info("P2P plugin IBext_v8"),
            info("NCCL_IB_DISABLE set by environment to 1."),
        ] {
            assert!(
                !matches!(
                    ev(&line),
                    Event::Cuda(_)
                        | Event::PeerUnreachable(_)
                        | Event::RemoteFailed(_)
                        | Event::Connect { .. }
                        | Event::InitFailed(_)
                        | Event::NcclError
                ),
                "{line}"
            );
        }
    }

    #[test]
    fn plugin_not_found_by_nccl_version() {
        for body in [
            "NET/Plugin : Plugin load (libnccl-net.so) returned 2 : libnccl-net.so: cannot open shared object file: No such file or directory",
            "NET/Plugin : No plugin found, using internal implementation",
            "NET/Plugin : dlerror=libnccl-net.so: cannot open shared object file: No such file or directory No plugin found (libnccl-net.so), using internal implementation",
            "NET/Plugin: No plugin found (libnccl-net.so)",
            "NET/Plugin: Using internal network plugin.",
            "NET/Plugin: Could not find: libnccl-net.so. Using internal network plugin.",
            "NET/Plugin: Could not find: libnccl-net.so libnccl-net-ofi.so",
            "NET/Plugin: libnccl-net.so: libfabric.so.1: cannot open shared object file: No such file or directory",
        ] {
            assert_eq!(ev(&info(body)), Event::PluginNotFound, "{body}");
        }
    }

    #[test]
    fn plugin_init_failures() {
        use InitFailure::*;
        for (body, want) in [
            ("NET/OFI aws-ofi-nccl initialization failed", OfiInitFailed),
            (
                "NET/OFI No eligible providers were found",
                NoEligibleProviders,
            ),
            (
                "NET/OFI OFI fi_getinfo() call failed: No data available",
                GetinfoFailed,
            ),
            (
                "NET/OFI Couldn't find any optimal provider",
                NoOptimalProvider,
            ),
            (
                "NET/OFI Unable to find a protocol that worked.  Failing initialization.",
                NoProtocol,
            ),
            ("NET/OFI Only EFA provider is supported", OnlyEfaSupported),
            (
                "NET/OFI EFA provider requires at least libfabric version 1.22.0.",
                LibfabricTooOld,
            ),
            (
                "Failed to initialize NET plugin Libfabric",
                NetPluginInitFailed,
            ),
            ("Failed to initialize any NET plugin", NetPluginInitFailed),
        ] {
            assert_eq!(ev(&warn(body)), Event::InitFailed(want), "{body}");
        }
    }

    #[test]
    fn gdr_off() {
        assert_eq!(
            ev(&warn(
                "NET/OFI GDR disabled on GDR-supported instance type p4d.24xlarge"
            )),
            Event::GdrOff(GdrOff::DisabledOnSupported)
        );
        assert_eq!(
            ev(&info(
                "NET/OFI Need to force simple protocol: GDR not supported"
            )),
            Event::GdrOff(GdrOff::ForceSimple)
        );
        assert_eq!(
            ev(&info(
                "NET/OFI Could not disable CUDA API usage for HMEM, disabling GDR"
            )),
            Event::GdrOff(GdrOff::HmemCudaApi)
        );
        assert_eq!(
            ev(&info("Connected all rings, use ring PXN 0 GDR 0")),
            Event::GdrOff(GdrOff::RingsGdr0)
        );
    }

    #[test]
    fn efa_unreachable() {
        use Unreachable::*;
        for (body, want) in [
            ("NET/OFI Request 0x7f2c5c0 completed with error. RC: 15. Error: Unreachable remote (never received a response). Completed length: 0", NeverResponded),
            ("NET/OFI Request 0x7f completed with error. RC: 5. Error: 4126 (Unresponsive receiver (reachable by EFA device but handshake failed)).", HandshakeFailed),
            ("NET/OFI Request 0x7f completed with error. RC: 5. Error: Unresponsive receiver (connection previously established). Completed length: 0", ReceiverUnresponsive),
            ("NET/OFI Request 0x7f completed with error. RC: 5. Error: 4124. Completed length: 0", ReceiverUnresponsive),
            ("NET/OFI Unable to insert remote address into address vector for device 0. RC: -22", AvInsert),
            ("NET/OFI Received an EFA completion error that indicates a peer is unreachable. Check that the security group allows all traffic to and from itself.", SecurityGroup),
        ] {
            assert_eq!(ev(&warn(body)), Event::PeerUnreachable(want), "{body}");
        }
        assert!(NeverResponded.never_reached());
        assert!(!ReceiverUnresponsive.never_reached());
    }

    #[test]
    fn bootstrap_connect_by_nccl_version() {
        use ConnectKind::*;
        // ≤2.12
        assert_eq!(
            ev(&info(
                "Call to connect returned Connection timed out, retrying"
            )),
            Event::Connect {
                kind: Timeout,
                weak: true
            }
        );
        assert_eq!(
            ev(&warn(
                "Net : Connect to 10.0.1.23<43185> failed : Connection timed out"
            )),
            Event::Connect {
                kind: Timeout,
                weak: false
            }
        );
        // 2.13-2.24
        assert_eq!(
            ev(&warn("socketStartConnect: exceeded timeouts (20000)")),
            Event::Connect {
                kind: Timeout,
                weak: false
            }
        );
        assert_eq!(
            ev(&warn("socketPollConnect: exceeded retries (35)")),
            Event::Connect {
                kind: Other,
                weak: false
            }
        );
        assert_eq!(
            ev(&warn("socketPollConnect: Connect to 10.0.1.23<43185> returned 111(Connection refused) errno 115(Operation now in progress)")),
            Event::Connect { kind: Refused, weak: false }
        );
        assert_eq!(
            ev(&info(
                "Call to connect returned Connection refused, retrying"
            )),
            Event::Connect {
                kind: Refused,
                weak: true
            }
        );
        // 2.25-2.26
        assert_eq!(
            ev(&info("socketStartConnect: connect returned Connection timed out, retrying (1/34) after sleep for 100 msec")),
            Event::Connect { kind: Timeout, weak: true }
        );
        assert_eq!(
            ev(&warn("socketStartConnect: connect returned Network is unreachable, exceeded error retry count (35)")),
            Event::Connect { kind: Unreachable, weak: false }
        );
        // ≥2.27
        assert_eq!(
            ev(&info("socketStartConnect: connect to 10.0.1.23<43185> returned Connection refused, retrying (3/34) after sleep for 300 msec")),
            Event::Connect { kind: Refused, weak: true }
        );
        assert_eq!(
            ev(&warn("socketStartConnect: connect to 10.0.1.23<43185> returned Connection timed out, exceeded error retry count after 35 attempts")),
            Event::Connect { kind: Timeout, weak: false }
        );
        assert_eq!(
            ev(&warn(
                "socketStartConnect: connect to 10.0.1.23<43185> failed : No route to host"
            )),
            Event::Connect {
                kind: Unreachable,
                weak: false
            }
        );
        assert_eq!(
            ev(&warn("Bootstrap : no socket interface found")),
            Event::Connect {
                kind: NoInterface,
                weak: false
            }
        );
        assert_eq!(
            ev(&warn("NET/Socket : no interface found")),
            Event::Connect {
                kind: NoInterface,
                weak: false
            }
        );
        assert_eq!(
            ev("queue-trn2-1:10363:10409 [0] bootstrap.cc:33 NCCL WARN Invalid NCCL_COMM_ID [queue-trn2-1.pcluster:37917], please use format: <ipv4>:<port> or [<ipv6>]:<port> or <hostname>:<port>"),
            Event::Connect { kind: InvalidCommId, weak: false }
        );
        assert_eq!(
            ev("torch.distributed.DistNetworkError: The client socket has timed out after 1800s while trying to connect to (10.0.0.1, 29500)."),
            Event::Connect { kind: Timeout, weak: false }
        );
    }

    #[test]
    fn watchdogs_across_torch_versions() {
        let e = ev("[E ProcessGroupNCCL.cpp:475] [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1, OpType=BROADCAST, NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran for 600081 milliseconds before timing out.");
        assert_eq!(
            e,
            Event::Watchdog(Watchdog {
                rank: Some(1),
                seq: Some(1),
                op: Some("BROADCAST"),
                ran_ms: Some(600081),
                stuck: false
            })
        );
        let e = ev("[rank3]:[E0628 07:23:11.123456 123 ProcessGroupNCCL.cpp:607] [Rank 3] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1823, OpType=ALLREDUCE, NumelIn=1048576, NumelOut=1048576, Timeout(ms)=600000) ran for 600312 milliseconds before timing out.");
        assert!(matches!(
            e,
            Event::Watchdog(Watchdog {
                rank: Some(3),
                seq: Some(1823),
                op: Some("ALLREDUCE"),
                ..
            })
        ));
        let e = ev("[PG ID 0 PG GUID 0(default_pg) Rank 5] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=7, OpType=_ALLGATHER_BASE, NumelIn=1, NumelOut=8, Timeout(ms)=600000) ran for 600004 milliseconds before timing out.");
        assert!(matches!(
            e,
            Event::Watchdog(Watchdog {
                rank: Some(5),
                seq: Some(7),
                op: Some("_ALLGATHER_BASE"),
                ..
            })
        ));
        let e = ev("[rank2]:[E ProcessGroupNCCL.cpp:1316] [PG 0 Rank 2] Timeout at NCCL work: 1823, last enqueued NCCL work: 1823, last completed NCCL work: 1822.");
        assert_eq!(
            e,
            Event::WorkProgress {
                rank: Some(2),
                enqueued: Some(1823),
                completed: Some(1822)
            }
        );
        assert!(matches!(
            ev("[E ProcessGroupNCCL.cpp:1170] [PG 0 Rank 4] ProcessGroupNCCL's watchdog got stuck for 480 seconds without making progress in monitoring enqueued collectives."),
            Event::Watchdog(Watchdog { rank: Some(4), stuck: true, .. })
        ));
    }

    #[test]
    fn remote_and_cuda() {
        use CudaFailure::*;
        use RemoteFailure::*;
        assert_eq!(
            ev(&warn(
                "socketProgress: Connection closed by remote peer ip-10-0-1-23.ec2.internal<54022>"
            )),
            Event::RemoteFailed(ClosedByPeer)
        );
        assert_eq!(
            ev("torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1275, remote process exited or there was a network error, NCCL version 2.19.3"),
            Event::RemoteFailed(RemoteExited)
        );
        assert_eq!(
            ev(&warn("NET/OFI Request completed with error. RC: 5. Error: Unresponsive remote (was previously responsive).")),
            Event::RemoteFailed(RemoteUnresponsive)
        );
        assert_eq!(
            ev("libfabric:4242:1690000000::efa:cq:efa_rdm_cq_proc_ibv_recv_rdma_with_imm_completion():123<warn> Bad queue pair (QP) number"),
            Event::RemoteFailed(BadQueuePair)
        );
        assert_eq!(
            ev(&warn(
                "Cuda failure 'an illegal memory access was encountered'"
            )),
            Event::Cuda(IllegalAccess)
        );
        assert_eq!(
            ev(&warn("Cuda failure 'invalid device ordinal'")),
            Event::Cuda(CudaFailure::CudaCall)
        );
        assert_eq!(
            ev("RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1191, unhandled cuda error (run with NCCL_DEBUG=INFO for details), NCCL version 2.14.3"),
            Event::Cuda(Unhandled)
        );
        assert_eq!(
            ev("RuntimeError: CUDA error: device-side assert triggered"),
            Event::Cuda(Other)
        );
        assert_eq!(
            ev("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
            Event::Cuda(OutOfMemory)
        );
        assert_eq!(
            ev("RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1191, unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.14.3"),
            Event::NcclError
        );
        assert_eq!(
            ev(&warn(
                "Mismatched NCCL version detected : rank 0 version 21805 rank 8 version 21903"
            )),
            Event::VersionMismatch
        );
    }

    #[test]
    fn environment() {
        assert_eq!(
            ev(&info("NCCL_PROTO set by environment to simple")),
            Event::EnvEcho {
                name: "NCCL_PROTO",
                value: "simple"
            }
        );
        assert_eq!(
            ev(&info("NCCL_SOCKET_IFNAME set by environment to ens.")),
            Event::EnvEcho {
                name: "NCCL_SOCKET_IFNAME",
                value: "ens"
            }
        );
        assert_eq!(
            ev("FI_EFA_USE_DEVICE_RDMA=1"),
            Event::EnvEcho {
                name: "FI_EFA_USE_DEVICE_RDMA",
                value: "1"
            }
        );
        assert_eq!(
            ev("export RDMAV_FORK_SAFE=1"),
            Event::EnvEcho {
                name: "RDMAV_FORK_SAFE",
                value: "1"
            }
        );
        assert_eq!(ev("PATH=/usr/bin"), Event::Other);
        assert_eq!(
            ev(&info("NET/OFI Setting NCCL_PROTO to simple")),
            Event::PluginSetEnv("NCCL_PROTO")
        );
        assert_eq!(
            ev(&info("NET/OFI Setting provider_filter to efa")),
            Event::NcclLike
        );
        assert_eq!(
            ev(&info("NET/OFI Adding NCCL_BUFFSIZE=8388608 to environment")),
            Event::PluginSetEnv("NCCL_BUFFSIZE")
        );
        assert_eq!(
            ev(&info(
                "NET/OFI Need to force simple protocol: byte delivery ordering not supported"
            )),
            Event::PluginSetEnv("NCCL_PROTO")
        );
        assert_eq!(
            ev(&info(
                "NET/Socket : Using [0]ens32:10.0.1.17<0> [1]ens33:10.0.1.18<0>"
            )),
            Event::SocketIface {
                first: "ens32",
                unroutable: None
            }
        );
        assert_eq!(
            ev(&info("Bootstrap : Using docker0:172.17.0.1<0>")),
            Event::BootstrapIface("docker0")
        );
    }

    #[test]
    fn prefixless_bodies_pass_the_gate() {
        assert_eq!(ev("Using network Socket"), Event::Network(Net::Socket));
        assert_eq!(
            ev("Initialized NET plugin Socket"),
            Event::NetInitialized(Net::Socket)
        );
        assert_eq!(
            ev("NET/OFI No eligible providers were found"),
            Event::InitFailed(InitFailure::NoEligibleProviders)
        );
        assert_eq!(
            ev("comm 0x1 rank 0 nRanks 2 nNodes 2 localRanks 1 localRank 0 MNNVL 0"),
            Event::Comm {
                rank: 0,
                nranks: 2,
                nnodes: Some(2)
            }
        );
        assert_eq!(
            ev("epoch 3 step 1200 loss 0.4312 lr 3.0e-4 tok/s 51234"),
            Event::Other
        );
    }

    #[test]
    fn codes_are_whole_numbers() {
        assert!(has_code("Error: 4124.", "4124"));
        assert!(!has_code("Error: 41245", "4124"));
        assert!(!has_code("14124", "4124"));
    }
}
