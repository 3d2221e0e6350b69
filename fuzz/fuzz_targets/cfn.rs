#![no_main]
//! The CloudFormation reader and the rules on arbitrary bytes (templates are user input too):
//! YAML with the short-form intrinsics, JSON, anything. No input may panic, hang or exhaust
//! memory, and every finding renders in every format.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let catalog = efactl_core::Catalog::bundled();
    let report = efactl_core::check::check_template(
        "fuzz.template.yaml",
        &text,
        catalog,
        &efactl_core::rules::Options::default(),
    );
    let _ = efactl_core::report::json::render(&report.findings, Some("fuzz.template.yaml"));
    let _ = efactl_core::report::sarif::render(&report.findings);
    let _ = efactl_core::report::human::render(
        &report.findings,
        Some(("fuzz.template.yaml", &text)),
        &efactl_core::report::human::HumanOptions { color: false },
    );
});
