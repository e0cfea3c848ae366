//! A revision's content: every node of a loaded (catalog-expanded) stack
//! with its properties as written (`${id.output}` references unresolved),
//! what it publishes, and for each catalog service the image, tag, port,
//! replicas, resources, HPA, ingress and the KEYs it reads, and the source
//! of the catalogs they came from (for a re-apply). Secret values
//! are never in it: a property that holds one is replaced by
//! [`SECRET_MARKER`], and services only name their KEYs (the values live in
//! the value store).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::blueprint::{self, Catalog};
use crate::envapi::Level;
use crate::graph::Until;
use crate::stack::expand::SERVICE_KIND;
use crate::stack::{Resource, Stack};

/// What a revision holds in place of a secret value.
pub const SECRET_MARKER: &str = "(secret: not stored)";

/// The version of the snapshot's JSON shape.
const FORMAT: u32 = 1;

/// Properties that may hold a secret value, by kind: a literal there is
/// masked (a lone `${id.output}` reference is kept: it is a name, not a
/// value). `env.value`'s `value` counts only when the resource publishes it
/// with `secret: true`.
const SECRET_PROPERTIES: &[(&str, &str)] = &[
    // The master password (rds/props.rs): normally a reference to a
    // secret.password, but a literal is accepted.
    ("aws.rds.instance", "password"),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: u32,
    pub stack: String,
    pub stack_path: String,
    pub environment: String,
    /// By node id.
    pub nodes: BTreeMap<String, NodeSpec>,
    /// The source of each catalog the services came from, by directory as
    /// the nodes name it: what re-applying the revision renders from (a
    /// catalog holds KEY names, never values). Not compared by the diff,
    /// which compares the services themselves.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub catalogs: BTreeMap<String, CatalogSource>,
}

/// A catalog's files as they were applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSource {
    /// `catalog.yaml`.
    pub catalog: String,
    /// `templates/*.yaml.mustache`, by file name.
    pub templates: BTreeMap<String, String>,
}

impl CatalogSource {
    pub fn read(dir: &Path) -> Result<CatalogSource, String> {
        let read = |path: std::path::PathBuf| {
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
        };
        let mut templates = BTreeMap::new();
        for file in blueprint::TEMPLATE_FILES {
            templates.insert(file.to_string(), read(dir.join("templates").join(file))?);
        }
        Ok(CatalogSource {
            catalog: read(dir.join(blueprint::CATALOG_FILE))?,
            templates,
        })
    }
}

/// One node as applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Dependencies waited on only until created (`wait_for` / `until:`),
    /// by id; every other one is waited on until ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_edges: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<Published>,
    /// For a `k8s.service` node: its catalog entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSpec>,
}

/// One output published as a KEY (the value itself is not kept).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub output: String,
    pub key: String,
    /// `environment`, `tenant` or `service:<name>`.
    pub level: String,
    pub secret: bool,
}

/// A catalog service as applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub image: String,
    pub tag: String,
    pub port: u16,
    /// Replicas without an HPA (with one, the HPA owns the count).
    pub replicas: u32,
    pub resources: Resources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa: Option<Hpa>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Ingress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// KEYs read as plain values.
    #[serde(default)]
    pub env: Vec<String>,
    /// KEYs read as secret values (only their names).
    #[serde(default)]
    pub secrets: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub requests: Quantities,
    pub limits: Quantities,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantities {
    pub cpu: String,
    pub memory: String,
    pub ephemeral_storage: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hpa {
    pub min: u32,
    pub max: u32,
    pub cpu_percent: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ingress {
    pub host: String,
    pub path: String,
}

impl Snapshot {
    /// The snapshot of `stack` (loaded and validated, so catalog-expanded)
    /// for `environment`. Reads each catalog named by its services; an
    /// unreadable one is an error sentence.
    pub fn of(stack: &Stack, environment: &str) -> Result<Snapshot, String> {
        let mut catalogs: BTreeMap<String, Catalog> = BTreeMap::new();
        let mut nodes = BTreeMap::new();
        for r in &stack.resources {
            let service = if r.kind == SERVICE_KIND {
                Some(service_of(r, &mut catalogs)?)
            } else {
                None
            };
            nodes.insert(
                r.id.clone(),
                NodeSpec {
                    kind: r.kind.clone(),
                    properties: masked_properties(r),
                    depends_on: r.depends_on.clone(),
                    created_edges: r
                        .wait_for
                        .iter()
                        .filter(|w| w.until == Until::Created)
                        .map(|w| w.resource.clone())
                        .collect(),
                    publish: r
                        .publish
                        .iter()
                        .map(|p| Published {
                            output: p.output.clone(),
                            key: p.key.clone(),
                            level: level_word(&p.level),
                            secret: p.secret,
                        })
                        .collect(),
                    service,
                },
            );
        }
        let catalogs = catalogs
            .keys()
            .map(|dir| Ok((dir.clone(), CatalogSource::read(Path::new(dir))?)))
            .collect::<Result<_, String>>()?;
        Ok(Snapshot {
            format: FORMAT,
            stack: stack.name.clone(),
            stack_path: stack.path.display().to_string(),
            environment: environment.to_string(),
            nodes,
            catalogs,
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a snapshot serializes")
    }

    pub fn from_json(json: &str) -> Result<Snapshot, String> {
        serde_json::from_str(json).map_err(|e| format!("stored revision content: {e}"))
    }
}

fn level_word(level: &Level) -> String {
    match level {
        Level::Environment => "environment".into(),
        Level::Tenant => "tenant".into(),
        Level::Service(s) => format!("service:{s}"),
    }
}

/// True for a string that is one `${id.output}` reference and nothing else.
fn lone_reference(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1
}

/// The properties of `r`, each secret one's literal replaced by the marker.
fn masked_properties(r: &Resource) -> Map<String, Value> {
    let publishes_secret = r.publish.iter().any(|p| p.secret);
    let secret = |prop: &str| {
        SECRET_PROPERTIES.contains(&(r.kind.as_str(), prop))
            || (r.kind == "env.value" && prop == "value" && publishes_secret)
    };
    r.properties
        .iter()
        .map(|(k, v)| {
            let keep = !secret(k) || v.as_str().is_some_and(lone_reference);
            let v = if keep {
                v.clone()
            } else {
                Value::String(SECRET_MARKER.into())
            };
            (k.clone(), v)
        })
        .collect()
}

/// The catalog entry of a `k8s.service` node, its catalog loaded once.
fn service_of(
    r: &Resource,
    catalogs: &mut BTreeMap<String, Catalog>,
) -> Result<ServiceSpec, String> {
    let dir = r
        .properties
        .get("catalog")
        .and_then(Value::as_str)
        .unwrap_or(crate::stack::paths::DEFAULT_CATALOG)
        .to_string();
    let name = r
        .properties
        .get("service")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !catalogs.contains_key(&dir) {
        let c = Catalog::load(Path::new(&dir))
            .map_err(|e| format!("node '{}': catalog '{dir}': {e}", r.id))?;
        catalogs.insert(dir.clone(), c);
    }
    let svc = catalogs[&dir].service(name).ok_or_else(|| {
        format!(
            "node '{}': catalog '{dir}' has no service '{name}' any more; load the stack again",
            r.id
        )
    })?;
    Ok(service_spec(svc))
}

fn quantities(q: &blueprint::Quantities) -> Quantities {
    Quantities {
        cpu: q.cpu.clone(),
        memory: q.memory.clone(),
        ephemeral_storage: q.ephemeral_storage.clone(),
    }
}

fn service_spec(svc: &blueprint::Service) -> ServiceSpec {
    ServiceSpec {
        image: svc.image().to_string(),
        tag: svc.tag().to_string(),
        port: svc.port(),
        replicas: svc.replicas(),
        resources: Resources {
            requests: quantities(&svc.resources().requests),
            limits: quantities(&svc.resources().limits),
        },
        hpa: svc.hpa().map(|h| Hpa {
            min: h.min,
            max: h.max,
            cpu_percent: h.cpu_percent,
        }),
        ingress: svc.ingress().map(|i| Ingress {
            host: i.host.clone(),
            path: i.path.clone(),
        }),
        depends_on: svc.depends_on().to_vec(),
        env: svc.env().to_vec(),
        secrets: svc.secrets().to_vec(),
    }
}
