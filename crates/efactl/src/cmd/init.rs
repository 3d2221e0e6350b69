use crate::output::{self, exit, print, Format};
use std::path::{Path, PathBuf};

/// The bundled examples (every spec of examples/), embedded so `init` works anywhere; a test
/// checks that the list and the folder agree.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("c5n-mpi", include_str!("../../../../examples/c5n-mpi.yaml")),
    (
        "g5-batch-mpi",
        include_str!("../../../../examples/g5-batch-mpi.yaml"),
    ),
    (
        "hyperpod-slurm",
        include_str!("../../../../examples/hyperpod-slurm.yaml"),
    ),
    (
        "p5-slurm-private",
        include_str!("../../../../examples/p5-slurm-private.yaml"),
    ),
    (
        "trn2-eks",
        include_str!("../../../../examples/trn2-eks.yaml"),
    ),
];

#[derive(clap::Args)]
pub struct Args {
    /// Which starter spec (`efactl init --list` names them all).
    #[arg(long, default_value = "p5-slurm-private")]
    pub example: String,
    /// List the examples instead.
    #[arg(long)]
    pub list: bool,
    /// Write the spec to this file instead of stdout; refused when it exists, unless --force.
    pub file: Option<PathBuf>,
    /// Replace FILE when it exists.
    #[arg(long, requires = "file")]
    pub force: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// What an example is for: its leading comment, without the `name:` prefix, as one line.
pub fn description(text: &str) -> String {
    let mut words = Vec::new();
    for line in text.lines() {
        let Some(c) = line.strip_prefix('#') else {
            break;
        };
        words.push(c.trim().to_string());
    }
    let joined = words.join(" ");
    match joined.split_once(": ") {
        Some((_, about)) => about.to_string(),
        None => joined,
    }
}

fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    for w in text.split_whitespace() {
        if col > indent && col + 1 + w.len() > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if col > indent {
            out.push(' ');
            col += 1;
        }
        out.push_str(w);
        col += w.len();
    }
    out
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if args.list {
        let text = match args.format {
            Format::Human => {
                let mut s = String::new();
                for (name, text) in EXAMPLES {
                    s.push_str(&format!(
                        "{name:<18} {}\n",
                        wrap(&description(text), 19, 96)
                    ));
                }
                s
            }
            Format::Json => {
                let list: Vec<_> = EXAMPLES
                    .iter()
                    .map(|(n, t)| serde_json::json!({"name": n, "description": description(t)}))
                    .collect();
                serde_json::to_string_pretty(
                    &serde_json::json!({"schema": "efactl.examples/v1", "examples": list}),
                )? + "\n"
            }
        };
        print(&text)?;
        return Ok(exit::OK);
    }
    let Some((_, text)) = EXAMPLES.iter().find(|(n, _)| *n == args.example) else {
        let names: Vec<&str> = EXAMPLES.iter().map(|(n, _)| *n).collect();
        return output::fail(
            args.format,
            "init",
            exit::USAGE,
            &format!(
                "no example `{}`; choose one of: {}",
                efactl_core::finding::clip_quoted(&args.example),
                names.join(", ")
            ),
        );
    };
    let Some(file) = &args.file else {
        print(text)?;
        return Ok(exit::OK);
    };
    match write_new(file, text.as_bytes(), args.force) {
        Ok(()) => {
            if args.format == Format::Json {
                print(
                    &(serde_json::to_string_pretty(&serde_json::json!({
                        "schema": "efactl.init/v1", "example": args.example, "file": file,
                    }))? + "\n"),
                )?;
            } else {
                eprintln!("wrote {} (example `{}`)", file.display(), args.example);
            }
            Ok(exit::OK)
        }
        Err(e) => output::fail(args.format, "init", exit::USAGE, &e),
    }
}

/// Writes `file` whole or not at all: a temporary file beside it, then one rename. An existing
/// file is replaced only with `force`; a directory or a symlink never is.
pub fn write_new(file: &Path, contents: &[u8], force: bool) -> Result<(), String> {
    use std::io::Write;
    match std::fs::symlink_metadata(file) {
        Ok(m) if m.is_dir() => return Err(format!("{} is a directory", file.display())),
        Ok(m) if m.file_type().is_symlink() => {
            return Err(format!(
                "{} is a symlink; efactl does not write through it",
                file.display()
            ))
        }
        Ok(_) if !force => {
            return Err(format!(
                "{} exists; pass --force to replace it, or name another file",
                file.display()
            ))
        }
        _ => {}
    }
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.efactl-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot write {}: {e}", file.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_of_the_folder_is_bundled() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                n.strip_suffix(".yaml").map(str::to_string)
            })
            .collect();
        on_disk.sort();
        let bundled: Vec<String> = EXAMPLES.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(bundled, on_disk);
    }

    #[test]
    fn descriptions_are_whole() {
        let (_, text) = EXAMPLES
            .iter()
            .find(|(n, _)| *n == "p5-slurm-private")
            .unwrap();
        let d = description(text);
        assert!(d.starts_with("an AWS ParallelCluster Slurm cluster"), "{d}");
        assert!(d.ends_with("replaced by EC2 hostnames."), "{d}");
    }

    #[test]
    fn write_new_refuses_what_exists() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("cluster.yaml");
        std::fs::write(&f, "mine").unwrap();
        assert!(write_new(&f, b"new", false).unwrap_err().contains("exists"));
        assert_eq!(std::fs::read(&f).unwrap(), b"mine");
        write_new(&f, b"new", true).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        let l = t.path().join("link.yaml");
        std::fs::write(t.path().join("target"), "target").unwrap();
        std::os::unix::fs::symlink(t.path().join("target"), &l).unwrap();
        assert!(write_new(&l, b"new", true).unwrap_err().contains("symlink"));
        assert_eq!(std::fs::read(t.path().join("target")).unwrap(), b"target");
        assert!(write_new(t.path(), b"x", true)
            .unwrap_err()
            .contains("directory"));
        // Nothing temporary is left behind.
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 3);
    }
}
