#![no_main]
//! The NCCL log analyzer on arbitrary bytes (plain, or gzip when the input starts with its
//! magic): no input may panic, hang or exhaust memory, and every finding renders.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = efactl_doctor::logs::Options {
        instance_type: Some("p4d.24xlarge".into()),
    };
    let a = efactl_doctor::logs::analyze("fuzz.log", data, opts);
    let _ = a.exit_code();
    let _ = efactl_core::report::json::findings_value(&a.findings);
    let _ = efactl_core::report::human::render(
        &a.findings,
        None,
        &efactl_core::report::human::HumanOptions { color: false },
    );
    // Each line on its own through the prefix parser and the classifier.
    for line in String::from_utf8_lossy(data).lines() {
        let p = efactl_doctor::logs::line::parse(line);
        let _ = efactl_doctor::logs::detect::classify(&p);
    }
});
