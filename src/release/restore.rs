//! Re-applying a recorded revision: the snapshot turned back into a
//! [`Stack`] that `create` runs like any other, its catalogs written from
//! their recorded source into a directory of the caller's. A revision that
//! held a secret literal cannot be restored (the value was never stored):
//! that is said, naming the node and property.

use std::path::Path;

use serde_json::Value;

use super::snapshot::{SECRET_MARKER, Snapshot};
use crate::envapi::Level;
use crate::graph::Until;
use crate::stack::expand::SERVICE_KIND;
use crate::stack::{Publish, Resource, Stack, Wait, WaitFrom};

/// Writes the recorded source of each of `snap`'s catalogs under `dir`
/// (one folder per catalog) and returns, by the directory the nodes name,
/// the folder it was written to.
pub fn write_catalogs(
    snap: &Snapshot,
    dir: &Path,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut catalog_dirs = std::collections::BTreeMap::new();
    for (k, (original, source)) in snap.catalogs.iter().enumerate() {
        let at = dir.join(format!("catalog-{k}"));
        let templates = at.join("templates");
        let write = |path: &Path, text: &str| {
            std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
        };
        std::fs::create_dir_all(&templates).map_err(|e| format!("{}: {e}", templates.display()))?;
        write(&at.join(crate::blueprint::CATALOG_FILE), &source.catalog)?;
        for (file, text) in &source.templates {
            write(&templates.join(file), text)?;
        }
        catalog_dirs.insert(original.clone(), at.display().to_string());
    }
    Ok(catalog_dirs)
}

/// The stack of `snap`, its catalogs written under `dir` (one folder per
/// catalog); the stack-wide settings (budget, timeouts, limits, expected
/// durations) are `settings`'s, e.g. the current stack file's.
pub fn stack_of(snap: &Snapshot, settings: &Stack, dir: &Path) -> Result<Stack, String> {
    let catalog_dirs = write_catalogs(snap, dir)?;
    let mut resources = Vec::new();
    for (id, node) in &snap.nodes {
        let mut properties = node.properties.clone();
        if let Some((prop, _)) = properties
            .iter()
            .find(|(_, v)| v.as_str() == Some(SECRET_MARKER))
        {
            return Err(format!(
                "node '{id}' ({}) had a secret literal in property '{prop}', which revisions never store, so it cannot be restored; \
                 make it a reference (a secret.password, or a value set with `envctl env set --secret`) and create the tenant again",
                node.kind
            ));
        }
        if node.kind == SERVICE_KIND {
            let recorded = properties.get("catalog").and_then(Value::as_str);
            let written = recorded.and_then(|c| catalog_dirs.get(c)).ok_or_else(|| {
                format!("node '{id}': the revision does not hold the source of its catalog")
            })?;
            properties.insert("catalog".into(), Value::String(written.clone()));
        }
        let publish = node
            .publish
            .iter()
            .map(|p| {
                let level = match p.level.as_str() {
                    "environment" => Level::Environment,
                    "tenant" => Level::Tenant,
                    other => match other.strip_prefix("service:") {
                        Some(s) => Level::Service(s.to_string()),
                        None => return Err(format!("node '{id}': unknown level '{other}'")),
                    },
                };
                Ok(Publish {
                    output: p.output.clone(),
                    key: p.key.clone(),
                    level,
                    secret: p.secret,
                })
            })
            .collect::<Result<_, String>>()?;
        resources.push(Resource {
            id: id.clone(),
            kind: node.kind.clone(),
            properties,
            depends_on: node.depends_on.clone(),
            wait_for: node
                .created_edges
                .iter()
                .map(|dependency| Wait {
                    resource: dependency.clone(),
                    until: Until::Created,
                    from: WaitFrom::WaitFor,
                })
                .collect(),
            publish,
            pool: None,
            line: 0,
        });
    }
    Ok(Stack {
        path: snap.stack_path.clone().into(),
        name: snap.stack.clone(),
        environment: snap.environment.clone(),
        resources,
        ..settings.clone()
    })
}
