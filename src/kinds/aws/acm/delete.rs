//! Deleting a certificate (not another tenant's) and the validation
//! CNAMEs it had in its zone. A certificate still in use answers
//! ResourceInUseException, which [`classify`] makes a wait: the engine
//! calls delete again.

use std::collections::BTreeMap;

use aws_sdk_acm::error::ProvideErrorMetadata;

use super::VALIDATION_ZONE_TAG;
use super::request::describe;
use super::tagging::cert_tags;
use super::validate::{parse_records, remove_records};
use crate::kinds::aws::classify;
use crate::kinds::{Cx, KindError, Outputs};
use crate::tenant::tags;

/// Deletes the certificate of `out` and its validation records.
pub(super) async fn delete_certificate(cx: &Cx, out: &Outputs) -> Result<(), KindError> {
    let arn = out.require("arn")?;
    let acm = &cx.backends.aws.acm;
    let mut records: BTreeMap<String, String> = out
        .get("validation_records")
        .map(|v| parse_records(v.expose()))
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut zone_id = out
        .get("zone_id")
        .map(|v| v.expose().to_string())
        .filter(|z| !z.is_empty());
    if let Some(info) = describe(acm, arn).await? {
        if let Some(t) = cert_tags(acm, arn).await? {
            if let Some(owner) = t.get(tags::TENANT)
                && owner != cx.tenant.as_str()
            {
                return Err(KindError::Permanent(format!(
                    "certificate {arn} belongs to tenant '{owner}'; not deleting it"
                )));
            }
            if zone_id.is_none() {
                zone_id = t
                    .get(VALIDATION_ZONE_TAG)
                    .cloned()
                    .filter(|z| !z.is_empty());
            }
        }
        records.extend(info.records.iter().cloned());
        match acm.delete_certificate().certificate_arn(arn).send().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            // ResourceInUseException while a listener still holds it is
            // a wait (classify; terraform-provider-aws retries it for
            // certificateCrossServicePropagationTimeout).
            Err(e) => {
                let users = if info.in_use_by.is_empty() {
                    String::new()
                } else {
                    format!(" (used by {})", info.in_use_by.join(", "))
                };
                return Err(classify(&format!("DeleteCertificate {arn}{users}"), e));
            }
        }
    }
    if let Some(zone_id) = zone_id {
        let records: Vec<(String, String)> = records.into_iter().collect();
        remove_records(&cx.backends.aws.route53, &zone_id, &records).await?;
    }
    Ok(())
}
