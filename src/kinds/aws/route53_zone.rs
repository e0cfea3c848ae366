//! The `aws.route53.zone` kind: a public Route53 hosted zone per tenant
//! resource (created, tagged, emptied and deleted), or an existing zone used
//! with `adopt: true` (never deleted) — plus the Route53 helpers that the
//! record and certificate kinds share.
//!
//! Ownership: a zone is this tenant's when it carries the tenant tag, or —
//! when a run crashed between CreateHostedZone and tagging — when its
//! CallerReference starts with `envctl/<tenant>/`. Route53 never accepts a
//! CallerReference twice, not even after the zone is deleted, so references
//! are `envctl/<tenant>/<id>/<yyyymmdd>/<n>`: stable while one day's retries
//! run, fresh for a tenant that is destroyed and created again.
//!
//! An adopted zone is never tagged with the tenant (several tenants may
//! adopt one shared zone); it gets the neutral tag `envctl:adopted=true`,
//! which lets the record kind's sweep look for its ownership markers there.
//!
//! A zone it creates delegates itself (see [`super::route53_delegation`]):
//! apply UPSERTs the zone's NS record set into the parent zone (`parent_zone`,
//! by default the zone of `subdomain_of` or of the domain's parent) and
//! waits for that change to be INSYNC; delete removes the NS record
//! before the zone, so no delegation is left dangling. The parent's id is
//! kept as an output and as the tag `envctl:parent-zone`, so that a sweep
//! after state loss finds it (else it is looked for by name).

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, HostedZoneConfig, ResourceRecordSet, RrType,
    Tag, TagResourceType,
};
use schemars::JsonSchema;
use serde::Deserialize;

use super::classify;
use super::dns_name::{
    MAX_NAME, dns_name, domain_problem, normalize_domain, parent_of, reversed_name,
};
use super::route53_delegation::{
    delegate, delegate_first, find_delegating_parent, find_parent, looks_like_zone_id, undelegate,
};
use super::tags::tag_map;
use super::wait::poll_until;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::{TenantName, tags};

/// Tag on a zone envctl uses but does not own (adopted by a zone resource,
/// or written into by a record resource). It never makes a zone deletable.
pub const ADOPTED_TAG: &str = "envctl:adopted";
/// Tag on a zone envctl created: the id of the parent zone holding its
/// delegation (what a sweep after state loss removes first).
pub const PARENT_TAG: &str = "envctl:parent-zone";
/// CreateHostedZone attempts with successive references in one apply.
const REFERENCE_PROBES: u32 = 50;
/// Record sets per ChangeResourceRecordSets call when emptying a zone
/// (the API takes up to 1,000 records and 32,000 characters of values).
const DELETE_BATCH: usize = 100;
/// How long apply waits for the delegation change to be INSYNC.
const DELEGATION_INSYNC: Duration = Duration::from_secs(4 * 60);
/// ListTagsForResources takes at most 10 resource ids.
const TAGS_BATCH: usize = 10;

pub struct Zone;

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
struct ZoneProps {
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
    adopt: bool,
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

const NAME: &str = "aws.route53.zone";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<ZoneProps>(NAME));

impl ZoneProps {
    fn zone_name(&self, tenant: &TenantName) -> Result<String, KindError> {
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
    fn parent_spec(&self, zone_name: &str) -> Option<String> {
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

static OUTPUTS: &[OutputSpec] = &[
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

// ------------------------------------------------------------ helpers ----

fn permanent(what: &str, e: impl std::fmt::Display) -> KindError {
    KindError::Permanent(format!("{what}: {e}"))
}

/// A zone id without the `/hostedzone/` prefix.
pub(crate) fn bare_zone_id(id: &str) -> &str {
    id.trim().trim_start_matches("/hostedzone/")
}

/// A change id without the `/change/` prefix.
pub(crate) fn bare_change_id(id: &str) -> &str {
    id.trim().trim_start_matches("/change/")
}

/// What envctl needs to know of a hosted zone.
#[derive(Clone, Debug)]
pub(crate) struct ZoneInfo {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// Normalized, see [`dns_name`].
    pub name: String,
    pub caller_reference: String,
    pub private: bool,
    pub name_servers: Vec<String>,
}

impl ZoneInfo {
    fn from_zone(z: &aws_sdk_route53::types::HostedZone) -> Self {
        ZoneInfo {
            id: bare_zone_id(z.id()).to_string(),
            name: dns_name(z.name()),
            caller_reference: z.caller_reference().to_string(),
            private: z.config().is_some_and(|c| c.private_zone()),
            name_servers: Vec::new(),
        }
    }
}

/// GetHostedZone; `None` when the zone does not exist.
pub(crate) async fn get_zone(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
) -> Result<Option<ZoneInfo>, KindError> {
    let id = bare_zone_id(zone_id);
    match r53.get_hosted_zone().id(id).send().await {
        Ok(out) => {
            let Some(z) = out.hosted_zone() else {
                return Err(KindError::Transient(format!(
                    "GetHostedZone {id}: the answer has no hosted zone"
                )));
            };
            let mut info = ZoneInfo::from_zone(z);
            info.name_servers = out
                .delegation_set()
                .map(|d| d.name_servers().to_vec())
                .unwrap_or_default();
            Ok(Some(info))
        }
        Err(e) if e.code() == Some("NoSuchHostedZone") => Ok(None),
        Err(e) => Err(classify(&format!("GetHostedZone {id}"), e)),
    }
}

/// The tags of a zone (empty when it has none or is gone).
pub(crate) async fn zone_tags(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
) -> Result<BTreeMap<String, String>, KindError> {
    let id = bare_zone_id(zone_id);
    match r53
        .list_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .resource_tag_set()
            .map(|s| tag_map(s.tags()))
            .unwrap_or_default()),
        Err(e) if e.code() == Some("NoSuchHostedZone") => Ok(BTreeMap::new()),
        Err(e) => Err(classify(&format!("ListTagsForResource {id}"), e)),
    }
}

/// Adds (or overwrites) tags on a zone.
pub(crate) async fn add_zone_tags(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
    pairs: &[(String, String)],
) -> Result<(), KindError> {
    let id = bare_zone_id(zone_id);
    // ChangeTagsForResource takes at most 10 tags per call.
    for chunk in pairs.chunks(10) {
        let add: Vec<Tag> = chunk
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        r53.change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(id)
            .set_add_tags(Some(add))
            .send()
            .await
            .map_err(|e| {
                if e.code() == Some("NoSuchHostedZone") {
                    KindError::Transient(format!(
                        "ChangeTagsForResource {id}: the zone is not visible yet"
                    ))
                } else {
                    classify(&format!("ChangeTagsForResource {id}"), e)
                }
            })?;
    }
    Ok(())
}

/// Every public hosted zone of the account with its tags (ListHostedZones,
/// then ListTagsForResources ten zones at a time).
pub(crate) async fn zones_with_tags(
    r53: &aws_sdk_route53::Client,
) -> Result<Vec<(ZoneInfo, BTreeMap<String, String>)>, KindError> {
    let mut zones = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = r53
            .list_hosted_zones()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| classify("ListHostedZones", e))?;
        zones.extend(
            page.hosted_zones()
                .iter()
                .map(ZoneInfo::from_zone)
                .filter(|z| !z.private),
        );
        match page.next_marker() {
            Some(m) if page.is_truncated() && !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    let mut tagged = Vec::with_capacity(zones.len());
    for chunk in zones.chunks(TAGS_BATCH) {
        let ids: Vec<String> = chunk.iter().map(|z| z.id.clone()).collect();
        let out = match r53
            .list_tags_for_resources()
            .resource_type(TagResourceType::Hostedzone)
            .set_resource_ids(Some(ids))
            .send()
            .await
        {
            Ok(out) => out,
            // A zone of the batch was deleted since it was listed: ask zone
            // by zone (a zone that is gone has no tags).
            Err(e) if matches!(e.code(), Some("NoSuchHostedZone" | "InvalidInput")) => {
                for z in chunk {
                    tagged.push((z.clone(), zone_tags(r53, &z.id).await?));
                }
                continue;
            }
            Err(e) => return Err(classify("ListTagsForResources", e)),
        };
        let mut by_id: BTreeMap<String, BTreeMap<String, String>> = out
            .resource_tag_sets()
            .iter()
            .filter_map(|s| {
                Some((
                    bare_zone_id(s.resource_id()?).to_string(),
                    tag_map(s.tags()),
                ))
            })
            .collect();
        for z in chunk {
            let t = by_id.remove(&z.id).unwrap_or_default();
            tagged.push((z.clone(), t));
        }
    }
    Ok(tagged)
}

/// The public hosted zones named `name` (Route53 allows several).
pub(crate) async fn zones_named(
    r53: &aws_sdk_route53::Client,
    name: &str,
) -> Result<Vec<ZoneInfo>, KindError> {
    let mut found = Vec::new();
    let mut start_id: Option<String> = None;
    loop {
        let page = r53
            .list_hosted_zones_by_name()
            .dns_name(name)
            .set_hosted_zone_id(start_id.take())
            .max_items(100)
            .send()
            .await
            .map_err(|e| classify(&format!("ListHostedZonesByName {name}"), e))?;
        let mut past = false;
        for z in page.hosted_zones() {
            let info = ZoneInfo::from_zone(z);
            if info.name != name {
                past = true;
                break;
            }
            if !info.private {
                found.push(info);
            }
        }
        match (
            page.is_truncated(),
            page.next_dns_name(),
            page.next_hosted_zone_id(),
        ) {
            (true, Some(next), Some(id)) if !past && dns_name(next) == name => {
                start_id = Some(id.to_string());
            }
            _ => break,
        }
    }
    Ok(found)
}

/// The record set `fqdn`/`rtype` of a zone (simple routing: no set
/// identifier), if there is one. A zone that vanished is transient: callers
/// look the zone up first.
pub(crate) async fn record_set(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
    fqdn: &str,
    rtype: &RrType,
) -> Result<Option<ResourceRecordSet>, KindError> {
    let out = r53
        .list_resource_record_sets()
        .hosted_zone_id(bare_zone_id(zone_id))
        .start_record_name(fqdn)
        .start_record_type(rtype.clone())
        .max_items(1)
        .send()
        .await
        .map_err(|e| zone_call_error(&format!("ListResourceRecordSets {fqdn}"), e))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|s| dns_name(s.name()) == dns_name(fqdn) && s.r#type() == rtype)
        .cloned())
}

/// Every record set of a zone, in Route53's order.
pub(crate) async fn all_record_sets(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
) -> Result<Vec<ResourceRecordSet>, KindError> {
    let id = bare_zone_id(zone_id);
    let mut sets = Vec::new();
    let mut next: Option<(String, RrType, Option<String>)> = None;
    loop {
        let mut req = r53.list_resource_record_sets().hosted_zone_id(id);
        if let Some((name, rtype, ident)) = next.take() {
            req = req
                .start_record_name(name)
                .start_record_type(rtype)
                .set_start_record_identifier(ident);
        }
        let page = req
            .send()
            .await
            .map_err(|e| zone_call_error(&format!("ListResourceRecordSets {id}"), e))?;
        sets.extend(page.resource_record_sets().iter().cloned());
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(name), Some(rtype)) => {
                next = Some((
                    name.to_string(),
                    rtype.clone(),
                    page.next_record_identifier().map(str::to_string),
                ));
            }
            _ => break,
        }
    }
    Ok(sets)
}

/// Record sets from `start` on, while their reversed names start with
/// `reversed_prefix` (a contiguous range in Route53's order).
pub(crate) async fn record_sets_from(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
    start: &str,
    reversed_prefix: &str,
) -> Result<Vec<ResourceRecordSet>, KindError> {
    let id = bare_zone_id(zone_id);
    let mut sets = Vec::new();
    let mut next: Option<(String, Option<RrType>)> = Some((start.to_string(), None));
    while let Some((name, rtype)) = next.take() {
        let page = r53
            .list_resource_record_sets()
            .hosted_zone_id(id)
            .start_record_name(name)
            .set_start_record_type(rtype)
            .max_items(100)
            .send()
            .await
            .map_err(|e| zone_call_error(&format!("ListResourceRecordSets {id}"), e))?;
        for s in page.resource_record_sets() {
            if !reversed_name(&dns_name(s.name())).starts_with(reversed_prefix) {
                return Ok(sets);
            }
            sets.push(s.clone());
        }
        if let (true, Some(n), Some(t)) = (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            next = Some((n.to_string(), Some(t.clone())));
        }
    }
    Ok(sets)
}

/// NoSuchHostedZone during a record call: the zone was looked up just
/// before, so it vanished meanwhile; a retry sorts it out.
fn zone_call_error<E, R>(what: &str, e: aws_sdk_route53::error::SdkError<E, R>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + super::HttpStatus + 'static,
{
    if e.code() == Some("NoSuchHostedZone") {
        KindError::Transient(format!("{what}: the hosted zone is gone"))
    } else {
        classify(what, e)
    }
}

/// A change of one record set.
pub(crate) fn change(action: ChangeAction, set: ResourceRecordSet) -> Result<Change, KindError> {
    Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(|e| permanent("Route53 change", e))
}

/// Submits one change batch (all or nothing) and returns its change id
/// (without `/change/`). A rejected batch is permanent, unless
/// `conflict_is_transient` (a delete of what was just listed, which
/// someone else changed meanwhile).
pub(crate) async fn submit(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
    changes: Vec<Change>,
    comment: &str,
    conflict_is_transient: bool,
) -> Result<String, KindError> {
    let id = bare_zone_id(zone_id);
    let batch = ChangeBatch::builder()
        .set_changes(Some(changes))
        .comment(comment)
        .build()
        .map_err(|e| permanent("Route53 change batch", e))?;
    match r53
        .change_resource_record_sets()
        .hosted_zone_id(id)
        .change_batch(batch)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .change_info()
            .map(|c| bare_change_id(c.id()).to_string())
            .unwrap_or_default()),
        Err(e) if e.code() == Some("InvalidChangeBatch") && conflict_is_transient => {
            Err(KindError::Transient(format!(
                "ChangeResourceRecordSets {id}: {}; the records changed meanwhile",
                e.message().unwrap_or("rejected")
            )))
        }
        Err(e) if e.code() == Some("NoSuchHostedZone") => Err(KindError::Transient(format!(
            "ChangeResourceRecordSets {id}: the hosted zone is gone"
        ))),
        Err(e) => Err(classify(&format!("ChangeResourceRecordSets {id}"), e)),
    }
}

/// One poll of a change: INSYNC is ready. A change Route53 no longer knows
/// (NoSuchChange: change records expire) was applied long ago.
pub(crate) async fn change_status(
    r53: &aws_sdk_route53::Client,
    change_id: &str,
) -> Result<Readiness, KindError> {
    let id = bare_change_id(change_id);
    match r53.get_change().id(id).send().await {
        Ok(out) => match out.change_info().map(|c| c.status()) {
            Some(ChangeStatus::Insync) => Ok(Readiness::Ready),
            Some(other) => Ok(Readiness::Pending(format!(
                "Route53 change {id} is {}",
                other.as_str()
            ))),
            None => Ok(Readiness::Pending(format!(
                "Route53 change {id}: no status"
            ))),
        },
        Err(e) if e.code() == Some("NoSuchChange") => Ok(Readiness::Ready),
        Err(e) => Err(classify(&format!("GetChange {id}"), e)),
    }
}

/// Whether the record set is the zone's own SOA or NS (never deleted).
fn is_apex_soa_or_ns(set: &ResourceRecordSet, zone_name: &str) -> bool {
    matches!(set.r#type(), RrType::Soa | RrType::Ns) && dns_name(set.name()) == zone_name
}

// -------------------------------------------------------- ownership ----

/// The CallerReference prefix of this tenant's zones.
fn tenant_reference_prefix(tenant: &str) -> String {
    format!("envctl/{tenant}/")
}

/// The CallerReference prefix of one resource's zones.
fn reference_prefix(cx: &Cx) -> String {
    format!(
        "{}{}/",
        tenant_reference_prefix(cx.tenant.as_str()),
        cx.resource_id
    )
}

/// The resource id in a CallerReference of `tenant`, if it is one.
fn reference_resource<'a>(reference: &'a str, tenant: &str) -> Option<&'a str> {
    let rest = reference.strip_prefix(&tenant_reference_prefix(tenant))?;
    let (id, _) = rest.split_once('/')?;
    (!id.is_empty()).then_some(id)
}

/// Who a zone belongs to, as far as envctl can tell.
#[derive(Debug, PartialEq, Eq)]
enum Owner {
    /// This resource created it.
    Us,
    /// Another resource of the same tenant created it.
    OtherResource(String),
    /// Another tenant's.
    OtherTenant(String),
    /// Not created by envctl.
    Foreign,
}

fn owner(cx: &Cx, zone: &ZoneInfo, t: &BTreeMap<String, String>) -> Owner {
    let tenant = cx.tenant.as_str();
    match t.get(tags::TENANT) {
        Some(other) if other != tenant => return Owner::OtherTenant(other.clone()),
        Some(_) => {
            return match t.get(tags::RESOURCE) {
                Some(r) if *r != cx.resource_id => Owner::OtherResource(r.clone()),
                _ => Owner::Us,
            };
        }
        None => {}
    }
    match reference_resource(&zone.caller_reference, tenant) {
        Some(r) if r == cx.resource_id => Owner::Us,
        Some(r) => Owner::OtherResource(r.to_string()),
        None => Owner::Foreign,
    }
}

fn outputs(zone: &ZoneInfo, adopted: bool, parent_id: &str) -> Outputs {
    Outputs::new()
        .plain("zone_id", zone.id.clone())
        .plain("name", zone.name.clone())
        .plain("name_servers", zone.name_servers.join(","))
        .plain("parent_zone_id", parent_id)
        .plain("adopted", adopted.to_string())
}

/// Delegates `zone` from the parent named by `spec`: the parent's id and
/// the change to wait for. No such parent in this account is a permanent
/// error that lists the name servers to delegate by hand.
async fn delegate_from(
    r53: &aws_sdk_route53::Client,
    spec: &str,
    zone: &ZoneInfo,
) -> Result<String, KindError> {
    let Some(parent) = find_parent(r53, spec).await? else {
        return Err(KindError::Permanent(format!(
            "hosted zone {} ({}) is not delegated and this account has no public hosted zone {spec} \
             to delegate it from: {}; then set `delegated: true`. Or create the public hosted \
             zone {spec} (delegated from your registrar) and run again, or set `parent_zone` to \
             its id",
            zone.name,
            zone.id,
            delegate_first(&zone.name, &zone.name_servers, spec),
        )));
    };
    if !zone.name.ends_with(&format!(".{}", parent.name)) {
        return Err(KindError::Permanent(format!(
            "parent_zone {spec} is the zone {}, which is not a parent of {}; name the zone of a \
             parent domain",
            parent.name, zone.name
        )));
    }
    if let Some(change) = delegate(r53, &parent, zone).await? {
        // Wait for INSYNC here, so that a rerun (which finds the record and
        // writes nothing) has nothing to wait for: terraform-provider-aws
        // waits likewise after each change (route53/change_info.go,
        // waitChangeInsync); "changes generally propagate to all Route 53
        // name servers within 60 seconds" (Developer Guide).
        let insync = poll_until(DELEGATION_INSYNC, || async {
            Ok(matches!(change_status(r53, &change).await?, Readiness::Ready).then_some(()))
        })
        .await?;
        if insync.is_none() {
            return Err(KindError::waiting(
                format!(
                    "Route53 change {change} (the delegation of {}) is still PENDING",
                    zone.name
                ),
                "Route 53 to apply the delegation on all its name servers",
                Duration::from_secs(10 * 60),
            ));
        }
    }
    Ok(parent.id)
}

/// Creates the zone under a fresh CallerReference; a reference Route53
/// already knows (HostedZoneAlreadyExists) is either a zone of ours that a
/// lost answer hid (adopted) or one burnt by an earlier, deleted zone (the
/// next number is tried).
async fn create(cx: &Cx, name: &str) -> Result<ZoneInfo, KindError> {
    let r53 = &cx.backends.aws.route53;
    let day = jiff::Timestamp::now().strftime("%Y%m%d").to_string();
    for n in 0..REFERENCE_PROBES {
        let reference = format!("{}{day}/{n}", reference_prefix(cx));
        let result = r53
            .create_hosted_zone()
            .name(name)
            .caller_reference(&reference)
            .hosted_zone_config(
                HostedZoneConfig::builder()
                    .comment(format!(
                        "envctl tenant {} resource {}",
                        cx.tenant, cx.resource_id
                    ))
                    .private_zone(false)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(out) => {
                let z = out.hosted_zone().ok_or_else(|| {
                    KindError::Transient(format!("CreateHostedZone {name}: no zone in the answer"))
                })?;
                let mut info = ZoneInfo::from_zone(z);
                info.name_servers = out
                    .delegation_set()
                    .map(|d| d.name_servers().to_vec())
                    .unwrap_or_default();
                return Ok(info);
            }
            Err(e) if e.code() == Some("HostedZoneAlreadyExists") => {
                let live = zones_named(r53, name).await?;
                if let Some(z) = live.into_iter().find(|z| z.caller_reference == reference) {
                    return get_zone(r53, &z.id).await?.ok_or_else(|| {
                        KindError::Transient(format!("hosted zone {} vanished", z.id))
                    });
                }
            }
            Err(e) => return Err(classify(&format!("CreateHostedZone {name}"), e)),
        }
    }
    Err(KindError::Permanent(format!(
        "CreateHostedZone {name}: {REFERENCE_PROBES} caller references of today are used up; \
         try again tomorrow"
    )))
}

/// Deletes every record set but the zone's own SOA and NS, then the zone.
async fn empty_and_delete(r53: &aws_sdk_route53::Client, zone: &ZoneInfo) -> Result<(), KindError> {
    let sets: Vec<ResourceRecordSet> = all_record_sets(r53, &zone.id)
        .await?
        .into_iter()
        .filter(|s| !is_apex_soa_or_ns(s, &zone.name))
        .collect();
    for batch in sets.chunks(DELETE_BATCH) {
        let changes = batch
            .iter()
            .map(|s| change(ChangeAction::Delete, s.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        submit(
            r53,
            &zone.id,
            changes,
            "envctl: emptying the zone before deleting it",
            true,
        )
        .await?;
    }
    match r53.delete_hosted_zone().id(&zone.id).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("NoSuchHostedZone") => Ok(()),
        Err(e) if e.code() == Some("HostedZoneNotEmpty") => Err(KindError::Transient(format!(
            "DeleteHostedZone {}: records were added while it was being emptied",
            zone.id
        ))),
        Err(e) => Err(classify(&format!("DeleteHostedZone {}", zone.id), e)),
    }
}

#[async_trait]
impl Kind for Zone {
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

    /// CreateHostedZone and ChangeTagsForResource answer in about a second
    /// each. The zone can take records at once; each record waits for its
    /// own change to be INSYNC ("changes generally propagate to all Route 53
    /// name servers within 60 seconds", Route 53 Developer Guide, "Editing
    /// records"), so the zone itself is not held back by propagation.
    fn expected(&self) -> Duration {
        Duration::from_secs(3)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(5 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: ZoneProps = parse_props(props)?;
        let name = p.zone_name(&cx.tenant)?;
        let r53 = &cx.backends.aws.route53;

        let mut ours = Vec::new();
        let mut foreign = Vec::new();
        for z in zones_named(r53, &name).await? {
            let t = zone_tags(r53, &z.id).await?;
            match owner(cx, &z, &t) {
                Owner::Us => ours.push((z, t)),
                Owner::OtherTenant(other) => {
                    return Err(KindError::Permanent(format!(
                        "hosted zone {name} ({}) belongs to tenant '{other}' (tag {}); \
                         refusing to use it",
                        z.id,
                        tags::TENANT
                    )));
                }
                Owner::OtherResource(other) => {
                    return Err(KindError::Permanent(format!(
                        "hosted zone {name} ({}) belongs to resource '{other}' of this tenant; \
                         two resources cannot own one zone",
                        z.id
                    )));
                }
                Owner::Foreign => foreign.push((z, t)),
            }
        }

        let (zone_id, adopted) = if let Some((z, t)) = ours.first() {
            // Several only after a Route53 hiccup: the first is used, and
            // the sweep of a destroy finds the others by their tags.
            let missing: Vec<(String, String)> = cx
                .tags()
                .into_iter()
                .filter(|(k, v)| t.get(k) != Some(v))
                .collect();
            if !missing.is_empty() {
                add_zone_tags(r53, &z.id, &missing).await?;
            }
            (z.id.clone(), false)
        } else if !foreign.is_empty() {
            if !p.adopt {
                let ids: Vec<&str> = foreign.iter().map(|(z, _)| z.id.as_str()).collect();
                return Err(KindError::Permanent(format!(
                    "a hosted zone named {name} already exists ({}) and envctl did not create \
                     it; set 'adopt: true' to use it (envctl will then never delete it), or \
                     delete it",
                    ids.join(", ")
                )));
            }
            if foreign.len() > 1 {
                let ids: Vec<&str> = foreign.iter().map(|(z, _)| z.id.as_str()).collect();
                return Err(KindError::Permanent(format!(
                    "several hosted zones are named {name} ({}); envctl cannot tell which one \
                     is delegated: delete the extra ones or adopt none",
                    ids.join(", ")
                )));
            }
            let (z, t) = &foreign[0];
            if t.get(ADOPTED_TAG).map(String::as_str) != Some("true") {
                add_zone_tags(r53, &z.id, &[(ADOPTED_TAG.into(), "true".into())]).await?;
            }
            (z.id.clone(), true)
        } else {
            let z = create(cx, &name).await?;
            add_zone_tags(r53, &z.id, &cx.tags()).await?;
            (z.id, false)
        };

        let zone = get_zone(r53, &zone_id).await?.ok_or_else(|| {
            KindError::Transient(format!("hosted zone {zone_id} not visible yet"))
        })?;
        // An adopted zone's delegation is its owner's business.
        let parent_id = match (adopted, p.parent_spec(&zone.name)) {
            (false, Some(spec)) => {
                let parent_id = delegate_from(r53, &spec, &zone).await?;
                let t = zone_tags(r53, &zone.id).await?;
                if t.get(PARENT_TAG) != Some(&parent_id) {
                    add_zone_tags(r53, &zone.id, &[(PARENT_TAG.into(), parent_id.clone())]).await?;
                }
                parent_id
            }
            _ => String::new(),
        };
        Ok(outputs(&zone, adopted, &parent_id))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let id = out.require("zone_id")?;
        match get_zone(&cx.backends.aws.route53, id).await? {
            Some(_) => Ok(Readiness::Ready),
            None => Ok(Readiness::Pending(format!(
                "hosted zone {id} not visible yet"
            ))),
        }
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let id = out.require("zone_id")?;
        if out.get("adopted").is_some_and(|v| v.expose() == "true") {
            return Ok(());
        }
        let r53 = &cx.backends.aws.route53;
        let Some(zone) = get_zone(r53, id).await? else {
            return Ok(());
        };
        let t = zone_tags(r53, id).await?;
        match owner(cx, &zone, &t) {
            Owner::Us | Owner::OtherResource(_) => {}
            Owner::OtherTenant(other) => {
                return Err(KindError::Permanent(format!(
                    "hosted zone {} ({id}) belongs to tenant '{other}'; not deleting it",
                    zone.name
                )));
            }
            Owner::Foreign => {
                return Err(KindError::Permanent(format!(
                    "hosted zone {} ({id}) was not created by envctl for tenant '{}'; not \
                     deleting it",
                    zone.name, cx.tenant
                )));
            }
        }
        // The delegation goes first: an NS record left in the parent after
        // the zone is gone is a dangling delegation (subdomain takeover).
        let parent = match out.get("parent_zone_id").map(|v| v.expose().to_string()) {
            Some(p) if !p.is_empty() => Some(p),
            _ => match t.get(PARENT_TAG) {
                Some(p) if !p.is_empty() => Some(p.clone()),
                _ => find_delegating_parent(r53, &zone.name, &zone.name_servers).await?,
            },
        };
        if let Some(parent) = parent {
            undelegate(r53, &parent, &zone.name, &zone.name_servers).await?;
        }
        empty_and_delete(r53, &zone).await
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let r53 = &cx.backends.aws.route53;
        let tenant = cx.tenant.as_str();
        let mut found = Vec::new();
        for (z, t) in zones_with_tags(r53).await? {
            let resource_id = if t.get(tags::TENANT).map(String::as_str) == Some(tenant) {
                if t.get(tags::MANAGED).map(String::as_str) != Some("true") {
                    continue;
                }
                t.get(tags::RESOURCE).cloned()
            } else if t.contains_key(tags::TENANT) {
                None
            } else {
                // Created by us, but the run crashed before tagging it.
                reference_resource(&z.caller_reference, tenant).map(str::to_string)
            };
            let Some(resource_id) = resource_id else {
                continue;
            };
            let Some(zone) = get_zone(r53, &z.id).await? else {
                continue;
            };
            let parent = t.get(PARENT_TAG).cloned().unwrap_or_default();
            found.push(Found {
                resource_id,
                outputs: outputs(&zone, false, &parent),
            });
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn caller_references_name_tenant_and_resource() {
        assert_eq!(
            reference_resource("envctl/acme/dns/20261121/0", "acme"),
            Some("dns")
        );
        assert_eq!(
            reference_resource("envctl/acme/dns/20261121/0", "acm"),
            None
        );
        assert_eq!(reference_resource("envctl/acme-2/dns/1/0", "acme"), None);
        assert_eq!(reference_resource("something-else", "acme"), None);
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
}
