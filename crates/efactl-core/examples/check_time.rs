//! How long `check` takes on every file of the real corpora, per kind, in-process (no process
//! start, catalog already parsed): `cargo run --release -p efactl-core --example check_time`.
//! Each file is checked `RUNS` times after one warm-up; the mean per file and the slowest
//! file's mean are printed. The numbers go to BENCHMARKS.md.

use efactl_core::check::check_file;
use efactl_core::rules::Options;
use efactl_core::Catalog;
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: u32 = 50;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let catalog = Catalog::bundled();
    let options = Options::default();
    println!("| corpus | files | mean per file | slowest file (mean) | largest file |");
    println!("|---|---|---|---|---|");
    for kind in ["cfn", "pcluster", "hyperpod", "eksctl"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(kind))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.to_string_lossy();
                !n.ends_with(".source.yaml") && !n.ends_with(".md")
            })
            .collect();
        files.sort();
        let (mut total, mut slowest, mut largest) = (
            Duration::ZERO,
            (Duration::ZERO, String::new()),
            (0, String::new()),
        );
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let _ = check_file(&name, &text, catalog, &options);
            let start = Instant::now();
            for _ in 0..RUNS {
                std::hint::black_box(check_file(&name, &text, catalog, &options));
            }
            let mean = start.elapsed() / RUNS;
            total += mean;
            if mean > slowest.0 {
                slowest = (mean, name.clone());
            }
            if text.len() > largest.0 {
                largest = (
                    text.len(),
                    format!(
                        "{name} ({} KiB, {:.2} ms)",
                        text.len() / 1024,
                        mean.as_secs_f64() * 1e3
                    ),
                );
            }
        }
        println!(
            "| {kind} | {} | {:.3} ms | {:.3} ms ({}) | {} |",
            files.len(),
            total.as_secs_f64() * 1e3 / files.len() as f64,
            slowest.0.as_secs_f64() * 1e3,
            slowest.1,
            largest.1
        );
    }
}
