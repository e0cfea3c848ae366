//! What a record resource writes: its type and content read from the
//! properties, its full name in the zone, the record set to UPSERT, and
//! whether an existing set already is what is wanted.

use aws_sdk_route53::types::{AliasTarget, ResourceRecord, ResourceRecordSet, RrType};

use super::super::api::bare_zone_id;
use super::super::dns_name::dns_name;
use super::props::{ALIAS_TYPES, AliasProps, DEFAULT_TTL, MAX_NAME, RecordProps, VALUE_TYPES};
use crate::kinds::KindError;
use crate::kinds::aws::call::permanent;

/// What the record should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Content {
    Values { ttl: i64, values: Vec<String> },
    Alias(AliasProps),
}

impl RecordProps {
    pub(super) fn record_type(&self) -> Result<String, KindError> {
        let t = self.record_type.trim().to_ascii_uppercase();
        let allowed = if self.alias.is_some() {
            ALIAS_TYPES
        } else {
            VALUE_TYPES
        };
        if !allowed.contains(&t.as_str()) {
            return Err(KindError::Permanent(format!(
                "properties: type '{}' is not supported{}; use one of {}",
                self.record_type,
                if self.alias.is_some() {
                    " for an alias"
                } else {
                    ""
                },
                allowed.join(", ")
            )));
        }
        Ok(t)
    }

    pub(super) fn content(&self, rtype: &str) -> Result<Content, KindError> {
        match (&self.values, &self.alias) {
            (Some(_), Some(_)) => Err(KindError::Permanent(
                "properties: set either 'values' or 'alias', not both".into(),
            )),
            (None, None) => Err(KindError::Permanent(
                "properties: 'values' (a list) or 'alias' ({dns_name, hosted_zone_id}) is \
                 required"
                    .into(),
            )),
            (None, Some(a)) => {
                if self.ttl.is_some() {
                    return Err(KindError::Permanent(
                        "properties: an alias has no ttl (Route53 uses the target's); remove \
                         'ttl'"
                            .into(),
                    ));
                }
                let dns = a.dns_name.trim().trim_end_matches('.').to_ascii_lowercase();
                let zone = bare_zone_id(&a.hosted_zone_id).to_string();
                if dns.is_empty() || zone.is_empty() {
                    return Err(KindError::Permanent(
                        "properties: alias needs dns_name and hosted_zone_id (e.g. \
                         ${lb.dns_name} and ${lb.canonical_hosted_zone_id})"
                            .into(),
                    ));
                }
                Ok(Content::Alias(AliasProps {
                    dns_name: dns,
                    hosted_zone_id: zone,
                    evaluate_target_health: a.evaluate_target_health,
                }))
            }
            (Some(values), None) => {
                let ttl = self.ttl.unwrap_or(DEFAULT_TTL);
                if !(0..=2_147_483_647).contains(&ttl) {
                    return Err(KindError::Permanent(format!(
                        "properties: ttl {ttl} is out of range (0 to 2147483647 seconds)"
                    )));
                }
                if values.is_empty() || values.iter().any(|v| v.trim().is_empty()) {
                    return Err(KindError::Permanent(
                        "properties: values must be a non-empty list of non-empty strings".into(),
                    ));
                }
                if rtype == "CNAME" && values.len() != 1 {
                    return Err(KindError::Permanent(format!(
                        "properties: a CNAME has exactly one value, not {}",
                        values.len()
                    )));
                }
                let mut values: Vec<String> = values
                    .iter()
                    .map(|v| {
                        let v = v.trim();
                        if matches!(rtype, "TXT" | "SPF") {
                            txt_value(v)
                        } else {
                            v.to_string()
                        }
                    })
                    .collect();
                values.sort();
                values.dedup();
                Ok(Content::Values { ttl, values })
            }
        }
    }
}

/// A TXT value as Route53 wants it: already quoted values as they are,
/// anything else quoted, in strings of at most 255 bytes.
fn txt_value(v: &str) -> String {
    if v.starts_with('"') {
        return v.to_string();
    }
    let mut strings = Vec::new();
    let mut current = String::new();
    for c in v.chars() {
        let piece = match c {
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            c => c.to_string(),
        };
        if current.len() + piece.len() > 255 {
            strings.push(std::mem::take(&mut current));
        }
        current.push_str(&piece);
    }
    strings.push(current);
    strings
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The full name of `name` in `zone` (both without trailing dots in the
/// result): `@` or empty is the apex, a name ending in `.` or in the zone's
/// name is taken as it is, anything else is relative to the zone.
pub(super) fn resolve_name(name: &str, zone: &str) -> Result<String, KindError> {
    let raw = name.trim().to_ascii_lowercase();
    if raw.is_empty() || raw == "@" {
        return Ok(zone.to_string());
    }
    let absolute = raw.ends_with('.');
    let n = raw.trim_end_matches('.');
    let fqdn = if n == zone || n.ends_with(&format!(".{zone}")) {
        n.to_string()
    } else if absolute {
        return Err(KindError::Permanent(format!(
            "properties: name '{name}' is not in the zone {zone}"
        )));
    } else {
        format!("{n}.{zone}")
    };
    let bad = |why: &str| {
        KindError::Permanent(format!(
            "properties: name '{name}' ({fqdn}) is not a valid record name: {why}"
        ))
    };
    if fqdn.len() > MAX_NAME {
        return Err(bad("longer than 240 characters"));
    }
    for (i, label) in fqdn.split('.').enumerate() {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("every label must have 1-63 characters"));
        }
        if label == "*" {
            if i != 0 {
                return Err(bad("'*' is a wildcard only as the leftmost label"));
            }
            continue;
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(bad("use only a-z, 0-9, '-' and '_' (or a leading '*')"));
        }
    }
    Ok(fqdn)
}

/// The record set to UPSERT.
pub(super) fn record_set_of(
    fqdn: &str,
    rtype: &str,
    content: &Content,
) -> Result<ResourceRecordSet, KindError> {
    let mut b = ResourceRecordSet::builder()
        .name(format!("{fqdn}."))
        .r#type(RrType::from(rtype));
    match content {
        Content::Values { ttl, values } => {
            b = b.ttl(*ttl);
            for v in values {
                b = b.resource_records(
                    ResourceRecord::builder()
                        .value(v)
                        .build()
                        .map_err(|e| permanent("record value", e))?,
                );
            }
        }
        Content::Alias(a) => {
            b = b.alias_target(
                AliasTarget::builder()
                    .dns_name(&a.dns_name)
                    .hosted_zone_id(&a.hosted_zone_id)
                    .evaluate_target_health(a.evaluate_target_health)
                    .build()
                    .map_err(|e| permanent("alias target", e))?,
            );
        }
    }
    b.build().map_err(|e| permanent("record set", e))
}

/// Whether an existing record set already is what `content` asks for.
pub(super) fn same_content(existing: &ResourceRecordSet, content: &Content) -> bool {
    if existing.set_identifier().is_some() {
        return false;
    }
    match content {
        Content::Alias(a) => existing.alias_target().is_some_and(|t| {
            dns_name(t.dns_name()) == a.dns_name
                && bare_zone_id(t.hosted_zone_id()) == a.hosted_zone_id
                && t.evaluate_target_health() == a.evaluate_target_health
        }),
        Content::Values { ttl, values } => {
            let mut have: Vec<String> = existing
                .resource_records()
                .iter()
                .map(|r| r.value().to_string())
                .collect();
            have.sort();
            existing.alias_target().is_none() && existing.ttl() == Some(*ttl) && have == *values
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: serde_json::Value) -> RecordProps {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn names_resolve_relative_to_the_zone() {
        let z = "acme.example.test";
        assert_eq!(resolve_name("app", z).unwrap(), "app.acme.example.test");
        assert_eq!(resolve_name("*", z).unwrap(), "*.acme.example.test");
        assert_eq!(resolve_name("@", z).unwrap(), z);
        assert_eq!(resolve_name("", z).unwrap(), z);
        assert_eq!(
            resolve_name("API.acme.example.test.", z).unwrap(),
            "api.acme.example.test"
        );
        assert_eq!(
            resolve_name("api.acme.example.test", z).unwrap(),
            "api.acme.example.test"
        );
        assert!(resolve_name("www.other.test.", z).is_err());
        assert!(resolve_name("a.*", z).is_err());
        assert!(resolve_name("a b", z).is_err());
        assert!(resolve_name(&"a".repeat(64), z).is_err());
    }

    #[test]
    fn content_is_checked_and_normalized() {
        let p = props(serde_json::json!({
            "zone_id": "/hostedzone/Z1", "name": "app", "type": "txt",
            "values": ["v=spf1 -all", "\"quoted\""]
        }));
        let t = p.record_type().unwrap();
        assert_eq!(t, "TXT");
        assert_eq!(
            p.content(&t).unwrap(),
            Content::Values {
                ttl: 300,
                values: vec!["\"quoted\"".into(), "\"v=spf1 -all\"".into()]
            }
        );
        let two_cnames = props(serde_json::json!({
            "zone_id": "Z1", "name": "app", "type": "CNAME", "values": ["a.test", "b.test"]
        }));
        assert!(two_cnames.content("CNAME").is_err());
        let both = props(serde_json::json!({
            "zone_id": "Z1", "name": "app", "type": "A", "values": ["10.0.0.1"],
            "alias": {"dns_name": "lb.test", "hosted_zone_id": "Z2"}
        }));
        assert!(both.content("A").is_err());
        let alias_ttl = props(serde_json::json!({
            "zone_id": "Z1", "name": "app", "type": "A", "ttl": 60,
            "alias": {"dns_name": "LB.test.", "hosted_zone_id": "Z2"}
        }));
        assert!(alias_ttl.content("A").is_err());
        let alias_cname = props(serde_json::json!({
            "zone_id": "Z1", "name": "app", "type": "CNAME",
            "alias": {"dns_name": "lb.test", "hosted_zone_id": "Z2"}
        }));
        assert!(alias_cname.record_type().is_err());
        assert!(
            serde_json::from_value::<RecordProps>(serde_json::json!({
                "zone_id": "Z1", "name": "app", "type": "A", "value": ["10.0.0.1"]
            }))
            .is_err()
        );
    }

    #[test]
    fn long_txt_values_are_split_and_quotes_escaped() {
        let v = txt_value(&format!("{}x", "a".repeat(255)));
        assert_eq!(v, format!("\"{}\" \"x\"", "a".repeat(255)));
        assert_eq!(txt_value("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
