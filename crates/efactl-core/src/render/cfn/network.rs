//! The network: the VPC with its internet gateway, the subnets with their route tables and
//! default routes, the NAT gateway (and, when the spec has no public subnet, the small public
//! subnet that holds it), and the VPC endpoints (interface and gateway). Also how the other
//! families refer to a subnet or a route table, created or existing.

use super::{att, logical_id, r, sub, Builder};
use crate::model::*;
use crate::render::conventions::var_part;
use serde_json::{json, Map, Value};

impl<'a> Builder<'a> {
    pub(super) fn vpc(&mut self) {
        let c = self.c;
        if !self.vpc_created() {
            return;
        }
        let cidr = c
            .vpc
            .cidr
            .map(|x| x.to_string())
            .unwrap_or_else(|| "10.0.0.0/16".into());
        let dns = match (c.vpc.dns_support, c.vpc.dns_hostnames) {
            (true, true) => "DNS support and hostnames are on: interface endpoints' private DNS and the nodes' own hostnames depend on both.".to_string(),
            _ => format!(
                "DNS support {}, DNS hostnames {}, as the spec says (efactl check warns about it).",
                if c.vpc.dns_support { "on" } else { "off" },
                if c.vpc.dns_hostnames { "on" } else { "off" }
            ),
        };
        self.put(
            "Vpc",
            "AWS::EC2::VPC",
            Some(format!(
                "The cluster's own VPC ({cidr}): the spec names no existing one. {dns}"
            )),
            json!({
                "CidrBlock": cidr,
                "EnableDnsSupport": c.vpc.dns_support,
                "EnableDnsHostnames": c.vpc.dns_hostnames,
                "Tags": self.tags("vpc"),
            }),
        );
        self.output("VpcId", "The cluster's VPC.".into(), r("Vpc"));
        if let Some(Value::Object(igw)) = self.igw.clone() {
            let id = igw["Ref"].as_str().unwrap_or("InternetGateway").to_string();
            self.put(
                &id,
                "AWS::EC2::InternetGateway",
                Some(if self.created_subnets().any(|s| s.internet == Internet::Public) {
                    "The way out for the public subnets (and for the NAT gateway, if any)."
                        .to_string()
                } else {
                    "Needed by the NAT gateway: a NAT gateway sends its traffic out through the VPC's internet gateway.".to_string()
                }),
                json!({ "Tags": self.tags("igw") }),
            );
            self.put(
                "InternetGatewayAttachment",
                "AWS::EC2::VPCGatewayAttachment",
                Some(
                    "Attaches the internet gateway to the VPC; routes to it wait for this.".into(),
                ),
                json!({ "VpcId": r("Vpc"), "InternetGatewayId": r(&id) }),
            );
        }
    }

    fn zone_props(zone: Option<&Zone>) -> (String, Value) {
        match zone {
            Some(Zone::Name(z)) => ("AvailabilityZone".into(), Value::String(z.clone())),
            Some(Zone::Id(z)) => ("AvailabilityZoneId".into(), Value::String(z.clone())),
            // No zone in the spec: every subnet in the region's first zone, so EFA groups
            // stay in one zone.
            None => (
                "AvailabilityZone".into(),
                json!({ "Fn::Select": [0, { "Fn::GetAZs": "" }] }),
            ),
        }
    }

    pub(super) fn subnets(&mut self) {
        let c = self.c;
        let created: Vec<&Subnet> = self.created_subnets().collect();
        let n = created.len();
        for (i, s) in created.iter().enumerate() {
            let id = self.subnet_id[&s.key].clone();
            let rt = self.rtb_id[&s.route_table].clone();
            let users: Vec<&str> = c
                .node_groups
                .iter()
                .filter(|ng| ng.subnets.contains(&s.key))
                .map(|ng| ng.name.as_str())
                .collect();
            let who = match users.len() {
                0 => String::new(),
                1 => format!(
                    " Node group {} launches here.",
                    crate::rules::and_list(&users)
                ),
                _ => format!(
                    " Node groups {} launch here.",
                    crate::rules::and_list(&users)
                ),
            };
            let cidr = match s.cidr {
                Some(x) => Value::String(x.to_string()),
                None => {
                    json!({ "Fn::Select": [i, { "Fn::Cidr": [{ "Fn::GetAtt": ["Vpc", "CidrBlock"] }, n.max(1), 8] }] })
                }
            };
            let (zk, zv) = Self::zone_props(s.zone.as_ref().or(c.zone.as_ref()));
            let mut props = Map::new();
            props.insert("VpcId".into(), self.vpc.clone());
            props.insert("CidrBlock".into(), cidr);
            props.insert(zk, zv);
            props.insert(
                "MapPublicIpOnLaunch".into(),
                Value::Bool(s.map_public_ip_on_launch),
            );
            props.insert("Tags".into(), self.tags(&s.key));
            self.put(
                &id,
                "AWS::EC2::Subnet",
                Some(format!(
                    "Subnet `{}` ({}): {}.{who}",
                    s.key,
                    s.internet.name(),
                    route_words(s.internet)
                )),
                Value::Object(props),
            );
            self.route_table(&id, &rt, s.internet, &s.key);
            self.output(
                &format!("{id}Id"),
                format!(
                    "Subnet `{}` (placeholder EFACTL_SUBNET_{} of the other renderings).",
                    s.key,
                    var_part(&s.key)
                ),
                r(&id),
            );
        }
        if let Some((id, cidr)) = self.nat_subnet.clone() {
            let zone = created
                .iter()
                .find(|s| s.internet == Internet::Nat)
                .and_then(|s| s.zone.clone())
                .or_else(|| c.zone.clone());
            let (zk, zv) = Self::zone_props(zone.as_ref());
            let mut props = Map::new();
            props.insert("VpcId".into(), self.vpc.clone());
            props.insert("CidrBlock".into(), Value::String(cidr.to_string()));
            props.insert(zk, zv);
            props.insert("MapPublicIpOnLaunch".into(), Value::Bool(false));
            props.insert("Tags".into(), self.tags("nat"));
            self.put(
                &id,
                "AWS::EC2::Subnet",
                Some(format!(
                    "Not in the spec: a small public subnet ({cidr}, the highest free /28 of the VPC) that only holds the NAT gateway, because the spec asks for `internet: nat` but has no public subnet to put one in. No node launches here."
                )),
                Value::Object(props),
            );
            let rt = self.ids.claim(&format!("{id}RouteTable"));
            self.route_table(&id, &rt, Internet::Public, "nat");
        }
        if let (Some(Value::Object(nat)), true) = (self.nat.clone(), self.vpc_created()) {
            let nat_id = nat["Ref"].as_str().unwrap_or("NatGateway").to_string();
            let home = created
                .iter()
                .find(|s| s.internet == Internet::Public)
                .map(|s| self.subnet_id[&s.key].clone())
                .or_else(|| self.nat_subnet.as_ref().map(|(id, _)| id.clone()));
            if let Some(home) = home {
                self.put_with(
                    "NatGatewayEip",
                    "AWS::EC2::EIP",
                    Some("The NAT gateway's public address.".into()),
                    json!({ "Domain": "vpc", "Tags": self.tags("nat") }),
                    [("DependsOn".to_string(), json!("InternetGatewayAttachment"))]
                        .into_iter()
                        .collect(),
                );
                let nat_users: Vec<&str> = created
                    .iter()
                    .filter(|s| s.internet == Internet::Nat)
                    .map(|s| s.key.as_str())
                    .collect();
                self.put(
                    &nat_id,
                    "AWS::EC2::NatGateway",
                    Some(format!(
                        "Outbound-only internet for subnet{} {} (`internet: nat`): packages, the EFA installer, AWS APIs, with nothing reachable from outside.",
                        if nat_users.len() == 1 { "" } else { "s" },
                        crate::rules::and_list(&nat_users)
                    )),
                    json!({
                        "AllocationId": att("NatGatewayEip", "AllocationId"),
                        "SubnetId": r(&home),
                        "Tags": self.tags("nat"),
                    }),
                );
            }
        }
    }

    fn route_table(&mut self, subnet_id: &str, rt: &str, internet: Internet, name: &str) {
        self.put(
            rt,
            "AWS::EC2::RouteTable",
            Some(format!(
                "Routes of subnet `{name}`: {}.",
                route_words(internet)
            )),
            json!({ "VpcId": self.vpc.clone(), "Tags": self.tags(&format!("{name}-rt")) }),
        );
        let assoc = self.ids.claim(&format!("{rt}Association"));
        self.put(
            &assoc,
            "AWS::EC2::SubnetRouteTableAssociation",
            Some(format!("Gives subnet `{name}` its route table.")),
            json!({ "SubnetId": r(subnet_id), "RouteTableId": r(rt) }),
        );
        let (target_key, target, depends) = match internet {
            Internet::Public => (
                "GatewayId",
                self.igw.clone(),
                self.vpc_created()
                    .then(|| json!("InternetGatewayAttachment")),
            ),
            Internet::Nat => ("NatGatewayId", self.nat.clone(), None),
            Internet::None => return,
        };
        let Some(target) = target else { return };
        let route = self.ids.claim(&format!("{rt}DefaultRoute"));
        let mut attrs = Map::new();
        if let Some(d) = depends {
            attrs.insert("DependsOn".into(), d);
        }
        self.put_with(
            &route,
            "AWS::EC2::Route",
            Some(format!("Subnet `{name}`: {}.", route_words(internet))),
            json!({
                "RouteTableId": r(rt),
                "DestinationCidrBlock": "0.0.0.0/0",
                target_key: target,
            }),
            attrs,
        );
    }

    pub(super) fn subnet_value(&self, key: &str) -> Value {
        match self.subnet_id.get(key) {
            Some(id) => r(id),
            None => Value::String(
                self.c
                    .subnet(key)
                    .and_then(|s| s.id.clone())
                    .unwrap_or_else(|| key.to_string()),
            ),
        }
    }

    fn route_table_value(&mut self, key: &str) -> Value {
        if let Some(id) = self.rtb_id.get(key) {
            return r(id);
        }
        // The route table of an existing subnet: the stack is told which.
        let subnet = self
            .c
            .subnets
            .iter()
            .find(|s| s.route_table == key)
            .map(|s| (s.key.clone(), s.id.clone().unwrap_or_default()));
        let (name, id) = subnet.unwrap_or_else(|| (key.to_string(), String::new()));
        let p = self
            .rtb_param
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("{}RouteTableId", logical_id(&name)));
        self.param(
            &p,
            json!({
                "Type": "String",
                "AllowedPattern": "^rtb-[0-9a-f]+$",
                "Description": format!("The route table of existing subnet `{name}` ({id}): the gateway endpoints are added to it.")
            }),
        );
        r(&p)
    }

    pub(super) fn endpoints(&mut self) {
        let c = self.c;
        for e in &c.endpoints {
            let id = self
                .ids
                .claim(&format!("{}Endpoint", logical_id(&e.service)));
            let mut props = Map::new();
            props.insert("VpcId".into(), self.vpc.clone());
            props.insert(
                "ServiceName".into(),
                sub(&format!("com.amazonaws.${{AWS::Region}}.{}", e.service)),
            );
            let why = match e.kind {
                EndpointType::Interface => {
                    props.insert("VpcEndpointType".into(), json!("Interface"));
                    // One network interface per zone: EC2 refuses two subnets of one zone.
                    let mut zones: Vec<Option<Zone>> = Vec::new();
                    let mut subnets = Vec::new();
                    for k in &e.subnets {
                        let z = c
                            .subnet(k)
                            .and_then(|s| s.zone.clone().or_else(|| c.zone.clone()));
                        if z.is_some() && zones.contains(&z) {
                            continue;
                        }
                        zones.push(z);
                        subnets.push(self.subnet_value(k));
                    }
                    props.insert("SubnetIds".into(), Value::Array(subnets));
                    let sgs = self.sg_values(&e.security_groups);
                    props.insert("SecurityGroupIds".into(), Value::Array(sgs));
                    props.insert("PrivateDnsEnabled".into(), Value::Bool(e.private_dns));
                    format!(
                        "Interface endpoint for {}: nodes in subnet{} {} have no route to the internet and reach {} here{}.",
                        e.service,
                        if e.subnets.len() == 1 { "" } else { "s" },
                        crate::rules::and_list(&e.subnets),
                        e.service,
                        if e.private_dns { " under its usual name (private DNS)" } else { "" }
                    )
                }
                EndpointType::Gateway => {
                    props.insert("VpcEndpointType".into(), json!("Gateway"));
                    let rts: Vec<Value> = e
                        .route_tables
                        .iter()
                        .map(|k| self.route_table_value(k))
                        .collect();
                    props.insert("RouteTableIds".into(), Value::Array(rts));
                    let subnets: Vec<&str> = c
                        .subnets
                        .iter()
                        .filter(|s| e.route_tables.contains(&s.route_table))
                        .map(|s| s.key.as_str())
                        .collect();
                    format!(
                        "Gateway endpoint for {}: a route to {} on the route table{} of subnet{} {}, which {} no internet.",
                        e.service,
                        e.service,
                        if subnets.len() == 1 { "" } else { "s" },
                        if subnets.len() == 1 { "" } else { "s" },
                        crate::rules::and_list(&subnets),
                        if subnets.len() == 1 { "has" } else { "have" }
                    )
                }
            };
            props.insert("Tags".into(), self.tags(&format!("{}-endpoint", e.service)));
            self.put(
                &id,
                "AWS::EC2::VPCEndpoint",
                Some(why),
                Value::Object(props),
            );
        }
    }
}

/// The route out of a subnet, in words.
fn route_words(i: Internet) -> &'static str {
    match i {
        Internet::Public => "default route to the internet gateway",
        Internet::Nat => "default route to the NAT gateway (outbound only)",
        Internet::None => "no route out of the VPC: AWS services only through VPC endpoints",
    }
}
