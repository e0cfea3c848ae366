//! The stack-wide rule for names that need a public certificate: an
//! `aws.acm.certificate` — and every `aws.route53.zone` whose name it
//! certifies or whose zone validates it — must not be, or be under, a domain
//! reserved by RFC 2606 / RFC 6761 (`.test`, `.example`, `.invalid`,
//! `.localhost`, `example.com/net/org`): no public certificate authority
//! issues for them, so ACM would wait in PENDING_VALIDATION until it gives
//! up. Checked at load, after the built-ins are substituted. The
//! certificate's own literal names (and, once resolved, referenced ones) are
//! the certificate kind's `check`.

use std::collections::BTreeSet;

use super::load::{Problem, Seg};
use super::model::Stack;
use super::refs;
use super::validate::At;
use crate::kinds::aws::route53::dns_name::reserved;

pub const CERTIFICATE_KIND: &str = "aws.acm.certificate";
pub const ZONE_KIND: &str = "aws.route53.zone";
/// Certificate properties holding names or the validating zone.
const CERT_PROPS: &[&str] = &["domain", "subject_alternative_names", "zone_id"];
/// Zone properties a zone's name comes from.
const ZONE_PROPS: &[&str] = &["domain", "subdomain_of"];

const FIX: &str = "use a domain registered in the public DNS whose hosted zone is in this AWS \
                   account (set ENVCTL_DOMAIN or --domain and write ${envctl.domain})";

fn strings(v: &serde_json::Value) -> Vec<&str> {
    match v {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(items) => items.iter().filter_map(|i| i.as_str()).collect(),
        _ => Vec::new(),
    }
}

fn subject(stack: &Stack, i: usize) -> String {
    match stack.resources[i].id.as_str() {
        "" => format!("resource #{}", i + 1),
        id => format!("resource '{id}'"),
    }
}

/// Every reserved name a certificate of `stack` would need.
pub(crate) fn check(stack: &Stack, at: &At) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut zones_reported = BTreeSet::new();
    for (c, cert) in stack.resources.iter().enumerate() {
        if cert.kind != CERTIFICATE_KIND {
            continue;
        }
        for prop in CERT_PROPS {
            let Some(value) = cert.properties.get(*prop) else {
                continue;
            };
            for s in strings(value) {
                let Ok(found) = refs::references(&serde_json::Value::String(s.to_string())) else {
                    continue;
                };
                for r in found {
                    let Some(z) = stack.resources.iter().position(|x| x.id == r.resource) else {
                        continue;
                    };
                    let zone = &stack.resources[z];
                    if zone.kind != ZONE_KIND {
                        continue;
                    }
                    for zprop in ZONE_PROPS {
                        let Some(name) = zone
                            .properties
                            .get(*zprop)
                            .and_then(|v| v.as_str())
                            .filter(|v| !v.contains("${"))
                        else {
                            continue;
                        };
                        let Some(why) = reserved(name) else {
                            continue;
                        };
                        if !zones_reported.insert((z, *zprop)) {
                            continue;
                        }
                        let line = at(Some(z), &[Seg::Key("properties"), Seg::Key(zprop)]);
                        problems.push(Problem::new(
                            if line == 0 { zone.line } else { line },
                            Some(subject(stack, z)),
                            format!(
                                "property '{zprop}': '{name}' cannot get a public certificate \
                                 ({} requests one for this zone): {why}; {FIX}",
                                subject(stack, c)
                            ),
                        ));
                    }
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::model::Resource;
    use serde_json::json;

    fn res(id: &str, kind: &str, props: serde_json::Value, line: usize) -> Resource {
        Resource {
            id: id.into(),
            kind: kind.into(),
            properties: props.as_object().unwrap().clone(),
            depends_on: vec![],
            wait_for: vec![],
            publish: vec![],
            pool: None,
            line,
        }
    }

    fn stack(resources: Vec<Resource>) -> Stack {
        Stack {
            path: "s.yaml".into(),
            name: "s".into(),
            environment: "dev".into(),
            budget: std::time::Duration::from_secs(60),
            ttl: None,
            expected: Default::default(),
            timeouts: Default::default(),
            limits: Default::default(),
            hibernate: None,
            resources,
        }
    }

    fn lines(s: &Stack) -> Vec<String> {
        let at = |i: Option<usize>, _: &[Seg]| i.map_or(0, |i| s.resources[i].line);
        check(s, &at)
            .into_iter()
            .map(|p| {
                format!(
                    "{}: {}: {}",
                    p.line,
                    p.subject.unwrap_or_default(),
                    p.message
                )
            })
            .collect()
    }

    #[test]
    fn a_zone_under_a_reserved_domain_that_a_certificate_uses_is_refused_at_its_line() {
        let s = stack(vec![
            res(
                "zone",
                ZONE_KIND,
                json!({"subdomain_of": "example.test"}),
                3,
            ),
            res(
                "certificate",
                CERTIFICATE_KIND,
                json!({"domain": "${zone.name}", "zone_id": "${zone.zone_id}"}),
                9,
            ),
        ]);
        let m = lines(&s);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("3: resource 'zone': property 'subdomain_of': 'example.test'"));
        assert!(m[0].contains("RFC 6761"), "{}", m[0]);
        assert!(
            m[0].contains("resource 'certificate' requests one"),
            "{}",
            m[0]
        );
        assert!(m[0].contains("ENVCTL_DOMAIN"), "{}", m[0]);
    }

    #[test]
    fn real_domains_and_zones_no_certificate_uses_pass() {
        let s = stack(vec![
            res(
                "zone",
                ZONE_KIND,
                json!({"subdomain_of": "envs.mycompany.com"}),
                3,
            ),
            res("lab", ZONE_KIND, json!({"domain": "lab.example.test"}), 5),
            res(
                "certificate",
                CERTIFICATE_KIND,
                json!({"domain": "${zone.name}", "zone_id": "${zone.zone_id}"}),
                9,
            ),
        ]);
        assert!(lines(&s).is_empty());
    }
}
