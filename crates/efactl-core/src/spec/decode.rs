//! Strict, collecting decoder from the YAML tree to the spec types.
//!
//! Every mistake becomes an input finding with the path and span of the offending value, and
//! decoding goes on, so one run shows all of them (as cargo-deny does). Unknown keys name the
//! closest known key.

use super::diag::{self, InputRule};
use super::source_map::SourceMap;
use super::types::*;
use crate::finding::{Category, Finding, Severity, Subject};
use crate::yaml::{self, parse_bool, Kind, Node};
use std::collections::BTreeMap;

/// The outcome of reading a spec: the spec when the document could be read at all, its
/// source map, and every input finding.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub spec: Option<Spec>,
    pub source: SourceMap,
    pub findings: Vec<Finding>,
}

impl Parsed {
    pub fn has_input_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.category == Category::Input && f.severity == Severity::Error)
    }
}

/// Reads cluster.yaml text. `file` is the name used in locations.
pub fn parse_spec(file: &str, text: &str) -> Parsed {
    let mut d = Decoder {
        findings: Vec::new(),
    };
    let root = match yaml::parse(text) {
        // `null`, `~` or an empty plain scalar: a document with nothing in it.
        Ok(Some(root)) if !root.is_null() => root,
        Ok(root) => {
            d.report(
                &diag::EMPTY,
                "",
                None,
                if root.is_some() {
                    "the document is empty (a bare null)".into()
                } else {
                    "the file holds no YAML document".into()
                },
                Some(format!(
                    "start from an example: `efactl init --example p5-slurm-private {}`",
                    if file.starts_with('<') {
                        "cluster.yaml"
                    } else {
                        file
                    }
                )),
            );
            return d.finish(None, SourceMap::new(file, text, None));
        }
        Err(e) => {
            let span = yaml::Span {
                start: e.pos,
                end: e.pos,
            };
            d.report(&diag::SYNTAX, "", Some(span), e.message, None);
            return d.finish(None, SourceMap::new(file, text, None));
        }
    };
    let source = SourceMap::new(file, text, Some(&root));
    let spec = d.spec(&root);
    d.finish(spec, source)
}

struct Decoder {
    findings: Vec<Finding>,
}

impl Decoder {
    fn finish(self, spec: Option<Spec>, source: SourceMap) -> Parsed {
        let mut findings = self.findings;
        for f in &mut findings {
            source.locate(&mut f.subject);
        }
        crate::finding::sort_findings(&mut findings);
        Parsed {
            spec,
            source,
            findings,
        }
    }

    fn report(
        &mut self,
        rule: &InputRule,
        path: &str,
        span: Option<yaml::Span>,
        message: String,
        help: Option<String>,
    ) {
        let mut subject = Subject::path(path);
        if path.is_empty() {
            subject.path = None;
        }
        // The span travels in the path's place until the source map turns it into a
        // location: spans of keys (unknown keys, duplicates) are not in the path map.
        if let Some(span) = span {
            subject.location = Some(crate::finding::Location {
                file: String::new(),
                start: span.start,
                end: span.end,
            });
        }
        self.findings.push(Finding {
            rule: rule.id.into(),
            name: rule.name.into(),
            severity: Severity::Error,
            category: Category::Input,
            subject,
            message: crate::finding::clip_quoted(&message),
            help: help.map(|h| crate::finding::clip_quoted(&h)),
        });
    }

    fn wrong_type(&mut self, node: &Node, path: &str, expected: &str) {
        self.report(
            &diag::WRONG_TYPE,
            path,
            Some(node.span),
            format!("expected {expected}, found {}", node.describe()),
            None,
        );
    }

    fn invalid(&mut self, node: &Node, path: &str, message: String, help: Option<String>) {
        self.report(&diag::INVALID_VALUE, path, Some(node.span), message, help);
    }

    fn missing(&mut self, parent: &Node, path: &str, key: &str, help: Option<String>) {
        let at = if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        };
        self.report(
            &diag::MISSING_FIELD,
            &at,
            Some(first_line(parent.span)),
            format!("missing required field `{key}`"),
            help,
        );
    }

    // ---- scalars -------------------------------------------------------------------------

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            Kind::Scalar { value, .. } if !node.is_null() => Some(value.clone()),
            _ => {
                self.wrong_type(node, path, "a string");
                None
            }
        }
    }

    fn nonempty_string(&mut self, node: &Node, path: &str) -> Option<String> {
        let s = self.string(node, path)?;
        if s.trim().is_empty() {
            self.invalid(node, path, "expected a non-empty string".into(), None);
            return None;
        }
        Some(s)
    }

    fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        if let Kind::Scalar { value, plain: true } = &node.kind {
            if let Some(b) = parse_bool(value) {
                return Some(b);
            }
        }
        self.wrong_type(node, path, "`true` or `false`");
        None
    }

    fn uint(&mut self, node: &Node, path: &str, max: u64) -> Option<u64> {
        if let Kind::Scalar { value, plain: true } = &node.kind {
            let v = value.replace('_', "");
            if let Ok(n) = v.parse::<u64>() {
                if n <= max {
                    return Some(n);
                }
                self.invalid(
                    node,
                    path,
                    format!("{value} is too large: at most {max}"),
                    None,
                );
                return None;
            }
            if v.starts_with('-') && v[1..].parse::<u64>().is_ok() {
                self.invalid(
                    node,
                    path,
                    format!("expected a whole number of 0 or more, found {value}"),
                    None,
                );
                return None;
            }
        }
        self.wrong_type(node, path, "a whole number");
        None
    }

    fn u32(&mut self, node: &Node, path: &str) -> Option<u32> {
        self.uint(node, path, u64::from(u32::MAX)).map(|n| n as u32)
    }

    fn choice<T>(
        &mut self,
        node: &Node,
        path: &str,
        names: &[&str],
        from: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let s = self.string(node, path)?;
        if let Some(v) = from(&s) {
            return Some(v);
        }
        let expected = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let help = suggest(&s, names).map(|s| format!("did you mean `{s}`?"));
        self.invalid(
            node,
            path,
            format!("unknown value `{s}`: expected one of {expected}"),
            help,
        );
        None
    }

    fn strings(&mut self, node: &Node, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.list(node, path, |d, item, p| {
            if let Some(s) = d.nonempty_string(item, &p) {
                out.push(s);
            }
        });
        out
    }

    fn list(&mut self, node: &Node, path: &str, mut f: impl FnMut(&mut Self, &Node, String)) {
        match &node.kind {
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    f(self, item, format!("{path}[{i}]"));
                }
            }
            _ if node.is_null() => {}
            _ => self.wrong_type(node, path, "a list"),
        }
    }

    fn string_map(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(mut m) = Map::open(self, node, path) else {
            return out;
        };
        for (k, v) in m.entries {
            if let (Some(key), Kind::Scalar { value, .. }) = (scalar_key(k), &v.kind) {
                let p = join(path, &key);
                if v.is_null() {
                    self.wrong_type(v, &p, "a string");
                } else {
                    out.insert(key, value.clone());
                }
            } else if let Some(key) = scalar_key(k) {
                self.wrong_type(v, &join(path, &key), "a string");
            }
        }
        m.open_ended = true;
        m.finish(self);
        out
    }

    // ---- the spec ------------------------------------------------------------------------

    fn spec(&mut self, root: &Node) -> Option<Spec> {
        let mut m = Map::open(self, root, "")?;
        let mut spec = Spec::default();
        match m.take("apiVersion") {
            Some(v) => {
                if let Some(s) = self.string(v, "apiVersion") {
                    if s != API_VERSION {
                        self.report(
                            &diag::API_VERSION,
                            "apiVersion",
                            Some(v.span),
                            format!(
                                "unsupported apiVersion `{s}`: this efactl reads `{API_VERSION}`"
                            ),
                            None,
                        );
                    }
                    spec.api_version = s;
                }
            }
            None => self.missing(
                root,
                "",
                "apiVersion",
                Some(format!("add `apiVersion: {API_VERSION}` as the first line")),
            ),
        }
        match m.take("name") {
            Some(v) => {
                if let Some(s) = self.nonempty_string(v, "name") {
                    if !valid_cluster_name(&s) {
                        self.invalid(
                            v,
                            "name",
                            format!("`{s}` is not a valid cluster name"),
                            Some("use 1-60 letters, digits and hyphens, starting with a letter (it names the CloudFormation stack)".into()),
                        );
                    }
                    spec.name = s;
                }
            }
            None => self.missing(root, "", "name", None),
        }
        match m.take("region") {
            Some(v) => {
                if let Some(s) = self.nonempty_string(v, "region") {
                    if !valid_region(&s) {
                        self.invalid(
                            v,
                            "region",
                            format!("`{s}` is not an AWS region name"),
                            Some("regions look like `us-east-1` or `ap-northeast-1`".into()),
                        );
                    } else if crate::regions::find(&s).is_none() {
                        let hint = match crate::regions::suggest(&s) {
                            Some(r) => format!("did you mean `{r}`? "),
                            None => String::new(),
                        };
                        self.invalid(
                            v,
                            "region",
                            format!("`{s}` is not an AWS region"),
                            Some(format!("{hint}efactl knows the {} regions of the aws, aws-cn and aws-us-gov partitions; a region launched after this efactl needs a newer one", crate::regions::REGIONS.len())),
                        );
                    }
                    spec.region = s;
                }
            }
            None => self.missing(root, "", "region", None),
        }
        if let Some(v) = m.take("availabilityZone") {
            spec.availability_zone = self.zone(v, "availabilityZone");
        }
        if let Some(v) = m.take("target") {
            spec.target = self
                .choice(v, "target", Target::NAMES, Target::from_name)
                .unwrap_or_default();
        }
        if let Some(v) = m.take("scheduler") {
            spec.scheduler = self
                .choice(v, "scheduler", Scheduler::NAMES, Scheduler::from_name)
                .unwrap_or_default();
        } else {
            spec.scheduler = match spec.target {
                Target::Batch => Scheduler::Batch,
                _ => Scheduler::Slurm,
            };
        }
        if let Some(v) = m.take("network") {
            spec.network = self.network(v, "network");
        }
        if let Some(v) = m.take("securityGroups") {
            self.list(v, "securityGroups", |d, item, p| {
                if let Some(sg) = d.security_group(item, &p) {
                    spec.security_groups.push(sg);
                }
            });
        }
        match m.take("nodeGroups") {
            Some(v) => self.list(v, "nodeGroups", |d, item, p| {
                if let Some(ng) = d.node_group(item, &p) {
                    spec.node_groups.push(ng);
                }
            }),
            None => self.missing(root, "", "nodeGroups", None),
        }
        if let Some(v) = m.take("mpi") {
            spec.mpi = self.mpi(v, "mpi");
        }
        if let Some(v) = m.take("iam") {
            spec.iam = self.iam(v, "iam");
        }
        if let Some(v) = m.take("nccl") {
            spec.nccl = self.nccl(v, "nccl");
        }
        if let Some(v) = m.take("storage") {
            self.list(v, "storage", |d, item, p| {
                if let Some(s) = d.storage(item, &p) {
                    spec.storage.push(s);
                }
            });
        }
        if let Some(v) = m.take("parallelcluster") {
            if let Some(mut pm) = Map::open(self, v, "parallelcluster") {
                if let Some(x) = pm.take("disableManagedDns") {
                    spec.parallelcluster.disable_managed_dns = self
                        .bool(x, "parallelcluster.disableManagedDns")
                        .unwrap_or(false);
                }
                if let Some(x) = pm.take("useEc2Hostnames") {
                    spec.parallelcluster.use_ec2_hostnames = self
                        .bool(x, "parallelcluster.useEc2Hostnames")
                        .unwrap_or(false);
                }
                pm.finish(self);
            }
        }
        if let Some(v) = m.take("efaInstaller") {
            spec.efa_installer = self.efa_installer(v, "efaInstaller");
        }
        if let Some(v) = m.take("tags") {
            spec.tags = self.string_map(v, "tags");
        }
        if let Some(v) = m.take("checks") {
            spec.checks = self.checks(v, "checks");
        }
        m.finish(self);
        self.check_unique_names(&spec, root);
        self.zones_in_region(&spec);
        Some(spec)
    }

    /// Every zone the spec names must be one of its region's: render would write it into the
    /// template as given.
    fn zones_in_region(&mut self, spec: &Spec) {
        let Some(region) = crate::regions::find(&spec.region) else {
            return;
        };
        let zones = std::iter::once((
            spec.availability_zone.as_ref(),
            "availabilityZone".to_string(),
        ))
        .chain(spec.network.subnets.iter().enumerate().map(|(i, s)| {
            (
                s.availability_zone.as_ref(),
                format!("network.subnets[{i}].availabilityZone"),
            )
        }));
        for (zone, path) in zones {
            let Some(zone) = zone else { continue };
            if let Some(why) = crate::regions::zone_mismatch(region, zone) {
                self.report(
                    &diag::INVALID_VALUE,
                    &path,
                    None,
                    why,
                    Some(format!(
                        "name a zone of `{}` (`{}a`, or a zone id such as `{}-az1`), or change `region`",
                        region.code, region.code, region.zone_id_prefix
                    )),
                );
            }
        }
    }

    fn check_unique_names(&mut self, spec: &Spec, root: &Node) {
        let groups: [(&str, Vec<&str>); 5] = [
            (
                "network.subnets",
                spec.network
                    .subnets
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect(),
            ),
            (
                "securityGroups",
                spec.security_groups
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect(),
            ),
            (
                "nodeGroups",
                spec.node_groups.iter().map(|s| s.name.as_str()).collect(),
            ),
            (
                "iam.roles",
                spec.iam.roles.iter().map(|s| s.name.as_str()).collect(),
            ),
            (
                "storage",
                spec.storage.iter().map(|s| s.name.as_str()).collect(),
            ),
        ];
        for (path, names) in groups {
            let mut seen = std::collections::HashSet::new();
            for (i, n) in names.iter().enumerate() {
                if !n.is_empty() && !seen.insert(*n) {
                    let p = format!("{path}[{i}].name");
                    let span = lookup(root, &p).map(|n| n.span);
                    self.report(
                        &diag::DUPLICATE_NAME,
                        &p,
                        span,
                        format!("another entry of `{path}` is already named `{n}`"),
                        Some("names are how other parts of the spec refer to an entry: make them unique".into()),
                    );
                }
            }
        }
    }

    fn zone(&mut self, v: &Node, path: &str) -> Option<Zone> {
        let s = self.nonempty_string(v, path)?;
        let z = Zone::parse(&s);
        if z.is_none() {
            self.invalid(
                v,
                path,
                format!("`{s}` is neither an availability zone name nor a zone id"),
                Some("write a name such as `us-east-1a` or a zone id such as `use1-az6`".into()),
            );
        }
        z
    }

    fn network(&mut self, node: &Node, path: &str) -> NetworkSpec {
        let mut net = NetworkSpec::default();
        let Some(mut m) = Map::open(self, node, path) else {
            return net;
        };
        if let Some(v) = m.take("vpc") {
            let p = join(path, "vpc");
            if let Some(mut vm) = Map::open(self, v, &p) {
                if let Some(x) = vm.take("id") {
                    net.vpc.id = self.resource_id(x, &join(&p, "id"), "vpc-");
                }
                if let Some(x) = vm.take("cidr") {
                    net.vpc.cidr = self.cidr(x, &join(&p, "cidr"));
                }
                if let Some(x) = vm.take("dnsSupport") {
                    net.vpc.dns_support = self.bool(x, &join(&p, "dnsSupport")).unwrap_or(true);
                }
                if let Some(x) = vm.take("dnsHostnames") {
                    net.vpc.dns_hostnames = self.bool(x, &join(&p, "dnsHostnames")).unwrap_or(true);
                }
                vm.finish(self);
            }
        }
        if let Some(v) = m.take("subnets") {
            self.list(v, &join(path, "subnets"), |d, item, p| {
                if let Some(s) = d.subnet(item, &p) {
                    net.subnets.push(s);
                }
            });
        }
        if let Some(v) = m.take("endpoints") {
            self.list(v, &join(path, "endpoints"), |d, item, p| {
                if let Some(e) = d.endpoint(item, &p) {
                    net.endpoints.push(e);
                }
            });
        }
        m.finish(self);
        net
    }

    fn subnet(&mut self, node: &Node, path: &str) -> Option<SubnetSpec> {
        let mut m = Map::open(self, node, path)?;
        let mut s = SubnetSpec::default();
        match m.take("name") {
            Some(v) => s.name = self.nonempty_string(v, &join(path, "name"))?,
            None => {
                self.missing(node, path, "name", None);
                return None;
            }
        }
        if let Some(v) = m.take("id") {
            s.id = self.resource_id(v, &join(path, "id"), "subnet-");
        }
        if let Some(v) = m.take("cidr") {
            s.cidr = self.cidr(v, &join(path, "cidr"));
        }
        if let Some(v) = m.take("availabilityZone") {
            s.availability_zone = self.zone(v, &join(path, "availabilityZone"));
        }
        match m.take("internet") {
            Some(v) => {
                s.internet = self
                    .choice(
                        v,
                        &join(path, "internet"),
                        Internet::NAMES,
                        Internet::from_name,
                    )
                    .unwrap_or_default()
            }
            None => self.missing(
                node,
                path,
                "internet",
                Some("say how the subnet reaches the internet: `public`, `nat` or `none`".into()),
            ),
        }
        if let Some(v) = m.take("mapPublicIpOnLaunch") {
            s.map_public_ip_on_launch = self
                .bool(v, &join(path, "mapPublicIpOnLaunch"))
                .unwrap_or(false);
        }
        if let Some(v) = m.take("availableIps") {
            s.available_ips = self.u32(v, &join(path, "availableIps"));
        }
        m.finish(self);
        if s.id.is_none() && s.cidr.is_none() {
            self.invalid(
                node,
                path,
                format!(
                    "subnet `{}` needs a `cidr` (to create it) or an `id` (an existing one)",
                    s.name
                ),
                None,
            );
        }
        Some(s)
    }

    fn endpoint(&mut self, node: &Node, path: &str) -> Option<EndpointSpec> {
        let mut m = Map::open(self, node, path)?;
        let mut e = EndpointSpec {
            private_dns: true,
            ..EndpointSpec::default()
        };
        match m.take("service") {
            Some(v) => e.service = self.nonempty_string(v, &join(path, "service"))?,
            None => {
                self.missing(node, path, "service", None);
                return None;
            }
        }
        let short = crate::model::short_service_name(&e.service).to_string();
        e.kind = match m.take("type") {
            Some(v) => self
                .choice(
                    v,
                    &join(path, "type"),
                    &["interface", "gateway"],
                    |s| match s {
                        "interface" => Some(EndpointType::Interface),
                        "gateway" => Some(EndpointType::Gateway),
                        _ => None,
                    },
                )
                .unwrap_or_default(),
            // Only S3 and DynamoDB have gateway endpoints, and they are free: the natural default.
            None if short == "s3" || short == "dynamodb" => EndpointType::Gateway,
            None => EndpointType::Interface,
        };
        if let Some(v) = m.take("privateDns") {
            e.private_dns = self.bool(v, &join(path, "privateDns")).unwrap_or(true);
        }
        if let Some(v) = m.take("securityGroups") {
            e.security_groups = self.strings(v, &join(path, "securityGroups"));
        }
        if let Some(v) = m.take("subnets") {
            e.subnets = self.strings(v, &join(path, "subnets"));
        }
        m.finish(self);
        Some(e)
    }

    fn security_group(&mut self, node: &Node, path: &str) -> Option<SecurityGroupSpec> {
        let mut m = Map::open(self, node, path)?;
        let mut sg = SecurityGroupSpec::default();
        match m.take("name") {
            Some(v) => sg.name = self.nonempty_string(v, &join(path, "name"))?,
            None => {
                self.missing(node, path, "name", None);
                return None;
            }
        }
        if let Some(v) = m.take("id") {
            sg.id = self.resource_id(v, &join(path, "id"), "sg-");
        }
        if let Some(v) = m.take("selfReferencing") {
            sg.self_referencing = self
                .bool(v, &join(path, "selfReferencing"))
                .unwrap_or(false);
        }
        if let Some(v) = m.take("ingress") {
            self.list(v, &join(path, "ingress"), |d, item, p| {
                if let Some(r) = d.sg_rule(item, &p) {
                    sg.ingress.push(r);
                }
            });
        }
        if let Some(v) = m.take("egress") {
            let mut rules = Vec::new();
            self.list(v, &join(path, "egress"), |d, item, p| {
                if let Some(r) = d.sg_rule(item, &p) {
                    rules.push(r);
                }
            });
            sg.egress = Some(rules);
        }
        m.finish(self);
        Some(sg)
    }

    fn sg_rule(&mut self, node: &Node, path: &str) -> Option<SgRuleSpec> {
        let mut m = Map::open(self, node, path)?;
        let protocol = match m.take("protocol") {
            Some(v) => self.protocol(v, &join(path, "protocol"))?,
            None => {
                self.missing(
                    node,
                    path,
                    "protocol",
                    Some("`all`, `tcp`, `udp`, `icmp` or a protocol number".into()),
                );
                return None;
            }
        };
        let ports = match m.take("ports") {
            Some(v) => Some(self.ports(v, &join(path, "ports"))?),
            None => None,
        };
        let mut peers = Vec::new();
        for key in ["cidr", "securityGroup", "self", "prefixList"] {
            if let Some(v) = m.take(key) {
                let p = join(path, key);
                let peer = match key {
                    "cidr" => self.cidr(v, &p).map(PeerSpec::Cidr),
                    "securityGroup" => self.nonempty_string(v, &p).map(PeerSpec::SecurityGroup),
                    "self" => match self.bool(v, &p) {
                        Some(true) => Some(PeerSpec::SelfGroup),
                        Some(false) => {
                            self.invalid(v, &p, "`self: false` names no peer; leave it out and give `cidr`, `securityGroup` or `prefixList`".into(), None);
                            None
                        }
                        None => None,
                    },
                    _ => self.nonempty_string(v, &p).map(PeerSpec::PrefixList),
                };
                if let Some(peer) = peer {
                    peers.push(peer);
                }
            }
        }
        let description = m
            .take("description")
            .and_then(|v| self.string(v, &join(path, "description")));
        m.finish(self);
        if peers.len() != 1 {
            self.invalid(
                node,
                path,
                if peers.is_empty() {
                    "a rule needs exactly one peer: `cidr`, `securityGroup`, `self: true` or `prefixList`".into()
                } else {
                    "a rule takes exactly one peer; write one rule per peer".into()
                },
                None,
            );
            return None;
        }
        match (&protocol, ports) {
            (Protocol::Tcp | Protocol::Udp, None) => {
                self.missing(
                    node,
                    path,
                    "ports",
                    Some(
                        "TCP and UDP rules need `ports`: a port (`22`) or a range (`1018-1023`)"
                            .into(),
                    ),
                );
                return None;
            }
            (Protocol::All, Some(_)) => {
                self.invalid(
                    node,
                    path,
                    "`protocol: all` covers every port; remove `ports`".into(),
                    None,
                );
                return None;
            }
            _ => {}
        }
        Some(SgRuleSpec {
            protocol,
            ports,
            peer: peers.remove(0),
            description,
        })
    }

    fn protocol(&mut self, v: &Node, path: &str) -> Option<Protocol> {
        let s = self.string(v, path)?;
        let p = match s.to_ascii_lowercase().as_str() {
            "all" | "-1" => Protocol::All,
            "tcp" | "6" => Protocol::Tcp,
            "udp" | "17" => Protocol::Udp,
            "icmp" | "1" => Protocol::Icmp,
            other => match other.parse::<u8>() {
                Ok(n) => Protocol::Other(n),
                Err(_) => {
                    let help = suggest(other, &["all", "tcp", "udp", "icmp"])
                        .map(|s| format!("did you mean `{s}`?"));
                    self.invalid(
                        v,
                        path,
                        format!("unknown protocol `{s}`: expected `all`, `tcp`, `udp`, `icmp` or a protocol number"),
                        help,
                    );
                    return None;
                }
            },
        };
        Some(p)
    }

    fn ports(&mut self, v: &Node, path: &str) -> Option<PortRange> {
        let s = self.string(v, path)?;
        let parse = |x: &str| x.trim().parse::<u16>().ok();
        let range = match s.split_once('-') {
            Some((a, b)) => parse(a)
                .zip(parse(b))
                .map(|(from, to)| PortRange { from, to }),
            None => parse(&s).map(|p| PortRange { from: p, to: p }),
        };
        match range {
            Some(r) if r.from <= r.to => Some(r),
            _ => {
                self.invalid(
                    v,
                    path,
                    format!("`{s}` is not a port or a port range"),
                    Some(
                        "write a port (`22`) or an ascending range (`1018-1023`), each 0-65535"
                            .into(),
                    ),
                );
                None
            }
        }
    }

    fn cidr(&mut self, v: &Node, path: &str) -> Option<String> {
        let s = self.nonempty_string(v, path)?;
        if crate::net::Cidr::parse(&s).is_none() {
            self.invalid(
                v,
                path,
                format!("`{s}` is not a CIDR block"),
                Some("write an address and prefix length, e.g. `10.0.0.0/16` or `::/0`".into()),
            );
            return None;
        }
        Some(s)
    }

    fn resource_id(&mut self, v: &Node, path: &str, prefix: &str) -> Option<String> {
        let s = self.nonempty_string(v, path)?;
        let rest = s.strip_prefix(prefix).unwrap_or("");
        if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_hexdigit()) {
            self.invalid(
                v,
                path,
                format!("`{s}` is not a {prefix}... id"),
                Some(format!("AWS ids look like `{prefix}0123456789abcdef0`")),
            );
            return None;
        }
        Some(s)
    }

    fn node_group(&mut self, node: &Node, path: &str) -> Option<NodeGroupSpec> {
        let mut m = Map::open(self, node, path)?;
        let mut ng = NodeGroupSpec {
            count: 1,
            secondary_interface_type: InterfaceType::EfaOnly,
            ..NodeGroupSpec::default()
        };
        match m.take("name") {
            Some(v) => ng.name = self.nonempty_string(v, &join(path, "name"))?,
            None => {
                self.missing(node, path, "name", None);
                return None;
            }
        }
        if let Some(v) = m.take("role") {
            ng.role = self
                .choice(v, &join(path, "role"), NodeRole::NAMES, NodeRole::from_name)
                .unwrap_or_default();
        }
        let one = m.take("instanceType");
        let many = m.take("instanceTypes");
        match (one, many) {
            (Some(v), None) => {
                if let Some(t) = self.nonempty_string(v, &join(path, "instanceType")) {
                    ng.instance_types.push(t);
                }
            }
            (None, Some(v)) => {
                ng.instance_types = self.strings(v, &join(path, "instanceTypes"));
                if ng.instance_types.is_empty() {
                    self.invalid(
                        v,
                        &join(path, "instanceTypes"),
                        "list at least one instance type".into(),
                        None,
                    );
                }
            }
            (Some(_), Some(v)) => self.invalid(
                v,
                &join(path, "instanceTypes"),
                "give `instanceType` or `instanceTypes`, not both".into(),
                None,
            ),
            (None, None) => self.missing(node, path, "instanceType", None),
        }
        if let Some(v) = m.take("count") {
            ng.count = self.u32(v, &join(path, "count")).unwrap_or(1);
        }
        if let Some(v) = m.take("maxCount") {
            ng.max_count = self.u32(v, &join(path, "maxCount"));
            if let Some(max) = ng.max_count {
                if max < ng.count {
                    self.invalid(
                        v,
                        &join(path, "maxCount"),
                        format!("maxCount {max} is below count {}", ng.count),
                        None,
                    );
                }
            }
        }
        if let Some(v) = m.take("efa") {
            ng.efa = self.efa_setting(v, &join(path, "efa")).unwrap_or_default();
        }
        if let Some(v) = m.take("secondaryInterfaceType") {
            ng.secondary_interface_type = self
                .choice(
                    v,
                    &join(path, "secondaryInterfaceType"),
                    &["efa", "efa-only"],
                    |s| match s {
                        "efa" => Some(InterfaceType::Efa),
                        "efa-only" => Some(InterfaceType::EfaOnly),
                        _ => None,
                    },
                )
                .unwrap_or(InterfaceType::EfaOnly);
        }
        if let Some(v) = m.take("networkInterfaces") {
            let mut nics = Vec::new();
            self.list(v, &join(path, "networkInterfaces"), |d, item, p| {
                if let Some(n) = d.interface(item, &p) {
                    nics.push(n);
                }
            });
            ng.interfaces = Some(nics);
        }
        let one = m.take("subnet");
        let many = m.take("subnets");
        match (one, many) {
            (Some(v), None) => {
                if let Some(s) = self.nonempty_string(v, &join(path, "subnet")) {
                    ng.subnets.push(s);
                }
            }
            (None, Some(v)) => ng.subnets = self.strings(v, &join(path, "subnets")),
            (Some(_), Some(v)) => self.invalid(
                v,
                &join(path, "subnets"),
                "give `subnet` or `subnets`, not both".into(),
                None,
            ),
            (None, None) => {}
        }
        if let Some(v) = m.take("securityGroups") {
            ng.security_groups = self.strings(v, &join(path, "securityGroups"));
        }
        if let Some(v) = m.take("placementGroup") {
            ng.placement_group = self.placement(v, &join(path, "placementGroup"));
        }
        if let Some(v) = m.take("capacity") {
            ng.capacity = self.capacity(v, &join(path, "capacity"));
        }
        if let Some(v) = m.take("ami") {
            ng.ami = self.resource_id(v, &join(path, "ami"), "ami-");
        }
        if let Some(v) = m.take("publicIp") {
            ng.public_ip = self.bool(v, &join(path, "publicIp")).unwrap_or(false);
        }
        if let Some(v) = m.take("instanceRole") {
            ng.instance_role = self.nonempty_string(v, &join(path, "instanceRole"));
        }
        m.finish(self);
        Some(ng)
    }

    fn efa_setting(&mut self, v: &Node, path: &str) -> Option<EfaSetting> {
        if let Kind::Scalar { value, plain: true } = &v.kind {
            if let Some(b) = parse_bool(value) {
                return Some(if b { EfaSetting::On } else { EfaSetting::Off });
            }
            if value.parse::<i64>().is_ok() {
                return self.u32(v, path).map(EfaSetting::Count);
            }
        }
        self.choice(v, path, &["auto", "on", "off", "a number"], |s| match s {
            "auto" => Some(EfaSetting::Auto),
            "on" => Some(EfaSetting::On),
            "off" => Some(EfaSetting::Off),
            _ => None,
        })
    }

    fn interface(&mut self, node: &Node, path: &str) -> Option<InterfaceSpec> {
        let mut m = Map::open(self, node, path)?;
        let card = match m.take("networkCard") {
            Some(v) => self.u32(v, &join(path, "networkCard")),
            None => {
                self.missing(node, path, "networkCard", None);
                None
            }
        };
        let device = match m.take("deviceIndex") {
            Some(v) => self.u32(v, &join(path, "deviceIndex")),
            None => {
                self.missing(node, path, "deviceIndex", None);
                None
            }
        };
        let kind = match m.take("type") {
            Some(v) => self.choice(
                v,
                &join(path, "type"),
                InterfaceType::NAMES,
                InterfaceType::from_name,
            ),
            None => {
                self.missing(
                    node,
                    path,
                    "type",
                    Some("`interface`, `efa` or `efa-only`".into()),
                );
                None
            }
        };
        let security_groups = m
            .take("securityGroups")
            .map(|v| self.strings(v, &join(path, "securityGroups")));
        m.finish(self);
        Some(InterfaceSpec {
            network_card: card?,
            device_index: device?,
            kind: kind?,
            security_groups,
        })
    }

    fn placement(&mut self, v: &Node, path: &str) -> PlacementSpec {
        if let Kind::Scalar { value, .. } = &v.kind {
            return match value.as_str() {
                "auto" | "create" => PlacementSpec::Auto,
                "none" => PlacementSpec::None,
                _ if parse_bool(value) == Some(false) => PlacementSpec::None,
                _ => {
                    self.invalid(
                        v,
                        path,
                        format!("unknown value `{value}`: expected `auto`, `none` or a mapping with the `name` of an existing placement group"),
                        suggest(value, &["auto", "none"]).map(|s| format!("did you mean `{s}`?")),
                    );
                    PlacementSpec::Auto
                }
            };
        }
        let Some(mut m) = Map::open(self, v, path) else {
            return PlacementSpec::Auto;
        };
        let name = match m.take("name") {
            Some(x) => self.nonempty_string(x, &join(path, "name")),
            None => {
                self.missing(v, path, "name", None);
                None
            }
        };
        let strategy = match m.take("strategy") {
            Some(x) => self.choice(
                x,
                &join(path, "strategy"),
                PlacementStrategy::NAMES,
                PlacementStrategy::from_name,
            ),
            None => Some(PlacementStrategy::Cluster),
        };
        m.finish(self);
        match (name, strategy) {
            (Some(name), Some(strategy)) => PlacementSpec::Existing { name, strategy },
            _ => PlacementSpec::Auto,
        }
    }

    fn capacity(&mut self, v: &Node, path: &str) -> CapacitySpec {
        if let Kind::Scalar { value, .. } = &v.kind {
            return match value.as_str() {
                "on-demand" => CapacitySpec::OnDemand,
                "spot" => CapacitySpec::Spot,
                _ => {
                    self.invalid(
                        v,
                        path,
                        format!("unknown value `{value}`: expected `on-demand`, `spot`, or a mapping with `reservation` or `capacityBlock`"),
                        suggest(value, &["on-demand", "spot"]).map(|s| format!("did you mean `{s}`?")),
                    );
                    CapacitySpec::OnDemand
                }
            };
        }
        let Some(mut m) = Map::open(self, v, path) else {
            return CapacitySpec::OnDemand;
        };
        let reservation = m.take("reservation");
        let block = m.take("capacityBlock");
        let pg = m.take("reservationPlacementGroup");
        let out = match (reservation, block) {
            (Some(r), None) => match self.resource_id(r, &join(path, "reservation"), "cr-") {
                Some(id) => CapacitySpec::Reservation {
                    id,
                    placement_group: pg.and_then(|x| {
                        self.nonempty_string(x, &join(path, "reservationPlacementGroup"))
                    }),
                },
                None => CapacitySpec::OnDemand,
            },
            (None, Some(b)) => match self.resource_id(b, &join(path, "capacityBlock"), "cr-") {
                Some(id) => CapacitySpec::CapacityBlock { id },
                None => CapacitySpec::OnDemand,
            },
            (Some(_), Some(b)) => {
                self.invalid(
                    b,
                    &join(path, "capacityBlock"),
                    "give `reservation` or `capacityBlock`, not both".into(),
                    None,
                );
                CapacitySpec::OnDemand
            }
            (None, None) => {
                self.missing(
                    v,
                    path,
                    "reservation",
                    Some(
                        "a capacity mapping names a `reservation` or a `capacityBlock` (cr-...)"
                            .into(),
                    ),
                );
                CapacitySpec::OnDemand
            }
        };
        m.finish(self);
        out
    }

    fn mpi(&mut self, node: &Node, path: &str) -> Option<MpiSpec> {
        let mut m = Map::open(self, node, path)?;
        let mut mpi = MpiSpec::default();
        if let Some(v) = m.take("launcher") {
            mpi.launcher = self
                .choice(v, &join(path, "launcher"), &["ssh", "pmix"], |s| match s {
                    "ssh" => Some(MpiLauncher::Ssh),
                    "pmix" | "pmi" => Some(MpiLauncher::Pmix),
                    _ => None,
                })
                .unwrap_or_default();
        }
        if let Some(v) = m.take("sshKeySecret") {
            let p = join(path, "sshKeySecret");
            if let Some(mut sm) = Map::open(self, v, &p) {
                let mut s = SecretSpec::default();
                match sm.take("name") {
                    Some(x) => {
                        s.name = self
                            .nonempty_string(x, &join(&p, "name"))
                            .unwrap_or_default()
                    }
                    None => self.missing(v, &p, "name", None),
                }
                if let Some(x) = sm.take("arn") {
                    s.arn = self.nonempty_string(x, &join(&p, "arn"));
                    if let Some(arn) = &s.arn {
                        if !arn.starts_with("arn:aws") || !arn.contains(":secretsmanager:") {
                            self.invalid(
                                x,
                                &join(&p, "arn"),
                                format!("`{arn}` is not a Secrets Manager secret ARN"),
                                None,
                            );
                        }
                    }
                }
                if let Some(x) = sm.take("kmsKey") {
                    s.kms_key = self.nonempty_string(x, &join(&p, "kmsKey"));
                }
                sm.finish(self);
                mpi.ssh_key_secret = Some(s);
            }
        }
        if let Some(v) = m.take("secretReaders") {
            mpi.secret_readers = self.strings(v, &join(path, "secretReaders"));
        }
        m.finish(self);
        Some(mpi)
    }

    fn iam(&mut self, node: &Node, path: &str) -> IamSpec {
        let mut iam = IamSpec::default();
        let Some(mut m) = Map::open(self, node, path) else {
            return iam;
        };
        if let Some(v) = m.take("roles") {
            self.list(v, &join(path, "roles"), |d, item, p| {
                let Some(mut rm) = Map::open(d, item, &p) else {
                    return;
                };
                let mut role = RoleSpec::default();
                match rm.take("name") {
                    Some(x) => {
                        role.name = d.nonempty_string(x, &join(&p, "name")).unwrap_or_default()
                    }
                    None => d.missing(item, &p, "name", None),
                }
                if let Some(x) = rm.take("arn") {
                    role.arn = d.nonempty_string(x, &join(&p, "arn"));
                }
                if let Some(x) = rm.take("statements") {
                    d.list(x, &join(&p, "statements"), |d, st, sp| {
                        let Some(mut sm) = Map::open(d, st, &sp) else {
                            return;
                        };
                        let mut s = StatementSpec {
                            allow: true,
                            ..StatementSpec::default()
                        };
                        if let Some(e) = sm.take("effect") {
                            s.allow = d
                                .choice(e, &join(&sp, "effect"), &["Allow", "Deny"], |x| match x {
                                    "Allow" => Some(true),
                                    "Deny" => Some(false),
                                    _ => None,
                                })
                                .unwrap_or(true);
                        }
                        match sm.take("actions") {
                            Some(a) => s.actions = d.strings(a, &join(&sp, "actions")),
                            None => d.missing(st, &sp, "actions", None),
                        }
                        match sm.take("resources") {
                            Some(r) => s.resources = d.strings(r, &join(&sp, "resources")),
                            None => d.missing(st, &sp, "resources", None),
                        }
                        sm.finish(d);
                        role.statements.push(s);
                    });
                }
                rm.finish(d);
                iam.roles.push(role);
            });
        }
        m.finish(self);
        iam
    }

    fn nccl(&mut self, node: &Node, path: &str) -> NcclSpec {
        let mut n = NcclSpec::default();
        let Some(mut m) = Map::open(self, node, path) else {
            return n;
        };
        if let Some(v) = m.take("env") {
            n.env = self.string_map(v, &join(path, "env"));
        }
        if let Some(v) = m.take("ports") {
            self.list(v, &join(path, "ports"), |d, item, p| {
                if let Some(port) = d.uint(item, &p, 65535) {
                    n.ports.push(port as u16);
                }
            });
        }
        if let Some(v) = m.take("awsOfiNcclVersion") {
            n.aws_ofi_nccl_version = self.nonempty_string(v, &join(path, "awsOfiNcclVersion"));
        }
        if let Some(v) = m.take("libfabricVersion") {
            n.libfabric_version = self.nonempty_string(v, &join(path, "libfabricVersion"));
        }
        m.finish(self);
        n
    }

    fn storage(&mut self, node: &Node, path: &str) -> Option<StorageSpec> {
        let mut m = Map::open(self, node, path)?;
        let mut s = StorageSpec {
            mount_path: "/fsx".into(),
            ..StorageSpec::default()
        };
        match m.take("name") {
            Some(v) => s.name = self.nonempty_string(v, &join(path, "name"))?,
            None => {
                self.missing(node, path, "name", None);
                return None;
            }
        }
        match m.take("type") {
            Some(v) => {
                s.kind = self
                    .choice(v, &join(path, "type"), &["fsx-lustre"], |x| match x {
                        "fsx-lustre" => Some(StorageKind::FsxLustre),
                        _ => None,
                    })
                    .unwrap_or_default()
            }
            None => self.missing(node, path, "type", Some("`fsx-lustre`".into())),
        }
        if let Some(v) = m.take("id") {
            s.id = self.resource_id(v, &join(path, "id"), "fs-");
        }
        match m.take("subnet") {
            Some(v) => {
                s.subnet = self
                    .nonempty_string(v, &join(path, "subnet"))
                    .unwrap_or_default()
            }
            None => self.missing(node, path, "subnet", None),
        }
        if let Some(v) = m.take("securityGroups") {
            s.security_groups = self.strings(v, &join(path, "securityGroups"));
        }
        if let Some(v) = m.take("capacityGiB") {
            s.capacity_gib = self.u32(v, &join(path, "capacityGiB"));
        }
        if let Some(v) = m.take("mountPath") {
            s.mount_path = self
                .nonempty_string(v, &join(path, "mountPath"))
                .unwrap_or_else(|| "/fsx".into());
        }
        m.finish(self);
        Some(s)
    }

    fn efa_installer(&mut self, node: &Node, path: &str) -> Option<EfaInstaller> {
        let mut m = Map::open(self, node, path)?;
        let mut e = EfaInstaller::default();
        let version = m.take("version");
        if let Some(v) = version {
            e.version = self.nonempty_string(v, &join(path, "version"));
            if let Some(s) = &e.version {
                // It becomes part of a download URL and a file name on every node.
                if !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                {
                    self.invalid(
                        v,
                        &join(path, "version"),
                        format!("`{s}` is not an EFA installer version"),
                        Some("versions look like `1.41.0`".into()),
                    );
                    e.version = None;
                }
            }
        }
        let sha = m.take("sha256");
        if let Some(v) = sha {
            e.sha256 = self.nonempty_string(v, &join(path, "sha256"));
            if let Some(s) = &e.sha256 {
                if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
                    self.invalid(
                        v,
                        &join(path, "sha256"),
                        "expected the 64 hexadecimal digits of a SHA-256 checksum".into(),
                        Some("AWS publishes each installer's SHA-256 in the EC2 User Guide (\"Verify the EFA installer using a checksum\")".into()),
                    );
                    e.sha256 = None;
                } else {
                    e.sha256 = Some(s.to_ascii_lowercase());
                }
            }
        }
        // A version without its checksum could not be verified, and a checksum without its
        // version would be checked against the wrong tarball.
        match (version, sha) {
            (Some(_), None) => self.missing(
                node,
                path,
                "sha256",
                Some("a pinned version needs its checksum: the node verifies the tarball before running it".into()),
            ),
            (None, Some(_)) => self.missing(
                node,
                path,
                "version",
                Some("the checksum belongs to one installer version: name it".into()),
            ),
            _ => {}
        }
        if let Some(v) = m.take("s3Uri") {
            e.s3_uri = self.nonempty_string(v, &join(path, "s3Uri"));
            if let Some(s) = &e.s3_uri {
                let ok = s.strip_prefix("s3://").is_some_and(|rest| {
                    rest.split_once('/')
                        .is_some_and(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
                }) && !s.chars().any(|c| c.is_whitespace() || c.is_control());
                if !ok {
                    self.invalid(
                        v,
                        &join(path, "s3Uri"),
                        format!("`{s}` is not an S3 object URI"),
                        Some("use `s3://BUCKET/KEY` of the installer tarball".into()),
                    );
                    e.s3_uri = None;
                }
            }
        }
        m.finish(self);
        Some(e)
    }

    fn checks(&mut self, node: &Node, path: &str) -> ChecksSpec {
        let mut c = ChecksSpec::default();
        let Some(mut m) = Map::open(self, node, path) else {
            return c;
        };
        if let Some(v) = m.take("ignore") {
            self.list(v, &join(path, "ignore"), |d, item, p| {
                if let Some(id) = d.rule_id(item, &p) {
                    c.ignore.push(id);
                }
            });
        }
        if let Some(v) = m.take("severity") {
            let p = join(path, "severity");
            if let Some(mut sm) = Map::open(self, v, &p) {
                for (k, val) in sm.entries {
                    let Some(key) = scalar_key(k) else { continue };
                    let kp = join(&p, &key);
                    if crate::rules::find(&key).is_none() {
                        self.invalid(k, &kp, format!("unknown rule id `{key}`"), None);
                        continue;
                    }
                    if let Some(sev) =
                        self.choice(val, &kp, &["error", "warning", "info"], Severity::parse)
                    {
                        c.severity.insert(key.to_ascii_uppercase(), sev);
                    }
                }
                sm.open_ended = true;
                sm.finish(self);
            }
        }
        if let Some(v) = m.take("efaSecurityGroupMode") {
            c.efa_security_group_mode = self.choice(
                v,
                &join(path, "efaSecurityGroupMode"),
                &["every", "any"],
                |s| match s {
                    "every" => Some(SgMode::Every),
                    "any" => Some(SgMode::Any),
                    _ => None,
                },
            );
        }
        m.finish(self);
        c
    }

    fn rule_id(&mut self, v: &Node, path: &str) -> Option<String> {
        let s = self.nonempty_string(v, path)?;
        match crate::rules::find(&s) {
            Some(r) => Some(r.id.to_string()),
            None => {
                self.invalid(
                    v,
                    path,
                    format!("unknown rule `{s}`"),
                    Some("`efactl rules` lists every rule id and name".into()),
                );
                None
            }
        }
    }
}

/// A mapping being read: tracks which keys were taken so that the rest can be reported as
/// unknown, with the keys that were asked for as the suggestions.
struct Map<'n> {
    path: String,
    entries: &'n [(Node, Node)],
    used: Vec<bool>,
    asked: Vec<&'static str>,
    /// Free-form mappings (tags, env) accept any key.
    open_ended: bool,
}

impl<'n> Map<'n> {
    fn open(d: &mut Decoder, node: &'n Node, path: &str) -> Option<Map<'n>> {
        let Kind::Map(entries) = &node.kind else {
            if !node.is_null() {
                d.wrong_type(node, path, "a mapping");
            }
            return None;
        };
        let mut seen: Vec<(String, &Node)> = Vec::with_capacity(entries.len());
        let mut used = vec![false; entries.len()];
        for (i, (k, _)) in entries.iter().enumerate() {
            match scalar_key(k) {
                Some(key) => {
                    if let Some((_, first)) = seen.iter().find(|(s, _)| *s == key) {
                        let line = first.span.start.line;
                        d.report(
                            &diag::DUPLICATE_KEY,
                            &join(path, &key),
                            Some(k.span),
                            format!("duplicate key `{key}` (first given on line {line})"),
                            Some("YAML keeps only one of them; remove the other".into()),
                        );
                        // Reported once, as a duplicate: not again as an unknown field.
                        used[i] = true;
                    } else {
                        seen.push((key, k));
                    }
                }
                None => d.wrong_type(k, path, "a plain key"),
            }
        }
        Some(Map {
            path: path.to_string(),
            entries,
            used,
            asked: Vec::new(),
            open_ended: false,
        })
    }

    fn take(&mut self, key: &'static str) -> Option<&'n Node> {
        self.asked.push(key);
        let i = self
            .entries
            .iter()
            .position(|(k, _)| matches!(&k.kind, Kind::Scalar { value, .. } if value == key))?;
        self.used[i] = true;
        let v = &self.entries[i].1;
        Some(v)
    }

    fn finish(self, d: &mut Decoder) {
        if self.open_ended {
            return;
        }
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let Some(key) = scalar_key(k) else { continue };
            let expected = self
                .asked
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let help = match suggest(&key, &self.asked) {
                Some(s) => {
                    // The misspelt key is the cause of "missing `s`": report it once, here.
                    let missing = join(&self.path, s);
                    d.findings.retain(|f| {
                        !(f.rule == diag::MISSING_FIELD.id
                            && f.subject.path.as_deref() == Some(&missing))
                    });
                    format!("did you mean `{s}`? expected one of {expected}")
                }
                None => format!("expected one of {expected}"),
            };
            d.report(
                &diag::UNKNOWN_FIELD,
                &join(&self.path, &key),
                Some(k.span),
                format!("unknown field `{key}`"),
                Some(help),
            );
        }
    }
}

fn scalar_key(k: &Node) -> Option<String> {
    match &k.kind {
        Kind::Scalar { value, .. } => Some(value.clone()),
        _ => None,
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Finds the node at a model path such as `nodeGroups[1].name`.
pub(crate) fn lookup<'n>(root: &'n Node, path: &str) -> Option<&'n Node> {
    let mut node = root;
    for part in path.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            let Kind::Map(entries) = &node.kind else {
                return None;
            };
            node = &entries
                .iter()
                .find(|(k, _)| matches!(&k.kind, Kind::Scalar { value, .. } if value == key))?
                .1;
        }
        for idx in indexes.split('[').filter(|s| !s.is_empty()) {
            let i: usize = idx.trim_end_matches(']').parse().ok()?;
            let Kind::Seq(items) = &node.kind else {
                return None;
            };
            node = items.get(i)?;
        }
    }
    Some(node)
}

fn first_line(span: yaml::Span) -> yaml::Span {
    let mut s = span;
    if s.end.line != s.start.line {
        s.end = s.start;
    }
    s
}

/// Closest candidate by edit distance, when it is close enough to be what was meant.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (levenshtein(&w, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.len().max(w.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() > 256 || b.len() > 256 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn valid_cluster_name(s: &str) -> bool {
    (1..=60).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn valid_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_the_near_key() {
        assert_eq!(
            suggest("instanceTyp", &["name", "instanceType", "count"]),
            Some("instanceType")
        );
        assert_eq!(suggest("zzz", &["name", "count"]), None);
    }

    #[test]
    fn efa_installer_needs_version_and_checksum_together() {
        let spec = |extra: &str| {
            format!("apiVersion: efactl.dev/v1alpha1\nname: c\nregion: us-east-1\nnodeGroups:\n  - {{ name: g, instanceType: c5n.18xlarge }}\nefaInstaller:\n{extra}")
        };
        let ok = parse_spec(
            "c.yaml",
            &spec("  version: 1.41.0\n  sha256: 3506354CDFBE31FF552FE75F5D0D9BB7EFD29CF79BD99457347D29C751C38F9F\n  s3Uri: s3://b/efa.tar.gz\n"),
        );
        assert!(ok.findings.is_empty(), "{:?}", ok.findings);
        let e = ok.spec.unwrap().efa_installer.unwrap();
        assert_eq!(e.version.as_deref(), Some("1.41.0"));
        assert!(e.sha256.unwrap().starts_with("3506354cdfbe"), "lowercased");
        assert_eq!(e.s3_uri.as_deref(), Some("s3://b/efa.tar.gz"));

        for (extra, path) in [
            ("  version: 1.41.0\n", "efaInstaller.sha256"),
            ("  sha256: 3506354cdfbe31ff552fe75f5d0d9bb7efd29cf79bd99457347d29c751c38f9f\n", "efaInstaller.version"),
            ("  version: 1.41.0\n  sha256: abc\n", "efaInstaller.sha256"),
            ("  version: 1.41; rm\n  sha256: 3506354cdfbe31ff552fe75f5d0d9bb7efd29cf79bd99457347d29c751c38f9f\n", "efaInstaller.version"),
            ("  s3Uri: https://x/y\n", "efaInstaller.s3Uri"),
            ("  s3Uri: s3://bucket-only\n", "efaInstaller.s3Uri"),
        ] {
            let r = parse_spec("c.yaml", &spec(extra));
            assert!(
                r.findings.iter().any(|f| f.subject.path.as_deref() == Some(path)),
                "{extra}: {:?}",
                r.findings
            );
        }
    }

    #[test]
    fn regions_and_zones() {
        assert!(valid_region("us-east-1"));
        assert!(valid_region("us-gov-west-1"));
        assert!(!valid_region("useast1"));
        assert_eq!(Zone::parse("use1-az6"), Some(Zone::Id("use1-az6".into())));
        assert_eq!(
            Zone::parse("us-east-1a"),
            Some(Zone::Name("us-east-1a".into()))
        );
        assert_eq!(Zone::parse("east"), None);
    }
}
