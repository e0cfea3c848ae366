//! Requesting a certificate (DNS validation, tags, a numbered idempotency
//! token), finding this resource's certificates again by their tags, and
//! reading one (DescribeCertificate) — with what a FAILED one means.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_acm::error::ProvideErrorMetadata;
use aws_sdk_acm::types::{CertificateStatus, KeyAlgorithm, ValidationMethod};

use super::props::Wanted;
use super::tagging::{cert_tags, wanted_tags};
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::Tags;
use crate::kinds::aws::route53::dns_name::dns_name;
use crate::kinds::aws::tags::sdk_tags;
use crate::kinds::aws::wait::poll_until;
use crate::kinds::{Cx, KindError};
use crate::tenant::tags;

/// Numbered idempotency tokens tried when one leads to a deleted
/// certificate (never to a FAILED one: that is reported, not re-requested).
const TOKEN_GENERATIONS: u32 = 3;
/// "After successful completion of the RequestCertificate action, there is
/// a delay of several seconds before you can retrieve information about the
/// new certificate" (ACM API reference, RequestCertificate). A certificate
/// the token leads to that stays invisible this long was deleted.
const VISIBLE_WITHIN: Duration = Duration::from_secs(15);

/// The idempotency token of one request: 32 hex digits (ACM allows up to 32
/// word characters).
pub(super) fn token(tenant: &str, resource_id: &str, wanted: &Wanted, generation: u32) -> String {
    use sha2::{Digest, Sha256};
    let input = format!(
        "envctl-acm\n{tenant}\n{resource_id}\n{}\n{}\n{}\n{generation}",
        wanted.domain,
        wanted.sans.join(","),
        wanted.zone_id.as_deref().unwrap_or("")
    );
    hex::encode(Sha256::digest(input.as_bytes()))[..32].to_string()
}

/// What envctl needs to know of a certificate.
#[derive(Clone, Debug)]
pub(super) struct CertInfo {
    pub(super) arn: String,
    pub(super) domain: String,
    /// Sorted, without the domain itself.
    pub(super) sans: Vec<String>,
    pub(super) status: Option<CertificateStatus>,
    pub(super) failure: Option<String>,
    pub(super) in_use_by: Vec<String>,
    /// Validation CNAMEs (name, value), normalized, one per name.
    pub(super) records: Vec<(String, String)>,
    /// Some names have no validation record yet.
    pub(super) records_pending: bool,
}

impl CertInfo {
    pub(super) fn usable(&self) -> bool {
        matches!(
            self.status,
            Some(CertificateStatus::PendingValidation | CertificateStatus::Issued)
        )
    }

    pub(super) fn names_match(&self, wanted: &Wanted) -> bool {
        self.domain == wanted.domain && self.sans == wanted.sans
    }
}

/// DescribeCertificate; `None` when there is no such certificate.
pub(super) async fn describe(
    acm: &aws_sdk_acm::Client,
    arn: &str,
) -> Result<Option<CertInfo>, KindError> {
    let out = match acm.describe_certificate().certificate_arn(arn).send().await {
        Ok(out) => out,
        Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(classify(&format!("DescribeCertificate {arn}"), e)),
    };
    let Some(c) = out.certificate() else {
        return Ok(None);
    };
    let domain = c.domain_name().unwrap_or_default().to_ascii_lowercase();
    let sans: BTreeSet<String> = c
        .subject_alternative_names()
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| *s != domain)
        .collect();
    let mut records: BTreeMap<String, String> = BTreeMap::new();
    let mut records_pending = false;
    for dv in c.domain_validation_options() {
        match dv.resource_record() {
            Some(r) => {
                records.insert(dns_name(r.name()), dns_name(r.value()));
            }
            None => records_pending = true,
        }
    }
    if c.domain_validation_options().is_empty() {
        records_pending = true;
    }
    Ok(Some(CertInfo {
        arn: arn.to_string(),
        domain,
        sans: sans.into_iter().collect(),
        status: c.status().cloned(),
        failure: c.failure_reason().map(|f| f.as_str().to_string()),
        in_use_by: c.in_use_by().to_vec(),
        records: records.into_iter().collect(),
        records_pending,
    }))
}

/// Every certificate of the account and region: (ARN, domain).
pub(super) async fn list_certificates(
    acm: &aws_sdk_acm::Client,
) -> Result<Vec<(String, String)>, KindError> {
    let mut certs = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = acm
            .list_certificates()
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| classify("ListCertificates", e))?;
        for s in page.certificate_summary_list() {
            if let Some(arn) = s.certificate_arn() {
                certs.push((
                    arn.to_string(),
                    s.domain_name().unwrap_or_default().to_ascii_lowercase(),
                ));
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(certs)
}

pub(super) fn is(t: &Tags, key: &str, value: &str) -> bool {
    t.get(key).map(String::as_str) == Some(value)
}

/// This resource's certificates for `domain` (found by their tags).
pub(super) async fn ours_for_domain(cx: &Cx, domain: &str) -> Result<Vec<CertInfo>, KindError> {
    let acm = &cx.backends.aws.acm;
    let mut ours = Vec::new();
    for (arn, d) in list_certificates(acm).await? {
        if d != domain {
            continue;
        }
        let Some(t) = cert_tags(acm, &arn).await? else {
            continue;
        };
        if !is(&t, tags::TENANT, cx.tenant.as_str()) || !is(&t, tags::RESOURCE, &cx.resource_id) {
            continue;
        }
        if let Some(info) = describe(acm, &arn).await? {
            ours.push(info);
        }
    }
    Ok(ours)
}

/// Describes a certificate that was just requested; DescribeCertificate is
/// eventually consistent, so a missing one is asked for again, up to
/// [`VISIBLE_WITHIN`].
pub(super) async fn describe_new(
    acm: &aws_sdk_acm::Client,
    arn: &str,
) -> Result<Option<CertInfo>, KindError> {
    poll_until(VISIBLE_WITHIN, || describe(acm, arn)).await
}

/// What ACM's FailureReason means for the user, and what to do (ACM User
/// Guide, "Troubleshoot certificate requests" / "Certificate request
/// fails"; API reference, CertificateDetail.FailureReason).
pub(super) fn failure_advice(reason: Option<&str>) -> &'static str {
    match reason {
        Some("CAA_ERROR") => {
            "a CAA record of the domain or of a parent domain does not let Amazon issue \
             certificates: add a CAA record allowing amazon.com (or remove the restricting one)"
        }
        Some("INVALID_PUBLIC_DOMAIN") => {
            "a name is not a valid public domain (a reserved or unregistered top-level domain, \
             say): use a domain registered in the public DNS (ENVCTL_DOMAIN / --domain)"
        }
        Some("DOMAIN_NOT_ALLOWED") => {
            "ACM does not issue for one of the names (a blocked domain, or one such as \
             amazonaws.com): use a domain of your own"
        }
        Some("ADDITIONAL_VERIFICATION_REQUIRED") | Some("DOMAIN_VALIDATION_DENIED") => {
            "Amazon's certificate authority needs more information before it issues for this \
             domain: contact AWS Support"
        }
        Some("NO_AVAILABLE_CONTACTS") => {
            "no contact address was found for email validation: use DNS validation (envctl's \
             default) with zone_id set"
        }
        _ => "see https://docs.aws.amazon.com/acm/latest/userguide/troubleshooting-failed.html",
    }
}

/// A FAILED certificate as a permanent error: ACM's reason and what to do.
/// ACM does not retry a failed request and neither does envctl: a new
/// request would fail the same way (no storm of failed certificates).
pub(super) fn failed(info: &CertInfo) -> KindError {
    KindError::Permanent(format!(
        "certificate {} for {} FAILED: ACM's reason is {}; {}. Then delete the failed \
         certificate (aws acm delete-certificate --certificate-arn {}, or envctl destroy) and \
         run again",
        info.arn,
        info.domain,
        info.failure.as_deref().unwrap_or("not given"),
        failure_advice(info.failure.as_deref()),
        info.arn
    ))
}

/// Whether a certificate is FAILED.
pub(super) fn is_failed(info: &CertInfo) -> bool {
    info.status == Some(CertificateStatus::Failed)
}

/// RequestCertificate with DNS validation, tags and the idempotency token.
pub(super) async fn request(cx: &Cx, wanted: &Wanted) -> Result<CertInfo, KindError> {
    let acm = &cx.backends.aws.acm;
    for generation in 0..TOKEN_GENERATIONS {
        let out = acm
            .request_certificate()
            .domain_name(&wanted.domain)
            .validation_method(ValidationMethod::Dns)
            .set_subject_alternative_names(if wanted.sans.is_empty() {
                None
            } else {
                Some(wanted.sans.clone())
            })
            .idempotency_token(token(
                cx.tenant.as_str(),
                &cx.resource_id,
                wanted,
                generation,
            ))
            .key_algorithm(KeyAlgorithm::Rsa2048)
            .set_tags(Some(sdk_tags(wanted_tags(cx, wanted).iter().cloned())?))
            .send()
            .await
            .map_err(|e| classify(&format!("RequestCertificate {}", wanted.domain), e))?;
        let arn = out.certificate_arn().ok_or_else(|| {
            KindError::Transient(format!(
                "RequestCertificate {}: no ARN in the answer",
                wanted.domain
            ))
        })?;
        match describe_new(acm, arn).await? {
            // The token of the last hour led to a certificate that was
            // deleted (or expired, revoked): ask again with the next one.
            None => continue,
            Some(info) if is_failed(&info) => return Err(failed(&info)),
            Some(info) if !info.usable() => continue,
            Some(info) => return Ok(info),
        }
    }
    Err(KindError::Permanent(format!(
        "RequestCertificate {}: {TOKEN_GENERATIONS} idempotency tokens all lead to deleted or \
         failed certificates (ACM keeps tokens for an hour); try again later",
        wanted.domain
    )))
}

#[cfg(test)]
mod tests {
    use super::super::props::CertificateProps;
    use super::*;

    fn props(v: serde_json::Value) -> CertificateProps {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn tokens_are_short_alphanumeric_and_distinct() {
        let w = props(serde_json::json!({"domain": "a.test", "zone_id": "Z1"}))
            .wanted()
            .unwrap();
        let t = token("acme", "cert", &w, 0);
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(t, token("acme", "cert", &w, 0));
        assert_ne!(t, token("acme", "cert", &w, 1));
        assert_ne!(t, token("acme", "cert2", &w, 0));
        let other_zone = Wanted {
            zone_id: Some("Z2".into()),
            ..w.clone()
        };
        assert_ne!(t, token("acme", "cert", &other_zone, 0));
    }

    fn cert(status: CertificateStatus, reason: Option<&str>) -> CertInfo {
        CertInfo {
            arn: "arn:aws:acm:us-east-1:123456789012:certificate/1".into(),
            domain: "acme.envctl-demo.net".into(),
            sans: vec![],
            status: Some(status),
            failure: reason.map(str::to_string),
            in_use_by: vec![],
            records: vec![],
            records_pending: false,
        }
    }

    #[test]
    fn a_failed_certificate_is_permanent_with_acms_reason_and_the_fix() {
        let f = cert(CertificateStatus::Failed, Some("CAA_ERROR"));
        assert!(is_failed(&f) && !f.usable());
        let KindError::Permanent(m) = failed(&f) else {
            panic!("a FAILED certificate must be permanent");
        };
        assert!(m.contains("FAILED: ACM's reason is CAA_ERROR"), "{m}");
        assert!(m.contains("CAA record"), "{m}");
        assert!(
            m.contains("delete-certificate --certificate-arn arn:aws:acm"),
            "{m}"
        );
        let KindError::Permanent(m) = failed(&cert(CertificateStatus::Failed, None)) else {
            panic!()
        };
        assert!(
            m.contains("not given") && m.contains("troubleshooting"),
            "{m}"
        );
        assert!(!is_failed(&cert(
            CertificateStatus::PendingValidation,
            None
        )));
    }
}
