//! Preflight `endpoint`: the AWS endpoint answers at all. A connection that
//! fails (refused, DNS, TLS, no answer) is reported naming the endpoint in
//! use — `AWS_ENDPOINT_URL` when set, else the region's default — and what to
//! check, instead of the SDK's dispatch-failure dump at the first create.

use async_trait::async_trait;

use super::{CallFailure, Check, Finding, PreflightCx};

pub struct Endpoint;

pub const NAME: &str = "endpoint";

#[async_trait]
impl Check for Endpoint {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, cx: &PreflightCx) -> Vec<Finding> {
        let Some(region) = cx.region.as_deref() else {
            return vec![Finding::fail(
                NAME,
                "no AWS region is configured, so there is no endpoint to call",
                "set AWS_REGION (e.g. AWS_REGION=us-east-1), or a region in the AWS profile",
            )];
        };
        let configured = configured_endpoint();
        vec![decide(
            cx.identity().await.as_ref().err(),
            configured.as_ref(),
            region,
        )]
    }
}

/// Where the settings send STS calls: `AWS_ENDPOINT_URL_STS`, then
/// `AWS_ENDPOINT_URL` (the SDK's service-specific and global endpoint
/// settings, "Service-specific endpoints" in the AWS SDKs and Tools
/// Reference Guide), with the name of the setting.
fn configured_endpoint() -> Option<(&'static str, String)> {
    ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
        .into_iter()
        .find_map(|k| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| (k, v))
        })
}

/// The endpoint as the message names it.
fn describe_endpoint(configured: Option<&(&'static str, String)>, region: &str) -> String {
    match configured {
        Some((setting, url)) => format!("{url} (from {setting})"),
        // The regional STS endpoint, which the SDK uses by default
        // ("AWS STS regional endpoints", SDKs and Tools Reference Guide).
        None => {
            format!("https://sts.{region}.amazonaws.com (the default endpoint of region {region})")
        }
    }
}

/// Pass unless the call could not reach the endpoint. A service error means
/// the endpoint answered: the credentials check judges it; a request that
/// was never sent (no credentials) says nothing about the endpoint.
pub(super) fn decide(
    failure: Option<&CallFailure>,
    configured: Option<&(&'static str, String)>,
    region: &str,
) -> Finding {
    let endpoint = describe_endpoint(configured, region);
    let fix = match configured {
        Some((setting, _)) => format!(
            "check that {setting} is the right URL and that the service there is up, or unset it to use the region's endpoint"
        ),
        None => format!(
            "check the network path to AWS (proxy settings HTTPS_PROXY/NO_PROXY, firewall, DNS) and that AWS_REGION={region} is a real region"
        ),
    };
    match failure {
        Some(CallFailure::Unreachable(why)) => Finding::fail(
            NAME,
            format!("the AWS endpoint {endpoint} is unreachable ({why})"),
            fix,
        ),
        Some(CallFailure::Timeout) => Finding::fail(
            NAME,
            format!("the AWS endpoint {endpoint} did not answer in time"),
            fix,
        ),
        Some(CallFailure::NotSent(why)) => Finding::skipped(
            NAME,
            format!("not checked: no request was sent to {endpoint} ({why})"),
        ),
        Some(CallFailure::Service { .. }) | None => {
            Finding::pass(NAME, format!("{endpoint} answers"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    #[test]
    fn a_refused_connection_names_the_configured_endpoint_and_its_setting() {
        let configured = ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_string());
        let f = decide(
            Some(&CallFailure::Unreachable(
                "Connection refused (os error 111)".into(),
            )),
            Some(&configured),
            "us-east-1",
        );
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.sentence(),
            "the AWS endpoint http://127.0.0.1:9 (from AWS_ENDPOINT_URL) is unreachable \
             (Connection refused (os error 111)): check that AWS_ENDPOINT_URL is the right URL \
             and that the service there is up, or unset it to use the region's endpoint"
        );
    }

    #[test]
    fn without_an_endpoint_setting_the_regions_default_is_named() {
        let f = decide(Some(&CallFailure::Timeout), None, "eu-west-3");
        assert_eq!(f.status, Status::Fail);
        assert!(
            f.detail.contains("https://sts.eu-west-3.amazonaws.com"),
            "{}",
            f.detail
        );
        assert!(f.sentence().contains("AWS_REGION=eu-west-3"));
    }

    #[test]
    fn an_answer_even_an_error_means_the_endpoint_is_reachable() {
        let rejected = CallFailure::Service {
            status: 403,
            code: Some("InvalidClientTokenId".into()),
            message: None,
        };
        assert_eq!(
            decide(Some(&rejected), None, "us-east-1").status,
            Status::Pass
        );
        assert_eq!(decide(None, None, "us-east-1").status, Status::Pass);
        let unsent = CallFailure::NotSent("no credentials".into());
        assert_eq!(
            decide(Some(&unsent), None, "us-east-1").status,
            Status::Skipped
        );
    }
}
