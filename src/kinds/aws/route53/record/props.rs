//! The `aws.route53.record` kind's properties: what they mean, the checks
//! made before anything runs ([`KindProps::check`]) and the outputs the
//! kind publishes.

use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::kinds::OutputSpec;
use crate::kinds::PropIssue;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};

/// TTL of records given without one, and of markers.
pub(super) const DEFAULT_TTL: i64 = 300;
/// Longest record name accepted (the marker repeats it in a 255-character
/// TXT string).
pub(super) const MAX_NAME: usize = 240;
/// Record types that take plain values.
pub(super) const VALUE_TYPES: &[&str] = &[
    "A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SPF", "SRV", "SSHFP",
    "SVCB", "TLSA", "TXT",
];
/// Record types that may be aliases.
pub(super) const ALIAS_TYPES: &[&str] = &["A", "AAAA"];

/// The kind's name in stacks.
pub(super) const NAME: &str = "aws.route53.record";

pub(super) static SCHEMA: LazyLock<PropSchema> =
    LazyLock::new(|| PropSchema::of::<RecordProps>(NAME));

/// One Route53 record set (simple routing) in a hosted zone: plain values,
/// or an alias to a load balancer.
///
/// Written with UPSERT together with an ownership marker (a TXT record
/// `<resource-id>._envctl-<tenant>.<zone>`) in one change batch; ready once
/// the change is INSYNC. Rules: Route 53 Developer Guide, "DNS domain name
/// format" (labels of 1-63 characters of a-z, 0-9, '-' and '_', `*` only as
/// the leftmost label) and "Supported DNS record types";
/// ChangeResourceRecordSets `TTL` 0-2147483647, `AliasTarget` (no TTL; A or
/// AAAA to a load balancer), a CNAME has exactly one value (RFC 1034 3.6.2).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordProps {
    /// The hosted zone, e.g. `${zone.zone_id}` (`/hostedzone/` prefix
    /// optional).
    pub(super) zone_id: String,
    /// The record's name: relative to the zone (`app`, `*`, `@` for the
    /// apex) or a name in the zone (`app.acme.example.test`); at most 240
    /// characters in all.
    pub(super) name: String,
    /// The record type, any case: A, AAAA, CAA, CNAME, DS, HTTPS, MX, NAPTR,
    /// NS, PTR, SPF, SRV, SSHFP, SVCB, TLSA or TXT; A or AAAA for an alias.
    #[serde(rename = "type")]
    pub(super) record_type: String,
    /// Seconds resolvers may cache the record; default: 300. Not with
    /// `alias` (Route53 uses the target's).
    #[serde(default)]
    #[schemars(range(min = 0, max = 2_147_483_647))]
    pub(super) ttl: Option<i64>,
    /// The record's values, e.g. `[10.0.0.1]` (exactly one for CNAME); TXT
    /// and SPF values are quoted for you and split into 255-character
    /// strings. Either `values` or `alias`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub(super) values: Option<Vec<String>>,
    /// An alias to a load balancer (its DNS name and canonical hosted zone
    /// id), instead of `values`.
    #[serde(default)]
    pub(super) alias: Option<AliasProps>,
    /// Take over a record of that name and type that envctl did not write
    /// (it is then deleted with this resource); default: false, such a
    /// record is an error.
    #[serde(default)]
    pub(super) allow_overwrite: bool,
}

/// An alias target: a load balancer's DNS name and canonical hosted zone.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(super) struct AliasProps {
    /// The target's DNS name, e.g. `${lb.dns_name}`.
    pub(super) dns_name: String,
    /// The target's canonical hosted zone id, e.g.
    /// `${lb.canonical_hosted_zone_id}`.
    pub(super) hosted_zone_id: String,
    /// Answer only while the target is healthy; default: false.
    #[serde(default)]
    pub(super) evaluate_target_health: bool,
}

/// Route 53 Developer Guide, "DNS domain name format" (labels of 1-63
/// characters of a-z, 0-9, '-' and '_', `*` only as the leftmost label)
/// and "Supported DNS record types"; ChangeResourceRecordSets `TTL`
/// 0-2147483647 (in the schema), `AliasTarget` (no TTL); a CNAME has one
/// value (RFC 1034 3.6.2).
impl KindProps for RecordProps {
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        let raw = &self.name;
        let n = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if !(is_ref(raw) || n.is_empty() || n == "@") {
            if n.len() > MAX_NAME {
                issues.push(PropIssue::new(
                    &["name"],
                    format!("'{raw}' is longer than {MAX_NAME} characters"),
                ));
            }
            for (i, label) in n.split('.').enumerate() {
                let ok = (label == "*" && i == 0)
                    || (!label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                        }));
                if !ok {
                    issues.push(PropIssue::new(
                        &["name"],
                        format!(
                            "'{raw}': label '{label}' is not allowed: labels have 1-63 \
                             characters of a-z, 0-9, '-' and '_', and '*' is a wildcard \
                             only as the leftmost label"
                        ),
                    ));
                    break;
                }
            }
        }
        let alias = self.alias.is_some();
        if !is_ref(&self.record_type) {
            let t = self.record_type.trim().to_ascii_uppercase();
            let allowed = if alias { ALIAS_TYPES } else { VALUE_TYPES };
            if !allowed.contains(&t.as_str()) {
                issues.push(PropIssue::new(
                    &["type"],
                    format!(
                        "'{t}' is not a record type envctl writes{}; use one of {}",
                        if alias { " as an alias" } else { "" },
                        allowed.join(", ")
                    ),
                ));
            }
        }
        match &self.values {
            Some(_) if alias => issues.push(PropIssue::new(
                &["values"],
                "is set beside 'alias': set either 'values' or 'alias', not both",
            )),
            Some(values) => {
                if let Some(i) = values.iter().position(|v| v.trim().is_empty()) {
                    issues.push(PropIssue::new(
                        &["values", &i.to_string()],
                        "is empty: every value needs text (or remove it)",
                    ));
                }
                if self.record_type.trim().eq_ignore_ascii_case("CNAME") && values.len() != 1 {
                    issues.push(PropIssue::new(
                        &["values"],
                        format!(
                            "has {} values; a CNAME has exactly one: keep one",
                            values.len()
                        ),
                    ));
                }
            }
            None if !alias => issues.push(PropIssue::new(
                &["values"],
                "is missing: add 'values' (a list) or 'alias' ({dns_name, hosted_zone_id})",
            )),
            None => {}
        }
        if alias && self.ttl.is_some() {
            issues.push(PropIssue::new(
                &["ttl"],
                "is set with 'alias', which has no ttl (Route53 uses the target's): remove 'ttl'",
            ));
        }
        issues
    }
}

pub(super) static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "fqdn",
        secret: false,
        doc: "the record's full name, without the trailing dot",
    },
    OutputSpec {
        name: "change_id",
        secret: false,
        doc: "the Route53 change that last wrote the record (ready waits for it to be INSYNC)",
    },
    OutputSpec {
        name: "zone_id",
        secret: false,
        doc: "the hosted zone id",
    },
    OutputSpec {
        name: "type",
        secret: false,
        doc: "the record type",
    },
];

#[cfg(test)]
mod tests {
    use super::super::Record;
    use crate::kinds::Kind;

    #[test]
    fn literal_record_names_types_and_ttls_break_route53_rules_at_validation() {
        // Beside the required zone_id, and a value unless the case says.
        let check = |v: serde_json::Value| {
            let mut props = serde_json::json!({"zone_id": "Z1", "name": "app", "type": "A"});
            let m = props.as_object_mut().unwrap();
            m.extend(v.as_object().unwrap().clone());
            if !m.contains_key("alias") && !m.contains_key("values") {
                m.insert("values".into(), serde_json::json!(["10.0.0.1"]));
            }
            Record
                .check(m)
                .into_iter()
                .map(|i| i.path.join("."))
                .collect::<Vec<_>>()
        };
        assert!(check(serde_json::json!({"name": "app", "type": "a", "ttl": 60})).is_empty());
        assert!(check(serde_json::json!({"name": "*.app", "type": "CNAME"})).is_empty());
        assert!(check(serde_json::json!({"name": "@", "type": "TXT"})).is_empty());
        assert!(check(serde_json::json!({"name": "${x.name}", "ttl": 0})).is_empty());
        assert_eq!(check(serde_json::json!({"name": "a.*.b"})), ["name"]);
        assert_eq!(check(serde_json::json!({"name": "bad name"})), ["name"]);
        assert_eq!(
            check(serde_json::json!({"type": "CNAME",
                "alias": {"dns_name": "lb.test", "hosted_zone_id": "Z2"}})),
            ["type"]
        );
        assert_eq!(check(serde_json::json!({"type": "A6"})), ["type"]);
        assert_eq!(check(serde_json::json!({"ttl": -1})), ["ttl"]);
    }

    #[test]
    fn wrong_types_and_broken_cross_field_rules_are_refused_naming_the_field() {
        let check = |v: serde_json::Value| {
            Record
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| i.path.join("."))
                .collect::<Vec<_>>()
        };
        let base = |extra: serde_json::Value| {
            let mut p = serde_json::json!({"zone_id": "Z1", "name": "app", "type": "A"});
            p.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            p
        };
        assert_eq!(
            check(base(
                serde_json::json!({"ttl": "long", "values": ["1.2.3.4"]})
            )),
            ["ttl"]
        );
        assert_eq!(
            check(base(serde_json::json!({"values": "1.2.3.4"}))),
            ["values"]
        );
        assert_eq!(
            check(base(serde_json::json!({"values": ["1.2.3.4"], "alias": {
                "dns_name": "lb.test", "hosted_zone_id": "Z2", "evaluate_target_health": "yes"}}))),
            ["alias.evaluate_target_health"]
        );
        assert_eq!(
            check(base(
                serde_json::json!({"ttl": 2_147_483_648_i64, "values": ["1.2.3.4"]})
            )),
            ["ttl"]
        );
        assert_eq!(check(base(serde_json::json!({"values": []}))), ["values"]);
        assert_eq!(
            check(base(serde_json::json!({"values": ["1.2.3.4", " "]}))),
            ["values.1"]
        );
        assert_eq!(check(base(serde_json::json!({}))), ["values"]);
        let alias = serde_json::json!({"dns_name": "lb.test", "hosted_zone_id": "Z2"});
        assert_eq!(
            check(base(
                serde_json::json!({"values": ["1.2.3.4"], "alias": alias})
            )),
            ["values"]
        );
        assert_eq!(
            check(base(serde_json::json!({"ttl": 60, "alias": alias}))),
            ["ttl"]
        );
        assert_eq!(
            check(base(
                serde_json::json!({"type": "cname", "values": ["a.test", "b.test"]})
            )),
            ["values"]
        );
        assert!(check(base(serde_json::json!({"alias": alias}))).is_empty());
    }
}
