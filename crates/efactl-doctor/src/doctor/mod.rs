//! `efactl doctor`: prove the fabric from inside the cluster.
//!
//! One process per node (or `--local N` on one host). Rank 0 runs a coordinator: every rank
//! reports its address and data port to it, gets the table of peers back, then runs each
//! stage when the coordinator says so and sends its results back. Every wait has a deadline;
//! a rank that never arrives or stops answering is named in the report, and nothing hangs.

pub mod allreduce;
pub mod data;
pub mod imds;
pub mod launch;
pub mod node;
pub mod pairing;
pub mod perf;
pub mod plot;
pub mod probe;
pub mod report;
pub mod wire;

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wire::WireError;

pub use launch::Identity;
pub use report::Report;

/// Which stages run (`--stages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stages {
    pub node: bool,
    pub connectivity: bool,
    pub latency: bool,
    pub bandwidth: bool,
    pub allreduce: bool,
}

impl Stages {
    pub const NAMES: &'static [&'static str] =
        &["node", "connectivity", "latency", "bandwidth", "allreduce"];

    pub fn all() -> Stages {
        Stages {
            node: true,
            connectivity: true,
            latency: true,
            bandwidth: true,
            allreduce: true,
        }
    }

    pub fn parse(list: &[String]) -> Result<Stages, String> {
        let mut s = Stages {
            node: false,
            connectivity: false,
            latency: false,
            bandwidth: false,
            allreduce: false,
        };
        for name in list {
            match name.as_str() {
                "node" => s.node = true,
                "connectivity" => s.connectivity = true,
                "latency" => s.latency = true,
                "bandwidth" => s.bandwidth = true,
                "allreduce" => s.allreduce = true,
                "all" => s = Stages::all(),
                other => {
                    return Err(format!(
                        "unknown stage `{other}`: expected one of {}",
                        Stages::NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(s)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub identity: Identity,
    /// Data-plane port; 0 picks a free one.
    pub data_port: u16,
    /// Address to bind the data listener to.
    pub bind: IpAddr,
    /// Extra ports probed between every pair (22, 29500, ...).
    pub ports: Vec<u16>,
    pub stages: Stages,
    /// How long rank 0 waits for every rank to arrive.
    pub rendezvous: Duration,
    pub probe_timeout: Duration,
    pub probe_parallel: usize,
    pub latency_iters: usize,
    pub bw_streams: usize,
    pub bw_duration: Duration,
    /// At most this many pairing rounds (0 = all N-1).
    pub max_rounds: usize,
    pub allreduce_sizes: Vec<usize>,
    pub allreduce_iters: usize,
    pub chunk: usize,
    pub sysroot: PathBuf,
    pub instance_type: Option<String>,
    pub use_imds: bool,
    pub env: Vec<(String, String)>,
    /// Every rank runs on this one host (`--local`): links are loopback and ranks share the
    /// CPUs, so relative performance outliers say nothing about a network and are not judged.
    pub local: bool,
    /// Rank 0 prints one line per stage on stderr (when stderr is a terminal).
    pub progress: bool,
}

impl Config {
    pub fn new(identity: Identity) -> Config {
        Config {
            identity,
            data_port: 0,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ports: Vec::new(),
            stages: Stages::all(),
            rendezvous: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(2),
            probe_parallel: 64,
            latency_iters: 1000,
            bw_streams: 4,
            bw_duration: Duration::from_secs(2),
            max_rounds: 0,
            allreduce_sizes: vec![1 << 20, 16 << 20, 64 << 20],
            allreduce_iters: 5,
            chunk: 256 << 10,
            sysroot: PathBuf::from("/"),
            instance_type: None,
            use_imds: true,
            env: Vec::new(),
            local: false,
            progress: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("{0}")]
    Setup(String),
    #[error("rank 0 (the coordinator at {addr}) could not be reached: {why}")]
    CoordinatorUnreachable { addr: String, why: String },
    #[error("lost the coordinator during the {stage} stage: {why}")]
    CoordinatorLost { stage: String, why: String },
}

// ---- messages ------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub rank: usize,
    pub size: usize,
    pub data_port: u16,
    pub version: String,
    pub engine: String,
    pub pid: u32,
    pub node: Option<node::NodeReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    pub rank: usize,
    pub host: String,
    pub addr: IpAddr,
    pub data_port: u16,
    pub pid: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToRank {
    Table {
        peers: Vec<PeerInfo>,
        missing: Vec<usize>,
    },
    Probe {
        ports: Vec<u16>,
        timeout_ms: u64,
        parallel: usize,
    },
    Latency {
        partner: Option<usize>,
        iters: usize,
    },
    Bandwidth {
        partner: Option<usize>,
        send: bool,
        streams: usize,
        millis: u64,
    },
    AllReduce {
        ring: Vec<usize>,
        sizes: Vec<usize>,
        iters: usize,
        chunk: usize,
        budget_ms: u64,
    },
    Done,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToCoord {
    Hello(Box<Hello>),
    Probe(Vec<probe::Cell>),
    Latency(Option<perf::LatencyResult>),
    Bandwidth(Option<perf::BandwidthResult>),
    AllReduce(Result<Vec<allreduce::SizeResult>, String>),
}

/// Runs this rank. Rank 0 returns the report; other ranks return `None` once told they are done.
pub fn run(cfg: Config) -> Result<Option<Report>, DoctorError> {
    run_with(cfg, None)
}

/// As [`run`], with rank 0's coordinator listener already bound (`--local` binds it first so
/// the ranks it spawns know the port).
pub fn run_with(cfg: Config, listener: Option<TcpListener>) -> Result<Option<Report>, DoctorError> {
    let started = Instant::now();
    let dp = data::start(SocketAddr::new(cfg.bind, cfg.data_port)).map_err(|e| {
        DoctorError::Setup(format!("cannot listen on data port {}: {e}", cfg.data_port))
    })?;
    let node = cfg.stages.node.then(|| {
        node::inspect(&node::NodeProbe {
            sysroot: &cfg.sysroot,
            env: &cfg.env,
            instance_type: cfg.instance_type.clone(),
            use_imds: cfg.use_imds,
        })
    });
    let coordinator = if cfg.identity.rank == 0 {
        let addr = cfg.identity.coordinator.clone();
        let listener = match listener {
            Some(l) => l,
            None => addr
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| std::io::Error::other("not an address"))
                .and_then(data::listen)
                .map_err(|e| DoctorError::Setup(format!("rank 0 cannot listen on {addr}: {e}")))?,
        };
        let bound = listener
            .local_addr()
            .map_err(|e| DoctorError::Setup(format!("rank 0's coordinator socket: {e}")))?;
        // Rank 0 reaches its own coordinator where it listens; over loopback when it listens
        // on every address.
        let own = if bound.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
        } else {
            bound
        };
        let c = cfg.clone();
        let handle = std::thread::Builder::new()
            .name("efactl-coordinator".into())
            .spawn(move || coordinate(listener, &c, started))
            .map_err(|e| DoctorError::Setup(e.to_string()))?;
        Some((handle, own))
    } else {
        None
    };
    let target = match &coordinator {
        Some((_, own)) => own.to_string(),
        None => cfg.identity.coordinator.clone(),
    };
    let hello = Hello {
        rank: cfg.identity.rank,
        size: cfg.identity.size,
        data_port: dp.port,
        version: efactl_core::VERSION.to_string(),
        engine: cfg.identity.engine.to_string(),
        pid: std::process::id(),
        node,
    };
    let worked = work(&cfg, &target, hello, dp);
    match coordinator {
        Some((handle, _)) => {
            let report = handle
                .join()
                .map_err(|_| DoctorError::Setup("the coordinator thread panicked".into()))?;
            // Rank 0's own worker failing is reported inside the report, not as an error.
            if let Err(e) = worked {
                eprintln!("efactl doctor: rank 0's worker: {e}");
            }
            Ok(Some(report))
        }
        None => worked.map(|_| None),
    }
}

/// The deadline a rank gives the coordinator for its next instruction: the longest stage.
fn stage_budget(cfg: &Config) -> Duration {
    let n = cfg.identity.size.max(2);
    let probes = ((n - 1) * (1 + cfg.ports.len())).div_ceil(cfg.probe_parallel.max(1)) as u32;
    let probe = cfg.probe_timeout * probes.max(1) + Duration::from_secs(10);
    let bw = cfg.bw_duration + Duration::from_secs(40);
    let ar = allreduce_budget(cfg);
    probe.max(bw).max(ar).max(Duration::from_secs(30)) + cfg.rendezvous
}

fn allreduce_budget(cfg: &Config) -> Duration {
    // Assume no worse than 20 MB/s per rank for the ring's 2(n-1)/n traffic, plus set-up.
    let bytes: usize = cfg.allreduce_sizes.iter().sum::<usize>() * (cfg.allreduce_iters + 1) * 2;
    Duration::from_secs_f64(bytes as f64 / 20e6) + Duration::from_secs(20)
}

fn connect_with_retry(target: &str, deadline: Instant) -> Result<TcpStream, DoctorError> {
    let mut last = String::from("no attempt");
    while Instant::now() < deadline {
        let addrs: Vec<SocketAddr> = match target.to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => {
                last = format!("cannot resolve: {e}");
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        for a in addrs {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(2));
            if left.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&a, left) {
                Ok(s) => return Ok(s),
                Err(e) => last = e.to_string(),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(DoctorError::CoordinatorUnreachable {
        addr: target.to_string(),
        why: last,
    })
}

/// A rank's side: say hello, then do what the coordinator asks until it says done.
fn work(cfg: &Config, target: &str, hello: Hello, dp: data::DataPlane) -> Result<(), DoctorError> {
    let me = cfg.identity.rank;
    let mut ctl = connect_with_retry(target, Instant::now() + cfg.rendezvous)?;
    let _ = ctl.set_nodelay(true);
    let lost = |stage: &str, e: WireError| DoctorError::CoordinatorLost {
        stage: stage.to_string(),
        why: e.to_string(),
    };
    wire::send(
        &mut ctl,
        &ToCoord::Hello(Box::new(hello)),
        Instant::now() + Duration::from_secs(10),
    )
    .map_err(|e| lost("rendezvous", e))?;
    let budget = stage_budget(cfg);
    let mut peers: Vec<PeerInfo> = Vec::new();
    let mut stage = "rendezvous";
    loop {
        let msg: ToRank =
            wire::recv(&mut ctl, Instant::now() + budget).map_err(|e| lost(stage, e))?;
        let reply = match msg {
            ToRank::Table { peers: p, .. } => {
                peers = p;
                stage = "node";
                continue;
            }
            ToRank::Done => return Ok(()),
            ToRank::Probe {
                ports,
                timeout_ms,
                parallel,
            } => {
                stage = "connectivity";
                let mut targets = Vec::new();
                // Start with the next rank and wrap around, so that at any moment the ranks
                // probe different listeners instead of all hitting rank 0 first.
                let n = peers.len().max(1);
                let start = peers.iter().position(|p| p.rank == me).map_or(0, |i| i + 1);
                for p in peers
                    .iter()
                    .cycle()
                    .skip(start)
                    .take(n)
                    .filter(|p| p.rank != me)
                {
                    targets.push(probe::Target {
                        rank: p.rank,
                        addr: p.addr,
                        port: p.data_port,
                        data_port: true,
                    });
                    for &port in &ports {
                        targets.push(probe::Target {
                            rank: p.rank,
                            addr: p.addr,
                            port,
                            data_port: false,
                        });
                    }
                }
                ToCoord::Probe(probe::probe_all(
                    me,
                    &targets,
                    Duration::from_millis(timeout_ms),
                    parallel,
                ))
            }
            ToRank::Latency { partner, iters } => {
                stage = "latency";
                // The lower rank of a pair measures; the other serves it from its data plane.
                let r = partner
                    .filter(|&p| me < p)
                    .and_then(|p| peers.iter().find(|x| x.rank == p))
                    .map(|p| {
                        perf::latency(
                            me,
                            p.rank,
                            SocketAddr::new(p.addr, p.data_port),
                            iters,
                            Duration::from_secs(5),
                        )
                    });
                ToCoord::Latency(r)
            }
            ToRank::Bandwidth {
                partner,
                send,
                streams,
                millis,
            } => {
                stage = "bandwidth";
                let r = partner
                    .filter(|_| send)
                    .and_then(|p| peers.iter().find(|x| x.rank == p))
                    .map(|p| {
                        perf::bandwidth(
                            me,
                            p.rank,
                            SocketAddr::new(p.addr, p.data_port),
                            streams,
                            Duration::from_millis(millis),
                        )
                    });
                ToCoord::Bandwidth(r)
            }
            ToRank::AllReduce {
                ring,
                sizes,
                iters,
                chunk,
                budget_ms,
            } => {
                stage = "allreduce";
                ToCoord::AllReduce(ring_stage(
                    me,
                    &ring,
                    &peers,
                    &dp,
                    &sizes,
                    iters,
                    chunk,
                    Duration::from_millis(budget_ms),
                ))
            }
        };
        wire::send(&mut ctl, &reply, Instant::now() + Duration::from_secs(30))
            .map_err(|e| lost(stage, e))?;
    }
}

/// Joins the ring (in the coordinator's order of live ranks) and runs the all-reduce sizes.
#[allow(clippy::too_many_arguments)]
fn ring_stage(
    me: usize,
    ring: &[usize],
    peers: &[PeerInfo],
    dp: &data::DataPlane,
    sizes: &[usize],
    iters: usize,
    chunk: usize,
    budget: Duration,
) -> Result<Vec<allreduce::SizeResult>, String> {
    let deadline = Instant::now() + budget;
    let n = ring.len();
    let pos = ring
        .iter()
        .position(|&r| r == me)
        .ok_or("this rank is not in the ring")?;
    if n < 2 {
        return Ok(Vec::new());
    }
    let next_rank = ring[(pos + 1) % n];
    let prev_rank = ring[(pos + n - 1) % n];
    let next_peer = peers
        .iter()
        .find(|p| p.rank == next_rank)
        .ok_or("next rank unknown")?;
    let mut next = TcpStream::connect_timeout(
        &SocketAddr::new(next_peer.addr, next_peer.data_port),
        Duration::from_secs(10),
    )
    .map_err(|e| format!("cannot connect to rank {next_rank}: {e}"))?;
    use std::io::Write;
    next.write_all(&[data::RING])
        .and_then(|_| next.write_all(&(me as u32).to_be_bytes()))
        .map_err(|e| format!("cannot reach rank {next_rank}: {e}"))?;
    let _ = next.set_nodelay(true);
    let mut prev = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match dp.ring_rx.recv_timeout(left.min(Duration::from_secs(60))) {
            Ok((from, s)) if from == prev_rank => break s,
            // A stale connection from an earlier run of the stage: drop it.
            Ok(_) => continue,
            Err(_) => {
                return Err(format!(
                    "rank {prev_rank} never connected to this rank's ring port"
                ))
            }
        }
    };
    let _ = prev.set_nodelay(true);
    // Ring positions, not rank ids, define the data pattern and the expected sums.
    let mut ring = allreduce::Ring {
        next: &mut next,
        prev: &mut prev,
        pos,
        n,
        chunk,
        deadline,
    };
    allreduce::run_sizes(&mut ring, sizes, iters)
        .map_err(|e| format!("ring with ranks {prev_rank} -> {me} -> {next_rank} failed: {e}"))
}

// ---- the coordinator ------------------------------------------------------------------------

struct Member {
    hello: Hello,
    addr: IpAddr,
    stream: TcpStream,
    /// Set when the rank stopped answering; the reason goes into the report.
    lost: Option<String>,
}

fn coordinate(listener: TcpListener, cfg: &Config, started: Instant) -> Report {
    let n = cfg.identity.size;
    let mut rep = Report::new(n, cfg);
    let deadline = Instant::now() + cfg.rendezvous;
    let mut members: Vec<Option<Member>> = (0..n).map(|_| None).collect();
    let _ = listener.set_nonblocking(true);
    let mut arrived = 0;
    // Rendezvous: accept until every rank has said hello or the deadline passes.
    while arrived < n && Instant::now() < deadline {
        match listener.accept() {
            Ok((mut s, peer)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_nodelay(true);
                let local = s.local_addr().map(|a| a.ip()).ok();
                match wire::recv::<ToCoord>(&mut s, Instant::now() + Duration::from_secs(5)) {
                    Ok(ToCoord::Hello(h)) if h.rank < n && members[h.rank].is_none() && h.size == n => {
                        let mut addr = peer.ip();
                        if addr.is_loopback() {
                            if let Some(l) = local {
                                addr = l;
                            }
                        }
                        rep.note_local_addr(local);
                        let r = h.rank;
                        members[r] = Some(Member { hello: *h, addr, stream: s, lost: None });
                        arrived += 1;
                    }
                    Ok(ToCoord::Hello(h)) => rep.problems.push(format!(
                        "a process claiming rank {} of {} was turned away (duplicate rank or wrong size)",
                        h.rank, h.size
                    )),
                    _ => {}
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    rep.rendezvous_seconds = started.elapsed().as_secs_f64();
    progress(cfg, started, &format!("rendezvous: {arrived} of {n} ranks"));
    // Loopback addresses of ranks on rank 0's host are replaced by the address remote ranks
    // used to reach rank 0, so that everyone can reach everyone.
    let outward = members
        .iter()
        .flatten()
        .map(|m| m.addr)
        .find(|a| !a.is_loopback());
    for m in members.iter_mut().flatten() {
        if m.addr.is_loopback() || m.addr.is_unspecified() {
            if let Some(o) = outward {
                m.addr = o;
            } else {
                m.addr = IpAddr::V4(Ipv4Addr::LOCALHOST);
            }
        }
    }
    let missing: Vec<usize> = (0..n).filter(|&r| members[r].is_none()).collect();
    for &r in &missing {
        rep.lost(r, "never arrived at the rendezvous");
    }
    let peers: Vec<PeerInfo> = members
        .iter()
        .flatten()
        .map(|m| PeerInfo {
            rank: m.hello.rank,
            host: m
                .hello
                .node
                .as_ref()
                .map(|n| n.hostname.clone())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| m.addr.to_string()),
            addr: m.addr,
            data_port: m.hello.data_port,
            pid: m.hello.pid,
        })
        .collect();
    rep.peers = peers.clone();
    rep.engine = members
        .iter()
        .flatten()
        .find(|m| m.hello.rank == 0)
        .map(|m| m.hello.engine.clone())
        .unwrap_or_default();
    for m in members.iter().flatten() {
        if let Some(node) = &m.hello.node {
            rep.nodes.push((m.hello.rank, node.clone()));
        }
    }
    broadcast(&mut members, &mut rep, "rendezvous", |_| ToRank::Table {
        peers: peers.clone(),
        missing: missing.clone(),
    });

    if cfg.stages.connectivity {
        progress(cfg, started, "connectivity");
        let t = Instant::now();
        let msg = ToRank::Probe {
            ports: cfg.ports.clone(),
            timeout_ms: cfg.probe_timeout.as_millis() as u64,
            parallel: cfg.probe_parallel,
        };
        let probes =
            ((n.max(2) - 1) * (1 + cfg.ports.len())).div_ceil(cfg.probe_parallel.max(1)) as u32;
        let budget = cfg.probe_timeout * probes.max(1) + Duration::from_secs(10);
        for (r, reply) in exchange(&mut members, &mut rep, "connectivity", budget, |_| {
            msg.clone()
        }) {
            if let ToCoord::Probe(cells) = reply {
                rep.cells.extend(cells);
            } else {
                rep.lost(r, "answered the connectivity stage with something else");
            }
        }
        rep.stage_seconds
            .push(("connectivity".into(), t.elapsed().as_secs_f64()));
    }

    let rounds = pairing::sample(pairing::schedule(n), cfg.max_rounds);
    if cfg.stages.latency {
        progress(cfg, started, &format!("latency: {} rounds", rounds.len()));
        let t = Instant::now();
        for round in &rounds {
            let replies = exchange(
                &mut members,
                &mut rep,
                "latency",
                Duration::from_secs(20),
                |r| ToRank::Latency {
                    partner: round[r],
                    iters: cfg.latency_iters,
                },
            );
            for (_, reply) in replies {
                if let ToCoord::Latency(Some(l)) = reply {
                    rep.latency.push(l);
                }
            }
        }
        rep.stage_seconds
            .push(("latency".into(), t.elapsed().as_secs_f64()));
    }
    if cfg.stages.bandwidth {
        progress(
            cfg,
            started,
            &format!(
                "bandwidth: {} rounds x 2 directions x {:.1} s",
                rounds.len(),
                cfg.bw_duration.as_secs_f64()
            ),
        );
        let t = Instant::now();
        for round in &rounds {
            // Lower to higher, then higher to lower: one direction at a time per link.
            for lower_sends in [true, false] {
                let replies = exchange(
                    &mut members,
                    &mut rep,
                    "bandwidth",
                    cfg.bw_duration + Duration::from_secs(40),
                    |r| ToRank::Bandwidth {
                        partner: round[r],
                        send: round[r].is_some_and(|p| (r < p) == lower_sends),
                        streams: cfg.bw_streams,
                        millis: cfg.bw_duration.as_millis() as u64,
                    },
                );
                for (_, reply) in replies {
                    if let ToCoord::Bandwidth(Some(b)) = reply {
                        rep.bandwidth.push(b);
                    }
                }
            }
        }
        rep.stage_seconds
            .push(("bandwidth".into(), t.elapsed().as_secs_f64()));
    }
    if cfg.stages.allreduce {
        progress(
            cfg,
            started,
            &format!("all-reduce: {} sizes", cfg.allreduce_sizes.len()),
        );
        let t = Instant::now();
        let ring: Vec<usize> = members
            .iter()
            .flatten()
            .filter(|m| m.lost.is_none())
            .map(|m| m.hello.rank)
            .collect();
        if ring.len() >= 2 {
            let budget = allreduce_budget(cfg);
            let replies = exchange(
                &mut members,
                &mut rep,
                "allreduce",
                budget + Duration::from_secs(10),
                |_| ToRank::AllReduce {
                    ring: ring.clone(),
                    sizes: cfg.allreduce_sizes.clone(),
                    iters: cfg.allreduce_iters,
                    chunk: cfg.chunk,
                    budget_ms: budget.as_millis() as u64,
                },
            );
            rep.ring = ring;
            for (r, reply) in replies {
                match reply {
                    ToCoord::AllReduce(Ok(sizes)) => rep.allreduce.push((r, sizes)),
                    ToCoord::AllReduce(Err(e)) => rep.allreduce_errors.push((r, e)),
                    _ => rep.lost(r, "answered the all-reduce stage with something else"),
                }
            }
        }
        rep.stage_seconds
            .push(("allreduce".into(), t.elapsed().as_secs_f64()));
    }
    broadcast(&mut members, &mut rep, "done", |_| ToRank::Done);
    rep.total_seconds = started.elapsed().as_secs_f64();
    rep.finish();
    rep
}

fn progress(cfg: &Config, started: Instant, what: &str) {
    if cfg.progress {
        eprintln!(
            "efactl doctor [{:>6.1} s] {what}",
            started.elapsed().as_secs_f64()
        );
    }
}

fn live(members: &mut [Option<Member>]) -> impl Iterator<Item = &mut Member> {
    members.iter_mut().flatten().filter(|m| m.lost.is_none())
}

fn broadcast(
    members: &mut [Option<Member>],
    rep: &mut Report,
    stage: &str,
    msg: impl Fn(usize) -> ToRank,
) {
    for m in live(members) {
        if let Err(e) = wire::send(
            &mut m.stream,
            &msg(m.hello.rank),
            Instant::now() + Duration::from_secs(10),
        ) {
            let why = format!("stopped answering during {stage}: {e}");
            rep.lost(m.hello.rank, &why);
            m.lost = Some(why);
        }
    }
}

/// Sends each live rank its instruction, then collects every answer before one deadline.
fn exchange(
    members: &mut [Option<Member>],
    rep: &mut Report,
    stage: &str,
    budget: Duration,
    msg: impl Fn(usize) -> ToRank,
) -> Vec<(usize, ToCoord)> {
    broadcast(members, rep, stage, &msg);
    let deadline = Instant::now() + budget;
    let mut out = Vec::new();
    for m in live(members) {
        match wire::recv::<ToCoord>(&mut m.stream, deadline) {
            Ok(reply) => out.push((m.hello.rank, reply)),
            Err(e) => {
                let why = match e {
                    WireError::Timeout => format!(
                        "did not answer the {stage} stage within {:.0} s",
                        budget.as_secs_f64()
                    ),
                    WireError::Closed => {
                        format!("died during the {stage} stage (its connection closed)")
                    }
                    other => format!("failed in the {stage} stage: {other}"),
                };
                rep.lost(m.hello.rank, &why);
                m.lost = Some(why);
            }
        }
    }
    out
}
