//! docs/rules/ is generated from the rules' own documentation. This test fails when the files
//! are stale; `EFACTL_BLESS=1 cargo test -p efactl-core --test docs` rewrites them.

use efactl_core::rules::RULES;
use std::collections::BTreeMap;
use std::path::Path;

fn expected() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut index = String::from(
        "# efactl rules\n\n<!-- generated from crates/efactl-core/src/rules by `EFACTL_BLESS=1 cargo test -p efactl-core --test docs`; do not edit -->\n\n\
         Input rules (`SPEC…`) report a spec that cannot be read or understood (exit 2); cluster rules\n\
         (`EFA…`) report a cluster that will not work, or not well (exit 1 at or above `--fail-on`);\n\
         log rules (`NCCL…`) are raised by `efactl nccl analyze` from NCCL, libfabric, torch.distributed\n\
         and nccl-tests output.\n\
         Severities are defaults: change them with `--severity ID=LEVEL` or `checks.severity` in the spec.\n\n\
         | id | name | default | title |\n|---|---|---|---|\n",
    );
    for r in RULES {
        index.push_str(&format!(
            "| [{id}]({id}.md) | `{name}` | {sev} | {title} |\n",
            id = r.id,
            name = r.name,
            sev = r.severity,
            title = r.title
        ));
        files.insert(
            format!("{}.md", r.id),
            format!(
                "# {} `{}`\n\n<!-- generated; do not edit -->\n\nDefault severity: **{}**. {}\n\n{}\n",
                r.id,
                r.name,
                r.severity,
                r.title,
                r.doc.trim_end()
            ),
        );
    }
    files.insert("README.md".into(), index);
    files
}

#[test]
fn rule_docs_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules");
    let want = expected();
    if std::env::var_os("EFACTL_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if !want.contains_key(&*p.file_name().unwrap().to_string_lossy()) {
                std::fs::remove_file(p).unwrap();
            }
        }
        for (name, text) in &want {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let mut stale = Vec::new();
    for (name, text) in &want {
        if std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text.as_str()) {
            stale.push(name.clone());
        }
    }
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            if !want.contains_key(&n) {
                stale.push(format!("{n} (no such rule)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "docs/rules is stale ({stale:?}); run `EFACTL_BLESS=1 cargo test -p efactl-core --test docs`"
    );
}
