//! Stand-in node groups for security groups meant for instances the template does not launch.

use super::*;

impl<'t> Reader<'_, 't> {
    /// Does a resource name the group, other than security-group rules (which name it as a
    /// peer, not to attach it)?
    fn referenced(&self, id: &str) -> bool {
        let by_ref = format!("{{\"Ref\":\"{id}\"}}");
        let by_att = format!("\"Fn::GetAtt\":[\"{id}\"");
        self.order.iter().any(|r| {
            *r != id
                && !matches!(
                    self.doc.kind_of(r),
                    Some(
                        "AWS::EC2::SecurityGroup"
                            | "AWS::EC2::SecurityGroupIngress"
                            | "AWS::EC2::SecurityGroupEgress"
                    )
                )
                && self.props(r).is_some_and(|p| {
                    let text = Value::Object(p.clone()).to_string();
                    text.contains(&by_ref) || text.contains(&by_att)
                })
        })
    }

    /// Stand-in node groups for security groups meant for EFA instances that the template
    /// does not launch (HyperPod, ParallelCluster, PCS and Batch launch them from a group the
    /// template only creates).
    ///
    /// Roles come from attachment, not from a group's rules: a group that the template puts
    /// on its own instances, endpoints or file systems is what those make it (a self rule on
    /// the login nodes' group does not make it an EFA group). A group on no node of the
    /// template stands for EFA nodes when its logical id, name or description says EFA, also
    /// when file systems or endpoints share it (the HyperPod quickstart puts FSx in its EFA
    /// group).
    pub(super) fn stand_ins(&self, node_groups: &[NodeGroup]) -> Vec<NodeGroup> {
        let mut out = Vec::new();
        // Only groups the template creates: the VPC's default group and described existing
        // groups are not this template's EFA groups.
        let created = |s: &&SecurityGroup| matches!(&s.origin, Origin::Spec(p) if p.starts_with("Resources."));
        for sg in self.sgs.iter().filter(created) {
            let on_nodes = node_groups
                .iter()
                .any(|ng| ng.all_security_groups().contains(&sg.key.as_str()));
            if on_nodes {
                continue;
            }
            let text = |k: &str| {
                self.prop(&sg.key, k)
                    .map(|v| self.doc.eval(v))
                    .and_then(|v| v.s().map(str::to_string))
                    .unwrap_or_default()
            };
            let (description, name) = (text("GroupDescription"), text("GroupName"));
            let named = says_efa(&sg.key) || says_efa(&description) || says_efa(&name);
            // A self rule alone does not make a group an EFA group: cluster, login and
            // ParallelCluster's additional groups have them too (ParallelCluster adds its own
            // group with the EFA rules beside them). A group that no resource of the template
            // uses is there to be attached to instances launched elsewhere (an SSH group for
            // login nodes): it stands for them, without EFA.
            let kind = if named {
                InterfaceType::Efa
            } else if !self.referenced(&sg.key) {
                InterfaceType::Interface
            } else {
                continue;
            };
            let origin = Origin::Implied(sg.origin.subject().path.unwrap_or_default());
            out.push(NodeGroup {
                name: format!("instances in {}", sg.key),
                role: NodeRole::Compute,
                instance_types: Vec::new(),
                count: 1,
                max_count: 1,
                efa: EfaSetting::Auto,
                interfaces: vec![Nic {
                    network_card: 0,
                    device_index: 0,
                    kind,
                    security_groups: vec![sg.key.clone()],
                    origin: origin.clone(),
                }],
                subnets: Vec::new(),
                security_groups: vec![sg.key.clone()],
                placement_group: None,
                capacity: Capacity::OnDemand,
                public_ip: false,
                instance_role: None,
                ami: None,
                instances: Vec::new(),
                origin,
            });
        }
        out
    }
}

/// Words of an identifier or a sentence: `EFASecurityGroup` -> EFA, Security, Group.
pub(super) fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in s.split(|c: char| !c.is_ascii_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut cur = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = c.is_ascii_uppercase()
                && prev.is_some_and(|p| {
                    p.is_ascii_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
                });
            if boundary && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

pub(super) fn says_efa(s: &str) -> bool {
    words(s).iter().any(|w| w.eq_ignore_ascii_case("efa"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_identifiers() {
        assert_eq!(words("EFASecurityGroup"), ["EFA", "Security", "Group"]);
        assert_eq!(
            words("DefaultSecurityGroup"),
            ["Default", "Security", "Group"]
        );
        assert!(says_efa("Allow EFA communication"));
        assert!(!says_efa("DefaultSecurityGroup"));
        assert!(says_efa("efa-sg"));
    }
}
