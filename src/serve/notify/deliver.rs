//! Sending one body to one webhook: a POST per attempt with its own timeout,
//! retried with exponential backoff (`backon`) on connection errors,
//! timeouts, 408, 429 and 5xx — waiting what `Retry-After` asks when the
//! receiver says — and never on another 4xx or a redirect. Messages never
//! carry the URL: reqwest's errors are stripped of it (`without_url`) and
//! anything left is scrubbed of its path.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use super::config::Webhook;

/// The longest wait between attempts, `Retry-After` included.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// How much of a refusing answer's body goes into the message.
const ANSWER_CHARS: usize = 200;

/// How a delivery ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered { attempts: u32 },
    GaveUp { attempts: u32, error: String },
}

/// Why one attempt failed.
#[derive(Debug)]
struct AttemptError {
    message: String,
    retry: bool,
    retry_after: Option<Duration>,
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The HTTP client every delivery shares: rustls, no redirects (a webhook
/// that moved answers 3xx, which is reported, not followed with the body).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("envctl/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with rustls and no redirects builds")
}

/// Whether an answer's status is worth another attempt: the receiver was
/// busy or broken (5xx), rate-limited us (429) or timed out (408).
pub fn retryable_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3), from `now`.
pub fn retry_after(headers: &HeaderMap, now: jiff::Timestamp) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    Some(at.duration_since(now).unsigned_abs()).filter(|_| at > now)
}

/// Removes the webhook's URL and path from `text`, whatever produced it.
fn scrub(text: &str, hook: &Webhook) -> String {
    let url = hook.url.url();
    let mut out = text.replace(url.as_str(), "<webhook url>");
    if url.path().len() > 1 {
        out = out.replace(url.path(), "/<hidden>");
    }
    out
}

/// The error with its causes, without the URL.
fn describe(e: reqwest::Error, hook: &Webhook) -> String {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if timeout {
        text = format!("no answer within {:?} ({text})", hook.timeout);
    }
    scrub(&text, hook)
}

async fn attempt(
    client: &reqwest::Client,
    hook: &Webhook,
    body: &Value,
) -> Result<(), AttemptError> {
    let answer = client
        .post(hook.url.url().clone())
        .timeout(hook.timeout)
        .json(body)
        .send()
        .await
        .map_err(|e| AttemptError {
            message: describe(e, hook),
            retry: true,
            retry_after: None,
        })?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let wait = retry_after(answer.headers(), jiff::Timestamp::now());
    let text: String = answer
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(ANSWER_CHARS)
        .collect();
    let retry = retryable_status(status);
    let hint = if retry {
        ""
    } else if status.is_redirection() {
        "; the webhook moved: configure its new address"
    } else {
        "; the receiver refused the request, so it is not retried: check the webhook's URL and format"
    };
    Err(AttemptError {
        message: scrub(&format!("answered {status} {}{hint}", text.trim()), hook),
        retry,
        retry_after: wait,
    })
}

/// Sends `body` to `hook`, retrying as the module says, and reports how it
/// ended and after how many attempts.
pub async fn deliver(client: &reqwest::Client, hook: &Webhook, body: &Value) -> Outcome {
    let attempts = AtomicU32::new(0);
    let backoff = ExponentialBuilder::default()
        .with_min_delay(hook.first_retry)
        .with_max_delay(MAX_WAIT)
        .with_factor(2.0)
        .with_max_times(hook.attempts.saturating_sub(1));
    let result = (|| async {
        attempts.fetch_add(1, Ordering::Relaxed);
        attempt(client, hook, body).await
    })
    .retry(backoff)
    .sleep(tokio::time::sleep)
    .when(|e: &AttemptError| e.retry)
    // A receiver's Retry-After replaces the backoff's wait (up to MAX_WAIT);
    // when the attempts are used up (`None`) it changes nothing.
    .adjust(|e: &AttemptError, wait| wait.map(|w| e.retry_after.map_or(w, |r| r.min(MAX_WAIT))))
    .notify(|e: &AttemptError, wait| {
        tracing::warn!(webhook = %hook.name, error = %e, retry_in = ?wait, "webhook attempt failed; retrying");
    })
    .await;
    let attempts = attempts.load(Ordering::Relaxed);
    match result {
        Ok(()) => Outcome::Delivered { attempts },
        Err(e) => Outcome::GaveUp {
            attempts,
            error: e.message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn server_errors_and_rate_limits_are_retried_other_refusals_are_not() {
        for s in [500, 502, 503, 504, 429, 408] {
            assert!(retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 301, 302] {
            assert!(!retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(3)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Jan 2026 00:00:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 31 Dec 2025 23:00:00 GMT"),
        );
        assert_eq!(
            retry_after(&h, now),
            None,
            "a date in the past asks for no wait"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
