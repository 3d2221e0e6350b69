//! The cluster spec (cluster.yaml): types, the strict decoder, the source map and the input
//! diagnostics.

pub mod decode;
pub mod diag;
pub mod source_map;
pub mod types;

pub use decode::{parse_spec, Parsed};
pub use source_map::SourceMap;
pub use types::*;
