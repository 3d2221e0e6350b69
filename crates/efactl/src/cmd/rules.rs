use crate::output::{print, Format};
use efactl_core::rules::RULES;
use std::fmt::Write;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let text = match args.format {
        Format::Human => {
            let w = RULES.iter().map(|r| r.name.len()).max().unwrap_or(0);
            let mut s = String::new();
            for r in RULES {
                writeln!(
                    s,
                    "{:<7}  {:<w$}  {:<7}  {}",
                    r.id,
                    r.name,
                    r.severity.as_str(),
                    r.title
                )?;
            }
            s
        }
        Format::Json => {
            let v: Vec<_> = RULES
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.id,
                        "name": r.name,
                        "severity": r.severity.as_str(),
                        "category": r.category.as_str(),
                        "title": r.title,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&serde_json::json!({
                "schema": "efactl.rules/v1",
                "rules": v,
            }))? + "\n"
        }
    };
    print(&text)?;
    Ok(0)
}
