//! Expansion of a `k8s.catalog` entry into one `k8s.service` node per
//! service of the blueprint catalog. Each node depends on the entry's own
//! dependencies, on the nodes of the services it declares `depends_on`, and
//! on every resource that publishes a KEY it consumes — so a service that
//! needs no database starts while the database is still being created.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value as Json;

use super::load::Problem;
use super::model::{Resource, Stack};
use crate::blueprint::Catalog;
use crate::envapi::Level;

/// The kind written in a stack for the whole catalog.
pub const CATALOG_KIND: &str = "k8s.catalog";
/// The kind of each expanded node.
pub const SERVICE_KIND: &str = "k8s.service";
/// Properties a `k8s.catalog` entry takes (all passed on to every node).
const CATALOG_PROPS: &[&str] = &["catalog", "namespace", "domain", "rollout_timeout"];

/// Replaces every `k8s.catalog` resource by its service nodes, keeping
/// `items` (the YAML item of each resource, for line lookup) in step.
pub fn expand_catalogs(stack: &mut Stack, items: &mut Vec<usize>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut k = 0;
    while k < stack.resources.len() {
        if stack.resources[k].kind != CATALOG_KIND {
            k += 1;
            continue;
        }
        let entry = stack.resources[k].clone();
        let nodes = match expand_one(stack, &entry) {
            Ok(nodes) => nodes,
            Err(p) => {
                problems.extend(p);
                Vec::new()
            }
        };
        let item = items[k];
        let n = nodes.len();
        stack.resources.splice(k..=k, nodes);
        items.splice(k..=k, std::iter::repeat_n(item, n));
        k += n;
    }
    problems
}

fn expand_one(stack: &Stack, entry: &Resource) -> Result<Vec<Resource>, Vec<Problem>> {
    let subject = Some(format!("resource '{}'", entry.id));
    let problem = |message: String| Problem::new(entry.line, subject.clone(), message);
    let mut problems = Vec::new();
    for key in entry.properties.keys() {
        if !CATALOG_PROPS.contains(&key.as_str()) {
            problems.push(problem(format!(
                "property '{key}' is unknown for kind {CATALOG_KIND}; known properties: {}",
                CATALOG_PROPS.join(", ")
            )));
        }
    }
    for required in ["namespace", "domain"] {
        if !entry.properties.contains_key(required) {
            problems.push(problem(format!(
                "property '{required}' is required for kind {CATALOG_KIND} (e.g. namespace: ${{namespace.name}})"
            )));
        }
    }
    if !entry.publish.is_empty() {
        problems.push(problem(format!(
            "a {CATALOG_KIND} entry publishes nothing; remove its publish list"
        )));
    }
    let dir = entry
        .properties
        .get("catalog")
        .and_then(Json::as_str)
        .unwrap_or("blueprints")
        .to_string();
    let catalog = match Catalog::load(Path::new(&dir)) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(problem(format!("catalog '{dir}': {e}")));
            None
        }
    };
    let Some(catalog) = catalog.filter(|_| problems.is_empty()) else {
        return Err(problems);
    };

    let node_id = |service: &str| format!("{}-{}", entry.id, service);
    let mut nodes = Vec::new();
    for svc in catalog.services() {
        let mut depends_on: BTreeSet<String> = entry.depends_on.iter().cloned().collect();
        depends_on.extend(svc.depends_on().iter().map(|d| node_id(d)));
        for (key, _secret) in svc.consumes() {
            for r in &stack.resources {
                let publishes = r.publish.iter().any(|p| {
                    p.key == key
                        && match &p.level {
                            Level::Environment | Level::Tenant => true,
                            Level::Service(s) => s == svc.name(),
                        }
                });
                if publishes && r.kind != CATALOG_KIND {
                    depends_on.insert(r.id.clone());
                }
            }
        }
        let mut properties = entry.properties.clone();
        properties.insert("catalog".into(), Json::String(dir.clone()));
        properties.insert("service".into(), Json::String(svc.name().to_string()));
        nodes.push(Resource {
            id: node_id(svc.name()),
            kind: SERVICE_KIND.into(),
            properties,
            depends_on: depends_on.into_iter().collect(),
            publish: Vec::new(),
            line: entry.line,
        });
    }
    Ok(nodes)
}
