//! DNS validation: the zone the validation CNAMEs go into (checked), and
//! writing, removing and recording those CNAMEs.

use aws_sdk_route53::types::{ChangeAction, ResourceRecord, ResourceRecordSet, RrType};

use super::props::Wanted;
use crate::kinds::aws::call::permanent;
use crate::kinds::aws::route53::api::{ZoneInfo, change, get_zone, record_set, submit, zone_tags};
use crate::kinds::aws::route53::dns_name::dns_name;
use crate::kinds::{Cx, KindError};
use crate::tenant::tags;

/// TTL of the validation CNAMEs.
const VALIDATION_TTL: i64 = 300;

/// The zone, checked: it exists, is not another tenant's, and covers every
/// name of the certificate.
pub(super) async fn validation_zone(
    cx: &Cx,
    zone_id: &str,
    wanted: &Wanted,
) -> Result<ZoneInfo, KindError> {
    let r53 = &cx.backends.aws.route53;
    let zone = get_zone(r53, zone_id).await?.ok_or_else(|| {
        KindError::Permanent(format!(
            "hosted zone {zone_id} does not exist; check zone_id (e.g. ${{zone.zone_id}})"
        ))
    })?;
    if let Some(owner) = zone_tags(r53, zone_id).await?.get(tags::TENANT)
        && owner != cx.tenant.as_str()
    {
        return Err(KindError::Permanent(format!(
            "hosted zone {} ({zone_id}) belongs to tenant '{owner}'; refusing to write \
             validation records into it",
            zone.name
        )));
    }
    for name in std::iter::once(&wanted.domain).chain(&wanted.sans) {
        let bare = name.trim_start_matches("*.");
        if bare != zone.name && !bare.ends_with(&format!(".{}", zone.name)) {
            return Err(KindError::Permanent(format!(
                "hosted zone {} ({zone_id}) cannot validate {name}: the name is outside the zone",
                zone.name
            )));
        }
    }
    Ok(zone)
}

/// UPSERTs the validation CNAMEs that are missing or differ.
pub(super) async fn write_records(
    r53: &aws_sdk_route53::Client,
    zone: &ZoneInfo,
    records: &[(String, String)],
) -> Result<(), KindError> {
    let mut changes = Vec::new();
    for (name, value) in records {
        if let Some(set) = record_set(r53, &zone.id, name, &RrType::Cname).await?
            && set.resource_records().len() == 1
            && dns_name(set.resource_records()[0].value()) == *value
        {
            continue;
        }
        let set = ResourceRecordSet::builder()
            .name(format!("{name}."))
            .r#type(RrType::Cname)
            .ttl(VALIDATION_TTL)
            .resource_records(
                ResourceRecord::builder()
                    .value(format!("{value}."))
                    .build()
                    .map_err(|e| permanent("validation record", e))?,
            )
            .build()
            .map_err(|e| permanent("validation record", e))?;
        changes.push(change(ChangeAction::Upsert, set)?);
    }
    if changes.is_empty() {
        return Ok(());
    }
    submit(
        r53,
        &zone.id,
        changes,
        "envctl: ACM DNS validation records",
        false,
    )
    .await?;
    Ok(())
}

/// Deletes the validation CNAMEs that still have ACM's value; a zone that
/// is gone took them along.
pub(super) async fn remove_records(
    r53: &aws_sdk_route53::Client,
    zone_id: &str,
    records: &[(String, String)],
) -> Result<(), KindError> {
    let Some(zone) = get_zone(r53, zone_id).await? else {
        return Ok(());
    };
    let mut changes = Vec::new();
    for (name, value) in records {
        if let Some(set) = record_set(r53, &zone.id, name, &RrType::Cname).await?
            && set
                .resource_records()
                .iter()
                .all(|r| dns_name(r.value()) == *value)
        {
            changes.push(change(ChangeAction::Delete, set)?);
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    submit(
        r53,
        &zone.id,
        changes,
        "envctl: removing ACM DNS validation records",
        true,
    )
    .await?;
    Ok(())
}

pub(super) fn records_output(records: &[(String, String)]) -> String {
    records
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn parse_records(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            let (n, v) = (dns_name(n), dns_name(v));
            (!n.is_empty() && !v.is_empty()).then_some((n, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_records_round_trip_through_the_output() {
        let r = vec![
            (
                "_x.a.test".to_string(),
                "_y.acm-validations.aws".to_string(),
            ),
            (
                "_z.b.a.test".to_string(),
                "_w.acm-validations.aws".to_string(),
            ),
        ];
        assert_eq!(parse_records(&records_output(&r)), r);
        assert!(parse_records("").is_empty());
    }
}
