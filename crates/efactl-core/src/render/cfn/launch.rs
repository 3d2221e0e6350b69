//! Launch templates (`AWS::EC2::LaunchTemplate`): the network interfaces (one EFA per network
//! card, as the model lays them out), instance profile, placement, capacity reservation or
//! block, IMDSv2 and the bootstrap script as user data (`user_data.rs`).

use super::user_data::user_data;
use super::{att, r, truncate, Builder, Nodes};
use crate::model::*;
use crate::render::conventions::var_part;
use serde_json::{json, Map, Value};

impl<'a> Builder<'a> {
    pub(super) fn launch_template(&mut self, ng: &NodeGroup, lt: &str, img: &str) {
        let c = self.c;
        let single = ng.interfaces.len() == 1;
        let mut nics = Vec::new();
        for n in &ng.interfaces {
            let mut m = Map::new();
            m.insert("DeviceIndex".into(), json!(n.device_index));
            m.insert("NetworkCardIndex".into(), json!(n.network_card));
            m.insert("InterfaceType".into(), json!(n.kind.name()));
            let groups = self.sg_values(&n.security_groups);
            m.insert("Groups".into(), Value::Array(groups));
            if single && ng.public_ip {
                m.insert("AssociatePublicIpAddress".into(), Value::Bool(true));
            }
            m.insert("DeleteOnTermination".into(), Value::Bool(true));
            nics.push(Value::Object(m));
        }
        let mut data = Map::new();
        data.insert("InstanceType".into(), json!(ng.instance_type()));
        data.insert("ImageId".into(), r(img));
        if let Some(role) = &ng.instance_role {
            if let Some(pid) = self.profile_id.get(role) {
                data.insert(
                    "IamInstanceProfile".into(),
                    json!({ "Arn": att(pid, "Arn") }),
                );
            }
        }
        data.insert("NetworkInterfaces".into(), Value::Array(nics));
        if let Some(pg) = &ng.placement_group {
            data.insert(
                "Placement".into(),
                json!({ "GroupName": self.pg_value(pg) }),
            );
        }
        match &ng.capacity {
            Capacity::Reservation { id, .. } => {
                data.insert(
                    "CapacityReservationSpecification".into(),
                    json!({ "CapacityReservationTarget": { "CapacityReservationId": id } }),
                );
            }
            Capacity::CapacityBlock { id } => {
                data.insert(
                    "InstanceMarketOptions".into(),
                    json!({ "MarketType": "capacity-block" }),
                );
                data.insert(
                    "CapacityReservationSpecification".into(),
                    json!({ "CapacityReservationTarget": { "CapacityReservationId": id } }),
                );
            }
            Capacity::OnDemand | Capacity::Spot => {}
        }
        // Containers (EKS pods, Batch jobs) reach IMDS one hop further than the host.
        let hops = if matches!(c.scheduler, Scheduler::Kubernetes | Scheduler::Batch)
            || c.target == Target::Batch
        {
            2
        } else {
            1
        };
        data.insert(
            "MetadataOptions".into(),
            json!({ "HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": hops }),
        );
        let script = crate::render::bootstrap::script(c, self.catalog, ng);
        let (user_data, compressed) = user_data(&script, c.target == Target::Batch);
        data.insert("UserData".into(), user_data);
        let tags = self.tags(&ng.name);
        data.insert(
            "TagSpecifications".into(),
            json!([
                { "ResourceType": "instance", "Tags": tags },
                { "ResourceType": "volume", "Tags": tags },
                { "ResourceType": "network-interface", "Tags": tags },
            ]),
        );
        let efa = ng.efa_count();
        let layout = if efa == 0 {
            "one ENA interface, no EFA".to_string()
        } else {
            format!(
                "{} interface{} per node, {efa} of them EFA, one per network card",
                ng.interfaces.len(),
                if ng.interfaces.len() == 1 { "" } else { "s" }
            )
        };
        let launched_by = match self.nodes {
            Nodes::TemplatesOnly => "the AWS Batch compute environment launches from it",
            _ => "its Auto Scaling group launches from it",
        };
        let name: String = format!("{}-{}", c.name, ng.name)
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || "().-/_".contains(ch) {
                    ch
                } else {
                    '-'
                }
            })
            .collect();
        self.put(
            lt,
            "AWS::EC2::LaunchTemplate",
            None,
            json!({
                "LaunchTemplateName": truncate(name, 128),
                "VersionDescription": truncate(format!(
                    "Node group {} ({}): {layout}; {launched_by}; IMDSv2 only.{}",
                    ng.name,
                    ng.instance_type(),
                    if compressed {
                        " User data gzip-compressed: the bootstrap is over EC2's 16 KB limit; cloud-init decompresses it."
                    } else {
                        ""
                    }
                ), 255),
                "LaunchTemplateData": Value::Object(data),
                "TagSpecifications": [{ "ResourceType": "launch-template", "Tags": self.tags(&ng.name) }],
            }),
        );
        self.output(
            &format!("{lt}Id"),
            format!(
                "Launch template of node group `{}` (placeholder EFACTL_LAUNCH_TEMPLATE_ID_{}).",
                ng.name,
                var_part(&ng.name)
            ),
            r(lt),
        );
    }
}
