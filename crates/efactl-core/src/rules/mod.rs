//! The rule engine: one registry of every rule, each rule one file.
//!
//! A rule has a stable id that is never reused or renumbered, a kebab-case name that names
//! the problem, a default severity (which users may override), a one-line title, and a
//! documentation text with fixed headings that `efactl explain` prints and docs/rules/ is
//! generated from. Input rules (SPEC…) are raised by the parser and the resolver; cluster
//! rules (EFA…) look only at the model; log rules (NCCL…) are documentation here and raised by
//! efactl-doctor's log analyzer.

use crate::catalog::Catalog;
use crate::finding::{Category, Finding, Severity, Subject};
use crate::model::Cluster;
use std::collections::BTreeMap;

pub mod prelude {
    pub use super::{Context, Reporter, Rule};
    pub use crate::finding::{Category, Severity, Subject};
    pub use crate::model::*;
}

pub type CheckFn = fn(&Context<'_>, &mut Reporter<'_>);

#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub category: Category,
    pub title: &'static str,
    /// Markdown with the headings What it does / Why it matters / Example / Fix / Source.
    pub doc: &'static str,
    pub check: Option<CheckFn>,
}

pub struct Context<'a> {
    pub cluster: &'a Cluster,
    pub catalog: &'a Catalog,
}

/// Collects one rule's findings, stamping them with its id, name and severity.
pub struct Reporter<'r> {
    rule: &'static Rule,
    out: &'r mut Vec<Finding>,
}

impl Reporter<'_> {
    pub fn report(&mut self, subject: Subject, message: impl Into<String>) -> &mut Finding {
        self.out.push(Finding {
            rule: self.rule.id.into(),
            name: self.rule.name.into(),
            severity: self.rule.severity,
            category: self.rule.category,
            subject,
            message: message.into(),
            help: None,
        });
        let last = self.out.len() - 1;
        &mut self.out[last]
    }
}

pub mod access;
pub mod doctor;
pub(crate) mod eksctl;
pub mod instance;
pub(crate) mod live;
pub mod nccl;
pub mod network;
pub(crate) mod pcluster;
pub mod sg;
pub(crate) mod template;

/// Every rule: input rules (SPEC), cluster rules (EFA), NCCL log rules (NCCL), doctor rules
/// (DOC), each area in id order.
pub static RULES: &[&Rule] = &[
    &crate::spec::diag::SYNTAX,
    &crate::spec::diag::UNKNOWN_FIELD,
    &crate::spec::diag::WRONG_TYPE,
    &crate::spec::diag::MISSING_FIELD,
    &crate::spec::diag::DUPLICATE_KEY,
    &crate::spec::diag::INVALID_VALUE,
    &crate::spec::diag::API_VERSION,
    &crate::spec::diag::EMPTY,
    &crate::spec::diag::DUPLICATE_NAME,
    &crate::spec::diag::UNDEFINED_REFERENCE,
    &crate::spec::diag::UNKNOWN_INSTANCE_TYPE,
    &crate::spec::diag::UNREADABLE,
    &crate::spec::diag::NOT_KNOWN,
    &crate::spec::diag::UNKNOWN_KIND,
    &sg::efa_sg_missing_self_ingress::RULE,
    &sg::efa_sg_missing_self_egress::RULE,
    &sg::efa_interface_sg_missing_self_rules::RULE,
    &sg::ingress_open_to_world::RULE,
    &sg::ssh_open_to_world::RULE,
    &instance::efa_unsupported_instance_type::RULE,
    &instance::efa_disabled_on_capable_type::RULE,
    &instance::efa_interfaces_below_max::RULE,
    &instance::efa_interfaces_above_max::RULE,
    &instance::invalid_interface_layout::RULE,
    &instance::placement_group_missing::RULE,
    &instance::placement_group_not_cluster::RULE,
    &instance::cluster_placement_unsupported::RULE,
    &instance::placement_group_capacity_conflict::RULE,
    &network::efa_group_spans_subnets::RULE,
    &network::public_ip_multi_interface::RULE,
    &network::vpc_endpoint_missing::RULE,
    &network::gateway_endpoint_not_routed::RULE,
    &network::interface_endpoint_private_dns_off::RULE,
    &network::interface_endpoint_https_blocked::RULE,
    &network::managed_dns_without_internet::RULE,
    &network::scheduler_unsupported_without_internet::RULE,
    &network::private_subnet_public_ip::RULE,
    &network::vpc_dns_disabled::RULE,
    &access::mpi_ssh_key_secret_missing::RULE,
    &access::secret_reader_lacks_access::RULE,
    &access::secret_access_too_broad::RULE,
    &network::subnet_too_small::RULE,
    &access::nccl_env_obsolete::RULE,
    &access::nccl_socket_ifname_mismatch::RULE,
    &sg::job_port_blocked::RULE,
    &instance::mixed_network_cards::RULE,
    &sg::fsx_lustre_ports_blocked::RULE,
    &sg::fsx_in_other_zone::RULE,
    &access::mpi_ssh_key_secret_unusable::RULE,
    &network::network_acl_blocks_traffic::RULE,
    &nccl::socket_transport_fallback::RULE,
    &nccl::ofi_plugin_init_failed::RULE,
    &nccl::efa_nic_count_mismatch::RULE,
    &nccl::gpudirect_rdma_disabled::RULE,
    &nccl::efa_peer_unreachable::RULE,
    &nccl::bootstrap_connect_failed::RULE,
    &nccl::collective_watchdog_timeout::RULE,
    &nccl::remote_rank_failed::RULE,
    &nccl::cuda_error_behind_network::RULE,
    &nccl::version_skew::RULE,
    &nccl::obsolete_env_echoed::RULE,
    &nccl::nccl_tests_wrong_results::RULE,
    &nccl::nccl_tests_low_busbw::RULE,
    &nccl::no_nccl_output::RULE,
    &doctor::rank_missing::RULE,
    &doctor::efa_devices_missing::RULE,
    &doctor::efa_provider_missing::RULE,
    &doctor::nccl_net_plugin_missing::RULE,
    &doctor::accelerators_missing::RULE,
    &doctor::ptrace_restricted::RULE,
    &doctor::memlock_limited::RULE,
    &doctor::node_env_obsolete::RULE,
    &doctor::mtu_mismatch::RULE,
    &doctor::connection_blocked::RULE,
    &doctor::connection_refused::RULE,
    &doctor::connection_unreachable::RULE,
    &doctor::slow_link::RULE,
    &doctor::high_latency::RULE,
    &doctor::straggler_rank::RULE,
    &doctor::allreduce_failed::RULE,
    &doctor::hugepages_missing::RULE,
];

/// A rule by id (`EFA002`, any case) or by name (`efa-sg-missing-self-egress`).
pub fn find(key: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .copied()
        .find(|r| r.id.eq_ignore_ascii_case(key) || r.name == key)
}

/// What the user asked to leave out or to weigh differently.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Rule ids (canonical case).
    pub ignore: Vec<String>,
    pub severity: BTreeMap<String, Severity>,
    /// Template parameter values (`check --parameter KEY=VALUE`); a spec has none.
    pub parameters: std::collections::HashMap<String, String>,
}

/// Runs every cluster rule over the model.
pub fn run(cluster: &Cluster, catalog: &Catalog, options: &Options) -> Vec<Finding> {
    let cx = Context { cluster, catalog };
    let mut out = Vec::new();
    for rule in RULES {
        let Some(check) = rule.check else { continue };
        if options.ignore.iter().any(|i| i == rule.id) {
            continue;
        }
        let start = out.len();
        let mut r = Reporter {
            rule,
            out: &mut out,
        };
        check(&cx, &mut r);
        if let Some(sev) = options.severity.get(rule.id) {
            for f in &mut out[start..] {
                f.severity = *sev;
            }
        }
    }
    out
}

/// Applies overrides to findings raised outside `run` (doctor, log analysis).
pub fn apply_options(findings: &mut Vec<Finding>, options: &Options) {
    findings.retain(|f| f.category == Category::Input || !options.ignore.contains(&f.rule));
    for f in findings.iter_mut() {
        if f.category == Category::Input {
            continue;
        }
        if let Some(sev) = options.severity.get(&f.rule) {
            f.severity = *sev;
        }
    }
}

/// The distinct sets of security groups that EFA interfaces carry, in model order.
pub(crate) fn efa_interface_group_sets(
    cluster: &Cluster,
) -> Vec<Vec<&crate::model::SecurityGroup>> {
    let mut sets: Vec<Vec<&str>> = Vec::new();
    for nic in cluster
        .node_groups
        .iter()
        .flat_map(|ng| ng.efa_interfaces())
    {
        let mut keys: Vec<&str> = nic.security_groups.iter().map(String::as_str).collect();
        keys.sort_unstable();
        keys.dedup();
        if !sets.contains(&keys) {
            sets.push(keys);
        }
    }
    sets.into_iter()
        .map(|keys| {
            cluster
                .security_groups
                .iter()
                .filter(|sg| keys.contains(&sg.key.as_str()))
                .collect()
        })
        .collect()
}

/// Security groups that must carry a self rule because no group beside them on some EFA
/// interface does: `has` tells whether a group has the rule.
pub(crate) fn efa_groups_lacking(
    cluster: &Cluster,
    has: impl Fn(&crate::model::SecurityGroup) -> bool,
) -> Vec<&crate::model::SecurityGroup> {
    let mut out: Vec<&crate::model::SecurityGroup> = Vec::new();
    for set in efa_interface_group_sets(cluster) {
        if set.iter().any(|sg| has(sg)) {
            continue;
        }
        for sg in set {
            if !out.iter().any(|o| o.key == sg.key) {
                out.push(sg);
            }
        }
    }
    out
}

/// An all-traffic rule whose peer is the group itself.
pub(crate) fn has_self_rule(sg: &crate::model::SecurityGroup, egress: bool) -> bool {
    let rules = if egress { &sg.egress } else { &sg.ingress };
    rules
        .iter()
        .any(|r| r.is_all_traffic() && r.peer == crate::model::Peer::Group(sg.key.clone()))
}

/// How findings name a security group: its id when it has one, else its spec name; the VPC
/// default group says why it is there.
pub(crate) fn sg_label(sg: &crate::model::SecurityGroup) -> String {
    if sg.key == crate::resolve::DEFAULT_SG {
        return "default (the VPC's default group, used because the node group names no security group)".into();
    }
    match &sg.id {
        Some(id) if *id != sg.name => format!("{} ({id})", sg.name),
        Some(id) => id.clone(),
        None => sg.name.clone(),
    }
}

/// Where a node group's `j`th instance type is written: `instanceType`, or `instanceTypes[j]`
/// in a mixed group.
pub(crate) fn instance_type_subject(ng: &crate::model::NodeGroup, j: usize) -> Subject {
    if ng.instance_types.len() > 1 {
        ng.origin.at(&format!("instanceTypes[{j}]"))
    } else {
        ng.origin.at("instanceType")
    }
}

/// The spec lists the node group's interfaces itself (`networkInterfaces`) instead of
/// leaving the layout to `efa`.
pub(crate) fn explicit_layout(ng: &crate::model::NodeGroup) -> bool {
    ng.interfaces
        .iter()
        .any(|n| matches!(n.origin, crate::model::Origin::Spec(_)))
}

/// Where a node group's EFA interfaces are decided: its own `networkInterfaces` when the spec
/// lists them, else `efa`.
pub(crate) fn efa_subject(ng: &crate::model::NodeGroup) -> Subject {
    ng.origin.at(if explicit_layout(ng) {
        "networkInterfaces"
    } else {
        "efa"
    })
}

/// A bandwidth for messages: `3200`, `12.5`.
pub(crate) fn gbps(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Subnets with no route out of the VPC that some node group launches in, in model order: the
/// nodes there reach AWS services only through VPC endpoints.
pub(crate) fn node_subnets_without_internet(cluster: &Cluster) -> Vec<&crate::model::Subnet> {
    cluster
        .subnets
        .iter()
        .filter(|s| s.internet == crate::model::Internet::None)
        .filter(|s| {
            cluster
                .node_groups
                .iter()
                .any(|ng| ng.subnets.contains(&s.key))
        })
        .collect()
}

/// Where a node group's subnet is written: `subnet`, or `subnets` when it names several.
pub(crate) fn subnet_subject(ng: &crate::model::NodeGroup) -> Subject {
    ng.origin.at(if ng.subnets.len() > 1 {
        "subnets"
    } else {
        "subnet"
    })
}

/// The security groups of a node's primary interface (card 0, device 0), which carries the
/// node's own traffic to AWS services; the group's groups when the layout has no primary.
pub(crate) fn primary_security_groups(ng: &crate::model::NodeGroup) -> &[String] {
    ng.interfaces
        .iter()
        .find(|n| n.network_card == 0 && n.device_index == 0)
        .map(|n| n.security_groups.as_slice())
        .unwrap_or(ng.security_groups.as_slice())
}

/// `a`, `a` and `b`, `a`, `b` and `c`: names in backticks for messages.
pub(crate) fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{}`", s.as_ref())).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// How findings name the traffic a rule admits: `all traffic`, `TCP 22`, `TCP 1018-1023`,
/// `all TCP`, `ICMP`, `protocol 47`.
pub(crate) fn traffic_label(
    protocol: &crate::model::Protocol,
    ports: Option<crate::model::PortRange>,
) -> String {
    use crate::model::Protocol;
    let name = match protocol {
        Protocol::All => return "all traffic".into(),
        Protocol::Icmp => return "ICMP".into(),
        Protocol::Other(n) => return format!("protocol {n}"),
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    };
    match ports {
        None => format!("all {name}"),
        Some(r) if r.from <= 1 && r.to == u16::MAX => format!("all {name}"),
        Some(r) if r.from == r.to => format!("{name} {}", r.from),
        Some(r) => format!("{name} {}-{}", r.from, r.to),
    }
}

/// Whether every port of `ports` (TCP or UDP) passes from `from` to `to`, side by side:
/// (the egress of `from`'s groups, the ingress of `to`'s groups). Several rules may cover the
/// range between them; `Cluster::allows` gives the same verdict for a single port.
pub(crate) fn range_passes(
    cluster: &Cluster,
    from: crate::model::Side<'_>,
    to: crate::model::Side<'_>,
    protocol: &crate::model::Protocol,
    ports: crate::model::PortRange,
) -> (bool, bool) {
    let covered = |groups: &[String], egress: bool, peer: &crate::model::Side<'_>| {
        let mut spans: Vec<(u32, u32)> = groups
            .iter()
            .filter_map(|g| cluster.security_group(g))
            .flat_map(|sg| if egress { &sg.egress } else { &sg.ingress })
            .filter(|r| peer.is_peer(&r.peer, false))
            .filter_map(|r| {
                if r.is_all_traffic() || (&r.protocol == protocol && r.ports.is_none()) {
                    Some((0, u32::from(u16::MAX)))
                } else if &r.protocol == protocol {
                    r.ports.map(|p| (u32::from(p.from), u32::from(p.to)))
                } else {
                    None
                }
            })
            .collect();
        spans.sort_unstable();
        // Walk the sorted spans, extending the covered prefix of the wanted range.
        let mut next = u32::from(ports.from);
        for (a, b) in spans {
            if a > next {
                break;
            }
            next = next.max(b + 1);
        }
        next > u32::from(ports.to)
    };
    (
        covered(from.groups, true, &to),
        covered(to.groups, false, &from),
    )
}

/// What uses a security group, for messages: `node group `head``, `endpoint `ssm``,
/// `file system `fsx``. Empty when nothing in the cluster does.
pub(crate) fn sg_users(cluster: &Cluster, key: &str) -> Vec<String> {
    let mut out: Vec<String> = cluster
        .node_groups
        .iter()
        .filter(|ng| ng.all_security_groups().contains(&key))
        .map(|ng| format!("node group `{}`", ng.name))
        .collect();
    out.extend(
        cluster
            .endpoints
            .iter()
            .filter(|e| e.security_groups.iter().any(|g| g == key))
            .map(|e| format!("endpoint `{}`", e.service)),
    );
    out.extend(
        cluster
            .file_systems
            .iter()
            .filter(|f| f.security_groups.iter().any(|g| g == key))
            .map(|f| format!("file system `{}`", f.key)),
    );
    out
}

/// Unit tests of rules: the findings of rule `id` for a spec given as YAML text.
#[cfg(test)]
pub(crate) fn findings_of(id: &str, yaml: &str) -> Vec<Finding> {
    let findings =
        crate::check::check_spec("test.yaml", yaml, Catalog::bundled(), &Options::default())
            .findings;
    // An invalid spec never reaches the rules: the test would pass for the wrong reason.
    let input: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.category == Category::Input)
        .collect();
    assert!(input.is_empty(), "not a valid spec: {input:#?}");
    findings.into_iter().filter(|f| f.rule == id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_well_formed() {
        let mut ids = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for r in RULES {
            assert!(ids.insert(r.id), "duplicate id {}", r.id);
            assert!(names.insert(r.name), "duplicate name {}", r.name);
            assert!(
                r.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{} is not kebab-case",
                r.name
            );
            assert!(
                !r.name.starts_with("require-") && !r.name.starts_with("no-"),
                "{} names a fix",
                r.name
            );
            for heading in [
                "## What it does",
                "## Why it matters",
                "## Fix",
                "## Source",
            ] {
                assert!(r.doc.contains(heading), "{} doc lacks {heading}", r.id);
            }
            assert_eq!(
                r.check.is_some(),
                r.category == Category::Cluster,
                "{}",
                r.id
            );
        }
        let mut sorted: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        // Areas in this order, ids ascending within each.
        let area = |id: &str| {
            ["SPEC", "EFA", "NCCL", "DOC"]
                .iter()
                .position(|p| {
                    id.starts_with(p) && id[p.len()..].chars().all(|c| c.is_ascii_digit())
                })
                .unwrap_or_else(|| panic!("{id} has no known area prefix"))
        };
        sorted.sort_by_key(|id| (area(id), *id));
        assert_eq!(
            sorted,
            RULES.iter().map(|r| r.id).collect::<Vec<_>>(),
            "registry is in id order"
        );
    }

    #[test]
    fn find_takes_ids_and_names() {
        assert_eq!(find("efa002").map(|r| r.id), Some("EFA002"));
        assert_eq!(
            find("efa-sg-missing-self-egress").map(|r| r.id),
            Some("EFA002")
        );
        assert!(find("EFA999").is_none());
    }
}
