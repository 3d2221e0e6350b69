//! Node groups: each group's AMI parameter (the spec's AMI, or a public SSM parameter), its
//! launch template (`launch.rs`), and, when the template launches the nodes itself, its Auto
//! Scaling group (`AWS::AutoScaling::AutoScalingGroup`, with a mixed-instances policy for
//! several types or spot).

use super::{att, default_image, r, Builder, Nodes};
use crate::model::*;
use serde_json::{json, Map, Value};

impl<'a> Builder<'a> {
    pub(super) fn node_groups(&mut self) {
        if self.nodes == Nodes::None {
            return;
        }
        let c = self.c;
        for ng in &c.node_groups {
            let (lt, asg, img) = self.ng_id[&ng.name].clone();
            let t = ng.instance_type();
            match &ng.ami {
                Some(ami) => self.param(
                    &img,
                    json!({
                        "Type": "AWS::EC2::Image::Id",
                        "Default": ami,
                        "Description": format!("AMI of node group `{}` ({t}), as the spec names it.", ng.name)
                    }),
                ),
                None => {
                    let (path, what) = default_image(c.target, t, self.catalog);
                    let hint = if c.target == Target::Batch {
                        "AWS Batch container instances need the ECS agent"
                    } else {
                        "the bootstrap installs the EFA software when the AMI lacks it; pass an AMI with the accelerator drivers and EFA (a Deep Learning AMI, or an EKS-optimized AMI for EKS nodes) to skip that"
                    };
                    self.param(
                        &img,
                        json!({
                            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                            "Default": path,
                            "Description": format!("AMI of node group `{}` ({t}): the spec names none, so {what} (a public SSM parameter); {hint}.", ng.name)
                        }),
                    );
                }
            }
            self.launch_template(ng, &lt, &img);
            if self.nodes == Nodes::Launch {
                self.auto_scaling_group(ng, &lt, &asg);
            }
        }
    }

    fn auto_scaling_group(&mut self, ng: &NodeGroup, lt: &str, asg: &str) {
        let c = self.c;
        let spec = json!({ "LaunchTemplateId": r(lt), "Version": att(lt, "LatestVersionNumber") });
        let mut props = Map::new();
        props.insert("MinSize".into(), json!(ng.count.to_string()));
        props.insert(
            "MaxSize".into(),
            json!(ng.max_count.max(ng.count).to_string()),
        );
        props.insert("DesiredCapacity".into(), json!(ng.count.to_string()));
        let subnets: Vec<Value> = ng.subnets.iter().map(|s| self.subnet_value(s)).collect();
        props.insert("VPCZoneIdentifier".into(), Value::Array(subnets));
        let spot = matches!(ng.capacity, Capacity::Spot);
        if ng.instance_types.len() > 1 || spot {
            let mut mip = Map::new();
            let overrides: Vec<Value> = ng
                .instance_types
                .iter()
                .map(|t| json!({ "InstanceType": t }))
                .collect();
            mip.insert(
                "LaunchTemplate".into(),
                json!({ "LaunchTemplateSpecification": spec, "Overrides": overrides }),
            );
            if spot {
                mip.insert(
                    "InstancesDistribution".into(),
                    json!({ "OnDemandPercentageAboveBaseCapacity": 0, "SpotAllocationStrategy": "capacity-optimized" }),
                );
            }
            props.insert("MixedInstancesPolicy".into(), Value::Object(mip));
        } else {
            props.insert("LaunchTemplate".into(), spec);
        }
        if let Some(pg) = &ng.placement_group {
            props.insert("PlacementGroup".into(), self.pg_value(pg));
        }
        let tags: Vec<Value> = match self.tags(&ng.name) {
            Value::Array(t) => t
                .into_iter()
                .map(|mut x| {
                    // The launch template tags the instances; the group's own tags stay on it.
                    x["PropagateAtLaunch"] = Value::Bool(false);
                    x
                })
                .collect(),
            _ => Vec::new(),
        };
        props.insert("Tags".into(), Value::Array(tags));
        let capacity = match &ng.capacity {
            Capacity::OnDemand => "on-demand".to_string(),
            Capacity::Spot => "spot".to_string(),
            Capacity::Reservation { id, .. } => format!("reservation {id}"),
            Capacity::CapacityBlock { id } => format!("capacity block {id}"),
        };
        self.put(
            asg,
            "AWS::AutoScaling::AutoScalingGroup",
            Some(format!(
                "Node group `{}`: {} × {} ({capacity}) in subnet{} {}{}; up to {}.",
                ng.name,
                ng.count,
                ng.instance_type(),
                if ng.subnets.len() == 1 { "" } else { "s" },
                crate::rules::and_list(&ng.subnets),
                match &ng.placement_group {
                    Some(pg) => format!(
                        ", in placement group {}",
                        c.placement_group(pg).map(|p| p.name.as_str()).unwrap_or(pg)
                    ),
                    None => String::new(),
                },
                ng.max_count.max(ng.count)
            )),
            Value::Object(props),
        );
        self.output(
            &format!("{asg}Name"),
            format!("Auto Scaling group of node group `{}`.", ng.name),
            r(asg),
        );
    }
}
