//! Safe by construction: a rollout refuses a tenant whose change would
//! replace or delete a resource that holds data (an RDS instance, a bucket,
//! a queue: [`crate::release::immutable`]'s table), unless the rollout was
//! told to allow it for that resource (`--allow-replace ID`). Pure.

use crate::release::{Action, Diff};

/// Why the change `diff` may not be rolled out, in the diff's words; `None`
/// when it may. `allowed` are the node ids whose replacement was allowed.
pub fn refusal(diff: &Diff, allowed: &[String]) -> Option<String> {
    let refused: Vec<String> = diff
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Replace | Action::Delete))
        .filter(|c| c.warning.is_some())
        .filter(|c| !allowed.iter().any(|a| a == &c.id))
        .map(|c| {
            let why: Vec<String> = c
                .fields
                .iter()
                .filter(|f| f.forces_replacement.is_some())
                .map(|f| match (&f.old, &f.new) {
                    (Some(o), Some(n)) => format!("{}: {o} -> {n}", f.field),
                    _ => f.field.clone(),
                })
                .collect();
            let verb = if c.action == Action::Delete {
                "delete"
            } else {
                "replace"
            };
            format!(
                "{verb} {} ({}){}: {}",
                c.id,
                c.kind,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", why.join("; "))
                },
                c.warning.as_deref().unwrap_or_default()
            )
        })
        .collect();
    if refused.is_empty() {
        return None;
    }
    let ids: Vec<&str> = diff
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Replace | Action::Delete) && c.warning.is_some())
        .filter(|c| !allowed.iter().any(|a| a == &c.id))
        .map(|c| c.id.as_str())
        .collect();
    Some(format!(
        "refused: the change would {}; rerun with {} to allow it",
        refused.join("; and "),
        ids.iter()
            .map(|id| format!("--allow-replace {id}"))
            .collect::<Vec<_>>()
            .join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{FieldChange, NodeChange};

    fn diff_of(changes: Vec<NodeChange>) -> Diff {
        Diff {
            changes,
            to_add: 0,
            to_change: 0,
            to_replace: 1,
            to_destroy: 0,
            unchanged: 3,
        }
    }

    fn db_replace() -> NodeChange {
        NodeChange {
            id: "db".into(),
            kind: "aws.rds.instance".into(),
            action: Action::Replace,
            fields: vec![FieldChange {
                field: "engine".into(),
                old: Some("\"postgres\"".into()),
                new: Some("\"mysql\"".into()),
                forces_replacement: Some("RDS API Reference, ModifyDBInstance".into()),
            }],
            warning: Some("replaces aws.rds.instance db: the database's data would be lost".into()),
        }
    }

    #[test]
    fn replacing_a_data_bearing_resource_is_refused_in_the_diffs_words() {
        let why = refusal(&diff_of(vec![db_replace()]), &[]).unwrap();
        assert!(why.contains("replace db (aws.rds.instance)"), "{why}");
        assert!(why.contains("engine: \"postgres\" -> \"mysql\""), "{why}");
        assert!(why.contains("the database's data would be lost"), "{why}");
        assert!(why.contains("--allow-replace db"), "{why}");
    }

    #[test]
    fn an_allowed_replacement_passes_and_others_are_still_refused() {
        let d = diff_of(vec![db_replace()]);
        assert_eq!(refusal(&d, &["db".to_string()]), None);
        assert!(refusal(&d, &["uploads".to_string()]).is_some());
    }

    #[test]
    fn deleting_a_data_bearing_resource_is_refused_too() {
        let mut c = db_replace();
        c.action = Action::Delete;
        c.fields.clear();
        let why = refusal(&diff_of(vec![c]), &[]).unwrap();
        assert!(why.contains("delete db (aws.rds.instance)"), "{why}");
    }

    #[test]
    fn updates_in_place_and_replacements_without_data_pass() {
        let update = NodeChange {
            id: "svc-billing".into(),
            kind: "k8s.service".into(),
            action: Action::Update,
            fields: vec![FieldChange {
                field: "tag".into(),
                old: Some("\"1\"".into()),
                new: Some("\"2\"".into()),
                forces_replacement: None,
            }],
            warning: None,
        };
        let ns = NodeChange {
            id: "namespace".into(),
            kind: "k8s.namespace".into(),
            action: Action::Replace,
            fields: vec![],
            warning: None,
        };
        assert_eq!(refusal(&diff_of(vec![update, ns]), &[]), None);
    }
}
