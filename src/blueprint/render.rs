//! Rendering services into Kubernetes manifests: which objects a service
//! gets, in apply order, each checked to be YAML of the kind and name its
//! template promises.

use std::collections::BTreeMap;
use std::fmt;

use super::catalog::{Catalog, Service};
use super::context::{RenderContext, SecretMode, build, config_map_name, secret_name};
use super::error::RenderError;
use super::template::ObjectKind;

/// One rendered Kubernetes object. `Debug` never shows a Secret's YAML.
#[derive(Clone, PartialEq, Eq)]
pub struct Manifest {
    pub api_version: String,
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// The object as YAML, one document, ending with a line break.
    pub yaml: String,
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Manifest");
        d.field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("name", &self.name);
        if self.kind == "Secret" {
            d.field(
                "yaml",
                &format_args!("<{} bytes, not shown>", self.yaml.len()),
            );
        } else {
            d.field("yaml", &self.yaml);
        }
        d.finish()
    }
}

/// The objects a service renders to, in apply order: ConfigMap, Secret (with
/// `secrets`), Service, Deployment, PodDisruptionBudget, HPA (with `hpa`),
/// Ingress (with `ingress`).
pub fn objects(service: &Service) -> Vec<(ObjectKind, String)> {
    let name = service.name();
    ObjectKind::ALL
        .into_iter()
        .filter(|k| match k {
            ObjectKind::Secret => !service.secrets().is_empty(),
            ObjectKind::HorizontalPodAutoscaler => service.hpa().is_some(),
            ObjectKind::Ingress => service.ingress().is_some(),
            _ => true,
        })
        .map(|k| {
            let object_name = match k {
                ObjectKind::ConfigMap => config_map_name(name),
                ObjectKind::Secret => secret_name(name),
                _ => name.to_string(),
            };
            (k, object_name)
        })
        .collect()
}

/// Renders one service for a tenant, in apply order. Fails, naming every
/// missing KEY, when `cx` lacks a value the service consumes.
pub fn render(
    catalog: &Catalog,
    service: &str,
    cx: &RenderContext,
    secrets: SecretMode,
) -> Result<Vec<Manifest>, RenderError> {
    cx.validate()?;
    let svc = catalog
        .service(service)
        .ok_or_else(|| RenderError::UnknownService {
            service: service.to_string(),
        })?;
    let (mut object, secret_data) = build(svc, cx, secrets)?;
    let mut out = Vec::new();
    for (kind, name) in objects(svc) {
        let compiled = catalog.templates.get(kind);
        let mut yaml = if kind == ObjectKind::Secret {
            object.secret_data = secret_data.clone();
            let y = compiled.template.render(&object);
            object.secret_data.clear();
            y
        } else {
            compiled.template.render(&object)
        };
        let trimmed = yaml.trim_end().len();
        yaml.truncate(trimmed);
        yaml.push('\n');
        check_output(&yaml, kind, &name, &cx.namespace).map_err(|(problem, line)| {
            let text = if kind == ObjectKind::Secret {
                "(a Secret's line: not shown)".to_string()
            } else {
                yaml.lines()
                    .nth(line.saturating_sub(1))
                    .unwrap_or("")
                    .to_string()
            };
            RenderError::BadOutput {
                template: compiled.file.clone(),
                service: service.to_string(),
                problem,
                line,
                text,
            }
        })?;
        out.push(Manifest {
            api_version: kind.api_version().to_string(),
            kind: kind.kind().to_string(),
            name,
            yaml,
        });
    }
    Ok(out)
}

/// Renders every service of the catalog. Reports every service that cannot
/// be rendered, not just the first.
pub fn render_all(
    catalog: &Catalog,
    cx: &RenderContext,
    secrets: SecretMode,
) -> Result<BTreeMap<String, Vec<Manifest>>, RenderError> {
    cx.validate()?;
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for svc in catalog.services() {
        match render(catalog, svc.name(), cx, secrets) {
            Ok(m) => {
                out.insert(svc.name().to_string(), m);
            }
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(out),
        1 => Err(errors.remove(0)),
        _ => Err(RenderError::Many(errors)),
    }
}

/// The rendered text must be one YAML mapping with the expected
/// apiVersion, kind, metadata.name and metadata.namespace. On failure: what,
/// and the rendered line (1-based) to show.
fn check_output(
    yaml: &str,
    kind: ObjectKind,
    name: &str,
    namespace: &str,
) -> Result<(), (String, usize)> {
    let doc: serde_json::Value = serde_yaml_ng::from_str(yaml).map_err(|e| {
        let line = e.location().map_or(1, |l| l.line());
        (format!("invalid YAML ({e})"), line)
    })?;
    let field = |path: &[&str]| {
        let mut v = &doc;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().map(str::to_string)
    };
    let line_of = |needle: &str| {
        yaml.lines()
            .position(|l| l.trim_start().starts_with(needle))
            .map_or(1, |i| i + 1)
    };
    for (path, want, needle) in [
        (&["apiVersion"][..], kind.api_version(), "apiVersion:"),
        (&["kind"][..], kind.kind(), "kind:"),
        (&["metadata", "name"][..], name, "name:"),
        (&["metadata", "namespace"][..], namespace, "namespace:"),
    ] {
        let got = field(path);
        if got.as_deref() != Some(want) {
            return Err((
                format!(
                    "{} {} where {} was expected",
                    path.join("."),
                    got.map_or("missing".to_string(), |g| format!("'{g}'")),
                    want
                ),
                line_of(needle),
            ));
        }
    }
    Ok(())
}
