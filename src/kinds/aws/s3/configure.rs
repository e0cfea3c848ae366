//! The configuration of an `aws.s3.bucket`, converged on every apply: its
//! tags (refusing another tenant's bucket), default encryption and public
//! access block ([`hardening`], shared with the value store), versioning,
//! lifecycle and CORS.

use std::collections::BTreeMap;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{BucketVersioningStatus, Tagging, VersioningConfiguration};

use super::FORCE_DESTROY_TAG;
use super::props::{CorsRule, Lifecycle};
use crate::aws::hardening;
use crate::kinds::aws::tags::{sdk_tags, tag_map};
use crate::kinds::aws::{HttpStatus, call, classify, owner};
use crate::kinds::{Cx, KindError};

/// The bucket's tags; empty when it has none.
pub(super) async fn bucket_tags(
    s3: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, KindError> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(Some(tag_map(out.tag_set()))),
        Err(e) if e.code() == Some("NoSuchTagSet") => Ok(Some(BTreeMap::new())),
        Err(e) if e.code() == Some("NoSuchBucket") => Ok(None),
        Err(e) => Err(classify(&format!("GetBucketTagging {name}"), e)),
    }
}

/// An error while configuring a bucket we have just found or created:
/// NoSuchBucket then means bucket-level changes have not propagated yet
/// (they are eventually consistent), which a retry fixes.
fn configure_error<E, R>(what: &str, e: aws_sdk_s3::error::SdkError<E, R>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    call::not_visible_yet(
        what,
        e,
        |c| c == "NoSuchBucket",
        "the new bucket is not visible yet",
    )
}

/// Converges the bucket's tags: ours (plus the force-destroy tag) over
/// whatever else it carries. Refuses a bucket of another tenant.
pub(super) async fn ensure_tags(
    cx: &Cx,
    s3: &aws_sdk_s3::Client,
    name: &str,
    force_destroy: bool,
) -> Result<(), KindError> {
    let existing = bucket_tags(s3, name).await?.unwrap_or_default();
    owner::refuse_foreign(&format!("bucket {name}"), &existing, cx)?;
    let mut wanted = existing.clone();
    wanted.extend(cx.tags());
    wanted.insert(FORCE_DESTROY_TAG.to_string(), force_destroy.to_string());
    if wanted == existing {
        return Ok(());
    }
    let tagging = Tagging::builder()
        .set_tag_set(Some(sdk_tags(wanted)?))
        .build()
        .map_err(|e| call::permanent("tagging", e))?;
    s3.put_bucket_tagging()
        .bucket(name)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| configure_error(&format!("PutBucketTagging {name}"), e))?;
    Ok(())
}

/// Default encryption (SSE-S3) and every public-access block
/// ([`hardening`]).
pub(super) async fn harden(s3: &aws_sdk_s3::Client, name: &str) -> Result<(), KindError> {
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(hardening::default_encryption())
        .send()
        .await
        .map_err(|e| configure_error(&format!("PutBucketEncryption {name}"), e))?;
    s3.put_public_access_block()
        .bucket(name)
        .public_access_block_configuration(hardening::private_access())
        .send()
        .await
        .map_err(|e| configure_error(&format!("PutPublicAccessBlock {name}"), e))?;
    Ok(())
}

pub(super) async fn ensure_versioning(
    s3: &aws_sdk_s3::Client,
    name: &str,
    versioning: Option<bool>,
) -> Result<(), KindError> {
    let wanted = match versioning {
        None => return Ok(()),
        // Idempotent: no need to look first.
        Some(true) => BucketVersioningStatus::Enabled,
        Some(false) => {
            let enabled = match s3.get_bucket_versioning().bucket(name).send().await {
                Ok(current) => current.status() == Some(&BucketVersioningStatus::Enabled),
                // moto 5.2 answers with the root element
                // GetBucketVersioningResponse instead of VersioningConfiguration,
                // which the SDK refuses to parse: read the status from the body.
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => e
                    .raw_response()
                    .and_then(|r| r.body().bytes())
                    .is_some_and(|b| {
                        String::from_utf8_lossy(b).contains("<Status>Enabled</Status>")
                    }),
                Err(e) => return Err(configure_error(&format!("GetBucketVersioning {name}"), e)),
            };
            // A bucket that was never versioned stays so; one that was can
            // only be suspended.
            if !enabled {
                return Ok(());
            }
            BucketVersioningStatus::Suspended
        }
    };
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(wanted).build())
        .send()
        .await
        .map_err(|e| configure_error(&format!("PutBucketVersioning {name}"), e))?;
    Ok(())
}

/// Puts the whole lifecycle configuration (a PUT replaces it: idempotent).
pub(super) async fn put_lifecycle(
    s3: &aws_sdk_s3::Client,
    name: &str,
    l: &Lifecycle,
) -> Result<(), KindError> {
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
        LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    };
    let mut rule = LifecycleRule::builder()
        .id("envctl")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(l.abort_incomplete_upload_days)
                .build(),
        );
    if let Some(d) = l.expire_days {
        rule = rule.expiration(LifecycleExpiration::builder().days(d).build());
    }
    if let Some(d) = l.noncurrent_expire_days {
        rule = rule.noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(d)
                .build(),
        );
    }
    let rule = rule
        .build()
        .map_err(|e| call::permanent("lifecycle rule", e))?;
    let config = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| call::permanent("lifecycle configuration", e))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(config)
        .send()
        .await
        .map_err(|e| configure_error(&format!("PutBucketLifecycleConfiguration {name}"), e))?;
    Ok(())
}

/// Puts the whole CORS configuration (a PUT replaces it: idempotent).
pub(super) async fn put_cors(
    s3: &aws_sdk_s3::Client,
    name: &str,
    rules: &[CorsRule],
) -> Result<(), KindError> {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule as SdkCorsRule};
    let mut config = CorsConfiguration::builder();
    for r in rules {
        let rule = SdkCorsRule::builder()
            .set_allowed_origins(Some(r.allowed_origins.clone()))
            .set_allowed_methods(Some(
                r.allowed_methods
                    .iter()
                    .map(|m| m.as_str().to_string())
                    .collect(),
            ))
            .set_allowed_headers(Some(r.allowed_headers.clone()))
            .set_max_age_seconds(r.max_age_seconds)
            .build()
            .map_err(|e| call::permanent("cors rule", e))?;
        config = config.cors_rules(rule);
    }
    let config = config
        .build()
        .map_err(|e| call::permanent("cors configuration", e))?;
    s3.put_bucket_cors()
        .bucket(name)
        .cors_configuration(config)
        .send()
        .await
        .map_err(|e| configure_error(&format!("PutBucketCors {name}"), e))?;
    Ok(())
}
