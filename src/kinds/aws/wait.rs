//! Bounded polling inside one call of a kind: for the short settles AWS
//! needs between two calls of the same apply (a listener that appears after
//! its load balancer, a function that leaves `Pending`). Waits that end a
//! node's work — ready after create, gone after delete — are the engine's
//! (`Kind::ready`, `Kind::gone`), under its progress, budget and
//! cancellation, not here.

use std::future::Future;
use std::time::Duration;

use crate::kinds::KindError;

/// The first pause of [`poll_until`]; each next one is 1.5 times longer.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause of [`poll_until`].
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// Calls `check` until it yields a value, pausing 1 s (growing ×1.5 up to
/// 10 s) in between, for at most `limit`. `Ok(None)` when the limit passed
/// first.
pub async fn poll_until<T, F, Fut>(limit: Duration, mut check: F) -> Result<Option<T>, KindError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, KindError>>,
{
    let started = tokio::time::Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(v) = check().await? {
            return Ok(Some(v));
        }
        if started.elapsed() + pause > limit {
            return Ok(None);
        }
        tokio::time::sleep(pause).await;
        pause = pause.mul_f32(1.5).min(LONGEST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn polls_until_a_value_or_the_limit() {
        let mut calls = 0;
        let found = poll_until(Duration::from_secs(60), || {
            calls += 1;
            let n = calls;
            async move { Ok((n == 3).then_some(n)) }
        })
        .await
        .unwrap();
        assert_eq!(found, Some(3));
        let never: Option<()> = poll_until(Duration::from_secs(5), || async { Ok(None) })
            .await
            .unwrap();
        assert_eq!(never, None);
    }
}
