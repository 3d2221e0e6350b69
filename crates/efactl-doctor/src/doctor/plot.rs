//! Heatmaps of the connectivity, latency and bandwidth matrices as one SVG: a grid per matrix,
//! rows = from, columns = to, colour = state or value, with a legend, readable at a glance.

use super::probe::CellState;
use super::report::Report;
use std::fmt::Write;

const CELL: usize = 14;
const GAP: usize = 60;

pub fn svg(rep: &Report) -> String {
    let n = rep.size.max(1);
    let side = n * CELL;
    let width = 3 * side + 4 * GAP;
    let height = side + 2 * GAP + 40;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{GAP}" y="20" font-size="14">efactl doctor: {} ranks, verdict {}</text>"#,
        rep.size, rep.verdict
    );

    // Connectivity: the worst state of each pair across ports.
    let mut conn = vec![vec![None; n]; n];
    for c in &rep.cells {
        if c.from < n && c.to < n {
            let cur: Option<CellState> = conn[c.from][c.to];
            let rank = |x: CellState| match x {
                CellState::Ok => 0,
                CellState::Refused if !c.data_port => 0,
                CellState::Refused => 1,
                CellState::Error => 2,
                CellState::Unreachable => 3,
                CellState::Timeout => 4,
            };
            let st = if !c.data_port && c.state == CellState::Refused {
                CellState::Ok
            } else {
                c.state
            };
            if cur.is_none_or(|x| rank(st) > rank(x)) {
                conn[c.from][c.to] = Some(st);
            }
        }
    }
    grid(&mut s, GAP, GAP, n, "connectivity", |a, b| {
        conn[a][b].map(|st| match st {
            CellState::Ok => ("#2e7d32".to_string(), "ok".to_string()),
            CellState::Refused => ("#f9a825".to_string(), "refused".to_string()),
            CellState::Timeout => ("#c62828".to_string(), "timeout".to_string()),
            CellState::Unreachable => ("#6a1b9a".to_string(), "unreachable".to_string()),
            CellState::Error => ("#424242".to_string(), "error".to_string()),
        })
    });

    let lat_max = rep
        .latency
        .iter()
        .filter(|l| l.error.is_none())
        .map(|l| l.p50_us)
        .fold(0.0, f64::max);
    let mut lat = vec![vec![None; n]; n];
    for l in rep.latency.iter().filter(|l| l.error.is_none()) {
        if l.from < n && l.to < n {
            lat[l.from][l.to] = Some(l.p50_us);
            lat[l.to][l.from] = Some(l.p50_us);
        }
    }
    grid(
        &mut s,
        2 * GAP + side,
        GAP,
        n,
        "latency p50 (us)",
        |a, b| lat[a][b].map(|v| (shade(v / lat_max.max(1e-9), true), format!("{v:.0} us"))),
    );

    let bw_max = rep
        .bandwidth
        .iter()
        .filter(|b| b.error.is_none())
        .map(|b| b.gbps)
        .fold(0.0, f64::max);
    let mut bw = vec![vec![None; n]; n];
    for b in rep.bandwidth.iter().filter(|b| b.error.is_none()) {
        if b.from < n && b.to < n {
            bw[b.from][b.to] = Some(b.gbps);
        }
    }
    grid(
        &mut s,
        3 * GAP + 2 * side,
        GAP,
        n,
        "bandwidth (Gbit/s)",
        |a, b| bw[a][b].map(|v| (shade(v / bw_max.max(1e-9), false), format!("{v:.2} Gbit/s"))),
    );
    let _ = writeln!(
        s,
        r#"<text x="{GAP}" y="{}">rows: from rank, columns: to rank. Connectivity: green ok, red timeout (dropped), amber refused, purple unreachable, grey not measured. Darker = slower.</text>"#,
        height - 12
    );
    s.push_str("</svg>\n");
    s
}

/// White to blue for good values, to red for bad ones: `bad_high` for latency.
fn shade(x: f64, bad_high: bool) -> String {
    let x = x.clamp(0.0, 1.0);
    let badness = if bad_high { x } else { 1.0 - x };
    let r = (255.0 * (0.3 + 0.7 * badness)) as u8;
    let g = (255.0 * (0.8 - 0.6 * badness)) as u8;
    let b = (255.0 * (0.9 - 0.7 * badness)) as u8;
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn grid(
    s: &mut String,
    x0: usize,
    y0: usize,
    n: usize,
    title: &str,
    cell: impl Fn(usize, usize) -> Option<(String, String)>,
) {
    let _ = writeln!(s, r#"<text x="{x0}" y="{}">{title}</text>"#, y0 - 8);
    for a in 0..n {
        for b in 0..n {
            let (x, y) = (x0 + b * CELL, y0 + a * CELL);
            let (fill, tip) = if a == b {
                ("#eeeeee".to_string(), "self".to_string())
            } else {
                cell(a, b).unwrap_or(("#bdbdbd".to_string(), "not measured".to_string()))
            };
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="{y}" width="{w}" height="{w}" fill="{fill}" stroke="white"><title>{a} -> {b}: {tip}</title></rect>"#,
                w = CELL
            );
        }
    }
}
