//! Retries with jittered exponential backoff for transient errors
//! (throttling, 5xx, timeouts), a time limit per attempt, and readiness
//! polling until a kind says ready or its timeout runs out. Both stop at once
//! when the run is cancelled.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::kinds::{KindError, Readiness};

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// Longest one attempt may take before it counts as a (transient) timeout.
    pub attempt_timeout: Duration,
    /// First and longest pause between readiness polls.
    pub poll_min: Duration,
    pub poll_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            max_retries: 8,
            attempt_timeout: Duration::from_secs(300),
            poll_min: Duration::from_millis(100),
            poll_max: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// The default, with the longest pause between readiness polls from
    /// `ENVCTL_POLL_MAX` (seconds, e.g. `0.25`) when it is set to a
    /// positive number: for environments whose fake AWS runs on a scaled
    /// clock (the bench's realism layer at x1/60 polls at 1/60 of the
    /// cadence, so that its waits stretch back to real ones). Anything else
    /// keeps the default.
    pub fn from_env() -> Self {
        Self::default().with_poll_max(std::env::var("ENVCTL_POLL_MAX").ok().as_deref())
    }

    /// `self` with `poll_max` from `seconds` when that is a positive number.
    fn with_poll_max(mut self, seconds: Option<&str>) -> Self {
        if let Some(max) = seconds
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
        {
            self.poll_max = Duration::from_secs_f64(max);
            self.poll_min = self.poll_min.min(self.poll_max);
        }
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Kind(#[from] KindError),
    #[error("not ready after {0:?}: {1}")]
    NotReady(Duration, String),
    #[error("cancelled")]
    Cancelled,
}

/// Runs `op` until it succeeds, fails permanently, or retries run out.
/// A [`KindError::Transient`] is retried `max_retries` times with jittered
/// exponential backoff; a [`KindError::Waiting`] until its own `within` has
/// passed since it was first seen (backoff capped at `max_delay`), however
/// many attempts that takes. `on_retry(attempt, error)` is told about each
/// retry.
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    mut op: F,
    mut on_retry: impl FnMut(usize, &KindError) + Send,
) -> Result<T, StepError>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Result<T, KindError>> + Send,
    T: Send,
{
    let timeout = policy.attempt_timeout;
    let backoff = || {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
    };
    let mut transient = backoff().with_max_times(policy.max_retries).build();
    let mut waiting = backoff().without_max_times().build();
    let mut waiting_since: Option<Instant> = None;
    let mut attempts = 0usize;
    loop {
        let outcome = tokio::select! {
            r = tokio::time::timeout(timeout, op()) => match r {
                Ok(r) => r,
                Err(_) => Err(KindError::Transient(format!("attempt timed out after {timeout:?}"))),
            },
            _ = cancel.cancelled() => return Err(StepError::Cancelled),
        };
        let err = match outcome {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let pause = match &err {
            KindError::Waiting { within, .. } => {
                let since = *waiting_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= *within {
                    return Err(StepError::Kind(gave_up_waiting(err, since.elapsed())));
                }
                waiting.next()
            }
            KindError::Transient(_) => transient.next(),
            _ => None,
        };
        let Some(pause) = pause else {
            return Err(StepError::Kind(err));
        };
        attempts += 1;
        on_retry(attempts, &err);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = cancel.cancelled() => return Err(StepError::Cancelled),
        }
    }
}

/// A [`KindError::Waiting`] whose time ran out becomes permanent, saying
/// how long it waited and for what.
fn gave_up_waiting(err: KindError, waited: Duration) -> KindError {
    match err {
        KindError::Waiting {
            message,
            waiting_for,
            ..
        } => KindError::Permanent(format!(
            "gave up after waiting {} for {waiting_for}: {message}",
            crate::budget::fmt_duration(waited)
        )),
        other => other,
    }
}

/// Polls `poll` until it reports ready, growing the pause ×1.5 from
/// `poll_min` to `poll_max`; fails after `limit`. Transient poll errors are
/// retried like a pending answer.
pub async fn wait_ready<F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    limit: Duration,
    mut poll: F,
    mut on_pending: impl FnMut(&str) + Send,
) -> Result<(), StepError>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Result<Readiness, KindError>> + Send,
{
    let started = tokio::time::Instant::now();
    let mut pause = policy.poll_min;
    let mut last = String::new();
    loop {
        match poll().await {
            Ok(Readiness::Ready) => return Ok(()),
            Ok(Readiness::Pending(reason)) => {
                if reason != last {
                    on_pending(&reason);
                }
                last = reason;
            }
            Err(e) if e.is_transient() => last = e.to_string(),
            Err(e) => return Err(e.into()),
        }
        if started.elapsed() + pause > limit {
            return Err(StepError::NotReady(limit, last));
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = cancel.cancelled() => return Err(StepError::Cancelled),
        }
        pause = (pause.mul_f32(1.5)).min(policy.poll_max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retries: 3,
            attempt_timeout: Duration::from_millis(200),
            poll_min: Duration::from_millis(1),
            poll_max: Duration::from_millis(5),
        }
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let calls = AtomicUsize::new(0);
        let mut seen = 0;
        let r = with_retries(
            &fast(),
            &CancellationToken::new(),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(KindError::Transient("Throttling".into()))
                } else {
                    Ok(7)
                }
            },
            |_, _| seen += 1,
        )
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(seen, 2);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let r: Result<(), _> = with_retries(
            &fast(),
            &CancellationToken::new(),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(KindError::Permanent("AccessDenied".into()))
            },
            |_, _| {},
        )
        .await;
        assert!(matches!(r, Err(StepError::Kind(KindError::Permanent(_)))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retries_give_up_after_the_bound() {
        let calls = AtomicUsize::new(0);
        let r: Result<(), _> = with_retries(
            &fast(),
            &CancellationToken::new(),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(KindError::Transient("503".into()))
            },
            |_, _| {},
        )
        .await;
        assert!(r.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "one attempt plus three retries"
        );
    }

    #[tokio::test]
    async fn waiting_errors_are_retried_past_the_transient_bound_until_they_clear() {
        let calls = AtomicUsize::new(0);
        let mut said = Vec::new();
        let r = with_retries(
            &fast(),
            &CancellationToken::new(),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 10 {
                    Err(KindError::waiting(
                        "DeleteSecurityGroup sg-1: DependencyViolation: resource has a dependent object",
                        "the load balancer's network interfaces to be released",
                        Duration::from_secs(60),
                    ))
                } else {
                    Ok(3)
                }
            },
            |_, e| said.push(e.to_string()),
        )
        .await;
        assert_eq!(r.unwrap(), 3);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            11,
            "more retries than max_retries (3)"
        );
        assert!(
            said[0].starts_with(
                "waiting for the load balancer's network interfaces to be released (up to 1m"
            ),
            "{}",
            said[0]
        );
    }

    #[tokio::test]
    async fn waiting_errors_give_up_at_their_deadline_saying_what_they_waited_for() {
        let r: Result<(), _> = with_retries(
            &fast(),
            &CancellationToken::new(),
            || async {
                Err(KindError::waiting(
                    "CreateListener: CertificateNotFound: Certificate not found",
                    "the certificate to become visible to Elastic Load Balancing",
                    Duration::from_millis(30),
                ))
            },
            |_, _| {},
        )
        .await;
        let Err(StepError::Kind(KindError::Permanent(m))) = r else {
            panic!("expected a permanent error, got {r:?}");
        };
        assert!(m.starts_with("gave up after waiting"), "{m}");
        assert!(
            m.contains("visible to Elastic Load Balancing") && m.contains("CertificateNotFound"),
            "{m}"
        );
    }

    #[tokio::test]
    async fn a_hanging_attempt_times_out_and_is_retried() {
        let calls = AtomicUsize::new(0);
        let r = with_retries(
            &fast(),
            &CancellationToken::new(),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    std::future::pending::<()>().await;
                }
                Ok(1)
            },
            |_, _| {},
        )
        .await;
        assert_eq!(r.unwrap(), 1);
    }

    #[test]
    fn the_longest_poll_pause_is_taken_only_from_a_positive_number() {
        let default = RetryPolicy::default();
        let scaled = RetryPolicy::default().with_poll_max(Some("0.25"));
        assert_eq!(scaled.poll_max, Duration::from_millis(250));
        assert_eq!(scaled.poll_min, default.poll_min);
        let tiny = RetryPolicy::default().with_poll_max(Some("0.01"));
        assert_eq!(tiny.poll_min, Duration::from_millis(10));
        for ignored in [
            None,
            Some(""),
            Some("fast"),
            Some("0"),
            Some("-1"),
            Some("NaN"),
        ] {
            assert_eq!(
                RetryPolicy::default().with_poll_max(ignored).poll_max,
                default.poll_max,
                "{ignored:?}"
            );
        }
    }

    #[tokio::test]
    async fn readiness_is_polled_until_ready() {
        let polls = AtomicUsize::new(0);
        let r = wait_ready(
            &fast(),
            &CancellationToken::new(),
            Duration::from_secs(5),
            || async {
                if polls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Ok(Readiness::Pending("creating".into()))
                } else {
                    Ok(Readiness::Ready)
                }
            },
            |_| {},
        )
        .await;
        assert!(r.is_ok());
        assert_eq!(polls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn readiness_gives_up_at_its_limit() {
        let r = wait_ready(
            &fast(),
            &CancellationToken::new(),
            Duration::from_millis(20),
            || async { Ok(Readiness::Pending("PENDING_VALIDATION".into())) },
            |_| {},
        )
        .await;
        let err = r.unwrap_err();
        assert!(err.to_string().contains("PENDING_VALIDATION"), "{err}");
    }

    #[tokio::test]
    async fn cancellation_stops_a_wait() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let r = wait_ready(
            &fast(),
            &cancel,
            Duration::from_secs(60),
            || async { Ok(Readiness::Pending("x".into())) },
            |_| {},
        )
        .await;
        assert!(matches!(r, Err(StepError::Cancelled)));
    }
}
