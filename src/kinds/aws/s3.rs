//! The `aws.s3.bucket` kind: a private, encrypted S3 bucket per tenant
//! resource, named `envctl-<tenant>-<id>-<account>-<region>-an` in the
//! account regional namespace ([`super::bucket_names`]), with optional
//! versioning, emptied (all versions and delete markers) before it is
//! deleted unless `force_destroy: false`.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ObjectIdentifier, Tag, Tagging, VersioningConfiguration,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bucket_names::{self, BucketName};
use super::call::partition;
use super::classify;
use crate::aws::hardening;
use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{
    Cx, Found, Kind, KindError, OutputSpec, Outputs, PropIssue, Props, Readiness, SweepCx,
    parse_props,
};
use crate::tenant::tags;

/// Extra tag: whether `delete` (and a sweep) may empty the bucket first.
pub const FORCE_DESTROY_TAG: &str = "envctl:force-destroy";
/// DeleteObjects accepts at most this many keys per call.
const DELETE_BATCH: usize = 1000;

pub struct Bucket;

/// A private, encrypted S3 bucket, optionally versioned, with expiry and
/// CORS rules.
///
/// Named `envctl-<tenant>-<id>-<account>-<region>-an` in the account
/// regional namespace (valid by construction, see [`bucket_names`]); SSE-S3
/// encryption and every public-access block are always on. Rules: S3 API
/// reference, PutBucketLifecycleConfiguration (LifecycleExpiration `Days`,
/// NoncurrentVersionExpiration `NoncurrentDays`,
/// AbortIncompleteMultipartUpload `DaysAfterInitiation`: positive whole
/// numbers) and PutBucketCors (CORSRule: `AllowedOrigins` required, one `*`
/// per origin; `AllowedMethods` GET, PUT, HEAD, POST, DELETE;
/// `MaxAgeSeconds`), at most 100 CORS rules (S3 User Guide, "CORS
/// configuration").
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct BucketProps {
    /// `true` enables object versioning, `false` suspends it if it was
    /// enabled; absent leaves it as it is.
    #[serde(default)]
    versioning: Option<bool>,
    /// Empty the bucket (all versions and delete markers) before deleting
    /// it; with `false`, deleting a non-empty bucket fails. Default true.
    #[serde(default = "yes")]
    force_destroy: bool,
    /// Expiry rules for the whole bucket, e.g. `{expire_days: 30}`; absent
    /// leaves them as they are.
    #[serde(default)]
    lifecycle: Option<Lifecycle>,
    /// Cross-origin rules (browsers uploading straight to the bucket), e.g.
    /// `[{allowed_origins: ["https://app.example.com"]}]`; absent leaves
    /// them as they are.
    #[serde(default)]
    #[schemars(length(max = 100))]
    cors: Option<Vec<CorsRule>>,
}

/// The bucket's one lifecycle rule (id `envctl`, whole bucket).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Lifecycle {
    /// Delete current objects this many days after creation; absent: never.
    #[serde(default)]
    #[schemars(range(min = 1))]
    expire_days: Option<i32>,
    /// Delete non-current versions this many days after they became so;
    /// absent: never.
    #[serde(default)]
    #[schemars(range(min = 1))]
    noncurrent_expire_days: Option<i32>,
    /// Abort unfinished multipart uploads after this many days; default 7.
    #[serde(default = "seven")]
    #[schemars(range(min = 1))]
    abort_incomplete_upload_days: i32,
}

fn seven() -> i32 {
    7
}

/// One CORS rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CorsRule {
    /// Origins allowed to call, each with at most one `*`, e.g.
    /// `["https://app.example.com"]`.
    #[schemars(length(min = 1))]
    allowed_origins: Vec<String>,
    /// HTTP methods allowed; default `[GET, PUT]`.
    #[serde(default = "get_put")]
    allowed_methods: Vec<CorsMethod>,
    /// Request headers allowed (`Access-Control-Request-Headers`), e.g.
    /// `["*"]`; default none.
    #[serde(default)]
    allowed_headers: Vec<String>,
    /// Seconds a browser may cache the preflight answer; absent: S3's
    /// default.
    #[serde(default)]
    #[schemars(range(min = 0))]
    max_age_seconds: Option<i32>,
}

/// A method a CORS rule may allow (S3 API reference, CORSRule
/// `AllowedMethods`: "Valid values are GET, PUT, HEAD, POST, and DELETE").
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
enum CorsMethod {
    Get,
    Put,
    Head,
    Post,
    Delete,
}

impl CorsMethod {
    fn as_str(self) -> &'static str {
        match self {
            CorsMethod::Get => "GET",
            CorsMethod::Put => "PUT",
            CorsMethod::Head => "HEAD",
            CorsMethod::Post => "POST",
            CorsMethod::Delete => "DELETE",
        }
    }
}

fn get_put() -> Vec<CorsMethod> {
    vec![CorsMethod::Get, CorsMethod::Put]
}

fn yes() -> bool {
    true
}

impl KindProps for BucketProps {
    /// At most one `*` per origin (S3 API reference, CORSRule
    /// `AllowedOrigins`: "Each origin string can contain at most one *
    /// wildcard character").
    fn check(&self) -> Vec<PropIssue> {
        let mut issues = Vec::new();
        for (i, r) in self.cors.iter().flatten().enumerate() {
            for (j, o) in r.allowed_origins.iter().enumerate() {
                if !is_ref(o) && o.matches('*').count() > 1 {
                    issues.push(PropIssue::new(
                        &["cors", &i.to_string(), "allowed_origins", &j.to_string()],
                        format!(
                            "'{o}' has more than one '*'; S3 allows one wildcard per origin, \
                             e.g. https://*.example.com"
                        ),
                    ));
                }
            }
        }
        issues
    }
}

const NAME: &str = "aws.s3.bucket";

static SCHEMA: LazyLock<PropSchema> = LazyLock::new(|| PropSchema::of::<BucketProps>(NAME));

static OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "name",
        secret: false,
        doc: "the bucket name, envctl-<tenant>-<id>-<account>-<region>-an",
    },
    OutputSpec {
        name: "arn",
        secret: false,
        doc: "arn:aws:s3:::<name>",
    },
    OutputSpec {
        name: "force_destroy",
        secret: false,
        doc: "\"true\" or \"false\": whether delete empties the bucket first",
    },
];

fn region(s3: &aws_sdk_s3::Client) -> Option<String> {
    s3.config().region().map(|r| r.as_ref().to_string())
}

fn outputs(s3: &aws_sdk_s3::Client, name: &str, force_destroy: bool) -> Outputs {
    let arn = format!("arn:{}:s3:::{name}", partition(region(s3).as_deref()));
    Outputs::new()
        .plain("name", name)
        .plain("arn", arn)
        .plain("force_destroy", force_destroy.to_string())
}

/// The error for a bucket name another AWS account holds.
pub fn taken(op: &str, name: &str) -> String {
    format!(
        "{op} {name}: BucketAlreadyExists: the bucket belongs to another AWS account (bucket \
         names are shared by all accounts); rename the resource id in the stack to get another name"
    )
}

/// This installation's name for the bucket of `cx`'s resource.
async fn bucket_name(cx: &Cx) -> Result<BucketName, KindError> {
    let identity = &cx.backends.aws.identity;
    let account = identity.account_id().await?;
    let region = identity.region().ok_or_else(|| {
        KindError::Permanent("no AWS region is configured; set AWS_REGION".into())
    })?;
    Ok(bucket_names::tenant_bucket(
        &account,
        &region,
        &cx.tenant,
        &cx.resource_id,
    ))
}

/// The bucket an earlier version of envctl named `envctl-<tenant>-<id>` (in
/// the global namespace) for this very resource, owned by our account and
/// tagged as this tenant's resource: kept, so that a rerun does not move the
/// tenant to a new, empty bucket.
async fn legacy_bucket(
    cx: &Cx,
    s3: &aws_sdk_s3::Client,
    account: &str,
) -> Result<Option<String>, KindError> {
    let name = cx.physical_name(bucket_names::MAX_LEN);
    match s3
        .head_bucket()
        .bucket(&name)
        .expected_bucket_owner(account)
        .send()
        .await
    {
        Ok(_) => {}
        // Absent (404) or not ours (403): nothing to keep.
        Err(e)
            if e.raw_response()
                .is_some_and(|r| matches!(r.status().as_u16(), 403 | 404)) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(classify(&format!("HeadBucket {name}"), e)),
    }
    let t = bucket_tags(s3, &name).await?.unwrap_or_default();
    let ours = t.get(tags::TENANT).map(String::as_str) == Some(cx.tenant.as_str())
        && t.get(tags::RESOURCE) == Some(&cx.resource_id)
        && t.get(tags::MANAGED).map(String::as_str) == Some("true");
    Ok(ours.then_some(name))
}

fn permanent(what: &str, e: impl std::fmt::Display) -> KindError {
    KindError::Permanent(format!("{what}: {e}"))
}

/// The bucket's tags; empty when it has none.
async fn bucket_tags(
    s3: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, KindError> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(Some(
            out.tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        )),
        Err(e) if e.code() == Some("NoSuchTagSet") => Ok(Some(BTreeMap::new())),
        Err(e) if e.code() == Some("NoSuchBucket") => Ok(None),
        Err(e) => Err(classify(&format!("GetBucketTagging {name}"), e)),
    }
}

/// CreateBucket (S3 API reference), in the account regional namespace when
/// the name has its suffix, so that no other account can ever hold it.
/// `Ok(false)` when it already existed and is ours (BucketAlreadyOwnedByYou:
/// adopted once `ensure_tags` has checked its tenant tag);
/// BucketAlreadyExists is another account's bucket: permanent, naming the
/// fix. terraform-provider-aws (internal/service/s3/bucket.go,
/// resourceBucketCreate) retries neither.
async fn create(cx: &Cx, s3: &aws_sdk_s3::Client, bucket: &BucketName) -> Result<bool, KindError> {
    let name = bucket.name.as_str();
    let tag_set = to_tags(&cx.tags())?;
    let mut config = CreateBucketConfiguration::builder().set_tags(Some(tag_set));
    // us-east-1 takes no location constraint; every other region needs one.
    if let Some(r) = region(s3).filter(|r| r != "us-east-1") {
        config = config.location_constraint(BucketLocationConstraint::from(r.as_str()));
    }
    let mut request = s3
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(config.build());
    if bucket.account_regional {
        request = request.bucket_namespace(aws_sdk_s3::types::BucketNamespace::AccountRegional);
    }
    created(name, request.send().await.map(|_| ()))
}

type CreateResult = Result<
    (),
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::create_bucket::CreateBucketError,
        aws_smithy_runtime_api::http::Response,
    >,
>;

/// What CreateBucket's answer means: `Ok(true)` made, `Ok(false)` ours
/// already (BucketAlreadyOwnedByYou: adopt), another account's
/// (BucketAlreadyExists) a permanent error naming the fix.
fn created(name: &str, result: CreateResult) -> Result<bool, KindError> {
    match result {
        Ok(()) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_bucket_already_owned_by_you()) =>
        {
            Ok(false)
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_bucket_already_exists()) =>
        {
            Err(KindError::Permanent(taken("CreateBucket", name)))
        }
        Err(e) => Err(classify(&format!("CreateBucket {name}"), e)),
    }
}

/// An error while configuring a bucket we have just found or created:
/// NoSuchBucket then means bucket-level changes have not propagated yet
/// (they are eventually consistent), which a retry fixes.
fn configure_error<E, R>(what: &str, e: aws_sdk_s3::error::SdkError<E, R>) -> KindError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + super::HttpStatus + 'static,
{
    super::call::not_visible_yet(
        what,
        e,
        |c| c == "NoSuchBucket",
        "the new bucket is not visible yet",
    )
}

fn to_tags(pairs: &[(String, String)]) -> Result<Vec<Tag>, KindError> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| permanent("tag", e))
}

/// Converges the bucket's tags: ours (plus the force-destroy tag) over
/// whatever else it carries. Refuses a bucket of another tenant.
async fn ensure_tags(
    cx: &Cx,
    s3: &aws_sdk_s3::Client,
    name: &str,
    force_destroy: bool,
) -> Result<(), KindError> {
    let existing = bucket_tags(s3, name).await?.unwrap_or_default();
    super::owner::refuse_foreign(&format!("bucket {name}"), &existing, cx)?;
    let mut wanted = existing.clone();
    for (k, v) in cx.tags() {
        wanted.insert(k, v);
    }
    wanted.insert(FORCE_DESTROY_TAG.to_string(), force_destroy.to_string());
    if wanted == existing {
        return Ok(());
    }
    let pairs: Vec<(String, String)> = wanted.into_iter().collect();
    let tagging = Tagging::builder()
        .set_tag_set(Some(to_tags(&pairs)?))
        .build()
        .map_err(|e| permanent("tagging", e))?;
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
async fn harden(s3: &aws_sdk_s3::Client, name: &str) -> Result<(), KindError> {
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

async fn ensure_versioning(
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
async fn put_lifecycle(
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
    let rule = rule.build().map_err(|e| permanent("lifecycle rule", e))?;
    let config = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| permanent("lifecycle configuration", e))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(name)
        .lifecycle_configuration(config)
        .send()
        .await
        .map_err(|e| configure_error(&format!("PutBucketLifecycleConfiguration {name}"), e))?;
    Ok(())
}

/// Puts the whole CORS configuration (a PUT replaces it: idempotent).
async fn put_cors(
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
            .map_err(|e| permanent("cors rule", e))?;
        config = config.cors_rules(rule);
    }
    let config = config
        .build()
        .map_err(|e| permanent("cors configuration", e))?;
    s3.put_bucket_cors()
        .bucket(name)
        .cors_configuration(config)
        .send()
        .await
        .map_err(|e| configure_error(&format!("PutBucketCors {name}"), e))?;
    Ok(())
}

/// Deletes every object version, delete marker and unfinished multipart
/// upload. Lists from the start each round, so objects written meanwhile are
/// caught too. `Ok(false)` when the bucket is gone.
async fn empty(s3: &aws_sdk_s3::Client, name: &str) -> Result<bool, KindError> {
    loop {
        let page = match s3
            .list_object_versions()
            .bucket(name)
            .max_keys(DELETE_BATCH as i32)
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if e.code() == Some("NoSuchBucket") => return Ok(false),
            Err(e) => return Err(classify(&format!("ListObjectVersions {name}"), e)),
        };
        let mut objects = Vec::new();
        for v in page.versions() {
            if let Some(key) = v.key() {
                objects.push((key.to_string(), v.version_id().map(str::to_string)));
            }
        }
        for m in page.delete_markers() {
            if let Some(key) = m.key() {
                objects.push((key.to_string(), m.version_id().map(str::to_string)));
            }
        }
        if objects.is_empty() {
            break;
        }
        for batch in objects.chunks(DELETE_BATCH) {
            let ids = batch
                .iter()
                .map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v.clone())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| permanent("DeleteObjects", e))?;
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(
                    Delete::builder()
                        .set_objects(Some(ids))
                        .quiet(true)
                        .build()
                        .map_err(|e| permanent("DeleteObjects", e))?,
                )
                .send()
                .await
                .map_err(|e| classify(&format!("DeleteObjects {name}"), e))?;
            if let Some(first) = out.errors().first() {
                return Err(KindError::Transient(format!(
                    "DeleteObjects {name}: {} objects were not deleted; first: {} {} {}",
                    out.errors().len(),
                    first.key().unwrap_or(""),
                    first.code().unwrap_or(""),
                    first.message().unwrap_or("")
                )));
            }
        }
    }
    // Unfinished multipart uploads (they cost money and can block deletion).
    let uploads = s3
        .list_multipart_uploads()
        .bucket(name)
        .send()
        .await
        .map_err(|e| classify(&format!("ListMultipartUploads {name}"), e))?;
    for u in uploads.uploads() {
        if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
            match s3
                .abort_multipart_upload()
                .bucket(name)
                .key(key)
                .upload_id(id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("NoSuchUpload") => {}
                Err(e) => return Err(classify(&format!("AbortMultipartUpload {name}"), e)),
            }
        }
    }
    Ok(true)
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
                let other_region = match (b.bucket_region(), here.as_deref()) {
                    (Some(br), Some(h)) => br != h,
                    _ => false,
                };
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
            if t.get(tags::TENANT).map(String::as_str) != Some(cx.tenant.as_str())
                || t.get(tags::MANAGED).map(String::as_str) != Some("true")
            {
                continue;
            }
            let Some(resource_id) = t.get(tags::RESOURCE) else {
                continue;
            };
            let force_destroy = t.get(FORCE_DESTROY_TAG).is_none_or(|v| v != "false");
            found.push(Found {
                resource_id: resource_id.clone(),
                outputs: outputs(s3, &name, force_destroy),
            });
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::create_bucket::CreateBucketError;
    use aws_sdk_s3::types::error::{BucketAlreadyExists, BucketAlreadyOwnedByYou};
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    #[allow(clippy::result_large_err)] // the SDK's own error type, as CreateBucket answers
    fn answer(err: CreateBucketError) -> CreateResult {
        let raw = Response::new(StatusCode::try_from(409).unwrap(), SdkBody::from(""));
        Err(aws_sdk_s3::error::SdkError::service_error(err, raw))
    }

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("m").build()
    }

    #[test]
    fn our_bucket_is_adopted_and_another_accounts_is_a_permanent_error_naming_the_fix() {
        assert!(created("b", Ok(())).unwrap());
        let owned = CreateBucketError::BucketAlreadyOwnedByYou(
            BucketAlreadyOwnedByYou::builder()
                .meta(meta("BucketAlreadyOwnedByYou"))
                .build(),
        );
        assert!(!created("b", answer(owned)).unwrap());
        let exists = CreateBucketError::BucketAlreadyExists(
            BucketAlreadyExists::builder()
                .meta(meta("BucketAlreadyExists"))
                .build(),
        );
        let err = created("envctl-a-b", answer(exists)).unwrap_err();
        assert!(matches!(err, KindError::Permanent(_)), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("another AWS account"), "{text}");
        assert!(text.contains("rename the resource id"), "{text}");
    }

    #[test]
    fn lifecycle_and_cors_values_are_checked_at_validation() {
        let check = |v: serde_json::Value| {
            let serde_json::Value::Object(m) = v else {
                unreachable!()
            };
            Bucket.check(&m)
        };
        assert!(check(serde_json::json!({"lifecycle": {"expire_days": 30}})).is_empty());
        assert!(
            check(
                serde_json::json!({"cors": [{"allowed_origins": ["https://*.example.com"],
                "allowed_methods": ["GET", "HEAD"], "max_age_seconds": 0}]})
            )
            .is_empty()
        );
        for (props, field, hint) in [
            (
                serde_json::json!({"versioning": "yes"}),
                "versioning",
                "must be true or false",
            ),
            (
                serde_json::json!({"lifecycle": {"expire_days": 0}}),
                "lifecycle.expire_days",
                "the least allowed is 1",
            ),
            (
                serde_json::json!({"lifecycle": {"expire_days": "30"}}),
                "lifecycle.expire_days",
                "must be a whole number",
            ),
            (
                serde_json::json!({"cors": [{"allowed_origins": []}]}),
                "cors.0.allowed_origins",
                "at least 1",
            ),
            (
                serde_json::json!({"cors": [{"allowed_origins": ["*"], "allowed_methods": ["PATCH"]}]}),
                "cors.0.allowed_methods.0",
                "is PATCH; use one of: GET, PUT, HEAD, POST, DELETE",
            ),
            (
                serde_json::json!({"cors": [{"allowed_origins": ["https://*.*.example.com"]}]}),
                "cors.0.allowed_origins.0",
                "one wildcard",
            ),
            (
                serde_json::json!({"cors": [{"allowed_origins": ["*"], "max_age_seconds": -1}]}),
                "cors.0.max_age_seconds",
                "the least allowed is 0",
            ),
        ] {
            let issues = check(props.clone());
            assert_eq!(issues.len(), 1, "{props}: {issues:?}");
            assert_eq!(issues[0].path.join("."), field, "{props}");
            assert!(
                issues[0].message.contains(hint),
                "{props}: {}",
                issues[0].message
            );
        }
        let many: Vec<serde_json::Value> = (0..101)
            .map(|_| serde_json::json!({"allowed_origins": ["*"]}))
            .collect();
        let issues = check(serde_json::json!({ "cors": many }));
        assert_eq!(issues[0].path, ["cors"], "{issues:?}");
        assert!(issues[0].message.contains("at most 100"), "{issues:?}");
        // A reference is checked once resolved.
        assert!(check(serde_json::json!({"lifecycle": "${x.y}"})).is_empty());
    }

    #[test]
    fn the_cors_methods_default_to_get_and_put() {
        let p: BucketProps =
            serde_json::from_value(serde_json::json!({"cors": [{"allowed_origins": ["*"]}]}))
                .unwrap();
        let methods: Vec<&str> = p.cors.unwrap()[0]
            .allowed_methods
            .iter()
            .map(|m| m.as_str())
            .collect();
        assert_eq!(methods, ["GET", "PUT"]);
        assert!(p.force_destroy);
    }
}
