pub mod check;
pub mod doctor;
pub mod explain;
pub mod init;
pub mod nccl;
pub mod render;
pub mod rules;
