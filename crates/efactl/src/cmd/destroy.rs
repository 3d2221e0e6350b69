//! `efactl destroy NAME`: delete the stack and wait.

use super::aws::{self, AwsArgs, StderrProgress};
use crate::output::{exit, print, ColorChoice, Format};
use efactl_core::cloud::deploy::{Deployer, Destroy, Outcome};
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// The stack (the cluster's name).
    pub name: String,
    /// Delete without asking; required, the stack and everything in it go.
    #[arg(long)]
    pub yes: bool,
    /// Stop waiting after this many minutes (the deletion goes on in AWS).
    #[arg(long, default_value_t = 45, value_name = "MINUTES")]
    pub timeout: u64,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: Args, color: ColorChoice) -> anyhow::Result<u8> {
    let human_out = args.format == Format::Human;
    let fail = aws::Failure::new(args.format, "destroy");
    if !args.yes {
        return Ok(fail.message(
            exit::USAGE,
            &format!(
                "refusing to delete stack `{}` and everything in it without confirmation: pass --yes",
                args.name
            ),
        ));
    }
    let backend = match aws::connect(&args.aws, 0) {
        Ok(b) => b,
        Err(e) => return Ok(fail.cloud("connecting to AWS", &e)),
    };
    let identity = match aws::announce(&backend, fail, &format!("deleting stack `{}`", args.name)) {
        Ok(i) => i,
        Err(code) => return Ok(code),
    };
    let clock = aws::interruptible_clock();
    let deployer = Deployer::new(&backend, &clock).with_settings(aws::wait_settings(args.timeout));
    let mut progress = StderrProgress::new(!human_out, color);
    let result = deployer.destroy(&args.name, true, &mut progress);
    progress.finish();
    let d = match result {
        Ok(d) => d,
        Err(e) => return Ok(fail.deploy(&e)),
    };
    let (code, result) = match &d {
        Destroy::Missing { .. } => (0, "missing"),
        Destroy::Blocked(_) => (1, "blocked"),
        Destroy::Waited(Outcome::Completed { .. }) => (0, "deleted"),
        Destroy::Waited(Outcome::Failed(_)) => (1, "failed"),
        Destroy::Waited(Outcome::TimedOut { .. }) => (1, "timed-out"),
        Destroy::Waited(Outcome::Interrupted { .. }) => (130, "interrupted"),
    };
    if human_out {
        if code == 0 {
            print(&format!("{}\n", d.message()))?;
        } else {
            eprintln!("efactl: {}", d.message());
        }
    } else {
        print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&json!({
                "schema": "efactl.destroy/v1",
                "stack": args.name,
                "account": identity.account,
                "region": backend.region(),
                "result": result,
                "message": d.message(),
            }))?
        ))?;
    }
    Ok(code)
}
