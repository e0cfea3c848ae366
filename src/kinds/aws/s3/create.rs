//! The bucket of an `aws.s3.bucket` resource: its name (this
//! installation's, or the one an earlier version of envctl gave it) and
//! CreateBucket, with what its answer means.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use super::bucket_names::{self, BucketName};
use super::configure::bucket_tags;
use super::region;
use crate::kinds::aws::classify;
use crate::kinds::aws::owner::managed_by;
use crate::kinds::aws::tags::sdk_tags;
use crate::kinds::{Cx, KindError};
use crate::tenant::tags;

/// The error for a bucket name another AWS account holds.
pub(super) fn taken(op: &str, name: &str) -> String {
    format!(
        "{op} {name}: BucketAlreadyExists: the bucket belongs to another AWS account (bucket \
         names are shared by all accounts); rename the resource id in the stack to get another name"
    )
}

/// This installation's name for the bucket of `cx`'s resource.
pub(super) async fn bucket_name(cx: &Cx) -> Result<BucketName, KindError> {
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
pub(super) async fn legacy_bucket(
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
    let ours = managed_by(&t, cx.tenant.as_str()) && t.get(tags::RESOURCE) == Some(&cx.resource_id);
    Ok(ours.then_some(name))
}

/// CreateBucket (S3 API reference), in the account regional namespace when
/// the name has its suffix, so that no other account can ever hold it.
/// `Ok(false)` when it already existed and is ours (BucketAlreadyOwnedByYou:
/// adopted once `ensure_tags` has checked its tenant tag);
/// BucketAlreadyExists is another account's bucket: permanent, naming the
/// fix. terraform-provider-aws (internal/service/s3/bucket.go,
/// resourceBucketCreate) retries neither.
pub(super) async fn create(
    cx: &Cx,
    s3: &aws_sdk_s3::Client,
    bucket: &BucketName,
) -> Result<bool, KindError> {
    let name = bucket.name.as_str();
    let tag_set = sdk_tags(cx.tags())?;
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
}
