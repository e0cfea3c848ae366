//! Paths in a stack are relative to the stack file, like a Helm chart's
//! files or a Terraform module's `path.module`: `catalog: ../blueprints` in
//! `stacks/tenant.yaml` names the same directory from any working directory.
//! The properties that hold paths are listed here; each relative literal is
//! joined to the stack file's directory (lexically, so a stack loaded as
//! `tenant.yaml` from its own directory keeps its paths as written).

use std::path::Path;

use serde_json::Value;

use super::expand::CATALOG_KIND;
use super::model::Stack;

/// `(kind, property)` pairs whose value is a path on this machine.
pub const PATH_PROPERTIES: &[(&str, &str)] = &[
    (CATALOG_KIND, "catalog"),
    ("k8s.service", "catalog"),
    ("aws.lambda.function", "source"),
];

/// The catalog a `k8s.catalog` entry without `catalog:` expands.
pub const DEFAULT_CATALOG: &str = "blueprints";

/// Resolves every relative path property of `stack` against the directory
/// of `stack.path`; a `k8s.catalog` entry without one gets the default
/// catalog beside the stack file. References (`${...}`) are left alone.
pub fn resolve(stack: &mut Stack) {
    let base = stack
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for r in &mut stack.resources {
        if r.kind == CATALOG_KIND && !r.properties.contains_key("catalog") {
            r.properties
                .insert("catalog".into(), Value::String(DEFAULT_CATALOG.into()));
        }
        for (kind, prop) in PATH_PROPERTIES {
            if r.kind != *kind {
                continue;
            }
            if let Some(Value::String(p)) = r.properties.get_mut(*prop)
                && !p.contains("${")
                && Path::new(p.as_str()).is_relative()
            {
                *p = base.join(&*p).display().to_string();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::stack::model::Resource;

    fn stack_at(path: &str, kind: &str, props: Value) -> Stack {
        Stack {
            path: PathBuf::from(path),
            name: "t".into(),
            environment: "dev".into(),
            budget: std::time::Duration::from_secs(60),
            ttl: None,
            expected: Default::default(),
            timeouts: Default::default(),
            limits: Default::default(),
            hibernate: None,
            resources: vec![Resource {
                id: "r".into(),
                kind: kind.into(),
                properties: props.as_object().unwrap().clone(),
                depends_on: Vec::new(),
                wait_for: Vec::new(),
                publish: Vec::new(),
                pool: None,
                line: 1,
            }],
        }
    }

    fn prop(s: &Stack, name: &str) -> String {
        s.resources[0].properties[name]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn relative_paths_are_joined_to_the_stack_files_directory() {
        let mut s = stack_at(
            "stacks/tenant.yaml",
            "aws.lambda.function",
            serde_json::json!({"source": "assets/thumbnailer"}),
        );
        resolve(&mut s);
        assert_eq!(prop(&s, "source"), "stacks/assets/thumbnailer");
    }

    #[test]
    fn absolute_paths_references_and_other_properties_are_kept() {
        let mut s = stack_at(
            "/etc/envctl/tenant.yaml",
            "aws.lambda.function",
            serde_json::json!({"source": "/opt/code", "handler": "main.handler"}),
        );
        resolve(&mut s);
        assert_eq!(prop(&s, "source"), "/opt/code");
        assert_eq!(prop(&s, "handler"), "main.handler");
        let mut s = stack_at(
            "stacks/t.yaml",
            "k8s.service",
            serde_json::json!({"catalog": "${x.dir}"}),
        );
        resolve(&mut s);
        assert_eq!(prop(&s, "catalog"), "${x.dir}");
    }

    #[test]
    fn a_catalog_entry_without_a_catalog_gets_the_one_beside_the_stack() {
        let mut s = stack_at("deploy/t.yaml", CATALOG_KIND, serde_json::json!({}));
        resolve(&mut s);
        assert_eq!(prop(&s, "catalog"), "deploy/blueprints");
        // A stack given as a bare file name is in the working directory.
        let mut s = stack_at("t.yaml", CATALOG_KIND, serde_json::json!({}));
        resolve(&mut s);
        assert_eq!(prop(&s, "catalog"), "blueprints");
    }
}
