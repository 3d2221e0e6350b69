//! The `pcluster` renderer.

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
        "the `pcluster` renderer is not built yet".into(),
    ))
}
