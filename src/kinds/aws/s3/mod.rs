//! The `aws.s3.bucket` kind: a private, encrypted S3 bucket per tenant
//! resource, named `envctl-<tenant>-<id>-<account>-<region>-an` in the
//! account regional namespace ([`bucket_names`]), with optional
//! versioning, emptied (all versions and delete markers) before it is
//! deleted unless `force_destroy: false`.
//!
//! This module holds the [`Kind`] impl (apply, ready, delete, sweep); the
//! jobs live in [`props`] (properties, their checks and the outputs),
//! [`create`] (the bucket's name and CreateBucket), [`configure`] (tags,
//! hardening, versioning, lifecycle, CORS), [`empty`] (emptying before
//! delete) and [`bucket_names`] (names no other account can hold).

pub mod bucket_names;
mod configure;
mod create;
mod empty;
mod props;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;

use super::call::partition;
use super::classify;
use super::owner::swept_resource;
use crate::kinds::schema::PropSchema;
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, Props, Readiness, SweepCx, parse_props,
};
use bucket_names::BucketName;
use configure::{bucket_tags, ensure_tags, ensure_versioning, harden, put_cors, put_lifecycle};
use create::{bucket_name, create, legacy_bucket, taken};
use empty::empty;
use props::{BucketProps, NAME, OUTPUTS, SCHEMA};

/// Extra tag: whether `delete` (and a sweep) may empty the bucket first.
pub const FORCE_DESTROY_TAG: &str = "envctl:force-destroy";

pub struct Bucket;

pub(super) fn region(s3: &aws_sdk_s3::Client) -> Option<String> {
    s3.config().region().map(|r| r.as_ref().to_string())
}

fn outputs(s3: &aws_sdk_s3::Client, name: &str, force_destroy: bool) -> Outputs {
    let arn = format!("arn:{}:s3:::{name}", partition(region(s3).as_deref()));
    Outputs::new()
        .plain("name", name)
        .plain("arn", arn)
        .plain("force_destroy", force_destroy.to_string())
}

#[async_trait]
impl Kind for Bucket {
    fn name(&self) -> &'static str {
        NAME
    }

    fn api(&self) -> &'static str {
        "s3"
    }

    fn schema(&self) -> Option<&'static PropSchema> {
        Some(&SCHEMA)
    }

    fn outputs(&self) -> &'static [OutputSpec] {
        OUTPUTS
    }

    /// CreateBucket answers in about a second on AWS and the bucket is usable
    /// at once (S3 is strongly consistent since Dec 2020); with encryption,
    /// public-access block and tagging calls, ~2 s.
    fn expected(&self) -> Duration {
        Duration::from_secs(2)
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(5 * 60)
    }

    async fn apply(&self, cx: &Cx, props: &Props) -> Result<Outputs, KindError> {
        // The schema's and S3's rules, also when apply is called without
        // the engine's check (the calls below would refuse them later).
        if let Some(issue) = self.check(props).into_iter().next() {
            return Err(KindError::Permanent(issue.sentence()));
        }
        let p: BucketProps = parse_props(props)?;
        let s3 = &cx.backends.aws.s3;
        let account = cx.backends.aws.identity.account_id().await?;
        let bucket = match legacy_bucket(cx, s3, &account).await? {
            Some(old) => BucketName::global(old),
            None => bucket_name(cx).await?,
        };
        let name = bucket.name.clone();
        // ExpectedBucketOwner: a bucket of this name held by another account
        // answers 403 (S3 User Guide, "Verifying bucket ownership with bucket
        // owner condition").
        match s3
            .head_bucket()
            .bucket(&name)
            .expected_bucket_owner(&account)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {
                create(cx, s3, &bucket).await?;
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                return Err(KindError::Permanent(taken("HeadBucket", &name)));
            }
            Err(e) => return Err(classify(&format!("HeadBucket {name}"), e)),
        }
        ensure_tags(cx, s3, &name, p.force_destroy).await?;
        harden(s3, &name).await?;
        ensure_versioning(s3, &name, p.versioning).await?;
        if let Some(l) = &p.lifecycle {
            put_lifecycle(s3, &name, l).await?;
        }
        if let Some(rules) = &p.cors {
            put_cors(s3, &name, rules).await?;
        }
        Ok(outputs(s3, &name, p.force_destroy))
    }

    async fn ready(&self, cx: &Cx, out: &Outputs) -> Result<Readiness, KindError> {
        let name = out.require("name")?;
        match cx.backends.aws.s3.head_bucket().bucket(name).send().await {
            Ok(_) => Ok(Readiness::Ready),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {
                Ok(Readiness::Pending(format!("bucket {name} not visible yet")))
            }
            Err(e) => Err(classify(&format!("HeadBucket {name}"), e)),
        }
    }

    async fn delete(&self, cx: &Cx, out: &Outputs) -> Result<(), KindError> {
        let name = out.require("name")?;
        let s3 = &cx.backends.aws.s3;
        let force_destroy = out
            .get("force_destroy")
            .is_none_or(|v| v.expose() != "false");
        if force_destroy && !empty(s3, name).await? {
            return Ok(());
        }
        match s3.delete_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("NoSuchBucket") => Ok(()),
            Err(e) if e.code() == Some("BucketNotEmpty") && !force_destroy => {
                Err(KindError::Permanent(format!(
                    "DeleteBucket {name}: the bucket is not empty and force_destroy is false; \
                     empty it first or set force_destroy: true"
                )))
            }
            // Something was written while we emptied it: the engine retries.
            Err(e) if e.code() == Some("BucketNotEmpty") => Err(KindError::Transient(format!(
                "DeleteBucket {name}: objects were written while it was being emptied"
            ))),
            Err(e) => Err(classify(&format!("DeleteBucket {name}"), e)),
        }
    }

    async fn sweep(&self, cx: &SweepCx) -> Result<Vec<Found>, KindError> {
        let s3 = &cx.backends.aws.s3;
        let here = region(s3);
        // Every name of this tenant starts so, those of earlier versions
        // (envctl-<tenant>-<id>) too; tags decide.
        let prefix = match &here {
            Some(r) => {
                let account = cx.backends.aws.identity.account_id().await?;
                bucket_names::tenant_prefix(&account, r, &cx.tenant)
            }
            None => format!("envctl-{}-", cx.tenant.as_str()),
        };
        let mut names = Vec::new();
        let mut pages = s3.list_buckets().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListBuckets", e))?;
            for b in page.buckets() {
                let Some(name) = b.name() else { continue };
                // Buckets of other regions need a client of that region;
                // a tenant's stack lives in one region.
                let other_region = b
                    .bucket_region()
                    .zip(here.as_deref())
                    .is_some_and(|(br, h)| br != h);
                if name.starts_with(&prefix) && !other_region {
                    names.push(name.to_string());
                }
            }
        }
        let mut found = Vec::new();
        for name in names {
            let Some(t) = bucket_tags(s3, &name).await? else {
                continue;
            };
            let Some(resource_id) = swept_resource(cx.tenant.as_str(), &t) else {
                continue;
            };
            let force_destroy = t.get(FORCE_DESTROY_TAG).is_none_or(|v| v != "false");
            found.push(Found {
                resource_id,
                outputs: outputs(s3, &name, force_destroy),
            });
        }
        Ok(found)
    }
}
