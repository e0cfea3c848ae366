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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::error::ProvideErrorMetadata;
use aws_sdk_acm::types::{CertificateStatus, KeyAlgorithm, ValidationMethod};
use aws_sdk_route53::types::{ChangeAction, ResourceRecord, ResourceRecordSet, RrType};
use schemars::JsonSchema;
use serde::Deserialize;

use super::classify;
use super::route53::api::{
    ZoneInfo, bare_zone_id, change, get_zone, record_set, submit, zone_tags,
};
use super::route53::dns_name::{certificate_name_problem, dns_name, normalize_domain, reserved};
use super::tags::sdk_tags;
use super::wait::poll_until;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::tags;

/// Extra tag: the zone the validation records were written into, so that a
/// sweep (state lost) can remove them.
pub const VALIDATION_ZONE_TAG: &str = "envctl:validation-zone";
/// Numbered idempotency tokens tried when one leads to a deleted
/// certificate (never to a FAILED one: that is reported, not re-requested).
const TOKEN_GENERATIONS: u32 = 3;
/// "After successful completion of the RequestCertificate action, there is
/// a delay of several seconds before you can retrieve information about the
/// new certificate" (ACM API reference, RequestCertificate). A certificate
/// the token leads to that stays invisible this long was deleted.
const VISIBLE_WITHIN: Duration = Duration::from_secs(15);
/// The DNS validation records (DomainValidationOptions[].ResourceRecord)
/// appear some seconds after the request. One apply polls this long ...
const RECORDS_POLL: Duration = Duration::from_secs(30);
/// ... and the engine retries apply until this much time has passed:
/// terraform-provider-aws waits 5 minutes for them
/// (internal/service/acm/certificate.go,
/// `certificateDNSValidationAssignmentTimeout`).
const RECORDS_WITHIN: Duration = Duration::from_secs(5 * 60);
/// TTL of the validation CNAMEs.
const VALIDATION_TTL: i64 = 300;

pub struct Certificate;

/// A public ACM certificate validated by DNS, ready once ISSUED.
///
/// With `zone_id`, its validation CNAMEs are written into that Route53
/// zone (and removed with it). Rules: ACM API reference, RequestCertificate
/// (`DomainName` and each `SubjectAlternativeNames` entry 1-253 characters,
/// labels of at most 63, one leading `*.` at most) and the quota "Domain
/// names per ACM certificate" (10 by default); no name reserved by RFC
/// 2606/6761, which no public CA certifies.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CertificateProps {
    /// The certificate's domain, e.g. `acme.example.com` or `${zone.name}`
    /// (a leading `*.` makes it a wildcard).
    domain: String,
    /// Further names on the certificate, e.g. `[www.acme.example.com]`;
    /// default `[*.<domain>]` (`[]` for none).
    #[serde(default)]
    subject_alternative_names: Option<Vec<String>>,
    /// The Route53 zone to write the DNS validation CNAMEs into, e.g.
    /// `${zone.zone_id}`; absent: create the records of the
    /// `validation_records` output yourself.
    #[serde(default)]
    zone_id: Option<String>,
}

/// Names ACM puts on one certificate by default (quota "Domain names per
/// ACM certificate").
const MAX_NAMES: usize = 10;

impl KindProps for CertificateProps {
    /// Each literal name is one ACM certifies ([`certificate_name_problem`])
    /// and not reserved ([`reserved`]: no public CA certifies those, so the
    /// request could only fail or time out); at most [`MAX_NAMES`] names.
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        let mut name = |path: &[&str], raw: &str| {
            if is_ref(raw) {
                return;
            }
            if let Some(why) = certificate_name_problem(raw) {
                issues.push(PropIssue::new(
                    path,
                    format!("'{raw}' is not a name ACM certifies: {why}"),
                ));
            } else if let Some(why) = reserved(raw) {
                issues.push(PropIssue::new(
                    path,
                    format!(
                        "'{raw}' cannot get a public certificate: {why}; use a domain registered \
                         in the public DNS (ENVCTL_DOMAIN / --domain, ${{envctl.domain}})"
                    ),
                ));
            }
        };
        name(&["domain"], &self.domain);
        if let Some(list) = &self.subject_alternative_names {
            for (i, raw) in list.iter().enumerate() {
                name(&["subject_alternative_names", &i.to_string()], raw);
            }
            if list.len() + 1 > MAX_NAMES {
                issues.push(PropIssue::new(
                    &["subject_alternative_names"],
                    format!(
                        "{} names in one certificate; ACM allows {MAX_NAMES} by default (quota \
                         \"Domain names per ACM certificate\"): list at most {} here",
                        list.len() + 1,
                        MAX_NAMES - 1
                    ),
                ));
            }
        }
        issues
    }
}

const NAME: &str = "aws.acm.certificate";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<CertificateProps>(NAME));

/// The names and zone of a certificate, normalized.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Wanted {
    domain: String,
    /// Sorted, without the domain itself.
    sans: Vec<String>,
    zone_id: Option<String>,
}

/// A certificate name: a domain, optionally with a leading `*.`.
fn normalize_cert_name(prop: &str, raw: &str) -> Result<String, KindError> {
    let t = raw.trim();
    match t.strip_prefix("*.") {
        Some(rest) => Ok(format!("*.{}", normalize_domain(prop, rest)?)),
        None => normalize_domain(prop, t),
    }
}

impl CertificateProps {
    fn wanted(&self) -> Result<Wanted, KindError> {
        let domain = normalize_cert_name("domain", &self.domain)?;
        let sans = match &self.subject_alternative_names {
            Some(list) => list
                .iter()
                .map(|s| normalize_cert_name("subject_alternative_names", s))
                .collect::<Result<Vec<_>, _>>()?,
            None if domain.starts_with("*.") => Vec::new(),
            None => vec![format!("*.{domain}")],
        };
        let sans: BTreeSet<String> = sans.into_iter().filter(|s| *s != domain).collect();
        // ACM allows up to 10 names by default (quota "Domain names per ACM
        // certificate").
        if sans.len() + 1 > MAX_NAMES {
            return Err(KindError::Permanent(format!(
                "properties: {} names in one certificate; ACM allows {MAX_NAMES} by default",
                sans.len() + 1
            )));
        }
        let zone_id = self
            .zone_id
            .as_deref()
            .map(|z| bare_zone_id(z).to_string())
            .filter(|z| !z.is_empty());
        Ok(Wanted {
            domain,
            sans: sans.into_iter().collect(),
            zone_id,
        })
    }
}

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "the certificate ARN (for load balancer listeners)",
    },
    OutputSpec {
        name: "domain",
        secret: false,
        doc: "the certificate's domain",
    },
    OutputSpec {
        name: "zone_id",
        secret: false,
        doc: "the zone holding the validation records (empty without zone_id)",
    },
    OutputSpec {
        name: "validation_records",
        secret: false,
        doc: "the DNS validation CNAMEs, comma-separated name=value pairs",
    },
];

fn permanent(what: &str, e: impl std::fmt::Display) -> KindError {
    KindError::Permanent(format!("{what}: {e}"))
}

/// The idempotency token of one request: 32 hex digits (ACM allows up to 32
/// word characters).
fn token(tenant: &str, resource_id: &str, wanted: &Wanted, generation: u32) -> String {
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
struct CertInfo {
    arn: String,
    domain: String,
    /// Sorted, without the domain itself.
    sans: Vec<String>,
    status: Option<CertificateStatus>,
    failure: Option<String>,
    in_use_by: Vec<String>,
    /// Validation CNAMEs (name, value), normalized, one per name.
    records: Vec<(String, String)>,
    /// Some names have no validation record yet.
    records_pending: bool,
}

impl CertInfo {
    fn usable(&self) -> bool {
        matches!(
            self.status,
            Some(CertificateStatus::PendingValidation | CertificateStatus::Issued)
        )
    }

    fn names_match(&self, wanted: &Wanted) -> bool {
        self.domain == wanted.domain && self.sans == wanted.sans
    }
}

/// DescribeCertificate; `None` when there is no such certificate.
async fn describe(acm: &aws_sdk_acm::Client, arn: &str) -> Result<Option<CertInfo>, KindError> {
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

/// The certificate's tags; `None` when it is gone.
async fn cert_tags(
    acm: &aws_sdk_acm::Client,
    arn: &str,
) -> Result<Option<BTreeMap<String, String>>, KindError> {
    match acm
        .list_tags_for_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
                .collect(),
        )),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(classify(&format!("ListTagsForCertificate {arn}"), e)),
    }
}

/// Every certificate of the account and region: (ARN, domain).
async fn list_certificates(acm: &aws_sdk_acm::Client) -> Result<Vec<(String, String)>, KindError> {
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

fn is(t: &BTreeMap<String, String>, key: &str, value: &str) -> bool {
    t.get(key).map(String::as_str) == Some(value)
}

/// This resource's certificates for `domain` (found by their tags).
async fn ours_for_domain(cx: &Cx, domain: &str) -> Result<Vec<CertInfo>, KindError> {
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

fn wanted_tags(cx: &Cx, wanted: &Wanted) -> Vec<(String, String)> {
    let mut t = cx.tags();
    if let Some(z) = &wanted.zone_id {
        t.push((VALIDATION_ZONE_TAG.to_string(), z.clone()));
    }
    t
}

/// Describes a certificate that was just requested; DescribeCertificate is
/// eventually consistent, so a missing one is asked for again, up to
/// [`VISIBLE_WITHIN`].
async fn describe_new(acm: &aws_sdk_acm::Client, arn: &str) -> Result<Option<CertInfo>, KindError> {
    poll_until(VISIBLE_WITHIN, || describe(acm, arn)).await
}

/// What ACM's FailureReason means for the user, and what to do (ACM User
/// Guide, "Troubleshoot certificate requests" / "Certificate request
/// fails"; API reference, CertificateDetail.FailureReason).
fn failure_advice(reason: Option<&str>) -> &'static str {
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
fn failed(info: &CertInfo) -> KindError {
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
fn is_failed(info: &CertInfo) -> bool {
    info.status == Some(CertificateStatus::Failed)
}

/// RequestCertificate with DNS validation, tags and the idempotency token.
async fn request(cx: &Cx, wanted: &Wanted) -> Result<CertInfo, KindError> {
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

/// Adds our tags where they are missing or differ; refuses a certificate of
/// another tenant.
async fn ensure_tags(cx: &Cx, arn: &str, wanted: &Wanted) -> Result<(), KindError> {
    let acm = &cx.backends.aws.acm;
    let existing = cert_tags(acm, arn).await?.ok_or_else(|| {
        KindError::Transient(format!(
            "certificate {arn} vanished while it was being set up"
        ))
    })?;
    super::owner::refuse_foreign(&format!("certificate {arn}"), &existing, cx)?;
    let missing: Vec<(String, String)> = wanted_tags(cx, wanted)
        .into_iter()
        .filter(|(k, v)| existing.get(k) != Some(v))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    acm.add_tags_to_certificate()
        .certificate_arn(arn)
        .set_tags(Some(sdk_tags(missing.iter().cloned())?))
        .send()
        .await
        .map_err(|e| classify(&format!("AddTagsToCertificate {arn}"), e))?;
    Ok(())
}

/// The zone, checked: it exists, is not another tenant's, and covers every
/// name of the certificate.
async fn validation_zone(cx: &Cx, zone_id: &str, wanted: &Wanted) -> Result<ZoneInfo, KindError> {
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
async fn write_records(
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
async fn remove_records(
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

fn records_output(records: &[(String, String)]) -> String {
    records
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_records(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|pair| {
            let (n, v) = pair.split_once('=')?;
            let (n, v) = (dns_name(n), dns_name(v));
            (!n.is_empty() && !v.is_empty()).then_some((n, v))
        })
        .collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: serde_json::Value) -> CertificateProps {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn names_default_to_the_wildcard_and_are_normalized() {
        let w =
            props(serde_json::json!({"domain": "Acme.Example.test.", "zone_id": "/hostedzone/Z1"}))
                .wanted()
                .unwrap();
        assert_eq!(w.domain, "acme.example.test");
        assert_eq!(w.sans, vec!["*.acme.example.test".to_string()]);
        assert_eq!(w.zone_id.as_deref(), Some("Z1"));
        let none = props(serde_json::json!({"domain": "a.test", "subject_alternative_names": []}))
            .wanted()
            .unwrap();
        assert!(none.sans.is_empty());
        let dup = props(serde_json::json!({
            "domain": "a.test", "subject_alternative_names": ["b.a.test", "A.test", "b.a.test"]
        }))
        .wanted()
        .unwrap();
        assert_eq!(dup.sans, vec!["b.a.test".to_string()]);
        let wild = props(serde_json::json!({"domain": "*.a.test"}))
            .wanted()
            .unwrap();
        assert!(wild.sans.is_empty());
        assert!(
            props(serde_json::json!({"domain": "not a name"}))
                .wanted()
                .is_err()
        );
        assert!(
            serde_json::from_value::<CertificateProps>(
                serde_json::json!({"domain": "a.test", "zone": "Z"})
            )
            .is_err()
        );
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

    #[test]
    fn literal_names_break_acm_rules_or_reserved_domains_at_validation() {
        let check = |v: serde_json::Value| {
            Certificate
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| format!("{}: {}", i.path.join("."), i.message))
                .collect::<Vec<_>>()
        };
        assert!(check(serde_json::json!({"domain": "acme.envctl-demo.net"})).is_empty());
        assert!(check(serde_json::json!({"domain": "${zone.name}"})).is_empty());
        let m = check(serde_json::json!({"domain": "acme.example.test"}));
        assert!(
            m[0].starts_with("domain: 'acme.example.test' cannot get a public"),
            "{m:?}"
        );
        let m = check(serde_json::json!({
            "domain": "a.envctl-demo.net",
            "subject_alternative_names": ["*.*.envctl-demo.net", "www.example.com"]
        }));
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].starts_with("subject_alternative_names.0: "), "{m:?}");
        assert!(m[1].contains("RFC 2606"), "{m:?}");
        let many: Vec<String> = (0..10).map(|i| format!("s{i}.envctl-demo.net")).collect();
        let m = check(
            serde_json::json!({"domain": "a.envctl-demo.net", "subject_alternative_names": many}),
        );
        assert!(m[0].contains("11 names"), "{m:?}");
    }

    #[test]
    fn wrong_types_and_unknown_fields_are_refused_naming_the_field() {
        let check = |v: serde_json::Value| {
            Certificate
                .check(v.as_object().unwrap())
                .into_iter()
                .map(|i| format!("{}: {}", i.path.join("."), i.message))
                .collect::<Vec<_>>()
        };
        let m = check(serde_json::json!({"domain": 5}));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("domain: must be a string"), "{m:?}");
        let m = check(serde_json::json!({
            "domain": "a.envctl-demo.net", "subject_alternative_names": "b.envctl-demo.net"
        }));
        assert!(
            m[0].starts_with("subject_alternative_names: must be a list"),
            "{m:?}"
        );
        let m = check(serde_json::json!({
            "domain": "a.envctl-demo.net", "subject_alternative_names": [true]
        }));
        assert!(
            m[0].starts_with("subject_alternative_names.0: must be a string"),
            "{m:?}"
        );
        // An unknown top-level property is stack validation's to word (with
        // its did-you-mean); the kind refuses it when called directly.
        let unknown = serde_json::json!({"domain": "a.envctl-demo.net", "zone": "Z1"});
        assert!(check(unknown.clone()).is_empty());
        let props = unknown.as_object().unwrap().clone();
        let err = SCHEMA
            .parse::<CertificateProps>(&props)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("zone"), "{err}");
        assert!(
            check(serde_json::json!({
                "domain": "${zone.name}", "subject_alternative_names": ["${x.y}"],
                "zone_id": "${zone.zone_id}"
            }))
            .is_empty()
        );
    }
}
