//! `efactl status NAME`: the stack, its resources and its nodes, read through the backend.
//!
//! Nodes are the instances tagged with the stack's name (CloudFormation's own tag, or
//! `efactl:cluster`, which the launch templates efactl renders put on every node). Each is
//! shown with its zone by name and by zone id (the names differ between accounts, the ids do
//! not: two accounts comparing notes need the ids), its placement group, its EFA interfaces,
//! and the result of the node bootstrap, which the script prints to the serial console
//! (`efactl-bootstrap: done: ...` / `efactl-bootstrap: FAILED in step ...`), where
//! `GetConsoleOutput` reads it without any permission on the node.

use super::records::*;
use super::stack::{StackInfo, StackResource};
use super::{CloudBackend, CloudError};
use crate::model::InterfaceType;
use std::collections::BTreeMap;

/// What a node's console says of the bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// `done: every step ok`.
    Ok { at: Option<String> },
    /// `FAILED in step STEP`.
    Failed { step: String, at: Option<String> },
    /// The script has logged, but not finished (or its last lines are not in the console
    /// output yet: EC2 keeps the latest 64 KB and updates it every few minutes).
    Running { last: String },
    /// Nothing from the bootstrap on the console.
    NotReported,
}

impl Bootstrap {
    pub fn label(&self) -> String {
        match self {
            Bootstrap::Ok { .. } => "ok".into(),
            Bootstrap::Failed { step, .. } => format!("failed ({step})"),
            Bootstrap::Running { .. } => "running".into(),
            Bootstrap::NotReported => "not reported".into(),
        }
    }
}

const MARK: &str = "efactl-bootstrap: ";

/// Reads the bootstrap's last word from a console log.
pub fn bootstrap_from_console(text: &str) -> Bootstrap {
    let mut last: Option<(&str, &str)> = None;
    for line in text.lines() {
        if let Some(pos) = line.find(MARK) {
            let at = line[..pos].trim();
            last = Some((at, line[pos + MARK.len()..].trim_end()));
            let msg = last.map(|l| l.1).unwrap_or_default();
            if msg.starts_with("done: ") || msg.starts_with("FAILED in step ") {
                // Keep reading: a later run (a reboot) may follow.
                continue;
            }
        }
    }
    let Some((at, msg)) = last else {
        return Bootstrap::NotReported;
    };
    let at = (!at.is_empty()).then(|| at.rsplit(' ').next().unwrap_or(at).to_string());
    if msg.starts_with("done: ") {
        Bootstrap::Ok { at }
    } else if let Some(rest) = msg.strip_prefix("FAILED in step ") {
        Bootstrap::Failed {
            step: rest.split_whitespace().next().unwrap_or("").to_string(),
            at,
        }
    } else {
        Bootstrap::Running {
            last: msg.to_string(),
        }
    }
}

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub id: String,
    pub instance_type: String,
    pub state: InstanceState,
    pub availability_zone: Option<String>,
    pub zone_id: Option<String>,
    pub placement_group: Option<String>,
    pub private_ip: Option<String>,
    /// `efa` and `efa-only` interfaces.
    pub efa_interfaces: usize,
    pub interfaces: usize,
    /// The node group (efactl's `efactl:node-group` tag or the Name tag).
    pub group: Option<String>,
    pub bootstrap: Bootstrap,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub stack: StackInfo,
    pub resources: Vec<StackResource>,
    pub nodes: Vec<NodeStatus>,
}

/// Reads the stack, its resources, its nodes, their subnets' zone ids and their consoles.
/// `None` when the stack does not exist.
pub fn read(
    backend: &(dyn CloudBackend + Sync),
    stack: &str,
) -> Result<Option<StatusReport>, CloudError> {
    let Some(info) = backend.describe_stack(stack)? else {
        return Ok(None);
    };
    if info.status == super::StackStatus::DeleteComplete {
        return Ok(None);
    }
    let (resources, instances) = std::thread::scope(|s| {
        let r = s.spawn(|| backend.stack_resources(&info.id));
        let i = backend.instances(&InstanceScope::Stack(info.name.clone()));
        (
            r.join().unwrap_or_else(|_| {
                Err(CloudError::Other {
                    action: "status".into(),
                    message: "a read panicked".into(),
                })
            }),
            i,
        )
    });
    let resources = resources?;
    let mut instances: Vec<InstanceRecord> = instances?
        .into_iter()
        .filter(|i| i.state != InstanceState::Terminated)
        .collect();
    instances.sort_by(|a, b| a.id.cmp(&b.id));

    let mut zone_ids: BTreeMap<String, String> = BTreeMap::new();
    let vpcs: std::collections::BTreeSet<&String> =
        instances.iter().filter_map(|i| i.vpc_id.as_ref()).collect();
    for vpc in vpcs {
        for s in backend.subnets(vpc)? {
            if let (Some(az), Some(id)) = (s.availability_zone, s.availability_zone_id) {
                zone_ids.insert(az, id);
            }
        }
    }
    let running: Vec<String> = instances
        .iter()
        .filter(|i| i.state == InstanceState::Running)
        .map(|i| i.id.clone())
        .collect();
    let consoles: BTreeMap<String, Option<String>> = if running.is_empty() {
        BTreeMap::new()
    } else {
        backend.console_outputs(&running)?.into_iter().collect()
    };
    let nodes = instances
        .into_iter()
        .map(|i| {
            let efa = i
                .network_interfaces
                .iter()
                .filter(|n| n.interface_type != InterfaceType::Interface)
                .count();
            let bootstrap = consoles
                .get(&i.id)
                .and_then(|c| c.as_deref())
                .map(bootstrap_from_console)
                .unwrap_or(Bootstrap::NotReported);
            NodeStatus {
                zone_id: i
                    .availability_zone
                    .as_ref()
                    .and_then(|z| zone_ids.get(z).cloned()),
                private_ip: i
                    .network_interfaces
                    .iter()
                    .find(|n| n.network_card == 0 && n.device_index == 0)
                    .and_then(|n| n.private_ip.clone()),
                efa_interfaces: efa,
                interfaces: i.network_interfaces.len(),
                group: i
                    .tags
                    .get("efactl:node-group")
                    .or_else(|| i.tags.get("Name"))
                    .cloned(),
                id: i.id,
                instance_type: i.instance_type,
                state: i.state,
                availability_zone: i.availability_zone,
                placement_group: i.placement_group,
                bootstrap,
            }
        })
        .collect();
    Ok(Some(StatusReport {
        stack: info,
        resources,
        nodes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::fake::FakeBackend;
    use crate::cloud::stack::{StackStatus, StackTemplate};

    fn node(id: &str, az: &str, efa: usize, tags: &[(&str, &str)]) -> InstanceRecord {
        InstanceRecord {
            id: id.into(),
            instance_type: "p5.48xlarge".into(),
            availability_zone: Some(az.into()),
            placement_group: Some("train-pg".into()),
            vpc_id: Some("vpc-1".into()),
            subnet_id: Some("subnet-1".into()),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            network_interfaces: (0..efa.max(1))
                .map(|c| NetworkInterfaceRecord {
                    id: format!("eni-{id}-{c}"),
                    interface_type: if efa == 0 {
                        InterfaceType::Interface
                    } else if c == 0 {
                        InterfaceType::Efa
                    } else {
                        InterfaceType::EfaOnly
                    },
                    network_card: c as u32,
                    device_index: u32::from(c > 0),
                    private_ip: (c == 0).then(|| format!("10.0.0.{}", id.len())),
                    ..NetworkInterfaceRecord::default()
                })
                .collect(),
            ..InstanceRecord::default()
        }
    }

    #[test]
    fn status_reads_resources_nodes_zone_ids_and_the_bootstrap() {
        let template = serde_json::json!({"Resources": {
            "Sg": {"Type": "AWS::EC2::SecurityGroup"},
            "Lt": {"Type": "AWS::EC2::LaunchTemplate"}
        }});
        let live = crate::cloud::audit::LiveState {
            instances: vec![
                node("i-2", "us-east-1a", 32, &[("efactl:cluster", "train")]),
                node(
                    "i-1",
                    "us-east-1a",
                    32,
                    &[("aws:cloudformation:stack-name", "train")],
                ),
                node("i-3", "us-east-1b", 0, &[("efactl:cluster", "train")]),
                node("i-9", "us-east-1a", 32, &[("efactl:cluster", "other")]),
            ],
            subnets: vec![SubnetRecord {
                id: "subnet-1".into(),
                vpc_id: "vpc-1".into(),
                availability_zone: Some("us-east-1a".into()),
                availability_zone_id: Some("use1-az6".into()),
                ..SubnetRecord::default()
            }],
            ..Default::default()
        };
        let fake = FakeBackend::with_live(live);
        assert_eq!(read(&fake, "train").unwrap(), None, "no stack yet");
        fake.put_stack(
            &StackTemplate::new("train", &template),
            StackStatus::CreateComplete,
        );
        fake.set_console(
            "i-1",
            "2026-11-22T01:04:49Z efactl-bootstrap: done: every step ok (/var/lib/efactl/bootstrap-status.json)\n",
        );
        fake.set_console(
            "i-3",
            "2026-11-22T01:04:49Z efactl-bootstrap: FAILED in step efa-devices (/var/lib/efactl/bootstrap-status.json)\n",
        );
        let r = read(&fake, "train").unwrap().unwrap();
        assert_eq!(r.stack.status, StackStatus::CreateComplete);
        let mut res: Vec<&str> = r.resources.iter().map(|x| x.logical_id.as_str()).collect();
        res.sort();
        assert_eq!(res, vec!["Lt", "Sg"]);
        let ids: Vec<&str> = r.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, vec!["i-1", "i-2", "i-3"], "tagged either way, sorted");
        assert_eq!(r.nodes[0].zone_id.as_deref(), Some("use1-az6"));
        assert_eq!(
            r.nodes[2].zone_id, None,
            "no subnet of the VPC is in us-east-1b"
        );
        assert_eq!((r.nodes[0].efa_interfaces, r.nodes[0].interfaces), (32, 32));
        assert_eq!(r.nodes[2].efa_interfaces, 0);
        assert!(matches!(r.nodes[0].bootstrap, Bootstrap::Ok { .. }));
        assert_eq!(r.nodes[1].bootstrap, Bootstrap::NotReported);
        assert_eq!(r.nodes[2].bootstrap.label(), "failed (efa-devices)");
    }

    #[test]
    fn console_says_how_the_bootstrap_ended() {
        let ok = "[   12.1] cloud-init[1021]: 2026-11-22T01:04:40Z efactl-bootstrap: step efa-devices\n\
                  [   12.3] cloud-init[1021]: 2026-11-22T01:04:49Z efactl-bootstrap: done: every step ok (/var/lib/efactl/bootstrap-status.json)\n";
        assert_eq!(
            bootstrap_from_console(ok),
            Bootstrap::Ok {
                at: Some("2026-11-22T01:04:49Z".into())
            }
        );
        let failed = "2026-11-22T01:04:49Z efactl-bootstrap: FAILED in step efa-devices (/var/lib/efactl/bootstrap-status.json)\n";
        assert_eq!(
            bootstrap_from_console(failed),
            Bootstrap::Failed {
                step: "efa-devices".into(),
                at: Some("2026-11-22T01:04:49Z".into())
            }
        );
        // A reboot ran it again and it has not finished yet.
        let again = format!("{failed}2026-11-22T02:00:00Z efactl-bootstrap: step hugepages\n");
        assert_eq!(
            bootstrap_from_console(&again),
            Bootstrap::Running {
                last: "step hugepages".into()
            }
        );
        assert_eq!(
            bootstrap_from_console("Linux version 6.1\nlogin:"),
            Bootstrap::NotReported
        );
    }
}
