//! `efactl catalog`: the instance-type facts the rules use. `refresh` reads a region's
//! `DescribeInstanceTypes` into the user's cache, which wins over the bundled catalog; `show`
//! prints what efactl knows of a type and where it comes from.

use super::aws::{self, AwsArgs};
use crate::catalog::{cache_path, load, read_cache};
use crate::output::{exit, print, Format};
use efactl_core::catalog::{
    cache_text, merge_cache, rows_from_describe, EnisPerCard, InstanceType, CACHE_MARKER,
};
use efactl_core::cloud::{Clock, SystemClock};
use efactl_core::Catalog;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Read every instance type of a region (`ec2:DescribeInstanceTypes`, all pages) into the
    /// cache that check, render and deploy use before the bundled catalog. Types of regions
    /// refreshed earlier stay in the cache.
    Refresh {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        #[command(flatten)]
        aws: AwsArgs,
    },
    /// What efactl knows of instance types: EFA, network cards, interfaces, bandwidth,
    /// accelerators, and the source of each row (the cache or the bundled tables).
    Show {
        #[arg(required = true, value_name = "TYPE")]
        types: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.action {
        Action::Refresh { format, aws } => refresh(format, &aws),
        Action::Show { types, format } => show(&types, format),
    }
}

fn refresh(format: Format, args: &AwsArgs) -> anyhow::Result<u8> {
    let fail = aws::Failure::new(format, "catalog refresh");
    let Some(path) = cache_path() else {
        return Ok(fail.message(
            exit::USAGE,
            "no place for the cache: set EFACTL_CATALOG_CACHE, XDG_CACHE_HOME or HOME",
        ));
    };
    // Never over a file efactl did not write.
    if let Ok(text) = std::fs::read_to_string(&path) {
        if !text.starts_with(CACHE_MARKER) {
            return Ok(fail.message(
                exit::USAGE,
                &format!(
                    "{} exists and was not written by efactl; move it away or set EFACTL_CATALOG_CACHE to another path",
                    path.display()
                ),
            ));
        }
    }
    let backend = match aws::connect(args, 1) {
        Ok(b) => b,
        Err(e) => return Ok(fail.cloud("connecting to AWS", &e)),
    };
    let region = backend.region().to_string();
    let spinner = spinner(format, &format!("reading instance types of {region}"));
    let records = efactl_core::cloud::CloudBackend::all_instance_types(&backend);
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    let records = match records {
        Ok(r) => r,
        Err(e) => return Ok(fail.cloud("reading the instance types", &e)),
    };
    if records.is_empty() {
        return Ok(fail.message(
            exit::FINDINGS,
            &format!("DescribeInstanceTypes in {region} returned no types; the cache is unchanged"),
        ));
    }
    let date = SystemClock::new().now().to_string();
    let date = date.get(..10).unwrap_or(&date);
    let fresh = rows_from_describe(&records, &region, date);
    let earlier = match read_cache() {
        Ok(Some((_, rows))) => rows,
        _ => Vec::new(),
    };
    let bundled = Catalog::bundled();
    let new: Vec<&str> = fresh
        .iter()
        .filter(|t| bundled.get(&t.name).is_none())
        .map(|t| t.name.as_str())
        .collect();
    let changed: Vec<&str> = fresh
        .iter()
        .filter(|t| bundled.get(&t.name).is_some_and(|b| differs(b, t)))
        .map(|t| t.name.as_str())
        .collect();
    let fresh_len = fresh.len();
    let (new_len, changed_len) = (new.len(), changed.len());
    let sample_new: Vec<String> = new.iter().take(10).map(|s| s.to_string()).collect();
    let sample_changed: Vec<String> = changed.iter().take(10).map(|s| s.to_string()).collect();
    let rows = merge_cache(earlier, fresh);
    let summary = format!(
        "{} types; last refresh: DescribeInstanceTypes in {region} on {date}",
        rows.len()
    );
    write_atomically(&path, &cache_text(&rows, &summary))?;
    match format {
        Format::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "schema": "efactl.catalog-refresh/v1",
                "region": region,
                "cache": path.display().to_string(),
                "types": fresh_len,
                "cached": rows.len(),
                "newTypes": new_len,
                "changedTypes": changed_len,
                "newExamples": sample_new,
                "changedExamples": sample_changed,
            }))?
        ))?,
        Format::Human => {
            let mut s = format!(
                "{fresh_len} instance types from DescribeInstanceTypes in {region} written to {}\n",
                path.display()
            );
            s.push_str(&format!(
                "  {new_len} not in the bundled catalog{}\n",
                examples(&sample_new, new_len)
            ));
            s.push_str(&format!(
                "  {changed_len} whose network facts differ from it{}\n",
                examples(&sample_changed, changed_len)
            ));
            if rows.len() > fresh_len {
                s.push_str(&format!(
                    "  {} more kept from earlier refreshes\n",
                    rows.len() - fresh_len
                ));
            }
            print(&s)?;
        }
    }
    Ok(exit::OK)
}

fn examples(names: &[String], total: usize) -> String {
    if names.is_empty() {
        return String::new();
    }
    let more = if total > names.len() { ", ..." } else { "" };
    format!(" ({}{more})", names.join(", "))
}

/// The facts the rules read, compared: what a refresh changes for the checks.
fn differs(a: &InstanceType, b: &InstanceType) -> bool {
    a.efa_supported != b.efa_supported
        || a.max_efa_interfaces != b.max_efa_interfaces
        || a.network_cards != b.network_cards
        || a.max_network_interfaces != b.max_network_interfaces
        || a.enis_per_card != b.enis_per_card
        || a.cluster_placement != b.cluster_placement
}

fn spinner(format: Format, what: &str) -> Option<ProgressBar> {
    if format == Format::Json || !std::io::stderr().is_terminal() {
        eprintln!("{what} ...");
        return None;
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// Writes beside the target and renames, so a reader never sees half a cache.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        anyhow::bail!("writing {}: {e}", path.display());
    }
    Ok(())
}

fn show(types: &[String], format: Format) -> anyhow::Result<u8> {
    let cached: Vec<String> = match read_cache() {
        Ok(Some((_, rows))) => rows.into_iter().map(|t| t.name).collect(),
        Ok(None) => Vec::new(),
        Err(e) => {
            eprintln!("efactl: warning: {e:#}");
            Vec::new()
        }
    };
    let catalog = load();
    let mut code = exit::OK;
    let mut docs = Vec::new();
    let mut human = String::new();
    for name in types {
        let Some(t) = catalog.get(name) else {
            let hint = catalog
                .suggest(name)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            eprintln!(
                "efactl: error: `{name}` is not a known instance type{hint}; `efactl catalog refresh --region R` reads the region's own list"
            );
            docs.push(json!({ "instanceType": name, "known": false }));
            code = exit::FINDINGS;
            continue;
        };
        let from = if cached.contains(name) {
            match cache_path() {
                Some(p) => format!("the cache {}", p.display()),
                None => "the cache".to_string(),
            }
        } else {
            "the bundled catalog".to_string()
        };
        docs.push(to_json(t, &from));
        human.push_str(&to_human(t, &from));
    }
    match format {
        Format::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "schema": "efactl.catalog/v1",
                "instanceTypes": docs,
            }))?
        ))?,
        Format::Human => print(&human)?,
    }
    Ok(code)
}

fn enis(e: EnisPerCard) -> Value {
    match e {
        EnisPerCard::Uniform(n) => json!(n),
        EnisPerCard::EvenOdd { even, odd } => json!({ "evenCards": even, "oddCards": odd }),
        EnisPerCard::Unknown => Value::Null,
    }
}

fn to_json(t: &InstanceType, from: &str) -> Value {
    json!({
        "instanceType": t.name,
        "known": true,
        "from": from,
        "vcpus": t.vcpus,
        "accelerator": t.accelerator,
        "acceleratorCount": t.accelerator_count,
        "efaSupported": t.efa_supported,
        "maxEfaInterfaces": t.max_efa_interfaces,
        "efaVersion": t.efa_version,
        "efaOnlyInterfaces": t.efa_only_supported,
        "card0EnaOnly": t.card0_ena_only,
        "networkCards": t.network_cards,
        "maxNetworkInterfaces": t.max_network_interfaces,
        "interfacesPerCard": enis(t.enis_per_card),
        "bandwidthGbps": t.bandwidth_gbps,
        "gpudirectRdma": t.gpudirect_rdma,
        "clusterPlacement": t.cluster_placement,
        "awsOfiNcclPlatform": t.aws_ofi_nccl_platform,
        "awsOfiNcclProtocol": t.aws_ofi_nccl_protocol,
        "notes": t.notes,
        "sources": t.sources,
    })
}

fn to_human(t: &InstanceType, from: &str) -> String {
    let n = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_else(|| "unknown".into());
    let yes = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let mut rows: Vec<(&str, String)> = vec![("vCPUs", n(t.vcpus))];
    if let Some(a) = &t.accelerator {
        if a != "none" {
            rows.push(("accelerators", format!("{} x {a}", n(t.accelerator_count))));
        }
    }
    let efa = match t.efa_supported {
        Some(true) => {
            let mut s = format!("yes, up to {} EFA interfaces", n(t.max_efa_interfaces));
            if let Some(v) = &t.efa_version {
                s.push_str(&format!(", {v}"));
            }
            if t.efa_only_supported {
                s.push_str(", efa-only interfaces");
            }
            if t.card0_ena_only {
                s.push_str(", card 0 carries ENA only");
            }
            s
        }
        other => yes(other).to_string(),
    };
    rows.push(("EFA", efa));
    let per_card = match t.enis_per_card {
        EnisPerCard::Uniform(x) => format!(", {x} per card"),
        EnisPerCard::EvenOdd { even, odd } => format!(", {even} on even and {odd} on odd cards"),
        EnisPerCard::Unknown => String::new(),
    };
    rows.push((
        "network cards",
        format!(
            "{}, at most {} interfaces{per_card}",
            n(t.network_cards),
            n(t.max_network_interfaces)
        ),
    ));
    rows.push((
        "bandwidth",
        t.bandwidth_gbps
            .map(|b| format!("{b} Gbps"))
            .unwrap_or_else(|| "unknown".into()),
    ));
    if t.gpudirect_rdma.is_some() {
        rows.push(("GPUDirect RDMA", yes(t.gpudirect_rdma).into()));
    }
    rows.push((
        "cluster placement",
        if t.cluster_placement { "yes" } else { "no" }.into(),
    ));
    if let Some(p) = &t.aws_ofi_nccl_platform {
        rows.push(("aws-ofi-nccl platform", p.clone()));
    }
    if !t.notes.is_empty() {
        rows.push(("notes", t.notes.clone()));
    }
    rows.push(("sources", t.sources.join("; ")));
    rows.push(("from", from.to_string()));
    let mut s = format!("{}\n", t.name);
    for (k, v) in rows {
        s.push_str(&format!("  {k:<22}{v}\n"));
    }
    s
}
