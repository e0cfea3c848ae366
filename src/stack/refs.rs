//! `${id.output}` references inside property strings: finding them
//! ([`references`]) and replacing them with resolved values ([`substitute`]).
//!
//! Syntax: `${resource-id.output}` anywhere in a string, several per string,
//! mixed with text (`"https://${alb.dns}/x"`). `$${` is a literal `${`. Only
//! strings are scanned (not map keys); numbers and booleans pass through.

use std::fmt;

use serde_json::{Map, Value};

/// One `${resource.output}` reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref {
    pub resource: String,
    pub output: String,
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}.{}}}", self.resource, self.output)
    }
}

/// A `${` that does not form a valid reference.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RefSyntaxError {
    #[error(
        "reference '{text}' has no closing '}}': write '${{resource-id.output}}', or '$${{' for a literal '${{'"
    )]
    Unclosed { text: String },
    #[error(
        "reference '${{{inner}}}' is malformed: write '${{resource-id.output}}' (a resource id, a dot, an output name), or '$${{' for a literal '${{'"
    )]
    Malformed { inner: String },
}

/// A failure of [`substitute`].
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RefError {
    #[error("property '{property}': {source}")]
    Syntax {
        property: String,
        source: RefSyntaxError,
    },
    #[error(
        "property '{property}': reference {reference} has no value: resource '{}' has not produced output '{}'",
        reference.resource,
        reference.output
    )]
    Unresolved { property: String, reference: Ref },
}

/// A piece of a string: literal text (with `$${` already unescaped) or a reference.
#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Text(String),
    Ref(Ref),
}

fn valid_resource_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn valid_output_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Splits a string into text and references.
fn segments(s: &str) -> Result<Vec<Segment>, RefSyntaxError> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        text.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            text.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(close) = tail.find('}') else {
                return Err(RefSyntaxError::Unclosed {
                    text: after.to_string(),
                });
            };
            let inner = &tail[..close];
            let parsed = inner
                .split_once('.')
                .filter(|(r, o)| valid_resource_part(r) && valid_output_part(o));
            let Some((resource, output)) = parsed else {
                return Err(RefSyntaxError::Malformed {
                    inner: inner.to_string(),
                });
            };
            if !text.is_empty() {
                out.push(Segment::Text(std::mem::take(&mut text)));
            }
            out.push(Segment::Ref(Ref {
                resource: resource.to_string(),
                output: output.to_string(),
            }));
            rest = &tail[close + 1..];
        } else {
            text.push('$');
            rest = &after[1..];
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Segment::Text(text));
    }
    Ok(out)
}

/// Every reference in `value` (strings inside nested maps and arrays), in
/// document order, duplicates kept.
pub fn references(value: &Value) -> Result<Vec<Ref>, RefSyntaxError> {
    let mut out = Vec::new();
    collect(value, &mut out)?;
    Ok(out)
}

fn collect(value: &Value, out: &mut Vec<Ref>) -> Result<(), RefSyntaxError> {
    match value {
        Value::String(s) => {
            for seg in segments(s)? {
                if let Segment::Ref(r) = seg {
                    out.push(r);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                collect(v, out)?;
            }
        }
        Value::Object(map) => {
            for v in map.values() {
                collect(v, out)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// Replaces every reference in the strings of `props` with
/// `lookup(resource, output)`, and every `$${` with `${`. The result is a
/// string wherever the input was one, even when it is exactly one reference.
/// Substituted values are not scanned again.
pub fn substitute(
    props: &Map<String, Value>,
    lookup: &dyn Fn(&str, &str) -> Option<String>,
) -> Result<Map<String, Value>, RefError> {
    props
        .iter()
        .map(|(k, v)| Ok((k.clone(), subst_value(k, v, lookup)?)))
        .collect()
}

fn subst_value(
    path: &str,
    value: &Value,
    lookup: &dyn Fn(&str, &str) -> Option<String>,
) -> Result<Value, RefError> {
    Ok(match value {
        Value::String(s) => {
            let segs = segments(s).map_err(|source| RefError::Syntax {
                property: path.to_string(),
                source,
            })?;
            let mut out = String::with_capacity(s.len());
            for seg in segs {
                match seg {
                    Segment::Text(t) => out.push_str(&t),
                    Segment::Ref(r) => match lookup(&r.resource, &r.output) {
                        Some(v) => out.push_str(&v),
                        None => {
                            return Err(RefError::Unresolved {
                                property: path.to_string(),
                                reference: r,
                            });
                        }
                    },
                }
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| subst_value(&format!("{path}[{i}]"), v, lookup))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), subst_value(&format!("{path}.{k}"), v, lookup)?)))
                .collect::<Result<_, RefError>>()?,
        ),
        other => other.clone(),
    })
}

/// Replaces, in the strings of `value`, the references for which
/// `replace` gives a value, and leaves everything else as written (other
/// references, `$${` escapes): for built-in values substituted at load,
/// before the references between resources are resolved at run time. A
/// string with a malformed reference is left as it is (validation reports
/// it).
pub fn replace_some(value: &Value, replace: &dyn Fn(&Ref) -> Option<String>) -> Value {
    match value {
        Value::String(s) => {
            let Ok(segs) = segments(s) else {
                return value.clone();
            };
            let mut out = String::with_capacity(s.len());
            for seg in segs {
                match seg {
                    Segment::Text(t) => out.push_str(&t.replace("${", "$${")),
                    Segment::Ref(r) => match replace(&r) {
                        Some(v) => out.push_str(&v.replace("${", "$${")),
                        None => out.push_str(&r.to_string()),
                    },
                }
            }
            Value::String(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| replace_some(v, replace)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), replace_some(v, replace)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(resource: &str, output: &str) -> Ref {
        Ref {
            resource: resource.into(),
            output: output.into(),
        }
    }

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn finds_several_references_mixed_with_text_in_nested_values() {
        let v = json!({
            "url": "https://${alb.dns}/x?q=${db.port}",
            "list": ["plain", {"deep": "${queue-1.arn}"}],
            "n": 3,
            "b": true
        });
        let mut found = references(&v).unwrap();
        found.sort();
        assert_eq!(
            found,
            vec![r("alb", "dns"), r("db", "port"), r("queue-1", "arn")]
        );
    }

    #[test]
    fn double_dollar_is_a_literal_and_not_a_reference() {
        assert_eq!(references(&json!("cost: $${HOME} and $5")).unwrap(), vec![]);
        let out = substitute(&props(json!({"a": "$${x.y}-${b.c}"})), &|_, _| {
            Some("V".into())
        })
        .unwrap();
        assert_eq!(out["a"], json!("${x.y}-V"));
    }

    #[test]
    fn unclosed_reference_is_a_syntax_error() {
        let err = references(&json!("https://${alb.dns/x")).unwrap_err();
        assert!(matches!(err, RefSyntaxError::Unclosed { .. }), "{err}");
        assert!(err.to_string().contains("closing '}'"), "{err}");
    }

    #[test]
    fn reference_without_dot_or_with_bad_parts_is_malformed() {
        for bad in [
            "${alb}",
            "${.dns}",
            "${alb.}",
            "${Alb.dns}",
            "${a b.c}",
            "${}",
        ] {
            let err = references(&json!(bad)).unwrap_err();
            assert!(
                matches!(err, RefSyntaxError::Malformed { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn substitution_keeps_a_single_reference_a_string() {
        let out = substitute(
            &props(json!({"port": "${db.port}", "n": 5})),
            &|res, out| (res == "db" && out == "port").then(|| "5432".to_string()),
        )
        .unwrap();
        assert_eq!(out["port"], json!("5432"));
        assert_eq!(out["n"], json!(5));
    }

    #[test]
    fn substitution_replaces_references_in_nested_values() {
        let out = substitute(
            &props(json!({"env": {"URL": "http://${alb.dns}:${alb.port}/"}, "l": ["${a.b}"]})),
            &|res, out| Some(format!("<{res}:{out}>")),
        )
        .unwrap();
        assert_eq!(out["env"]["URL"], json!("http://<alb:dns>:<alb:port>/"));
        assert_eq!(out["l"][0], json!("<a:b>"));
    }

    #[test]
    fn substituted_values_are_not_scanned_again() {
        let out = substitute(&props(json!({"a": "${x.y}"})), &|_, _| {
            Some("${z.w}".into())
        })
        .unwrap();
        assert_eq!(out["a"], json!("${z.w}"));
    }

    #[test]
    fn unresolved_reference_names_the_property_and_reference() {
        let err =
            substitute(&props(json!({"tags": {"k": "${db.host}"}})), &|_, _| None).unwrap_err();
        assert_eq!(
            err,
            RefError::Unresolved {
                property: "tags.k".into(),
                reference: r("db", "host")
            }
        );
        assert!(err.to_string().contains("${db.host}"), "{err}");
    }

    #[test]
    fn replace_some_substitutes_only_what_it_is_given_and_keeps_escapes() {
        let v = json!({
            "a": "https://app.${envctl.domain}/${alb.dns}",
            "b": ["$${literal}", "${envctl.domain}"],
            "c": "${broken",
            "n": 1
        });
        let out = replace_some(&v, &|r| {
            (r.resource == "envctl" && r.output == "domain").then(|| "envctl.dev".to_string())
        });
        assert_eq!(
            out,
            json!({
                "a": "https://app.envctl.dev/${alb.dns}",
                "b": ["$${literal}", "envctl.dev"],
                "c": "${broken",
                "n": 1
            })
        );
    }
}
