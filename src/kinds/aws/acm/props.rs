//! The `aws.acm.certificate` kind's properties: what they mean, the checks
//! made before anything runs ([`KindProps::check`]), the names and zone
//! they ask for ([`Wanted`]) and the outputs the kind publishes.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::kinds::aws::route53::api::bare_zone_id;
use crate::kinds::aws::route53::dns_name::{certificate_name_problem, normalize_domain, reserved};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{KindError, OutputSpec, PropIssue};

/// A public ACM certificate validated by DNS, ready once ISSUED.
///
/// With `zone_id`, its validation CNAMEs are written into that Route53
/// zone (and removed with it). Rules: ACM API reference, RequestCertificate
/// (`DomainName` and each `SubjectAlternativeNames` entry 1-253 characters,
/// labels of at most 63, one leading `*.` at most) and the quota "Domain
/// names per ACM certificate" (10 by default); no name reserved by RFC
/// 2606/6761, which no public CA certifies.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CertificateProps {
    /// The certificate's domain, e.g. `acme.example.com` or `${zone.name}`
    /// (a leading `*.` makes it a wildcard).
    domain: String,
    /// Further names on the certificate, e.g. `[www.acme.example.com]`;
    /// default `[*.<domain>]` (`[]` for none).
    #[serde(default)]
    subject_alternative_names: Option<Vec<String>>,
    /// The Route53 zone to write the DNS validation CNAMEs into, e.g.
    /// `${zone.zone_id}`; absent: create the records of the
    /// `validation_records` output yourself.
    #[serde(default)]
    zone_id: Option<String>,
}

/// Names ACM puts on one certificate by default (quota "Domain names per
/// ACM certificate").
const MAX_NAMES: usize = 10;

impl KindProps for CertificateProps {
    /// Each literal name is one ACM certifies ([`certificate_name_problem`])
    /// and not reserved ([`reserved`]: no public CA certifies those, so the
    /// request could only fail or time out); at most [`MAX_NAMES`] names.
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        let mut name = |path: &[&str], raw: &str| {
            if is_ref(raw) {
                return;
            }
            if let Some(why) = certificate_name_problem(raw) {
                issues.push(PropIssue::new(
                    path,
                    format!("'{raw}' is not a name ACM certifies: {why}"),
                ));
            } else if let Some(why) = reserved(raw) {
                issues.push(PropIssue::new(
                    path,
                    format!(
                        "'{raw}' cannot get a public certificate: {why}; use a domain registered \
                         in the public DNS (ENVCTL_DOMAIN / --domain, ${{envctl.domain}})"
                    ),
                ));
            }
        };
        name(&["domain"], &self.domain);
        if let Some(list) = &self.subject_alternative_names {
            for (i, raw) in list.iter().enumerate() {
                name(&["subject_alternative_names", &i.to_string()], raw);
            }
            if list.len() + 1 > MAX_NAMES {
                issues.push(PropIssue::new(
                    &["subject_alternative_names"],
                    format!(
                        "{} names in one certificate; ACM allows {MAX_NAMES} by default (quota \
                         \"Domain names per ACM certificate\"): list at most {} here",
                        list.len() + 1,
                        MAX_NAMES - 1
                    ),
                ));
            }
        }
        issues
    }
}

pub(super) const NAME: &str = "aws.acm.certificate";

pub(super) static SCHEMA: LazyLock<PropSchema> =
    LazyLock::new(|| PropSchema::of::<CertificateProps>(NAME));

/// The names and zone of a certificate, normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Wanted {
    pub(super) domain: String,
    /// Sorted, without the domain itself.
    pub(super) sans: Vec<String>,
    pub(super) zone_id: Option<String>,
}

/// A certificate name: a domain, optionally with a leading `*.`.
fn normalize_cert_name(prop: &str, raw: &str) -> Result<String, KindError> {
    let t = raw.trim();
    match t.strip_prefix("*.") {
        Some(rest) => Ok(format!("*.{}", normalize_domain(prop, rest)?)),
        None => normalize_domain(prop, t),
    }
}

impl CertificateProps {
    pub(super) fn wanted(&self) -> Result<Wanted, KindError> {
        let domain = normalize_cert_name("domain", &self.domain)?;
        let sans = match &self.subject_alternative_names {
            Some(list) => list
                .iter()
                .map(|s| normalize_cert_name("subject_alternative_names", s))
                .collect::<Result<Vec<_>, _>>()?,
            None if domain.starts_with("*.") => Vec::new(),
            None => vec![format!("*.{domain}")],
        };
        let sans: BTreeSet<String> = sans.into_iter().filter(|s| *s != domain).collect();
        // ACM allows up to 10 names by default (quota "Domain names per ACM
        // certificate").
        if sans.len() + 1 > MAX_NAMES {
            return Err(KindError::Permanent(format!(
                "properties: {} names in one certificate; ACM allows {MAX_NAMES} by default",
                sans.len() + 1
            )));
        }
        let zone_id = self
            .zone_id
            .as_deref()
            .map(|z| bare_zone_id(z).to_string())
            .filter(|z| !z.is_empty());
        Ok(Wanted {
            domain,
            sans: sans.into_iter().collect(),
            zone_id,
        })
    }
}

pub(super) static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "the certificate ARN (for load balancer listeners)",
    },
    OutputSpec {
        name: "domain",
        secret: false,
        doc: "the certificate's domain",
    },
    OutputSpec {
        name: "zone_id",
        secret: false,
        doc: "the zone holding the validation records (empty without zone_id)",
    },
    OutputSpec {
        name: "validation_records",
        secret: false,
        doc: "the DNS validation CNAMEs, comma-separated name=value pairs",
    },
];

#[cfg(test)]
mod tests {
    use super::super::Certificate;
    use super::*;
    use crate::kinds::Kind;

    fn props(v: serde_json::Value) -> CertificateProps {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn names_default_to_the_wildcard_and_are_normalized() {
        let w =
            props(serde_json::json!({"domain": "Acme.Example.test.", "zone_id": "/hostedzone/Z1"}))
                .wanted()
                .unwrap();
        assert_eq!(w.domain, "acme.example.test");
        assert_eq!(w.sans, vec!["*.acme.example.test".to_string()]);
        assert_eq!(w.zone_id.as_deref(), Some("Z1"));
        let none = props(serde_json::json!({"domain": "a.test", "subject_alternative_names": []}))
            .wanted()
            .unwrap();
        assert!(none.sans.is_empty());
        let dup = props(serde_json::json!({
            "domain": "a.test", "subject_alternative_names": ["b.a.test", "A.test", "b.a.test"]
        }))
        .wanted()
        .unwrap();
        assert_eq!(dup.sans, vec!["b.a.test".to_string()]);
        let wild = props(serde_json::json!({"domain": "*.a.test"}))
            .wanted()
            .unwrap();
        assert!(wild.sans.is_empty());
        assert!(
            props(serde_json::json!({"domain": "not a name"}))
                .wanted()
                .is_err()
        );
        assert!(
            serde_json::from_value::<CertificateProps>(
                serde_json::json!({"domain": "a.test", "zone": "Z"})
            )
            .is_err()
        );
    }

    #[test]
    fn literal_names_break_acm_rules_or_reserved_domains_at_validation() {
        let check = |v: serde_json::Value| {
            Certificate
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| format!("{}: {}", i.path.join("."), i.message))
                .collect::<Vec<_>>()
        };
        assert!(check(serde_json::json!({"domain": "acme.envctl-demo.net"})).is_empty());
        assert!(check(serde_json::json!({"domain": "${zone.name}"})).is_empty());
        let m = check(serde_json::json!({"domain": "acme.example.test"}));
        assert!(
            m[0].starts_with("domain: 'acme.example.test' cannot get a public"),
            "{m:?}"
        );
        let m = check(serde_json::json!({
            "domain": "a.envctl-demo.net",
            "subject_alternative_names": ["*.*.envctl-demo.net", "www.example.com"]
        }));
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].starts_with("subject_alternative_names.0: "), "{m:?}");
        assert!(m[1].contains("RFC 2606"), "{m:?}");
        let many: Vec<String> = (0..10).map(|i| format!("s{i}.envctl-demo.net")).collect();
        let m = check(
            serde_json::json!({"domain": "a.envctl-demo.net", "subject_alternative_names": many}),
        );
        assert!(m[0].contains("11 names"), "{m:?}");
    }

    #[test]
    fn wrong_types_and_unknown_fields_are_refused_naming_the_field() {
        let check = |v: serde_json::Value| {
            Certificate
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| format!("{}: {}", i.path.join("."), i.message))
                .collect::<Vec<_>>()
        };
        let m = check(serde_json::json!({"domain": 5}));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("domain: must be a string"), "{m:?}");
        let m = check(serde_json::json!({
            "domain": "a.envctl-demo.net", "subject_alternative_names": "b.envctl-demo.net"
        }));
        assert!(
            m[0].starts_with("subject_alternative_names: must be a list"),
            "{m:?}"
        );
        let m = check(serde_json::json!({
            "domain": "a.envctl-demo.net", "subject_alternative_names": [true]
        }));
        assert!(
            m[0].starts_with("subject_alternative_names.0: must be a string"),
            "{m:?}"
        );
        // An unknown top-level property is stack validation's to word (with
        // its did-you-mean); the kind refuses it when called directly.
        let unknown = serde_json::json!({"domain": "a.envctl-demo.net", "zone": "Z1"});
        assert!(check(unknown.clone()).is_empty());
        let props = unknown.as_object().unwrap().clone();
        let err = SCHEMA
            .parse::<CertificateProps>(&props)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("zone"), "{err}");
        assert!(
            check(serde_json::json!({
                "domain": "${zone.name}", "subject_alternative_names": ["${x.y}"],
                "zone_id": "${zone.zone_id}"
            }))
            .is_empty()
        );
    }
}
