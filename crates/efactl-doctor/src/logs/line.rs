//! One log line taken apart: the prefixes that timestamps, launchers and NCCL put in front of
//! a message, and the message itself.
//!
//! Recognised, in any combination and order (outermost first):
//! - timestamps: `2024-05-01T12:34:56.789Z`, `2024-05-01 12:34:56,789`, `[2024-05-01 12:34:56]`,
//!   and the Kubernetes CRI form `2024-05-01T12:34:56.123456789Z stdout F`;
//! - Slurm `srun --label`: `0: `, `12: ` (right-aligned, so leading spaces too);
//! - Open MPI `--tag-output`: `[1,0]<stdout>:` (job, rank);
//! - torchrun `--tee`/`--log-line-prefix`: `[default0]:` (local rank), and torch's own `[rank0]:`;
//! - NCCL's header: `host:pid:tid [dev] NCCL INFO msg` and `host:pid:tid [dev] file.cc:123 NCCL WARN msg`.
//!
//! Everything here borrows from the line: nothing is allocated per line, which is what keeps
//! the analyzer's throughput close to a plain scan.

/// A launcher's rank label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher<'a> {
    /// `srun --label`: the task id, which is the global rank.
    Slurm(u32),
    /// `mpirun --tag-output`: `[job,rank]<stream>:`.
    Mpi(u32),
    /// torchrun: `[default3]:`, a local rank (the same label repeats on every node).
    Torchrun(&'a str),
    /// torch's `[rank3]:`, a global rank.
    TorchRank(u32),
}

impl Launcher<'_> {
    /// The global rank the label names, when it names one.
    pub fn global_rank(&self) -> Option<u32> {
        match self {
            Launcher::Slurm(r) | Launcher::Mpi(r) | Launcher::TorchRank(r) => Some(*r),
            Launcher::Torchrun(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    /// TRACE, ABORT and anything else NCCL may print in that position.
    Other,
}

/// NCCL's own prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NcclHeader<'a> {
    pub host: &'a str,
    pub pid: u32,
    /// `host:pid`, a slice of the line: the process key, hashed without allocating.
    pub key: &'a str,
    /// The CUDA device in brackets; `None` where NCCL printed something else there.
    pub dev: Option<u32>,
    pub level: Level,
    /// `file.cc:123` on WARN lines.
    pub src: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub launcher: Option<Launcher<'a>>,
    pub nccl: Option<NcclHeader<'a>>,
    /// The message after every prefix (after `NCCL INFO ` on NCCL lines), end-trimmed.
    pub body: &'a str,
}

/// Takes a line apart. Never fails: a line without prefixes is all body.
pub fn parse(line: &str) -> Parsed<'_> {
    let mut s = line.trim_end();
    let mut launcher = None;
    // Prefixes nest (a timestamp before an srun label before torch's `[rank0]:`); a few rounds
    // cover every combination seen without looping on hostile input.
    for _ in 0..4 {
        let before = s.len();
        if let Some(rest) = strip_timestamp(s) {
            s = rest;
        }
        if let Some((l, rest)) = strip_launcher(s) {
            // The outermost launcher label wins: an srun label names the global rank even
            // when torch adds its own inside.
            launcher.get_or_insert(l);
            s = rest;
        }
        if s.len() == before {
            break;
        }
    }
    let t = s.trim_start();
    if let Some((h, body)) = nccl_header(t) {
        return Parsed {
            launcher,
            nccl: Some(h),
            body,
        };
    }
    Parsed {
        launcher,
        nccl: None,
        body: s,
    }
}

fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// `2024-05-01T12:34:56.789Z`, `2024-05-01 12:34:56,789`, optional brackets and zone, and the
/// CRI stream tag after it. Returns the rest after the following spaces.
fn strip_timestamp(s: &str) -> Option<&str> {
    // CloudWatch's console copies lines as `  | 2024-11-28T07:42:11.528Z | message`.
    let s = s.trim_start_matches([' ', '\t', '|']);
    // Timestamps start with a digit, `[` or a weekday; a host name or message seldom does.
    if !s
        .as_bytes()
        .first()
        .is_some_and(|c| c.is_ascii_digit() || *c == b'[' || c.is_ascii_uppercase())
    {
        return None;
    }
    if let Some(rest) = strip_ctime(s) {
        return Some(rest);
    }
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'['));
    // YYYY-MM-DD
    let date_ok = b.len() >= i + 10
        && b[i..i + 4].iter().all(u8::is_ascii_digit)
        && b[i + 4] == b'-'
        && b[i + 5..i + 7].iter().all(u8::is_ascii_digit)
        && b[i + 7] == b'-'
        && b[i + 8..i + 10].iter().all(u8::is_ascii_digit);
    if !date_ok {
        return None;
    }
    i += 10;
    if matches!(b.get(i), Some(b'T' | b' ')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b':' | b'.' | b',')) {
            i += 1;
        }
    }
    // Zone: Z, +00:00, -0700.
    match b.get(i) {
        Some(b'Z') => i += 1,
        Some(b'+' | b'-') if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b':') {
                i += 1;
            }
        }
        _ => {}
    }
    if b.first() == Some(&b'[') {
        if b.get(i) != Some(&b']') {
            return None;
        }
        i += 1;
    }
    // A timestamp is followed by a separator, never glued to a word.
    if i < b.len() && !matches!(b[i], b' ' | b'\t' | b':' | b'|' | b'[') {
        return None;
    }
    let mut rest = s[i..].trim_start_matches([' ', '\t', '|']);
    // CRI: `stdout F ` / `stderr P `.
    for tag in ["stdout F ", "stderr F ", "stdout P ", "stderr P "] {
        if let Some(r) = rest.strip_prefix(tag) {
            rest = r;
            break;
        }
    }
    Some(rest)
}

/// `Fri Aug 11 12:31:45 2023`, as `mpirun --timestamp-output` prints it (glued to what
/// follows).
fn strip_ctime(s: &str) -> Option<&str> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = s.as_bytes();
    // The cheap byte tests first: this runs on every line.
    if b.len() < 24 || b[3] != b' ' || b[7] != b' ' || !b[0].is_ascii_uppercase() {
        return None;
    }
    if !s.is_char_boundary(3) || !DAYS.contains(&&s[..3]) {
        return None;
    }
    if !s.is_char_boundary(7) || !MONTHS.contains(&&s[4..7]) || b[7] != b' ' {
        return None;
    }
    let mut i = 8;
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let d = digits(&s[i..]);
    if d == 0 || d > 2 {
        return None;
    }
    i += d;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    // hh:mm:ss
    let t = &b[i..];
    if t.len() < 8 || t[2] != b':' || t[5] != b':' {
        return None;
    }
    i += 8;
    if b.get(i) != Some(&b' ') {
        return None;
    }
    i += 1;
    if s.len() < i + 4 || digits(&s[i..]) != 4 {
        return None;
    }
    Some(s[i + 4..].trim_start_matches([' ', '\t', '|']))
}

fn strip_launcher(s: &str) -> Option<(Launcher<'_>, &str)> {
    let t = s.trim_start_matches(' ');
    let b = t.as_bytes();
    // Slurm: `12: `.
    let n = digits(t);
    if n > 0 && n <= 7 && b.get(n) == Some(&b':') && b.get(n + 1) == Some(&b' ') {
        let rank = t[..n].parse().ok()?;
        return Some((Launcher::Slurm(rank), &t[n + 2..]));
    }
    if b.first() != Some(&b'[') {
        return None;
    }
    let close = t.find(']')?;
    let inner = &t[1..close];
    let after = &t[close + 1..];
    // Open MPI: `[1,0]<stdout>:`.
    if let Some((job, rank)) = inner.split_once(',') {
        if digits(job) == job.len() && !job.is_empty() && digits(rank) == rank.len() {
            let rest = after.strip_prefix('<').and_then(|a| {
                let end = a.find(">:")?;
                Some(&a[end + 2..])
            })?;
            return Some((Launcher::Mpi(rank.parse().ok()?), rest));
        }
        return None;
    }
    let rest = after.strip_prefix(':')?;
    if let Some(n) = inner.strip_prefix("rank") {
        if !n.is_empty() && digits(n) == n.len() {
            return Some((Launcher::TorchRank(n.parse().ok()?), rest));
        }
    }
    // torchrun's default role is `default`; custom roles keep the trailing local rank.
    let d = inner.len() - inner.bytes().rev().take_while(u8::is_ascii_digit).count();
    if d < inner.len()
        && d > 0
        && inner.len() <= 64
        && inner[..d]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return Some((Launcher::Torchrun(inner), rest));
    }
    None
}

/// `host:pid:tid [dev] NCCL INFO msg` / `host:pid:tid [dev] file.cc:123 NCCL WARN msg`.
fn nccl_header(s: &str) -> Option<(NcclHeader<'_>, &str)> {
    let c1 = s.find(':')?;
    let host = &s[..c1];
    if host.is_empty()
        || host.len() > 255
        || host
            .bytes()
            .any(|c| matches!(c, b' ' | b'\t' | b'[' | b']'))
    {
        return None;
    }
    let after = &s[c1 + 1..];
    let pid_len = digits(after);
    if pid_len == 0 || after.as_bytes().get(pid_len) != Some(&b':') {
        return None;
    }
    let pid: u32 = after[..pid_len].parse().ok()?;
    let key = &s[..c1 + 1 + pid_len];
    let after = &after[pid_len + 1..];
    let tid_len = digits(after);
    if tid_len == 0 {
        return None;
    }
    let after = after[tid_len..].strip_prefix(' ')?.strip_prefix('[')?;
    let close = after.find(']')?;
    let dev = after[..close].trim().parse().ok();
    let after = after[close + 1..].trim_start();
    let (src, after) = match after.strip_prefix("NCCL ") {
        Some(rest) => (None, rest),
        None => {
            let sp = after.find(' ')?;
            let src = &after[..sp];
            if !src.contains(':') {
                return None;
            }
            (Some(src), after[sp + 1..].strip_prefix("NCCL ")?)
        }
    };
    let (level, body) = if let Some(b) = after.strip_prefix("INFO") {
        (Level::Info, b)
    } else if let Some(b) = after.strip_prefix("WARN") {
        (Level::Warn, b)
    } else {
        let sp = after.find(' ').unwrap_or(after.len());
        (Level::Other, &after[sp..])
    };
    Some((
        NcclHeader {
            host,
            pid,
            key,
            dev,
            level,
            src,
        },
        body.trim_start_matches(' '),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nccl_info_and_warn() {
        let p = parse("ip-10-0-1-17:4242:4301 [3] NCCL INFO Using network Libfabric");
        let h = p.nccl.unwrap();
        assert_eq!(
            (h.host, h.pid, h.key, h.dev, h.level),
            (
                "ip-10-0-1-17",
                4242,
                "ip-10-0-1-17:4242",
                Some(3),
                Level::Info
            )
        );
        assert_eq!(p.body, "Using network Libfabric");
        let p = parse(
            "ip-10-0-1-17:4242:4301 [0] misc/socket.cc:484 NCCL WARN socketStartConnect: exceeded timeouts (20000)",
        );
        let h = p.nccl.unwrap();
        assert_eq!(h.level, Level::Warn);
        assert_eq!(h.src, Some("misc/socket.cc:484"));
        assert_eq!(p.body, "socketStartConnect: exceeded timeouts (20000)");
    }

    #[test]
    fn launcher_prefixes() {
        let p = parse("3: node-1:77:78 [3] NCCL INFO NCCL version 2.18.5+cuda12.2");
        assert_eq!(p.launcher, Some(Launcher::Slurm(3)));
        assert_eq!(p.nccl.unwrap().host, "node-1");
        let p = parse(" 12: node-1:77:78 [3] NCCL INFO x");
        assert_eq!(p.launcher, Some(Launcher::Slurm(12)));
        let p = parse("[1,5]<stdout>:node-1:77:78 [5] NCCL INFO x");
        assert_eq!(p.launcher, Some(Launcher::Mpi(5)));
        assert_eq!(p.nccl.unwrap().pid, 77);
        let p = parse("[default3]:node-1:77:78 [3] NCCL INFO x");
        assert_eq!(p.launcher, Some(Launcher::Torchrun("default3")));
        let p = parse("[rank7]:[E ProcessGroupNCCL.cpp:563] [Rank 7] Watchdog caught");
        assert_eq!(p.launcher, Some(Launcher::TorchRank(7)));
        assert_eq!(
            p.body,
            "[E ProcessGroupNCCL.cpp:563] [Rank 7] Watchdog caught"
        );
        let p = parse("[default0]:[rank0]:[E ProcessGroupNCCL.cpp:1] x");
        assert_eq!(p.launcher, Some(Launcher::Torchrun("default0")));
        assert_eq!(p.body, "[E ProcessGroupNCCL.cpp:1] x");
    }

    #[test]
    fn timestamps() {
        for line in [
            "2024-05-01T12:34:56.789Z node:1:2 [0] NCCL INFO x",
            "2024-05-01 12:34:56,789 node:1:2 [0] NCCL INFO x",
            "[2024-05-01 12:34:56] node:1:2 [0] NCCL INFO x",
            "2024-05-01T12:34:56.123456789Z stdout F node:1:2 [0] NCCL INFO x",
            "2024-05-01T12:34:56+00:00 0: node:1:2 [0] NCCL INFO x",
            "  | 2024-11-28T07:42:11.528Z | node:1:2 [0] NCCL INFO x",
            "  | 2025-05-16T16:39:55.216-07:00 | node:1:2 [0] NCCL INFO x",
        ] {
            let p = parse(line);
            assert_eq!(p.nccl.map(|h| h.key), Some("node:1"), "{line}");
            assert_eq!(p.body, "x");
        }
    }

    #[test]
    fn mpirun_timestamp_output() {
        let p = parse("Fri Aug 11 12:31:45 2023[1,0]<stdout>:tomte401:1850301:1881341 [0] transport.cc:154 NCCL WARN Cuda failure 'invalid argument'");
        assert_eq!(p.launcher, Some(Launcher::Mpi(0)));
        assert_eq!(p.nccl.map(|h| h.host), Some("tomte401"));
        assert_eq!(p.body, "Cuda failure 'invalid argument'");
        assert!(strip_ctime("Fri Aug 11 12:31:45").is_none());
        assert!(strip_ctime("Fri Aug 1x 12:31:45 2023 x").is_none());
    }

    #[test]
    fn plain_lines_stay_whole() {
        for line in [
            "",
            "Traceback (most recent call last):",
            "   134217728      33554432     float     sum      -1   2100.5",
            "#  Rank  0 Group  0 Pid  17032 on ip-172-31-2-10 device  0 [0x10] NVIDIA H100",
            "host:notapid:1 [0] NCCL INFO x",
            "[E ProcessGroupNCCL.cpp:475] [Rank 1] Watchdog",
            "2024-05-01abc",
        ] {
            let p = parse(line);
            assert!(p.nccl.is_none(), "{line}");
            assert!(p.launcher.is_none(), "{line}");
            assert_eq!(p.body, line.trim_end());
        }
    }

    #[test]
    fn hostile_bytes_do_not_panic() {
        for line in [
            "[",
            "[]:",
            "[,]<",
            "1:",
            ":::",
            "a:1:1 [",
            "a:1:1 [0",
            "a:1:1 [0] x NCCL",
        ] {
            let _ = parse(line);
        }
    }
}
