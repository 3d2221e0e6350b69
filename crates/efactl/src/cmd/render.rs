use crate::outdir;
use crate::output::{self, exit, print, ColorChoice, Format};
use efactl_core::check::check_spec;
use efactl_core::finding::Severity;
use efactl_core::render::{self, RenderOptions, RenderTarget};
use efactl_core::report::human;
use efactl_core::rules::Options;
use efactl_core::spec::Target;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The cluster spec (`-` reads stdin).
    pub file: String,
    /// What to render: cfn, bootstrap, pcluster, hyperpod, batch (comma-separated). Default:
    /// the artifacts of the spec's deployment target.
    #[arg(long, value_delimiter = ',', value_parser = parse_target)]
    pub target: Vec<RenderTarget>,
    /// Every target that can express this spec (those that cannot are listed and skipped).
    #[arg(long, conflicts_with = "target")]
    pub all: bool,
    /// Directory to write into: a new or empty directory, or one efactl rendered into before
    /// (it holds `.efactl-render.json`). Never `/`, your home, the current directory or its
    /// ancestors, a git work tree or the spec's directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the files of the previous render in --out (those its `.efactl-render.json`
    /// lists, while unchanged). Given twice (`--force --force`), also the ones you edited.
    /// Files efactl did not write are never replaced or removed, whatever the flags.
    #[arg(long, action = clap::ArgAction::Count)]
    pub force: u8,
    /// CloudFormation as JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

fn parse_target(s: &str) -> Result<RenderTarget, String> {
    RenderTarget::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = RenderTarget::ALL.iter().map(|t| t.name()).collect();
        format!("unknown target `{s}`: expected one of {}", names.join(", "))
    })
}

/// The artifacts a deployment target needs when `--target` is not given.
pub fn default_targets(t: Target) -> Vec<RenderTarget> {
    match t {
        Target::CloudFormation => vec![RenderTarget::Cfn, RenderTarget::Bootstrap],
        Target::ParallelCluster => vec![RenderTarget::Pcluster, RenderTarget::Bootstrap],
        Target::HyperPod => vec![
            RenderTarget::Cfn,
            RenderTarget::Hyperpod,
            RenderTarget::Bootstrap,
        ],
        Target::Batch => vec![RenderTarget::Cfn, RenderTarget::Batch],
    }
}

pub fn run(args: Args, color: ColorChoice) -> anyhow::Result<u8> {
    let display = if args.file == "-" {
        "<stdin>"
    } else {
        args.file.as_str()
    };
    let fail = |code: u8, message: &str| output::fail(args.format, "render", code, message);
    let text = match super::check::read_input(&args.file) {
        Ok(t) => t,
        Err(f) => {
            eprint!(
                "{}",
                human::render(&[(*f).clone()], None, &human::HumanOptions { color: false })
            );
            return fail(exit::USAGE, &f.message);
        }
    };
    let report = check_spec(display, &text, crate::catalog::load(), &Options::default());
    let errors: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .cloned()
        .collect();
    let Some(cluster) = report.cluster.as_ref().filter(|_| errors.is_empty()) else {
        // Refuse, and show why: the same report `check` prints, and its exit code.
        eprint!(
            "{}",
            human::render(
                &errors,
                Some((&report.source.file, &report.source.text)),
                &human::HumanOptions {
                    color: color.enabled_for_stderr()
                },
            )
        );
        let code = report.exit_code(Severity::Error) as u8;
        return fail(
            code.max(exit::FINDINGS),
            &format!(
                "refusing to render a spec with {} error finding(s); `efactl check {display}` shows them",
                errors.len()
            ),
        );
    };
    let targets = if args.all {
        RenderTarget::ALL.to_vec()
    } else if args.target.is_empty() {
        default_targets(cluster.target)
    } else {
        args.target.clone()
    };
    let opts = RenderOptions { json: args.json };
    let mut artifacts = Vec::new();
    let mut rendered = Vec::new();
    for t in &targets {
        match render::render(cluster, crate::catalog::load(), *t, &opts) {
            Ok(mut a) => {
                artifacts.append(&mut a);
                rendered.push(*t);
            }
            Err(e) if args.all => eprintln!("efactl: skipping `{}`: {e}", t.name()),
            Err(e) => {
                return fail(exit::USAGE, &format!("cannot render `{}`: {e}", t.name()));
            }
        }
    }
    let targets = rendered;
    let files: Vec<outdir::NewFile> = artifacts
        .iter()
        .map(|a| outdir::NewFile {
            path: a.path.clone(),
            contents: a.contents.clone().into_bytes(),
            mode: a.mode,
        })
        .collect();
    let spec = (args.file != "-").then(|| PathBuf::from(&args.file));
    let outcome = match outdir::write(
        &args.out,
        &files,
        &outdir::WriteOptions::from_env(args.force, spec),
    ) {
        Ok(o) => o,
        Err(e) => return fail(exit::USAGE, &e.to_string()),
    };
    let text = match args.format {
        Format::Human => {
            let mut s = String::new();
            let at = |p: &str| args.out.join(p).display().to_string();
            for p in &outcome.written {
                let how = if outcome.overwritten_edited.contains(p) {
                    "overwrote (edited)"
                } else if outcome.replaced.contains(p) {
                    "replaced"
                } else {
                    "wrote"
                };
                s.push_str(&format!("{how} {}\n", at(p)));
            }
            for p in &outcome.removed {
                s.push_str(&format!("removed {} (no longer rendered)\n", at(p)));
            }
            for p in &outcome.kept_edited {
                s.push_str(&format!(
                    "kept {} (no longer rendered, but edited since the last render)\n",
                    at(p)
                ));
            }
            if !outcome.kept_foreign.is_empty() {
                s.push_str(&format!(
                    "left untouched (not written by efactl): {}\n",
                    outcome.kept_foreign.join(", ")
                ));
            }
            s
        }
        Format::Json => {
            let files: Vec<_> = artifacts
                .iter()
                .map(|a| serde_json::json!({ "path": args.out.join(&a.path), "bytes": a.contents.len() }))
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({
                "schema": "efactl.render/v1",
                "out": args.out,
                "targets": targets.iter().map(|t| t.name()).collect::<Vec<_>>(),
                "files": files,
                "replaced": outcome.replaced,
                "removed": outcome.removed,
                "overwrittenEdited": outcome.overwritten_edited,
                "keptEdited": outcome.kept_edited,
                "keptForeign": outcome.kept_foreign,
            }))? + "\n"
        }
    };
    print(&text)?;
    Ok(exit::OK)
}
