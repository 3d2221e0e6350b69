use crate::output::print;

/// The bundled examples, embedded so `init` works anywhere.
pub const EXAMPLES: &[(&str, &str)] = &[(
    "p5-slurm-private",
    include_str!("../../../../examples/p5-slurm-private.yaml"),
)];

#[derive(clap::Args)]
pub struct Args {
    /// Which starter spec to print.
    #[arg(long, default_value = "p5-slurm-private")]
    pub example: String,
    /// List the examples instead.
    #[arg(long)]
    pub list: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if args.list {
        let mut s = String::new();
        for (name, text) in EXAMPLES {
            let about = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# "))
                .and_then(|l| l.split_once(": "))
                .map(|(_, a)| a)
                .unwrap_or("");
            s.push_str(&format!("{name:<20} {about}\n"));
        }
        print(&s)?;
        return Ok(0);
    }
    match EXAMPLES.iter().find(|(n, _)| *n == args.example) {
        Some((_, text)) => {
            print(text)?;
            Ok(0)
        }
        None => {
            let names: Vec<&str> = EXAMPLES.iter().map(|(n, _)| *n).collect();
            anyhow::bail!(
                "no example `{}`; choose one of: {}",
                args.example,
                names.join(", ")
            )
        }
    }
}
