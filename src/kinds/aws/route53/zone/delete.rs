//! Emptying a hosted zone and deleting it.

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{ChangeAction, ResourceRecordSet, RrType};

use super::super::api::{ZoneInfo, all_record_sets, change, submit};
use super::super::dns_name::dns_name;
use crate::kinds::KindError;
use crate::kinds::aws::classify;

/// Record sets per ChangeResourceRecordSets call when emptying a zone
/// (the API takes up to 1,000 records and 32,000 characters of values).
const DELETE_BATCH: usize = 100;

/// Whether the record set is the zone's own SOA or NS (never deleted).
fn is_apex_soa_or_ns(set: &ResourceRecordSet, zone_name: &str) -> bool {
    matches!(set.r#type(), RrType::Soa | RrType::Ns) && dns_name(set.name()) == zone_name
}

/// Deletes every record set but the zone's own SOA and NS, then the zone.
pub(super) async fn empty_and_delete(
    r53: &aws_sdk_route53::Client,
    zone: &ZoneInfo,
) -> Result<(), KindError> {
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
