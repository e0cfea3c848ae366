//! The properties of `aws.s3.bucket`: their schema (versioning, lifecycle,
//! CORS, force_destroy), the rules [`KindProps::check`] adds, and the
//! outputs.

use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kinds::schema::{KindProps, PropSchema, is_ref};
use crate::kinds::{OutputSpec, PropIssue};

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
pub(super) struct BucketProps {
    /// `true` enables object versioning, `false` suspends it if it was
    /// enabled; absent leaves it as it is.
    #[serde(default)]
    pub(super) versioning: Option<bool>,
    /// Empty the bucket (all versions and delete markers) before deleting
    /// it; with `false`, deleting a non-empty bucket fails. Default true.
    #[serde(default = "yes")]
    pub(super) force_destroy: bool,
    /// Expiry rules for the whole bucket, e.g. `{expire_days: 30}`; absent
    /// leaves them as they are.
    #[serde(default)]
    pub(super) lifecycle: Option<Lifecycle>,
    /// Cross-origin rules (browsers uploading straight to the bucket), e.g.
    /// `[{allowed_origins: ["https://app.example.com"]}]`; absent leaves
    /// them as they are.
    #[serde(default)]
    #[schemars(length(max = 100))]
    pub(super) cors: Option<Vec<CorsRule>>,
}

/// The bucket's one lifecycle rule (id `envctl`, whole bucket).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Lifecycle {
    /// Delete current objects this many days after creation; absent: never.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub(super) expire_days: Option<i32>,
    /// Delete non-current versions this many days after they became so;
    /// absent: never.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub(super) noncurrent_expire_days: Option<i32>,
    /// Abort unfinished multipart uploads after this many days; default 7.
    #[serde(default = "seven")]
    #[schemars(range(min = 1))]
    pub(super) abort_incomplete_upload_days: i32,
}

fn seven() -> i32 {
    7
}

/// One CORS rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CorsRule {
    /// Origins allowed to call, each with at most one `*`, e.g.
    /// `["https://app.example.com"]`.
    #[schemars(length(min = 1))]
    pub(super) allowed_origins: Vec<String>,
    /// HTTP methods allowed; default `[GET, PUT]`.
    #[serde(default = "get_put")]
    pub(super) allowed_methods: Vec<CorsMethod>,
    /// Request headers allowed (`Access-Control-Request-Headers`), e.g.
    /// `["*"]`; default none.
    #[serde(default)]
    pub(super) allowed_headers: Vec<String>,
    /// Seconds a browser may cache the preflight answer; absent: S3's
    /// default.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub(super) max_age_seconds: Option<i32>,
}

/// A method a CORS rule may allow (S3 API reference, CORSRule
/// `AllowedMethods`: "Valid values are GET, PUT, HEAD, POST, and DELETE").
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(super) enum CorsMethod {
    Get,
    Put,
    Head,
    Post,
    Delete,
}

impl CorsMethod {
    pub(super) fn as_str(self) -> &'static str {
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

pub(super) const NAME: &str = "aws.s3.bucket";

pub(super) static SCHEMA: LazyLock<PropSchema> =
    LazyLock::new(|| PropSchema::of::<BucketProps>(NAME));

pub(super) static OUTPUTS: &[OutputSpec] = &[
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

#[cfg(test)]
mod tests {
    use super::super::Bucket;
    use super::*;
    use crate::kinds::Kind;

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
