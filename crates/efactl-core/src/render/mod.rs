//! Artifact renderers: the model a spec resolves to, turned into what a user deploys.
//!
//! Each target is one module with a pure function from the model to files. Output is
//! deterministic (stable key order, sorted where order carries no meaning) and readable
//! (descriptions and comments say why each resource exists).

use crate::catalog::Catalog;
use crate::model::Cluster;

pub mod batch;
pub mod bootstrap;
pub mod cfn;
pub mod conventions;
pub mod hyperpod;
pub mod pcluster;
pub mod yaml_out;

/// What `efactl render --target` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RenderTarget {
    /// One CloudFormation template.
    Cfn,
    /// The node bootstrap (user-data) script.
    Bootstrap,
    /// A ParallelCluster 3 cluster config.
    Pcluster,
    /// HyperPod cluster-config.json, provisioning_parameters.json and the lifecycle hook.
    Hyperpod,
    /// An AWS Batch multi-node parallel job definition and compute environment.
    Batch,
}

impl RenderTarget {
    pub const ALL: &'static [RenderTarget] = &[
        RenderTarget::Cfn,
        RenderTarget::Bootstrap,
        RenderTarget::Pcluster,
        RenderTarget::Hyperpod,
        RenderTarget::Batch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RenderTarget::Cfn => "cfn",
            RenderTarget::Bootstrap => "bootstrap",
            RenderTarget::Pcluster => "pcluster",
            RenderTarget::Hyperpod => "hyperpod",
            RenderTarget::Batch => "batch",
        }
    }

    pub fn from_name(s: &str) -> Option<RenderTarget> {
        RenderTarget::ALL.iter().copied().find(|t| t.name() == s)
    }
}

/// One file to write, relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: String,
    pub contents: String,
    /// Unix permission bits (0o755 for scripts).
    pub mode: u32,
}

impl Artifact {
    pub fn file(path: impl Into<String>, contents: impl Into<String>) -> Artifact {
        Artifact {
            path: path.into(),
            contents: contents.into(),
            mode: 0o644,
        }
    }

    pub fn script(path: impl Into<String>, contents: impl Into<String>) -> Artifact {
        Artifact {
            path: path.into(),
            contents: contents.into(),
            mode: 0o755,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// CloudFormation as JSON instead of YAML.
    pub json: bool,
}

#[allow(clippy::derivable_impls)]
impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions { json: false }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The target cannot express this cluster (e.g. HyperPod for a Batch spec).
    #[error("{0}")]
    Unsupported(String),
}

/// Renders one target. The caller has checked the spec: rendering a model with error findings
/// is refused by the CLI before it gets here.
pub fn render(
    cluster: &Cluster,
    catalog: &Catalog,
    target: RenderTarget,
    opts: &RenderOptions,
) -> Result<Vec<Artifact>, RenderError> {
    match target {
        RenderTarget::Cfn => cfn::render(cluster, catalog, opts),
        RenderTarget::Bootstrap => bootstrap::render(cluster, catalog, opts),
        RenderTarget::Pcluster => pcluster::render(cluster, catalog, opts),
        RenderTarget::Hyperpod => hyperpod::render(cluster, catalog, opts),
        RenderTarget::Batch => batch::render(cluster, catalog, opts),
    }
}
