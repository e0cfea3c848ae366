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

//!
//! Here are the kind ([`Kind`] impl); beside it its properties (`props`),
//! what it writes (`content`) and its ownership marker (`marker`).

mod content;
mod marker;
mod props;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{ChangeAction, RrType};

use super::api::{
    ZoneInfo, add_zone_tags, bare_zone_id, change, change_status, get_zone, record_set,
    record_sets_from, submit, zone_tags, zones_with_tags,
};
use super::dns_name::{dns_name, reversed_name};
use super::zone::ADOPTED_TAG;
use crate::kinds::schema::PropSchema;
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx, parse_props,
};
use crate::tenant::tags;
use content::{record_set_of, resolve_name, same_content};
use marker::{Marker, marker_name, marker_parent, our_marker};
use props::{NAME, OUTPUTS, RecordProps, SCHEMA};

pub struct Record;

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
