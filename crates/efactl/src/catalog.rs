//! The catalog `check`, `render`, `deploy` and `nccl` use: the bundled one, with the rows of
//! the user's cache (`efactl catalog refresh`) winning over it.

use efactl_core::catalog::{parse_csv, InstanceType};
use efactl_core::Catalog;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where `catalog refresh` writes: `$EFACTL_CATALOG_CACHE`, else
/// `$XDG_CACHE_HOME/efactl/instance-types.csv`, else `~/.cache/efactl/instance-types.csv`.
pub fn cache_path() -> Option<PathBuf> {
    let set = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(p) = set("EFACTL_CATALOG_CACHE") {
        return Some(PathBuf::from(p));
    }
    let base = set("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("efactl").join("instance-types.csv"))
}

/// The cache's rows; `Ok(None)` when there is no cache. An unreadable or malformed cache is
/// an error naming the file and line.
pub fn read_cache() -> anyhow::Result<Option<(PathBuf, Vec<InstanceType>)>> {
    let Some(path) = cache_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => anyhow::bail!("the instance-type cache {}: {e}", path.display()),
    };
    let rows = parse_csv(&text)
        .map_err(|e| anyhow::anyhow!("the instance-type cache {}: {e}", path.display()))?;
    Ok(Some((path, rows)))
}

/// The catalog with the cache applied, read once. A broken cache does not stop a check: it
/// is reported on stderr (with how to repair it) and the bundled catalog is used.
pub fn load() -> &'static Catalog {
    static LOADED: OnceLock<Option<Catalog>> = OnceLock::new();
    LOADED
        .get_or_init(|| match read_cache() {
            Ok(Some((_, rows))) => Some(Catalog::with_overlay(rows)),
            Ok(None) => None,
            Err(e) => {
                eprintln!(
                    "efactl: warning: {e:#}; using the bundled catalog (`efactl catalog refresh` rewrites the cache)"
                );
                None
            }
        })
        .as_ref()
        .unwrap_or_else(Catalog::bundled)
}
