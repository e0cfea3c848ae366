//! Preflight `value-store`: the environment-value bucket (whatever name the
//! configuration gives the [`ValueStore`](crate::envapi::ValueStore)) is ours,
//! or does not exist yet and can be created. S3 bucket names are global: a
//! name another account holds answers 403, and the only fix is another name.

use async_trait::async_trait;

use super::{CallFailure, Check, Finding, PreflightCx, credentials, endpoint};
use crate::kinds::aws::s3::bucket_names;

pub struct ValueStoreCheck;

pub const NAME: &str = "value-store";

#[async_trait]
impl Check for ValueStoreCheck {
    fn name(&self) -> &'static str {
        NAME
    }
    fn after(&self) -> &'static [&'static str] {
        &[endpoint::NAME, credentials::NAME]
    }

    async fn run(&self, cx: &PreflightCx) -> Vec<Finding> {
        let backends = match cx.backends(NAME) {
            Ok(b) => b,
            Err(failed) => return failed,
        };
        let bucket = backends.values.bucket().to_string();
        let region = cx.region.clone().unwrap_or_default();
        if let Some(problem) = name_problem(&bucket) {
            return vec![Finding::fail(
                NAME,
                format!(
                    "the value-store bucket name '{bucket}' is not a valid S3 bucket name ({problem})"
                ),
                CHOOSE_ANOTHER,
            )];
        }
        // HeadBucket: 200 when the bucket exists and we may use it, 404 when
        // there is no such bucket, 403 when it exists but is not ours (S3 API
        // reference, HeadBucket). ExpectedBucketOwner makes S3 answer 403 for
        // a bucket of another account even if it would let us in (S3 User
        // Guide, "Verifying bucket ownership with bucket owner condition").
        // terraform-provider-aws (internal/service/s3/bucket.go, findBucket)
        // likewise reads HeadBucket's 404 (or NoSuchBucket) as "not there".
        let mut head = backends.aws.s3.head_bucket().bucket(&bucket);
        if let Some(account) = cx.account().await.filter(|a| !a.is_empty()) {
            head = head.expected_bucket_owner(account);
        }
        let outcome = match head.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                // A bucket in another region answers 301 with its region.
                let elsewhere = e
                    .raw_response()
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .map(str::to_string);
                Err((CallFailure::of(&e), elsewhere))
            }
        };
        vec![decide(&bucket, &region, outcome)]
    }
}

const CHOOSE_ANOTHER: &str = "choose another name with ENVCTL_VALUES_BUCKET (or --values-bucket), e.g. one that includes your account id and region";

/// What is wrong with `name` as a bucket name (the S3 User Guide's naming
/// rules, kept in one place: [`bucket_names::naming_problem`]); a name
/// ending in `-an` is one of the account regional namespace.
pub(super) fn name_problem(name: &str) -> Option<&'static str> {
    bucket_names::naming_problem(name, name.ends_with("-an"))
}

/// The decision from HeadBucket's outcome (the failure, and the region S3
/// named for a bucket that lives elsewhere).
pub(super) fn decide(
    bucket: &str,
    region: &str,
    outcome: Result<(), (CallFailure, Option<String>)>,
) -> Finding {
    let (failure, elsewhere) = match outcome {
        Ok(()) => return Finding::pass(NAME, format!("bucket {bucket} exists and is ours")),
        Err(f) => f,
    };
    match failure.status() {
        Some(404) => Finding::pass(
            NAME,
            format!("bucket {bucket} does not exist yet; create will make it (in {region})"),
        ),
        Some(403) => Finding::fail(
            NAME,
            format!(
                "bucket {bucket} exists but belongs to another AWS account, or these credentials may not use it (HeadBucket answered 403; S3 bucket names are global)"
            ),
            format!(
                "{CHOOSE_ANOTHER}; if the bucket is yours, grant s3:ListBucket, s3:GetObject and s3:PutObject on it"
            ),
        ),
        Some(301) | Some(400) if elsewhere.as_deref().is_some_and(|r| r != region) => {
            let there = elsewhere.unwrap_or_default();
            Finding::fail(
                NAME,
                format!("bucket {bucket} is in region {there}, not {region}"),
                format!("set AWS_REGION={there}, or {CHOOSE_ANOTHER}"),
            )
        }
        _ => Finding::fail(
            NAME,
            format!(
                "cannot tell whether bucket {bucket} is usable (HeadBucket: {})",
                failure.describe()
            ),
            "check the credentials' S3 permissions (s3:ListBucket on the bucket, s3:CreateBucket) and retry",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    fn status(code: u16) -> Result<(), (CallFailure, Option<String>)> {
        Err((
            CallFailure::Service {
                status: code,
                code: None,
                message: None,
            },
            None,
        ))
    }

    #[test]
    fn ours_or_creatable_passes_someone_elses_fails_with_the_setting_to_change() {
        assert_eq!(decide("b", "us-east-1", Ok(())).status, Status::Pass);
        let missing = decide("envctl-values", "us-east-1", status(404));
        assert_eq!(missing.status, Status::Pass);
        assert!(missing.detail.contains("create will make it"));
        let taken = decide("envctl-values", "us-east-1", status(403));
        assert_eq!(taken.status, Status::Fail);
        assert!(taken.detail.contains("belongs to another AWS account"));
        assert!(taken.sentence().contains("ENVCTL_VALUES_BUCKET"));
    }

    #[test]
    fn a_bucket_in_another_region_names_that_region() {
        let f = decide(
            "vals",
            "us-east-1",
            Err((
                CallFailure::Service {
                    status: 301,
                    code: None,
                    message: None,
                },
                Some("eu-west-1".into()),
            )),
        );
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.sentence().contains("AWS_REGION=eu-west-1"),
            "{}",
            f.sentence()
        );
        assert_eq!(
            decide("vals", "us-east-1", status(500)).status,
            Status::Fail
        );
    }

    #[test]
    fn bucket_names_follow_the_s3_rules() {
        assert_eq!(name_problem("envctl-values-123456789012-us-east-1"), None);
        assert!(name_problem("ab").is_some());
        assert!(name_problem(&"a".repeat(64)).is_some());
        assert!(name_problem("Envctl").is_some());
        assert!(name_problem("-envctl").is_some());
        assert!(name_problem("a..b").is_some());
        assert!(name_problem("192.168.5.4").is_some());
        assert!(name_problem("xn--abc").is_some());
        assert!(name_problem("vals-s3alias").is_some());
        assert!(name_problem("under_score").is_some());
    }
}
