//! The `aws.route53.zone` kind: a public Route53 hosted zone per tenant
//! resource (created, tagged, emptied and deleted), or an existing zone used
//! with `adopt: true` (never deleted). The Route 53 calls it shares with the
//! record and certificate kinds are in [`super::api`]; here are the kind
//! ([`Kind`] impl), and beside it its properties (`props`), who a zone
//! belongs to (`ownership`), creating and delegating it (`create`) and
//! emptying and deleting it (`delete`).
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
//! A zone it creates delegates itself (see [`super::delegation`]):
//! apply UPSERTs the zone's NS record set into the parent zone (`parent_zone`,
//! by default the zone of `subdomain_of` or of the domain's parent) and
//! waits for that change to be INSYNC; delete removes the NS record
//! before the zone, so no delegation is left dangling. The parent's id is
//! kept as an output and as the tag `envctl:parent-zone`, so that a sweep
//! after state loss finds it (else it is looked for by name).

mod create;
mod delete;
mod ownership;
mod props;

use std::time::Duration;

use async_trait::async_trait;

use super::api::{
    ZoneInfo, ZoneTagging, add_zone_tags, get_zone, zone_tags, zones_named, zones_with_tags,
};
use super::delegation::{find_delegating_parent, undelegate};
use crate::kinds::aws::tags::{converge, missing};
use crate::kinds::schema::PropSchema;
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx, parse_props,
};
use crate::tenant::tags;
use create::{create, delegate_from};
use delete::empty_and_delete;
use ownership::{Owner, owner, reference_resource};
pub use props::parent_zone_check;
use props::{NAME, OUTPUTS, SCHEMA, ZoneProps};

/// Tag on a zone envctl uses but does not own (adopted by a zone resource,
/// or written into by a record resource). It never makes a zone deletable.
pub const ADOPTED_TAG: &str = "envctl:adopted";
/// Tag on a zone envctl created: the id of the parent zone holding its
/// delegation (what a sweep after state loss removes first).
pub const PARENT_TAG: &str = "envctl:parent-zone";

pub struct Zone;

fn outputs(zone: &ZoneInfo, adopted: bool, parent_id: &str) -> Outputs {
    Outputs::new()
        .plain("zone_id", zone.id.clone())
        .plain("name", zone.name.clone())
        .plain("name_servers", zone.name_servers.join(","))
        .plain("parent_zone_id", parent_id)
        .plain("adopted", adopted.to_string())
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
            let missing = missing(t, cx.tags());
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
                converge(
                    &ZoneTagging(r53),
                    cx,
                    &format!("hosted zone {name} ({})", zone.id),
                    &zone.id,
                    [(PARENT_TAG.to_string(), parent_id.clone())],
                )
                .await?;
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
