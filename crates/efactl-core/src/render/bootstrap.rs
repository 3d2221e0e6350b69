//! The `bootstrap` renderer.

use super::{Artifact, RenderError, RenderOptions};
use crate::catalog::Catalog;
use crate::model::Cluster;

pub fn render(
    cluster: &Cluster,
    catalog: &Catalog,
    opts: &RenderOptions,
) -> Result<Vec<Artifact>, RenderError> {
    let _ = (cluster, catalog, opts);
    Err(RenderError::Unsupported(
        "the `bootstrap` renderer is not built yet".into(),
    ))
}

/// The user-data script of one node group: embedded in its launch template by the `cfn`
/// renderer and referenced by the other targets' lifecycle hooks.
pub fn script(cluster: &Cluster, catalog: &Catalog, ng: &crate::model::NodeGroup) -> String {
    let _ = (cluster, catalog, ng);
    String::from("#!/bin/bash\nset -euo pipefail\n")
}
