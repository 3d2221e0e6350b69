//! eksctl `ClusterConfig` files (`apiVersion: eksctl.io/v1alpha5`), read into the model as
//! eksctl builds the node groups:
//!
//! - each entry of `nodeGroups` (self-managed) and `managedNodeGroups` is a node group of its
//!   `instanceType` (or `instanceTypes`, `instancesDistribution.instanceTypes`), counted by
//!   `desiredCapacity` (else `minSize`, else eksctl's default of 2) up to `maxSize`;
//! - `efaEnabled: true` gives every network card of the type an EFA (eksctl's
//!   `buildNetworkInterfaces`: card 0 device 0, then device 1 on each further card) and a
//!   security group that allows all traffic to and from itself (`EFASG`; on EKS 1.33 and later
//!   managed groups rely on the cluster security group, which has the same self rules);
//!   without it, one ordinary interface;
//! - the zones a group launches in: its `subnets` (names of `vpc.subnets` or ids) or its
//!   `availabilityZones`, else the cluster's `availabilityZones` (eksctl makes a subnet in each)
//!   or the subnets of `vpc.subnets`; an EFA group that lists none gets the first of those, as
//!   eksctl picks one, and one that lists two or more is EFA015 (eksctl refuses it);
//! - `placement.groupName` names an existing placement group; `capacityReservation` targets a
//!   reservation, and `instanceMarketOptions.marketType: capacity-block` a Capacity Block;
//! - `privateNetworking: false` (the default) puts the nodes in public subnets; eksctl asks
//!   for no public address itself (`AssociatePublicIpAddress` unset), so EC2 gives one only
//!   to single-interface nodes and never refuses the launch.
//!
//! The VPC and subnets eksctl creates, or the existing ones `vpc.subnets` names by id, are not
//! described in the file (routes, endpoints, DNS, free addresses): the rules that need them do
//! not run, and a note says so for existing ids. `PLACEHOLDER_...`, `${VAR}` and `<...>` values
//! are unknown, never guessed.

use super::value::{at, flag, number, strings, text, Val};
use super::{note, Format, Input, PathMap, Probe, Read};
use crate::finding::{Category, Finding, Severity, Subject};
use crate::model::*;
use crate::rules::Options;
use crate::spec::{diag, SourceMap};
use serde_json::Value;

pub struct Eksctl;

impl Format for Eksctl {
    fn name(&self) -> &'static str {
        "eksctl ClusterConfig"
    }

    fn shape(&self) -> &'static str {
        "`apiVersion: eksctl.io/v1alpha5` and `kind: ClusterConfig`"
    }

    fn detect(&self, probe: &Probe<'_>) -> bool {
        probe
            .top_str("apiVersion")
            .is_some_and(|v| v.starts_with("eksctl.io/"))
    }

    fn read(&self, input: &Input<'_>) -> Read {
        let source = SourceMap::new(input.file, input.text, input.root);
        let Some(root) = input.root else {
            return Read::failed(source, Vec::new());
        };
        let json = crate::cfn_read::to_json(root);
        let mut rd = Reader {
            catalog: input.catalog,
            findings: Vec::new(),
            paths: PathMap::default(),
            not_described: Vec::new(),
            sgs: Vec::new(),
        };
        let cluster = rd.cluster(&json);
        for (path, message) in super::not_described(std::mem::take(&mut rd.not_described)) {
            rd.findings.push(note(
                &path,
                message,
                "`efactl audit` judges them in the account once the cluster runs".into(),
            ));
        }
        Read {
            cluster: Some(cluster),
            source,
            findings: rd.findings,
            paths: Some(rd.paths),
            options: Options::default(),
        }
    }
}

/// eksctl's own placeholders and the usual template ones.
fn unknown(s: &str) -> bool {
    s.starts_with("PLACEHOLDER") || super::value::is_placeholder(s)
}

fn known(v: Val<String>) -> Val<String> {
    match v {
        Val::Known(s) if unknown(&s) || s.trim().is_empty() => Val::Unknown(s),
        v => v,
    }
}

/// A subnet of `vpc.subnets`: its name, id and zone when written.
struct NamedSubnet {
    name: String,
    private: bool,
    id: Val<String>,
    az: Option<String>,
}

struct Reader<'a> {
    catalog: &'a crate::Catalog,
    findings: Vec<Finding>,
    paths: PathMap,
    not_described: Vec<(String, &'static str, String)>,
    sgs: Vec<SecurityGroup>,
}

impl Reader<'_> {
    fn cluster(&mut self, json: &Value) -> Cluster {
        let mut c = Cluster::blank(
            ReadFrom::Eksctl,
            Target::CloudFormation,
            Scheduler::Kubernetes,
        );
        if let Val::Known(n) = known(text(at(json, &["metadata", "name"]))) {
            c.name = n;
        }
        if let Val::Known(r) = known(text(at(json, &["metadata", "region"]))) {
            c.region = r;
        }
        c.vpc.origin = Origin::Implied("vpc".into());
        // eksctl's EFA group holds both self rules; every group on an EFA interface is judged.
        c.settings.efa_sg_mode = SgMode::Every;
        let zones: Vec<String> = strings(json.get("availabilityZones"))
            .into_iter()
            .filter_map(|z| match known(z) {
                Val::Known(z) => Some(z),
                _ => None,
            })
            .collect();
        let named = self.vpc_subnets(json);
        for field in ["nodeGroups", "managedNodeGroups"] {
            let Some(Value::Array(groups)) = json.get(field) else {
                continue;
            };
            for (i, g) in groups.iter().enumerate() {
                let path = format!("{field}[{i}]");
                if let Some(ng) = self.group(g, &path, field == "managedNodeGroups", &zones, &named)
                {
                    c.node_groups.push(ng);
                }
            }
        }
        c.security_groups = std::mem::take(&mut self.sgs);
        c
    }

    fn vpc_subnets(&mut self, json: &Value) -> Vec<NamedSubnet> {
        let mut out = Vec::new();
        for kind in ["private", "public"] {
            let Some(Value::Object(m)) = at(json, &["vpc", "subnets", kind]) else {
                continue;
            };
            for (name, s) in m {
                let path = format!("vpc.subnets.{kind}.{name}.id");
                let id = known(text(s.get("id")));
                match &id {
                    Val::Known(id) => self.not_described.push((path, "subnet", id.clone())),
                    Val::Unknown(raw) => self.placeholder(&path, "the subnet", raw),
                    Val::Absent => {}
                }
                let az = match known(text(s.get("az"))) {
                    Val::Known(z) => Some(z),
                    _ => None,
                };
                out.push(NamedSubnet {
                    name: name.clone(),
                    private: kind == "private",
                    id,
                    az,
                });
            }
        }
        out
    }

    fn group(
        &mut self,
        g: &Value,
        path: &str,
        managed: bool,
        cluster_zones: &[String],
        named: &[NamedSubnet],
    ) -> Option<NodeGroup> {
        let name = match text(g.get("name")) {
            Val::Known(n) | Val::Unknown(n) => n,
            Val::Absent => {
                self.findings.push(Finding {
                    rule: diag::MISSING_FIELD.id.into(),
                    name: diag::MISSING_FIELD.name.into(),
                    severity: Severity::Error,
                    category: Category::Input,
                    subject: Subject::path(path.to_string()),
                    message: "this node group has no `name`, which eksctl requires".into(),
                    help: None,
                });
                return None;
            }
        };
        let what = format!(
            "{} `{name}`",
            if managed {
                "managed node group"
            } else {
                "node group"
            }
        );
        for (model, file) in [
            ("instanceType", "instanceType"),
            ("efa", "efaEnabled"),
            ("placementGroup", "placement"),
            ("publicIp", "privateNetworking"),
        ] {
            self.paths
                .alias(format!("{path}.{model}"), format!("{path}.{file}"));
        }
        let subnets_field = if g.get("subnets").is_some() {
            "subnets"
        } else {
            "availabilityZones"
        };
        for f in ["subnet", "subnets"] {
            self.paths
                .alias(format!("{path}.{f}"), format!("{path}.{subnets_field}"));
        }

        // The instance types.
        let written: Vec<(String, Val<String>)> = match text(g.get("instanceType")) {
            Val::Absent => {
                let (field, list) = match g.get("instanceTypes") {
                    Some(v) => ("instanceTypes", Some(v)),
                    None => (
                        "instancesDistribution.instanceTypes",
                        at(g, &["instancesDistribution", "instanceTypes"]),
                    ),
                };
                strings(list)
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| (format!("{path}.{field}[{i}]"), known(t)))
                    .collect()
            }
            v => vec![(format!("{path}.instanceType"), known(v))],
        };
        let mut types = Vec::new();
        for (p, t) in written {
            match t {
                Val::Known(t) if self.catalog.get(&t).is_some() => types.push(t),
                Val::Known(t) => {
                    self.findings
                        .push(crate::read::not_in_catalog(&p, &what, &t));
                    return None;
                }
                Val::Unknown(raw) => {
                    self.placeholder(&p, &what, &raw);
                    return None;
                }
                Val::Absent => {}
            }
        }
        if types.is_empty() {
            // eksctl's default type (m5.large) carries no EFA: nothing the rules judge.
            return None;
        }

        // Counts: eksctl's default is 2 nodes.
        let n = |k: &str| match number(g.get(k)) {
            Val::Known(n) => Some(n),
            _ => None,
        };
        let count = n("desiredCapacity").or(n("minSize")).unwrap_or(2);
        let max_count = n("maxSize").unwrap_or(count).max(count);

        let efa = flag(g.get("efaEnabled")) == Val::Known(true);
        let mut groups = Vec::new();
        if efa {
            let key = format!("{path}.EFASG");
            let origin = Origin::Implied(format!("{path}.efaEnabled"));
            self.sgs.push(SecurityGroup {
                key: key.clone(),
                id: None,
                name: format!("EFA group of {what} (created by eksctl)"),
                ingress: vec![crate::read::aws::all_traffic(&key, origin.clone())],
                egress: vec![
                    crate::read::aws::all_traffic(&key, origin.clone()),
                    crate::read::aws::default_egress(origin.clone()),
                ],
                origin,
            });
            groups.push(key);
        }
        for (i, id) in strings(at(g, &["securityGroups", "attachIDs"]))
            .into_iter()
            .enumerate()
        {
            let p = format!("{path}.securityGroups.attachIDs[{i}]");
            match known(id) {
                Val::Known(id) => self.not_described.push((p, "security group", id)),
                Val::Unknown(raw) => self.placeholder(&p, "the security group", &raw),
                Val::Absent => {}
            }
        }
        let t = self.catalog.get(&types[0]);
        let interfaces = crate::resolve::default_layout(
            t,
            if efa { EfaSetting::On } else { EfaSetting::Off },
            InterfaceType::Efa,
            &groups,
            path,
        );

        // Where the nodes launch: one subnet per zone.
        let private = flag(g.get("privateNetworking")) == Val::Known(true);
        let mut subnets = self.zones_of(g, private, cluster_zones, named);
        // eksctl launches an EFA group in one subnet of those it would use: it refuses a group
        // that lists more itself, and picks the first of the cluster's (its `AssignSubnets`:
        // "EFA enabled with multiple subnets selects only one subnet").
        if efa && g.get("subnets").is_none() && g.get("availabilityZones").is_none() {
            subnets.truncate(1);
        }

        let placement = match known(text(at(g, &["placement", "groupName"]))) {
            Val::Known(n) => {
                self.not_described.push((
                    format!("{path}.placement.groupName"),
                    "placement group",
                    n.clone(),
                ));
                Some(n)
            }
            Val::Unknown(raw) => {
                self.placeholder(
                    &format!("{path}.placement.groupName"),
                    "the placement group",
                    &raw,
                );
                Some(raw)
            }
            Val::Absent => None,
        };
        let reservation = text(at(
            g,
            &[
                "capacityReservation",
                "capacityReservationTarget",
                "capacityReservationID",
            ],
        ));
        let block = text(at(g, &["instanceMarketOptions", "marketType"]))
            == Val::Known("capacity-block".into());
        let capacity = match (reservation, block) {
            (Val::Known(id) | Val::Unknown(id), true) => Capacity::CapacityBlock { id },
            (Val::Absent, true) => Capacity::CapacityBlock { id: String::new() },
            (Val::Known(id) | Val::Unknown(id), false) => Capacity::Reservation {
                id,
                placement_group: None,
            },
            (Val::Absent, false)
                if flag(g.get("spot")) == Val::Known(true)
                    || matches!(
                        number(at(g, &["instancesDistribution", "onDemandPercentageAboveBaseCapacity"])),
                        Val::Known(p) if p < 100
                    ) =>
            {
                Capacity::Spot
            }
            _ => Capacity::OnDemand,
        };
        Some(NodeGroup {
            name,
            role: NodeRole::Compute,
            instance_types: types,
            count,
            max_count,
            efa: if efa { EfaSetting::On } else { EfaSetting::Off },
            interfaces,
            subnets,
            security_groups: groups,
            placement_group: placement,
            capacity,
            // eksctl leaves `AssociatePublicIpAddress` unset on its launch templates: public
            // subnets hand out addresses themselves, and none to multi-interface nodes.
            public_ip: false,
            instance_role: None,
            ami: None,
            instances: Vec::new(),
            origin: Origin::Spec(path.to_string()),
        })
    }

    /// The subnets a group launches in, one per zone where only zones are known: names of
    /// `vpc.subnets` resolve to their ids.
    fn zones_of(
        &mut self,
        g: &Value,
        private: bool,
        cluster_zones: &[String],
        named: &[NamedSubnet],
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |s: String| {
            if !out.contains(&s) {
                out.push(s);
            }
        };
        let listed = strings(g.get("subnets"));
        if !listed.is_empty() {
            for s in listed {
                match known(s) {
                    Val::Known(s) => match named.iter().find(|n| n.name == s) {
                        Some(n) => match &n.id {
                            Val::Known(id) => add(id.clone()),
                            _ => add(match &n.az {
                                Some(z) => format!("{} ({z})", n.name),
                                None => n.name.clone(),
                            }),
                        },
                        None => add(s),
                    },
                    // A placeholder still names one subnet.
                    Val::Unknown(raw) => add(raw),
                    Val::Absent => {}
                }
            }
            return out;
        }
        let zones: Vec<String> = match strings(g.get("availabilityZones")) {
            z if !z.is_empty() => z
                .into_iter()
                .filter_map(|z| match z {
                    Val::Known(z) | Val::Unknown(z) => Some(z),
                    Val::Absent => None,
                })
                .collect(),
            _ => cluster_zones.to_vec(),
        };
        let kind = if private { "private" } else { "public" };
        if zones.is_empty() {
            // The subnets of `vpc.subnets` of the kind the group uses.
            for n in named.iter().filter(|n| n.private == private) {
                match &n.id {
                    Val::Known(id) => add(id.clone()),
                    _ => add(n.name.clone()),
                }
            }
            return out;
        }
        for z in zones {
            add(format!("{kind} subnet in {z}"));
        }
        out
    }

    fn placeholder(&mut self, path: &str, what: &str, raw: &str) {
        self.findings.push(note(
            path,
            format!("{what} not judged: `{raw}` is filled in before eksctl reads the file"),
            "check the config as eksctl gets it, after the script fills it in".into(),
        ));
    }
}
