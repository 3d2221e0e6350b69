//! Resources that launch instances, read into node groups.

use super::*;

impl<'t> Reader<'_, 't> {
    pub(super) fn node_groups(&mut self, placement: &mut Vec<PlacementGroup>) -> Vec<NodeGroup> {
        let profiles = self.profiles();
        let asgs = self.of_type("AWS::AutoScaling::AutoScalingGroup");
        let mut out = Vec::new();
        for lt in self.of_type("AWS::EC2::LaunchTemplate") {
            let o = rpath(lt);
            let data_path = ppath(lt, "LaunchTemplateData");
            let Some(data) = self
                .prop(lt, "LaunchTemplateData")
                .and_then(Value::as_object)
            else {
                continue;
            };
            let d = self.doc;
            let ev = |k: &str| data.get(k).map(|v| d.eval(v));
            let instance_type = ev("InstanceType").and_then(|v| v.s().map(str::to_string));
            let lt_groups = self.group_keys(
                data.get("SecurityGroupIds")
                    .or_else(|| data.get("SecurityGroups")),
            );
            let mut interfaces = Vec::new();
            let mut public_ip = false;
            let mut nic_subnets = Vec::new();
            let nics = data.get("NetworkInterfaces").and_then(Value::as_array);
            for (i, n) in nics.into_iter().flatten().enumerate() {
                let Some(n) = n.as_object() else { continue };
                let p = format!("{data_path}.NetworkInterfaces[{i}]");
                let nev = |k: &str| n.get(k).map(|v| d.eval(v));
                let kind = match nev("InterfaceType").as_ref().map(|v| v.s()) {
                    None => InterfaceType::Interface,
                    Some(Some("interface")) => InterfaceType::Interface,
                    Some(Some("efa")) => InterfaceType::Efa,
                    Some(Some("efa-only")) => InterfaceType::EfaOnly,
                    Some(Some(other)) => {
                        let other = other.to_string();
                        let near = InterfaceType::NAMES
                            .iter()
                            .find(|x| x.eq_ignore_ascii_case(&other.replace('_', "-")))
                            .map(|x| format!(" (did you mean `{x}`?)"))
                            .unwrap_or_default();
                        self.invalid(
                            format!("{p}.InterfaceType"),
                            format!("InterfaceType `{other}` is not one of `interface`, `efa`, `efa-only`{near}: EC2 refuses the launch, and cfn-lint does not check this value"),
                            "use `efa` (EFA with ENA), `efa-only` (EFA device, no IP address; never the primary) or `interface` (ENA only), in lower case".into(),
                        );
                        InterfaceType::Interface
                    }
                    Some(None) => InterfaceType::Interface,
                };
                let mut groups = self.group_keys(n.get("Groups"));
                if groups.is_empty() {
                    groups = lt_groups.clone();
                }
                if groups.is_empty() {
                    self.ensure_default(&p);
                    groups.push(crate::resolve::DEFAULT_SG.into());
                }
                if nev("AssociatePublicIpAddress").as_ref().and_then(as_bool) == Some(true) {
                    public_ip = true;
                }
                if let Some(s) = nev("SubnetId").and_then(|v| self.subnet_key(&v)) {
                    nic_subnets.push(s);
                }
                interfaces.push(Nic {
                    network_card: nev("NetworkCardIndex")
                        .as_ref()
                        .and_then(as_u32)
                        .unwrap_or(0),
                    device_index: nev("DeviceIndex").as_ref().and_then(as_u32).unwrap_or(0),
                    kind,
                    security_groups: groups,
                    origin: Origin::Spec(p),
                });
            }
            let lt_sgs = if lt_groups.is_empty() {
                interfaces
                    .first()
                    .map(|n| n.security_groups.clone())
                    .unwrap_or_default()
            } else {
                lt_groups.clone()
            };
            if interfaces.is_empty() {
                let mut groups = lt_groups.clone();
                if groups.is_empty() {
                    self.ensure_default(&o);
                    groups.push(crate::resolve::DEFAULT_SG.into());
                }
                interfaces.push(Nic {
                    network_card: 0,
                    device_index: 0,
                    kind: InterfaceType::Interface,
                    security_groups: groups,
                    origin: Origin::Implied(o.clone()),
                });
            }
            let placement_v = data
                .get("Placement")
                .and_then(|p| p.get("GroupName"))
                .map(|v| self.doc.eval(v));
            let mut pg = placement_v.and_then(|v| self.placement_key(&v, placement, &o));
            let market = data
                .get("InstanceMarketOptions")
                .and_then(|m| m.get("MarketType"))
                .map(|v| self.doc.eval(v));
            let reservation = data
                .get("CapacityReservationSpecification")
                .and_then(|c| c.get("CapacityReservationTarget"))
                .and_then(|t| t.get("CapacityReservationId"))
                .map(|v| self.doc.eval(v))
                .and_then(|v| v.s().map(str::to_string));
            let pg_name = |pg: &Option<String>, placement: &[PlacementGroup]| {
                pg.as_ref()
                    .and_then(|k| placement.iter().find(|p| &p.key == k))
                    .map(|p| p.name.clone())
            };
            let capacity = match (market.as_ref().and_then(V::s), reservation) {
                (Some("capacity-block"), Some(id)) => Capacity::CapacityBlock { id },
                (Some("spot"), _) => Capacity::Spot,
                (_, Some(id)) => Capacity::Reservation {
                    id,
                    // The reservation serves the group the template launches into.
                    placement_group: pg_name(&pg, placement),
                },
                _ => Capacity::OnDemand,
            };
            let instance_role = data
                .get("IamInstanceProfile")
                .and_then(|p| p.get("Arn").or_else(|| p.get("Name")))
                .map(|v| self.doc.eval(v))
                .and_then(|v| match v {
                    V::Ref(x) | V::Att(x, _) => profiles.get(&x).cloned(),
                    _ => None,
                });
            let ami = ev("ImageId")
                .and_then(|v| v.s().map(str::to_string))
                .filter(|a| a.starts_with("ami-"));
            for (field, to) in [
                ("instanceType", "InstanceType"),
                ("networkInterfaces", "NetworkInterfaces"),
                ("efa", "NetworkInterfaces"),
                ("placementGroup", "Placement"),
                ("capacity.reservationPlacementGroup", "Placement"),
                ("capacity", "CapacityReservationSpecification"),
            ] {
                self.alias(format!("{o}.{field}"), format!("{data_path}.{to}"));
            }
            self.alias(
                format!("{o}.securityGroups"),
                if nics.is_some() {
                    format!("{data_path}.NetworkInterfaces[0].Groups")
                } else {
                    format!("{data_path}.SecurityGroupIds")
                },
            );
            self.alias(
                format!("{o}.publicIp"),
                format!("{data_path}.NetworkInterfaces[0].AssociatePublicIpAddress"),
            );
            let users: Vec<&str> = asgs
                .iter()
                .copied()
                .filter(|a| self.asg_template(a).as_deref() == Some(lt))
                .collect();
            let base = NodeGroup {
                name: lt.to_string(),
                role: NodeRole::Compute,
                instance_types: instance_type.into_iter().collect(),
                count: 1,
                max_count: 1,
                efa: EfaSetting::Auto,
                interfaces,
                subnets: nic_subnets,
                security_groups: lt_sgs,
                placement_group: pg.clone(),
                capacity,
                public_ip,
                instance_role,
                ami,
                instances: Vec::new(),
                origin: Origin::Spec(o.clone()),
            };
            if users.is_empty() {
                out.push(base);
                continue;
            }
            for asg in users {
                let mut ng = base.clone();
                let aev = |k: &str| d.prop(asg, k).map(|v| d.eval(v));
                ng.name = asg.to_string();
                let min = aev("MinSize").as_ref().and_then(as_u32).unwrap_or(0);
                let max = aev("MaxSize").as_ref().and_then(as_u32).unwrap_or(min);
                let desired = aev("DesiredCapacity")
                    .as_ref()
                    .and_then(as_u32)
                    .unwrap_or(min);
                ng.count = desired;
                ng.max_count = max.max(desired);
                let subnets: Vec<String> = self
                    .list(self.prop(asg, "VPCZoneIdentifier"))
                    .iter()
                    .filter_map(|v| self.subnet_key(v))
                    .collect();
                if !subnets.is_empty() {
                    ng.subnets = subnets;
                }
                if let Some(v) = aev("PlacementGroup") {
                    if pg.is_none() {
                        pg = self.placement_key(&v, placement, &rpath(asg));
                        ng.placement_group = pg.clone();
                    }
                    self.alias(format!("{o}.placementGroup"), ppath(asg, "PlacementGroup"));
                }
                let overrides = self
                    .prop(asg, "MixedInstancesPolicy")
                    .and_then(|m| m.get("LaunchTemplate"))
                    .and_then(|l| l.get("Overrides"))
                    .and_then(Value::as_array);
                let types: Vec<String> = overrides
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.get("InstanceType"))
                    .filter_map(|v| self.doc.eval(v).s().map(str::to_string))
                    .collect();
                if !types.is_empty() {
                    for j in 0..types.len() {
                        self.alias(
                            format!("{o}.instanceTypes[{j}]"),
                            format!(
                                "{}.LaunchTemplate.Overrides[{j}].InstanceType",
                                ppath(asg, "MixedInstancesPolicy")
                            ),
                        );
                    }
                    ng.instance_types = types;
                }
                if self
                    .prop(asg, "MixedInstancesPolicy")
                    .and_then(|m| m.get("InstancesDistribution"))
                    .and_then(|d| d.get("OnDemandPercentageAboveBaseCapacity"))
                    .map(|v| self.doc.eval(v))
                    .as_ref()
                    .and_then(as_u32)
                    == Some(0)
                {
                    ng.capacity = Capacity::Spot;
                }
                for field in ["subnet", "subnets"] {
                    self.alias(format!("{o}.{field}"), ppath(asg, "VPCZoneIdentifier"));
                }
                out.push(ng);
            }
        }
        out
    }

    /// The launch template an Auto Scaling group launches from.
    pub(super) fn asg_template(&self, asg: &str) -> Option<String> {
        let spec = self.prop(asg, "LaunchTemplate").or_else(|| {
            self.prop(asg, "MixedInstancesPolicy")?
                .get("LaunchTemplate")?
                .get("LaunchTemplateSpecification")
        })?;
        if let Some(V::Ref(x)) = spec.get("LaunchTemplateId").map(|v| self.doc.eval(v)) {
            return Some(x);
        }
        let name = spec.get("LaunchTemplateName").map(|v| self.doc.eval(v))?;
        self.of_type("AWS::EC2::LaunchTemplate")
            .into_iter()
            .find(|lt| {
                self.prop(lt, "LaunchTemplateName")
                    .map(|v| self.doc.eval(v))
                    .as_ref()
                    == Some(&name)
            })
            .map(str::to_string)
    }

    pub(super) fn placement_key(
        &self,
        v: &V,
        placement: &mut Vec<PlacementGroup>,
        path: &str,
    ) -> Option<String> {
        let key = self.key_of(v, &["AWS::EC2::PlacementGroup"])?;
        if !placement.iter().any(|p| p.key == key) {
            // A group the template does not create, named by its name.
            placement.push(PlacementGroup {
                key: key.clone(),
                name: key.clone(),
                strategy: PlacementStrategy::Cluster,
                managed: false,
                origin: Origin::Implied(path.to_string()),
            });
        }
        Some(key)
    }
}
