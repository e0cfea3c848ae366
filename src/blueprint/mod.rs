//! The service catalog (`blueprints/catalog.yaml`) and its rendering into
//! Kubernetes manifests with mustache templates (`blueprints/templates/`).
//! Pure logic: the only I/O is reading the blueprint files in
//! [`Catalog::load`].
//!
//! ```no_run
//! use envctl::blueprint::{Catalog, RenderContext, SecretMode, Value, render};
//! let catalog = Catalog::load(std::path::Path::new("blueprints"))?;
//! let cx = RenderContext::new("acme", "acme", "acme.example.test")
//!     .with_value("LOG_LEVEL", Value::plain("info"));
//! for m in render(&catalog, "i18n", &cx, SecretMode::Mask)? {
//!     println!("---\n{}", m.yaml);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Rules the templates and the renderer keep:
//! - plain values go to the service's ConfigMap (`<svc>-config`), secret
//!   values to its Secret (`<svc>-secrets`, base64 `data`); the Deployment
//!   refers to them with `configMapKeyRef`/`secretKeyRef` and never holds a
//!   value itself;
//! - every string reaches a template already quoted as a YAML double-quoted
//!   scalar, so no value can break the YAML;
//! - the pod template carries `envctl/config-checksum`, a hash of all the
//!   values, so a value change rolls the pods;
//! - every object carries `app.kubernetes.io/name`, `app.kubernetes.io/part-of:
//!   envctl`, `envctl/tenant` and `envctl/managed: "true"`;
//! - every pod meets Pod Security Standards "restricted" (non-root UID,
//!   `seccompProfile: RuntimeDefault`, no privilege escalation, every
//!   capability dropped), has a startup probe and a liveness that checks
//!   something other than readiness, and ephemeral-storage requests and
//!   limits.

mod catalog;
mod context;
mod error;
mod quantity;
mod render;
mod template;

pub use catalog::{
    CATALOG_FILE, Catalog, Check, Health, Hpa, Ingress, MAX_SERVICE_NAME, Probe, Quantities,
    Resources, Security, Service,
};
pub use context::{RenderContext, SecretMode, Value, config_map_name, labels, secret_name};
pub use error::{At, BlueprintError, RenderError};
/// Parsed CPU and memory quantities, for pricing a service's requests.
pub use quantity::{cpu_millis, memory_bytes};
pub use render::{Manifest, objects, render, render_all};
pub use template::{ObjectKind, TEMPLATE_FILES};

#[cfg(test)]
mod tests;
