//! Resources that launch instances, read into node groups: Auto Scaling groups, EC2
//! instances, AWS Batch compute environments, EKS managed node groups, PCS compute node
//! groups and SageMaker HyperPod clusters, each judged with the launch template it names and
//! its own instance types, subnets and groups. A launch template that no resource of the
//! template uses is a node group of its own (its instances are launched elsewhere).
//!
//! What the template leaves to deploy time (`Fn::ImportValue`, a parameter without a value, a
//! custom resource's attribute) is not replaced by a default: the part it decides is not
//! judged, and a note (SPEC013) says which value was unknown and how to supply it.

use super::*;
use crate::catalog::Catalog;

/// Why a value is unknown, and the parameter that would make it known.
type Why = (String, Option<String>);
/// Where a list of instance types is written, and the types.
type Types = (String, Vec<String>);

/// Security groups as a resource writes them.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Groups {
    /// The property is not written.
    Absent,
    Known(Vec<String>),
    /// Written, but known only at deploy time: the reason, and the parameter that would tell.
    Unknown(String, Option<String>),
}

impl Groups {
    fn or(self, other: Groups) -> Groups {
        match self {
            Groups::Absent => other,
            g => g,
        }
    }
}

/// What a launch template (or an instance's own properties) says about its instances.
struct Launch {
    ng: NodeGroup,
    /// `SecurityGroupIds` / `SecurityGroups` of the launch data.
    groups: Groups,
    /// Interfaces whose own `Groups` are not written.
    open_nics: Vec<usize>,
    /// `NetworkInterfaces` is written but cannot be told (a condition on an unknown value).
    nics_unknown: Option<(String, Option<String>)>,
    nics_written: bool,
    /// `InstanceType` is written but cannot be told.
    type_unknown: Option<(String, Option<String>)>,
}

/// What the resource that launches the instances adds.
struct Holder {
    id: String,
    /// Where its instance types are written, and they.
    types: Option<(String, Vec<String>)>,
    types_unknown: Option<(String, Option<String>)>,
    groups: Groups,
    groups_path: String,
    subnets: Option<(String, Vec<String>)>,
    placement: Option<(String, V)>,
    count: u32,
    max_count: u32,
    /// HyperPod attaches every EFA interface a type supports by itself.
    auto_efa: bool,
    spot: bool,
    /// It names a launch template that this template does not create.
    template_unknown: Option<(String, Option<String>)>,
}

impl Holder {
    fn new(id: &str) -> Holder {
        Holder {
            id: id.to_string(),
            types: None,
            types_unknown: None,
            groups: Groups::Absent,
            groups_path: String::new(),
            subnets: None,
            placement: None,
            count: 1,
            max_count: 1,
            auto_efa: false,
            spot: false,
            template_unknown: None,
        }
    }
}

impl<'t> Reader<'_, 't> {
    /// Why a written value is unknown, in the template's terms, and the parameter that
    /// would make it known.
    pub(super) fn why_unknown(&self, raw: &Value) -> (String, Option<String>) {
        // A specification (`{LaunchTemplateId: !ImportValue X, Version: 1}`): its first value
        // that an intrinsic function computes.
        if let Some(m) = raw.as_object() {
            if !m.keys().any(|k| k == "Ref" || k.starts_with("Fn::")) {
                if let Some(inner) = m.values().find(|v| {
                    v.as_object()
                        .is_some_and(|o| o.keys().any(|k| k == "Ref" || k.starts_with("Fn::")))
                }) {
                    return self.why_unknown(inner);
                }
            }
        }
        let text = raw.to_string();
        if let Some(m) = raw.as_object() {
            if let Some(Value::Array(a)) = m.get("Fn::FindInMap") {
                let map = a.first().and_then(Value::as_str).unwrap_or("?");
                return (
                    format!("`Fn::FindInMap` on mapping `{map}` has no entry for the keys it is given with the defaults (region {})", self.doc.region),
                    None,
                );
            }
            if let Some(Value::String(p)) = m.get("Ref") {
                if self.doc.params.contains_key(p) {
                    return (
                        format!("parameter `{p}` has no default"),
                        Some(p.to_string()),
                    );
                }
            }
            if m.contains_key("Fn::ImportValue") || text.contains("Fn::ImportValue") {
                return (
                    "it is imported from another stack (`Fn::ImportValue`)".into(),
                    None,
                );
            }
            if let Some(Value::Array(a)) = m.get("Fn::If") {
                let c = a.first().and_then(Value::as_str).unwrap_or("?");
                let param = self.unknown_param_of_condition(c);
                return (
                    format!("condition `{c}` depends on a value known only at deploy time"),
                    param,
                );
            }
            if let Some(Value::Array(a)) = m.get("Fn::GetAtt") {
                let r = a.first().and_then(Value::as_str).unwrap_or("?");
                return (
                    format!("it is an attribute of `{r}`, known only once that resource exists"),
                    None,
                );
            }
        }
        if text.contains("{{resolve:") {
            return (
                "it is resolved from SSM or Secrets Manager at deploy time".into(),
                None,
            );
        }
        let short: String = text.chars().take(80).collect();
        (format!("`{short}` is known only at deploy time"), None)
    }

    fn unknown_param_of_condition(&self, c: &str) -> Option<String> {
        let text = self.doc.conditions.get(c)?.to_string();
        self.doc
            .params
            .iter()
            .find(|(p, v)| v.get("Default").is_none() && text.contains(&format!("\"{p}\"")))
            .map(|(p, _)| p.clone())
    }

    /// A note that a part of the template was not judged because a value is unknown.
    pub(super) fn not_judged(&mut self, path: &str, what: &str, why: &(String, Option<String>)) {
        let help = match &why.1 {
            Some(p) => {
                format!("pass `--parameter {p}=VALUE` to judge it with the value you deploy")
            }
            None => "efactl audit judges the deployed resources in the account".into(),
        };
        let mut f = input_finding(
            &diag::NOT_KNOWN,
            path,
            None,
            format!("{what} not judged: {}", why.0),
            Some(help),
        );
        f.severity = Severity::Info;
        if !self
            .findings
            .iter()
            .any(|x| x.rule == f.rule && x.subject.path == f.subject.path)
        {
            self.findings.push(f);
        }
    }

    /// The security groups a property names.
    pub(super) fn groups_of(&mut self, v: Option<&Value>) -> Groups {
        let Some(raw) = v else {
            return Groups::Absent;
        };
        let items = match self.doc.eval(raw) {
            V::L(items) => items,
            V::Param(p) if self.sgs.iter().any(|g| g.key == p) => vec![V::Param(p)],
            V::Unknown | V::Param(_) => {
                let (why, p) = self.why_unknown(raw);
                return Groups::Unknown(why, p);
            }
            one => vec![one],
        };
        let raws: Vec<Value> = raw.as_array().cloned().unwrap_or_default();
        let mut keys = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let known = match item {
                // A parameter efactl's renderer describes in `Metadata.efactl`.
                V::Param(p) if self.sgs.iter().any(|g| &g.key == p) => Some(p.clone()),
                V::Param(_) | V::Unknown => None,
                _ => self.group_key(item),
            };
            match known {
                Some(k) => {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
                None => {
                    let r = raws.get(i).unwrap_or(raw);
                    let (why, p) = self.why_unknown(r);
                    return Groups::Unknown(why, p);
                }
            }
        }
        Groups::Known(keys)
    }

    /// Subnet keys of a list, each once (`[!Ref Subnet, !Ref Subnet]` is one subnet).
    fn subnet_list(&self, v: Option<&Value>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.list(v).iter().filter_map(|x| self.subnet_key(x)) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    fn interface_kind(&mut self, v: Option<V>, p: &str) -> InterfaceType {
        match v.as_ref().map(|v| v.s()) {
            None | Some(Some("interface")) | Some(None) => InterfaceType::Interface,
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
        }
    }

    /// Launch data: a launch template's `LaunchTemplateData` or an instance's properties
    /// (`instance` selects the instance's property names).
    fn launch(
        &mut self,
        owner: &str,
        data: &'t Map<String, Value>,
        data_path: &str,
        instance: bool,
        placement: &mut Vec<PlacementGroup>,
    ) -> Launch {
        let o = rpath(owner);
        let d = self.doc;
        let ev = |k: &str| data.get(k).map(|v| d.eval(v));
        let mut type_unknown = None;
        let instance_type = match (data.get("InstanceType"), ev("InstanceType")) {
            (Some(raw), Some(V::Unknown | V::Param(_))) => {
                type_unknown = Some(self.why_unknown(raw));
                None
            }
            (_, v) => v.and_then(|v| v.s().map(str::to_string)),
        };
        let groups = self.groups_of(
            data.get("SecurityGroupIds")
                .or_else(|| data.get("SecurityGroups")),
        );
        let mut interfaces = Vec::new();
        let mut open_nics = Vec::new();
        let mut public_ip = false;
        let mut nic_subnets = Vec::new();
        let mut nics_unknown = None;
        let nics_raw = data.get("NetworkInterfaces");
        let nics = nics_raw.and_then(Value::as_array);
        if let (Some(raw), None) = (nics_raw, nics) {
            nics_unknown = Some(self.why_unknown(raw));
        }
        let group_prop = if instance { "GroupSet" } else { "Groups" };
        let mut nic_groups_unknown: Option<(String, String, Option<String>)> = None;
        for (i, n) in nics.into_iter().flatten().enumerate() {
            let p = format!("{data_path}.NetworkInterfaces[{i}]");
            let Some(n) = n.as_object() else {
                nics_unknown = Some(self.why_unknown(n));
                continue;
            };
            // An interface the template creates on its own (`AWS::EC2::NetworkInterface`) and
            // the instance attaches by id: its groups, subnet and type are written there.
            let eni = match n.get("NetworkInterfaceId").map(|v| d.eval(v)) {
                Some(V::Ref(x)) if d.kind_of(&x) == Some("AWS::EC2::NetworkInterface") => {
                    d.props(&x)
                }
                _ => None,
            };
            let get = |k: &str| {
                n.get(k).or_else(|| {
                    let k = if k == "Groups" { "GroupSet" } else { k };
                    eni.and_then(|e| e.get(k))
                })
            };
            let nev = |k: &str| get(k).map(|v| d.eval(v));
            let kind = self.interface_kind(nev("InterfaceType"), &p);
            let groups = match self.groups_of(get(group_prop)) {
                Groups::Known(g) => g,
                Groups::Absent => {
                    open_nics.push(interfaces.len());
                    Vec::new()
                }
                Groups::Unknown(why, param) => {
                    nic_groups_unknown.get_or_insert((format!("{p}.{group_prop}"), why, param));
                    Vec::new()
                }
            };
            if nev("AssociatePublicIpAddress").as_ref().and_then(as_bool) == Some(true) {
                public_ip = true;
            }
            if let Some(s) = nev("SubnetId").and_then(|v| self.subnet_key(&v)) {
                if !nic_subnets.contains(&s) {
                    nic_subnets.push(s);
                }
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
        if let Some((path, why, param)) = nic_groups_unknown {
            self.not_judged(
                &path,
                "the security groups of these instances' network interfaces were",
                &(why, param),
            );
        }
        let nics_written = nics.is_some();
        let placement_v = if instance {
            data.get("PlacementGroupName")
        } else {
            data.get("Placement").and_then(|p| p.get("GroupName"))
        }
        .map(|v| self.doc.eval(v));
        let made_elsewhere = |v: &V| match v {
            V::Unknown | V::Param(_) => true,
            V::Ref(x) | V::Att(x, _) => d.kind_of(x) != Some("AWS::EC2::PlacementGroup"),
            _ => false,
        };
        let pg = match placement_v {
            Some(v) if made_elsewhere(&v) => {
                // A group made elsewhere (a custom resource, another stack): the instances are
                // in one, whose strategy is not in view.
                let raw = if instance {
                    data.get("PlacementGroupName")
                } else {
                    data.get("Placement").and_then(|p| p.get("GroupName"))
                };
                let why = raw.map(|r| self.why_unknown(r)).unwrap_or_default();
                self.not_judged(
                    &format!(
                        "{data_path}.{}",
                        if instance {
                            "PlacementGroupName"
                        } else {
                            "Placement"
                        }
                    ),
                    "the placement group's strategy was",
                    &why,
                );
                let key = format!("placement group of {owner}");
                if !placement.iter().any(|p| p.key == key) {
                    placement.push(PlacementGroup {
                        key: key.clone(),
                        name: key.clone(),
                        strategy: PlacementStrategy::Cluster,
                        managed: false,
                        origin: Origin::Implied(o.clone()),
                    });
                }
                Some(key)
            }
            Some(v) => self.placement_key(&v, placement, &o),
            None => None,
        };
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
        let pg_name = pg
            .as_ref()
            .and_then(|k| placement.iter().find(|p| &p.key == k))
            .map(|p| p.name.clone());
        let capacity = match (market.as_ref().and_then(V::s), reservation) {
            (Some("capacity-block"), Some(id)) => Capacity::CapacityBlock { id },
            (Some("spot"), _) => Capacity::Spot,
            (_, Some(id)) => Capacity::Reservation {
                id,
                // The reservation serves the group the template launches into.
                placement_group: pg_name,
            },
            _ => Capacity::OnDemand,
        };
        let profiles = self.profiles();
        let instance_role = if instance {
            data.get("IamInstanceProfile")
        } else {
            data.get("IamInstanceProfile")
                .and_then(|p| p.get("Arn").or_else(|| p.get("Name")))
        }
        .map(|v| self.doc.eval(v))
        .and_then(|v| match v {
            V::Ref(x) | V::Att(x, _) => profiles.get(&x).cloned(),
            _ => None,
        });
        let ami = ev("ImageId")
            .and_then(|v| v.s().map(str::to_string))
            .filter(|a| a.starts_with("ami-"));
        if instance {
            if let Some(s) = ev("SubnetId").and_then(|v| self.subnet_key(&v)) {
                nic_subnets.push(s);
            }
        }
        for (field, to) in [
            ("instanceType", "InstanceType"),
            ("networkInterfaces", "NetworkInterfaces"),
            ("efa", "NetworkInterfaces"),
            (
                "placementGroup",
                if instance {
                    "PlacementGroupName"
                } else {
                    "Placement"
                },
            ),
            ("capacity.reservationPlacementGroup", "Placement"),
            ("capacity", "CapacityReservationSpecification"),
        ] {
            self.alias(format!("{o}.{field}"), format!("{data_path}.{to}"));
        }
        self.alias(
            format!("{o}.securityGroups"),
            if nics.is_some() {
                format!("{data_path}.NetworkInterfaces[0].{group_prop}")
            } else {
                format!("{data_path}.SecurityGroupIds")
            },
        );
        self.alias(
            format!("{o}.publicIp"),
            format!("{data_path}.NetworkInterfaces[0].AssociatePublicIpAddress"),
        );
        Launch {
            ng: NodeGroup {
                name: owner.to_string(),
                role: NodeRole::Compute,
                instance_types: instance_type.into_iter().collect(),
                count: 1,
                max_count: 1,
                efa: EfaSetting::Auto,
                interfaces,
                subnets: nic_subnets,
                security_groups: Vec::new(),
                placement_group: pg,
                capacity,
                public_ip,
                instance_role,
                ami,
                instances: Vec::new(),
                origin: Origin::Spec(o),
            },
            groups,
            open_nics,
            nics_unknown,
            nics_written,
            type_unknown,
        }
    }

    /// A node group from launch data and the resource that launches it (none for a launch
    /// template no resource uses); `None` when what decides its interfaces is unknown.
    fn finish(
        &mut self,
        launch: &Launch,
        holder: Option<&Holder>,
        placement: &mut Vec<PlacementGroup>,
        catalog: &Catalog,
    ) -> Option<NodeGroup> {
        let mut ng = launch.ng.clone();
        let o = rpath(&ng.name);
        if let Some(why) = &launch.nics_unknown {
            self.not_judged(
                &format!("{o}.Properties"),
                "the network interfaces (EFA, security groups) of these instances were",
                why,
            );
            return None;
        }
        let mut groups = launch.groups.clone();
        let mut groups_path = format!("{o}.Properties");
        if let Some(h) = holder {
            ng.name = h.id.clone();
            ng.count = h.count;
            ng.max_count = h.max_count.max(h.count);
            if let Some((path, types)) = &h.types {
                if !types.is_empty() {
                    for j in 0..types.len() {
                        self.alias(
                            format!("{}.instanceTypes[{j}]", rpath(&h.id)),
                            format!("{path}[{j}]"),
                        );
                    }
                    if types.len() == 1 {
                        self.alias(format!("{}.instanceType", rpath(&h.id)), path.clone());
                    }
                    ng.instance_types = types.clone();
                }
            }
            if let Some((path, subnets)) = &h.subnets {
                if !subnets.is_empty() {
                    ng.subnets = subnets.clone();
                }
                for field in ["subnet", "subnets"] {
                    self.alias(format!("{}.{field}", rpath(&h.id)), path.clone());
                }
            }
            if let Some((path, v)) = &h.placement {
                if ng.placement_group.is_none() {
                    ng.placement_group = self.placement_key(v, placement, &rpath(&h.id));
                }
                self.alias(format!("{}.placementGroup", rpath(&h.id)), path.clone());
            }
            if h.spot {
                ng.capacity = Capacity::Spot;
            }
            if !matches!(h.groups, Groups::Absent) && matches!(groups, Groups::Absent) {
                groups_path = h.groups_path.clone();
                self.alias(
                    format!("{}.securityGroups", rpath(&h.id)),
                    groups_path.clone(),
                );
            }
            groups = groups.or(h.groups.clone());
            if h.auto_efa && !launch.nics_written {
                let t = ng.instance_types.first().and_then(|t| catalog.get(t));
                let sgs = match &groups {
                    Groups::Known(g) => g.clone(),
                    _ => Vec::new(),
                };
                ng.interfaces = crate::resolve::default_layout(
                    t,
                    EfaSetting::Auto,
                    InterfaceType::Efa,
                    &sgs,
                    &rpath(&h.id),
                );
                ng.efa = EfaSetting::Auto;
            }
        }
        let type_unknown = holder
            .and_then(|h| h.types_unknown.clone())
            .filter(|_| ng.instance_types.is_empty())
            .or_else(|| {
                launch
                    .type_unknown
                    .clone()
                    .filter(|_| ng.instance_types.is_empty())
            });
        if let Some(why) = type_unknown {
            self.not_judged(&o, "the instance type (EFA support and layout) was", &why);
        }
        // A template that creates its VPC: instances without a group get its default group.
        // In a VPC the template does not create, that group's rules are not in view.
        let own_vpc = !self.of_type("AWS::EC2::VPC").is_empty();
        let fill: Vec<String> = match &groups {
            Groups::Known(g) => g.clone(),
            Groups::Absent if own_vpc => {
                self.ensure_default(&o);
                vec![crate::resolve::DEFAULT_SG.into()]
            }
            Groups::Absent => Vec::new(),
            Groups::Unknown(why, p) => {
                self.not_judged(
                    &groups_path,
                    "the security groups of these instances were",
                    &(why.clone(), p.clone()),
                );
                Vec::new()
            }
        };
        for &i in &launch.open_nics {
            if let Some(n) = ng.interfaces.get_mut(i) {
                n.security_groups = fill.clone();
            }
        }
        if ng.interfaces.is_empty() {
            ng.interfaces.push(Nic {
                network_card: 0,
                device_index: 0,
                kind: InterfaceType::Interface,
                security_groups: fill.clone(),
                origin: Origin::Implied(o.clone()),
            });
        }
        ng.security_groups = if matches!(groups, Groups::Known(_)) {
            fill
        } else {
            ng.interfaces
                .first()
                .map(|n| n.security_groups.clone())
                .unwrap_or_default()
        };
        Some(ng)
    }

    fn launch_template_data(&self, lt: &str) -> Option<&'t Map<String, Value>> {
        self.prop(lt, "LaunchTemplateData")
            .and_then(Value::as_object)
    }

    /// The launch template a `{LaunchTemplateId | LaunchTemplateName | Id | Name |
    /// TemplateId}` specification names, when the template creates it.
    fn template_named(&self, spec: Option<&Value>) -> Option<String> {
        let spec = spec?;
        for k in ["LaunchTemplateId", "Id", "TemplateId"] {
            if let Some(V::Ref(x) | V::Att(x, _)) = spec.get(k).map(|v| self.doc.eval(v)) {
                if self.doc.kind_of(&x) == Some("AWS::EC2::LaunchTemplate") {
                    return Some(x);
                }
            }
        }
        let name = spec
            .get("LaunchTemplateName")
            .or_else(|| spec.get("Name"))
            .map(|v| self.doc.eval(v))?;
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

    fn count_of(&self, v: Option<&Value>) -> Option<u32> {
        v.map(|v| self.doc.eval(v)).as_ref().and_then(as_u32)
    }

    fn types_of(&self, v: Option<&Value>, path: String) -> (Option<Types>, Option<Why>) {
        let Some(raw) = v else {
            return (None, None);
        };
        match self.doc.eval(raw) {
            V::Unknown | V::Param(_) => (None, Some(self.why_unknown(raw))),
            e => {
                let items = match e {
                    V::L(items) => items,
                    one => vec![one],
                };
                let types: Vec<String> = items
                    .iter()
                    .filter_map(|t| t.s().map(str::to_string))
                    .filter(|t| t.contains('.'))
                    .collect();
                (Some((path, types)), None)
            }
        }
    }

    /// The resources that launch instances, each with its launch template.
    fn holders(&mut self, catalog: &Catalog) -> Vec<(Holder, Option<String>)> {
        let mut out = Vec::new();
        for asg in self.of_type("AWS::AutoScaling::AutoScalingGroup") {
            let mut h = Holder::new(asg);
            let min = self.count_of(self.prop(asg, "MinSize")).unwrap_or(0);
            let max = self.count_of(self.prop(asg, "MaxSize")).unwrap_or(min);
            h.count = self
                .count_of(self.prop(asg, "DesiredCapacity"))
                .unwrap_or(min);
            h.max_count = max;
            h.subnets = Some((
                ppath(asg, "VPCZoneIdentifier"),
                self.subnet_list(self.prop(asg, "VPCZoneIdentifier")),
            ));
            if let Some(v) = self.prop(asg, "PlacementGroup") {
                h.placement = Some((ppath(asg, "PlacementGroup"), self.doc.eval(v)));
            }
            let mixed = self.prop(asg, "MixedInstancesPolicy");
            let overrides = mixed
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
                h.types = Some((
                    format!(
                        "{}.LaunchTemplate.Overrides",
                        ppath(asg, "MixedInstancesPolicy")
                    ),
                    types,
                ));
                // Paths of overrides are `Overrides[j].InstanceType`, set below.
            }
            h.spot = mixed
                .and_then(|m| m.get("InstancesDistribution"))
                .and_then(|d| d.get("OnDemandPercentageAboveBaseCapacity"))
                .map(|v| self.doc.eval(v))
                .as_ref()
                .and_then(as_u32)
                == Some(0);
            let lt = self.template_named(self.prop(asg, "LaunchTemplate").or_else(|| {
                mixed?
                    .get("LaunchTemplate")?
                    .get("LaunchTemplateSpecification")
            }));
            out.push((h, lt));
        }
        for ce in self.of_type("AWS::Batch::ComputeEnvironment") {
            let Some(cr) = self.prop(ce, "ComputeResources").and_then(Value::as_object) else {
                continue; // unmanaged: its instances are the user's
            };
            let base = ppath(ce, "ComputeResources");
            let mut h = Holder::new(ce);
            let (types, unknown) =
                self.types_of(cr.get("InstanceTypes"), format!("{base}.InstanceTypes"));
            h.types = types;
            h.types_unknown = unknown;
            h.subnets = Some((
                format!("{base}.Subnets"),
                self.subnet_list(cr.get("Subnets")),
            ));
            h.groups = self.groups_of(cr.get("SecurityGroupIds"));
            h.groups_path = format!("{base}.SecurityGroupIds");
            if let Some(v) = cr.get("PlacementGroup") {
                h.placement = Some((format!("{base}.PlacementGroup"), self.doc.eval(v)));
            }
            // vCPU limits in nodes of the (first) instance type.
            let vcpus = h
                .types
                .as_ref()
                .and_then(|(_, t)| t.first())
                .and_then(|t| catalog.get(t))
                .and_then(|t| t.vcpus)
                .filter(|&v| v > 0);
            let nodes = |x: Option<u32>| x.zip(vcpus).map(|(c, v)| c / v);
            h.max_count = nodes(self.count_of(cr.get("MaxvCpus"))).unwrap_or(1).max(1);
            h.count = h.max_count;
            h.spot = cr
                .get("Type")
                .map(|v| self.doc.eval(v))
                .as_ref()
                .and_then(V::s)
                == Some("SPOT");
            let lt = self.template_named(cr.get("LaunchTemplate"));
            if let (None, Some(spec)) = (&lt, cr.get("LaunchTemplate")) {
                h.template_unknown = Some(self.why_unknown(spec));
            }
            out.push((h, lt));
        }
        for eks in self.of_type("AWS::EKS::Nodegroup") {
            let mut h = Holder::new(eks);
            let (types, unknown) =
                self.types_of(self.prop(eks, "InstanceTypes"), ppath(eks, "InstanceTypes"));
            h.types = types;
            h.types_unknown = unknown;
            h.subnets = Some((
                ppath(eks, "Subnets"),
                self.subnet_list(self.prop(eks, "Subnets")),
            ));
            let scaling = self.prop(eks, "ScalingConfig");
            let get = |k: &str| scaling.and_then(|s| s.get(k));
            let min = self.count_of(get("MinSize")).unwrap_or(1);
            h.count = self.count_of(get("DesiredSize")).unwrap_or(min);
            h.max_count = self.count_of(get("MaxSize")).unwrap_or(h.count);
            // Without groups in its launch template a managed node group gets the EKS
            // cluster's security group, which EKS creates: its rules are not in the template.
            h.groups = Groups::Unknown(
                "the node group uses the EKS cluster security group, which EKS creates".into(),
                None,
            );
            h.groups_path = rpath(eks);
            h.spot = self
                .prop(eks, "CapacityType")
                .map(|v| self.doc.eval(v))
                .as_ref()
                .and_then(V::s)
                == Some("SPOT");
            let lt = self.template_named(self.prop(eks, "LaunchTemplate"));
            if let (None, Some(spec)) = (&lt, self.prop(eks, "LaunchTemplate")) {
                h.template_unknown = Some(self.why_unknown(spec));
            }
            out.push((h, lt));
        }
        for pcs in self.of_type("AWS::PCS::ComputeNodeGroup") {
            let mut h = Holder::new(pcs);
            let configs = self.prop(pcs, "InstanceConfigs").and_then(Value::as_array);
            let types: Vec<String> = configs
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("InstanceType"))
                .filter_map(|v| self.doc.eval(v).s().map(str::to_string))
                .collect();
            if let Some(raw) = configs
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("InstanceType"))
                .find(|v| matches!(self.doc.eval(v), V::Unknown | V::Param(_)))
            {
                h.types_unknown = Some(self.why_unknown(raw));
            }
            h.types = Some((ppath(pcs, "InstanceConfigs"), types));
            h.subnets = Some((
                ppath(pcs, "SubnetIds"),
                self.subnet_list(self.prop(pcs, "SubnetIds")),
            ));
            let scaling = self.prop(pcs, "ScalingConfiguration");
            let get = |k: &str| scaling.and_then(|s| s.get(k));
            h.count = self.count_of(get("MinInstanceCount")).unwrap_or(0);
            h.max_count = self.count_of(get("MaxInstanceCount")).unwrap_or(h.count);
            let lt = self.template_named(self.prop(pcs, "CustomLaunchTemplate"));
            if let (None, Some(spec)) = (&lt, self.prop(pcs, "CustomLaunchTemplate")) {
                h.template_unknown = Some(self.why_unknown(spec));
            }
            out.push((h, lt));
        }
        for sm in self.of_type("AWS::SageMaker::Cluster") {
            let vpc = self.prop(sm, "VpcConfig");
            let groups = self.groups_of(vpc.and_then(|v| v.get("SecurityGroupIds")));
            let subnets = self.subnet_list(vpc.and_then(|v| v.get("Subnets")));
            let list = self.prop(sm, "InstanceGroups").and_then(Value::as_array);
            for (i, g) in list.into_iter().flatten().enumerate() {
                let gp = format!("{}[{i}]", ppath(sm, "InstanceGroups"));
                let name = g
                    .get("InstanceGroupName")
                    .map(|v| self.doc.eval(v))
                    .and_then(|v| v.s().map(str::to_string))
                    .unwrap_or_else(|| format!("{sm}[{i}]"));
                let mut h = Holder::new(&format!("{sm}.{name}"));
                let (types, unknown) =
                    self.types_of(g.get("InstanceType"), format!("{gp}.InstanceType"));
                h.types = types.map(|(_, t)| (format!("{gp}.InstanceType"), t));
                h.types_unknown = unknown;
                h.count = self.count_of(g.get("InstanceCount")).unwrap_or(1);
                h.max_count = h.count;
                h.groups = groups.clone();
                h.groups_path = format!("{}.SecurityGroupIds", ppath(sm, "VpcConfig"));
                h.subnets = Some((
                    format!("{}.Subnets", ppath(sm, "VpcConfig")),
                    subnets.clone(),
                ));
                h.auto_efa = true;
                out.push((h, None));
            }
        }
        out
    }

    pub(super) fn node_groups(
        &mut self,
        placement: &mut Vec<PlacementGroup>,
        catalog: &Catalog,
    ) -> Vec<NodeGroup> {
        let mut out = Vec::new();
        let mut launches: Vec<(String, Launch)> = Vec::new();
        for lt in self.of_type("AWS::EC2::LaunchTemplate") {
            let Some(data) = self.launch_template_data(lt) else {
                continue;
            };
            let l = self.launch(lt, data, &ppath(lt, "LaunchTemplateData"), false, placement);
            launches.push((lt.to_string(), l));
        }
        let holders = self.holders(catalog);
        let mut used: Vec<String> = Vec::new();
        for (h, lt) in &holders {
            let launch = match lt {
                Some(lt) => {
                    used.push(lt.clone());
                    launches.iter().find(|(id, _)| id == lt).map(|(_, l)| l)
                }
                None => None,
            };
            if launch.is_none() {
                if let Some(why) = &h.template_unknown {
                    self.not_judged(
                        &rpath(&h.id),
                        "the network interfaces (EFA, security groups) of these instances were",
                        why,
                    );
                    continue;
                }
            }
            let empty;
            let launch = match launch {
                Some(l) => l,
                None => {
                    // No launch template of this template: the holder's own settings only.
                    let mut ng = Holder::empty_launch(&h.id);
                    ng.ng.name = h.id.clone();
                    empty = ng;
                    &empty
                }
            };
            if let Some(ng) = self.finish(launch, Some(h), placement, catalog) {
                out.push(ng);
            }
        }
        for (id, l) in &launches {
            if used.contains(id) {
                continue;
            }
            if let Some(ng) = self.finish(l, None, placement, catalog) {
                out.push(ng);
            }
        }
        for inst in self.of_type("AWS::EC2::Instance") {
            let Some(props) = self.props(inst) else {
                continue;
            };
            let mut l = self.launch(
                inst,
                props,
                &format!("{}.Properties", rpath(inst)),
                true,
                placement,
            );
            // An instance from a launch template takes what it does not set from it.
            if let Some(lt) = self.template_named(props.get("LaunchTemplate")) {
                if let Some((_, t)) = launches.iter().find(|(id, _)| *id == lt) {
                    if l.ng.instance_types.is_empty() {
                        l.ng.instance_types = t.ng.instance_types.clone();
                    }
                    if !l.nics_written {
                        l.ng.interfaces = t.ng.interfaces.clone();
                        l.open_nics = t.open_nics.clone();
                        l.nics_written = t.nics_written;
                        l.nics_unknown = t.nics_unknown.clone();
                    }
                    l.groups = l.groups.clone().or(t.groups.clone());
                }
            }
            if let Some(ng) = self.finish(&l, None, placement, catalog) {
                out.push(ng);
            }
        }
        out
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

impl Holder {
    /// Launch data for a holder that names no launch template of this template.
    fn empty_launch(id: &str) -> Launch {
        Launch {
            ng: NodeGroup {
                name: id.to_string(),
                role: NodeRole::Compute,
                instance_types: Vec::new(),
                count: 1,
                max_count: 1,
                efa: EfaSetting::Auto,
                interfaces: Vec::new(),
                subnets: Vec::new(),
                security_groups: Vec::new(),
                placement_group: None,
                capacity: Capacity::OnDemand,
                public_ip: false,
                instance_role: None,
                ami: None,
                instances: Vec::new(),
                origin: Origin::Spec(rpath(id)),
            },
            groups: Groups::Absent,
            open_nics: Vec::new(),
            nics_unknown: None,
            nics_written: false,
            type_unknown: None,
        }
    }
}
