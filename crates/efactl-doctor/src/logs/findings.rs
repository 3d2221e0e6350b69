//! From the streamed state to findings, the verdict and the per-rank table. Runs once, at
//! the end; its cost depends on the number of ranks, not on the input's size.

use super::detect::{
    ConnectKind, CudaFailure, GdrOff, InitFailure, Net, RemoteFailure, Unreachable,
};
use super::rank::{file_name, RankState};
use super::verdict::{decide, priority, Candidate, Status, Verdict};
use super::{Analysis, Analyzer, At, Evidence, Key, TestsSummary, WdKey, MAX_EVIDENCE};
use efactl_core::catalog::{Catalog, InstanceType};
use efactl_core::finding::{sort_findings, Finding, Location, Severity, Subject};
use efactl_core::rules::access::nccl_env_obsolete as env_table;
use efactl_core::rules::nccl as rules;
use efactl_core::rules::Rule;
use efactl_core::yaml::Pos;
use std::collections::{BTreeMap, BTreeSet};

/// Ranks named in a message before "and N more".
const MAX_NAMED: usize = 8;

struct Out<'a> {
    files: &'a [String],
    findings: Vec<Finding>,
    candidates: Vec<Candidate>,
}

fn loc(files: &[String], at: At) -> String {
    format!("{}:{}", file_name(files, at.0), at.1)
}

impl Out<'_> {
    /// Adds a finding pointing at its evidence; `priority` makes it a verdict candidate.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        rule: &'static Rule,
        severity: Option<Severity>,
        who: Option<String>,
        message: String,
        help: &str,
        evidence: &[At],
        total: u64,
        priority: u32,
    ) {
        let mut ats: Vec<At> = evidence.to_vec();
        ats.sort_unstable();
        ats.dedup();
        ats.truncate(MAX_EVIDENCE);
        let listed: Vec<String> = ats.iter().map(|a| loc(self.files, *a)).collect();
        let more = total.saturating_sub(ats.len() as u64);
        let mut msg = message;
        if !listed.is_empty() {
            msg.push_str(&format!(" [evidence: {}", listed.join(", ")));
            if more > 0 {
                msg.push_str(&format!(" and {more} more"));
            }
            msg.push(']');
        }
        let location = ats.first().map(|&(f, line)| {
            let line = u32::try_from(line).unwrap_or(u32::MAX);
            let pos = Pos {
                line,
                column: 1,
                offset: 0,
            };
            Location {
                file: file_name(self.files, f).to_string(),
                start: pos,
                end: pos,
            }
        });
        self.candidates.push(Candidate {
            priority,
            rule: rule.id.to_string(),
            cause: first_sentence(&msg),
            location: ats.first().map(|a| loc(self.files, *a)),
        });
        self.findings.push(Finding {
            rule: rule.id.into(),
            name: rule.name.into(),
            severity: severity.unwrap_or(rule.severity),
            category: rule.category,
            subject: Subject {
                path: None,
                resource: who,
                location,
            },
            message: msg,
            help: (!help.is_empty()).then(|| help.to_string()),
        });
    }
}

/// The message up to its evidence list: the verdict's one-line cause.
fn first_sentence(msg: &str) -> String {
    msg.split(" [evidence: ").next().unwrap_or(msg).to_string()
}

/// `0-3, 8, 10-12`.
fn ranges(nums: &BTreeSet<u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut it = nums.iter().copied().peekable();
    let mut count = 0;
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end.wrapping_add(1))) && end < u32::MAX {
            end += 1;
            it.next();
        }
        count += 1;
        if count > 12 {
            parts.push("…".into());
            break;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(", ")
}

/// How a message names a set of entities: `ranks 0-3, 8 on 2 hosts`, or their labels.
fn who(ranks: &[RankState], set: &BTreeSet<usize>, files: &[String]) -> String {
    let mut nums = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    let mut unnumbered = Vec::new();
    for &i in set {
        let Some(r) = ranks.get(i) else { continue };
        if let Some(h) = &r.host {
            hosts.insert(h.as_str());
        }
        match r.rank {
            Some(n) => {
                nums.insert(n);
            }
            None => unnumbered.push(r.label(files)),
        }
    }
    let mut parts = Vec::new();
    if !nums.is_empty() {
        let word = if nums.len() == 1 { "rank" } else { "ranks" };
        parts.push(format!("{word} {}", ranges(&nums)));
    }
    if !unnumbered.is_empty() {
        let n = unnumbered.len();
        let mut named: Vec<String> = unnumbered.into_iter().take(MAX_NAMED).collect();
        if n > MAX_NAMED {
            named.push(format!("{} more", n - MAX_NAMED));
        }
        parts.push(named.join(", "));
    }
    let mut s = parts.join(" and ");
    if hosts.len() > 1 {
        s.push_str(&format!(" on {} hosts", hosts.len()));
    } else if let (1, Some(h)) = (hosts.len(), hosts.iter().next()) {
        if !s.contains(h) {
            s.push_str(&format!(" on {h}"));
        }
    }
    if s.is_empty() {
        s = "the input".into();
    }
    s
}

/// A catalog type by the name a log or the user gives: `p4d.24xlarge`, or the family only as
/// old aws-ofi-nccl prints it (`Running on P4d platform`).
pub(crate) fn lookup_type(name: &str) -> Option<&'static InstanceType> {
    let cat = Catalog::bundled();
    if let Some(t) = cat.get(name) {
        return Some(t);
    }
    let lower = name.to_ascii_lowercase();
    if let Some(t) = cat.get(&lower) {
        return Some(t);
    }
    cat.iter()
        .filter(|t| t.family() == lower)
        .max_by_key(|t| (t.max_efa_interfaces.unwrap_or(0), t.name.clone()))
}

struct Ctx<'a> {
    a: &'a Analyzer,
    opt_type: Option<&'static InstanceType>,
    /// Some rank selected the efa provider or runs over OFI.
    any_ofi: bool,
    /// An echoed variable says the job meant to use EFA.
    env_efa: bool,
    /// Some rank tried the OFI plugin (it is installed: the job meant to use EFA).
    ofi_tried: bool,
}

impl Ctx<'_> {
    fn type_of(&self, r: &RankState) -> Option<&'static InstanceType> {
        r.platform
            .as_ref()
            .and_then(|p| lookup_type(&p.value))
            .or(self.opt_type)
    }

    /// Whether this rank should have used EFA.
    fn efa_expected(&self, r: &RankState) -> bool {
        match self.type_of(r) {
            Some(t) => t.supports_efa(),
            None => self.any_ofi || self.ofi_tried || r.ofi_seen || self.env_efa,
        }
    }

    /// The type most ranks report, else the one given.
    fn job_type(&self) -> Option<&'static InstanceType> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.a.ranks {
            if let Some(t) = self.type_of(r) {
                *counts.entry(t.name.as_str()).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by_key(|(n, c)| (*c, std::cmp::Reverse(*n)))
            .and_then(|(n, _)| lookup_type(n))
            .or(self.opt_type)
    }
}

pub(crate) fn finish(a: Analyzer) -> Analysis {
    let opt_type = a.options().instance_type.as_deref().and_then(lookup_type);
    let any_ofi = a.ranks.iter().any(RankState::ofi_ok);
    let ofi_tried = a.ranks.iter().any(|r| r.ofi_seen);
    let env_efa = a.env.keys().any(|(n, v)| {
        n.starts_with("FI_EFA_") || (n == "FI_PROVIDER" && v.eq_ignore_ascii_case("efa"))
    });
    let cx = Ctx {
        a: &a,
        opt_type,
        any_ofi,
        env_efa,
        ofi_tried,
    };
    let mut out = Out {
        files: &a.files,
        findings: Vec::new(),
        candidates: Vec::new(),
    };
    let nccl_lines: u64 = a.inputs.iter().map(|i| i.nccl_lines).sum();
    no_output(&a, nccl_lines, &mut out);
    if nccl_lines > 0 {
        socket_fallback(&cx, &mut out);
        plugin_init(&cx, &mut out);
        nic_count(&cx, &mut out);
        gdr(&cx, &mut out);
        unreachable(&cx, &mut out);
        bootstrap(&cx, &mut out);
        watchdog(&cx, &mut out);
        remote(&cx, &mut out);
        cuda(&cx, &mut out);
        versions(&cx, &mut out);
        env(&cx, &mut out);
        nccl_tests(&cx, &mut out);
    }
    let verdict = if nccl_lines == 0 {
        Verdict {
            status: Status::Unknown,
            rule: Some(rules::no_nccl_output::RULE.id.into()),
            cause: "nothing NCCL-like was found in the input".into(),
            location: None,
        }
    } else {
        let mut candidates = out.candidates.clone();
        if let Some(e) = a.evidence.get(&Key::NcclError) {
            let failed = candidates.iter().any(|c| c.priority < priority::DEGRADED);
            if !failed {
                candidates.push(Candidate {
                    priority: priority::NCCL_ERROR,
                    rule: String::new(),
                    cause: format!(
                        "NCCL failed (`{}`) and the log shows no cause efactl recognises: rerun with NCCL_DEBUG=INFO and give efactl every rank's output",
                        e.first
                    ),
                    location: e.at.first().map(|x| loc(&a.files, *x)),
                });
            }
        }
        decide(&candidates, healthy_summary(&cx))
    };
    let Out { mut findings, .. } = out;
    sort_findings(&mut findings);
    let mut rows: Vec<&RankState> = a.ranks.iter().filter(|r| r.has_facts()).collect();
    rows.sort_by(|x, y| {
        (x.rank.is_none(), x.rank, &x.host, x.pid, x.file, x.first).cmp(&(
            y.rank.is_none(),
            y.rank,
            &y.host,
            y.pid,
            y.file,
            y.first,
        ))
    });
    let ranks = rows.iter().map(|r| r.summary(&a.files)).collect();
    let nccl_tests = a
        .tests
        .tables
        .iter()
        .map(|t| TestsSummary {
            file: file_name(&a.files, t.at.0).to_string(),
            line: t.at.1,
            test: t.test.clone(),
            rows: t.rows,
            max_size: t.max_size,
            large_busbw: t.large_busbw.map(|b| b.0),
            avg_busbw: t.avg_busbw,
            wrong: t.wrong_total,
            hosts: t.hosts,
        })
        .collect();
    Analysis {
        verdict,
        findings,
        ranks,
        inputs: a.inputs.clone(),
        nccl_tests,
    }
}

fn healthy_summary(cx: &Ctx<'_>) -> String {
    let a = cx.a;
    let procs: Vec<&RankState> = a.ranks.iter().filter(|r| !r.file_level).collect();
    let lines: u64 = a.inputs.iter().map(|i| i.nccl_lines).sum();
    if procs.is_empty() {
        return format!("no failure in {lines} NCCL-related lines");
    }
    let hosts: BTreeSet<&str> = procs.iter().filter_map(|r| r.host.as_deref()).collect();
    let mut s = format!(
        "{} rank{} on {} host{}",
        procs.len(),
        if procs.len() == 1 { "" } else { "s" },
        hosts.len().max(1),
        if hosts.len() > 1 { "s" } else { "" }
    );
    if let Some(v) = procs.iter().find_map(|r| r.nccl.as_ref()) {
        s.push_str(&format!(", NCCL {}", v.value));
    }
    let ofi = procs
        .iter()
        .filter(|r| r.transport() == Some(Net::Ofi))
        .count();
    if ofi > 0 {
        s.push_str(" over EFA (aws-ofi-nccl");
        if let Some(v) = procs.iter().find_map(|r| r.ofi.as_ref()) {
            s.push_str(&format!(" {}", v.value));
        }
        if let Some(n) = procs.iter().find_map(|r| r.nics) {
            s.push_str(&format!(", {} NIC{}", n.0, if n.0 == 1 { "" } else { "s" }));
        }
        if procs.iter().any(|r| r.gdr() == Some(true)) {
            s.push_str(", GPUDirect RDMA");
        }
        s.push(')');
    } else if let Some(t) = procs.iter().find_map(|r| r.transport()) {
        s.push_str(&format!(" over {}", t.as_str()));
    }
    let done = procs.iter().filter(|r| r.init_complete).count();
    if done > 0 {
        s.push_str(&format!("; {done} reached Init COMPLETE"));
    }
    if let Some(t) = a.tests.tables.iter().find_map(|t| t.large_busbw) {
        s.push_str(&format!(
            "; nccl-tests busbw {:.1} GB/s at {} MiB",
            t.0,
            t.1 >> 20
        ));
    }
    s.push_str("; no failure found");
    s
}

fn no_output(a: &Analyzer, total: u64, out: &mut Out<'_>) {
    let rule = &rules::no_nccl_output::RULE;
    for input in &a.inputs {
        if input.nccl_lines > 0 {
            continue;
        }
        let mut msg = if input.unreadable {
            format!(
                "cannot read `{}`: {}",
                input.file,
                input.error.as_deref().unwrap_or("unreadable")
            )
        } else {
            let mut m = format!(
                "nothing NCCL-like in `{}` ({} line{} read",
                input.file,
                input.lines,
                if input.lines == 1 { "" } else { "s" }
            );
            if input.lines == 0 {
                m = format!("`{}` is empty", input.file);
            } else {
                if input.invalid_utf8_lines * 2 > input.lines {
                    m.push_str(", mostly not text: binary data?");
                }
                m.push(')');
            }
            if let Some(e) = &input.error {
                m.push_str(&format!("; {e}"));
            }
            m
        };
        // With other inputs that do have NCCL output, an empty one is worth a warning, not a
        // failed analysis; one that cannot be opened is always an error.
        let severity = if input.unreadable || total == 0 {
            Severity::Error
        } else {
            msg.push_str("; analysed the other inputs");
            Severity::Warning
        };
        let location = Location {
            file: input.file.clone(),
            start: Pos {
                line: 1,
                column: 1,
                offset: 0,
            },
            end: Pos {
                line: 1,
                column: 1,
                offset: 0,
            },
        };
        out.findings.push(Finding {
            rule: rule.id.into(),
            name: rule.name.into(),
            severity,
            category: rule.category,
            subject: Subject {
                path: None,
                resource: None,
                location: (!input.unreadable).then_some(location),
            },
            message: msg,
            help: Some(
                "run the job with NCCL_DEBUG=INFO (NCCL_DEBUG_SUBSYS=INIT,NET,ENV for transport details) and pass every rank's output"
                    .into(),
            ),
        });
    }
}

/// Why a rank fell back to sockets, as far as its log and the echoed environment tell.
fn socket_cause(cx: &Ctx<'_>, r: &RankState) -> (String, Option<At>) {
    let env_val = |name: &str| {
        cx.a.env
            .iter()
            .find(|((n, _), _)| n == name)
            .map(|((_, v), e)| (v.clone(), e.ev.at.first().copied()))
    };
    if let Some((v, at)) = env_val("NCCL_NET").filter(|(v, _)| v.eq_ignore_ascii_case("socket")) {
        return (
            format!("NCCL_NET={v} is set, which selects NCCL's TCP sockets"),
            at,
        );
    }
    if let Some((v, at)) =
        env_val("NCCL_NET_PLUGIN").filter(|(v, _)| v.eq_ignore_ascii_case("none"))
    {
        return (
            format!("NCCL_NET_PLUGIN={v} keeps NCCL from loading aws-ofi-nccl"),
            at,
        );
    }
    if let Some(p) = r.provider.as_ref().filter(|p| p.value != "efa") {
        return (
            format!(
                "libfabric selected the `{}` provider instead of efa (FI_PROVIDER, or no EFA device)",
                p.value
            ),
            Some(p.at),
        );
    }
    let generic_init = matches!(
        r.init_failed,
        Some((
            InitFailure::OfiInitFailed | InitFailure::NetPluginInitFailed,
            _
        ))
    );
    if let (true, Some((GdrOff::DisabledOnSupported, at))) = (generic_init, r.gdr_off) {
        return (
            "GPUDirect RDMA is unavailable on an instance type that requires it, so aws-ofi-nccl refused to start (see NCCL004)".into(),
            Some(at),
        );
    }
    if let Some((k, at)) = r.init_failed {
        let why = match k {
            InitFailure::OnlyEfaSupported => "aws-ofi-nccl refused a provider other than efa (\"Only EFA provider is supported\"): FI_PROVIDER selects another provider, or the instance has no EFA",
            InitFailure::GetinfoFailed | InitFailure::NoEligibleProviders | InitFailure::NoOptimalProvider => "aws-ofi-nccl loaded but libfabric found no EFA provider: the EFA devices are not visible to the process (not an EFA instance, or /dev/infiniband/uverbs* not passed into the container)",
            InitFailure::LibfabricTooOld => "aws-ofi-nccl loaded but the libfabric it found is too old for it",
            InitFailure::NoProtocol => "aws-ofi-nccl loaded but none of its protocols worked on this node",
            InitFailure::OfiInitFailed | InitFailure::NetPluginInitFailed => "aws-ofi-nccl loaded but failed to initialise (see NCCL002)",
        };
        return (why.into(), Some(at));
    }
    if let Some((GdrOff::HmemRegister, at)) = r.gdr_off {
        return (
            "libfabric cannot register GPU memory with the EFA device (no GPUDirect RDMA peer-to-peer support: nvidia-peermem or DMA-BUF missing), so aws-ofi-nccl cannot use EFA".into(),
            Some(at),
        );
    }
    if let Some((GdrOff::DisabledOnSupported, at)) = r.gdr_off {
        return (
            "GPUDirect RDMA is unavailable on an instance type that requires it, so aws-ofi-nccl refused to start".into(),
            Some(at),
        );
    }
    if let Some(at) = r.plugin_not_found.filter(|_| !r.plugin_loaded) {
        return (
            "the aws-ofi-nccl plugin (libnccl-net.so) was not found or could not be loaded: its lib directory is not on LD_LIBRARY_PATH, or a library it needs (libfabric, libcudart) is missing".into(),
            Some(at),
        );
    }
    if let Some((v, at)) = env_val("FI_PROVIDER").filter(|(v, _)| !env_table::selects_efa(v)) {
        return (
            format!("FI_PROVIDER={v} keeps libfabric off the efa provider"),
            at,
        );
    }
    (
        "the log does not show why (rerun with NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET)".into(),
        None,
    )
}

fn socket_fallback(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let ranks = &cx.a.ranks;
    let total = ranks.iter().filter(|r| !r.file_level).count().max(1);
    // (single node, cause) -> (ranks, evidence, the cause's line, ranks that logged the cause)
    type Group = (BTreeSet<usize>, Vec<At>, Option<At>, BTreeSet<usize>);
    let mut groups: BTreeMap<(bool, String), Group> = BTreeMap::new();
    for (i, r) in ranks.iter().enumerate() {
        if !r.uses_socket() || !cx.efa_expected(r) {
            continue;
        }
        let (mut cause, mut cause_at) = socket_cause(cx, r);
        let mut borrowed = None;
        if cause_at.is_none() {
            // The rank's own lines do not say why; a cause logged by another rank of the job
            // (the same image on the same kind of node) most likely applies.
            if let Some((other, c, at)) = ranks
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(j, o)| (j, socket_cause(cx, o)))
                .find_map(|(j, (c, at))| at.map(|at| (j, c, at)))
            {
                cause = c;
                cause_at = Some(at);
                borrowed = Some(other);
            }
        }
        let g = groups
            .entry((r.single_node(), cause))
            .or_insert_with(|| (BTreeSet::new(), Vec::new(), cause_at, BTreeSet::new()));
        g.0.insert(i);
        if cause_at.is_some() {
            g.3.insert(borrowed.unwrap_or(i));
        }
        if g.1.len() < 3 {
            if let Some(at) = r.socket_at.or(r.provider.as_ref().map(|p| p.at)) {
                g.1.push(at);
            }
        }
    }
    let mixed_ev = cx.a.evidence.get(&Key::Mixed);
    let ofi_ranks = ranks
        .iter()
        .filter(|r| r.ofi_ok() && !r.uses_socket())
        .count();
    for ((single, cause), (set, mut ats, cause_at, loggers)) in groups {
        ats.extend(cause_at);
        let names = who(ranks, &set, cx.a.files.as_slice());
        let cause = if loggers.is_subset(&set) {
            cause
        } else {
            format!("{cause} (logged by {})", who(ranks, &loggers, &cx.a.files))
        };
        let subject = if set.len() == 1 {
            format!("{names} uses")
        } else {
            format!("{} of {total} ranks ({names}) use", set.len())
        };
        let mut msg = format!("{subject} NCCL's TCP Socket transport instead of EFA: {cause}");
        let unroutable: Option<&str> = set
            .iter()
            .filter_map(|&i| ranks.get(i))
            .find_map(|r| r.unroutable_iface.as_ref())
            .map(|s| s.value.as_str());
        if let Some(u) = unroutable {
            msg.push_str(&format!("; NCCL's sockets also use `{u}`, an interface other nodes cannot reach (set NCCL_SOCKET_IFNAME)"));
        }
        let (sev, prio) = if ofi_ranks > 0 || mixed_ev.is_some() {
            // NCCL cannot connect a rank on sockets to a rank on EFA: this fails, not slows.
            msg.push_str(&format!(
                "; {} use EFA, and NCCL cannot connect ranks on different networks, so connection setup fails",
                if ofi_ranks > 0 { format!("{ofi_ranks} other rank{}", if ofi_ranks == 1 { "" } else { "s" }) } else { "other ranks".to_string() }
            ));
            if let Some(e) = mixed_ev {
                ats.extend(e.at.iter().take(2));
            }
            (None, priority::SOCKET_MIXED)
        } else if single {
            msg.push_str("; the job stayed on one node, so no traffic used it yet, but a multi-node run will");
            (Some(Severity::Warning), priority::SOCKET_SINGLE_NODE)
        } else {
            (None, priority::SOCKET)
        };
        let n = ats.len() as u64;
        out.add(
            &rules::socket_transport_fallback::RULE,
            sev,
            Some(names),
            msg,
            "make aws-ofi-nccl load and find EFA: its lib directory on LD_LIBRARY_PATH, the EFA devices in the container, no NCCL_NET=Socket / NCCL_NET_PLUGIN=none / non-efa FI_PROVIDER (`efactl explain NCCL001`)",
            &ats,
            n,
            prio,
        );
    }
}

fn plugin_init(cx: &Ctx<'_>, out: &mut Out<'_>) {
    if cx.opt_type.is_some_and(|t| !t.supports_efa()) {
        // Not an EFA instance: the plugin failing to find EFA is expected.
        return;
    }
    // The most specific message leads; the others are the same failure's echo.
    let order = [
        InitFailure::LibfabricTooOld,
        InitFailure::OnlyEfaSupported,
        InitFailure::GetinfoFailed,
        InitFailure::NoEligibleProviders,
        InitFailure::NoOptimalProvider,
        InitFailure::NoProtocol,
        InitFailure::OfiInitFailed,
        InitFailure::NetPluginInitFailed,
    ];
    let found: Vec<(InitFailure, &Evidence)> = order
        .iter()
        .filter_map(|k| cx.a.evidence.get(&Key::Init(*k)).map(|e| (*k, e)))
        .collect();
    let Some((lead, lead_ev)) = found.first() else {
        provider_not_efa(cx, out);
        return;
    };
    let mut set = BTreeSet::new();
    let mut ats = Vec::new();
    let mut total = 0;
    for (_, e) in &found {
        set.extend(e.ranks.iter().copied());
        ats.extend(e.at.iter().copied());
        total += e.count;
    }
    let why = match lead {
        InitFailure::LibfabricTooOld => "the libfabric it found is older than it needs",
        InitFailure::OnlyEfaSupported => "libfabric offered a provider other than efa (FI_PROVIDER selects another one, or the instance has no EFA)",
        InitFailure::GetinfoFailed | InitFailure::NoEligibleProviders | InitFailure::NoOptimalProvider => "libfabric found no EFA provider: the EFA devices are not visible to the process (not an EFA instance type, /dev/infiniband/uverbs* not passed into the container, or FI_PROVIDER excludes efa)",
        InitFailure::NoProtocol => "none of its transport protocols worked on this node",
        InitFailure::OfiInitFailed | InitFailure::NetPluginInitFailed => "the log does not say why",
    };
    let gdr_missing = set.iter().any(|&i| {
        cx.a.ranks.get(i).is_some_and(|r| {
            matches!(
                r.gdr_off,
                Some((GdrOff::DisabledOnSupported | GdrOff::HmemRegister, _))
            )
        })
    });
    let why = if gdr_missing
        && matches!(
            lead,
            InitFailure::OfiInitFailed | InitFailure::NetPluginInitFailed
        ) {
        "GPUDirect RDMA is unavailable on an instance type where the plugin requires it (see NCCL004)"
    } else {
        why
    };
    let names = who(&cx.a.ranks, &set, &cx.a.files);
    let msg = format!(
        "aws-ofi-nccl failed to initialise on {names}: {why} (`{}`)",
        lead_ev.first
    );
    // Fatal when a rank was left with no transport at all; otherwise NCCL fell back.
    let stranded = set.iter().any(|&i| {
        cx.a.ranks
            .get(i)
            .is_some_and(|r| r.transport().is_none() && !r.init_complete)
    });
    let fell_back = set
        .iter()
        .any(|&i| cx.a.ranks.get(i).is_some_and(|r| r.transport().is_some()));
    let prio = if stranded && !fell_back {
        priority::PLUGIN_NO_TRANSPORT
    } else {
        priority::PLUGIN_FALLBACK
    };
    out.add(
        &rules::ofi_plugin_init_failed::RULE,
        None,
        Some(names),
        msg,
        "run `fi_info -p efa -t FI_EP_RDM` where the job runs: it must list one efa provider per EFA; pass the EFA devices into the container and unset FI_PROVIDER unless it is efa (`efactl explain NCCL002`)",
        &ats,
        total,
        prio,
    );
}

/// aws-ofi-nccl selected a libfabric provider other than efa where EFA was expected
/// (`Selected Provider is tcp`): the plugin runs, but over TCP.
fn provider_not_efa(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let ranks = &cx.a.ranks;
    let mut by: BTreeMap<&str, (BTreeSet<usize>, Vec<At>)> = BTreeMap::new();
    for (i, r) in ranks.iter().enumerate() {
        let Some(p) = r.provider.as_ref().filter(|p| p.value != "efa") else {
            continue;
        };
        if !cx.efa_expected(r) {
            continue;
        }
        let g = by.entry(p.value.as_str()).or_default();
        g.0.insert(i);
        if g.1.len() < MAX_EVIDENCE {
            g.1.push(p.at);
        }
    }
    for (provider, (set, ats)) in by {
        let names = who(ranks, &set, &cx.a.files);
        let msg = format!(
            "aws-ofi-nccl selected libfabric's `{provider}` provider instead of efa on {names}: the EFA devices are not visible to the process (not passed into the container, or not an EFA instance), or FI_PROVIDER selects `{provider}`; collectives run over TCP"
        );
        let n = set.len() as u64;
        out.add(
            &rules::ofi_plugin_init_failed::RULE,
            None,
            Some(names),
            msg,
            "pass /dev/infiniband/uverbs* into the container (docker run --device, or the vpc.amazonaws.com/efa resource on EKS) with an unlimited memlock ulimit, and unset FI_PROVIDER (`efactl explain NCCL002`)",
            &ats,
            n,
            priority::PLUGIN_FALLBACK,
        );
    }
}

fn nic_count(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let ranks = &cx.a.ranks;
    let most = ranks.iter().filter_map(|r| r.nics.map(|n| n.0)).max();
    // (NICs found, NICs expected, what they are compared with) -> (ranks, evidence)
    type Groups = BTreeMap<(u32, u32, String), (BTreeSet<usize>, Vec<At>)>;
    let mut groups: Groups = BTreeMap::new();
    for (i, r) in ranks.iter().enumerate() {
        let Some((n, at)) = r.nics else { continue };
        if r.provider.as_ref().is_some_and(|p| p.value != "efa") {
            // A tcp provider counts IP interfaces, not EFAs: NCCL002 reports it.
            continue;
        }
        let ty = cx.type_of(r);
        let (want, against) = match ty.and_then(|t| t.max_efa_interfaces.map(|m| (m, t))) {
            Some((m, t)) if n < m => (m, format!("{} has {m}", t.name)),
            Some(_) => continue,
            None => match most {
                Some(m) if n < m => (m, format!("other ranks found {m}")),
                _ => continue,
            },
        };
        let g = groups.entry((n, want, against)).or_default();
        g.0.insert(i);
        if g.1.len() < MAX_EVIDENCE {
            g.1.push(at);
        }
    }
    for ((n, _, against), (set, ats)) in groups {
        let names = who(ranks, &set, &cx.a.files);
        let msg = format!(
            "aws-ofi-nccl found {n} EFA NIC{} on {names}, but {against}: those ranks run at a fraction of the node's EFA bandwidth",
            if n == 1 { "" } else { "s" }
        );
        let total = set.len() as u64;
        out.add(
            &rules::efa_nic_count_mismatch::RULE,
            None,
            Some(names),
            msg,
            "attach one EFA per network card and pass every /dev/infiniband/uverbs* device (or every vpc.amazonaws.com/efa resource) into the container (`efactl explain NCCL003`)",
            &ats,
            total,
            priority::NICS,
        );
    }
}

fn gdr(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let ranks = &cx.a.ranks;
    // `None` key: transport lines without /GDRDMA on a GDR type.
    let mut groups: BTreeMap<Option<GdrOff>, (BTreeSet<usize>, Vec<At>)> = BTreeMap::new();
    for (i, r) in ranks.iter().enumerate() {
        let gdr_type = cx.type_of(r).and_then(|t| t.gpudirect_rdma);
        let hit = match r.gdr_off {
            Some((k @ GdrOff::DisabledOnSupported, at)) => Some((Some(k), at)),
            Some((k @ (GdrOff::ForceSimple | GdrOff::HmemCudaApi | GdrOff::HmemRegister), at))
                if gdr_type != Some(false) =>
            {
                Some((Some(k), at))
            }
            Some((k @ (GdrOff::HcaDisabled | GdrOff::RingsGdr0), at)) if gdr_type == Some(true) => {
                Some((Some(k), at))
            }
            _ => None,
        }
        .or_else(|| {
            (gdr_type == Some(true)
                && r.net_ofi_plain > 0
                && r.net_ofi_gdr == 0
                && r.gdr_on.is_none())
            .then_some(())
            .and_then(|_| r.net_ofi_plain_at.map(|at| (None, at)))
        });
        if let Some((k, at)) = hit {
            let g = groups.entry(k).or_default();
            g.0.insert(i);
            if g.1.len() < MAX_EVIDENCE {
                g.1.push(at);
            }
        }
    }
    for (k, (set, ats)) in groups {
        let names = who(ranks, &set, &cx.a.files);
        let what = match k {
            Some(GdrOff::DisabledOnSupported) => "aws-ofi-nccl reports `GDR disabled on GDR-supported instance type`: GPUDirect RDMA is unavailable where the plugin requires it",
            Some(GdrOff::ForceSimple) => "aws-ofi-nccl forces NCCL_PROTO=simple because GPUDirect RDMA is not supported",
            Some(GdrOff::HmemCudaApi) => "aws-ofi-nccl disabled GPUDirect RDMA (`Could not disable CUDA API usage for HMEM`): libfabric is too old for it",
            Some(GdrOff::HcaDisabled) => "NCCL reports GPU Direct RDMA disabled for the HCA",
            Some(GdrOff::RingsGdr0) => "NCCL connected its rings with GDR 0",
            Some(GdrOff::HmemRegister) => "libfabric cannot register GPU memory with the EFA device (`Failed to register CUDA buffer with the EFA device`): the GPUDirect RDMA peer-to-peer support (nvidia-peermem or DMA-BUF) is missing",
            None => "the net transport lines lack `/GDRDMA` on an instance type that supports GPUDirect RDMA",
        };
        let msg = format!(
            "GPUDirect RDMA is off on {names}: {what}; every message is staged through host memory"
        );
        let total = set.len() as u64;
        out.add(
            &rules::gpudirect_rdma_disabled::RULE,
            None,
            Some(names),
            msg,
            "use an EFA installer, NVIDIA driver and kernel with GPUDirect RDMA support (nvidia-peermem or DMA-BUF); do not set FI_EFA_USE_DEVICE_RDMA=0 (`efactl explain NCCL004`)",
            &ats,
            total,
            priority::GDR,
        );
    }
}

fn unreachable(cx: &Ctx<'_>, out: &mut Out<'_>) {
    for k in [
        Unreachable::SecurityGroup,
        Unreachable::AvInsert,
        Unreachable::NeverResponded,
        Unreachable::HandshakeFailed,
        Unreachable::ReceiverUnresponsive,
    ] {
        let Some(e) = cx.a.evidence.get(&Key::Unreach(k)) else {
            continue;
        };
        let names = who(&cx.a.ranks, &e.ranks, &cx.a.files);
        let what = match k {
            Unreachable::SecurityGroup => "aws-ofi-nccl reports an EFA peer unreachable and points at the security group",
            Unreachable::AvInsert => "aws-ofi-nccl could not insert peer addresses into the libfabric address vector: the peers' EFA addresses are not usable from here",
            Unreachable::NeverResponded => "libfabric EFA error 15 `Unreachable remote (never received a response)`: EFA packets to the peer are dropped",
            Unreachable::HandshakeFailed => "libfabric EFA error 4126 `Unresponsive receiver (reachable by EFA device but handshake failed)`: EFA traffic gets through one way only",
            Unreachable::ReceiverUnresponsive => "libfabric EFA error 4124 `Unresponsive receiver (connection previously established)`: a peer that answered before stopped answering (it died or hung, or its EFA path broke)",
        };
        let cause = if k.never_reached() {
            "; the usual cause is a security group without an all-traffic rule to and from itself (egress as well as ingress), or peers in different subnets"
        } else {
            ""
        };
        let msg = format!(
            "EFA cannot reach a peer from {names}: {what}{cause} (`{}`)",
            e.first
        );
        out.add(
            &rules::efa_peer_unreachable::RULE,
            None,
            Some(names),
            msg,
            "give the EFA security group all-traffic inbound and outbound rules that reference the group itself (efactl check: EFA001/EFA002; efactl audit on the live account) and keep the job's nodes in one subnet (`efactl explain NCCL005`)",
            &e.at,
            e.count,
            if k.never_reached() {
                priority::EFA_NEVER_REACHED
            } else {
                priority::EFA_LOST
            },
        );
    }
}

fn bootstrap(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let ranks = &cx.a.ranks;
    let mut kinds: BTreeMap<ConnectKind, (BTreeSet<usize>, Vec<At>, u64, String)> = BTreeMap::new();
    for (k, e) in cx.a.evidence.iter().filter_map(|(k, e)| match k {
        Key::Connect(c) => Some((*c, e)),
        _ => None,
    }) {
        kinds.insert(k, (e.ranks.clone(), e.at.clone(), e.count, e.first.clone()));
    }
    // Retries are only a failure on a rank that never finished initialising.
    for (i, r) in ranks.iter().enumerate() {
        if let Some((k, at)) = r.weak_connect {
            if r.init_complete || r.strong_connect {
                continue;
            }
            let g = kinds
                .entry(k)
                .or_insert_with(|| (BTreeSet::new(), Vec::new(), 0, String::new()));
            g.0.insert(i);
            g.2 += 1;
            if g.1.len() < MAX_EVIDENCE {
                g.1.push(at);
            }
        }
    }
    for (k, (set, ats, count, first)) in kinds {
        let names = who(ranks, &set, &cx.a.files);
        let involved: Vec<&RankState> = set.iter().filter_map(|&i| ranks.get(i)).collect();
        let ifaces: BTreeSet<&str> = involved
            .iter()
            .filter_map(|r| r.bootstrap_iface.as_ref().or(r.socket_iface.as_ref()))
            .map(|s| s.value.as_str())
            .collect();
        let unroutable = involved
            .iter()
            .find_map(|r| r.unroutable_iface.as_ref())
            .map(|s| s.value.as_str());
        let iface_note = match unroutable {
            Some(i) => format!("; NCCL bound its sockets to `{i}`, a local interface other nodes cannot reach: set NCCL_SOCKET_IFNAME"),
            None => match ifaces.iter().next() {
                Some(i) => format!("; NCCL uses interface `{i}`"),
                None => String::new(),
            },
        };
        let what = match k {
            ConnectKind::Timeout => "a TCP connection to another rank timed out: packets are dropped (a security group without self-referencing ingress, or NCCL on an interface other nodes cannot reach)",
            ConnectKind::Refused => "a TCP connection to another rank was refused: nothing listens there (a wrong MASTER_ADDR / port or NCCL_COMM_ID, or the peer had already exited)",
            ConnectKind::Unreachable => "a TCP connection to another rank found no route: NCCL_SOCKET_IFNAME picks the wrong interface, or MASTER_ADDR is wrong",
            ConnectKind::NoInterface => "NCCL found no usable socket interface: NCCL_SOCKET_IFNAME names no interface of this node",
            ConnectKind::InvalidCommId => "NCCL_COMM_ID is invalid (a host name that does not resolve, or not <ipv4>:<port>)",
            ConnectKind::Other => "NCCL could not connect to another rank",
        };
        let quote = if first.is_empty() {
            String::new()
        } else {
            format!(" (`{first}`)")
        };
        let msg = format!("NCCL bootstrap failed on {names}: {what}{iface_note}{quote}");
        out.add(
            &rules::bootstrap_connect_failed::RULE,
            None,
            Some(names),
            msg,
            "allow all TCP between the nodes' security group and itself, set NCCL_SOCKET_IFNAME to the interface with the nodes' private addresses, and check MASTER_ADDR / MASTER_PORT (`efactl explain NCCL006`)",
            &ats,
            count.max(1),
            priority::BOOTSTRAP,
        );
    }
}

fn watchdog(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let a = cx.a;
    if a.watchdogs.is_empty() {
        return;
    }
    let timed: BTreeSet<u32> = a
        .watchdogs
        .keys()
        .filter_map(|k| match k {
            WdKey::Rank(r) => Some(*r),
            WdKey::Entity(_) => None,
        })
        .collect();
    // The collective most ranks timed out on.
    let mut ops: BTreeMap<(Option<u64>, Option<&str>), usize> = BTreeMap::new();
    for w in a.watchdogs.values().filter(|w| w.seq.is_some()) {
        *ops.entry((w.seq, w.op.as_deref())).or_default() += 1;
    }
    let common = ops.iter().max_by_key(|(k, c)| (**c, k.0)).map(|(k, _)| *k);
    let max_seq = a.watchdogs.values().filter_map(|w| w.seq).max();
    let mut lagging: BTreeSet<u32> = a
        .watchdogs
        .iter()
        .filter_map(|(k, w)| match (k, w.seq, max_seq) {
            (WdKey::Rank(r), Some(s), Some(m)) if s < m => Some(*r),
            _ => None,
        })
        .collect();
    for (r, (enq, _, _)) in &a.progress {
        if let (Some(e), Some(m)) = (enq, max_seq) {
            if *e < m {
                lagging.insert(*r);
            }
        }
    }
    let mut present: BTreeSet<u32> = a.ranks.iter().filter_map(|r| r.rank).collect();
    present.extend(a.seen_ranks.iter().copied());
    let mut msg = String::new();
    let n = a.watchdogs.len();
    match common {
        Some((seq, op)) => msg.push_str(&format!(
            "{n} rank{} timed out in {}{}",
            if n == 1 { "" } else { "s" },
            op.unwrap_or("a collective"),
            seq.map(|s| format!(" (SeqNum {s})")).unwrap_or_default()
        )),
        None => msg.push_str(&format!(
            "{n} rank{}' watchdog reported a stuck collective",
            if n == 1 { "" } else { "s" }
        )),
    }
    if let Some(ms) = a.watchdogs.values().filter_map(|w| w.ran_ms).max() {
        msg.push_str(&format!(" after {ms} ms"));
    }
    if !timed.is_empty() {
        msg.push_str(&format!(
            ": rank{} {}",
            if timed.len() == 1 { "" } else { "s" },
            ranges(&timed)
        ));
    }
    let mut suspects: BTreeSet<u32> = lagging.clone();
    // Naming the missing ranks needs the job's size; a hostile nRanks must not make a huge set.
    let world = a.world.filter(|w| *w <= 1 << 16);
    let missing: BTreeSet<u32> = world
        .map(|w| (0..w).filter(|r| !timed.contains(r)).collect())
        .unwrap_or_default();
    let missing_present: BTreeSet<u32> = missing.intersection(&present).copied().collect();
    let missing_absent: BTreeSet<u32> = missing.difference(&present).copied().collect();
    if ops.len() > 1 {
        // Ranks waiting in different collectives: their sequences diverged.
        let groups: Vec<String> = ops
            .keys()
            .map(|(seq, op)| {
                let rs: BTreeSet<u32> = a
                    .watchdogs
                    .iter()
                    .filter(|(_, w)| w.seq == *seq && w.op.as_deref() == *op)
                    .filter_map(|(k, _)| match k {
                        WdKey::Rank(r) => Some(*r),
                        WdKey::Entity(_) => None,
                    })
                    .collect();
                format!(
                    "{} {} at {}{}",
                    if rs.len() == 1 { "rank" } else { "ranks" },
                    ranges(&rs),
                    op.unwrap_or("?"),
                    seq.map(|s| format!(" SeqNum {s}")).unwrap_or_default()
                )
            })
            .collect();
        msg.push_str(&format!(
            ". The ranks wait in different collectives ({}): their collective sequences diverged (a code path that issues a collective on some ranks only), or the ranks behind are stuck",
            groups.join(", ")
        ));
    }
    if !lagging.is_empty() {
        msg.push_str(&format!(
            ". Rank{} {} {} behind (an earlier SeqNum or a lower last enqueued work): suspect",
            if lagging.len() == 1 { "" } else { "s" },
            ranges(&lagging),
            if lagging.len() == 1 { "is" } else { "are" }
        ));
    }
    if !missing_present.is_empty() {
        suspects.extend(missing_present.iter().copied());
        msg.push_str(&format!(
            ". Rank{} {} {} in the log but reported no timeout: {} never reached this collective (suspect)",
            if missing_present.len() == 1 { "" } else { "s" },
            ranges(&missing_present),
            if missing_present.len() == 1 { "is" } else { "are" },
            if missing_present.len() == 1 { "it" } else { "they" }
        ));
    }
    if !missing_absent.is_empty() {
        msg.push_str(&format!(
            ". Rank{} {} of {} {} no output in this log: if {} did not time out, the suspect is there",
            if missing_absent.len() == 1 { "" } else { "s" },
            ranges(&missing_absent),
            world.unwrap_or(0),
            if missing_absent.len() == 1 { "has" } else { "have" },
            if missing_absent.len() == 1 { "it" } else { "they" }
        ));
    }
    if world.is_none() && lagging.is_empty() {
        msg.push_str(". The log does not give the job's size (no `comm … nRanks` line), so a rank that never arrived cannot be named");
    } else if missing.is_empty() && lagging.is_empty() {
        msg.push_str(". Every rank timed out on the same collective and none is behind: look at the network path (other findings) or a hang inside NCCL");
    }
    let ats: Vec<At> = a
        .watchdogs
        .values()
        .map(|w| w.at)
        .take(MAX_EVIDENCE)
        .collect();
    let subject = if suspects.is_empty() {
        None
    } else {
        Some(format!("suspects: ranks {}", ranges(&suspects)))
    };
    out.add(
        &rules::collective_watchdog_timeout::RULE,
        None,
        subject,
        msg,
        "read the suspect ranks' own output first (an exception, a CUDA error, an OOM kill, a hang in data loading); TORCH_NCCL_DESYNC_DEBUG=1 or the flight recorder names a desynchronised collective (`efactl explain NCCL007`)",
        &ats,
        n as u64,
        priority::WATCHDOG,
    );
}

/// Merges several evidence kinds into one finding, the earliest line quoted.
fn merged<'e>(
    evs: impl Iterator<Item = &'e Evidence>,
) -> Option<(BTreeSet<usize>, Vec<At>, u64, String)> {
    let mut set = BTreeSet::new();
    let mut ats: Vec<At> = Vec::new();
    let mut total = 0;
    let mut first: Option<(At, String)> = None;
    for e in evs {
        set.extend(e.ranks.iter().copied());
        ats.extend(e.at.iter().copied());
        total += e.count;
        if let Some(&at) = e.at.first() {
            if first.as_ref().is_none_or(|(f, _)| at < *f) {
                first = Some((at, e.first.clone()));
            }
        }
    }
    if total == 0 {
        return None;
    }
    ats.sort_unstable();
    Some((set, ats, total, first.map(|f| f.1).unwrap_or_default()))
}

fn remote(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let evs = cx.a.evidence.iter().filter_map(|(k, e)| match k {
        Key::Remote(_) => Some(e),
        _ => None,
    });
    let Some((set, ats, total, first)) = merged(evs) else {
        return;
    };
    // NCCL's `remote process exited or there was a network error` is all a rank knows when
    // its connection breaks; with a connect failure or lost EFA path in the same log, the
    // network is the likelier cause and this line its echo.
    let only_ambiguous =
        cx.a.evidence
            .keys()
            .filter(|k| matches!(k, Key::Remote(_)))
            .all(|k| *k == Key::Remote(RemoteFailure::RemoteExited));
    let prio = if only_ambiguous {
        priority::REMOTE_AMBIGUOUS
    } else {
        priority::REMOTE_FAILED
    };
    let names = who(&cx.a.ranks, &set, &cx.a.files);
    let msg = format!(
        "a peer went away while {names} talked to it (`{first}`): the peer process died or its node failed; the survivors' errors are its echo"
    );
    out.add(
        &rules::remote_rank_failed::RULE,
        None,
        Some(names),
        msg,
        "find the peer named in the message (or the rank whose log ends first) and read its first error; check that node's dmesg for Xid errors or OOM kills (`efactl explain NCCL008`)",
        &ats,
        total,
        prio,
    );
}

fn cuda(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let evs = cx.a.evidence.iter().filter_map(|(k, e)| match k {
        Key::Cuda(_) => Some(e),
        _ => None,
    });
    let Some((set, ats, total, first)) = merged(evs) else {
        return;
    };
    let oom_only =
        cx.a.evidence
            .keys()
            .filter(|k| matches!(k, Key::Cuda(_)))
            .all(|k| *k == Key::Cuda(CudaFailure::OutOfMemory));
    let names = who(&cx.a.ranks, &set, &cx.a.files);
    let what = if oom_only {
        "a CUDA out-of-memory error"
    } else {
        "a CUDA error"
    };
    let msg = format!(
        "{what} on {names} is the real failure (`{first}`): network errors and timeouts that follow it are its consequence"
    );
    out.add(
        &rules::cuda_error_behind_network::RULE,
        None,
        Some(names),
        msg,
        "debug the CUDA error on that rank first: CUDA_LAUNCH_BLOCKING=1 to find the kernel, nvidia-smi -q and dmesg for Xid / ECC errors on its node (`efactl explain NCCL009`)",
        &ats,
        total,
        priority::CUDA,
    );
}

fn versions(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let ranks = &cx.a.ranks;
    type Pick = fn(&RankState) -> Option<&super::rank::Seen>;
    let components: [(&str, Pick); 5] = [
        ("NCCL", |r| r.nccl.as_ref()),
        ("aws-ofi-nccl", |r| r.ofi.as_ref()),
        ("libfabric", |r| r.libfabric.as_ref()),
        ("CUDA driver", |r| r.cuda_driver.as_ref()),
        ("CUDA runtime", |r| r.cuda_runtime.as_ref()),
    ];
    for (name, pick) in components {
        let mut by: BTreeMap<&str, (BTreeSet<usize>, At)> = BTreeMap::new();
        for (i, r) in ranks.iter().enumerate() {
            if let Some(s) = pick(r) {
                let e = by
                    .entry(s.value.as_str())
                    .or_insert((BTreeSet::new(), s.at));
                e.0.insert(i);
                e.1 = e.1.min(s.at);
            }
        }
        if by.len() < 2 {
            continue;
        }
        let parts: Vec<String> = by
            .iter()
            .map(|(v, (set, _))| format!("{v} on {}", who(ranks, set, &cx.a.files)))
            .collect();
        let ats: Vec<At> = by.values().map(|(_, at)| *at).collect();
        let msg = format!("ranks run different {name} versions: {}", parts.join("; "));
        let n = ats.len() as u64;
        out.add(
            &rules::version_skew::RULE,
            None,
            None,
            msg,
            "run every node from the same image or AMI (pin the container digest, the EFA installer and the aws-ofi-nccl build) (`efactl explain NCCL010`)",
            &ats,
            n,
            priority::VERSIONS,
        );
    }
    if let Some(e) = cx.a.evidence.get(&Key::VersionMismatch) {
        let names = who(ranks, &e.ranks, &cx.a.files);
        let msg = format!(
            "NCCL detected ranks with different NCCL versions on {names} (`{}`)",
            e.first
        );
        out.add(
            &rules::version_skew::RULE,
            None,
            Some(names),
            msg,
            "run every rank with the same NCCL build (`efactl explain NCCL010`)",
            &e.at,
            e.count,
            priority::VERSIONS,
        );
    }
}

fn env(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let ranks = &cx.a.ranks;
    let min_version = |pick: fn(&RankState) -> Option<&super::rank::Seen>| {
        ranks
            .iter()
            .filter_map(|r| pick(r).and_then(|s| env_table::parse_version(&s.value)))
            .min_by(|a, b| env_table::version_cmp(a, b))
    };
    let facts = env_table::Facts {
        plugin: min_version(|r| r.ofi.as_ref()),
        libfabric: min_version(|r| r.libfabric.as_ref()),
        efa: ranks.iter().any(|r| cx.efa_expected(r)) || cx.any_ofi || cx.env_efa,
    };
    for ((name, value), echo) in &cx.a.env {
        // A variable aws-ofi-nccl set itself on every rank that echoes it is not the user's.
        let by_plugin = !echo.ev.ranks.is_empty()
            && echo.ev.ranks.iter().all(|&i| {
                ranks.get(i).is_some_and(|r| {
                    r.plugin_env.iter().any(|n| n == name)
                        || (name == "NCCL_PROTO"
                            && matches!(r.gdr_off, Some((GdrOff::ForceSimple, _))))
                })
            });
        if by_plugin {
            continue;
        }
        let Some((message, source)) = env_table::judge(name, value, &facts) else {
            continue;
        };
        let names = who(ranks, &echo.ev.ranks, &cx.a.files);
        let msg = format!("the job sets {name}={value} ({names}): {message}");
        let help = format!("remove `{name}` from the job's environment, container image and AMI (source: {source}; `efactl explain NCCL011`)");
        out.add(
            &rules::obsolete_env_echoed::RULE,
            None,
            Some(names),
            msg,
            &help,
            &echo.ev.at,
            echo.ev.count,
            priority::ENV,
        );
    }
}

fn nccl_tests(cx: &Ctx<'_>, out: &mut Out<'_>) {
    let ty = cx.job_type();
    for t in &cx.a.tests.tables {
        let test = t.test.as_deref().unwrap_or("nccl-tests");
        if t.wrong_total > 0 || t.out_of_bounds.is_some() {
            let mut ats: Vec<At> = t.wrong_rows.iter().map(|w| w.at).collect();
            ats.extend(t.out_of_bounds.map(|o| o.1));
            let sizes: Vec<String> = t
                .wrong_rows
                .iter()
                .map(|w| format!("{} B: {}/{}", w.size, w.wrong[0], w.wrong[1]))
                .collect();
            let total = t.wrong_total.max(t.out_of_bounds.map_or(0, |o| o.0));
            let msg = format!(
                "{test} reported {total} wrong value{} (out-of-place/in-place #wrong by size: {}): data is corrupted on the way (a faulty GPU, NVLink or memory, or a broken GPUDirect RDMA path)",
                if total == 1 { "" } else { "s" },
                if sizes.is_empty() { "see the summary".to_string() } else { sizes.join(", ") }
            );
            let n = ats.len() as u64;
            out.add(
                &rules::nccl_tests_wrong_results::RULE,
                None,
                None,
                msg,
                "re-run on subsets of the nodes to isolate the bad one; check nvidia-smi -q for ECC / Xid errors and run dcgmi diag (`efactl explain NCCL012`)",
                &ats,
                n,
                priority::WRONG_RESULTS,
            );
        }
        let (Some(ty), Some((busbw, size))) = (ty, t.large_busbw) else {
            continue;
        };
        let Some(gbps) = ty.bandwidth_gbps.filter(|g| *g > 0.0) else {
            continue;
        };
        // One host: busbw measures NVLink, not the network.
        if t.hosts == 1 {
            continue;
        }
        // alltoall, sendrecv and the like do not reach the line rate on a healthy fabric.
        if !t.comparable_with_line_rate() {
            continue;
        }
        let line = gbps / 8.0;
        if busbw < line * 0.5 {
            let msg = format!(
                "{test} reached {busbw:.1} GB/s busbw at {} MiB (its best at 128 MiB and above), under half of {}'s {gbps} Gbps ({line:.0} GB/s) network bandwidth",
                size >> 20,
                ty.name
            );
            out.add(
                &rules::nccl_tests_low_busbw::RULE,
                None,
                None,
                msg,
                "check this log's NCCL001/NCCL003/NCCL004 findings (socket fallback, missing NICs, no GPUDirect RDMA), remove NCCL_PROTO / NCCL_ALGO overrides and test node pairs to find a slow one (`efactl explain NCCL013`)",
                &[t.at],
                1,
                priority::LOW_BUSBW,
            );
        }
    }
}
