#![no_main]
//! Every reader behind `efactl check FILE`, chosen by the file itself (kind detection, the
//! ParallelCluster reader, the spec and template readers), on arbitrary bytes: no input may
//! panic, hang or exhaust memory. Seeded with the real ParallelCluster configs.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let catalog = efactl_core::Catalog::bundled();
    let options = efactl_core::rules::Options::default();
    let report = efactl_core::check::check_file("fuzz.yaml", &text, catalog, &options);
    let _ = efactl_core::report::json::render(&report.findings, Some("fuzz.yaml"));
    // The same bytes as a ParallelCluster config, whatever they look like.
    let _ = efactl_core::check::check_as(
        &efactl_core::read::pcluster::ParallelCluster,
        "fuzz.yaml",
        &text,
        catalog,
        &options,
    );
});
