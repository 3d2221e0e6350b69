#![no_main]
//! The spec parser and the whole check pipeline on arbitrary bytes: no input may panic, hang
//! or exhaust memory.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let catalog = efactl_core::Catalog::bundled();
    let report = efactl_core::check::check_spec(
        "fuzz.yaml",
        &text,
        catalog,
        &efactl_core::rules::Options::default(),
    );
    // Every finding renders in every format.
    let _ = efactl_core::report::json::render(&report.findings, Some("fuzz.yaml"));
    let _ = efactl_core::report::sarif::render(&report.findings);
    let _ = efactl_core::report::human::render(
        &report.findings,
        Some(("fuzz.yaml", &text)),
        &efactl_core::report::human::HumanOptions { color: false },
    );
});
