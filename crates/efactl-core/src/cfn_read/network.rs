//! Security groups, the VPC, subnets and their routes, endpoints, placement groups, FSx.

use super::*;
use crate::cloud::records::RouteTarget;

impl<'t> Reader<'_, 't> {
    pub(super) fn sg_rule(
        &mut self,
        m: &Map<String, Value>,
        own: &str,
        ingress: bool,
        path: &str,
    ) -> Option<SgRule> {
        let d = self.doc;
        let ev = |k: &str| m.get(k).map(|v| d.eval(v));
        let proto = ev("IpProtocol")?;
        let protocol = Protocol::from_ec2(proto.s()?)?;
        let from = ev("FromPort")
            .as_ref()
            .and_then(|v| v.s()?.parse::<i64>().ok());
        let to = ev("ToPort")
            .as_ref()
            .and_then(|v| v.s()?.parse::<i64>().ok());
        let ports = match (&protocol, from, to) {
            (Protocol::Tcp | Protocol::Udp, Some(f), Some(t)) if f >= 0 && t >= f && t <= 65535 => {
                if f <= 1 && t == 65535 {
                    None
                } else {
                    Some(PortRange {
                        from: f as u16,
                        to: t as u16,
                    })
                }
            }
            _ => None,
        };
        let (group_key, prefix_key) = if ingress {
            ("SourceSecurityGroupId", "SourcePrefixListId")
        } else {
            ("DestinationSecurityGroupId", "DestinationPrefixListId")
        };
        let peer = if let Some(c) = ev("CidrIp").or_else(|| ev("CidrIpv6")) {
            Peer::Cidr(Cidr::parse(c.s()?)?)
        } else if let Some(g) = ev(group_key) {
            let k = match &g {
                V::Ref(x) | V::Att(x, _) if x == own => own.to_string(),
                _ => self.group_key(&g)?,
            };
            Peer::Group(k)
        } else if let Some(p) = ev(prefix_key) {
            Peer::PrefixList(p.s().unwrap_or("?").to_string())
        } else {
            return None;
        };
        Some(SgRule {
            protocol,
            ports,
            peer,
            origin: Origin::Spec(path.to_string()),
        })
    }

    /// Groups the template uses but does not create, as efactl's renderer describes them in
    /// `Metadata.efactl.existingSecurityGroups` (from the spec): CloudFormation ignores this,
    /// and it lets the template check as its spec did.
    pub(super) fn existing_groups(&mut self, described: Option<&Map<String, Value>>) {
        for (key, g) in described.into_iter().flatten() {
            let path = format!("Metadata.efactl.existingSecurityGroups.{key}");
            let name = g
                .get("GroupName")
                .and_then(Value::as_str)
                .unwrap_or(key)
                .to_string();
            self.sgs.push(SecurityGroup {
                key: key.clone(),
                id: Some(key.clone()),
                name,
                ingress: Vec::new(),
                egress: Vec::new(),
                origin: Origin::Spec(path.clone()),
            });
            for (prop, ingress) in [
                ("SecurityGroupIngress", true),
                ("SecurityGroupEgress", false),
            ] {
                let list = g.get(prop).and_then(Value::as_array);
                for (i, r) in list.into_iter().flatten().enumerate() {
                    let Some(m) = r.as_object() else { continue };
                    let p = format!("{path}.{prop}[{i}]");
                    if let Some(rule) = self.sg_rule(m, key, ingress, &p) {
                        if let Some(sg) = self.sgs.iter_mut().find(|s| &s.key == key) {
                            if ingress {
                                sg.ingress.push(rule);
                            } else {
                                sg.egress.push(rule);
                            }
                        }
                    }
                }
            }
        }
    }

    pub(super) fn security_groups(&mut self) {
        for id in self.of_type("AWS::EC2::SecurityGroup") {
            let path = rpath(id);
            let mut ingress = Vec::new();
            let mut egress = Vec::new();
            let inline_in = self
                .prop(id, "SecurityGroupIngress")
                .and_then(Value::as_array);
            for (i, r) in inline_in.into_iter().flatten().enumerate() {
                if let Some(m) = r.as_object() {
                    let p = format!("{}[{i}]", ppath(id, "SecurityGroupIngress"));
                    if let Some(rule) = self.sg_rule(m, id, true, &p) {
                        ingress.push(rule);
                    }
                }
            }
            let inline_out = self
                .prop(id, "SecurityGroupEgress")
                .and_then(Value::as_array);
            match inline_out {
                Some(rules) => {
                    for (i, r) in rules.iter().enumerate() {
                        if let Some(m) = r.as_object() {
                            let p = format!("{}[{i}]", ppath(id, "SecurityGroupEgress"));
                            if let Some(rule) = self.sg_rule(m, id, false, &p) {
                                egress.push(rule);
                            }
                        }
                    }
                    self.alias(format!("{path}.egress"), ppath(id, "SecurityGroupEgress"));
                }
                // No inline egress: AWS's default rule, all traffic to 0.0.0.0/0.
                None => egress.push(crate::read::aws::default_egress(Origin::Implied(
                    path.clone(),
                ))),
            }
            if inline_in.is_some() {
                self.alias(format!("{path}.ingress"), ppath(id, "SecurityGroupIngress"));
            }
            // Named by logical id, so that findings name what the template's reader sees.
            self.sgs.push(SecurityGroup {
                key: id.to_string(),
                id: None,
                name: id.to_string(),
                ingress,
                egress,
                origin: Origin::Spec(path),
            });
        }
        for (kind, ingress) in [
            ("AWS::EC2::SecurityGroupIngress", true),
            ("AWS::EC2::SecurityGroupEgress", false),
        ] {
            for id in self.of_type(kind) {
                let Some(props) = self.props(id) else {
                    continue;
                };
                let target = props.get("GroupId").map(|v| self.doc.eval(v));
                let Some(group) = target.and_then(|t| self.group_key(&t)) else {
                    continue;
                };
                let Some(rule) = self.sg_rule(props, &group, ingress, &rpath(id)) else {
                    continue;
                };
                if let Some(sg) = self.sgs.iter_mut().find(|s| s.key == group) {
                    if ingress {
                        sg.ingress.push(rule);
                    } else {
                        sg.egress.push(rule);
                    }
                }
            }
        }
    }

    pub(super) fn vpc(&mut self) -> Vpc {
        match self.of_type("AWS::EC2::VPC").first() {
            Some(id) => {
                let d = self.doc;
                let flag = |k: &str, default: bool| {
                    d.prop(id, k)
                        .map(|v| d.eval(v))
                        .and_then(|v| as_bool(&v))
                        .unwrap_or(default)
                };
                let path = rpath(id);
                for (field, prop) in [
                    ("dnsSupport", "EnableDnsSupport"),
                    ("dnsHostnames", "EnableDnsHostnames"),
                ] {
                    self.alias(format!("{path}.{field}"), ppath(id, prop));
                }
                Vpc {
                    id: None,
                    cidr: self
                        .prop(id, "CidrBlock")
                        .map(|v| self.doc.eval(v))
                        .and_then(|v| v.s().and_then(Cidr::parse)),
                    // CloudFormation's defaults are EC2's: DNS support on, hostnames off.
                    dns_support: flag("EnableDnsSupport", true),
                    dns_hostnames: flag("EnableDnsHostnames", false),
                    origin: Origin::Spec(path),
                }
            }
            None => {
                // The template works in a VPC it does not create: what it is like is unknown.
                let id = self
                    .order
                    .iter()
                    .find_map(|id| self.prop(id, "VpcId"))
                    .map(|v| self.doc.eval(v))
                    .and_then(|v| match v {
                        V::S(s) => Some(s),
                        V::Param(p) => Some(p),
                        _ => None,
                    })
                    .unwrap_or_else(|| "existing VPC".into());
                Vpc {
                    id: Some(id),
                    cidr: None,
                    dns_support: true,
                    dns_hostnames: true,
                    origin: Origin::Implied("Resources".into()),
                }
            }
        }
    }

    pub(super) fn subnets(&mut self) -> Vec<Subnet> {
        // Route table of each subnet, and the default route of each route table.
        let mut rtb_of: HashMap<String, String> = HashMap::new();
        for id in self.of_type("AWS::EC2::SubnetRouteTableAssociation") {
            let s = self.prop(id, "SubnetId").map(|v| self.doc.eval(v));
            let t = self.prop(id, "RouteTableId").map(|v| self.doc.eval(v));
            if let (Some(s), Some(t)) = (
                s.and_then(|s| self.subnet_key(&s)),
                t.and_then(|t| self.key_of(&t, &["AWS::EC2::RouteTable"])),
            ) {
                rtb_of.entry(s).or_insert(t);
            }
        }
        let mut route_of: HashMap<String, Internet> = HashMap::new();
        for id in self.of_type("AWS::EC2::Route") {
            let dest = self
                .prop(id, "DestinationCidrBlock")
                .map(|v| self.doc.eval(v));
            if dest.as_ref().and_then(V::s) != Some("0.0.0.0/0") {
                continue;
            }
            let Some(t) = self
                .prop(id, "RouteTableId")
                .map(|v| self.doc.eval(v))
                .and_then(|t| self.key_of(&t, &["AWS::EC2::RouteTable"]))
            else {
                continue;
            };
            let d = self.doc;
            let via = |k: &str| d.prop(id, k).map(|v| d.eval(v));
            // The route's target as EC2 records it; what it leads to is decided once, for
            // every reader, in `read::aws`.
            let target = if let Some(g) = via("GatewayId") {
                let igw = match &g {
                    V::Ref(x) => self.doc.kind_of(x) == Some("AWS::EC2::InternetGateway"),
                    V::S(s) => s.starts_with("igw-"),
                    V::Param(p) => says_internet_gateway(p),
                    _ => false,
                };
                if !igw {
                    continue;
                }
                RouteTarget::InternetGateway(String::new())
            } else if via("NatGatewayId").is_some() {
                RouteTarget::NatGateway(String::new())
            } else if via("TransitGatewayId").is_some() {
                RouteTarget::TransitGateway(String::new())
            } else if via("NetworkInterfaceId").is_some() {
                RouteTarget::NetworkInterface(String::new())
            } else if via("InstanceId").is_some() {
                RouteTarget::Instance(String::new())
            } else {
                continue;
            };
            let internet = crate::read::aws::internet_via(&target);
            let e = route_of.entry(t).or_insert(internet);
            if internet == Internet::Public {
                *e = Internet::Public;
            }
        }
        let mut out = Vec::new();
        for id in self.of_type("AWS::EC2::Subnet") {
            let path = rpath(id);
            let d = self.doc;
            let ev = |k: &str| d.prop(id, k).map(|v| d.eval(v));
            let zone = ev("AvailabilityZone")
                .or_else(|| ev("AvailabilityZoneId"))
                .and_then(|v| v.s().and_then(Zone::parse));
            let rtb = rtb_of.get(id).cloned();
            let internet = rtb
                .as_ref()
                .and_then(|t| route_of.get(t).copied())
                .unwrap_or(Internet::None);
            self.alias(format!("{path}.cidr"), ppath(id, "CidrBlock"));
            self.alias(
                format!("{path}.mapPublicIpOnLaunch"),
                ppath(id, "MapPublicIpOnLaunch"),
            );
            out.push(Subnet {
                key: id.to_string(),
                id: None,
                cidr: ev("CidrBlock").and_then(|v| v.s().and_then(Cidr::parse)),
                zone,
                internet,
                map_public_ip_on_launch: ev("MapPublicIpOnLaunch")
                    .and_then(|v| as_bool(&v))
                    .unwrap_or(false),
                available_ips: None,
                // A subnet with no association uses the VPC's main route table, which a
                // template-made VPC leaves with its local route only.
                route_table: rtb.unwrap_or_else(|| "main".into()),
                network_acl: None,
                origin: Origin::Spec(path),
            });
        }
        out
    }

    pub(super) fn endpoints(&mut self) -> Vec<Endpoint> {
        let mut out = Vec::new();
        for id in self.of_type("AWS::EC2::VPCEndpoint") {
            let path = rpath(id);
            let d = self.doc;
            let ev = |k: &str| d.prop(id, k).map(|v| d.eval(v));
            let service = ev("ServiceName")
                .and_then(|v| v.s().map(|s| short_service_name(s).to_string()))
                .unwrap_or_else(|| "?".into());
            // CloudFormation's defaults: a gateway endpoint, private DNS off.
            let kind = match ev("VpcEndpointType").as_ref().and_then(V::s) {
                Some(t) if t.eq_ignore_ascii_case("interface") => EndpointType::Interface,
                _ => EndpointType::Gateway,
            };
            let private_dns = ev("PrivateDnsEnabled")
                .and_then(|v| as_bool(&v))
                .unwrap_or(false);
            let subnets: Vec<String> = self
                .list(self.prop(id, "SubnetIds"))
                .iter()
                .filter_map(|v| self.subnet_key(v))
                .collect();
            let route_tables: Vec<String> = self
                .list(self.prop(id, "RouteTableIds"))
                .iter()
                .filter_map(|v| self.key_of(v, &["AWS::EC2::RouteTable"]))
                .collect();
            let mut security_groups = Vec::new();
            if kind == EndpointType::Interface {
                security_groups = self.group_keys(self.prop(id, "SecurityGroupIds"));
                if security_groups.is_empty() {
                    // An interface endpoint without groups gets the VPC's default group.
                    self.ensure_default(&path);
                    security_groups.push(crate::resolve::DEFAULT_SG.into());
                }
            }
            self.alias(
                format!("{path}.subnets"),
                ppath(
                    id,
                    if kind == EndpointType::Gateway {
                        "RouteTableIds"
                    } else {
                        "SubnetIds"
                    },
                ),
            );
            self.alias(
                format!("{path}.securityGroups"),
                ppath(id, "SecurityGroupIds"),
            );
            self.alias(format!("{path}.privateDns"), ppath(id, "PrivateDnsEnabled"));
            out.push(Endpoint {
                service,
                kind,
                private_dns,
                security_groups,
                subnets,
                route_tables,
                origin: Origin::Spec(path),
            });
        }
        out
    }

    pub(super) fn placement_groups(&mut self) -> Vec<PlacementGroup> {
        self.of_type("AWS::EC2::PlacementGroup")
            .into_iter()
            .map(|id| {
                let strategy = self
                    .prop(id, "Strategy")
                    .map(|v| self.doc.eval(v))
                    .and_then(|v| v.s().and_then(PlacementStrategy::from_name))
                    .unwrap_or(PlacementStrategy::Cluster);
                PlacementGroup {
                    key: id.to_string(),
                    name: id.to_string(),
                    strategy,
                    managed: true,
                    origin: Origin::Spec(rpath(id)),
                }
            })
            .collect()
    }

    pub(super) fn file_systems(&mut self) -> Vec<FileSystem> {
        let mut out = Vec::new();
        for id in self.of_type("AWS::FSx::FileSystem") {
            let path = rpath(id);
            let d = self.doc;
            let ev = |k: &str| d.prop(id, k).map(|v| d.eval(v));
            if !ev("FileSystemType")
                .as_ref()
                .and_then(V::s)
                .is_some_and(|t| t.eq_ignore_ascii_case("lustre"))
            {
                continue;
            }
            let subnet = self
                .list(self.prop(id, "SubnetIds"))
                .first()
                .and_then(|v| self.subnet_key(v))
                .unwrap_or_default();
            let mut security_groups = self.group_keys(self.prop(id, "SecurityGroupIds"));
            if security_groups.is_empty() {
                self.ensure_default(&path);
                security_groups.push(crate::resolve::DEFAULT_SG.into());
            }
            self.alias(format!("{path}.subnet"), ppath(id, "SubnetIds"));
            self.alias(
                format!("{path}.securityGroups"),
                ppath(id, "SecurityGroupIds"),
            );
            out.push(FileSystem {
                key: id.to_string(),
                kind: StorageKind::FsxLustre,
                id: None,
                subnet,
                security_groups,
                capacity_gib: ev("StorageCapacity").as_ref().and_then(as_u32),
                mount_path: "/fsx".into(),
                origin: Origin::Spec(path),
            });
        }
        out
    }
}

use super::standins::words;

pub(super) fn says_internet_gateway(param: &str) -> bool {
    let w = words(param);
    w.iter().any(|x| x.eq_ignore_ascii_case("igw"))
        || (w.iter().any(|x| x.eq_ignore_ascii_case("internet"))
            && w.iter().any(|x| x.eq_ignore_ascii_case("gateway")))
}
