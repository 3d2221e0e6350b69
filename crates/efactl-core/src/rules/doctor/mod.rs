//! Rules raised by `efactl doctor` from what it observes inside the cluster.

pub mod accelerators_missing;
pub mod allreduce_failed;
pub mod connection_blocked;
pub mod connection_refused;
pub mod connection_unreachable;
pub mod efa_devices_missing;
pub mod efa_provider_missing;
pub mod high_latency;
pub mod hugepages_missing;
pub mod memlock_limited;
pub mod mtu_mismatch;
pub mod nccl_net_plugin_missing;
pub mod node_env_obsolete;
pub mod ptrace_restricted;
pub mod rank_missing;
pub mod slow_link;
pub mod straggler_rank;
