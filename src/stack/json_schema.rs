//! The JSON Schema of the stack format (`envctl schema`): the file's shape,
//! and for each resource the schema its kind derives from its typed
//! properties, so an editor with the YAML language server completes and
//! checks stacks (`stacks/*.yaml` carry the modeline).

use serde_json::{Value, json};

use crate::kinds::Kind;

/// Where the schema is kept in the repository, for the modelines.
pub const SCHEMA_FILE: &str = "schema/stack.schema.json";

/// The stack format's schema, with every kind of `kinds`.
pub fn stack_schema(kinds: &[&'static dyn Kind]) -> Value {
    let duration = json!({
        "type": "string",
        "pattern": "^[0-9]+(ms|s|m|h|d)$",
        "description": "A duration with a unit: 90s, 15m, 2h, 14d."
    });
    let mut defs = serde_json::Map::new();
    let mut cases = Vec::new();
    let catalog = super::expand::catalog_schema();
    let schemas = kinds
        .iter()
        .filter_map(|k| k.schema())
        .chain(std::iter::once(catalog));
    for schema in schemas {
        let mut props = schema.json().clone();
        // Nested definitions move up to the stack schema's `$defs`, named
        // after the kind so two kinds' structs never collide.
        let prefix = schema.kind().replace('.', "_");
        if let Some(Value::Object(nested)) = props.as_object_mut().and_then(|o| o.remove("$defs")) {
            for (name, def) in nested {
                let def = accept_references(rename_refs(def, &prefix), false);
                defs.insert(format!("{prefix}__{name}"), def);
            }
        }
        if let Some(o) = props.as_object_mut() {
            o.remove("$schema");
            o.remove("title");
        }
        let props = accept_references(rename_refs(props, &prefix), true);
        defs.insert(prefix.clone(), props);
        cases.push(json!({
            "if": { "properties": { "kind": { "const": schema.kind() } }, "required": ["kind"] },
            "then": { "properties": { "properties": { "$ref": format!("#/$defs/{prefix}") } } }
        }));
    }
    let kind_names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    // A resource may also be the whole catalog (expanded at load).
    let mut resource_kinds = kind_names.clone();
    resource_kinds.push(catalog.kind());
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://envctl.dev/schema/stack.schema.json",
        "title": "envctl stack",
        "description": "A stack: the resources of one tenant, their properties, order and published values (README, \"Stack format\").",
        "type": "object",
        "additionalProperties": false,
        "required": ["stack", "resources"],
        "properties": {
            "stack": { "type": "string", "description": "The stack's name, stamped as the envctl:stack tag." },
            "environment": { "type": "string", "description": "Default environment of the value store (default: dev)." },
            "budget": { "$ref": "#/$defs/duration", "description": "Time budget of a create (default: 15m)." },
            "ttl": { "$ref": "#/$defs/duration", "description": "Default time-to-live of a tenant made from this stack." },
            "expected": {
                "type": "object",
                "description": "Expected duration per kind, overriding the built-in defaults.",
                "propertyNames": { "enum": kind_names },
                "additionalProperties": { "$ref": "#/$defs/duration" }
            },
            "timeouts": {
                "type": "object",
                "description": "How long readiness may take per kind (default: the kind's own).",
                "propertyNames": { "enum": kind_names },
                "additionalProperties": { "$ref": "#/$defs/duration" }
            },
            "limits": {
                "type": "object",
                "description": "Concurrency bound per cloud API (e.g. s3: 8).",
                "additionalProperties": { "type": "integer", "minimum": 1 }
            },
            "hibernate": {
                "type": "object",
                "description": "When tenants of this stack sleep and wake (run by envctl serve).",
                "additionalProperties": false,
                "required": ["sleep"],
                "properties": {
                    "sleep": { "type": "string", "description": "When to sleep: a cron expression, e.g. \"0 20 * * 1-5\"." },
                    "wake": { "type": "string", "description": "When to wake: a cron expression, e.g. \"0 7 * * 1-5\"." },
                    "time_zone": { "type": "string", "description": "The IANA time zone the schedule is read in (default UTC)." }
                }
            },
            "resources": {
                "type": "array",
                "description": "The resources, in any order: references and depends_on make the graph.",
                "items": { "$ref": "#/$defs/resource" }
            }
        },
        "$defs": merge(defs, json!({
            "duration": duration,
            "reference": {
                "type": "string",
                "pattern": "\\$\\{[^}]+\\}",
                "description": "A reference to another resource's output, ${id.output}, resolved before the kind is called."
            },
            "resource": {
                "type": "object",
                "additionalProperties": false,
                "required": ["id", "kind"],
                "properties": {
                    "id": { "type": "string", "pattern": "^[a-z][a-z0-9-]{0,39}$", "description": "Lowercase, unique in the stack." },
                    "kind": { "enum": resource_kinds, "description": "The resource's kind (envctl explain KIND)." },
                    "properties": { "type": "object", "description": "The kind's properties; strings may hold ${id.output} references." },
                    "depends_on": {
                        "type": "array",
                        "description": "Explicit extra edges: ids this resource waits for (until ready), or {resource: id, until: created} to start once that resource's outputs are known.",
                        "items": {
                            "oneOf": [
                                { "type": "string" },
                                {
                                    "type": "object",
                                    "additionalProperties": false,
                                    "required": ["resource"],
                                    "properties": {
                                        "resource": { "type": "string", "description": "The id waited for." },
                                        "until": { "$ref": "#/$defs/until" }
                                    }
                                }
                            ]
                        }
                    },
                    "wait_for": {
                        "type": "object",
                        "description": "How long to wait for a dependency (one it references or lists in depends_on): created or ready (the default).",
                        "additionalProperties": { "$ref": "#/$defs/until" }
                    },
                    "publish": { "type": "array", "items": { "$ref": "#/$defs/publish" } },
                    "pool": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["size"],
                        "description": "A warm pool: `envctl pool fill` (and envctl serve) keep `size` members of this resource ready, made without a tenant, for creates to claim (README, \"Warm pools\"). Only kinds that can be pooled (aws.rds.instance); the properties may reference only ${envctl.*} values and networks adopted with shared_from, except the ones applied at claim (an RDS instance's password and security_group_ids).",
                        "properties": {
                            "size": { "type": "integer", "minimum": 1, "maximum": 50, "description": "Members to keep ready." },
                            "max_age": { "$ref": "#/$defs/duration", "description": "A member older than this is replaced by the next fill; default 7d." }
                        }
                    }
                },
                "allOf": cases
            },
            "until": {
                "enum": ["ready", "created"],
                "description": "ready (the default): start once the dependency is ready; created: start once its outputs are known, while it may still be getting ready."
            },
            "publish": {
                "type": "object",
                "additionalProperties": false,
                "required": ["output", "key", "level"],
                "properties": {
                    "output": { "type": "string", "description": "The output to publish." },
                    "key": { "type": "string", "description": "The environment-value key, e.g. QUEUE_URL." },
                    "level": { "enum": ["environment", "tenant", "service"] },
                    "service": { "type": "string", "description": "With level service: which service." },
                    "secret": { "type": "boolean", "description": "Required for a secret output." }
                }
            }
        }))
    })
}

fn merge(mut a: serde_json::Map<String, Value>, b: Value) -> Value {
    if let Value::Object(b) = b {
        a.extend(b);
    }
    Value::Object(a)
}

/// A value written as a `${id.output}` reference is a string until the
/// engine resolves it (then the kind's schema checks it): wherever a kind
/// expects something else (a number, a flag, a list, a word of an enum), the
/// editor's schema also accepts a string holding a reference. `root` is the
/// kind's properties object itself, which is never a reference.
fn accept_references(value: Value, root: bool) -> Value {
    let Value::Object(map) = value else {
        return match value {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| accept_references(v, false))
                    .collect(),
            ),
            other => other,
        };
    };
    let map: serde_json::Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                // Maps of schemas, and lists of them.
                "properties" | "$defs" => match v {
                    Value::Object(m) => Value::Object(
                        m.into_iter()
                            .map(|(name, s)| (name, accept_references(s, false)))
                            .collect(),
                    ),
                    other => other,
                },
                "items" | "additionalProperties" | "anyOf" | "oneOf" | "allOf" => {
                    accept_references(v, false)
                }
                _ => v,
            };
            (k, v)
        })
        .collect();
    let takes_string = match map.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => true,
    };
    if root || (takes_string && !map.contains_key("enum")) {
        return Value::Object(map);
    }
    let mut outer = serde_json::Map::new();
    let mut inner = map;
    for key in ["description", "default", "title"] {
        if let Some(v) = inner.remove(key) {
            outer.insert(key.into(), v);
        }
    }
    outer.insert(
        "anyOf".into(),
        json!([Value::Object(inner), { "$ref": "#/$defs/reference" }]),
    );
    Value::Object(outer)
}

/// `#/$defs/X` → `#/$defs/<prefix>__X` everywhere in `value`.
fn rename_refs(value: Value, prefix: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => Value::String(
                            r.strip_prefix("#/$defs/")
                                .map(|name| format!("#/$defs/{prefix}__{name}"))
                                .unwrap_or(r),
                        ),
                        (_, v) => rename_refs(v, prefix),
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| rename_refs(v, prefix)).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::all_kinds;

    fn validator() -> jsonschema::Validator {
        jsonschema::validator_for(&stack_schema(all_kinds())).expect("a valid schema")
    }

    fn yaml(path: &std::path::Path) -> Value {
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// Every shipped stack passes the schema an editor checks it with.
    #[test]
    fn every_shipped_stack_matches_the_schema() {
        let v = validator();
        for dir in ["stacks", "integration/stacks"] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                    continue;
                }
                // The modeline an editor's YAML language server reads, to
                // the kept schema file.
                let text = std::fs::read_to_string(&path).unwrap();
                let target = text
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("# yaml-language-server: $schema="))
                    .unwrap_or_else(|| panic!("{}: no modeline", path.display()));
                let schema = path.parent().unwrap().join(target);
                assert!(
                    schema.canonicalize().ok()
                        == std::path::Path::new(SCHEMA_FILE).canonicalize().ok(),
                    "{}: the modeline points at {target}, not {SCHEMA_FILE}",
                    path.display()
                );
                let errors: Vec<String> = v
                    .iter_errors(&yaml(&path))
                    .map(|e| format!("{}: {e}", e.instance_path()))
                    .collect();
                assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            }
        }
    }

    #[test]
    fn a_reference_is_accepted_where_a_number_or_flag_is_expected() {
        let by_ref: Value = serde_yaml_ng::from_str(
            "stack: s\nresources:\n  - id: q\n    kind: aws.sqs.queue\n    properties: { dead_letter: '${x.flag}', max_receive_count: '${x.n}' }\n",
        )
        .unwrap();
        let v = validator();
        let errors: Vec<String> = v.iter_errors(&by_ref).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        let not_ref: Value = serde_yaml_ng::from_str(
            "stack: s\nresources:\n  - id: q\n    kind: aws.sqs.queue\n    properties: { max_receive_count: 'many' }\n",
        )
        .unwrap();
        assert!(!v.is_valid(&not_ref));
    }

    #[test]
    fn until_created_is_accepted_in_depends_on_and_wait_for_and_typos_are_not() {
        let v = validator();
        let doc = |resource: &str| -> Value {
            serde_yaml_ng::from_str(&format!(
                "stack: s\nresources:\n  - id: a\n    kind: sim.delay\n  - id: b\n    kind: sim.delay\n{resource}"
            ))
            .unwrap()
        };
        for good in [
            "    depends_on: [a]\n",
            "    depends_on: [{resource: a, until: created}]\n",
            "    depends_on: [{resource: a}]\n",
            "    depends_on: [a]\n    wait_for: {a: created}\n",
            "    depends_on: [a]\n    wait_for: {a: ready}\n",
        ] {
            let errors: Vec<String> = v.iter_errors(&doc(good)).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{good}: {errors:?}");
        }
        for bad in [
            "    depends_on: [{resource: a, until: creatd}]\n",
            "    depends_on: [{until: created}]\n",
            "    depends_on: [{resource: a, untill: created}]\n",
            "    wait_for: {a: soon}\n",
            "    wait_for: [a]\n",
        ] {
            assert!(!v.is_valid(&doc(bad)), "accepted: {bad}");
        }
    }

    #[test]
    fn a_wrong_property_type_fails_the_schema() {
        let bad: Value = serde_yaml_ng::from_str(
            "stack: s\nresources:\n  - id: q\n    kind: aws.sqs.queue\n    properties: { dead_letter: perhaps }\n",
        )
        .unwrap();
        assert!(!validator().is_valid(&bad));
    }

    /// The schema in the repository (the modelines point at it) is what
    /// `envctl schema` prints. `ENVCTL_BLESS=1` rewrites it, as it does the
    /// README's kinds table.
    #[test]
    fn the_kept_schema_file_is_current() {
        let current = stack_schema(all_kinds());
        if std::env::var_os("ENVCTL_BLESS").is_some() {
            let text = serde_json::to_string_pretty(&current).unwrap() + "\n";
            std::fs::write(SCHEMA_FILE, text).expect("write schema/stack.schema.json");
        }
        let kept: Value = serde_json::from_str(
            &std::fs::read_to_string(SCHEMA_FILE).expect("schema/stack.schema.json exists"),
        )
        .unwrap();
        assert!(
            kept == current,
            "schema/stack.schema.json is stale: run `ENVCTL_BLESS=1 cargo test --lib stack::json_schema` \
             (or `envctl schema > schema/stack.schema.json`)"
        );
    }
}
