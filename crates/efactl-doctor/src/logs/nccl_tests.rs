//! nccl-tests output (`all_reduce_perf`, `all_gather_perf`, …): the column header, the result
//! rows, the device list and the closing summary.
//!
//! ```text
//! #  Rank  0 Group  0 Pid  17032 on ip-172-31-2-10 device  0 [0x10] NVIDIA H100 80GB HBM3
//! #                                                              out-of-place                       in-place
//! #       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
//! #        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
//!    134217728      33554432     float     sum      -1   1020.1  131.58  246.70      0   1019.5  131.65  246.84      0
//! # Out of bounds values : 0 OK
//! # Avg bus bandwidth    : 123.456
//! ```
//!
//! The first nccl-tests releases printed the header and the summary without the leading `#`
//! (`       size         count    type   redop     time   algbw   busbw  error …`,
//! ` Out of bounds values : 2 FAILED`): those lines are read too.
//!
//! Only aggregates are kept (the best large-message busbw, rows with wrong results up to a
//! bound), so a table of any length costs the same memory.

/// Messages of at least this size count as "large" for the bandwidth check: nccl-tests'
/// published multi-node figures plateau from 128 MiB up (efa-facts.md §6).
pub const LARGE: u64 = 128 * 1024 * 1024;

/// Tables remembered per analysis; further tables are counted, not kept.
pub const MAX_TABLES: usize = 64;

/// Rows with wrong results remembered per table.
pub const MAX_WRONG_ROWS: usize = 8;

/// Hosts remembered from the device list.
pub const MAX_HOSTS: usize = 1024;

/// Column positions of one header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Columns {
    count: usize,
    redop: Option<usize>,
    busbw: [Option<usize>; 2],
    wrong: [Option<usize>; 2],
    /// The old format's `error` column is a float deviation, not a count: not judged.
    wrong_is_count: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WrongRow {
    pub size: u64,
    /// Out-of-place and in-place `#wrong`.
    pub wrong: [u64; 2],
    pub at: (usize, u64),
}

/// One table's aggregates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// `all_reduce_perf`, when the output names it.
    pub test: Option<String>,
    /// Where the column header is.
    pub at: (usize, u64),
    pub rows: u64,
    /// Best busbw (GB/s) at sizes >= [`LARGE`] and the size it was measured at.
    pub large_busbw: Option<(f64, u64)>,
    pub max_size: u64,
    pub wrong_rows: Vec<WrongRow>,
    pub wrong_total: u64,
    /// `# Out of bounds values : N FAILED`.
    pub out_of_bounds: Option<(u64, (usize, u64))>,
    pub avg_busbw: Option<f64>,
    /// Distinct hosts in the device list before this table.
    pub hosts: usize,
    /// The `redop` of the first row: `sum`, `prod`, `max`, `min` or `avg` for the reductions
    /// (all_reduce, reduce_scatter, reduce), `none` for the others.
    pub redop: Option<String>,
}

/// The nccl-tests programs, for naming a table from the command line that ran it.
pub const PROGRAMS: &[&str] = &[
    "all_reduce_perf",
    "all_gather_perf",
    "alltoall_perf",
    "broadcast_perf",
    "gather_perf",
    "hypercube_perf",
    "reduce_perf",
    "reduce_scatter_perf",
    "scatter_perf",
    "sendrecv_perf",
];

impl Table {
    /// Whether this table's busbw is comparable with the network's line rate. nccl-tests
    /// normalises busbw so that all_reduce, all_gather and reduce_scatter reach the link speed
    /// on a healthy fabric; alltoall, sendrecv, gather/scatter and the rest do not (multi-node
    /// alltoall is bounded by every GPU's share of the NICs). A table whose program is not
    /// named counts only when its rows are a reduction (all_reduce or reduce_scatter, or
    /// reduce): a `none` table may be alltoall.
    pub fn comparable_with_line_rate(&self) -> bool {
        match self.test.as_deref() {
            Some(t) => matches!(
                t,
                "all_reduce_perf" | "all_gather_perf" | "reduce_scatter_perf"
            ),
            None => self
                .redop
                .as_deref()
                .is_some_and(|r| matches!(r, "sum" | "prod" | "max" | "min" | "avg")),
        }
    }
}

/// Streaming parser: feed it every line (bodies, after prefixes are stripped).
#[derive(Debug, Default)]
pub struct Parser {
    columns: Option<Columns>,
    pub tables: Vec<Table>,
    pub dropped_tables: u64,
    test: Option<String>,
    hosts: Vec<String>,
    hosts_overflow: bool,
}

fn is_uint(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl Parser {
    /// Whether the line was nccl-tests output.
    pub fn feed(&mut self, body: &str, at: (usize, u64)) -> bool {
        let t = body.trim();
        if let Some(h) = t.strip_prefix('#') {
            return self.comment(h.trim(), at);
        }
        let first = t.split_ascii_whitespace().next().unwrap_or("");
        if !is_uint(first) {
            // The first releases' header and summary lines, without `#`.
            if first == "size" && t.contains("busbw")
                || t.starts_with("Out of bounds values")
                || t.starts_with("Avg bus bandwidth")
                || first == "nThread"
                || first == "out-of-place"
                || first == "(B)"
            {
                return self.comment(t, at);
            }
            if t.contains("_perf") {
                self.command_line(t);
            }
            return false;
        }
        let Some(cols) = self.columns else {
            return false;
        };
        let fields: Vec<&str> = t.split_ascii_whitespace().collect();
        if fields.len() != cols.count {
            return false;
        }
        let Ok(size) = first.parse::<u64>() else {
            return false;
        };
        let Some(table) = self.tables.last_mut() else {
            return false;
        };
        if table.rows == 0 {
            table.redop = cols
                .redop
                .and_then(|i| fields.get(i))
                .map(|r| r.chars().take(16).collect());
        }
        table.rows += 1;
        table.max_size = table.max_size.max(size);
        if size >= LARGE {
            for bw in cols.busbw.iter().flatten() {
                if let Some(v) = fields.get(*bw).and_then(|f| f.parse::<f64>().ok()) {
                    if v.is_finite() && table.large_busbw.is_none_or(|(b, _)| v > b) {
                        table.large_busbw = Some((v, size));
                    }
                }
            }
        }
        if cols.wrong_is_count {
            let w = cols.wrong.map(|i| {
                i.and_then(|i| fields.get(i))
                    .and_then(|f| f.parse::<u64>().ok())
                    .unwrap_or(0)
            });
            if w[0] > 0 || w[1] > 0 {
                table.wrong_total = table.wrong_total.saturating_add(w[0].saturating_add(w[1]));
                if table.wrong_rows.len() < MAX_WRONG_ROWS {
                    table.wrong_rows.push(WrongRow { size, wrong: w, at });
                }
            }
        }
        true
    }

    fn comment(&mut self, h: &str, at: (usize, u64)) -> bool {
        if h.contains("size") && h.contains("count") && h.contains("busbw") {
            let names: Vec<&str> = h.split_ascii_whitespace().collect();
            let find = |name: &str, nth: usize| {
                names
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n == name)
                    .nth(nth)
                    .map(|(i, _)| i)
            };
            let wrong_is_count = names.contains(&"#wrong");
            let wrong_name = if wrong_is_count { "#wrong" } else { "error" };
            self.columns = Some(Columns {
                count: names.len(),
                redop: find("redop", 0),
                busbw: [find("busbw", 0), find("busbw", 1)],
                wrong: [find(wrong_name, 0), find(wrong_name, 1)],
                wrong_is_count,
            });
            if self.tables.len() >= MAX_TABLES {
                self.dropped_tables += 1;
                // Keep aggregating into the last table rather than growing.
                return true;
            }
            self.tables.push(Table {
                test: self.test.clone(),
                at,
                hosts: self.hosts.len(),
                ..Table::default()
            });
            return true;
        }
        if let Some(rest) = h.strip_prefix("Out of bounds values :") {
            let n = rest
                .split_ascii_whitespace()
                .next()
                .and_then(|n| n.parse().ok());
            if let (Some(n), Some(t)) = (n, self.tables.last_mut()) {
                if n > 0 {
                    t.out_of_bounds = Some((n, at));
                }
            }
            return true;
        }
        if let Some(rest) = h.strip_prefix("Avg bus bandwidth") {
            let v = rest.trim_start_matches([' ', ':']).trim().parse().ok();
            if let Some(t) = self.tables.last_mut() {
                t.avg_busbw = v;
            }
            self.columns = None;
            return true;
        }
        if let Some(rest) = h.strip_prefix("Collective test starting:") {
            self.test = Some(rest.trim().chars().take(64).collect());
            return true;
        }
        // `Rank  0 Group  0 Pid  17032 on ip-172-31-2-10 device  0 [0x10] NVIDIA H100`.
        if h.starts_with("Rank") && h.contains(" on ") && h.contains("device") {
            if let Some(host) = h
                .split(" on ")
                .nth(1)
                .and_then(|r| r.split_ascii_whitespace().next())
            {
                if !self.hosts.iter().any(|x| x == host) {
                    if self.hosts.len() < MAX_HOSTS {
                        self.hosts.push(host.chars().take(255).collect());
                    } else {
                        self.hosts_overflow = true;
                    }
                }
            }
            return true;
        }
        if h.starts_with("nThread") || h.starts_with("Using devices") || h.contains("out-of-place")
        {
            return true;
        }
        // The units line under the header.
        if h.starts_with("(B)") {
            return true;
        }
        false
    }

    /// A line that runs an nccl-tests program (`mpirun … /opt/nccl-tests/build/all_reduce_perf
    /// -b 8 -e 2G`) names the tables that follow it.
    fn command_line(&mut self, t: &str) {
        for word in t.split(|c: char| c.is_ascii_whitespace() || c == '/' || c == '\'' || c == '"')
        {
            if let Some(p) = PROGRAMS.iter().find(|p| **p == word) {
                self.test = Some((*p).to_string());
                return;
            }
        }
    }

    /// Distinct hosts in the device lists seen so far.
    pub fn hosts(&self) -> usize {
        self.hosts.len() + usize::from(self.hosts_overflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "# nThread 1 nGpus 1 minBytes 8 maxBytes 2147483648 step: 2(factor) warmup iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0
#
# Using devices
#  Rank  0 Group  0 Pid  17032 on ip-172-31-2-10 device  0 [0x10] NVIDIA H100 80GB HBM3
#  Rank  8 Group  0 Pid  22011 on ip-172-31-2-11 device  0 [0x10] NVIDIA H100 80GB HBM3
#
#                                                              out-of-place                       in-place
#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
           8             2     float     sum      -1    36.87    0.00    0.00      0    35.99    0.00    0.00      0
   134217728      33554432     float     sum      -1   1020.1  131.58  246.70      0   1019.5  131.65  246.84      0
  1073741824     268435456     float     sum      -1   4560.2  235.46  441.49      2   4555.0  235.73  442.00      0
# Out of bounds values : 2 FAILED
# Avg bus bandwidth    : 98.123
";

    #[test]
    fn parses_a_run() {
        let mut p = Parser::default();
        for (i, l) in RUN.lines().enumerate() {
            p.feed(l, (0, i as u64 + 1));
        }
        assert_eq!(p.tables.len(), 1);
        let t = &p.tables[0];
        assert_eq!(t.rows, 3);
        assert_eq!(t.large_busbw, Some((442.00, 1073741824)));
        assert_eq!(t.wrong_total, 2);
        assert_eq!(t.wrong_rows[0].size, 1073741824);
        assert_eq!(t.wrong_rows[0].wrong, [2, 0]);
        assert_eq!(t.out_of_bounds.map(|o| o.0), Some(2));
        assert_eq!(t.avg_busbw, Some(98.123));
        assert_eq!(t.hosts, 2);
    }

    #[test]
    fn old_format_and_na() {
        let mut p = Parser::default();
        p.feed("#       size         count    type   redop     time   algbw   busbw  error     time   algbw   busbw  error", (0, 1));
        assert!(p.feed("   134217728      33554432   float     sum   2000.0   67.10  125.81  1e-06   2001.0   67.07  125.76  1e-06", (0, 2)));
        assert_eq!(p.tables[0].wrong_total, 0);
        assert_eq!(p.tables[0].large_busbw.map(|b| b.0), Some(125.81));
        let mut p = Parser::default();
        p.feed("#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong", (0, 1));
        assert!(p.feed("   134217728       2097152     float    none      -1   1000.0  134.22  125.83    N/A   1001.0  134.09  125.71    N/A", (0, 2)));
        assert_eq!(p.tables[0].wrong_total, 0);
        // Rows that do not fit the header are not rows.
        assert!(!p.feed("   12 training step loss 0.5", (0, 3)));
        assert_eq!(p.tables[0].redop.as_deref(), Some("none"));
        assert!(!p.tables[0].comparable_with_line_rate());
    }

    /// nccl-tests' first releases (nccl-tests#37): no `#` before the header and the summary.
    #[test]
    fn first_release_format_without_hash() {
        let log = "nThread 1 nGpus 2 minBytes 8 maxBytes 268435456 step: 2(factor) warmup iters: 5 iters: 20 validation: 1
# Using devices
#   Rank  0 on  gpu-node device  0 [0x04] GeForce GTX 1080 Ti
                                                     out-of-place                       in-place
       size         count    type   redop     time   algbw   busbw  error     time   algbw   busbw  error
        (B)    (elements)                       (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
   268435456      67108864   float     sum    45123    5.95    5.95  2e+00    45098    5.95    5.95  2e+00
 Out of bounds values : 2 FAILED
 Avg bus bandwidth    : 5.95
";
        let mut p = Parser::default();
        let taken: Vec<bool> = log
            .lines()
            .enumerate()
            .map(|(i, l)| p.feed(l, (0, i as u64 + 1)))
            .collect();
        assert_eq!(
            taken,
            vec![true, true, true, true, true, true, true, true, true]
        );
        assert_eq!(p.tables.len(), 1);
        let t = &p.tables[0];
        assert_eq!(t.rows, 1);
        assert_eq!(t.out_of_bounds.map(|o| o.0), Some(2));
        assert_eq!(t.avg_busbw, Some(5.95));
        assert_eq!(t.redop.as_deref(), Some("sum"));
        // A line of prose that starts with "size" is not a header.
        let mut p = Parser::default();
        assert!(!p.feed("size of the model: 7B parameters", (0, 1)));
        assert!(p.tables.is_empty());
    }

    #[test]
    fn the_command_line_names_the_table() {
        let mut p = Parser::default();
        assert!(!p.feed("+ mpirun -np 16 -x NCCL_DEBUG=INFO /opt/nccl-tests/build/alltoall_perf -b 8 -e 2G -f 2", (0, 1)));
        p.feed("#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong", (0, 2));
        assert_eq!(p.tables[0].test.as_deref(), Some("alltoall_perf"));
        assert!(!p.tables[0].comparable_with_line_rate());
        assert!(!p.feed(
            "srun --mpi=pmix ./build/all_reduce_perf -b 8 -e 16G",
            (0, 3)
        ));
        p.feed("#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong", (0, 4));
        assert_eq!(p.tables[1].test.as_deref(), Some("all_reduce_perf"));
        assert!(p.tables[1].comparable_with_line_rate());
        // `_perf` inside another word names nothing.
        let mut p = Parser::default();
        p.feed("loading my_all_reduce_perf_notes.txt", (0, 1));
        assert_eq!(p.test, None);
    }
}
