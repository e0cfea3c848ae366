//! The `aws.acm.certificate` kind: a public ACM certificate validated by
//! DNS, with its validation CNAMEs written into a Route53 zone, ready once
//! ISSUED.
//!
//! A certificate is found again by its tags (this tenant and resource, same
//! names) before a new one is requested; RequestCertificate carries an
//! IdempotencyToken derived from the tenant, the resource, the names and the
//! zone, so a retried request within the hour returns the same certificate.
//! The zone id is part of the token because ACM remembers a token for an
//! hour even after its certificate is deleted: a tenant destroyed and
//! created again gets a new zone, hence a new token. A token that still
//! leads to a deleted or failed certificate moves on to the next of a few
//! numbered tokens.
//!
//! ACM derives a validation CNAME from the domain and the account, not from
//! the certificate: two certificates for the same domain share it, and
//! deleting one removes the record the other renews with.

//!
//! Here are the kind ([`Kind`] impl); beside it its properties (`props`),
//! requesting and finding certificates (`request`), DNS validation
//! (`validate`), tags (`tagging`) and deletion (`delete`).

mod delete;
mod props;
mod request;
mod tagging;
mod validate;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::error::ProvideErrorMetadata;
use aws_sdk_acm::types::CertificateStatus;

use crate::kinds::aws::classify;
use crate::kinds::aws::wait::poll_until;
use crate::kinds::schema::PropSchema;
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx, parse_props,
};
use crate::tenant::tags;
use delete::delete_certificate;
use props::{CertificateProps, NAME, OUTPUTS, SCHEMA};
use request::{
    CertInfo, describe, failed, is, is_failed, list_certificates, ours_for_domain, request,
};
use tagging::{cert_tags, ensure_tags};
use validate::{records_output, validation_zone, write_records};

/// Extra tag: the zone the validation records were written into, so that a
/// sweep (state lost) can remove them.
pub const VALIDATION_ZONE_TAG: &str = "envctl:validation-zone";
/// The DNS validation records (DomainValidationOptions[].ResourceRecord)
/// appear some seconds after the request. One apply polls this long ...
const RECORDS_POLL: Duration = Duration::from_secs(30);
/// ... and the engine retries apply until this much time has passed:
/// terraform-provider-aws waits 5 minutes for them
/// (internal/service/acm/certificate.go,
/// `certificateDNSValidationAssignmentTimeout`).
const RECORDS_WITHIN: Duration = Duration::from_secs(5 * 60);

pub struct Certificate;

fn outputs(info: &CertInfo, zone_id: Option<&str>) -> Outputs {
    Outputs::new()
        .plain("arn", info.arn.clone())
        .plain("domain", info.domain.clone())
        .plain("zone_id", zone_id.unwrap_or(""))
        .plain("validation_records", records_output(&info.records))
}

#[async_trait]
impl Kind for Certificate {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "acm"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// With the CNAMEs in Route53, a DNS-validated certificate is typically
    /// ISSUED about five minutes after the request; AWS documents up to 30
    /// minutes (and gives up after 72 hours: VALIDATION_TIMED_OUT).
    fn expected(&self) -> Duration {
        Duration::from_secs(5 * 60)
    }

    /// Past the documented 30 minutes.
    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(40 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        let p: CertificateProps = parse_props(props)?;
        let wanted = p.wanted()?;
        let zone = match &wanted.zone_id {
            Some(z) => Some(validation_zone(cx, z, &wanted).await?),
            None => None,
        };
        let acm = &cx.backends.aws.acm;

        let ours = ours_for_domain(cx, &wanted.domain).await?;
        let mut cert = match ours.iter().find(|c| c.usable() && c.names_match(&wanted)) {
            Some(c) => c.clone(),
            None => {
                // A failed request of these names is reported, not repeated.
                if let Some(f) = ours.iter().find(|c| is_failed(c) && c.names_match(&wanted)) {
                    return Err(failed(f));
                }
                request(cx, &wanted).await?
            }
        };
        ensure_tags(cx, &cert.arn, &wanted).await?;
        // Earlier certificates of this resource that failed or have other
        // names: remove them unless a listener still holds them (then the
        // sweep of a destroy does).
        for stale in ours.iter().filter(|c| c.arn != cert.arn) {
            match acm
                .delete_certificate()
                .certificate_arn(&stale.arn)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.code(),
                        Some("ResourceNotFoundException" | "ResourceInUseException")
                    ) => {}
                Err(e) => return Err(classify(&format!("DeleteCertificate {}", stale.arn), e)),
            }
        }

        if cert.records_pending {
            let arn = cert.arn.clone();
            let published = poll_until(RECORDS_POLL, || async {
                let now = describe(acm, &arn)
                    .await?
                    .ok_or_else(|| KindError::Transient(format!("certificate {arn} vanished")))?;
                Ok((!now.records_pending || is_failed(&now)).then_some(now))
            })
            .await?;
            match published {
                Some(now) if is_failed(&now) => return Err(failed(&now)),
                Some(now) => cert = now,
                None => {
                    return Err(KindError::waiting(
                        format!(
                            "certificate {arn} ({}): ACM has not published the DNS validation \
                             records yet",
                            wanted.domain
                        ),
                        "ACM to publish the certificate's DNS validation records",
                        RECORDS_WITHIN,
                    ));
                }
            }
        }
        if let Some(zone) = &zone {
            write_records(&cx.backends.aws.route53, zone, &cert.records).await?;
        }
        Ok(outputs(&cert, wanted.zone_id.as_deref()))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let arn = out.require("arn")?;
        let Some(c) = describe(&cx.backends.aws.acm, arn).await? else {
            return Err(KindError::Permanent(format!(
                "certificate {arn} no longer exists"
            )));
        };
        match &c.status {
            Some(CertificateStatus::Issued) => Ok(Readiness::Ready),
            Some(CertificateStatus::PendingValidation) | None => Ok(Readiness::Pending(format!(
                "certificate for {} is PENDING_VALIDATION: waiting for ACM to resolve the DNS \
                 validation records through the zone's delegation",
                c.domain
            ))),
            Some(CertificateStatus::Failed) => Err(failed(&c)),
            Some(other) => Err(KindError::Permanent(format!(
                "certificate for {} is {} and will not become ISSUED; delete it and apply again",
                c.domain,
                other.as_str()
            ))),
        }
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        delete_certificate(cx, out).await
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let acm = &cx.backends.aws.acm;
        let tenant = cx.tenant.as_str();
        let mut found = Vec::new();
        for (arn, _) in list_certificates(acm).await? {
            let Some(t) = cert_tags(acm, &arn).await? else {
                continue;
            };
            if !is(&t, tags::TENANT, tenant) || !is(&t, tags::MANAGED, "true") {
                continue;
            }
            let Some(resource_id) = t.get(tags::RESOURCE) else {
                continue;
            };
            let Some(info) = describe(acm, &arn).await? else {
                continue;
            };
            found.push(Found {
                resource_id: resource_id.clone(),
                outputs: outputs(&info, t.get(VALIDATION_ZONE_TAG).map(String::as_str)),
            });
        }
        Ok(found)
    }
}
