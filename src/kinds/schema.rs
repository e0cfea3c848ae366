//! Typed properties: each kind's properties are one Rust struct, and
//! everything else about them is derived from it — the JSON Schema
//! (schemars, doc comments become descriptions), the property list that
//! stack validation, `envctl explain` and the README print, and the check
//! that runs on literal values at load and on resolved values before the
//! kind's first API call (jsonschema for types, ranges, enums and patterns;
//! the struct's own [`KindProps::check`] for the rules a schema cannot say).

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{KindError, PropIssue, PropSpec, Props};

/// A kind's properties as one struct. Range, enum and pattern rules go on the
/// fields as `#[schemars(range(..), length(..), regex(..))]` so the schema
/// carries them; rules across fields or on characters go in [`check`].
///
/// [`check`]: KindProps::check
pub trait KindProps: DeserializeOwned + JsonSchema + 'static {
    /// The rules of the cloud's API a schema cannot express, each citing its
    /// source. Values holding a `${ref}` are strings still unresolved here:
    /// skip them with [`is_ref`] (an issue at a path that holds a reference is
    /// dropped anyway).
    fn check(&self) -> Vec<PropIssue> {
        Vec::new()
    }
}

/// Whether a string value still holds a `${id.output}` reference.
pub fn is_ref(value: &str) -> bool {
    value.contains("${")
}

/// Deserializes resolved properties into a kind's typed properties; the
/// error names the field (`ingress.0.port`).
pub fn parse<T: DeserializeOwned>(props: &Props) -> Result<T, KindError> {
    serde_path_to_error::deserialize(Value::Object(props.clone())).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            KindError::Permanent(format!("properties: {inner}"))
        } else {
            KindError::Permanent(format!("property '{path}': {inner}"))
        }
    })
}

/// The derived schema of one kind's properties and what is computed from it.
pub struct PropSchema {
    kind: &'static str,
    schema: Value,
    validator: jsonschema::Validator,
    specs: &'static [PropSpec],
    typed_check: fn(&Props) -> Result<Vec<PropIssue>, PropIssue>,
}

/// One property (or nested field), described for `explain` and the README.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDoc {
    pub name: String,
    /// `boolean`, `integer`, `string`, `[string]`, `{string: string}`,
    /// `object`, `[object]`.
    pub ty: String,
    pub required: bool,
    pub description: String,
    /// The default, as YAML would write it.
    pub default: Option<String>,
    /// Ranges, lengths, allowed values, patterns, in words.
    pub rules: Vec<String>,
    /// The fields of an object (or of a list's objects).
    pub fields: Vec<FieldDoc>,
}

impl PropSchema {
    /// Derives the schema of `T` for kind `kind` (once per kind, kept in a
    /// `static`).
    pub fn of<T: KindProps>(kind: &'static str) -> Self {
        let schema = schemars::schema_for!(T).to_value();
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("the derived schema of kind {kind} is invalid: {e}"));
        let mut this = Self {
            kind,
            schema,
            validator,
            specs: &[],
            typed_check: typed_check::<T>,
        };
        let specs: Vec<PropSpec> = this
            .fields()
            .into_iter()
            .map(|f| PropSpec {
                name: leak(f.name),
                required: f.required,
                doc: leak(f.description),
            })
            .collect();
        this.specs = Box::leak(specs.into_boxed_slice());
        this
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Resolved properties as the kind's typed properties `T` (the type this
    /// schema was derived from): every rule of the schema and of
    /// [`KindProps::check`] first, so a kind called directly refuses what
    /// validation would, then the typed value.
    pub fn parse<T: KindProps>(&self, props: &Props) -> Result<T, KindError> {
        if let Some(issue) = self.issues(props).into_iter().next() {
            return Err(KindError::Permanent(issue.sentence()));
        }
        parse(props)
    }

    /// The JSON Schema (draft 2020-12) of the properties.
    pub fn json(&self) -> &Value {
        &self.schema
    }

    /// The top-level properties, for stack validation's unknown and required
    /// checks.
    pub fn specs(&self) -> &'static [PropSpec] {
        self.specs
    }

    /// What the struct's doc comment says of the kind.
    pub fn description(&self) -> &str {
        self.schema
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Every top-level property, described.
    pub fn fields(&self) -> Vec<FieldDoc> {
        fields_of(&self.schema, &self.schema)
    }

    /// The field at `path` (`["ingress", "port"]`), described.
    pub fn field(&self, path: &[&str]) -> Option<FieldDoc> {
        let mut fields = self.fields();
        let mut found = None;
        for name in path {
            let f = fields.into_iter().find(|f| f.name == *name)?;
            fields = f.fields.clone();
            found = Some(f);
        }
        found
    }

    /// What is wrong with these properties: wrong types, values out of range,
    /// unknown or missing nested fields, and the kind's own rules. Values
    /// holding a `${ref}` are skipped (checked again once resolved). Unknown
    /// and missing top-level properties are left to the caller, which words
    /// them with the stack's context.
    pub fn issues(&self, props: &Props) -> Vec<PropIssue> {
        let instance = Value::Object(props.clone());
        let refs = ref_paths(&instance);
        let under_ref = |path: &[String]| refs.iter().any(|r| path.starts_with(r));
        let mut issues = Vec::new();
        for error in self.validator.iter_errors(&instance) {
            for issue in self.explain_error(&error) {
                if !under_ref(&issue.path) {
                    issues.push(issue);
                }
            }
        }
        if !issues.is_empty() {
            return dedup(issues);
        }
        match (self.typed_check)(props) {
            Ok(found) => issues.extend(found.into_iter().filter(|i| !under_ref(&i.path))),
            // A reference in a non-string field stops deserialization (the
            // literal values passed the schema above): the typed rules run
            // once it is resolved, before the kind's first API call.
            Err(_) if !refs.is_empty() => {}
            // A missing or unknown top-level property: the caller's to word
            // (and `parse` refuses it).
            Err(issue)
                if issue.path.is_empty()
                    || (issue.path.len() == 1
                        && !property_names(&self.schema, &self.schema)
                            .contains(&issue.path[0])) => {}
            Err(issue) => issues.push(issue),
        }
        dedup(issues)
    }

    /// One validation error as issues, in the house's words. Never prints a
    /// string value (it may be secret), only numbers and enum words.
    fn explain_error(&self, error: &jsonschema::ValidationError<'_>) -> Vec<PropIssue> {
        use jsonschema::error::ValidationErrorKind as K;
        let path = pointer_segments(error.instance_path().as_str());
        let field = path.join(".");
        let instance = error.instance();
        let hint = format!(
            " (see `envctl explain {}{}`)",
            self.kind,
            if field.is_empty() {
                String::new()
            } else {
                format!(".{}", dotted_field(&path))
            }
        );
        let message = match error.kind() {
            K::Type { .. } => {
                let expected = self
                    .subschema(&path)
                    .map(|s| type_words(&self.schema, &s))
                    .unwrap_or_else(|| "another type".into());
                format!("must be {expected}, not {}{hint}", value_words(instance))
            }
            K::Minimum { limit } | K::ExclusiveMinimum { limit } => {
                format!("is {instance}; the least allowed is {limit}{hint}")
            }
            K::Maximum { limit } | K::ExclusiveMaximum { limit } => {
                format!("is {instance}; the most allowed is {limit}{hint}")
            }
            K::MinLength { limit } => format!(
                "is {} characters long; it needs at least {limit}{hint}",
                instance.as_str().map_or(0, |s| s.chars().count())
            ),
            K::MaxLength { limit } => format!(
                "is {} characters long; at most {limit} are allowed{hint}",
                instance.as_str().map_or(0, |s| s.chars().count())
            ),
            K::MinItems { limit } => format!("needs at least {limit} entries{hint}"),
            K::MaxItems { limit } => format!("may have at most {limit} entries{hint}"),
            K::Enum { options } => {
                let words: Vec<String> = options
                    .as_array()
                    .map(|a| a.iter().map(yaml_words).collect())
                    .unwrap_or_default();
                format!(
                    "is {}; use one of: {}",
                    yaml_words(instance),
                    words.join(", ")
                )
            }
            K::Constant { expected_value } => {
                format!("must be {}{hint}", yaml_words(expected_value))
            }
            K::Pattern { pattern } => format!("does not match the pattern {pattern}{hint}"),
            // Top-level names are the caller's (stack validation words them
            // with the stack's context; `parse` refuses them through serde).
            K::Required { .. } | K::AdditionalProperties { .. } if path.is_empty() => {
                return Vec::new();
            }
            K::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                let mut at = path.clone();
                at.push(name.to_string());
                let doc = self
                    .subschema(&at)
                    .and_then(|s| {
                        s.get("description")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .map(|d| format!(" ({})", first_sentence(&d)))
                    .unwrap_or_default();
                return vec![PropIssue {
                    path,
                    message: format!("is missing field '{name}': add `{name}: ...`{doc}"),
                }];
            }
            K::AdditionalProperties { unexpected } => {
                let known: Vec<String> = self
                    .subschema(&path)
                    .map(|s| property_names(&self.schema, &s))
                    .unwrap_or_default();
                return unexpected
                    .iter()
                    .map(|name| {
                        let mut at = path.clone();
                        at.push(name.clone());
                        let guess = crate::suggest::suggest(name, known.iter().map(String::as_str))
                            .map(|s| format!(" (did you mean '{s}'?)"))
                            .unwrap_or_default();
                        PropIssue {
                            path: at,
                            message: format!(
                                "unknown field '{name}'{guess}; known fields: {}",
                                known.join(", ")
                            ),
                        }
                    })
                    .collect();
            }
            K::AnyOf { context } | K::OneOfNotValid { context } => {
                // An optional object (`anyOf: [object, null]`): report the
                // errors of the branch the value is of (the object's, which
                // say what is wrong inside); a branch whose only complaint is
                // the value's type here (null) is not it.
                let of_another_type = |errors: &Vec<jsonschema::ValidationError<'_>>| {
                    errors.iter().all(|e| {
                        matches!(e.kind(), K::Type { .. })
                            && e.instance_path() == error.instance_path()
                    })
                };
                let branch = context
                    .iter()
                    .filter(|errors| !errors.is_empty() && !of_another_type(errors))
                    .max_by_key(|errors| {
                        errors
                            .iter()
                            .map(|e| e.instance_path().as_str().len())
                            .max()
                            .unwrap_or(0)
                    });
                if let Some(errors) = branch {
                    return errors.iter().flat_map(|e| self.explain_error(e)).collect();
                }
                let expected = self
                    .subschema(&path)
                    .map(|s| type_words(&self.schema, &s))
                    .unwrap_or_else(|| "another type".into());
                format!("must be {expected}, not {}{hint}", value_words(instance))
            }
            other => format!("breaks the schema's '{}' rule{hint}", other.keyword()),
        };
        vec![PropIssue { path, message }]
    }

    /// The schema of the value at `path` (object keys and list indexes).
    fn subschema(&self, path: &[String]) -> Option<Value> {
        let mut at = resolve(&self.schema, &self.schema);
        for seg in path {
            at = non_null(&self.schema, &at);
            if let Some(p) = at.get("properties").and_then(|p| p.get(seg)) {
                at = resolve(&self.schema, p);
            } else if let Some(items) = at.get("items") {
                at = resolve(&self.schema, items);
            } else if let Some(extra) = at.get("additionalProperties").filter(|v| v.is_object()) {
                at = resolve(&self.schema, extra);
            } else {
                return None;
            }
        }
        Some(non_null(&self.schema, &at))
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Deserializes and runs the struct's own rules; a deserialization error
/// (one the schema could not see, e.g. a number too large for its type) is
/// an issue at its field.
fn typed_check<T: KindProps>(props: &Props) -> Result<Vec<PropIssue>, PropIssue> {
    match serde_path_to_error::deserialize::<_, T>(Value::Object(props.clone())) {
        Ok(typed) => Ok(typed.check()),
        Err(e) => {
            let path = e.path().to_string();
            let segments: Vec<String> = if path == "." {
                Vec::new()
            } else {
                path.split('.')
                    .map(|s| s.trim_matches(['[', ']']).to_string())
                    .filter(|s| !s.is_empty() && s != "?")
                    .collect()
            };
            Err(PropIssue {
                path: segments,
                message: e.into_inner().to_string(),
            })
        }
    }
}

fn dedup(issues: Vec<PropIssue>) -> Vec<PropIssue> {
    let mut seen = BTreeSet::new();
    issues
        .into_iter()
        .filter(|i| seen.insert((i.path.clone(), i.message.clone())))
        .collect()
}

/// Paths of every string holding a `${ref}`.
fn ref_paths(value: &Value) -> Vec<Vec<String>> {
    fn walk(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            Value::String(s) if is_ref(s) => out.push(at.clone()),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    at.push(i.to_string());
                    walk(item, at, out);
                    at.pop();
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    at.push(k.clone());
                    walk(item, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// `/ingress/0/cidr` → `["ingress", "0", "cidr"]` (RFC 6901 unescaped).
fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// A path for `explain`: list indexes dropped (`ingress.port`).
fn dotted_field(path: &[String]) -> String {
    path.iter()
        .filter(|s| s.parse::<usize>().is_err())
        .cloned()
        .collect::<Vec<_>>()
        .join(".")
}

/// Follows a `$ref` into `$defs`.
fn resolve(root: &Value, schema: &Value) -> Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/")
            .and_then(|p| root.pointer(&format!("/{p}")))
            .map(|target| resolve(root, target))
            .unwrap_or_else(|| schema.clone()),
        None => schema.clone(),
    }
}

/// The non-null branch of an optional (`anyOf: [X, {type: null}]`).
fn non_null(root: &Value, schema: &Value) -> Value {
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let real: Vec<&Value> = branches
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            if real.len() == 1 {
                let mut merged = resolve(root, real[0]);
                if let (Some(m), Some(d)) = (merged.as_object_mut(), schema.get("description")) {
                    m.entry("description").or_insert(d.clone());
                }
                if let (Some(m), Some(d)) = (merged.as_object_mut(), schema.get("default")) {
                    m.entry("default").or_insert(d.clone());
                }
                return merged;
            }
        }
    }
    resolve(root, schema)
}

/// The JSON types a schema accepts, `null` left out.
fn types_of(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(str::to_string)
            .collect(),
        _ if schema.get("enum").is_some() => vec!["string".into()],
        _ => Vec::new(),
    }
}

/// A short type: `boolean`, `[string]`, `{string: integer}`, `object`.
fn short_type(root: &Value, schema: &Value) -> String {
    let schema = non_null(root, schema);
    let types = types_of(&schema);
    match types.first().map(String::as_str) {
        Some("array") => {
            let item = schema
                .get("items")
                .map(|i| short_type(root, i))
                .unwrap_or_else(|| "any".into());
            format!("[{item}]")
        }
        Some("object") => match schema.get("additionalProperties") {
            Some(extra) if extra.is_object() => format!("{{string: {}}}", short_type(root, extra)),
            _ => "object".into(),
        },
        Some(t) => {
            if types.len() > 1 {
                types.join(" or ")
            } else {
                t.to_string()
            }
        }
        None => "any".into(),
    }
}

/// What a value of this schema is, in words: "true or false", "a whole
/// number", "one of: a, b".
fn type_words(root: &Value, schema: &Value) -> String {
    let schema = non_null(root, schema);
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        let words: Vec<String> = options.iter().map(yaml_words).collect();
        return format!("one of: {}", words.join(", "));
    }
    let words: Vec<&str> = types_of(&schema)
        .iter()
        .map(|t| match t.as_str() {
            "boolean" => "true or false",
            "integer" => "a whole number",
            "number" => "a number",
            "string" => "a string",
            "array" => "a list",
            "object" => "a mapping",
            _ => "a value",
        })
        .collect();
    if words.is_empty() {
        "another type".into()
    } else {
        words.join(" or ")
    }
}

/// What a given value is, without showing a string's text.
fn value_words(value: &Value) -> String {
    match value {
        Value::Null => "empty (null)".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// A scalar as YAML would show it (strings bare).
fn yaml_words(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first sentence of a doc comment: its first paragraph up to a `. `
/// followed by a capital (so `e.g. x` does not end it), without the stop.
pub(crate) fn first_sentence(text: &str) -> String {
    let paragraph = text
        .split("\n\n")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let end = paragraph
        .match_indices(". ")
        .find(|(i, _)| {
            paragraph[i + 2..]
                .chars()
                .next()
                .is_some_and(char::is_uppercase)
        })
        .map_or(paragraph.len(), |(i, _)| i);
    paragraph[..end].trim_end_matches('.').to_string()
}

fn property_names(root: &Value, schema: &Value) -> Vec<String> {
    non_null(root, schema)
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The rules a schema states, in words.
fn rules_of(schema: &Value) -> Vec<String> {
    let mut rules = Vec::new();
    let num = |k: &str| schema.get(k).and_then(Value::as_f64);
    let fmt = |n: f64| {
        if n.fract() == 0.0 {
            format!("{}", n as i64)
        } else {
            n.to_string()
        }
    };
    match (num("minimum"), num("maximum")) {
        (Some(lo), Some(hi)) => rules.push(format!("{}–{}", fmt(lo), fmt(hi))),
        (Some(lo), None) if lo != 0.0 => rules.push(format!("at least {}", fmt(lo))),
        (None, Some(hi)) => rules.push(format!("at most {}", fmt(hi))),
        _ => {}
    }
    match (num("minLength"), num("maxLength")) {
        (Some(lo), Some(hi)) => rules.push(format!("{}–{} characters", fmt(lo), fmt(hi))),
        (Some(lo), None) => rules.push(format!("at least {} characters", fmt(lo))),
        (None, Some(hi)) => rules.push(format!("at most {} characters", fmt(hi))),
        _ => {}
    }
    match (num("minItems"), num("maxItems")) {
        (Some(lo), Some(hi)) => rules.push(format!("{}–{} entries", fmt(lo), fmt(hi))),
        (Some(lo), None) => rules.push(format!("at least {} entries", fmt(lo))),
        (None, Some(hi)) => rules.push(format!("at most {} entries", fmt(hi))),
        _ => {}
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        let words: Vec<String> = options.iter().map(yaml_words).collect();
        rules.push(format!("one of: {}", words.join(", ")));
    }
    if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
        rules.push(format!("matches {p}"));
    }
    rules
}

/// The fields of an object schema, described (nested objects and lists of
/// objects included).
fn fields_of(root: &Value, schema: &Value) -> Vec<FieldDoc> {
    let schema = non_null(root, schema);
    let schema = match types_of(&schema).first().map(String::as_str) {
        Some("array") => match schema.get("items") {
            Some(items) => non_null(root, items),
            None => return Vec::new(),
        },
        _ => schema,
    };
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, raw)| {
            let field = non_null(root, raw);
            let description = raw
                .get("description")
                .or_else(|| field.get("description"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let default = raw
                .get("default")
                .or_else(|| field.get("default"))
                .filter(|d| !d.is_null())
                .map(yaml_words);
            let nested = match types_of(&field).first().map(String::as_str) {
                Some("object") | Some("array") => fields_of(root, &field),
                _ => Vec::new(),
            };
            FieldDoc {
                name: name.clone(),
                ty: short_type(root, raw),
                required: required.contains(name.as_str()),
                description,
                default,
                rules: rules_of(&field),
                fields: nested,
            }
        })
        .collect()
}

/// Every schema keyword a map of fields may hold (for tests).
#[cfg(test)]
fn keys(map: &serde_json::Map<String, Value>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// A test kind's properties.
    // Read only through their schema and `check`.
    #[allow(dead_code)]
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        /// A flag.
        #[serde(default)]
        flag: bool,
        /// Seconds to keep a message.
        #[serde(default)]
        #[schemars(range(min = 60, max = 1_209_600))]
        retention: Option<u32>,
        /// Where it lives.
        #[serde(default)]
        vpc_id: Option<String>,
        /// Rules.
        #[serde(default)]
        rules: Vec<Rule>,
        /// How it is made.
        #[serde(default)]
        mode: Mode,
    }

    // Read only through their schema and `check`.
    #[allow(dead_code)]
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct Rule {
        /// The port.
        #[schemars(range(min = 1, max = 65535))]
        port: u32,
        /// The source.
        cidr: String,
    }

    #[derive(Deserialize, JsonSchema, Default)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        #[default]
        Fast,
        Safe,
    }

    impl KindProps for Sample {
        fn check(&self) -> Vec<PropIssue> {
            self.rules
                .iter()
                .enumerate()
                .filter(|(_, r)| !is_ref(&r.cidr) && !r.cidr.contains('/'))
                .map(|(i, _)| {
                    PropIssue::new(&["rules", &i.to_string(), "cidr"], "is not a CIDR block")
                })
                .collect()
        }
    }

    fn schema() -> PropSchema {
        PropSchema::of::<Sample>("test.sample")
    }

    fn props(yaml: &str) -> Props {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn issues(yaml: &str) -> Vec<(String, String)> {
        schema()
            .issues(&props(yaml))
            .into_iter()
            .map(|i| (i.path.join("."), i.message))
            .collect()
    }

    #[test]
    fn a_wrong_type_names_the_field_and_the_expected_type() {
        assert_eq!(
            issues("flag: perhaps"),
            vec![(
                "flag".into(),
                "must be true or false, not a string (see `envctl explain test.sample.flag`)"
                    .into()
            )]
        );
    }

    #[test]
    fn a_value_out_of_range_says_the_limit() {
        let found = issues("retention: 99999999");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "retention");
        assert!(
            found[0]
                .1
                .starts_with("is 99999999; the most allowed is 1209600"),
            "{found:?}"
        );
    }

    #[test]
    fn nested_errors_name_the_path_and_unknown_fields_suggest() {
        let found = issues("rules: [{port: 0, cidr: 10.0.0.0/8}, {prot: 1, cidr: x}]");
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert!(paths.contains(&"rules.0.port"), "{found:?}");
        assert!(paths.contains(&"rules.1.prot"), "{found:?}");
        assert!(paths.contains(&"rules.1"), "missing port: {found:?}");
        let unknown = found.iter().find(|(p, _)| p == "rules.1.prot").unwrap();
        assert!(unknown.1.contains("did you mean 'port'?"), "{unknown:?}");
    }

    #[test]
    fn enums_list_their_words() {
        assert_eq!(
            issues("mode: slow"),
            vec![("mode".into(), "is slow; use one of: fast, safe".into())]
        );
    }

    #[test]
    fn references_are_skipped_until_resolved() {
        let found = issues("retention: ${q.seconds}\nvpc_id: ${net.vpc_id}");
        assert!(found.is_empty(), "{found:?}");
        assert!(issues("rules: [{port: 80, cidr: '${net.cidr}'}]").is_empty());
        // The struct's own rules still run on the literal values beside them.
        let found = issues("vpc_id: ${net.vpc_id}\nrules: [{port: 80, cidr: nope}]");
        assert_eq!(
            found,
            vec![("rules.0.cidr".into(), "is not a CIDR block".into())]
        );
    }

    #[test]
    fn top_level_names_are_left_to_the_caller_but_parse_refuses_them() {
        // Stack validation words unknown and missing top-level properties
        // with the stack's context; the schema must not say them again.
        let found = issues("flagg: true");
        assert!(found.is_empty(), "{found:?}");
        #[allow(dead_code)]
        #[derive(Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        struct Needs {
            /// Required.
            name: String,
        }
        impl KindProps for Needs {}
        let needs = PropSchema::of::<Needs>("test.needs");
        assert!(needs.issues(&props("{}")).is_empty());
        let err = needs
            .parse::<Needs>(&props("{}"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("name"), "{err}");
        let err = schema()
            .parse::<Sample>(&props("flagg: true"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("flagg"), "{err}");
    }

    #[test]
    fn errors_never_show_a_string_value() {
        let found = issues("flag: hunter2-secret");
        assert!(!found[0].1.contains("hunter2"), "{found:?}");
    }

    #[test]
    fn fields_are_described_from_the_doc_comments() {
        let s = schema();
        let names: Vec<String> = s.fields().into_iter().map(|f| f.name).collect();
        // Alphabetical, as `kubectl explain` lists them.
        assert_eq!(names, ["flag", "mode", "retention", "rules", "vpc_id"]);
        let retention = s.field(&["retention"]).unwrap();
        assert_eq!(retention.description, "Seconds to keep a message.");
        assert_eq!(retention.ty, "integer");
        assert_eq!(retention.rules, ["60–1209600"]);
        let port = s.field(&["rules", "port"]).unwrap();
        assert!(port.required);
        assert_eq!(port.rules, ["1–65535"]);
        assert_eq!(s.field(&["rules"]).unwrap().ty, "[object]");
        assert_eq!(s.field(&["mode"]).unwrap().rules, ["one of: fast, safe"]);
        assert_eq!(
            s.field(&["flag"]).unwrap().default.as_deref(),
            Some("false")
        );
        assert_eq!(s.specs().len(), 5);
        assert!(keys(s.json().as_object().unwrap()).contains(&"properties"));
    }

    #[test]
    fn parse_names_the_field_of_a_resolved_value() {
        let err = parse::<Sample>(&props("rules: [{port: x, cidr: a}]"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("property 'rules[0].port'"), "{err}");
    }
}
