//! `render tenant NAME [--service S]`: the manifests `create` would apply to
//! the cluster, like `helm template`, with secret values masked. Reads the
//! stack, the tenant's values and its intent log; touches nothing.

use std::collections::BTreeMap;
use std::path::Path;

use super::args::{Global, RenderArgs};
use super::{BadInput, setup};
use crate::blueprint::{self, RenderContext, SecretMode, Value};
use crate::journal;
use crate::stack::{self, expand::SERVICE_KIND, refs};

pub async fn render(global: &Global, a: RenderArgs) -> anyhow::Result<()> {
    let tenant = setup::tenant(&a.stack.name)?;
    let stack = stack::load_file_in(&a.stack.stack, &super::setup::builtins(global))
        .map_err(|e| BadInput(e.to_string()))?;
    let environment = a
        .stack
        .environment
        .clone()
        .unwrap_or_else(|| stack.environment.clone());
    let services: Vec<_> = stack
        .resources
        .iter()
        .filter(|r| r.kind == SERVICE_KIND)
        .filter(|r| {
            a.service
                .as_ref()
                .is_none_or(|s| r.properties.get("service").and_then(|v| v.as_str()) == Some(s))
        })
        .collect();
    if services.is_empty() {
        return Err(BadInput(match &a.service {
            Some(s) => format!(
                "{}: no catalog service '{s}' (see blueprints/catalog.yaml)",
                a.stack.stack.display()
            ),
            None => format!(
                "{}: the stack has no k8s.catalog entry",
                a.stack.stack.display()
            ),
        })
        .into());
    }
    // Outputs of what an earlier create made (namespace name, domain, ...).
    let known: BTreeMap<String, BTreeMap<String, String>> = match &global.state {
        Some(loc) if Path::new(loc.trim_start_matches("sqlite://")).exists() => {
            let state = setup::state(global).await?;
            journal::replay(&state.events(tenant.as_str()).await?)?
                .into_iter()
                .map(|(id, r)| (id, r.outputs))
                .collect()
        }
        _ => BTreeMap::new(),
    };
    let lookup = |res: &str, out: &str| {
        known
            .get(res)
            .and_then(|o| o.get(out))
            .cloned()
            .or_else(|| {
                // Before the first create: the namespace kind's default name.
                (out == "name"
                    && stack
                        .resource(res)
                        .is_some_and(|r| r.kind == "k8s.namespace"))
                .then(|| tenant.to_string())
            })
    };
    let backends = setup::backends(global).await?;
    for r in services {
        let props = refs::substitute(&r.properties, &lookup).map_err(|e| {
            BadInput(format!(
                "resource '{}': {e}; create the tenant first so its outputs are known",
                r.id
            ))
        })?;
        let get = |k: &str| {
            props
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let service = get("service");
        let catalog = crate::kinds::k8s::service::catalog(Path::new(&get("catalog")))
            .map_err(|e| BadInput(e.to_string()))?;
        let merged = backends
            .values
            .merged(&environment, Some(tenant.as_str()), Some(&service))
            .await?;
        let mut cx = RenderContext::new(tenant.as_str(), get("namespace"), get("domain"));
        for (key, (value, _)) in merged {
            cx.values.insert(key, Value::from(value));
        }
        let manifests = blueprint::render(&catalog, &service, &cx, SecretMode::Mask)
            .map_err(|e| BadInput(e.to_string()))?;
        for m in manifests {
            print!(
                "---\n# {} {}/{} (service {service})\n{}",
                m.kind, cx.namespace, m.name, m.yaml
            );
        }
    }
    Ok(())
}
