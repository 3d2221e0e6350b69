//! MPI SSH keys, IAM access to them, and the NCCL / libfabric environment.

pub mod mpi_ssh_key_secret_missing;
pub mod nccl_env_obsolete;
pub mod nccl_socket_ifname_mismatch;
pub mod secret_access_too_broad;
pub mod secret_reader_lacks_access;
