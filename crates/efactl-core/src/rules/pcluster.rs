//! Fixes in a ParallelCluster config's terms. A finding on a config says which key of which
//! queue, compute resource or head node to change (`Efa.Enabled`, `Networking.PlacementGroup`,
//! `HeadNode.Ssh.AllowedIps`), never how to write a spec: a rule asks [`in_config`] of the
//! cluster and words its help with these helpers. The counterpart of [`super::template`].

use crate::model::{Cluster, NodeGroup, NodeRole, ReadFrom};

pub(crate) fn in_config(c: &Cluster) -> bool {
    c.read_from == ReadFrom::ParallelCluster
}

/// "compute resource `p5` of queue `gpu`", "the head node", "login pool `login`".
pub(crate) fn nodes(ng: &NodeGroup) -> String {
    match ng.role {
        NodeRole::Head => "the head node".into(),
        NodeRole::Login => format!("login pool `{}`", ng.name),
        NodeRole::Compute => match ng.name.split_once('/') {
            Some((q, cr)) => format!("compute resource `{cr}` of queue `{q}`"),
            None => format!("compute resource `{}`", ng.name),
        },
    }
}

/// "queue `gpu`" for a compute resource's group, else what [`nodes`] says.
pub(crate) fn queue(ng: &NodeGroup) -> String {
    match (ng.role, ng.name.split_once('/')) {
        (NodeRole::Compute, Some((q, _))) => format!("queue `{q}`"),
        _ => nodes(ng),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Capacity, EfaSetting, NodeGroup, Origin};

    fn ng(name: &str, role: NodeRole) -> NodeGroup {
        NodeGroup {
            name: name.into(),
            role,
            instance_types: vec![],
            count: 1,
            max_count: 1,
            efa: EfaSetting::Off,
            interfaces: vec![],
            subnets: vec![],
            security_groups: vec![],
            placement_group: None,
            capacity: Capacity::OnDemand,
            public_ip: false,
            instance_role: None,
            ami: None,
            instances: vec![],
            origin: Origin::Spec(String::new()),
        }
    }

    #[test]
    fn nodes_are_named_as_the_config_names_them() {
        assert_eq!(
            nodes(&ng("gpu/p5", NodeRole::Compute)),
            "compute resource `p5` of queue `gpu`"
        );
        assert_eq!(queue(&ng("gpu/p5", NodeRole::Compute)), "queue `gpu`");
        assert_eq!(nodes(&ng("HeadNode", NodeRole::Head)), "the head node");
    }
}
