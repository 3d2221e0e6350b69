//! `efactl audit`: a live account read into the same model, checked by the same rules.

use super::aws::{self, AwsArgs};
use crate::output::{print, ColorChoice, FindingsFormat, Format};
use efactl_core::cloud::audit::{collect_with, to_cluster, AuditRequest};
use efactl_core::cloud::{CloudBackend, InstanceScope};
use efactl_core::finding::sort_findings;
use efactl_core::report::{human, json, sarif};
use efactl_core::rules;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("scope").required(true).multiple(false)))]
pub struct Args {
    /// The nodes of an efactl stack (tagged with its name), and the stack's MPI key secret.
    #[arg(long, group = "scope", value_name = "NAME")]
    pub stack: Option<String>,
    /// The instances with this tag.
    #[arg(long, group = "scope", value_name = "KEY=VALUE")]
    pub tag: Option<String>,
    /// These instances (comma-separated ids).
    #[arg(long, group = "scope", value_delimiter = ',', value_name = "ID,...")]
    pub instances: Option<Vec<String>>,
    /// The instances in this placement group.
    #[arg(long, group = "scope", value_name = "NAME")]
    pub placement_group: Option<String>,
    /// Every instance in this VPC.
    #[arg(long, group = "scope", value_name = "ID")]
    pub vpc: Option<String>,
    /// The Secrets Manager secret with the MPI SSH key the nodes read (name or ARN).
    #[arg(long, value_name = "NAME")]
    pub secret: Option<String>,
    #[arg(long, value_enum, default_value_t = FindingsFormat::Human)]
    pub format: FindingsFormat,
    #[command(flatten)]
    pub rules: super::check::RuleArgs,
    /// Describe calls in flight at once (1 issues them one after another).
    #[arg(long, default_value_t = efactl_aws::DEFAULT_CONCURRENCY, value_name = "N")]
    pub concurrency: usize,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn scope(args: &Args) -> anyhow::Result<InstanceScope> {
    Ok(if let Some(s) = &args.stack {
        InstanceScope::Stack(s.clone())
    } else if let Some(t) = &args.tag {
        let (key, value) = t
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--tag takes KEY=VALUE, got `{t}`"))?;
        InstanceScope::Tag {
            key: key.to_string(),
            value: value.to_string(),
        }
    } else if let Some(ids) = &args.instances {
        let ids: Vec<String> = ids.iter().filter(|i| !i.is_empty()).cloned().collect();
        if let Some(bad) = ids.iter().find(|i| !i.starts_with("i-")) {
            anyhow::bail!("--instances: `{bad}` is not an instance id (i-...)");
        }
        InstanceScope::Ids(ids)
    } else if let Some(p) = &args.placement_group {
        InstanceScope::PlacementGroup(p.clone())
    } else if let Some(v) = &args.vpc {
        InstanceScope::Vpc(v.clone())
    } else {
        anyhow::bail!("say what to audit: --stack, --tag, --instances, --placement-group or --vpc")
    })
}

pub fn run(args: Args, color: ColorChoice) -> anyhow::Result<u8> {
    let opts = super::check::options(&args.rules.ignore, &args.rules.severity)?;
    let scope = scope(&args)?;
    let fail = aws::Failure::new(
        match args.format {
            FindingsFormat::Json => Format::Json,
            FindingsFormat::Human | FindingsFormat::Sarif => Format::Human,
        },
        "audit",
    );
    let backend = match aws::connect(&args.aws, args.concurrency.max(1)) {
        Ok(b) => b,
        Err(e) => return Ok(fail.cloud("connecting to AWS", &e)),
    };
    let mut request = AuditRequest::new(scope.clone(), backend.region());
    request.mpi_secret = args.secret.clone();
    if let InstanceScope::Stack(name) = &scope {
        request.name = Some(name.clone());
        match backend.describe_stack(name) {
            Ok(Some(info)) => {
                if request.mpi_secret.is_none() {
                    request.mpi_secret = info
                        .outputs
                        .iter()
                        .find(|o| o.key == "MpiSshKeySecretArn")
                        .map(|o| o.value.clone());
                }
            }
            Ok(None) => eprintln!(
                "note: there is no stack `{name}`; auditing the instances tagged with its name"
            ),
            Err(e) => return Ok(fail.cloud("reading the stack", &e)),
        }
    }
    let state = match collect_with(&backend, &request, args.concurrency.max(1)) {
        Ok(s) => s,
        Err(e) => return Ok(fail.cloud(&format!("reading {}", scope.describe()), &e)),
    };
    if state.instances.is_empty() {
        eprintln!(
            "efactl: no running or stopped instances found for {} in {}",
            scope.describe(),
            backend.region()
        );
        return Ok(1);
    }
    let audit = to_cluster(&state, &request);
    let mut findings = rules::run(&audit.cluster, &audit.catalog, &opts);
    sort_findings(&mut findings);
    let label = format!("audit of {}", scope.describe());
    let text = match args.format {
        FindingsFormat::Human => {
            let mut s = format!(
                "{label}: {} instance(s), {} security group(s), {} subnet(s) in {}\n",
                state.instances.len(),
                state.security_groups.len(),
                state.subnets.len(),
                backend.region()
            );
            if findings.is_empty() {
                s.push_str("no findings\n");
            } else {
                s.push_str(&human::render(
                    &findings,
                    None,
                    &human::HumanOptions {
                        color: color.enabled_for_stdout(),
                    },
                ));
            }
            for n in &audit.notes {
                s.push_str(&format!("note: {n}\n"));
            }
            s
        }
        FindingsFormat::Json => json::render(&findings, Some(&label)),
        FindingsFormat::Sarif => sarif::render(&findings),
    };
    if args.format != FindingsFormat::Human {
        for n in &audit.notes {
            eprintln!("note: {n}");
        }
    }
    print(&text)?;
    let fail = findings.iter().any(|f| f.severity >= args.rules.fail_on);
    Ok(u8::from(fail))
}
