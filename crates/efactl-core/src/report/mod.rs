//! Renderers from findings to text: each a pure function.

pub mod human;
pub mod json;
pub mod sarif;
