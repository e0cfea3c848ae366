//! The Route 53 calls the zone, record and certificate kinds share: hosted
//! zones (get, list by name, list with tags, tag), record sets (one, all,
//! a range), change batches (build, submit, poll until INSYNC) and the
//! bare forms of zone and change ids.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecordSet, RrType, Tag,
    TagResourceType,
};

use super::dns_name::{dns_name, reversed_name};
use crate::kinds::aws::call::permanent;
use crate::kinds::aws::owner::Tags;
use crate::kinds::aws::tags::{Tagging, tag_map};
use crate::kinds::aws::{HttpStatus, classify};
use crate::kinds::{KindError, Readiness};

/// ListTagsForResources takes at most 10 resource ids.
const TAGS_BATCH: usize = 10;

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
    pub(crate) fn from_zone(z: &aws_sdk_route53::types::HostedZone) -> Self {
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
) -> Result<Tags, KindError> {
    Ok(tags_of_zone(r53, zone_id).await?.unwrap_or_default())
}

/// The tags of a zone; `None` when the zone is gone.
async fn tags_of_zone(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
) -> Result<Option<Tags>, KindError> {
    let id = bare_zone_id(zone_id);
    match r53
        .list_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.resource_tag_set()
                .map(|s| tag_map(s.tags()))
                .unwrap_or_default(),
        )),
        Err(e) if e.code() == Some("NoSuchHostedZone") => Ok(None),
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

/// The tagging calls of hosted zones, for [`crate::kinds::aws::tags::converge`].
pub(crate) struct ZoneTagging<'a>(pub &'a aws_sdk_route53::Client);

#[async_trait]
impl Tagging for ZoneTagging<'_> {
    async fn read(&self, id: &str) -> Result<Option<Tags>, KindError> {
        tags_of_zone(self.0, id).await
    }

    async fn add(&self, id: &str, pairs: Vec<(String, String)>) -> Result<(), KindError> {
        add_zone_tags(self.0, id, &pairs).await
    }
}

/// Every public hosted zone of the account with its tags (ListHostedZones,
/// then ListTagsForResources ten zones at a time).
pub(crate) async fn zones_with_tags(
    r53: &aws_sdk_route53::Client,
) -> Result<Vec<(ZoneInfo, Tags)>, KindError> {
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
        let mut by_id: BTreeMap<String, Tags> = out
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
    R: std::fmt::Debug + HttpStatus + 'static,
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
