//! Concurrency bounds per cloud API (RDS, ELB and Route53 have low rate
//! limits) and for the run as a whole.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bounds used when neither the stack nor the command line sets one. RDS,
/// ELB, Route53 and ACM have low control-plane rate limits on real AWS.
pub const DEFAULT_LIMITS: &[(&str, usize)] = &[
    ("rds", 4),
    ("elb", 4),
    ("route53", 2),
    ("acm", 4),
    ("ec2", 8),
    ("s3", 16),
    ("sqs", 16),
    ("sns", 16),
];
/// Bound for an API without an entry.
pub const DEFAULT_PER_API: usize = 16;
/// Bound on nodes running at once, all APIs together.
pub const DEFAULT_PARALLELISM: usize = 64;

pub struct Limits {
    total: Arc<Semaphore>,
    per_api: BTreeMap<String, Arc<Semaphore>>,
    fallback: usize,
    extra: std::sync::Mutex<BTreeMap<String, Arc<Semaphore>>>,
}

/// Both permits a node holds while it runs.
pub struct Permit {
    _api: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

impl Limits {
    /// Defaults, overridden by `overrides` (stack `limits:`, then `--limit`).
    pub fn new(overrides: &BTreeMap<String, usize>, parallelism: usize) -> Self {
        let mut bounds: BTreeMap<String, usize> = DEFAULT_LIMITS
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        bounds.extend(overrides.iter().map(|(k, v)| (k.clone(), *v)));
        Self {
            total: Arc::new(Semaphore::new(parallelism.max(1))),
            per_api: bounds
                .into_iter()
                .map(|(k, v)| (k, Arc::new(Semaphore::new(v.max(1)))))
                .collect(),
            fallback: DEFAULT_PER_API,
            extra: Default::default(),
        }
    }

    fn semaphore(&self, api: &str) -> Arc<Semaphore> {
        if let Some(s) = self.per_api.get(api) {
            return s.clone();
        }
        self.extra
            .lock()
            .expect("limits table")
            .entry(api.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.fallback)))
            .clone()
    }

    /// Waits for a slot of `api` and a slot of the run.
    pub async fn acquire(&self, api: &str) -> Permit {
        let api_permit = self
            .semaphore(api)
            .acquire_owned()
            .await
            .expect("never closed");
        let total = self
            .total
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        Permit {
            _api: api_permit,
            _total: total,
        }
    }

    /// The bound in force for `api`.
    pub fn bound(&self, api: &str) -> usize {
        self.per_api
            .get(api)
            .map(|s| s.available_permits())
            .unwrap_or(self.fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_api_never_runs_more_than_its_bound() {
        let limits = Arc::new(Limits::new(&[("rds".to_string(), 2)].into(), 64));
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (limits, running, peak) = (limits.clone(), running.clone(), peak.clone());
            tasks.spawn(async move {
                let _p = limits.acquire("rds").await;
                let now = running.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                running.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        while tasks.join_next().await.is_some() {}
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn overrides_replace_defaults() {
        let limits = Limits::new(&[("rds".to_string(), 1)].into(), 4);
        assert_eq!(limits.bound("rds"), 1);
        assert_eq!(limits.bound("route53"), 2);
        assert_eq!(limits.bound("unknown-api"), DEFAULT_PER_API);
    }
}
