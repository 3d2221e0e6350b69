//! efactl-doctor: what efactl learns at run time, without the AWS SDK.
//!
//! [`doctor`] proves the fabric from inside the cluster; [`logs`] explains NCCL, aws-ofi-nccl, libfabric, torch.distributed and nccl-tests output.

pub mod doctor;
pub mod logs;
