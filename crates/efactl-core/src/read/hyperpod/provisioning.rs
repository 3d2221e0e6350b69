//! The HyperPod lifecycle scripts' `provisioning_parameters.json`: which instance group is the
//! Slurm controller (`controller_group`), which the login nodes (`login_group`), which groups
//! make which partition (`worker_groups`), and the FSx for Lustre file system the nodes mount
//! (`fsx_dns_name`, `fsx_mountname`).
//!
//! The scripts pick a node's role by its instance group's name, so every name must be a group
//! of the cluster config. With `cluster-config.json` beside the file, efactl checks each name
//! against the config's `InstanceGroups`: a controller or worker group the config does not
//! have is an error (HyperPod's own validation refuses the pair, and Slurm would have no
//! controller or an empty partition); a login group it does not have is a note, since no
//! node then becomes a login node and nothing else fails. The AWS samples ship
//! `login_group: my-login-group` with a config that has no such group, as a default to fill in.

use super::super::note;
use super::super::value::{at, is_placeholder, text, Val};
use super::super::{Format, Input, Probe, Read};
use crate::finding::{Category, Finding, Severity, Subject};
use crate::spec::{diag, SourceMap};
use serde_json::Value;

/// The name the lifecycle scripts read the file by.
pub const FILE_NAME: &str = "provisioning_parameters.json";
/// The name the HyperPod samples give the cluster config, beside which the file is checked.
pub const CONFIG_NAME: &str = "cluster-config.json";

pub struct Provisioning;

impl Format for Provisioning {
    fn name(&self) -> &'static str {
        "HyperPod provisioning parameters"
    }

    fn shape(&self) -> &'static str {
        "`controller_group` or `worker_groups` at the top (the lifecycle scripts' provisioning_parameters.json)"
    }

    fn detect(&self, probe: &Probe<'_>) -> bool {
        (probe.has("controller_group") || probe.has("worker_groups"))
            && !probe.has("apiVersion")
            && !probe.has("InstanceGroups")
    }

    fn read(&self, input: &Input<'_>) -> Read {
        let source = SourceMap::new(input.file, input.text, input.root);
        let Some(root) = input.root else {
            return Read::failed(source, Vec::new());
        };
        let json = crate::cfn_read::to_json(root);
        let mut findings = Vec::new();
        let roles = roles_of(&json, &mut findings);
        match (input.beside)(CONFIG_NAME).and_then(|t| group_names(&t)) {
            Some(groups) => cross_check(&roles, &groups, &mut findings),
            None => findings.push(note(
                "",
                format!("the instance groups named here not checked: no `{CONFIG_NAME}` beside the file"),
                format!("keep the cluster config beside it as `{CONFIG_NAME}`, or check the two together in one directory"),
            )),
        }
        if let Val::Known(dns) = text(json.get("fsx_dns_name")) {
            if let Some(id) = dns.split('.').next().filter(|id| id.starts_with("fs-")) {
                findings.push(note(
                    "fsx_dns_name",
                    format!("existing file system `{id}` not judged: the file names it but does not describe its subnet and security groups"),
                    "`efactl audit` judges it in the account once the cluster runs".into(),
                ));
            }
        }
        // No model: the file only names groups of the config beside it.
        Read::failed(source, findings)
    }
}

/// The roles the file gives, by instance group name, with where each is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roles {
    pub controller: Option<String>,
    pub login: Option<String>,
    /// (path, group name)
    pub workers: Vec<(String, String)>,
}

/// The roles in a provisioning_parameters.json text; `None` when it is not one.
pub fn roles(text: &str) -> Option<Roles> {
    let root = crate::yaml::parse(text).ok().flatten()?;
    let json = crate::cfn_read::to_json(&root);
    json.get("controller_group")
        .or(json.get("worker_groups"))
        .map(|_| roles_of(&json, &mut Vec::new()))
}

fn roles_of(json: &Value, findings: &mut Vec<Finding>) -> Roles {
    let known = |v: Option<&Value>| match text(v) {
        Val::Known(s) | Val::Unknown(s) => Some(s),
        Val::Absent => None,
    };
    let mut r = Roles {
        controller: known(json.get("controller_group")),
        login: known(json.get("login_group")).filter(|s| !s.is_empty()),
        workers: Vec::new(),
    };
    match json.get("worker_groups") {
        Some(Value::Array(ws)) => {
            for (i, w) in ws.iter().enumerate() {
                let path = format!("worker_groups[{i}].instance_group_name");
                match known(at(w, &["instance_group_name"])) {
                    Some(n) => r.workers.push((path, n)),
                    None => findings.push(Finding {
                        rule: diag::MISSING_FIELD.id.into(),
                        name: diag::MISSING_FIELD.name.into(),
                        severity: Severity::Error,
                        category: Category::Input,
                        subject: Subject::path(format!("worker_groups[{i}]")),
                        message: "this worker group has no `instance_group_name`, which the lifecycle scripts read".into(),
                        help: None,
                    }),
                }
            }
        }
        Some(_) => findings.push(Finding {
            rule: diag::WRONG_TYPE.id.into(),
            name: diag::WRONG_TYPE.name.into(),
            severity: Severity::Error,
            category: Category::Input,
            subject: Subject::path("worker_groups".to_string()),
            message: "`worker_groups` must be a list of `{instance_group_name, partition_name}`"
                .into(),
            help: None,
        }),
        None => {}
    }
    r
}

/// The instance group names of a cluster config text; `None` when it is not one.
fn group_names(text: &str) -> Option<Vec<String>> {
    let root = crate::yaml::parse(text).ok().flatten()?;
    let json = crate::cfn_read::to_json(&root);
    // The request, or the `--instance-groups` list on its own.
    let groups = match &json {
        Value::Array(a) => a,
        _ => json.get("InstanceGroups")?.as_array()?,
    };
    Some(
        groups
            .iter()
            .filter_map(|g| g.get("InstanceGroupName")?.as_str().map(str::to_string))
            .collect(),
    )
}

fn cross_check(roles: &Roles, groups: &[String], findings: &mut Vec<Finding>) {
    let missing = |n: &str| !groups.iter().any(|g| g == n) && !is_placeholder(n);
    let have = if groups.is_empty() {
        "none".to_string()
    } else {
        groups
            .iter()
            .map(|g| format!("`{g}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let undefined = |path: &str, severity: Severity, message: String, help: String| Finding {
        rule: diag::UNDEFINED_REFERENCE.id.into(),
        name: diag::UNDEFINED_REFERENCE.name.into(),
        severity,
        category: Category::Input,
        subject: Subject::path(path.to_string()),
        message,
        help: Some(help),
    };
    if let Some(c) = roles.controller.as_deref().filter(|c| missing(c)) {
        findings.push(undefined(
            "controller_group",
            Severity::Error,
            format!("controller group `{c}` is no instance group of `{CONFIG_NAME}`, so no node becomes the Slurm controller"),
            format!("name one of the config's instance groups ({have}) in `controller_group`, or add an instance group `{c}` to `{CONFIG_NAME}`"),
        ));
    }
    for (path, w) in &roles.workers {
        if missing(w) {
            findings.push(undefined(
                path,
                Severity::Error,
                format!("worker group `{w}` is no instance group of `{CONFIG_NAME}`, so its partition gets no nodes"),
                format!("name one of the config's instance groups ({have}), or add an instance group `{w}` to `{CONFIG_NAME}`"),
            ));
        }
    }
    if let Some(l) = roles.login.as_deref().filter(|l| missing(l)) {
        findings.push(undefined(
            "login_group",
            Severity::Info,
            format!("login group `{l}` is no instance group of `{CONFIG_NAME}`, so no node becomes a login node"),
            format!("remove `login_group`, or add an instance group `{l}` to `{CONFIG_NAME}`"),
        ));
    }
}
