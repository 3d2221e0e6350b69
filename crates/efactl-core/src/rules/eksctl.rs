//! Fixes in an eksctl ClusterConfig's terms. A finding on a ClusterConfig says which key of
//! which node group to change (`efaEnabled`, `placement.groupName`, `availabilityZones`,
//! `privateNetworking`), never how to write a spec: a rule asks [`in_config`] of the cluster
//! and words its help with [`group`]. The counterpart of [`super::pcluster`].

use crate::model::{Cluster, NodeGroup, Origin, ReadFrom};

pub(crate) fn in_config(c: &Cluster) -> bool {
    c.read_from == ReadFrom::Eksctl
}

/// "managed node group `gpu`" or "node group `gpu`", as the ClusterConfig lists it.
pub(crate) fn group(ng: &NodeGroup) -> String {
    let managed = matches!(&ng.origin, Origin::Spec(p) if p.starts_with("managedNodeGroups"));
    format!(
        "{} `{}`",
        if managed {
            "managed node group"
        } else {
            "node group"
        },
        ng.name
    )
}
