//! The S3 value store: reading, writing, listing and deleting environment
//! values under the key layout of [`super::layout`], in one shared,
//! server-side encrypted bucket.
//!
//! Values are opaque to this module: they are never logged or formatted
//! (errors name the bucket and object key, never the value). Each object
//! carries the metadata `envctl-secret: true|false` so that readers know
//! whether to mask it; an object written by another tool without that
//! metadata is treated as secret.

use std::collections::BTreeMap;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketNamespace, CreateBucketConfiguration, Delete, ObjectIdentifier,
    ServerSideEncryption, Tag, Tagging,
};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::layout::{EnvKey, Level, merge};
use crate::aws::{AwsClients, HttpStatus, classify, hardening};
use crate::kinds::aws::s3::bucket_names::{self, BucketName};
use crate::secret::{MASK, SecretString};
use crate::tenant::tags;

/// Object metadata key (sent as `x-amz-meta-envctl-secret`).
pub const SECRET_METADATA: &str = "envctl-secret";
/// Tag that marks the shared value bucket (besides `envctl:managed=true`).
pub const ROLE_TAG: &str = "envctl:role";
pub const ROLE_VALUES: &str = "values";

/// What to do when the value bucket belongs to another account.
const TAKEN: &str = "the bucket exists and belongs to another AWS account (bucket names are shared by all \
     accounts); set ENVCTL_VALUES_BUCKET (or --values-bucket) to another name, or unset it to use \
     this installation's own envctl-values-<account>-<region>-an";

/// How many values `merged` reads at once.
const READ_CONCURRENCY: usize = 16;
/// DeleteObjects accepts at most this many keys per call.
const DELETE_BATCH: usize = 1000;

/// A failed store operation: which call, on which bucket and object key (or
/// prefix), and what the service said. Never contains a value.
#[derive(Debug, thiserror::Error)]
#[error("{op} s3://{bucket}/{key}: {message}")]
pub struct StoreError {
    pub op: &'static str,
    pub bucket: String,
    /// The object key or prefix concerned ("" for the bucket itself).
    pub key: String,
    pub message: String,
    /// Throttling, 5xx, timeouts or connection trouble: worth retrying.
    pub transient: bool,
}

impl StoreError {
    pub fn is_transient(&self) -> bool {
        self.transient
    }
}

/// One value read from the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredValue {
    pub value: SecretString,
    pub secret: bool,
}

impl StoredValue {
    /// The value for display: the clear value when it is not secret or when
    /// `reveal` is asked for, the mask otherwise.
    pub fn shown(&self, reveal: bool) -> String {
        if self.secret && !reveal {
            MASK.to_string()
        } else {
            self.value.expose().to_string()
        }
    }
}

/// The environment-value store: one S3 bucket shared by every tenant.
#[derive(Clone, Debug)]
pub struct ValueStore {
    s3: aws_sdk_s3::Client,
    bucket: String,
    /// Created in the account regional namespace (the derived default).
    account_regional: bool,
    /// Our account id: every call names it as ExpectedBucketOwner, so that a
    /// bucket of that name held by another account is refused (403) rather
    /// than written to (S3 User Guide, "Verifying bucket ownership with
    /// bucket owner condition").
    owner: Option<String>,
}

impl ValueStore {
    /// A store in the bucket `bucket` of the global namespace, whoever owns it.
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
            account_regional: false,
            owner: None,
        }
    }

    /// The store of this installation: the bucket `explicit`
    /// (`--values-bucket`, `ENVCTL_VALUES_BUCKET`) or, without one,
    /// `envctl-values-<account>-<region>-an` in the account regional
    /// namespace ([`bucket_names::values_bucket`]). Either way it must be
    /// owned by our account. Asks STS for the account once per process.
    pub async fn for_installation(
        aws: &AwsClients,
        explicit: Option<String>,
    ) -> Result<Self, StoreError> {
        let shown = explicit
            .clone()
            .unwrap_or_else(|| "envctl-values-<account>-<region>-an".into());
        let fail = |message: String, transient: bool| StoreError {
            op: "GetCallerIdentity",
            bucket: shown.clone(),
            key: String::new(),
            message,
            transient,
        };
        let account = aws.identity.account_id().await.map_err(|e| {
            let transient = e.is_transient();
            fail(
                format!(
                    "{}; the account id names the value-store bucket and checks its owner \
                     (check the AWS credentials)",
                    e.to_string().trim_start_matches("GetCallerIdentity: ")
                ),
                transient,
            )
        })?;
        let name = match explicit {
            Some(b) => BucketName::global(b),
            None => {
                let region = aws.identity.region().ok_or_else(|| {
                    fail("no AWS region is configured; set AWS_REGION".into(), false)
                })?;
                bucket_names::values_bucket(&account, &region)
            }
        };
        Ok(Self {
            s3: aws.s3.clone(),
            bucket: name.name,
            account_regional: name.account_regional,
            owner: Some(account),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn err<E, R>(&self, op: &'static str, key: &str, e: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + HttpStatus + 'static,
    {
        let kind_error = classify(op, e);
        let transient = kind_error.is_transient();
        let full = kind_error.to_string();
        // `classify` prefixes the message with `op: `; we name it ourselves.
        let message = full
            .strip_prefix(&format!("{op}: "))
            .unwrap_or(&full)
            .to_string();
        StoreError {
            op,
            bucket: self.bucket.clone(),
            key: key.to_string(),
            message,
            transient,
        }
    }

    fn fail(&self, op: &'static str, key: &str, message: impl Into<String>) -> StoreError {
        StoreError {
            op,
            bucket: self.bucket.clone(),
            key: key.to_string(),
            message: message.into(),
            transient: false,
        }
    }

    /// Creates the bucket if it is missing (adopts it otherwise), and makes
    /// sure it has default encryption (SSE-S3, AES256), blocks all public
    /// access, and carries `envctl:managed=true` and `envctl:role=values`.
    /// It is shared by all tenants, so it has no tenant tag. Other tags on
    /// it are kept.
    pub async fn ensure_bucket(&self) -> Result<(), StoreError> {
        match self
            .s3
            .head_bucket()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {
                self.create_bucket().await?;
            }
            // HeadBucket answers 403 for a bucket that exists but is not
            // ours (S3 API reference, HeadBucket; with ExpectedBucketOwner
            // also when its owner would let us in).
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                return Err(self.fail("HeadBucket", "", TAKEN));
            }
            Err(e) => return Err(self.err("HeadBucket", "", e)),
        }

        self.s3
            .put_bucket_encryption()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .server_side_encryption_configuration(hardening::default_encryption())
            .send()
            .await
            .map_err(|e| self.err("PutBucketEncryption", "", e))?;
        self.s3
            .put_public_access_block()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .public_access_block_configuration(hardening::private_access())
            .send()
            .await
            .map_err(|e| self.err("PutPublicAccessBlock", "", e))?;

        self.ensure_tags().await
    }

    /// CreateBucket (S3 API reference): in the account regional namespace
    /// for the derived name (`x-amz-bucket-namespace: account-regional`).
    /// BucketAlreadyOwnedByYou is our own bucket: adopted (ensure_tags then
    /// marks it). BucketAlreadyExists is another account's: a permanent error
    /// naming the fix. terraform-provider-aws (internal/service/s3/bucket.go)
    /// likewise fails on BucketAlreadyExists and retries nothing.
    async fn create_bucket(&self) -> Result<(), StoreError> {
        let mut req = self.s3.create_bucket().bucket(&self.bucket);
        if self.account_regional {
            req = req.bucket_namespace(BucketNamespace::AccountRegional);
        }
        // us-east-1 takes no location constraint; every other region needs one.
        if let Some(region) = self.s3.config().region().map(|r| r.as_ref().to_string())
            && region != "us-east-1"
        {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_bucket_already_exists()) =>
            {
                Err(self.fail("CreateBucket", "", TAKEN))
            }
            Err(e) => Err(self.err("CreateBucket", "", e)),
        }
    }

    async fn ensure_tags(&self) -> Result<(), StoreError> {
        let existing: Vec<(String, String)> = match self
            .s3
            .get_bucket_tagging()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .send()
            .await
        {
            Ok(out) => out
                .tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
            Err(e) if e.code() == Some("NoSuchTagSet") => Vec::new(),
            Err(e) => return Err(self.err("GetBucketTagging", "", e)),
        };
        let wanted = [(tags::MANAGED, "true"), (ROLE_TAG, ROLE_VALUES)];
        let missing = wanted
            .iter()
            .any(|(k, v)| !existing.iter().any(|(ek, ev)| ek == k && ev == v));
        if !missing {
            return Ok(());
        }
        let mut merged: BTreeMap<String, String> = existing.into_iter().collect();
        for (k, v) in wanted {
            merged.insert(k.to_string(), v.to_string());
        }
        let tag_set = merged
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.fail("PutBucketTagging", "", e.to_string()))?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| self.fail("PutBucketTagging", "", e.to_string()))?;
        self.s3
            .put_bucket_tagging()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| self.err("PutBucketTagging", "", e))?;
        Ok(())
    }

    /// Writes one value, asking for SSE (AES256) on the object itself as
    /// well, so it is encrypted even where the bucket default is missing.
    pub async fn put(&self, key: &EnvKey, value: &str, secret: bool) -> Result<(), StoreError> {
        let object_key = key.object_key();
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(&object_key)
            .body(ByteStream::from(value.as_bytes().to_vec()))
            .content_type("text/plain; charset=utf-8")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .metadata(SECRET_METADATA, if secret { "true" } else { "false" })
            .send()
            .await
            .map_err(|e| self.err("PutObject", &object_key, e))?;
        Ok(())
    }

    /// Reads one value; `None` when it is absent.
    pub async fn get(&self, key: &EnvKey) -> Result<Option<StoredValue>, StoreError> {
        self.get_object(&key.object_key()).await
    }

    async fn get_object(&self, object_key: &str) -> Result<Option<StoredValue>, StoreError> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(object_key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error().is_some_and(|se| se.is_no_such_key())
                    || e.code() == Some("NotFound") =>
            {
                return Ok(None);
            }
            Err(e) => return Err(self.err("GetObject", object_key, e)),
        };
        // Without our metadata we cannot know: mask it.
        let secret = out
            .metadata()
            .and_then(|m| m.get(SECRET_METADATA))
            .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.fail("GetObject", object_key, format!("reading the body: {e}")))?
            .into_bytes();
        let value = String::from_utf8(bytes.to_vec())
            .map_err(|_| self.fail("GetObject", object_key, "the value is not UTF-8 text"))?;
        Ok(Some(StoredValue {
            value: SecretString::new(value),
            secret,
        }))
    }

    /// Deletes one value; an absent one is fine.
    pub async fn delete(&self, key: &EnvKey) -> Result<(), StoreError> {
        let object_key = key.object_key();
        match self
            .s3
            .delete_object()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(&object_key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), Some("NoSuchKey" | "NotFound")) => Ok(()),
            Err(e) => Err(self.err("DeleteObject", &object_key, e)),
        }
    }

    /// Every object key under `prefix` (all pages).
    async fn object_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err("ListObjectsV2", prefix, e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        Ok(keys)
    }

    /// The keys in the layout that `environment` (and `tenant`, `service`)
    /// can see. Without a tenant: the environment-common keys. With a
    /// tenant: environment-common, that tenant's common keys, and the keys of
    /// all its services, or only of `service` when given. Objects outside the
    /// layout are skipped.
    pub async fn list(
        &self,
        environment: &str,
        tenant: Option<&str>,
        service: Option<&str>,
    ) -> Result<Vec<EnvKey>, StoreError> {
        check_segment("ListObjectsV2", self, "environment", environment)?;
        let mut prefixes = vec![format!("{environment}/common/")];
        if let Some(t) = tenant {
            check_segment("ListObjectsV2", self, "tenant", t)?;
            match service {
                Some(s) => {
                    check_segment("ListObjectsV2", self, "service", s)?;
                    prefixes.push(format!("{environment}/{t}/common/"));
                    prefixes.push(format!("{environment}/{t}/{s}/"));
                }
                None => prefixes.push(format!("{environment}/{t}/")),
            }
        }
        let mut out = Vec::new();
        for prefix in prefixes {
            for object_key in self.object_keys(&prefix).await? {
                let Some(k) = EnvKey::parse(&object_key) else {
                    continue;
                };
                if k.environment != environment {
                    continue;
                }
                let wanted = match (&k.level, tenant) {
                    (Level::Environment, _) => true,
                    (_, None) => false,
                    (Level::Tenant, Some(t)) => k.tenant.as_deref() == Some(t),
                    (Level::Service(s), Some(t)) => {
                        k.tenant.as_deref() == Some(t) && service.is_none_or(|want| want == s)
                    }
                };
                if wanted {
                    out.push(k);
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The merged view a service sees: for each KEY the value of the highest
    /// level that has it (service > tenant-common > environment-common), with
    /// that level. Without a service, the tenant's view (tenant-common over
    /// environment-common); without a tenant, environment-common only.
    pub async fn merged(
        &self,
        environment: &str,
        tenant: Option<&str>,
        service: Option<&str>,
    ) -> Result<BTreeMap<String, (StoredValue, Level)>, StoreError> {
        let keys: Vec<EnvKey> = self
            .list(environment, tenant, service)
            .await?
            .into_iter()
            .filter(|k| service.is_some() || !matches!(k.level, Level::Service(_)))
            .collect();
        let entries: Vec<(EnvKey, StoredValue)> = stream::iter(keys)
            .map(|k| async move { self.get(&k).await.map(|v| v.map(|v| (k, v))) })
            .buffer_unordered(READ_CONCURRENCY)
            .try_filter_map(|found| async move { Ok(found) })
            .try_collect()
            .await?;
        Ok(merge(&entries))
    }

    /// Deletes every object under `<environment>/<tenant>/` (in layout or
    /// not) in batches, and returns how many were deleted.
    pub async fn delete_tenant(
        &self,
        environment: &str,
        tenant: &str,
    ) -> Result<usize, StoreError> {
        check_segment("DeleteObjects", self, "environment", environment)?;
        check_segment("DeleteObjects", self, "tenant", tenant)?;
        let prefix = format!("{environment}/{tenant}/");
        let keys = self.object_keys(&prefix).await?;
        let mut deleted = 0;
        for batch in keys.chunks(DELETE_BATCH) {
            let objects = batch
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.fail("DeleteObjects", &prefix, e.to_string()))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| self.fail("DeleteObjects", &prefix, e.to_string()))?;
            let out = self
                .s3
                .delete_objects()
                .bucket(&self.bucket)
                .set_expected_bucket_owner(self.owner.clone())
                .delete(delete)
                .send()
                .await
                .map_err(|e| self.err("DeleteObjects", &prefix, e))?;
            if let Some(first) = out.errors().first() {
                return Err(self.fail(
                    "DeleteObjects",
                    first.key().unwrap_or(&prefix),
                    format!(
                        "{} of {} objects were not deleted; first: {} {}",
                        out.errors().len(),
                        batch.len(),
                        first.code().unwrap_or("error"),
                        first.message().unwrap_or("")
                    ),
                ));
            }
            deleted += batch.len();
        }
        Ok(deleted)
    }

    /// The environments that hold values of `tenant` (those with a
    /// `<environment>/<tenant>/` prefix), for a destroy that has lost its
    /// state.
    pub async fn tenant_environments(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        check_segment("ListObjectsV2", self, "tenant", tenant)?;
        let mut environments = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err("ListObjectsV2", "", e))?;
            environments.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix())
                    .filter_map(|p| p.strip_suffix('/'))
                    .map(str::to_string),
            );
        }
        let mut out = Vec::new();
        for environment in environments {
            let prefix = format!("{environment}/{tenant}/");
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .set_expected_bucket_owner(self.owner.clone())
                .prefix(&prefix)
                .max_keys(1)
                .send()
                .await
                .map_err(|e| self.err("ListObjectsV2", &prefix, e))?;
            if !page.contents().is_empty() {
                out.push(environment);
            }
        }
        Ok(out)
    }
}

/// A tenant, service or environment used to build a prefix: a-z, 0-9, '-',
/// and not `common` (a tenant called `common` would make `<env>/<tenant>/`
/// cover the environment-common values).
fn check_segment(
    op: &'static str,
    store: &ValueStore,
    what: &str,
    s: &str,
) -> Result<(), StoreError> {
    let ok = !s.is_empty()
        && s != "common"
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(store.fail(
            op,
            "",
            format!("{what} '{s}' is malformed: use a-z, 0-9 and '-', and not 'common'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_masks_secrets_unless_revealed() {
        let s = StoredValue {
            value: SecretString::new("hunter2"),
            secret: true,
        };
        assert_eq!(s.shown(false), MASK);
        assert_eq!(s.shown(true), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let p = StoredValue {
            value: SecretString::new("db.internal"),
            secret: false,
        };
        assert_eq!(p.shown(false), "db.internal");
    }
}
