//! What AWS does with what a file leaves out, once for every reader: the VPC's default
//! security group, the egress rule every new group gets, where a default route leads.

use crate::cloud::records::RouteTarget;
use crate::model::{Internet, Origin, Peer, Protocol, SecurityGroup, SgRule};
use crate::net::Cidr;

/// The key of the VPC's default security group in every model.
pub const DEFAULT_SG: &str = "default";

/// The rule AWS gives every new security group unless egress rules are listed: all traffic to
/// 0.0.0.0/0. It does not carry EFA, which is matched only by group references.
pub fn default_egress(origin: Origin) -> SgRule {
    SgRule {
        protocol: Protocol::All,
        ports: None,
        peer: Peer::Cidr(Cidr::world_v4()),
        origin,
    }
}

/// An all-traffic rule to or from a group (a self-reference when `peer` is the group itself).
pub fn all_traffic(peer: &str, origin: Origin) -> SgRule {
    SgRule {
        protocol: Protocol::All,
        ports: None,
        peer: Peer::Group(peer.to_string()),
        origin,
    }
}

/// The VPC's default group as AWS creates it: all traffic in from itself, all traffic out to
/// 0.0.0.0/0. It lacks the self-referencing egress EFA needs, which is exactly what users trip
/// on when they launch into it.
pub fn default_security_group(origin: Origin) -> SecurityGroup {
    SecurityGroup {
        key: DEFAULT_SG.into(),
        id: None,
        name: "default".into(),
        ingress: vec![all_traffic(DEFAULT_SG, origin.clone())],
        egress: vec![default_egress(origin.clone())],
        origin,
    }
}

/// Where a default route (`0.0.0.0/0`) leads: an internet gateway is `Public`; a NAT gateway,
/// transit gateway, appliance (an instance or its interface), peering or endpoint is a way
/// out (`Nat`); the VPC itself, an egress-only gateway (IPv6 only) or anything else is `None`.
pub fn internet_via(target: &RouteTarget) -> Internet {
    match target {
        RouteTarget::InternetGateway(_) => Internet::Public,
        RouteTarget::NatGateway(_)
        | RouteTarget::TransitGateway(_)
        | RouteTarget::NetworkInterface(_)
        | RouteTarget::Instance(_)
        | RouteTarget::PeeringConnection(_)
        | RouteTarget::VpcEndpoint(_) => Internet::Nat,
        RouteTarget::Local | RouteTarget::EgressOnlyInternetGateway(_) | RouteTarget::Other(_) => {
            Internet::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_group_admits_itself_but_sends_only_to_cidrs() {
        let sg = default_security_group(Origin::Implied("x".into()));
        assert_eq!(sg.ingress[0].peer, Peer::Group(DEFAULT_SG.into()));
        assert!(matches!(sg.egress[0].peer, Peer::Cidr(c) if c.is_world()));
        assert_eq!(sg.egress.len(), 1);
    }

    #[test]
    fn routes_lead_where_aws_says() {
        assert_eq!(
            internet_via(&RouteTarget::InternetGateway("igw-1".into())),
            Internet::Public
        );
        assert_eq!(
            internet_via(&RouteTarget::TransitGateway("tgw-1".into())),
            Internet::Nat
        );
        assert_eq!(
            internet_via(&RouteTarget::EgressOnlyInternetGateway("eigw-1".into())),
            Internet::None
        );
    }
}
