//! Rule priorities on a listener many tenants share: which free priority a
//! tenant's rule tries ([`pick`]), and the bounded read-pick-create loop
//! that survives tenants creating their rules at the same moment
//! ([`create_at_free_priority`]).
//!
//! Priorities of one listener are unique: CreateRule answers
//! `PriorityInUse` for a taken one ("ELBv2 API reference, CreateRule":
//! `Priority`, 1-50000, "A listener can't have multiple rules with the same
//! priority"). terraform-provider-aws's `aws_lb_listener_rule` without a
//! priority reads the listener's rules, takes the highest plus one and
//! retries CreateRule on `PriorityInUseException` for up to 5 minutes
//! (internal/service/elbv2/listener_rule.go, `retryListenerRuleCreate`,
//! `highestListenerRulePriority`). Under N tenants at once, highest-plus-one
//! makes all N try the same number, so only one wins per round. Here each
//! rule starts its search at a point spread over the range by a hash of
//! tenant, resource and attempt, and takes the first free priority from
//! there: concurrent tenants almost never meet, and when they do the loser
//! reads again and starts elsewhere. Order among host rules does not matter
//! (each tenant's hosts are its own, refused if another rule has them), so
//! spreading them costs nothing.

use std::collections::BTreeSet;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::kinds::KindError;

/// The lowest and highest priority of a non-default rule (CreateRule,
/// `Priority`: "Valid Range: Minimum value of 1. Maximum value of 50000").
pub const PRIORITIES: std::ops::RangeInclusive<u32> = 1..=50_000;

/// How many read-pick-create rounds one apply makes before giving the
/// engine a transient error (which retries the apply with backoff).
pub const MAX_ATTEMPTS: u32 = 8;

/// Where the search of `key` (tenant/resource) starts on its `attempt`-th
/// try: a point of [`PRIORITIES`] from a hash, the same for the same inputs.
pub fn start(key: &str, attempt: u32) -> u32 {
    let digest = Sha256::digest(format!("{key}#{attempt}").as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let span = PRIORITIES.end() - PRIORITIES.start() + 1;
    PRIORITIES.start() + n % span
}

/// The first priority of `range` at or after `from` (wrapping to the
/// range's start) that `used` does not hold; `None` when all are used.
pub fn first_free(
    used: &BTreeSet<u32>,
    from: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Option<u32> {
    let from = from.clamp(*range.start(), *range.end());
    (from..=*range.end())
        .chain(*range.start()..from)
        .find(|p| !used.contains(p))
}

/// The priority `key`'s rule tries on its `attempt`-th round, given the
/// priorities in use.
pub fn pick(used: &BTreeSet<u32>, key: &str, attempt: u32) -> Option<u32> {
    first_free(used, start(key, attempt), PRIORITIES)
}

/// What one CreateRule at a chosen priority came to.
pub enum Attempt<T> {
    Created(T),
    /// Another rule took the priority between our read and our create.
    PriorityInUse,
}

/// The two calls the loop needs, so that it can be tested without a cloud.
#[async_trait]
pub trait Slots: Send + Sync {
    type Created: Send;
    /// The priorities of the listener's rules now (DescribeRules).
    async fn used(&self) -> Result<BTreeSet<u32>, KindError>;
    /// CreateRule at `priority`.
    async fn create(&self, priority: u32) -> Result<Attempt<Self::Created>, KindError>;
}

/// Reads the rules, picks a free priority, creates; on `PriorityInUse`
/// reads again and picks from another starting point, at most
/// [`MAX_ATTEMPTS`] times. Returns the priority and what the create gave.
pub async fn create_at_free_priority<S: Slots>(
    slots: &S,
    key: &str,
    listener: &str,
) -> Result<(u32, S::Created), KindError> {
    let mut lost = Vec::new();
    for attempt in 0..MAX_ATTEMPTS {
        let used = slots.used().await?;
        let Some(priority) = pick(&used, key, attempt) else {
            return Err(KindError::Permanent(format!(
                "listener {listener} has a rule at every priority from {} to {}; remove \
                 rules of destroyed tenants or use another load balancer",
                PRIORITIES.start(),
                PRIORITIES.end()
            )));
        };
        match slots.create(priority).await? {
            Attempt::Created(c) => return Ok((priority, c)),
            Attempt::PriorityInUse => lost.push(priority),
        }
    }
    Err(KindError::Transient(format!(
        "CreateRule on listener {listener}: priorities {lost:?} were each taken by another \
         rule between reading the rules and creating ours (PriorityInUse, {MAX_ATTEMPTS} \
         times); trying again"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn the_first_free_priority_is_taken_from_the_start_wrapping_at_the_end() {
        let used: BTreeSet<u32> = [5, 6, 7, 10].into();
        assert_eq!(first_free(&used, 5, 1..=10), Some(8));
        assert_eq!(first_free(&used, 4, 1..=10), Some(4));
        // 10 is used: wrap to 1.
        assert_eq!(first_free(&used, 10, 1..=10), Some(1));
        let full: BTreeSet<u32> = (1..=10).collect();
        assert_eq!(first_free(&full, 3, 1..=10), None);
        // A start outside the range is brought into it.
        assert_eq!(first_free(&BTreeSet::new(), 0, 1..=10), Some(1));
        assert_eq!(first_free(&BTreeSet::new(), 99, 1..=10), Some(10));
    }

    #[test]
    fn starts_are_in_range_deterministic_and_differ_per_tenant_and_attempt() {
        let a = start("acme/edge", 0);
        assert!(PRIORITIES.contains(&a));
        assert_eq!(a, start("acme/edge", 0));
        assert_ne!(a, start("acme/edge", 1));
        let starts: BTreeSet<u32> = (0..50)
            .map(|i| start(&format!("tenant-{i}/edge"), 0))
            .collect();
        assert_eq!(starts.len(), 50, "50 tenants, 50 distinct starting points");
    }

    #[test]
    fn a_pick_never_returns_a_used_priority() {
        let key = "acme/edge";
        let first = pick(&BTreeSet::new(), key, 0).unwrap();
        let used: BTreeSet<u32> = [first].into();
        let second = pick(&used, key, 0).unwrap();
        assert_ne!(second, first);
        assert!(!used.contains(&second));
    }

    /// A listener where a concurrent tenant takes, just before our create,
    /// the priority we chose, `steal` times.
    struct Racy {
        rules: Mutex<BTreeSet<u32>>,
        steal: Mutex<u32>,
        creates: Mutex<u32>,
    }

    impl Racy {
        fn new(existing: &[u32], steal: u32) -> Racy {
            Racy {
                rules: Mutex::new(existing.iter().copied().collect()),
                steal: Mutex::new(steal),
                creates: Mutex::new(0),
            }
        }
    }

    #[async_trait]
    impl Slots for Racy {
        type Created = ();
        async fn used(&self) -> Result<BTreeSet<u32>, KindError> {
            Ok(self.rules.lock().unwrap().clone())
        }
        async fn create(&self, priority: u32) -> Result<Attempt<()>, KindError> {
            *self.creates.lock().unwrap() += 1;
            let mut rules = self.rules.lock().unwrap();
            let mut steal = self.steal.lock().unwrap();
            if *steal > 0 {
                *steal -= 1;
                rules.insert(priority);
            }
            // The listener's rule: one rule per priority.
            if !rules.insert(priority) {
                return Ok(Attempt::PriorityInUse);
            }
            Ok(Attempt::Created(()))
        }
    }

    #[tokio::test]
    async fn a_priority_taken_meanwhile_is_picked_again_elsewhere() {
        let racy = Racy::new(&[1, 2, 3], 2);
        let (p, ()) = create_at_free_priority(&racy, "acme/edge", "l")
            .await
            .unwrap();
        assert_eq!(*racy.creates.lock().unwrap(), 3, "two lost rounds, one won");
        // Ours plus the two a rival took plus the three that were there.
        let rules = racy.rules.lock().unwrap();
        assert_eq!(rules.len(), 6);
        assert!(rules.contains(&p));
        assert!(![1, 2, 3].contains(&p));
    }

    #[tokio::test]
    async fn losing_every_round_is_a_transient_error_after_max_attempts() {
        let racy = Racy::new(&[], MAX_ATTEMPTS);
        let err = create_at_free_priority(&racy, "acme/edge", "listener/app/x")
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("PriorityInUse") && msg.contains("listener/app/x"),
            "{msg}"
        );
        assert_eq!(*racy.creates.lock().unwrap(), MAX_ATTEMPTS);
    }

    #[tokio::test]
    async fn concurrent_rules_on_one_listener_get_distinct_priorities() {
        // Six tenants through one listener that enforces uniqueness; the
        // first two creates of the round lose to a rival.
        let racy = std::sync::Arc::new(Racy::new(&[], 2));
        let mut tasks = Vec::new();
        for i in 0..6 {
            let racy = racy.clone();
            tasks.push(tokio::spawn(async move {
                create_at_free_priority(&*racy, &format!("t{i}/edge"), "l")
                    .await
                    .unwrap()
                    .0
            }));
        }
        let mut got = BTreeSet::new();
        for t in tasks {
            assert!(got.insert(t.await.unwrap()), "a priority given twice");
        }
        assert_eq!(got.len(), 6);
    }
}
