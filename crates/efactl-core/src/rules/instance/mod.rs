//! Instance types, EFA interfaces, network-interface layout and placement.

pub mod cluster_placement_unsupported;
pub mod efa_disabled_on_capable_type;
pub mod efa_interfaces_above_max;
pub mod efa_interfaces_below_max;
pub mod efa_unsupported_instance_type;
pub mod invalid_interface_layout;
pub mod mixed_network_cards;
pub mod placement_group_capacity_conflict;
pub mod placement_group_missing;
pub mod placement_group_not_cluster;
