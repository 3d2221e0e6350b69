use crate::output::{print, ColorChoice, FindingsFormat};
use efactl_core::check::{check_file_with, CheckReport};
use efactl_core::finding::{sort_findings, Category, Finding, Severity, Subject};
use efactl_core::report::{human, json, sarif};
use efactl_core::rules::{self, Options};
use efactl_core::spec::SourceMap;
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {
    /// Files to check (`-` reads stdin): efactl cluster specs, CloudFormation templates (YAML
    /// or JSON) and ParallelCluster 3 cluster configs; each file's kind is told from the file.
    /// With several files, the exit code is the worst of them, and JSON and SARIF hold the
    /// findings of all in one document, each located in its own file.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,
    /// A value for a CloudFormation template's parameter (KEY=VALUE, a list comma-separated),
    /// as `aws cloudformation deploy --parameter-overrides` takes it; other parameters take
    /// their defaults, and what depends on a parameter without one is not judged.
    #[arg(long = "parameter", value_name = "KEY=VALUE")]
    pub parameters: Vec<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
}

/// Which findings count: shared by `check` and `audit`.
#[derive(clap::Args)]
pub struct RuleArgs {
    /// Exit 1 when a finding of this severity or worse remains.
    #[arg(long, value_parser = parse_severity, default_value = "error")]
    pub fail_on: Severity,
    /// Leave out a rule (id or name); repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Change a rule's severity: ID=error|warning|info; repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub severity: Vec<String>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("`{s}` is not error, warning or info"))
}

/// Turns --ignore and --severity into rule options; unknown ids are usage errors.
pub fn options(ignore: &[String], severity: &[String]) -> anyhow::Result<Options> {
    let mut o = Options::default();
    for i in ignore.iter().filter(|i| !i.is_empty()) {
        let r = rules::find(i)
            .ok_or_else(|| anyhow::anyhow!("--ignore: unknown rule `{i}` (see `efactl rules`)"))?;
        o.ignore.push(r.id.to_string());
    }
    for s in severity.iter().filter(|s| !s.is_empty()) {
        let (id, level) = s
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--severity takes ID=LEVEL, got `{s}`"))?;
        let r = rules::find(id).ok_or_else(|| {
            anyhow::anyhow!("--severity: unknown rule `{id}` (see `efactl rules`)")
        })?;
        let level = Severity::parse(level).ok_or_else(|| {
            anyhow::anyhow!("--severity: `{level}` is not error, warning or info")
        })?;
        o.severity.insert(r.id.to_string(), level);
    }
    Ok(o)
}

/// Reads a spec file; a path that cannot be read is an input finding, not a crash.
pub fn read_input(file: &str) -> Result<String, Box<Finding>> {
    let unreadable = |message: String, help: Option<String>| {
        Box::new(Finding {
            rule: efactl_core::spec::diag::UNREADABLE.id.into(),
            name: efactl_core::spec::diag::UNREADABLE.name.into(),
            severity: Severity::Error,
            category: Category::Input,
            subject: Subject::path(file.to_string()),
            message,
            help,
        })
    };
    let bytes = if file == "-" {
        let mut buf = Vec::new();
        use std::io::Read;
        std::io::stdin()
            .take(efactl_core::yaml::MAX_INPUT_BYTES as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| unreadable(format!("cannot read standard input: {e}"), None))?;
        buf
    } else {
        let path = Path::new(file);
        let meta = std::fs::metadata(path).map_err(|e| {
            let help = (e.kind() == std::io::ErrorKind::NotFound).then(|| {
                "create one with `efactl init --example p5-slurm-private cluster.yaml`".to_string()
            });
            unreadable(format!("cannot read `{file}`: {}", io_reason(&e)), help)
        })?;
        if meta.is_dir() {
            return Err(unreadable(
                format!("`{file}` is a directory, not a cluster spec"),
                None,
            ));
        }
        if let Some(kind) = crate::input::device_kind(&meta) {
            return Err(unreadable(
                format!("`{file}` is a {kind}, not a cluster spec"),
                None,
            ));
        }
        if meta.len() > efactl_core::yaml::MAX_INPUT_BYTES as u64 {
            return Err(unreadable(
                format!(
                    "`{file}` is {:.1} MiB; efactl reads specs up to {} MiB",
                    meta.len() as f64 / 1_048_576.0,
                    efactl_core::yaml::MAX_INPUT_BYTES / 1_048_576
                ),
                None,
            ));
        }
        // Pipes and FIFOs (`check <(yes 'a: 1')`) have no length: read at most the limit.
        let f = std::fs::File::open(path)
            .map_err(|e| unreadable(format!("cannot read `{file}`: {}", io_reason(&e)), None))?;
        let mut buf = Vec::new();
        use std::io::Read;
        f.take(efactl_core::yaml::MAX_INPUT_BYTES as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| unreadable(format!("cannot read `{file}`: {}", io_reason(&e)), None))?;
        buf
    };
    if bytes.len() > efactl_core::yaml::MAX_INPUT_BYTES {
        return Err(unreadable(
            format!(
                "`{file}` goes on past {} MiB, the most efactl reads of a spec or template; it stopped reading there",
                efactl_core::yaml::MAX_INPUT_BYTES / 1_048_576
            ),
            None,
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        unreadable(
            format!(
                "`{file}` is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            Some("cluster specs are UTF-8 YAML".into()),
        )
    })
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The text of the file `name` in `file`'s directory, when it is a readable UTF-8 file of
/// reasonable size and not `file` itself; stdin has nothing beside it.
fn beside(file: &str, name: &str) -> Option<String> {
    if file == "-" {
        return None;
    }
    let own = std::path::Path::new(file);
    let path = own.parent().unwrap_or(std::path::Path::new("")).join(name);
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > efactl_core::yaml::MAX_INPUT_BYTES as u64 {
        return None;
    }
    if let (Ok(a), Ok(b)) = (path.canonicalize(), own.canonicalize()) {
        if a == b {
            return None;
        }
    }
    String::from_utf8(std::fs::read(&path).ok()?).ok()
}

/// One file read and checked; a file that cannot be read is its finding.
fn check_one(file: &str, opts: &Options) -> CheckReport {
    let display_name = if file == "-" { "<stdin>" } else { file };
    match read_input(file) {
        // Every kind is read into the same model and checked by the same rules; a file may
        // be read with the ones beside it (HyperPod's config and provisioning parameters).
        Ok(text) => check_file_with(
            display_name,
            &text,
            crate::catalog::load(),
            opts,
            &|name: &str| beside(file, name),
        ),
        Err(f) => {
            let mut findings = vec![*f];
            sort_findings(&mut findings);
            CheckReport {
                source: SourceMap::new(display_name, "", None),
                cluster: None,
                findings,
            }
        }
    }
}

pub fn run(args: Args, color: ColorChoice) -> anyhow::Result<u8> {
    let mut opts = options(&args.rules.ignore, &args.rules.severity)?;
    for p in &args.parameters {
        let (k, v) = p
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| anyhow::anyhow!("--parameter takes KEY=VALUE, got `{p}`"))?;
        opts.parameters.insert(k.to_string(), v.to_string());
    }
    let reports: Vec<CheckReport> = args.files.iter().map(|f| check_one(f, &opts)).collect();
    let text = match args.format {
        FindingsFormat::Human => {
            let mut out = String::new();
            for report in &reports {
                if report.findings.is_empty() {
                    let n = rules::RULES.iter().filter(|r| r.check.is_some()).count();
                    out.push_str(&format!(
                        "{}: no findings ({n} rules checked)\n",
                        report.source.file
                    ));
                } else {
                    out.push_str(&human::render(
                        &report.findings,
                        Some((&report.source.file, &report.source.text)),
                        &human::HumanOptions {
                            color: color.enabled_for_stdout(),
                        },
                    ));
                }
            }
            out
        }
        FindingsFormat::Json | FindingsFormat::Sarif => {
            let all: Vec<Finding> = reports
                .iter()
                .flat_map(|r| r.findings.iter().cloned())
                .collect();
            let file = match reports.as_slice() {
                [one] => Some(one.source.file.as_str()),
                _ => None,
            };
            if args.format == FindingsFormat::Json {
                json::render(&all, file)
            } else {
                sarif::render(&all)
            }
        }
    };
    print(&text)?;
    Ok(reports
        .iter()
        .map(|r| r.exit_code(args.rules.fail_on) as u8)
        .max()
        .unwrap_or(0))
}
