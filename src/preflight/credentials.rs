//! Preflight `credentials`: the AWS credentials are there and valid, and
//! whose they are — STS GetCallerIdentity gives the account id, printed by
//! `plan` with the region. No credentials, rejected ones and expired ones
//! each get one sentence naming the fix.

use async_trait::async_trait;

use super::{CallFailure, Check, Finding, Identity, PreflightCx};

pub struct Credentials;

pub const NAME: &str = "credentials";

#[async_trait]
impl Check for Credentials {
    fn name(&self) -> &'static str {
        NAME
    }
    async fn run(&self, cx: &PreflightCx) -> Vec<Finding> {
        // Without a region the endpoint check has said what to set.
        let Some(region) = cx.region.as_deref() else {
            return vec![Finding::skipped(
                NAME,
                "not checked: no AWS region is configured",
            )];
        };
        vec![decide(cx.identity().await, region)]
    }
}

const SET_CREDENTIALS: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE to a profile of ~/.aws/config (on an EC2 host with an instance role: ENVCTL_USE_IMDS=true)";

/// Error codes of GetCallerIdentity (STS API reference, "Common Errors") by
/// what they mean for the user.
const REJECTED: &[&str] = &[
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "AuthFailure",
];
const EXPIRED: &[&str] = &["ExpiredToken", "ExpiredTokenException", "RequestExpired"];

pub(super) fn decide(identity: &Result<Identity, CallFailure>, region: &str) -> Finding {
    let failure = match identity {
        Ok(id) => {
            return Finding::pass(
                NAME,
                format!("account {}, region {region}, as {}", id.account, id.arn),
            );
        }
        Err(f) => f,
    };
    let code = failure.code().unwrap_or_default();
    match failure {
        // The endpoint check names the endpoint and what to check.
        CallFailure::Unreachable(_) | CallFailure::Timeout => {
            Finding::skipped(NAME, "not checked: the AWS endpoint did not answer")
        }
        CallFailure::NotSent(why) if why.to_lowercase().contains("credential") => Finding::fail(
            NAME,
            format!("no AWS credentials were found ({why})"),
            SET_CREDENTIALS,
        ),
        _ if REJECTED.contains(&code) => Finding::fail(
            NAME,
            format!("AWS rejected the credentials ({})", failure.describe()),
            format!(
                "check the access key and secret in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS_PROFILE in use ({SET_CREDENTIALS})"
            ),
        ),
        _ if EXPIRED.contains(&code) => Finding::fail(
            NAME,
            format!("the AWS credentials have expired ({})", failure.describe()),
            "get fresh ones (e.g. `aws sso login`, or assume the role again) and retry",
        ),
        _ if code == "RegionDisabledException" => Finding::fail(
            NAME,
            format!(
                "STS is not enabled in region {region} ({})",
                failure.describe()
            ),
            format!(
                "enable region {region} for the account, or set AWS_REGION to an enabled region"
            ),
        ),
        _ => Finding::fail(
            NAME,
            format!(
                "STS GetCallerIdentity failed in region {region} ({})",
                failure.describe()
            ),
            format!("check the credentials and that {region} is the intended region"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    fn service(code: &str) -> Result<Identity, CallFailure> {
        Err(CallFailure::Service {
            status: 403,
            code: Some(code.into()),
            message: Some("msg".into()),
        })
    }

    #[test]
    fn valid_credentials_show_account_region_and_caller() {
        let f = decide(
            &Ok(Identity {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/ci".into(),
            }),
            "us-east-1",
        );
        assert_eq!(f.status, Status::Pass);
        assert_eq!(
            f.detail,
            "account 123456789012, region us-east-1, as arn:aws:iam::123456789012:user/ci"
        );
    }

    #[test]
    fn missing_rejected_and_expired_credentials_each_name_their_fix() {
        let none = decide(
            &Err(CallFailure::NotSent(
                "no credentials provider was configured".into(),
            )),
            "us-east-1",
        );
        assert_eq!(none.status, Status::Fail);
        assert!(none.detail.starts_with("no AWS credentials were found"));
        assert!(none.sentence().contains("AWS_ACCESS_KEY_ID"));

        let rejected = decide(&service("InvalidClientTokenId"), "us-east-1");
        assert!(
            rejected
                .detail
                .starts_with("AWS rejected the credentials (InvalidClientTokenId: msg)")
        );

        let expired = decide(&service("ExpiredToken"), "us-east-1");
        assert!(expired.detail.contains("expired"));
        assert!(expired.sentence().contains("aws sso login"));

        let unreachable = decide(&Err(CallFailure::Timeout), "us-east-1");
        assert_eq!(unreachable.status, Status::Skipped);

        let other = decide(&service("Throttling"), "eu-west-1");
        assert_eq!(other.status, Status::Fail);
        assert!(
            other
                .detail
                .contains("GetCallerIdentity failed in region eu-west-1")
        );
    }
}
