//! Writing rendered files into a directory without ever losing a file efactl did not write.
//!
//! Every render leaves a manifest, `.efactl-render.json`, listing each file it wrote with its
//! SHA-256. A later render into the same directory may replace or remove exactly those files,
//! and only while their contents still match the manifest: a file the user edited is kept
//! unless `--force` is given twice, and a file the manifest does not list is never touched.
//! A non-empty directory without a manifest is refused whatever the flags, and so are `/`, the
//! home directory, the current directory and its ancestors, a directory holding the spec, and a
//! git work tree.
//!
//! The files are staged inside the directory, then moved into place one rename at a time.
//! Before the first rename an interim manifest lists, for every path, both the old and the new
//! hash, so an interrupted render (Ctrl-C, a full disk) leaves files that a manifest on disk
//! vouches for: the next `--force` replaces them as usual.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// The manifest's name in the output directory.
pub const MANIFEST: &str = ".efactl-render.json";
/// The manifest's schema id.
pub const MANIFEST_SCHEMA: &str = "efactl.render-manifest/v1";
/// The prefix of the staging directories that renders create (inside the output directory, or
/// beside it when it does not exist yet).
pub const STAGING_PREFIX: &str = ".efactl-staging-";

/// One file to write, relative to the output directory (`/`-separated, no `..`).
pub struct NewFile {
    pub path: String,
    pub contents: Vec<u8>,
    pub mode: u32,
}

/// What the caller allows.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `--force` given once (1): replace the files of a previous render whose contents are
    /// unchanged; twice (2): also replace those the user edited.
    pub force: u8,
    /// The spec the files were rendered from (refused as a location, recorded in the manifest).
    pub spec: Option<PathBuf>,
    /// The user's home directory and the current directory, refused as locations (with their
    /// ancestors); `from_env` fills them from the process.
    pub home: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
}

impl WriteOptions {
    pub fn from_env(force: u8, spec: Option<PathBuf>) -> Self {
        WriteOptions {
            force,
            spec,
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
            cwd: std::env::current_dir().ok(),
        }
    }
}

/// What a render did.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Every file written, relative to the output directory.
    pub written: Vec<String>,
    /// Of those, the ones that replaced a file of the previous render.
    pub replaced: Vec<String>,
    /// Files of the previous render that this render no longer produces, removed.
    pub removed: Vec<String>,
    /// Files of the previous render that the user edited, overwritten (`--force --force`).
    pub overwritten_edited: Vec<String>,
    /// Files of the previous render that the user edited and this render no longer produces:
    /// kept.
    pub kept_edited: Vec<String>,
    /// Entries of the directory that efactl did not write, left untouched.
    pub kept_foreign: Vec<String>,
}

/// Why nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum OutdirError {
    #[error("refusing --out {path}: {why}")]
    Refused { path: String, why: String },
    #[error("--out {path} is not empty and holds no {MANIFEST}, so efactl did not render into it: efactl writes only into a new or empty directory, or one it rendered before (it never replaces files it did not write, even with --force); choose another directory, such as {suggestion}")]
    Foreign { path: String, suggestion: String },
    #[error("--out {path} holds a previous render ({n} file(s)); pass --force to replace those files (files efactl did not write are never touched)")]
    NeedsForce { path: String, n: usize },
    #[error("files of the previous render in {path} were edited since: {}; they are kept and nothing was written. Move them away, or pass --force twice to overwrite them", .files.join(", "))]
    Edited { path: String, files: Vec<String> },
    #[error("{} in {path} would be overwritten, and efactl did not write {}; nothing was written. Move {} away or choose another --out", .files.join(", "), if .files.len() == 1 { "it" } else { "them" }, if .files.len() == 1 { "it" } else { "them" })]
    Collision { path: String, files: Vec<String> },
    #[error("{MANIFEST} in {path} cannot be read ({why}); efactl cannot tell its files from yours, so nothing was written. Choose another --out")]
    BadManifest { path: String, why: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema: String,
    efactl_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<String>,
    /// False while files are being moved into place: then `previous` hashes count too.
    complete: bool,
    files: Vec<ManifestFile>,
    /// Directories the renders created (removed again only when empty).
    #[serde(default)]
    dirs: Vec<String>,
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct ManifestFile {
    path: String,
    sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
}

impl ManifestFile {
    fn vouches_for(&self, hash: &str) -> bool {
        self.sha256 == hash || self.previous.as_deref() == Some(hash)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OutdirError {
    let path = path.display().to_string();
    move |source| OutdirError::Io { what, path, source }
}

/// A relative `/`-separated path with no `..`, `.` or root: the only kind of artifact path.
fn valid_relative(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// The absolute, symlink-free form of `path`, which may not exist yet: its nearest existing
/// ancestor is canonicalised and the rest appended.
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut rest: Vec<OsString> = Vec::new();
    let mut cur = path.as_path();
    loop {
        match cur.canonicalize() {
            Ok(c) => {
                let mut out = c;
                for part in rest.iter().rev() {
                    if part == ".." {
                        out.pop();
                    } else if part != "." {
                        out.push(part);
                    }
                }
                return Ok(out);
            }
            Err(_) => {
                let name = cur
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_else(|| {
                        // `..` or `.` at the end of a path that does not exist.
                        cur.components()
                            .next_back()
                            .map(|c| c.as_os_str().to_os_string())
                            .unwrap_or_default()
                    });
                rest.push(name);
                match cur.parent() {
                    Some(p) if !p.as_os_str().is_empty() => cur = p,
                    _ => return Ok(path),
                }
            }
        }
    }
}

/// Directories no render may write into, whatever the flags.
fn refuse_location(out: &Path, display: &str, opts: &WriteOptions) -> Result<(), OutdirError> {
    let refused = |why: String| OutdirError::Refused {
        path: display.to_string(),
        why,
    };
    if out.parent().is_none() {
        return Err(refused("it is the root directory".into()));
    }
    if let Some(home) = &opts.home {
        if let Ok(home) = home.canonicalize() {
            if home == out {
                return Err(refused("it is your home directory".into()));
            }
            if home.starts_with(out) {
                return Err(refused(format!(
                    "it holds your home directory ({})",
                    home.display()
                )));
            }
        }
    }
    if let Some(cwd) = opts.cwd.as_ref().and_then(|c| c.canonicalize().ok()) {
        if cwd == out {
            return Err(refused(
                "it is the current directory; render into a directory of its own, such as build/"
                    .into(),
            ));
        }
        if cwd.starts_with(out) {
            return Err(refused("it holds the current directory".into()));
        }
    }
    if let Some(spec) = opts.spec.as_ref().and_then(|s| s.canonicalize().ok()) {
        if spec.starts_with(out) {
            return Err(refused(format!(
                "it holds the spec {}; render into a directory of its own, such as build/",
                spec.display()
            )));
        }
    }
    if std::fs::symlink_metadata(out.join(".git")).is_ok() {
        return Err(refused("it is a git work tree (it holds .git)".into()));
    }
    Ok(())
}

/// A directory that efactl suggests instead of a refused one.
fn suggestion(out: &Path) -> String {
    out.join("efactl-render").display().to_string()
}

fn read_manifest(dir: &Path, display: &str) -> Result<Option<Manifest>, OutdirError> {
    let p = dir.join(MANIFEST);
    let meta = match std::fs::symlink_metadata(&p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("cannot read", &p)(e)),
    };
    let bad = |why: String| OutdirError::BadManifest {
        path: display.to_string(),
        why,
    };
    if !meta.is_file() {
        return Err(bad("it is not a regular file".into()));
    }
    if meta.len() > 16 * 1024 * 1024 {
        return Err(bad("it is over 16 MiB".into()));
    }
    let text = std::fs::read(&p).map_err(io("cannot read", &p))?;
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    if m.schema != MANIFEST_SCHEMA {
        return Err(bad(format!("unknown schema `{}`", m.schema)));
    }
    if let Some(f) = m.files.iter().find(|f| !valid_relative(&f.path)) {
        return Err(bad(format!("it lists `{}`, outside the directory", f.path)));
    }
    if let Some(d) = m.dirs.iter().find(|d| !valid_relative(d)) {
        return Err(bad(format!("it lists `{d}`, outside the directory")));
    }
    Ok(Some(m))
}

/// The state of one path that a manifest lists.
enum Listed {
    Missing,
    /// A regular file whose hash the manifest vouches for.
    Ours,
    /// Anything else: another hash, a symlink, a directory.
    Edited,
}

fn listed_state(dir: &Path, f: &ManifestFile) -> Result<Listed, OutdirError> {
    // Every directory on the way must be a real directory: a symlink put in place of one
    // (`pcluster -> /etc`) would make the render read and remove files outside.
    let mut acc = dir.to_path_buf();
    let parts: Vec<_> = Path::new(&f.path).components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        acc.push(c.as_os_str());
        match std::fs::symlink_metadata(&acc) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Listed::Missing),
            Err(e) => return Err(io("cannot read", &acc)(e)),
            Ok(m) if !m.is_dir() => return Ok(Listed::Edited),
            Ok(_) => {}
        }
    }
    let p = dir.join(&f.path);
    match std::fs::symlink_metadata(&p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Listed::Missing),
        Err(e) => Err(io("cannot read", &p)(e)),
        Ok(m) if !m.is_file() => Ok(Listed::Edited),
        Ok(m) if m.len() > 64 * 1024 * 1024 => Ok(Listed::Edited),
        Ok(_) => {
            let bytes = std::fs::read(&p).map_err(io("cannot read", &p))?;
            Ok(if f.vouches_for(&sha256_hex(&bytes)) {
                Listed::Ours
            } else {
                Listed::Edited
            })
        }
    }
}

/// Writes `files` into `out` under the rules of this module.
pub fn write(out: &Path, files: &[NewFile], opts: &WriteOptions) -> Result<Outcome, OutdirError> {
    let display = out.display().to_string();
    if let Some(f) = files.iter().find(|f| !valid_relative(&f.path)) {
        return Err(OutdirError::Refused {
            path: display,
            why: format!("artifact path `{}` leaves the directory", f.path),
        });
    }
    let abs = absolute(out).map_err(io("cannot resolve", out))?;
    refuse_location(&abs, &display, opts)?;
    let spec = opts.spec.as_ref().map(|s| s.display().to_string());
    match std::fs::symlink_metadata(&abs) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_new_dir(&abs, files, spec).map(|written| Outcome {
                written,
                ..Outcome::default()
            })
        }
        Err(e) => Err(io("cannot read", out)(e)),
        Ok(_) if !abs.is_dir() => Err(OutdirError::Refused {
            path: display,
            why: "it exists and is not a directory".into(),
        }),
        Ok(_) => write_into(&abs, &display, files, opts, spec),
    }
}

/// A directory that does not exist yet: staged beside it, then renamed into place in one step.
fn write_new_dir(
    out: &Path,
    files: &[NewFile],
    spec: Option<String>,
) -> Result<Vec<String>, OutdirError> {
    let parent = out.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let staging = parent.join(format!("{STAGING_PREFIX}{name}-{}", std::process::id()));
    std::fs::create_dir(&staging).map_err(io("cannot create", &staging))?;
    let mut created = StagingGuard::new(staging.clone());
    let mut dirs = BTreeSet::new();
    for f in files {
        stage_file(&staging, f, &mut created, Some(&mut dirs))?;
    }
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA.into(),
        efactl_version: env!("CARGO_PKG_VERSION").into(),
        spec,
        complete: true,
        files: files
            .iter()
            .map(|f| ManifestFile {
                path: f.path.clone(),
                sha256: sha256_hex(&f.contents),
                previous: None,
            })
            .collect(),
        dirs: dirs.into_iter().collect(),
    };
    let mp = staging.join(MANIFEST);
    write_file(&mp, &manifest_bytes(&manifest), 0o644)?;
    created.files.push(mp);
    std::fs::rename(&staging, out).map_err(io("cannot create", out))?;
    created.disarm();
    Ok(files.iter().map(|f| f.path.clone()).collect())
}

/// An existing directory: empty, or rendered into before.
fn write_into(
    out: &Path,
    display: &str,
    files: &[NewFile],
    opts: &WriteOptions,
    spec: Option<String>,
) -> Result<Outcome, OutdirError> {
    let old = read_manifest(out, display)?;
    let mut entries = Vec::new();
    for e in std::fs::read_dir(out).map_err(io("cannot read", out))? {
        let e = e.map_err(io("cannot read", out))?;
        entries.push(e.file_name().to_string_lossy().into_owned());
    }
    entries.sort();
    let Some(old) = old else {
        if entries.is_empty() {
            return write_fresh_into(out, files, spec);
        }
        return Err(OutdirError::Foreign {
            path: display.to_string(),
            suggestion: suggestion(out),
        });
    };
    if opts.force == 0 {
        return Err(OutdirError::NeedsForce {
            path: display.to_string(),
            n: old.files.len(),
        });
    }
    // What each listed file is now.
    let mut ours = BTreeSet::new();
    let mut edited = BTreeSet::new();
    for f in &old.files {
        match listed_state(out, f)? {
            Listed::Missing => {}
            Listed::Ours => {
                ours.insert(f.path.clone());
            }
            Listed::Edited => {
                edited.insert(f.path.clone());
            }
        }
    }
    let new_paths: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let listed: BTreeSet<&str> = old.files.iter().map(|f| f.path.as_str()).collect();
    // A path to write that exists and is not the previous render's: never overwritten. The
    // same for a parent directory that is a file, or a listed path that became a directory.
    let mut collisions = Vec::new();
    for f in files {
        let mut prefix = PathBuf::new();
        let parts: Vec<_> = Path::new(&f.path).components().collect();
        for (i, c) in parts.iter().enumerate() {
            prefix.push(c.as_os_str());
            let rel = prefix.to_string_lossy().into_owned();
            let last = i + 1 == parts.len();
            match std::fs::symlink_metadata(out.join(&prefix)) {
                Err(_) => break,
                Ok(m) if !last && m.is_dir() => continue,
                Ok(m) if last && listed.contains(rel.as_str()) && !m.is_dir() => {}
                Ok(_) => {
                    collisions.push(rel);
                    break;
                }
            }
        }
    }
    collisions.sort();
    collisions.dedup();
    if !collisions.is_empty() {
        return Err(OutdirError::Collision {
            path: display.to_string(),
            files: collisions,
        });
    }
    let edited_rewritten: Vec<String> = edited
        .iter()
        .filter(|p| new_paths.contains(p.as_str()))
        .cloned()
        .collect();
    let edited_stale: Vec<String> = edited
        .iter()
        .filter(|p| !new_paths.contains(p.as_str()))
        .cloned()
        .collect();
    if !edited.is_empty() && opts.force < 2 {
        return Err(OutdirError::Edited {
            path: display.to_string(),
            files: edited.into_iter().collect(),
        });
    }
    let stale: Vec<String> = ours
        .iter()
        .filter(|p| !new_paths.contains(p.as_str()))
        .cloned()
        .collect();

    // Stage every new file inside the directory (same file system: each rename is atomic).
    let staging = out.join(format!("{STAGING_PREFIX}{}", std::process::id()));
    std::fs::create_dir(&staging).map_err(io("cannot create", &staging))?;
    let mut guard = StagingGuard::new(staging.clone());
    for f in files {
        stage_file(&staging, f, &mut guard, None)?;
    }
    let old_hash: BTreeMap<String, String> = old
        .files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    let mut dirs: BTreeSet<String> = old.dirs.iter().cloned().collect();
    let new_entries: Vec<ManifestFile> = files
        .iter()
        .map(|f| ManifestFile {
            path: f.path.clone(),
            sha256: sha256_hex(&f.contents),
            previous: None,
        })
        .collect();
    // The interim manifest vouches for the old and the new contents of every path, and keeps
    // the stale files listed until they are gone.
    let mut interim = old.clone();
    interim.complete = false;
    interim.files = new_entries
        .iter()
        .map(|f| ManifestFile {
            previous: old_hash.get(&f.path).cloned(),
            ..f.clone()
        })
        .chain(
            old.files
                .iter()
                .filter(|f| !new_paths.contains(f.path.as_str()))
                .cloned(),
        )
        .collect();
    for f in files {
        for d in new_dirs(out, &f.path) {
            dirs.insert(d);
        }
    }
    interim.dirs = dirs.iter().cloned().collect();
    replace_manifest(out, &staging, &interim)?;
    let mut outcome = Outcome {
        kept_edited: edited_stale.clone(),
        overwritten_edited: edited_rewritten,
        ..Outcome::default()
    };
    for f in files {
        let target = out.join(&f.path);
        if let Some(p) = target.parent() {
            std::fs::create_dir_all(p).map_err(io("cannot create", p))?;
        }
        let from = staging.join(&f.path);
        std::fs::rename(&from, &target).map_err(io("cannot write", &target))?;
        guard.files.retain(|g| *g != from);
        if ours.contains(&f.path) || outcome.overwritten_edited.contains(&f.path) {
            outcome.replaced.push(f.path.clone());
        }
        outcome.written.push(f.path.clone());
    }
    for p in &stale {
        let target = out.join(p);
        std::fs::remove_file(&target).map_err(io("cannot remove", &target))?;
        outcome.removed.push(p.clone());
    }
    // Directories a render created and that are now empty; rmdir never removes a non-empty one.
    let mut by_depth: Vec<&String> = dirs.iter().collect();
    by_depth.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    let mut kept_dirs = BTreeSet::new();
    for d in by_depth {
        if std::fs::remove_dir(out.join(d)).is_err() {
            kept_dirs.insert(d.clone());
        }
    }
    let mut final_manifest = old;
    final_manifest.complete = true;
    final_manifest.efactl_version = env!("CARGO_PKG_VERSION").into();
    final_manifest.spec = spec;
    final_manifest.files = new_entries;
    // A stale file the user edited stays listed, with its old hash, so that it stays ours to
    // name (and never becomes a collision) in the next render.
    for p in &edited_stale {
        if let Some(h) = old_hash.get(p) {
            final_manifest.files.push(ManifestFile {
                path: p.clone(),
                sha256: h.to_string(),
                previous: None,
            });
        }
    }
    final_manifest.dirs = kept_dirs.into_iter().collect();
    replace_manifest(out, &staging, &final_manifest)?;
    guard.finish();
    let ours_now: BTreeSet<String> = final_manifest
        .files
        .iter()
        .map(|f| f.path.clone())
        .collect();
    outcome.kept_foreign = foreign_entries(out, &ours_now, &final_manifest.dirs, &entries);
    Ok(outcome)
}

/// An existing empty directory: stage inside, move into place, manifest last.
fn write_fresh_into(
    out: &Path,
    files: &[NewFile],
    spec: Option<String>,
) -> Result<Outcome, OutdirError> {
    let staging = out.join(format!("{STAGING_PREFIX}{}", std::process::id()));
    std::fs::create_dir(&staging).map_err(io("cannot create", &staging))?;
    let mut guard = StagingGuard::new(staging.clone());
    for f in files {
        stage_file(&staging, f, &mut guard, None)?;
    }
    let mut dirs = BTreeSet::new();
    for f in files {
        for d in new_dirs(out, &f.path) {
            dirs.insert(d);
        }
    }
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA.into(),
        efactl_version: env!("CARGO_PKG_VERSION").into(),
        spec,
        complete: true,
        files: files
            .iter()
            .map(|f| ManifestFile {
                path: f.path.clone(),
                sha256: sha256_hex(&f.contents),
                previous: None,
            })
            .collect(),
        dirs: dirs.into_iter().collect(),
    };
    // The manifest first: from then on every file that appears is one it vouches for.
    replace_manifest(out, &staging, &manifest)?;
    let mut written = Vec::new();
    for f in files {
        let target = out.join(&f.path);
        if let Some(p) = target.parent() {
            std::fs::create_dir_all(p).map_err(io("cannot create", p))?;
        }
        let from = staging.join(&f.path);
        std::fs::rename(&from, &target).map_err(io("cannot write", &target))?;
        guard.files.retain(|g| *g != from);
        written.push(f.path.clone());
    }
    guard.finish();
    Ok(Outcome {
        written,
        ..Outcome::default()
    })
}

/// The directories on the way to `rel` that do not exist yet (relative, shallowest first).
fn new_dirs(out: &Path, rel: &str) -> Vec<String> {
    let mut acc = PathBuf::new();
    let mut v = Vec::new();
    let parts: Vec<_> = Path::new(rel).components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        acc.push(c.as_os_str());
        if !out.join(&acc).exists() {
            v.push(acc.to_string_lossy().into_owned());
        }
    }
    v
}

/// The top-level entries of `out` that no manifest vouches for (named in the output).
fn foreign_entries(
    out: &Path,
    ours: &BTreeSet<String>,
    dirs: &[String],
    before: &[String],
) -> Vec<String> {
    let ours_top: BTreeSet<String> = ours
        .iter()
        .chain(dirs.iter())
        .filter_map(|p| p.split('/').next().map(str::to_string))
        .collect();
    let mut v: Vec<String> = before
        .iter()
        .filter(|e| e.as_str() != MANIFEST && !ours_top.contains(*e))
        .filter(|e| out.join(e).exists() || std::fs::symlink_metadata(out.join(e)).is_ok())
        .cloned()
        .collect();
    // Inside a directory the render shares with the user (e.g. `pcluster/`), name the user's
    // files too.
    for top in &ours_top {
        let dir = out.join(top);
        if !dir.is_dir()
            || std::fs::symlink_metadata(&dir)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(true)
        {
            continue;
        }
        let mut stack = vec![PathBuf::from(top)];
        while let Some(rel) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(out.join(&rel)) else {
                continue;
            };
            for e in rd.flatten() {
                let r = rel.join(e.file_name());
                let s = r.to_string_lossy().into_owned();
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir
                    && (dirs.contains(&s) || ours.iter().any(|o| o.starts_with(&format!("{s}/"))))
                {
                    stack.push(r);
                } else if !ours.contains(&s) {
                    v.push(s);
                }
            }
        }
    }
    v.sort();
    v
}

fn manifest_bytes(m: &Manifest) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(m).expect("manifest serialises");
    v.push(b'\n');
    v
}

fn replace_manifest(out: &Path, staging: &Path, m: &Manifest) -> Result<(), OutdirError> {
    let tmp = staging.join(MANIFEST);
    write_file(&tmp, &manifest_bytes(m), 0o644)?;
    let target = out.join(MANIFEST);
    std::fs::rename(&tmp, &target).map_err(io("cannot write", &target))
}

fn stage_file(
    staging: &Path,
    f: &NewFile,
    guard: &mut StagingGuard,
    mut dirs: Option<&mut BTreeSet<String>>,
) -> Result<(), OutdirError> {
    let p = staging.join(&f.path);
    if let Some(parent) = p.parent() {
        let mut acc = PathBuf::new();
        for c in Path::new(&f.path)
            .parent()
            .unwrap_or(Path::new(""))
            .components()
        {
            acc.push(c.as_os_str());
            let d = staging.join(&acc);
            if !d.exists() {
                std::fs::create_dir(&d).map_err(io("cannot create", &d))?;
                guard.dirs.push(d);
                if let Some(dirs) = dirs.as_deref_mut() {
                    dirs.insert(acc.to_string_lossy().into_owned());
                }
            }
        }
        debug_assert!(parent.is_dir());
    }
    write_file(&p, &f.contents, f.mode)?;
    guard.files.push(p);
    Ok(())
}

/// Creates a new file (never follows or replaces an existing one) with its mode, and syncs it.
fn write_file(p: &Path, contents: &[u8], mode: u32) -> Result<(), OutdirError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    let mut file = o.open(p).map_err(io("cannot write", p))?;
    file.write_all(contents)
        .and_then(|_| file.sync_all())
        .map_err(io("cannot write", p))?;
    #[cfg(unix)]
    {
        // The umask may have cleared bits of `mode`; scripts must stay executable.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .map_err(io("cannot write", p))?;
    }
    Ok(())
}

/// Removes what a render staged, file by file, if it stops half way; never more.
struct StagingGuard {
    root: PathBuf,
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    armed: bool,
}

impl StagingGuard {
    fn new(root: PathBuf) -> Self {
        StagingGuard {
            root,
            files: Vec::new(),
            dirs: Vec::new(),
            armed: true,
        }
    }
    fn disarm(&mut self) {
        self.armed = false;
    }
    /// Success: the staged files were moved out; remove the (now empty) staging directories.
    fn finish(mut self) {
        self.clean();
        self.armed = false;
    }
    fn clean(&mut self) {
        for f in self.files.drain(..) {
            let _ = std::fs::remove_file(f);
        }
        for d in self.dirs.drain(..).rev() {
            let _ = std::fs::remove_dir(d);
        }
        let _ = std::fs::remove_dir(&self.root);
    }
}

impl Drop for StagingGuard {
    fn drop(&mut self) {
        if self.armed {
            self.clean();
        }
    }
}

#[cfg(test)]
mod tests;
