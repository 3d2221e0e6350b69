//! Subnets, routes, VPC endpoints and DNS.

pub mod efa_group_spans_subnets;
pub mod gateway_endpoint_not_routed;
pub mod interface_endpoint_https_blocked;
pub mod interface_endpoint_private_dns_off;
pub mod managed_dns_without_internet;
pub mod network_acl_blocks_traffic;
pub mod private_subnet_public_ip;
pub mod public_ip_multi_interface;
pub mod scheduler_unsupported_without_internet;
pub mod subnet_too_small;
pub mod vpc_dns_disabled;
pub mod vpc_endpoint_missing;
