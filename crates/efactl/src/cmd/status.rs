//! `efactl status NAME`: the stack, its resources, its nodes; `--watch` follows an operation.

use super::aws::{self, AwsArgs, StderrProgress};
use crate::output::{print, ColorChoice, Format};
use efactl_core::cloud::deploy::Deployer;
use efactl_core::cloud::status::{self, Bootstrap, StatusReport};
use serde_json::json;
use std::fmt::Write as _;

#[derive(clap::Args)]
pub struct Args {
    /// The stack (the cluster's name).
    pub name: String,
    /// Follow the stack's current operation until it settles, then show the status.
    #[arg(long)]
    pub watch: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub aws: AwsArgs,
}

fn text(r: &StatusReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "stack `{}`: {}{}",
        r.stack.name,
        r.stack.status,
        r.stack
            .status_reason
            .as_deref()
            .map(|x| format!(" ({x})"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "  {}", r.stack.id);
    if !r.resources.is_empty() {
        let _ = writeln!(s, "\nresources ({}):", r.resources.len());
        for res in &r.resources {
            let _ = writeln!(
                s,
                "  {:<24} {:<34} {:<20} {}",
                res.logical_id,
                res.resource_type,
                res.status,
                res.physical_id.as_deref().unwrap_or("-")
            );
        }
    }
    if r.nodes.is_empty() {
        let _ = writeln!(
            s,
            "\nnodes: none tagged `efactl:cluster={}` or `aws:cloudformation:stack-name={}`",
            r.stack.name, r.stack.name
        );
    } else {
        let _ = writeln!(s, "\nnodes ({}):", r.nodes.len());
        let _ = writeln!(
            s,
            "  {:<20} {:<15} {:<10} {:<22} {:<14} {:<6} bootstrap",
            "instance", "type", "state", "zone (id)", "placement", "efa"
        );
        for n in &r.nodes {
            let zone = format!(
                "{} ({})",
                n.availability_zone.as_deref().unwrap_or("-"),
                n.zone_id.as_deref().unwrap_or("?")
            );
            let _ = writeln!(
                s,
                "  {:<20} {:<15} {:<10} {:<22} {:<14} {:<6} {}",
                n.id,
                n.instance_type,
                n.state.as_str(),
                zone,
                n.placement_group.as_deref().unwrap_or("-"),
                format!("{}/{}", n.efa_interfaces, n.interfaces),
                n.bootstrap.label()
            );
        }
        let zones: std::collections::BTreeSet<_> = r
            .nodes
            .iter()
            .filter_map(|n| n.availability_zone.as_deref())
            .collect();
        if zones.len() > 1 {
            let _ = writeln!(
                s,
                "\nwarning: the nodes are in {} zones; EFA traffic does not cross zones",
                zones.len()
            );
        }
    }
    s
}

fn value(r: &StatusReport) -> serde_json::Value {
    json!({
        "schema": "efactl.status/v1",
        "stack": {
            "name": r.stack.name, "id": r.stack.id, "status": r.stack.status.as_str(),
            "reason": r.stack.status_reason,
            "outputs": r.stack.outputs.iter().map(|o| (o.key.clone(), json!(o.value))).collect::<serde_json::Map<_, _>>(),
        },
        "resources": r.resources.iter().map(|x| json!({
            "logicalId": x.logical_id, "type": x.resource_type, "status": x.status.as_str(),
            "physicalId": x.physical_id, "reason": x.reason,
        })).collect::<Vec<_>>(),
        "nodes": r.nodes.iter().map(|n| json!({
            "id": n.id, "type": n.instance_type, "state": n.state.as_str(),
            "availabilityZone": n.availability_zone, "availabilityZoneId": n.zone_id,
            "placementGroup": n.placement_group, "privateIp": n.private_ip, "group": n.group,
            "efaInterfaces": n.efa_interfaces, "interfaces": n.interfaces,
            "bootstrap": match &n.bootstrap {
                Bootstrap::Ok { at } => json!({"result": "ok", "at": at}),
                Bootstrap::Failed { step, at } => json!({"result": "failed", "step": step, "at": at}),
                Bootstrap::Running { last } => json!({"result": "running", "last": last}),
                Bootstrap::NotReported => json!({"result": "not-reported"}),
            },
        })).collect::<Vec<_>>(),
    })
}

pub fn run(args: Args, color: ColorChoice) -> anyhow::Result<u8> {
    let human_out = args.format == Format::Human;
    let fail = aws::Failure::new(args.format, "status");
    let backend = match aws::connect(&args.aws, 0) {
        Ok(b) => b,
        Err(e) => return Ok(fail.cloud("connecting to AWS", &e)),
    };
    if args.watch {
        let clock = aws::interruptible_clock();
        let deployer = Deployer::new(&backend, &clock);
        let mut progress = StderrProgress::new(!human_out, color);
        let watched = deployer.watch(&args.name, &mut progress);
        progress.finish();
        match watched {
            Ok(Some(o)) if !o.is_success() && human_out => eprintln!("efactl: {}", o.message()),
            Ok(_) => {}
            Err(e) => return Ok(fail.deploy(&e)),
        }
    }
    let report = match status::read(&backend, &args.name) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return Ok(fail.message(
                1,
                &format!(
                    "stack `{}` does not exist in {} ({})",
                    args.name,
                    backend.region(),
                    backend.endpoint()
                ),
            ))
        }
        Err(e) => return Ok(fail.cloud("reading the stack", &e)),
    };
    if human_out {
        print(&text(&report))?;
    } else {
        print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&value(&report))?
        ))?;
    }
    Ok(u8::from(report.stack.status.is_failure()))
}
