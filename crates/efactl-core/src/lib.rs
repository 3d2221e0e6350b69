//! efactl-core: the pure, configuration-time half of efactl.
//!
//! cluster.yaml ──parse──▶ [`spec::Spec`] ──[`resolve`]──▶ [`model::Cluster`] ──[`rules`]──▶
//! [`finding::Finding`]s ──[`report`]──▶ human / JSON / SARIF.

pub mod catalog;
pub mod cfn_read;
pub mod check;
pub mod cloud;
pub mod finding;
pub mod keys;
pub mod model;
pub mod net;
pub mod read;
pub mod regions;
pub mod render;
pub mod report;
pub mod resolve;
pub mod rules;
pub mod spec;
pub mod yaml;

pub use catalog::Catalog;
pub use finding::{Finding, Severity, Subject};

/// efactl's version, stamped into reports and rendered artifacts.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
