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
use std::sync::LazyLock;

use crate::envapi::Level;
use crate::kinds::schema::PropSchema;

/// The kind written in a stack for the whole catalog.
pub const CATALOG_KIND: &str = "k8s.catalog";
/// The kind of each expanded node.
pub const SERVICE_KIND: &str = "k8s.service";
/// A `k8s.catalog` entry: the whole service catalog as one resource, each
/// service becoming a `k8s.service` node with these properties.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read through its schema; the nodes get the raw values
pub struct CatalogProps {
    /// The catalog directory, relative to the stack file (default
    /// `blueprints` beside it).
    catalog: Option<String>,
    /// The namespace the services run in, e.g. `${namespace.name}`.
    namespace: String,
    /// The DNS domain the services' hosts are made under, e.g. `${zone.name}`.
    domain: String,
    /// How long each service's rollout may take, e.g. `5m` (default: the
    /// `k8s.service` kind's).
    rollout_timeout: Option<String>,
}

impl crate::kinds::schema::KindProps for CatalogProps {}

/// The typed schema of a `k8s.catalog` entry's properties.
pub fn catalog_schema() -> &'static PropSchema {
    static SCHEMA: LazyLock<PropSchema> =
        LazyLock::new(|| PropSchema::of::<CatalogProps>(CATALOG_KIND));
    &SCHEMA
}

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
    for issue in catalog_schema().issues(&entry.properties) {
        problems.push(problem(format!(
            "kind {CATALOG_KIND}: {}",
            issue.sentence()
        )));
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
        .unwrap_or(super::paths::DEFAULT_CATALOG)
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
            // The entry's `until:`s and `wait_for:` hold for each service.
            wait_for: entry.wait_for.clone(),
            publish: Vec::new(),
            pool: None,
            line: entry.line,
        });
    }
    Ok(nodes)
}
