//! The health gate's optional HTTP check (`--http-check URL`): after a
//! tenant's Deployments have rolled out and soaked, its URL (`{tenant}`
//! replaced by the tenant's name, e.g. `https://app.{tenant}.example.com/healthcheck`:
//! the path a customer's request takes, through DNS, the load balancer and
//! the Service) must answer 2xx [`PASSES`] times in a row. Like a smoke
//! test in a deployment pipeline (Flagger's and Argo Rollouts' webhook
//! checks), it catches what Kubernetes readiness cannot: a routing rule, a
//! certificate, a dependency the pods do not probe.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Consecutive 2xx answers that pass the check: one lucky answer from a
/// flapping backend does not.
pub const PASSES: u32 = 3;
/// Between two requests.
const INTERVAL: Duration = Duration::from_secs(1);
/// One request's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The default time the check may take before it fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The check as the rollout's spec keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCheck {
    /// With `{tenant}` for the tenant's name.
    pub url: String,
    pub timeout_ms: u64,
}

impl HttpCheck {
    /// Checks `url` (the template) and `timeout` before anything is
    /// recorded; the error names the flag and the fix.
    pub fn new(url: &str, timeout: Duration) -> Result<HttpCheck, String> {
        let sample = url.replace("{tenant}", "acme");
        let parsed = reqwest::Url::parse(&sample).map_err(|e| {
            format!("'{url}' is not a URL ({e}); write e.g. https://app.{{tenant}}.example.com/healthcheck")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!(
                "'{url}': only http:// and https:// URLs with a host can be checked"
            ));
        }
        if timeout.is_zero() {
            return Err(
                "a check with no time to answer always fails: give it some, e.g. 60s".into(),
            );
        }
        Ok(HttpCheck {
            url: url.to_string(),
            timeout_ms: timeout.as_millis() as u64,
        })
    }

    pub fn url_for(&self, tenant: &str) -> String {
        self.url.replace("{tenant}", tenant)
    }

    /// Requests the tenant's URL until it has answered 2xx [`PASSES`]
    /// times in a row (`Ok`), or the timeout has passed (`Err`: the last
    /// answer or error, in words).
    pub async fn run(&self, tenant: &str) -> Result<(), String> {
        let url = self.url_for(tenant);
        let timeout = Duration::from_millis(self.timeout_ms);
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("HTTP check: cannot make a client: {e}"))?;
        let deadline = Instant::now() + timeout;
        let (mut in_a_row, mut tries) = (0u32, 0u32);
        let mut last = String::from("no answer yet");
        loop {
            tries += 1;
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => {
                    in_a_row += 1;
                    if in_a_row >= PASSES {
                        return Ok(());
                    }
                }
                Ok(r) => {
                    in_a_row = 0;
                    last = format!("answered {}", r.status());
                }
                Err(e) => {
                    in_a_row = 0;
                    last = format!("failed: {}", crate::error_text::innermost_cause(&e));
                }
            }
            if Instant::now() + INTERVAL > deadline {
                return Err(format!(
                    "GET {url} did not answer 2xx {PASSES} times in a row within {}: the last request {last} ({tries} tries)",
                    humantime::format_duration(timeout)
                ));
            }
            tokio::time::sleep(INTERVAL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_template_is_checked_and_filled() {
        let c = HttpCheck::new("http://127.0.0.1:9/{tenant}/health", DEFAULT_TIMEOUT).unwrap();
        assert_eq!(c.url_for("shop"), "http://127.0.0.1:9/shop/health");
        assert!(
            HttpCheck::new("app.{tenant}.example.com", DEFAULT_TIMEOUT)
                .unwrap_err()
                .contains("not a URL")
        );
        assert!(
            HttpCheck::new("ftp://example.com/x", DEFAULT_TIMEOUT)
                .unwrap_err()
                .contains("only http")
        );
        assert!(HttpCheck::new("http://x/", Duration::ZERO).is_err());
    }
}
