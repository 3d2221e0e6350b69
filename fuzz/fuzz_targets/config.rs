#![no_main]
//! Every reader behind `efactl check FILE`, chosen by the file itself (kind detection, the
//! ParallelCluster, HyperPod and eksctl readers, the spec and template readers), on arbitrary bytes: no
//! input may panic, hang or exhaust memory. Seeded with the real ParallelCluster, HyperPod and
//! eksctl files.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let catalog = efactl_core::Catalog::bundled();
    let options = efactl_core::rules::Options::default();
    let report = efactl_core::check::check_file("fuzz.yaml", &text, catalog, &options);
    let _ = efactl_core::report::json::render(&report.findings, Some("fuzz.yaml"));
    // The same bytes read as every kind, whatever they look like.
    for format in efactl_core::read::FORMATS {
        let _ = efactl_core::check::check_as(*format, "fuzz.yaml", &text, catalog, &options);
    }
    // As JSON, with the same bytes beside it as the file's HyperPod partner.
    let same = |_: &str| Some(text.to_string());
    for name in ["cluster-config.json", "provisioning_parameters.json"] {
        let _ = efactl_core::check::check_file_with(name, &text, catalog, &options, &same);
    }
});
