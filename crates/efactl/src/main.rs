//! efactl: from a cluster spec to a proven EFA/NCCL fabric on AWS.

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

mod catalog;
mod cmd;
mod input;
mod outdir;
mod output;

#[derive(Parser)]
#[command(
    name = "efactl",
    version,
    about = "Check, render and prove EFA/NCCL/MPI clusters on AWS",
    long_about = "efactl lints a declarative cluster spec (cluster.yaml) against the rules that make \
EFA, NCCL and MPI work on AWS.\n\nExit codes: 0 clean, 1 findings at or above --fail-on, 2 bad input or usage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// When to colour output: auto (only on a terminal, and not with NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = output::ColorChoice::Auto)]
    color: output::ColorChoice,
}

#[derive(Subcommand)]
enum Command {
    /// Check a cluster spec: parse, resolve, run every rule.
    Check(cmd::check::Args),
    /// Print a rule's documentation: what, why, how to fix, source.
    Explain(cmd::explain::Args),
    /// List every rule: id, name, default severity, title.
    Rules(cmd::rules::Args),
    /// Write a starter cluster.yaml (to stdout, or to FILE: never over an existing one).
    Init(cmd::init::Args),
    /// Prove the fabric from inside the cluster: node checks, connectivity, latency, bandwidth, all-reduce.
    Doctor(Box<cmd::doctor::Args>),
    /// Render the infrastructure: CloudFormation, node bootstrap, ParallelCluster, HyperPod, Batch.
    Render(cmd::render::Args),
    /// NCCL logs: `efactl nccl analyze FILE...` explains NCCL, aws-ofi-nccl, libfabric,
    /// torch.distributed and nccl-tests output.
    Nccl(cmd::nccl::Args),
    /// Create or update the cluster's CloudFormation stack, with a plan and progress.
    Deploy(cmd::deploy::Args),
    /// The stack, its resources and its nodes (zone, placement group, EFA, bootstrap).
    Status(cmd::status::Args),
    /// Delete the cluster's stack and wait (requires --yes).
    Destroy(cmd::destroy::Args),
    /// Read a live account into the same model and run the same rules: why NCCL times out.
    Audit(Box<cmd::audit::Args>),
    /// The MPI SSH key pair in Secrets Manager: `keys create`, `keys check`.
    Keys(cmd::keys::Args),
    /// Instance-type facts: `catalog show TYPE`, `catalog refresh --region R` (an account's
    /// own DescribeInstanceTypes, cached and used before the bundled catalog).
    Catalog(cmd::catalog::Args),
    /// Print a shell completion script: `efactl completions bash > /etc/bash_completion.d/efactl`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page in roff (`efactl man | man -l -`; `efactl man deploy` for one command).
    Man {
        /// A command's own page instead of efactl's.
        command: Option<String>,
    },
}

/// `efactl completions SHELL`: generated from the clap definitions, so it never drifts.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "efactl", &mut buf);
    output::print(&String::from_utf8_lossy(&buf))?;
    Ok(output::exit::OK)
}

/// `efactl man [COMMAND]`.
fn man(command: Option<&str>) -> anyhow::Result<u8> {
    let root = Cli::command();
    let cmd = match command {
        None => root,
        Some(name) => match root.find_subcommand(name) {
            // The page is printed once and the process ends: a leaked name is fine.
            Some(c) => c
                .clone()
                .name(String::leak(format!("efactl-{name}")) as &str),
            None => {
                eprintln!("efactl: error: no command `{name}`; `efactl --help` lists them");
                return Ok(output::exit::USAGE);
            }
        },
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    output::print(&String::from_utf8_lossy(&buf))?;
    Ok(output::exit::OK)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = cli.color;
    let result = match cli.command {
        Command::Check(a) => cmd::check::run(a, color),
        Command::Explain(a) => cmd::explain::run(a, color),
        Command::Rules(a) => cmd::rules::run(a),
        Command::Init(a) => cmd::init::run(a),
        Command::Doctor(a) => cmd::doctor::run(*a, color),
        Command::Render(a) => cmd::render::run(a, color),
        Command::Nccl(a) => cmd::nccl::run(a, color),
        Command::Deploy(a) => cmd::deploy::run(a, color),
        Command::Status(a) => cmd::status::run(a, color),
        Command::Destroy(a) => cmd::destroy::run(a, color),
        Command::Audit(a) => cmd::audit::run(*a, color),
        Command::Keys(a) => cmd::keys::run(a),
        Command::Catalog(a) => cmd::catalog::run(a),
        Command::Completions { shell } => completions(shell),
        Command::Man { command } => man(command.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("efactl: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
