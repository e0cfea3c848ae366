//! Delegation of a hosted zone from its parent zone: the NS record set
//! `<zone>` in the parent that points resolvers at the zone's name servers.
//! Written with UPSERT when a zone is created (Route 53 Developer Guide,
//! "Routing traffic for subdomains": create a hosted zone for the subdomain,
//! then an NS record in the parent's hosted zone with the subdomain's name
//! servers), removed before the zone is deleted: an NS record left pointing
//! at name servers that no longer serve the zone lets anyone who creates a
//! zone of that name on those servers take the subdomain over (AWS
//! Security Blog / Route 53 Developer Guide, "Protecting against dangling
//! delegation records").
//!
//! Route 53 rules kept here (API reference, ChangeResourceRecordSets): a
//! CREATE of a record set that exists fails (so UPSERT, after looking), a
//! DELETE must name the exact values and TTL (so the set is deleted as
//! listed), and a change is PENDING until it reaches every Route 53 name
//! server, then INSYNC (GetChange; terraform-provider-aws
//! internal/service/route53/change_info.go `waitChangeInsync`).

use std::collections::BTreeSet;

use aws_sdk_route53::types::{ChangeAction, ResourceRecord, ResourceRecordSet, RrType};

use super::api::{ZoneInfo, bare_zone_id, change, get_zone, record_set, submit, zones_named};
use super::dns_name::{dns_name, parent_of};
use crate::kinds::KindError;

/// TTL of the delegation NS record: Route 53's own for the NS record of a
/// new hosted zone (172800 s, Route 53 Developer Guide, "NS and SOA records
/// that Amazon Route 53 creates for a public hosted zone").
pub const DELEGATION_TTL: i64 = 172_800;

/// A zone id as Route 53 writes them (`Z` and upper-case letters and
/// digits, e.g. Z0123456789ABCDEFGHIJ), as opposed to a domain name.
pub fn looks_like_zone_id(s: &str) -> bool {
    let id = bare_zone_id(s);
    s.trim().starts_with("/hostedzone/")
        || (id.len() >= 10
            && id.starts_with('Z')
            && id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
}

/// The parent zone named by `spec` (an id, or a domain name with exactly one
/// public hosted zone of that name in the account); `None` when there is
/// none. A private zone, or several public zones of the name, is an error
/// naming the fix.
pub(crate) async fn find_parent(
    r53: &aws_sdk_route53::Client,
    spec: &str,
) -> Result<Option<ZoneInfo>, KindError> {
    if looks_like_zone_id(spec) {
        let Some(zone) = get_zone(r53, spec).await? else {
            return Ok(None);
        };
        if zone.private {
            return Err(KindError::Permanent(format!(
                "parent_zone {spec} ({}) is a private hosted zone; delegation needs the public \
                 zone of the parent domain",
                zone.name
            )));
        }
        return Ok(Some(zone));
    }
    let name = dns_name(spec);
    let zones = zones_named(r53, &name).await?;
    match zones.as_slice() {
        [] => Ok(None),
        [one] => get_zone(r53, &one.id).await,
        many => Err(KindError::Permanent(format!(
            "several public hosted zones are named {name} ({}); set parent_zone to the id of the \
             one the domain is delegated to",
            many.iter()
                .map(|z| z.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The name servers of an NS record set, comparable.
fn servers_of(set: &ResourceRecordSet) -> BTreeSet<String> {
    set.resource_records()
        .iter()
        .map(|r| dns_name(r.value()))
        .collect()
}

fn servers(ns: &[String]) -> BTreeSet<String> {
    ns.iter().map(|s| dns_name(s)).collect()
}

/// What to do with the parent's NS record set for the zone, given what is
/// there: nothing (already right), write it, or refuse (someone else's
/// delegation of that name, which an UPSERT would silently take over).
#[derive(Debug, PartialEq, Eq)]
pub enum DelegationStep {
    Done,
    Write,
    Refuse(BTreeSet<String>),
}

pub fn delegation_step(
    existing: Option<&BTreeSet<String>>,
    ours: &BTreeSet<String>,
) -> DelegationStep {
    match existing {
        None => DelegationStep::Write,
        Some(there) if there == ours => DelegationStep::Done,
        Some(there) => DelegationStep::Refuse(there.clone()),
    }
}

/// The sentence for a zone that nothing delegates to, with its name servers:
/// what the user must add where.
pub fn delegate_first(zone: &str, name_servers: &[String], parent: &str) -> String {
    format!(
        "delegate these name servers first: {} (add an NS record for {zone} in {parent})",
        name_servers.join(", ")
    )
}

/// Writes (UPSERT) the NS record set of `zone` into `parent` unless it is
/// already there; the id of the change to wait for, `None` when nothing was
/// written.
pub(crate) async fn delegate(
    r53: &aws_sdk_route53::Client,
    parent: &ZoneInfo,
    zone: &ZoneInfo,
) -> Result<Option<String>, KindError> {
    if zone.name_servers.is_empty() {
        return Err(KindError::Transient(format!(
            "hosted zone {} ({}) has no name servers yet",
            zone.name, zone.id
        )));
    }
    let ours = servers(&zone.name_servers);
    let existing = record_set(r53, &parent.id, &zone.name, &RrType::Ns).await?;
    match delegation_step(existing.as_ref().map(servers_of).as_ref(), &ours) {
        DelegationStep::Done => Ok(None),
        DelegationStep::Refuse(there) => Err(KindError::Permanent(format!(
            "the parent zone {} ({}) already delegates {} to other name servers ({}); envctl \
             does not overwrite a delegation it did not write: if that record is stale, delete \
             it from {} and run again",
            parent.name,
            parent.id,
            zone.name,
            there.into_iter().collect::<Vec<_>>().join(", "),
            parent.name
        ))),
        DelegationStep::Write => {
            let mut set = ResourceRecordSet::builder()
                .name(format!("{}.", zone.name))
                .r#type(RrType::Ns)
                .ttl(DELEGATION_TTL);
            for ns in &zone.name_servers {
                set = set.resource_records(
                    ResourceRecord::builder()
                        .value(format!("{}.", dns_name(ns)))
                        .build()
                        .map_err(|e| KindError::Permanent(format!("NS record: {e}")))?,
                );
            }
            let set = set
                .build()
                .map_err(|e| KindError::Permanent(format!("NS record: {e}")))?;
            let id = submit(
                r53,
                &parent.id,
                vec![change(ChangeAction::Upsert, set)?],
                &format!(
                    "envctl: delegating {} to its hosted zone {}",
                    zone.name, zone.id
                ),
                false,
            )
            .await?;
            Ok(Some(id))
        }
    }
}

/// Deletes the NS record set of `zone_name` from the parent zone when it
/// still points at `name_servers` (ours); a parent that is gone, a record
/// that is gone, or one that now points elsewhere is left alone. The id of
/// the change, `None` when nothing was deleted.
pub async fn undelegate(
    r53: &aws_sdk_route53::Client,
    parent_id: &str,
    zone_name: &str,
    name_servers: &[String],
) -> Result<Option<String>, KindError> {
    let Some(parent) = get_zone(r53, parent_id).await? else {
        return Ok(None);
    };
    let Some(set) = record_set(r53, &parent.id, zone_name, &RrType::Ns).await? else {
        return Ok(None);
    };
    if name_servers.is_empty() || servers_of(&set) != servers(name_servers) {
        tracing::warn!(
            "the NS record of {zone_name} in {} points at other name servers; left alone",
            parent.name
        );
        return Ok(None);
    }
    // DELETE must match the record set exactly: send it back as listed.
    let id = submit(
        r53,
        &parent.id,
        vec![change(ChangeAction::Delete, set)?],
        &format!("envctl: removing the delegation of {zone_name} before deleting its zone"),
        true,
    )
    .await?;
    Ok(Some(id))
}

/// The parent zone in this account that delegates `zone_name` to
/// `name_servers`, looked for from the nearest ancestor up (for a sweep
/// after the state is lost, when no output or tag names the parent).
pub async fn find_delegating_parent(
    r53: &aws_sdk_route53::Client,
    zone_name: &str,
    name_servers: &[String],
) -> Result<Option<String>, KindError> {
    let ours = servers(name_servers);
    if ours.is_empty() {
        return Ok(None);
    }
    let mut ancestor = parent_of(zone_name);
    while let Some(name) = ancestor {
        for parent in zones_named(r53, name).await? {
            if let Some(set) = record_set(r53, &parent.id, zone_name, &RrType::Ns).await?
                && servers_of(&set) == ours
            {
                return Ok(Some(parent.id));
            }
        }
        ancestor = parent_of(name);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn zone_ids_and_names_are_told_apart() {
        assert!(looks_like_zone_id("Z0123456789ABCDEFGHIJ"));
        assert!(looks_like_zone_id("/hostedzone/Z2ABCDEF123"));
        assert!(!looks_like_zone_id("envctl.dev"));
        assert!(!looks_like_zone_id("zone.example.com"));
        assert!(!looks_like_zone_id("Z1"));
    }

    #[test]
    fn an_existing_delegation_is_kept_written_or_refused() {
        let ours = set(&["ns-1.awsdns-01.org", "ns-2.awsdns-02.com"]);
        assert_eq!(delegation_step(None, &ours), DelegationStep::Write);
        assert_eq!(delegation_step(Some(&ours), &ours), DelegationStep::Done);
        let other = set(&["ns-9.awsdns-09.net"]);
        assert_eq!(
            delegation_step(Some(&other), &ours),
            DelegationStep::Refuse(other.clone())
        );
    }

    #[test]
    fn the_manual_delegation_message_names_servers_zone_and_parent() {
        let m = delegate_first(
            "acme.envctl.dev",
            &["ns-1.awsdns-01.org".into(), "ns-2.awsdns-02.com".into()],
            "envctl.dev",
        );
        assert_eq!(
            m,
            "delegate these name servers first: ns-1.awsdns-01.org, ns-2.awsdns-02.com (add an \
             NS record for acme.envctl.dev in envctl.dev)"
        );
    }

    #[test]
    fn name_servers_compare_without_case_or_final_dot() {
        assert_eq!(
            servers(&["NS-1.awsdns-01.org.".into()]),
            set(&["ns-1.awsdns-01.org"])
        );
    }
}
