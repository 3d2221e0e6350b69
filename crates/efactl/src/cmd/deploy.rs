//! `efactl deploy FILE`: check, render, create or update the CloudFormation stack, wait.

use super::aws::{self, AwsArgs, StderrProgress};
use crate::output::{print, ColorChoice, Format};
use efactl_core::check::check_spec;
use efactl_core::cloud::deploy::{cluster_stack, DeployReport, Deployer, Outcome, Prepared};
use efactl_core::cloud::{ChangeSet, StackTemplate};
use efactl_core::finding::Severity;
use efactl_core::report::human;
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};

#[derive(clap::Args)]
pub struct Args {
    /// The cluster spec.
    pub file: String,
    /// Apply an update without asking (for scripts).
    #[arg(long)]
    pub yes: bool,
    /// Show what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop waiting after this many minutes (the stack operation goes on in AWS).
    #[arg(long, default_value_t = 45, value_name = "MINUTES")]
    pub timeout: u64,
    /// A value for a template parameter without a default (`ArtifactBucket=my-bucket` for
    /// HyperPod's lifecycle scripts); repeat for several.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    /// An S3 bucket, in the stack's region, for a template over CloudFormation's 51,200-byte
    /// inline limit: efactl uploads it to `efactl/STACK/template-HASH.json` there and passes
    /// its URL (`aws cloudformation deploy --s3-bucket` does the same).
    #[arg(long, value_name = "BUCKET")]
    pub template_bucket: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Applies `--parameter KEY=VALUE`; every template parameter without a default must get a
/// value, and every value must name a parameter. The message lists what is wrong.
pub fn apply_parameters(stack: &mut StackTemplate, given: &[String]) -> Result<(), String> {
    let template: Value = serde_json::from_str(&stack.body).unwrap_or(Value::Null);
    let declared = template
        .get("Parameters")
        .and_then(|p| p.as_object())
        .cloned()
        .unwrap_or_default();
    for g in given {
        let (k, v) = g
            .split_once('=')
            .ok_or_else(|| format!("--parameter takes KEY=VALUE, got `{g}`"))?;
        if !declared.contains_key(k) {
            let names: Vec<&str> = declared.keys().map(String::as_str).collect();
            return Err(format!(
                "--parameter {k}: the template has no such parameter (it has: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ));
        }
        stack.parameters.insert(k.to_string(), v.to_string());
    }
    let missing: Vec<String> = declared
        .iter()
        .filter(|(k, p)| p.get("Default").is_none() && !stack.parameters.contains_key(*k))
        .map(
            |(k, p)| match p.get("Description").and_then(|d| d.as_str()) {
                Some(d) => format!("`{k}` ({d})"),
                None => format!("`{k}`"),
            },
        )
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the template needs a value for {}: pass --parameter KEY=VALUE",
            missing.join(", ")
        ));
    }
    Ok(())
}

pub fn changes_text(cs: &ChangeSet) -> String {
    let mut s = String::new();
    if cs.changes.is_empty() {
        s.push_str("  (no resource changes)\n");
    }
    for c in &cs.changes {
        let props = if c.properties.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.properties.join(", "))
        };
        let phys = c
            .physical_id
            .as_deref()
            .map(|p| format!(" [{p}]"))
            .unwrap_or_default();
        s.push_str(&format!(
            "  {:<8} {} {}{phys}{props}\n",
            c.verb(),
            c.logical_id,
            c.resource_type
        ));
    }
    s
}

pub fn changes_json(cs: &ChangeSet) -> Value {
    Value::Array(
        cs.changes
            .iter()
            .map(|c| {
                json!({
                    "action": c.verb(),
                    "logicalId": c.logical_id,
                    "physicalId": c.physical_id,
                    "type": c.resource_type,
                    "properties": c.properties,
                })
            })
            .collect(),
    )
}

fn outcome_json(o: &Outcome) -> Value {
    match o {
        Outcome::Completed {
            status, outputs, ..
        } => json!({
            "result": "completed",
            "status": status.as_str(),
            "outputs": outputs.iter().map(|o| (o.key.clone(), Value::String(o.value.clone()))).collect::<serde_json::Map<_, _>>(),
        }),
        Outcome::Failed(f) => json!({
            "result": "failed",
            "status": f.status.as_str(),
            "reason": f.status_reason,
            "causes": f.causes.iter().map(|e| json!({
                "logicalId": e.logical_id, "type": e.resource_type, "status": e.status.as_str(),
                "physicalId": e.physical_id, "reason": e.reason,
            })).collect::<Vec<_>>(),
        }),
        Outcome::TimedOut { status, resume, .. } => json!({
            "result": "timed-out", "status": status.as_ref().map(|s| s.as_str()), "resume": resume,
        }),
        Outcome::Interrupted { status, resume, .. } => json!({
            "result": "interrupted", "status": status.as_ref().map(|s| s.as_str()), "resume": resume,
        }),
    }
}

/// Asks on the terminal; anything but y/yes is no.
fn ask(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(_) => matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
        Err(_) => false,
    }
}

/// The stack a spec deploys as, or the exit code after printing why there is none.
pub fn desired_stack(
    file: &str,
    color: ColorChoice,
    fail: aws::Failure,
) -> Result<(StackTemplate, String), u8> {
    let text = match super::check::read_input(file) {
        Ok(t) => t,
        Err(f) => {
            if fail.format == Format::Json {
                return Err(fail.message(2, &f.message));
            }
            eprint!(
                "{}",
                human::render(
                    &[*f],
                    None,
                    &human::HumanOptions {
                        color: color.enabled_for_stderr()
                    }
                )
            );
            return Err(2);
        }
    };
    let catalog = crate::catalog::load();
    let report = check_spec(file, &text, catalog, &Default::default());
    let errors = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if errors > 0 || report.cluster.is_none() {
        eprint!(
            "{}",
            human::render(
                &report.findings,
                Some((&report.source.file, &report.source.text)),
                &human::HumanOptions {
                    color: color.enabled_for_stderr()
                }
            )
        );
        return Err(fail.message(
            if report.has_input_errors() { 2 } else { 1 },
            &format!("refusing to deploy `{file}`: {errors} error finding(s); `efactl check {file}` lists them"),
        ));
    }
    let Some(cluster) = report.cluster.as_ref() else {
        return Err(fail.message(1, &format!("`{file}` holds no cluster")));
    };
    cluster_stack(cluster, catalog)
        .map(|t| (t, cluster.region.clone()))
        .map_err(|e| fail.message(1, &format!("cannot render `{file}`: {e}")))
}

pub fn run(mut args: Args, color: ColorChoice) -> anyhow::Result<u8> {
    let fail = aws::Failure::new(args.format, "deploy");
    let (mut desired, region) = match desired_stack(&args.file, color, fail) {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    if let Err(e) = apply_parameters(&mut desired, &args.parameters) {
        return Ok(fail.message(2, &e.to_string()));
    }
    // The template names the spec's zones and endpoint services: it deploys to the spec's
    // region, whatever the profile's default is.
    match &args.aws.region {
        Some(r) if *r != region => {
            return Ok(fail.message(2, &format!(
                "`{}` is for region {region}, but --region says {r}; change `region:` in the spec to deploy it elsewhere",
                args.file
            )));
        }
        _ => args.aws.region = Some(region),
    }
    let human_out = args.format == Format::Human;
    let backend = match aws::connect(&args.aws, 0) {
        Ok(b) => b,
        Err(e) => return Ok(fail.cloud("connecting to AWS", &e)),
    };
    let identity = match aws::announce(&backend, fail, &format!("stack `{}`", desired.name)) {
        Ok(i) => i,
        Err(code) => return Ok(code),
    };
    let clock = aws::interruptible_clock();
    let deployer = Deployer::new(&backend, &clock)
        .with_settings(aws::wait_settings(args.timeout))
        .with_template_bucket(args.template_bucket.clone());
    let mut progress = StderrProgress::new(!human_out, color);

    if args.dry_run {
        let prepared = match deployer.dry_run(&desired, &mut progress) {
            Ok(p) => p,
            Err(e) => return Ok(fail.deploy(&e)),
        };
        progress.finish();
        let (plan, changes) = match &prepared {
            Prepared::Create => {
                let resources = desired.resources();
                let mut text = format!(
                    "would create stack `{}` with {} resources:\n",
                    desired.name,
                    resources.len()
                );
                for (id, ty) in &resources {
                    text.push_str(&format!("  {:<8} {id} {ty}\n", "add"));
                }
                let changes = resources
                    .iter()
                    .map(|(id, ty)| json!({"action": "add", "logicalId": id, "physicalId": null, "type": ty, "properties": []}))
                    .collect();
                (text, Value::Array(changes))
            }
            Prepared::Update(cs) => (
                format!(
                    "would update stack `{}`:\n{}",
                    desired.name,
                    changes_text(cs)
                ),
                changes_json(cs),
            ),
            Prepared::NoChanges => (format!("stack `{}`: no changes\n", desired.name), json!([])),
            Prepared::Blocked(b) => (format!("{}\n", b.message()), json!([])),
        };
        if human_out {
            print(&plan)?;
        } else {
            let plan_name = match &prepared {
                Prepared::Create => "create",
                Prepared::Update(_) => "update",
                Prepared::NoChanges => "no-changes",
                Prepared::Blocked(_) => "blocked",
            };
            print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&json!({
                    "schema": "efactl.deploy/v1",
                    "stack": desired.name,
                    "account": identity.account,
                    "region": backend.region(),
                    "dryRun": true,
                    "plan": plan_name,
                    "changes": changes,
                }))?
            ))?;
        }
        return Ok(if matches!(prepared, Prepared::Blocked(_)) {
            1
        } else {
            0
        });
    }

    let yes = args.yes;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut confirm = |cs: &ChangeSet| {
        if human_out || !yes {
            eprint!("changes to stack `{}`:\n{}", desired.name, changes_text(cs));
        }
        if yes {
            true
        } else if interactive {
            ask("apply these changes?")
        } else {
            eprintln!("not applied: pass --yes to apply changes without a prompt");
            false
        }
    };
    let report = match deployer.deploy(&desired, &mut confirm, &mut progress) {
        Ok(r) => r,
        Err(e) => {
            progress.finish();
            return Ok(fail.deploy(&e));
        }
    };
    progress.finish();
    let (code, text, value) = match &report {
        DeployReport::Created(o) => (
            u8::from(!o.is_success()),
            o.message(),
            json!({"action": "create", "outcome": outcome_json(o)}),
        ),
        DeployReport::Updated {
            change_set,
            outcome,
        } => (
            u8::from(!outcome.is_success()),
            outcome.message(),
            json!({"action": "update", "changes": changes_json(change_set), "outcome": outcome_json(outcome)}),
        ),
        DeployReport::NoChanges { stack } => (
            0,
            format!("stack `{stack}`: no changes; nothing was touched"),
            json!({"action": "none"}),
        ),
        DeployReport::Blocked(b) => (
            1,
            b.message(),
            json!({"action": "blocked", "reason": b.reason, "advice": b.advice}),
        ),
        DeployReport::Declined { change_set } => (
            1,
            format!(
                "stack `{}` left as it is; the change set was deleted",
                desired.name
            ),
            json!({"action": "declined", "changes": changes_json(change_set)}),
        ),
    };
    if human_out {
        if code == 0 {
            print(&format!("{text}\n"))?;
        } else {
            eprintln!("efactl: {text}");
        }
    } else {
        let mut v = value;
        v["schema"] = json!("efactl.deploy/v1");
        v["stack"] = json!(desired.name);
        v["account"] = json!(identity.account);
        v["region"] = json!(backend.region());
        print(&format!("{}\n", serde_json::to_string_pretty(&v)?))?;
    }
    Ok(code)
}
