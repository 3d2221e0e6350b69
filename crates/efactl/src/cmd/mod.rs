pub mod check;
pub mod explain;
pub mod init;
pub mod render;
pub mod rules;
