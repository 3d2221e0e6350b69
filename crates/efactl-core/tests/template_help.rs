//! A finding on a CloudFormation template says what to change in the template (the resource
//! and property), never how to write a spec. Every rule fixture (tests/fixtures/rules/*/bad*)
//! is rendered to a template and the template checked: the rule must fire on it again, and its
//! help must name template properties and no spec syntax. The real templates of the corpus are
//! held to the same words.

use efactl_core::check::{check_file, check_spec, check_template};
use efactl_core::rules::Options;
use efactl_core::{Catalog, Finding};
use std::collections::BTreeSet;
use std::path::Path;

/// Spec syntax that means nothing in a template.
const SPEC_WORDS: &[&str] = &[
    "selfReferencing",
    "`efa:",
    "efa: off",
    "efa: auto",
    "`type: ",
    "networkInterfaces",
    "placementGroup:",
    "`placementGroup`",
    "reservationPlacementGroup",
    "network.endpoints",
    "`subnet:",
    "`subnets`",
    "`cidr`",
    "{ protocol",
    "publicIp",
    "mapPublicIpOnLaunch",
    "maxCount",
    "secondaryInterfaceType",
    "`resources`",
    "privateDns:",
    "`privateDns",
    "dnsSupport",
    "dnsHostnames",
    "`securityGroups`",
    "`egress`",
    "`ingress`",
    "{ actions",
];

/// Template words a fix names: a resource type, a property, or a `!Ref`.
const TEMPLATE_WORDS: &[&str] = &[
    "AWS::",
    "InterfaceType",
    "NetworkInterfaces",
    "Placement",
    "CidrIp",
    "CidrBlock",
    "MapPublicIpOnLaunch",
    "AssociatePublicIpAddress",
    "RouteTableIds",
    "PrivateDnsEnabled",
    "SecurityGroupIds",
    "SubnetIds",
    "VPCZoneIdentifier",
    "Resource",
    "EnableDns",
    "SecurityGroupEgress",
    "launch template",
    "Session Manager",
];

#[track_caller]
fn in_template_terms(where_: &str, f: &Finding) {
    let help = f
        .help
        .as_deref()
        .unwrap_or_else(|| panic!("{where_}: {} has no help", f.rule));
    for w in SPEC_WORDS {
        assert!(
            !help.contains(w),
            "{where_}: {} help speaks spec (`{w}`): {help}",
            f.rule
        );
    }
    assert!(
        TEMPLATE_WORDS.iter().any(|w| help.contains(w)),
        "{where_}: {} help names no template property: {help}",
        f.rule
    );
}

#[test]
fn findings_on_rendered_templates_say_what_to_change_in_the_template() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    let mut fired = BTreeSet::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for d in dirs {
        let rule = d.file_name().unwrap().to_string_lossy().to_string();
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("bad"))
            .collect();
        files.sort();
        for f in files {
            let name = format!("{rule}/{}", f.file_name().unwrap().to_string_lossy());
            let text = std::fs::read_to_string(&f).unwrap();
            let spec = check_spec(&name, &text, Catalog::bundled(), &Options::default());
            let Some(cluster) = spec.cluster else {
                continue;
            };
            // A spec efactl refuses to render (ingress from the internet) has no template.
            let Ok(t) = efactl_core::render::cfn::template(&cluster, Catalog::bundled()) else {
                continue;
            };
            let t = serde_json::to_string_pretty(&t).unwrap();
            let r = check_template(&name, &t, Catalog::bundled(), &Options::default());
            for f in r.findings.iter().filter(|f| f.rule == rule) {
                in_template_terms(&name, f);
                fired.insert(rule.clone());
            }
        }
    }
    // The rules a template can break (its own resources say what they decide).
    for rule in [
        "EFA001", "EFA002", "EFA003", "EFA006", "EFA007", "EFA008", "EFA009", "EFA010", "EFA011",
        "EFA013", "EFA014", "EFA015", "EFA016", "EFA017", "EFA018", "EFA019", "EFA020", "EFA023",
        "EFA026", "EFA027", "EFA028", "EFA031", "EFA032", "EFA033", "EFA034",
    ] {
        assert!(
            fired.contains(rule),
            "{rule} no longer fires on the template rendered from its own bad fixture"
        );
    }
}

#[test]
fn findings_on_real_templates_say_what_to_change_in_the_template() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/cfn");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".source.yaml") || !(name.ends_with(".yaml") || name.ends_with(".json")) {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let r = check_file(&name, &text, Catalog::bundled(), &Options::default());
        for f in r.findings.iter().filter(|f| f.rule.starts_with("EFA")) {
            in_template_terms(&name, f);
            n += 1;
        }
    }
    assert!(n >= 8, "the corpus's findings: {n}");
}
