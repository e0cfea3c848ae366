//! The kinds described for people: `envctl explain KIND[.FIELD]` (like
//! `kubectl explain`) and the README's kinds table, both derived from each
//! kind's typed schema and output list, never written by hand.

use std::fmt::Write as _;

use super::schema::FieldDoc;
use super::{Kind, all_kinds, kind_by_name};

/// Why `explain` could not answer, with the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExplainError(String);

/// `explain` of `target`: `aws.sqs.queue` or `aws.sqs.queue.dead_letter`
/// (nested: `aws.ec2.security_group.ingress.port`).
pub fn explain(target: &str) -> Result<String, ExplainError> {
    let (kind, field) = split_target(target)?;
    let Some(schema) = kind.schema() else {
        return Err(ExplainError(format!(
            "kind {} has no typed schema yet; its properties: {}",
            kind.name(),
            kind.props()
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let mut out = String::new();
    if field.is_empty() {
        let _ = writeln!(out, "KIND:     {}", kind.name());
        let _ = writeln!(out, "API:      {}", kind.api());
        let _ = writeln!(out, "\nDESCRIPTION:");
        indent(&mut out, schema.description(), 4);
        let _ = writeln!(out, "\nPROPERTIES:");
        for f in schema.fields() {
            field_block(&mut out, &f, 2);
        }
        let _ = writeln!(out, "\nOUTPUTS:");
        for o in kind.outputs() {
            let secret = if o.secret { "  (secret)" } else { "" };
            let _ = writeln!(out, "  {}{secret}", o.name);
            indent(&mut out, o.doc, 4);
        }
        return Ok(out);
    }
    let names: Vec<&str> = field.split('.').collect();
    let Some(f) = schema.field(&names) else {
        let parent = &names[..names.len() - 1];
        let siblings: Vec<String> = if parent.is_empty() {
            schema.fields().into_iter().map(|f| f.name).collect()
        } else {
            schema
                .field(parent)
                .map(|p| p.fields.into_iter().map(|f| f.name).collect())
                .unwrap_or_default()
        };
        let last = names[names.len() - 1];
        return Err(ExplainError(format!(
            "kind {} has no field '{field}'{}; its fields there: {}",
            kind.name(),
            crate::suggest::did_you_mean(last, siblings.iter().map(String::as_str)),
            siblings.join(", ")
        )));
    };
    let _ = writeln!(out, "KIND:     {}", kind.name());
    let _ = writeln!(out, "FIELD:    {field} <{}>", f.ty);
    let _ = writeln!(out, "\nDESCRIPTION:");
    indent(&mut out, &f.description, 4);
    if f.required {
        let _ = writeln!(out, "    Required.");
    }
    if let Some(d) = &f.default {
        let _ = writeln!(out, "    Default: {d}.");
    }
    for rule in &f.rules {
        let _ = writeln!(out, "    Allowed: {rule}.");
    }
    if !f.fields.is_empty() {
        let _ = writeln!(out, "\nFIELDS:");
        for nested in &f.fields {
            field_block(&mut out, nested, 2);
        }
    }
    Ok(out)
}

/// Splits `aws.sqs.queue.dead_letter` into the longest kind name that
/// matches and the rest.
fn split_target(target: &str) -> Result<(&'static dyn Kind, String), ExplainError> {
    let parts: Vec<&str> = target.split('.').collect();
    for cut in (1..=parts.len()).rev() {
        if let Some(kind) = kind_by_name(&parts[..cut].join(".")) {
            return Ok((kind, parts[cut..].join(".")));
        }
    }
    let names: Vec<&str> = all_kinds().iter().map(|k| k.name()).collect();
    Err(ExplainError(format!(
        "'{target}' names no kind{}; known kinds: {}",
        crate::suggest::did_you_mean(target, names.iter().copied()),
        names.join(", ")
    )))
}

fn field_block(out: &mut String, f: &FieldDoc, depth: usize) {
    let pad = " ".repeat(depth);
    let mut notes = Vec::new();
    if f.required {
        notes.push("required".to_string());
    }
    if let Some(d) = &f.default {
        notes.push(format!("default {d}"));
    }
    notes.extend(f.rules.iter().cloned());
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("  ({})", notes.join("; "))
    };
    let _ = writeln!(out, "{pad}{}\t<{}>{notes}", f.name, f.ty);
    indent(out, &f.description, depth + 2);
}

fn indent(out: &mut String, text: &str, by: usize) {
    let pad = " ".repeat(by);
    for line in text.lines() {
        let _ = writeln!(out, "{pad}{line}");
    }
}

/// The README's kinds table: one row per kind with a typed schema.
pub fn markdown_table() -> String {
    let mut out = String::from("| kind | properties | outputs |\n|---|---|---|\n");
    for kind in all_kinds() {
        let props: Vec<String> = match kind.schema() {
            Some(schema) => schema.fields().iter().map(markdown_field).collect(),
            // A kind not yet on a typed schema: its hand-kept list.
            None => kind
                .props()
                .iter()
                .map(|p| match p.required {
                    true => format!("`{}` (required)", p.name),
                    false => format!("`{}`", p.name),
                })
                .collect(),
        };
        let outputs: Vec<String> = kind
            .outputs()
            .iter()
            .map(|o| format!("`{}`", o.name))
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            kind.name(),
            props.join(", "),
            outputs.join(", ")
        );
    }
    out
}

fn markdown_field(f: &FieldDoc) -> String {
    let mut notes = Vec::new();
    if f.required {
        notes.push("required".to_string());
    }
    if let Some(d) = &f.default {
        notes.push(format!("default {d}"));
    }
    notes.extend(f.rules.iter().map(|r| r.replace('|', "\\|")));
    if notes.is_empty() {
        format!("`{}`", f.name)
    } else {
        format!("`{}` ({})", f.name, notes.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_a_kind_lists_properties_with_rules_and_outputs() {
        let text = explain("aws.sqs.queue").unwrap();
        assert!(text.contains("KIND:     aws.sqs.queue"), "{text}");
        assert!(
            text.contains("message_retention_seconds\t<integer>  (60–1209600)"),
            "{text}"
        );
        assert!(
            text.contains("max_receive_count\t<integer>  (default 5; 1–1000)"),
            "{text}"
        );
        assert!(text.contains("OUTPUTS:\n  url\n"), "{text}");
    }

    #[test]
    fn explain_a_field() {
        let text = explain("aws.sqs.queue.dead_letter").unwrap();
        assert!(text.contains("FIELD:    dead_letter <boolean>"), "{text}");
        assert!(text.contains("Default: false."), "{text}");
    }

    #[test]
    fn explain_a_typo_suggests() {
        let err = explain("aws.sqs.queue.dead_leter").unwrap_err().to_string();
        assert!(err.contains("did you mean 'dead_letter'?"), "{err}");
        let err = explain("aws.sqs.queu").unwrap_err().to_string();
        assert!(err.contains("did you mean 'aws.sqs.queue'?"), "{err}");
    }

    /// The README's table is the generated one (between its markers).
    #[test]
    fn the_readme_kinds_table_is_generated() {
        let readme = std::fs::read_to_string("README.md").unwrap();
        let begin = "<!-- kinds-table:begin (generated: cargo test --lib kinds::docs) -->\n";
        let end = "<!-- kinds-table:end -->";
        let (Some(a), Some(b)) = (readme.find(begin), readme.find(end)) else {
            panic!("README.md lacks the kinds-table markers");
        };
        let kept = &readme[a + begin.len()..b];
        let table = markdown_table();
        if kept != table {
            if std::env::var_os("ENVCTL_BLESS").is_some() {
                let fixed = format!("{}{table}{}", &readme[..a + begin.len()], &readme[b..]);
                std::fs::write("README.md", fixed).unwrap();
            }
            panic!(
                "README.md's kinds table is stale: run `ENVCTL_BLESS=1 cargo test --lib kinds::docs` to regenerate it"
            );
        }
    }
}
