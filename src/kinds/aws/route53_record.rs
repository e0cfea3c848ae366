//! The `aws.route53.record` kind: one record set (simple routing) in a
//! hosted zone — plain values, or an alias to a load balancer — written with
//! UPSERT and ready once its change is INSYNC.
//!
//! Route53 records cannot be tagged, so each record carries an ownership
//! marker: a TXT record `<resource-id>._envctl-<tenant>.<zone>` written in
//! the same (atomic) change batch, holding the tenant, the resource, the
//! record's name and type, and the id of the change that wrote it. The
//! marker is what makes the kind safe and complete:
//! - apply refuses to take over an existing record that no marker of this
//!   resource claims (unless `allow_overwrite: true`), and removes the record
//!   it used to own when the name or type changes;
//! - delete removes only what the marker claims;
//! - a sweep finds the tenant's markers in the tenant's own zones and in the
//!   zones tagged `envctl:adopted=true` (zones envctl writes into without
//!   owning them), so a destroy after state loss removes records from
//!   adopted zones too. Records in zones the tenant created go with the
//!   zone in any case.
//!
//! Markers are public DNS data: they reveal the tenant and resource names.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, ChangeAction, ResourceRecord, ResourceRecordSet, RrType,
};
use schemars::JsonSchema;
use serde::Deserialize;

use super::dns_name::{dns_name, reversed_name};
use super::route53_zone::{
    ADOPTED_TAG, ZoneInfo, add_zone_tags, bare_zone_id, change, change_status, get_zone,
    record_set, record_sets_from, submit, zone_tags, zones_with_tags,
};
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::tags;

/// TTL of records given without one, and of markers.
const DEFAULT_TTL: i64 = 300;
/// Longest record name accepted (the marker repeats it in a 255-character
/// TXT string).
const MAX_NAME: usize = 240;
/// Record types that take plain values.
const VALUE_TYPES: &[&str] = &[
    "A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SPF", "SRV", "SSHFP",
    "SVCB", "TLSA", "TXT",
];
/// Record types that may be aliases.
const ALIAS_TYPES: &[&str] = &["A", "AAAA"];

pub struct Record;

/// The kind's name in stacks.
const NAME: &str = "aws.route53.record";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<RecordProps>(NAME));

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
struct RecordProps {
    /// The hosted zone, e.g. `${zone.zone_id}` (`/hostedzone/` prefix
    /// optional).
    zone_id: String,
    /// The record's name: relative to the zone (`app`, `*`, `@` for the
    /// apex) or a name in the zone (`app.acme.example.test`); at most 240
    /// characters in all.
    name: String,
    /// The record type, any case: A, AAAA, CAA, CNAME, DS, HTTPS, MX, NAPTR,
    /// NS, PTR, SPF, SRV, SSHFP, SVCB, TLSA or TXT; A or AAAA for an alias.
    #[serde(rename = "type")]
    record_type: String,
    /// Seconds resolvers may cache the record; default: 300. Not with
    /// `alias` (Route53 uses the target's).
    #[serde(default)]
    #[schemars(range(min = 0, max = 2_147_483_647))]
    ttl: Option<i64>,
    /// The record's values, e.g. `[10.0.0.1]` (exactly one for CNAME); TXT
    /// and SPF values are quoted for you and split into 255-character
    /// strings. Either `values` or `alias`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    values: Option<Vec<String>>,
    /// An alias to a load balancer (its DNS name and canonical hosted zone
    /// id), instead of `values`.
    #[serde(default)]
    alias: Option<AliasProps>,
    /// Take over a record of that name and type that envctl did not write
    /// (it is then deleted with this resource); default: false, such a
    /// record is an error.
    #[serde(default)]
    allow_overwrite: bool,
}

/// An alias target: a load balancer's DNS name and canonical hosted zone.
#[derive(Clone, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct AliasProps {
    /// The target's DNS name, e.g. `${lb.dns_name}`.
    dns_name: String,
    /// The target's canonical hosted zone id, e.g.
    /// `${lb.canonical_hosted_zone_id}`.
    hosted_zone_id: String,
    /// Answer only while the target is healthy; default: false.
    #[serde(default)]
    evaluate_target_health: bool,
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

static OUTPUTS: &[OutputSpec] = &[
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

fn permanent(what: &str, e: impl std::fmt::Display) -> KindError {
    KindError::Permanent(format!("{what}: {e}"))
}

// -------------------------------------------------------- the record ----

/// What the record should be.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Content {
    Values { ttl: i64, values: Vec<String> },
    Alias(AliasProps),
}

impl RecordProps {
    fn record_type(&self) -> Result<String, KindError> {
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

    fn content(&self, rtype: &str) -> Result<Content, KindError> {
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
fn resolve_name(name: &str, zone: &str) -> Result<String, KindError> {
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
fn record_set_of(
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
fn same_content(existing: &ResourceRecordSet, content: &Content) -> bool {
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

// ---------------------------------------------------------- markers ----

/// The ownership marker of one record resource.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Marker {
    tenant: String,
    resource: String,
    managed: bool,
    /// The owned record's full name, no trailing dot.
    name: String,
    rtype: String,
    /// The change that wrote the record; absent while a write is under way.
    change: Option<String>,
}

/// `_envctl-<tenant>.<zone>`: the parent of every marker of a tenant in a
/// zone (labels keep tenant and resource apart: both may contain '-').
fn marker_parent(tenant: &str, zone: &str) -> String {
    format!("_envctl-{tenant}.{zone}")
}

fn marker_name(cx: &Cx, zone: &str) -> String {
    format!(
        "{}.{}",
        cx.resource_id,
        marker_parent(cx.tenant.as_str(), zone)
    )
}

impl Marker {
    fn value(&self) -> String {
        let mut fields = vec![
            "heritage=envctl".to_string(),
            format!("{}={}", tags::TENANT, self.tenant),
            format!("{}={}", tags::RESOURCE, self.resource),
            format!("{}={}", tags::MANAGED, self.managed),
            format!("name={}", self.name),
            format!("type={}", self.rtype),
        ];
        if let Some(c) = &self.change {
            fields.push(format!("change={c}"));
        }
        fields
            .iter()
            .map(|f| format!("\"{f}\""))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads a marker value; `None` when it is not one of envctl's.
    fn parse(value: &str) -> Option<Marker> {
        let mut fields = BTreeMap::new();
        for part in value.split('"') {
            if let Some((k, v)) = part.split_once('=') {
                fields.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        if fields.get("heritage").map(String::as_str) != Some("envctl") {
            return None;
        }
        Some(Marker {
            tenant: fields.remove(tags::TENANT)?,
            resource: fields.remove(tags::RESOURCE)?,
            managed: fields.get(tags::MANAGED).map(String::as_str) == Some("true"),
            name: dns_name(&fields.remove("name")?),
            rtype: fields.remove("type")?.to_ascii_uppercase(),
            change: fields.remove("change").filter(|c| !c.is_empty()),
        })
    }

    fn from_set(set: &ResourceRecordSet) -> Option<Marker> {
        if set.r#type() != &RrType::Txt {
            return None;
        }
        set.resource_records()
            .iter()
            .find_map(|r| Marker::parse(r.value()))
    }

    fn record_set(&self, name: &str) -> Result<ResourceRecordSet, KindError> {
        ResourceRecordSet::builder()
            .name(format!("{name}."))
            .r#type(RrType::Txt)
            .ttl(DEFAULT_TTL)
            .resource_records(
                ResourceRecord::builder()
                    .value(self.value())
                    .build()
                    .map_err(|e| permanent("marker value", e))?,
            )
            .build()
            .map_err(|e| permanent("marker", e))
    }
}

/// This resource's marker in a zone (the set as listed, and what it says),
/// if there is one of this tenant and resource.
async fn our_marker(
    cx: &Cx,
    zone: &ZoneInfo,
) -> Result<Option<(ResourceRecordSet, Marker)>, KindError> {
    let r53 = &cx.backends.aws.route53;
    let name = marker_name(cx, &zone.name);
    let Some(set) = record_set(r53, &zone.id, &name, &RrType::Txt).await? else {
        return Ok(None);
    };
    Ok(Marker::from_set(&set)
        .filter(|m| m.tenant == cx.tenant.as_str() && m.resource == cx.resource_id)
        .map(|m| (set, m)))
}

fn outputs(fqdn: &str, change_id: &str, zone_id: &str, rtype: &str) -> Outputs {
    Outputs::new()
        .plain("fqdn", fqdn)
        .plain("change_id", change_id)
        .plain("zone_id", zone_id)
        .plain("type", rtype)
}

/// Makes sure the zone is usable by this tenant, and findable by a sweep
/// when the tenant does not own it (the neutral adopted tag).
async fn check_zone(cx: &Cx, zone: &ZoneInfo) -> Result<(), KindError> {
    let r53 = &cx.backends.aws.route53;
    let t = zone_tags(r53, &zone.id).await?;
    match t.get(tags::TENANT) {
        Some(owner) if owner != cx.tenant.as_str() => Err(KindError::Permanent(format!(
            "hosted zone {} ({}) belongs to tenant '{owner}' (tag {}); refusing to write \
             records into it",
            zone.name,
            zone.id,
            tags::TENANT
        ))),
        Some(_) => Ok(()),
        None if t.get(ADOPTED_TAG).map(String::as_str) == Some("true") => Ok(()),
        None => add_zone_tags(r53, &zone.id, &[(ADOPTED_TAG.into(), "true".into())]).await,
    }
}

#[async_trait]
impl Kind for Record {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "route53"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// "Changes generally propagate to all Route 53 name servers within 60
    /// seconds" (Route 53 Developer Guide, "Editing records"); `ready` waits
    /// for the change to be INSYNC (GetChange).
    fn expected(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(10 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: RecordProps = parse_props(props)?;
        let rtype = p.record_type()?;
        let content = p.content(&rtype)?;
        let r53 = &cx.backends.aws.route53;
        let zone_id = bare_zone_id(&p.zone_id).to_string();
        let zone = get_zone(r53, &zone_id).await?.ok_or_else(|| {
            KindError::Permanent(format!(
                "hosted zone {zone_id} does not exist; check zone_id (e.g. ${{zone.zone_id}})"
            ))
        })?;
        let fqdn = resolve_name(&p.name, &zone.name)?;
        if fqdn == zone.name && matches!(rtype.as_str(), "NS" | "SOA") {
            return Err(KindError::Permanent(format!(
                "properties: the {rtype} record of the zone apex belongs to Route53; use a \
                 subdomain name"
            )));
        }
        check_zone(cx, &zone).await?;

        let rrtype = RrType::from(rtype.as_str());
        let marker = our_marker(cx, &zone).await?;
        let existing = record_set(r53, &zone.id, &fqdn, &rrtype).await?;
        let claimed = marker
            .as_ref()
            .is_some_and(|(_, m)| m.name == fqdn && m.rtype == rtype);
        if existing.is_some() && !claimed && !p.allow_overwrite {
            return Err(KindError::Permanent(format!(
                "record {fqdn} {rtype} already exists and envctl did not write it for this \
                 resource; set 'allow_overwrite: true' to take it over (it is then deleted with \
                 this resource), or remove it"
            )));
        }
        // The record this resource owned before its name or type changed.
        let previous = match &marker {
            Some((_, m)) if !claimed => {
                record_set(r53, &zone.id, &m.name, &RrType::from(m.rtype.as_str())).await?
            }
            _ => None,
        };
        if let (Some(set), Some((_, m)), None) = (&existing, &marker, &previous)
            && claimed
            && same_content(set, &content)
            && let Some(change_id) = &m.change
        {
            return Ok(outputs(&fqdn, change_id, &zone.id, &rtype));
        }

        let mut new_marker = Marker {
            tenant: cx.tenant.to_string(),
            resource: cx.resource_id.clone(),
            managed: true,
            name: fqdn.clone(),
            rtype: rtype.clone(),
            change: None,
        };
        let marker_at = marker_name(cx, &zone.name);
        let mut changes = Vec::new();
        if let Some(old) = previous {
            changes.push(change(ChangeAction::Delete, old)?);
        }
        changes.push(change(
            ChangeAction::Upsert,
            record_set_of(&fqdn, &rtype, &content)?,
        )?);
        changes.push(change(
            ChangeAction::Upsert,
            new_marker.record_set(&marker_at)?,
        )?);
        let comment = format!("envctl tenant {} resource {}", cx.tenant, cx.resource_id);
        let change_id = submit(r53, &zone.id, changes, &comment, false).await?;
        // Remember the change in the marker, so that a rerun that finds the
        // record as wanted gives the same outputs and waits for the same
        // change.
        new_marker.change = Some(change_id.clone());
        submit(
            r53,
            &zone.id,
            vec![change(
                ChangeAction::Upsert,
                new_marker.record_set(&marker_at)?,
            )?],
            &comment,
            false,
        )
        .await?;
        Ok(outputs(&fqdn, &change_id, &zone.id, &rtype))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        change_status(&cx.backends.aws.route53, out.require("change_id")?).await
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let zone_id = out.require("zone_id")?;
        let r53 = &cx.backends.aws.route53;
        let Some(zone) = get_zone(r53, zone_id).await? else {
            // Its records went with it.
            return Ok(());
        };
        // Only what the marker claims is ours; without a marker there is
        // nothing this resource can prove it wrote.
        let Some((marker_set, m)) = our_marker(cx, &zone).await? else {
            return Ok(());
        };
        let mut changes = Vec::new();
        if let Some(set) =
            record_set(r53, &zone.id, &m.name, &RrType::from(m.rtype.as_str())).await?
        {
            changes.push(change(ChangeAction::Delete, set)?);
        }
        changes.push(change(ChangeAction::Delete, marker_set)?);
        let comment = format!("envctl tenant {} resource {}", cx.tenant, cx.resource_id);
        submit(r53, &zone.id, changes, &comment, true).await?;
        Ok(())
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let r53 = &cx.backends.aws.route53;
        let tenant = cx.tenant.as_str();
        let mut found = Vec::new();
        for (zone, t) in zones_with_tags(r53).await? {
            let ours = t.get(tags::TENANT).map(String::as_str) == Some(tenant)
                && t.get(tags::MANAGED).map(String::as_str) == Some("true");
            let adopted = t.get(ADOPTED_TAG).map(String::as_str) == Some("true");
            if !ours && !adopted {
                continue;
            }
            let parent = marker_parent(tenant, &zone.name);
            let suffix = format!(".{parent}");
            let sets = match record_sets_from(r53, &zone.id, &parent, &reversed_name(&parent)).await
            {
                Ok(sets) => sets,
                // Deleted since it was listed (by its owner, or by the
                // zone kind's delete): nothing of ours is left in it.
                Err(e) if e.is_transient() && get_zone(r53, &zone.id).await?.is_none() => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            for set in sets {
                let name = dns_name(set.name());
                let Some(label) = name.strip_suffix(&suffix) else {
                    continue;
                };
                let Some(m) = Marker::from_set(&set) else {
                    continue;
                };
                if m.tenant != tenant || !m.managed || m.resource != label {
                    continue;
                }
                found.push(Found {
                    resource_id: m.resource.clone(),
                    outputs: outputs(
                        &m.name,
                        m.change.as_deref().unwrap_or(""),
                        &zone.id,
                        &m.rtype,
                    ),
                });
            }
        }
        Ok(found)
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

    #[test]
    fn markers_round_trip() {
        let m = Marker {
            tenant: "acme".into(),
            resource: "app".into(),
            managed: true,
            name: "app.acme.example.test".into(),
            rtype: "CNAME".into(),
            change: Some("C123".into()),
        };
        assert_eq!(Marker::parse(&m.value()), Some(m.clone()));
        let pending = Marker { change: None, ..m };
        assert_eq!(Marker::parse(&pending.value()), Some(pending));
        assert_eq!(Marker::parse("\"v=spf1 -all\""), None);
        assert_eq!(
            marker_parent("acme", "acme.example.test"),
            "_envctl-acme.acme.example.test"
        );
    }

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
