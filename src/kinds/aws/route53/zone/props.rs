//! The `aws.route53.zone` kind's properties: what they mean, the checks
//! made before anything runs ([`KindProps::check`]), the zone name and
//! parent they give, and the outputs the kind publishes.

use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use super::super::delegation::looks_like_zone_id;
use super::super::dns_name::{MAX_NAME, domain_problem, normalize_domain, parent_of};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{KindError, OutputSpec, PropIssue, Props, parse_props};
use crate::tenant::TenantName;

/// A public Route53 hosted zone per tenant resource, delegated from its
/// parent zone; or an existing zone used with `adopt: true` (never deleted).
///
/// The zone is `domain`, or `<tenant>.<subdomain_of>`. Names: Route 53
/// Developer Guide, "DNS domain name format" (labels of 1-63 characters,
/// names of at most 253; a tenant name of up to 40 characters and a dot goes
/// in front of `subdomain_of`). A zone envctl creates writes its NS record
/// into the parent zone and removes it on destroy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ZoneProps {
    /// The zone's domain, e.g. `acme.example.com` (required unless
    /// subdomain_of is set).
    #[serde(default)]
    domain: Option<String>,
    /// A parent domain, e.g. `${envctl.domain}`: the zone is
    /// `<tenant>.<domain>` (stacks have no tenant interpolation; use this
    /// instead of domain for a zone per tenant).
    #[serde(default)]
    subdomain_of: Option<String>,
    /// `true`: when a public hosted zone of that name exists that envctl did
    /// not create, use it and never delete it; when none exists, create one
    /// (deleted as usual). Default false: an existing foreign zone of that
    /// name is an error.
    #[serde(default)]
    pub(super) adopt: bool,
    /// The public hosted zone (id, e.g. `Z0123456789ABC`, or name) of this
    /// account that the zone is delegated from: envctl writes the zone's NS
    /// record there and removes it on destroy. Default: the zone of
    /// subdomain_of, else of the domain's parent.
    #[serde(default)]
    parent_zone: Option<String>,
    /// `true`: the domain is delegated by hand (at a registrar or from
    /// another account); envctl writes no NS record. Default false.
    #[serde(default)]
    delegated: bool,
}

/// Route 53 Developer Guide, "DNS domain name format": labels of 1-63
/// characters, names of at most 253; a tenant name (up to 40 characters and
/// a dot) goes in front of `subdomain_of`.
impl KindProps for ZoneProps {
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        // Exactly one of the two names the zone (see `zone_name`); checked
        // here too so that a stack with both or neither exits 2 at load.
        // A rule across two properties: no path (either may be a reference).
        match (&self.domain, &self.subdomain_of) {
            (Some(_), Some(_)) => issues.push(PropIssue::new(
                &[],
                "set either 'domain' or 'subdomain_of', not both: remove one",
            )),
            (None, None) => issues.push(PropIssue::new(
                &[],
                "'domain' (e.g. acme.example.com) or 'subdomain_of' (e.g. ${envctl.domain}, \
                 which gives <tenant>.<domain>) is required: add one",
            )),
            _ => {}
        }
        let mut name = |prop: &str, value: &Option<String>, room: usize| {
            let Some(raw) = value.as_deref().filter(|v| !is_ref(v)) else {
                return;
            };
            let n = raw.trim().trim_end_matches('.').to_ascii_lowercase();
            if let Some(why) = domain_problem(&n) {
                issues.push(PropIssue::new(
                    &[prop],
                    format!("'{raw}' is not a domain name Route 53 hosts: {why}"),
                ));
            } else if n.len() + room > MAX_NAME {
                issues.push(PropIssue::new(
                    &[prop],
                    format!(
                        "'{raw}' leaves no room for the tenant name: <tenant>.{n} may reach \
                         {} characters, Route 53 allows {MAX_NAME}; use a shorter domain",
                        n.len() + room
                    ),
                ));
            }
        };
        name("domain", &self.domain, 0);
        name(
            "subdomain_of",
            &self.subdomain_of,
            crate::tenant::MAX_TENANT_LEN + 1,
        );
        if let Some(raw) = self.parent_zone.as_deref().filter(|v| !is_ref(v))
            && !looks_like_zone_id(raw)
            && let Some(why) =
                domain_problem(&raw.trim().trim_end_matches('.').to_ascii_lowercase())
        {
            issues.push(PropIssue::new(
                &["parent_zone"],
                format!("'{raw}' is neither a hosted zone id (Z...) nor a domain name: {why}"),
            ));
        }
        issues
    }
}

pub(super) const NAME: &str = "aws.route53.zone";

pub(super) static SCHEMA: LazyLock<PropSchema> =
    LazyLock::new(|| PropSchema::of::<ZoneProps>(NAME));

impl ZoneProps {
    pub(super) fn zone_name(&self, tenant: &TenantName) -> Result<String, KindError> {
        match (&self.domain, &self.subdomain_of) {
            (Some(d), None) => normalize_domain("domain", d),
            (None, Some(parent)) => {
                let parent = normalize_domain("subdomain_of", parent)?;
                normalize_domain("subdomain_of", &format!("{tenant}.{parent}"))
            }
            (Some(_), Some(_)) => Err(KindError::Permanent(
                "properties: set either 'domain' or 'subdomain_of', not both".into(),
            )),
            (None, None) => Err(KindError::Permanent(
                "properties: 'domain' (e.g. acme.example.com) or 'subdomain_of' (e.g. \
                 ${envctl.domain}, which gives <tenant>.<domain>) is required"
                    .into(),
            )),
        }
    }

    /// The zone to write the delegation into: `parent_zone`, else the
    /// `subdomain_of` domain, else the zone name's parent domain; `None`
    /// with `delegated: true` (delegated by hand).
    pub(super) fn parent_spec(&self, zone_name: &str) -> Option<String> {
        if self.delegated {
            return None;
        }
        if let Some(p) = self
            .parent_zone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            return Some(p.to_string());
        }
        if let Some(p) = &self.subdomain_of {
            return Some(p.trim().trim_end_matches('.').to_ascii_lowercase());
        }
        parent_of(zone_name).map(str::to_string)
    }
}

/// The parent zone (id or name) a zone resource with these properties will
/// write its delegation into, if it delegates itself: for preflight, which
/// checks that the parent is there before anything is created. `None` for an
/// adopted zone, one delegated by hand, or properties still holding
/// references.
pub fn parent_zone_check(props: &Props) -> Option<String> {
    let p: ZoneProps = parse_props(props).ok()?;
    if p.adopt {
        return None;
    }
    let zone = p
        .domain
        .as_deref()
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    p.parent_spec(&zone)
        .filter(|s| !s.is_empty() && !s.contains("${"))
}

pub(super) static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "zone_id",
        secret: false,
        doc: "the hosted zone id, e.g. Z0123456789ABCDEFGHIJ",
    },
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the zone's domain, without the trailing dot",
    },
    OutputSpec {
        name: "name_servers",
        secret: false,
        doc: "the zone's name servers, comma-separated (delegate the domain to them)",
    },
    OutputSpec {
        name: "parent_zone_id",
        secret: false,
        doc: "the zone holding the delegation (empty when delegated by hand or adopted)",
    },
    OutputSpec {
        name: "adopted",
        secret: false,
        doc: "\"true\" when the zone was adopted (delete leaves it alone), else \"false\"",
    },
];

#[cfg(test)]
mod tests {
    use super::super::Zone;
    use super::*;
    use crate::kinds::Kind;

    #[test]
    fn zone_name_from_domain_or_parent() {
        let t = TenantName::parse("acme").unwrap();
        let p = |v: serde_json::Value| -> ZoneProps { serde_json::from_value(v).unwrap() };
        assert_eq!(
            p(serde_json::json!({"domain": "x.example.test"}))
                .zone_name(&t)
                .unwrap(),
            "x.example.test"
        );
        assert_eq!(
            p(serde_json::json!({"subdomain_of": "Example.test."}))
                .zone_name(&t)
                .unwrap(),
            "acme.example.test"
        );
        assert!(p(serde_json::json!({})).zone_name(&t).is_err());
        assert!(
            p(serde_json::json!({"domain": "a.test", "subdomain_of": "test.x"}))
                .zone_name(&t)
                .is_err()
        );
        assert!(serde_json::from_value::<ZoneProps>(serde_json::json!({"domian": "a.b"})).is_err());
    }

    #[test]
    fn check_names_the_field_of_a_wrong_type_or_bad_name() {
        let check = |v: serde_json::Value| Zone.check(v.as_object().unwrap());
        let issues = check(serde_json::json!({"domain": "acme.example.com", "adopt": "yes"}));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, ["adopt"]);
        assert!(issues[0].message.contains("true or false"), "{issues:?}");
        let issues = check(serde_json::json!({"domain": "acme"}));
        assert_eq!(issues[0].path, ["domain"], "{issues:?}");
        assert!(issues[0].message.contains("two labels"), "{issues:?}");
        let issues =
            check(serde_json::json!({"subdomain_of": "${envctl.domain}", "parent_zone": "x"}));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, ["parent_zone"], "{issues:?}");
        assert!(check(serde_json::json!({"subdomain_of": "${envctl.domain}"})).is_empty());
    }

    #[test]
    fn check_wants_exactly_one_of_domain_and_subdomain_of() {
        let check = |v: serde_json::Value| Zone.check(v.as_object().unwrap());
        let both = check(serde_json::json!({"domain": "a.test", "subdomain_of": "${x.y}"}));
        assert_eq!(both.len(), 1, "{both:?}");
        assert!(both[0].path.is_empty());
        assert!(
            both[0].sentence().starts_with("properties: set either"),
            "{both:?}"
        );
        assert!(both[0].message.contains("not both"), "{both:?}");
        let neither = check(serde_json::json!({"delegated": false}));
        assert_eq!(neither.len(), 1, "{neither:?}");
        assert!(neither[0].path.is_empty());
        assert!(neither[0].message.contains("is required"), "{neither:?}");
    }
}
