//! Security groups and the ports EFA, NCCL, MPI and FSx need.

pub mod efa_interface_sg_missing_self_rules;
pub mod efa_sg_missing_self_egress;
pub mod efa_sg_missing_self_ingress;
pub mod fsx_in_other_zone;
pub mod fsx_lustre_ports_blocked;
pub mod ingress_open_to_world;
pub mod job_port_blocked;
pub mod ssh_open_to_world;
