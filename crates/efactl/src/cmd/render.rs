use crate::output::{print, ColorChoice, Format};
use efactl_core::check::check_spec;
use efactl_core::finding::Severity;
use efactl_core::render::{self, RenderOptions, RenderTarget};
use efactl_core::report::human;
use efactl_core::rules::Options;
use efactl_core::spec::Target;
use efactl_core::Catalog;
use std::path::{Path, PathBuf};

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
    /// Directory to write into; created, and refused when it exists and is not empty.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the contents of an existing, non-empty --out.
    #[arg(long)]
    pub force: bool,
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
    let text = match super::check::read_input(&args.file) {
        Ok(t) => t,
        Err(f) => {
            eprint!(
                "{}",
                human::render(&[*f], None, &human::HumanOptions { color: false })
            );
            return Ok(2);
        }
    };
    let report = check_spec(display, &text, Catalog::bundled(), &Options::default());
    let errors: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .cloned()
        .collect();
    let Some(cluster) = report.cluster.as_ref().filter(|_| errors.is_empty()) else {
        // Refuse, and show why: the same report `check` prints.
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
        eprintln!(
            "efactl: refusing to render a spec with errors; `efactl check {display}` shows them"
        );
        return Ok(2);
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
        match render::render(cluster, Catalog::bundled(), *t, &opts) {
            Ok(mut a) => {
                artifacts.append(&mut a);
                rendered.push(*t);
            }
            Err(e) if args.all => eprintln!("efactl: skipping `{}`: {e}", t.name()),
            Err(e) => {
                eprintln!("efactl: cannot render `{}`: {e}", t.name());
                return Ok(2);
            }
        }
    }
    let targets = rendered;
    if let Err(e) = write_all(&args.out, &artifacts, args.force) {
        eprintln!("efactl: {e:#}");
        return Ok(2);
    }
    let text = match args.format {
        Format::Human => {
            let mut s = String::new();
            for a in &artifacts {
                s.push_str(&format!("wrote {}\n", args.out.join(&a.path).display()));
            }
            s
        }
        Format::Json => {
            let files: Vec<_> = artifacts
                .iter()
                .map(|a| serde_json::json!({ "path": args.out.join(&a.path), "bytes": a.contents.len() }))
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({
                "targets": targets.iter().map(|t| t.name()).collect::<Vec<_>>(),
                "files": files,
            }))? + "\n"
        }
    };
    print(&text)?;
    Ok(0)
}

/// Writes every artifact into a fresh directory beside `out`, then moves it into place, so an
/// interrupted or failed render never leaves half a set of files.
fn write_all(out: &Path, artifacts: &[render::Artifact], force: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    let exists = out.exists();
    if exists {
        if !out.is_dir() {
            anyhow::bail!("--out {} exists and is not a directory", out.display());
        }
        let non_empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot read --out {}", out.display()))?
            .next()
            .is_some();
        if non_empty && !force {
            anyhow::bail!(
                "--out {} is not empty; choose an empty directory or pass --force to replace its contents",
                out.display()
            );
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let staging = parent.join(format!(".{name}.efactl-{}", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        std::fs::create_dir_all(&staging).with_context(|| {
            format!(
                "cannot create {} (is {} writable?)",
                staging.display(),
                parent.display()
            )
        })?;
        for a in artifacts {
            let p = staging.join(&a.path);
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&p, &a.contents)
                .with_context(|| format!("cannot write {}", p.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(a.mode))?;
            }
        }
        if exists {
            let old = parent.join(format!(".{name}.efactl-old-{}", std::process::id()));
            std::fs::rename(out, &old)
                .with_context(|| format!("cannot replace {}", out.display()))?;
            if let Err(e) = std::fs::rename(&staging, out) {
                // Put the old contents back rather than leave nothing.
                let _ = std::fs::rename(&old, out);
                return Err(e)
                    .with_context(|| format!("cannot move the new files into {}", out.display()));
            }
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&staging, out)
                .with_context(|| format!("cannot create {}", out.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}
