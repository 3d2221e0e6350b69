//! Every NCCL rule's documented `## Example` (what `efactl explain` shows) raises that rule:
//! the documentation and the analyzer cannot drift apart.

use efactl_core::rules::RULES;
use efactl_doctor::logs::{analyze, Options};

fn example(doc: &str) -> Option<&str> {
    let after = doc.split("## Example").nth(1)?;
    let start = after.find("```text\n")? + "```text\n".len();
    let end = after[start..].find("```")?;
    Some(&after[start..start + end])
}

#[test]
fn each_documented_example_raises_its_rule() {
    let mut checked = 0;
    for rule in RULES.iter().filter(|r| r.id.starts_with("NCCL")) {
        if rule.id == "NCCL014" {
            // Its example is the command's output, not a log.
            continue;
        }
        let text = example(rule.doc).unwrap_or_else(|| panic!("{} has no text example", rule.id));
        let a = analyze(
            "example.log",
            text.as_bytes(),
            Options {
                instance_type: Some("p5.48xlarge".into()),
            },
        );
        assert!(
            a.findings.iter().any(|f| f.rule == rule.id),
            "{}'s example does not raise it: {:#?}",
            rule.id,
            a.findings
        );
        checked += 1;
    }
    assert_eq!(checked, 13);
}
