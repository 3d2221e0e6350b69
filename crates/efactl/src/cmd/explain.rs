use crate::output::{print, ColorChoice, Format};
use efactl_core::rules;

#[derive(clap::Args)]
pub struct Args {
    /// Rule id (EFA002) or name (efa-sg-missing-self-egress).
    pub rule: String,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: Args, _color: ColorChoice) -> anyhow::Result<u8> {
    let Some(rule) = rules::find(&args.rule) else {
        let names: Vec<&str> = rules::RULES.iter().flat_map(|r| [r.id, r.name]).collect();
        let hint = efactl_core::spec::decode::suggest(&args.rule, &names)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        anyhow::bail!(
            "unknown rule `{}`{hint}; `efactl rules` lists them",
            args.rule
        );
    };
    let text = match args.format {
        Format::Human => {
            format!(
                "{} {} ({} by default)\n{}\n\n{}",
                rule.id,
                rule.name,
                rule.severity,
                rule.title,
                rule.doc.trim_end()
            ) + "\n"
        }
        Format::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "schema": "efactl.rule/v1",
                "id": rule.id,
                "name": rule.name,
                "severity": rule.severity.as_str(),
                "title": rule.title,
                "doc": rule.doc,
            }))? + "\n"
        }
    };
    print(&text)?;
    Ok(0)
}
