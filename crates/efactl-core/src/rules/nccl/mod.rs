//! NCCL, aws-ofi-nccl, libfabric, torch.distributed and nccl-tests log rules.
//!
//! These rules carry documentation only (`check: None`): `efactl nccl analyze`
//! (efactl-doctor's `logs` module) raises them while it streams a log, because a log is not a
//! cluster model. Registering them here gives them the same `efactl explain`, `efactl rules`,
//! SARIF rule list and generated docs as every other rule.

pub mod bootstrap_connect_failed;
pub mod collective_watchdog_timeout;
pub mod cuda_error_behind_network;
pub mod efa_nic_count_mismatch;
pub mod efa_peer_unreachable;
pub mod gpudirect_rdma_disabled;
pub mod nccl_tests_low_busbw;
pub mod nccl_tests_wrong_results;
pub mod no_nccl_output;
pub mod obsolete_env_echoed;
pub mod ofi_plugin_init_failed;
pub mod remote_rank_failed;
pub mod socket_transport_fallback;
pub mod version_skew;
