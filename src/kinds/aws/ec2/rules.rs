//! The character and length rules of the EC2 API on the free text envctl
//! passes it (security-group and rule descriptions), and the way the EC2
//! kinds run their property checks at validation: values that hold a
//! `${ref}` are replaced by a placeholder of the right shape (or dropped),
//! so that the literal rest is checked before anything exists.

use crate::kinds::schema::is_ref;
use crate::kinds::{KindError, PropIssue, Props};

/// The characters AWS allows, besides ASCII letters, digits and spaces, in a
/// security group's name and description (CreateSecurityGroup, API
/// reference: "Valid characters: a-z, A-Z, 0-9, spaces, and
/// ._-:/()#,@[]+=&;{}!$*").
pub const GROUP_TEXT_EXTRA: &str = "._-:/()#,@[]+=&;{}!$*";
/// The same for a rule's description (IpRange, Ipv6Range, UserIdGroupPair
/// `Description`, API reference: "Allowed characters are a-z, A-Z, 0-9,
/// spaces, and ._-:/()#,@[]+=;{}!$*" — no `&`).
pub const RULE_TEXT_EXTRA: &str = "._-:/()#,@[]+=;{}!$*";
/// Both are at most 255 characters.
pub const MAX_TEXT: usize = 255;

/// What is wrong with `text` as an EC2 text of `what` allowing `extra`
/// besides letters, digits and spaces; `None` when it is fine.
pub fn text_issue(what: &str, text: &str, extra: &str) -> Option<String> {
    if text.is_empty() {
        return Some(format!("{what} is empty; give 1 to {MAX_TEXT} characters"));
    }
    if text.chars().count() > MAX_TEXT {
        return Some(format!(
            "{what} has {} characters; AWS allows at most {MAX_TEXT}",
            text.chars().count()
        ));
    }
    let bad: Vec<char> = text
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || *c == ' ' || extra.contains(*c)))
        .fold(Vec::new(), |mut v, c| {
            if !v.contains(&c) {
                v.push(c);
            }
            v
        });
    if bad.is_empty() {
        return None;
    }
    let named: Vec<String> = bad.iter().map(|c| char_name(*c)).collect();
    Some(format!(
        "{what} contains {}, which AWS does not allow there; allowed are letters a-z A-Z, \
         digits, spaces and {extra} (e.g. write \"the tenants load balancer\")",
        named.join(", ")
    ))
}

fn char_name(c: char) -> String {
    match c {
        '\'' => "an apostrophe (')".into(),
        '"' => "a double quote (\")".into(),
        '\t' => "a tab".into(),
        '\n' => "a line break".into(),
        c if c.is_ascii() => format!("'{c}'"),
        c => format!("'{c}' (U+{:04X}, not ASCII)", c as u32),
    }
}

/// `v` with a value holding a `${ref}` replaced by `with`, a literal of its
/// shape: one field of a filled copy of typed properties.
pub fn placeholder(v: &Option<String>, with: &str) -> Option<String> {
    v.as_ref().map(|v| {
        if is_ref(v) {
            with.to_string()
        } else {
            v.clone()
        }
    })
}

/// A copy of `props` in which every string holding a `${ref}` under a key of
/// `placeholders` is replaced by that placeholder (`None`: the key is
/// dropped, so its default applies), at any depth. Keys not listed keep
/// their reference, and a check that needs them reports nothing useful; so
/// list every key a reference may fill.
pub fn with_placeholders(props: &Props, placeholders: &[(&str, Option<&str>)]) -> Props {
    fn holds_ref(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains("${"),
            serde_json::Value::Array(a) => a.iter().any(holds_ref),
            _ => false,
        }
    }
    fn walk(v: &serde_json::Value, ph: &[(&str, Option<&str>)]) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => serde_json::Value::Object(map(m, ph)),
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.iter().map(|x| walk(x, ph)).collect())
            }
            other => other.clone(),
        }
    }
    fn fill(v: &serde_json::Value, with: &str) -> serde_json::Value {
        match v {
            serde_json::Value::String(s) if s.contains("${") => with.into(),
            serde_json::Value::Array(a) => a.iter().map(|x| fill(x, with)).collect(),
            other => other.clone(),
        }
    }
    fn map(m: &Props, ph: &[(&str, Option<&str>)]) -> Props {
        let mut out = Props::new();
        for (k, v) in m {
            match ph.iter().find(|(name, _)| name == k) {
                Some((_, None)) if holds_ref(v) => {}
                Some((_, Some(with))) if holds_ref(v) => {
                    out.insert(k.clone(), fill(v, with));
                }
                _ => {
                    out.insert(k.clone(), walk(v, ph));
                }
            }
        }
        out
    }
    map(props, placeholders)
}

/// A kind's own property error (`properties: <field>...: <message>`) as an
/// issue at that field.
pub fn issue_of(err: KindError) -> PropIssue {
    let text = err.to_string();
    let rest = text.strip_prefix("properties: ").unwrap_or(&text);
    let field: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if field.is_empty() {
        PropIssue::new(&[], rest)
    } else {
        PropIssue::new(&[&field], rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_apostrophe_in_a_group_description_is_named_with_the_fix() {
        let m = text_issue(
            "description",
            "HTTPS from anywhere to the tenant's load balancer",
            GROUP_TEXT_EXTRA,
        )
        .unwrap();
        assert!(m.contains("apostrophe"), "{m}");
        assert!(m.contains("._-:/()#,@[]+=&;{}!$*"), "{m}");
        assert_eq!(
            text_issue(
                "description",
                "PostgreSQL from the app tier (5432)",
                GROUP_TEXT_EXTRA
            ),
            None
        );
    }

    #[test]
    fn rule_descriptions_refuse_the_ampersand_group_descriptions_allow() {
        assert_eq!(text_issue("d", "a & b", GROUP_TEXT_EXTRA), None);
        assert!(text_issue("d", "a & b", RULE_TEXT_EXTRA).is_some());
        assert!(
            text_issue("d", "café", GROUP_TEXT_EXTRA)
                .unwrap()
                .contains("not ASCII")
        );
        assert!(text_issue("d", &"x".repeat(256), GROUP_TEXT_EXTRA).is_some());
        assert!(text_issue("d", &"x".repeat(255), GROUP_TEXT_EXTRA).is_none());
        assert!(text_issue("d", "", GROUP_TEXT_EXTRA).is_some());
    }

    #[test]
    fn references_become_placeholders_of_the_right_shape_or_go() {
        let props = serde_json::json!({
            "subnet_ids": "${network.subnet_ids}",
            "ingress": [{"source_group": "${a.group_id}", "port": 1}],
            "min": "${x.n}",
            "cidr": "10.0.0.0/16",
        });
        let props = props.as_object().unwrap();
        let out = with_placeholders(
            props,
            &[
                ("subnet_ids", Some("subnet-ref")),
                ("source_group", Some("sg-ref")),
                ("min", None),
            ],
        );
        assert_eq!(out["subnet_ids"], "subnet-ref");
        assert_eq!(out["ingress"][0]["source_group"], "sg-ref");
        assert!(!out.contains_key("min"));
        assert_eq!(out["cidr"], "10.0.0.0/16");
    }
}
