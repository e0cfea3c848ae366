//! A rollout that changes each tenant's own stack instead of applying one
//! stack to all: its service catalog replaced (`--catalog DIR`) and/or one
//! service's image tag set (`--service NAME --tag T`). Each tenant's new
//! content is derived from the revision it runs, so tenants created from
//! different stacks each keep theirs; the derivation is pure in what it
//! reads (the revision and the rollout's spec), so a resumed rollout
//! derives the same content again and recognises a revision that already
//! holds it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::release::Snapshot;
use crate::release::reapply::{self, Restored};
use crate::release::snapshot::CatalogSource;
use crate::stack::expand::{CATALOG_KIND, SERVICE_KIND, expand_catalogs};
use crate::stack::{Builtins, Resource, Stack};
use crate::state::RevisionRow;

/// What a per-tenant rollout changes (at least one of the two).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<NewCatalog>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tag: Option<ServiceTag>,
}

/// `--catalog DIR`: the catalog's files as read when the rollout started.
/// A resume applies these, whatever the directory holds by then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCatalog {
    pub dir: PathBuf,
    pub source: CatalogSource,
}

/// `--service NAME --tag T`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTag {
    pub service: String,
    pub tag: String,
}

/// What a tenant gets.
pub enum Derived {
    /// The change does not concern this tenant (e.g. it runs no service of
    /// that name); why, in words.
    Skip(String),
    /// Its new stack (catalogs written to a scratch directory that lives as
    /// long as this) and content.
    Apply(Box<Wanted>),
}

pub struct Wanted {
    pub stack: Stack,
    pub environment: String,
    pub content: Snapshot,
    /// Holds the scratch directory the stack's catalogs were written to.
    _restored: Option<Restored>,
}

impl Wanted {
    /// `stack` as it is, in `environment`.
    pub fn of_stack(stack: Stack, environment: &str) -> Result<Wanted, String> {
        let content = Snapshot::of(&stack, environment)?;
        Ok(Wanted {
            stack,
            environment: environment.to_string(),
            content,
            _restored: None,
        })
    }
}

impl NewCatalog {
    /// Reads and checks the catalog at `dir` (a bad one is the caller's bad
    /// input, nothing recorded).
    pub fn read(dir: &Path) -> Result<NewCatalog, String> {
        crate::blueprint::Catalog::load(dir)
            .map_err(|e| format!("--catalog {}: {e}", dir.display()))?;
        let source =
            CatalogSource::read(dir).map_err(|e| format!("--catalog {}: {e}", dir.display()))?;
        let dir =
            std::path::absolute(dir).map_err(|e| format!("--catalog {}: {e}", dir.display()))?;
        Ok(NewCatalog { dir, source })
    }
}

impl TenantChange {
    /// In words, for the report: `catalog /x/blueprints, service orders tag 4.3.0`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.catalog {
            parts.push(format!("catalog {}", c.dir.display()));
        }
        if let Some(st) = &self.service_tag {
            parts.push(format!("service {} tag {}", st.service, st.tag));
        }
        parts.join(", ")
    }

    /// The content revision `row` becomes under this change, in
    /// `environment`. An error is a sentence naming the tenant.
    pub fn derive(
        &self,
        row: &RevisionRow,
        environment: &str,
        builtins: &Builtins,
    ) -> Result<Derived, String> {
        let tenant = &row.tenant;
        let mut snap = reapply::content(row)?;
        if snap.catalogs.is_empty() {
            return Ok(Derived::Skip(format!(
                "revision {} of tenant {tenant} runs no service catalog",
                row.revision
            )));
        }
        if let Some(new) = &self.catalog {
            if snap.catalogs.len() > 1 {
                return Err(format!(
                    "tenant {tenant} runs {} catalogs ({}); --catalog replaces one: roll out a stack naming each instead (--stack)",
                    snap.catalogs.len(),
                    snap.catalogs.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            for source in snap.catalogs.values_mut() {
                *source = new.source.clone();
            }
        }
        if let Some(st) = &self.service_tag {
            let mut found = false;
            for source in snap.catalogs.values_mut() {
                if let Some(text) = with_tag(&source.catalog, &st.service, &st.tag)? {
                    source.catalog = text;
                    found = true;
                }
            }
            if !found {
                return Ok(Derived::Skip(format!(
                    "tenant {tenant} runs no service '{}' (revision {})",
                    st.service, row.revision
                )));
            }
        }
        let mut restored = reapply::restore_as(&snap, row, builtins)?;
        if self.catalog.is_some() {
            // A new catalog may add or remove services: expand it again,
            // as loading the stack would.
            reexpand(&mut restored.stack)
                .map_err(|e| format!("tenant {tenant} with the new catalog: {e}"))?;
        }
        let content = Snapshot::of(&restored.stack, environment)
            .map_err(|e| format!("tenant {tenant}: {e}"))?;
        Ok(Derived::Apply(Box::new(Wanted {
            stack: restored.stack.clone(),
            environment: environment.to_string(),
            content,
            _restored: Some(restored),
        })))
    }
}

/// Derives every tenant's new content from its latest revision before a
/// rollout is recorded: a change that cannot be made (a bad tag, a catalog
/// that breaks a tenant's stack) is refused in words, and so is one that
/// concerns none of them.
pub fn check(
    change: &TenantChange,
    latest: &[RevisionRow],
    environment: Option<&str>,
    builtins: &Builtins,
) -> Result<(), String> {
    let mut skipped = Vec::new();
    for row in latest {
        let env = environment.unwrap_or(&row.environment);
        match change.derive(row, env, builtins)? {
            Derived::Apply(_) => {}
            Derived::Skip(why) => skipped.push(why),
        }
    }
    if !latest.is_empty() && skipped.len() == latest.len() {
        return Err(format!(
            "{} concerns none of the {} tenant(s) selected: {}",
            change.describe(),
            latest.len(),
            skipped.join("; ")
        ));
    }
    Ok(())
}

/// `catalog` (a catalog.yaml) with service `service`'s tag set to `tag`, or
/// `None` when it has no such service. Comments are not kept (the text is
/// what the revision records, not what anybody edits).
fn with_tag(catalog: &str, service: &str, tag: &str) -> Result<Option<String>, String> {
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(catalog)
        .map_err(|e| format!("a recorded catalog.yaml does not parse: {e}"))?;
    let Some(services) = doc.get_mut("services").and_then(|s| s.as_sequence_mut()) else {
        return Ok(None);
    };
    let mut found = false;
    for svc in services.iter_mut() {
        if svc.get("name").and_then(|n| n.as_str()) == Some(service)
            && let Some(map) = svc.as_mapping_mut()
        {
            map.insert("tag".into(), serde_yaml_ng::Value::String(tag.to_string()));
            found = true;
        }
    }
    if !found {
        return Ok(None);
    }
    serde_yaml_ng::to_string(&doc)
        .map(Some)
        .map_err(|e| format!("writing catalog.yaml: {e}"))
}

/// Folds the expanded `k8s.service` nodes of `stack` back into one
/// `k8s.catalog` entry per entry they came from, then expands those again
/// from the catalogs as they are now. An entry's own dependencies are the
/// ones all its services share (a KEY's publisher every service reads is
/// kept too: harmless, every service waited for it anyway).
fn reexpand(stack: &mut Stack) -> Result<(), String> {
    let service_ids: BTreeSet<String> = stack
        .resources
        .iter()
        .filter(|r| r.kind == SERVICE_KIND)
        .map(|r| r.id.clone())
        .collect();
    let Some(first) = stack.resources.iter().position(|r| r.kind == SERVICE_KIND) else {
        return Ok(());
    };
    let mut entries: BTreeMap<String, Resource> = BTreeMap::new();
    for r in stack.resources.iter().filter(|r| r.kind == SERVICE_KIND) {
        let service = r
            .properties
            .get("service")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("node '{}' names no service", r.id))?;
        let entry =
            r.id.strip_suffix(&format!("-{service}"))
                .ok_or_else(|| format!("node '{}' is not named <entry>-{service}", r.id))?;
        match entries.get_mut(entry) {
            Some(e) => e.depends_on.retain(|d| r.depends_on.contains(d)),
            None => {
                let mut properties = r.properties.clone();
                properties.remove("service");
                entries.insert(
                    entry.to_string(),
                    Resource {
                        id: entry.to_string(),
                        kind: CATALOG_KIND.into(),
                        properties,
                        depends_on: r.depends_on.clone(),
                        wait_for: r.wait_for.clone(),
                        publish: Vec::new(),
                        pool: None,
                        line: 0,
                    },
                );
            }
        }
    }
    for e in entries.values_mut() {
        e.depends_on.retain(|d| !service_ids.contains(d));
    }
    stack.resources.retain(|r| r.kind != SERVICE_KIND);
    let at = first.min(stack.resources.len());
    stack.resources.splice(at..at, entries.into_values());
    let mut items = vec![0; stack.resources.len()];
    let problems = expand_catalogs(stack, &mut items);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = "# the catalog\nservices:\n  - name: web\n    image: r.example/web\n    tag: \"1.0.0\"\n  - name: api\n    image: r.example/api\n    tag: \"2.0.0\"\n";

    #[test]
    fn with_tag_sets_only_the_named_service() {
        let text = with_tag(CATALOG, "api", "2.1.0").unwrap().unwrap();
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        let tag = |i: usize| doc["services"][i]["tag"].as_str().unwrap().to_string();
        assert_eq!(tag(0), "1.0.0");
        assert_eq!(tag(1), "2.1.0");
    }

    #[test]
    fn with_tag_of_an_unknown_service_is_none() {
        assert_eq!(with_tag(CATALOG, "billing", "1.0.1").unwrap(), None);
    }
}
