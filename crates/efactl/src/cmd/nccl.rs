//! `efactl nccl analyze`: explain NCCL, aws-ofi-nccl, libfabric, torch.distributed and
//! nccl-tests output.

use crate::output::{print, ColorChoice, FindingsFormat};
use efactl_core::finding::Counts;
use efactl_core::report::{human, json, sarif};
use efactl_doctor::logs::{Analysis, Analyzer, Options, Status};
use std::fmt::Write as _;

/// The JSON document's schema (docs/output.md).
pub const SCHEMA: &str = "efactl.nccl-analysis/v1";

/// Rows of the per-rank table printed in human output; JSON lists every rank.
const MAX_TABLE_ROWS: usize = 256;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(clap::Subcommand)]
pub enum Sub {
    /// Read NCCL_DEBUG=INFO/WARN logs (one per rank or node, or interleaved; gzip is read
    /// directly) and say what is wrong: a verdict, findings with their evidence lines, and a
    /// per-rank table. Exit 0 healthy, 1 findings, 2 unreadable input or nothing NCCL-like.
    Analyze(AnalyzeArgs),
}

#[derive(clap::Args)]
pub struct AnalyzeArgs {
    /// Log files; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// The instance type the job ran on, when the log does not name it (NIC count, GPUDirect
    /// RDMA and bandwidth are judged against it).
    #[arg(long, value_name = "TYPE")]
    pub instance_type: Option<String>,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,
    /// The most read from one pipe, FIFO or standard input (regular files are read whole).
    #[arg(long, value_name = "SIZE", value_parser = crate::input::parse_size, default_value = "16G")]
    pub max_bytes: u64,
}

pub fn run(args: Args, color: ColorChoice) -> anyhow::Result<u8> {
    match args.command {
        Sub::Analyze(a) => analyze(a, color),
    }
}

fn analyze(args: AnalyzeArgs, color: ColorChoice) -> anyhow::Result<u8> {
    if let Some(t) = &args.instance_type {
        if crate::catalog::load().get(t).is_none() {
            let hint = crate::catalog::load()
                .suggest(t)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            anyhow::bail!("--instance-type: unknown instance type `{t}`{hint}");
        }
    }
    let mut an = Analyzer::new(Options {
        instance_type: args.instance_type.clone(),
    });
    let mut stdin_used = false;
    for file in &args.files {
        if file == "-" {
            if stdin_used {
                anyhow::bail!("`-` (standard input) can be given once");
            }
            stdin_used = true;
            let stdin = std::io::stdin().lock();
            let stdin = crate::input::Bounded::new(stdin, args.max_bytes, "standard input");
            if let Err(e) = an.add("<stdin>", stdin) {
                eprintln!("efactl: warning: {e}");
            }
            continue;
        }
        let mut regular = false;
        match std::fs::metadata(file) {
            Ok(m) if m.is_dir() => {
                an.add_unreadable(file, "it is a directory");
                continue;
            }
            Ok(m) => {
                if let Some(kind) = crate::input::device_kind(&m) {
                    an.add_unreadable(file, &format!("it is a {kind}, not a log"));
                    continue;
                }
                regular = m.is_file();
            }
            _ => {}
        }
        match std::fs::File::open(file) {
            Ok(f) => {
                let limit = if regular { u64::MAX } else { args.max_bytes };
                let f = crate::input::Bounded::new(f, limit, "a pipe or FIFO");
                // The lines before a read error (a truncated .gz) are analysed; say what was lost.
                if let Err(e) = an.add(file, f) {
                    eprintln!("efactl: warning: {e}; the analysis covers the lines before it");
                }
            }
            Err(e) => {
                let reason = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file".to_string(),
                    std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                    _ => e.to_string(),
                };
                an.add_unreadable(file, &reason);
            }
        }
    }
    let analysis = an.finish();
    let text = match args.format {
        FindingsFormat::Human => human_report(&analysis, color.enabled_for_stdout()),
        FindingsFormat::Json => json_report(&analysis)?,
        FindingsFormat::Sarif => sarif::render(&analysis.findings),
    };
    print(&text)?;
    Ok(analysis.exit_code())
}

fn json_report(a: &Analysis) -> anyhow::Result<String> {
    let doc = serde_json::json!({
        "schema": SCHEMA,
        "tool": { "name": "efactl", "version": efactl_core::VERSION },
        "verdict": a.verdict,
        "summary": Counts::of(&a.findings),
        "inputs": a.inputs,
        "ranks": a.ranks,
        "ncclTests": a.nccl_tests,
        "findings": json::findings_value(&a.findings),
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

fn human_report(a: &Analysis, color: bool) -> String {
    let mut out = String::new();
    let status = match a.verdict.status {
        Status::Healthy => "HEALTHY",
        Status::Degraded => "DEGRADED",
        Status::Failed => "FAILED",
        Status::Unknown => "NO VERDICT",
    };
    let status = if color {
        let code = match a.verdict.status {
            Status::Healthy => "32",
            Status::Degraded => "33",
            Status::Failed | Status::Unknown => "31",
        };
        format!("\x1b[1;{code}m{status}\x1b[0m")
    } else {
        status.to_string()
    };
    let _ = write!(out, "verdict: {status}: {}", a.verdict.cause);
    if let Some(r) = &a.verdict.rule {
        let _ = write!(out, " [{r}]");
    }
    if let Some(l) = &a.verdict.location {
        let _ = write!(out, " ({l})");
    }
    out.push_str("\n\n");
    out.push_str(&human::render(
        &a.findings,
        None,
        &human::HumanOptions { color },
    ));
    if !a.ranks.is_empty() {
        out.push('\n');
        out.push_str(&rank_table(a));
    }
    for t in &a.nccl_tests {
        let _ = writeln!(
            out,
            "\nnccl-tests {} ({}:{}): {} rows up to {} MiB, best busbw at >= 128 MiB {}, #wrong {}",
            t.test.as_deref().unwrap_or("table"),
            t.file,
            t.line,
            t.rows,
            t.max_size >> 20,
            t.large_busbw
                .map_or("-".to_string(), |b| format!("{b:.2} GB/s")),
            t.wrong
        );
    }
    out
}

fn rank_table(a: &Analysis) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes".to_string(),
        Some(false) => "no".to_string(),
        None => "-".to_string(),
    };
    let header = [
        "RANK",
        "HOST",
        "PID",
        "NCCL",
        "AWS-OFI-NCCL",
        "LIBFABRIC",
        "CUDA DRV/RT",
        "NET",
        "PROVIDER",
        "NICS",
        "GDR",
        "INIT",
    ];
    let mut rows: Vec<[String; 12]> = Vec::new();
    for r in a.ranks.iter().take(MAX_TABLE_ROWS) {
        let cuda = match (&r.cuda_driver, &r.cuda_runtime) {
            (None, None) => "-".to_string(),
            (d, rt) => format!("{}/{}", dash(d), dash(rt)),
        };
        let provider = match (&r.provider, &r.fabric) {
            (Some(p), Some(f)) if p != f => format!("{p}/{f}"),
            (Some(p), _) => p.clone(),
            (None, _) => "-".into(),
        };
        rows.push([
            r.rank.map_or("-".into(), |n| n.to_string()),
            r.host
                .clone()
                .or_else(|| r.launcher.clone())
                .unwrap_or_else(|| r.file.clone()),
            r.pid.map_or("-".into(), |p| p.to_string()),
            dash(&r.nccl),
            dash(&r.aws_ofi_nccl),
            dash(&r.libfabric),
            cuda,
            r.transport.unwrap_or("-").to_string(),
            provider,
            r.nics.map_or("-".into(), |n| n.to_string()),
            yes_no(r.gdr),
            if r.init_complete { "yes" } else { "-" }.to_string(),
        ]);
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut s = String::new();
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(s, "{c:<w$}  ");
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in &rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    if a.ranks.len() > MAX_TABLE_ROWS {
        let _ = writeln!(
            out,
            "… {} more ranks (`--format json` lists every rank)",
            a.ranks.len() - MAX_TABLE_ROWS
        );
    }
    out
}
