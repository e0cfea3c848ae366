//! Expected duration of each kind, for the ETA and the budget: the stack's
//! `expected:` override, else what past runs took, else the kind's built-in
//! default, else [`FALLBACK`]. Each is the whole time until ready; the part
//! until `apply` has returned the outputs (all a `created` edge waits for) is
//! a share of it ([`ExpectedDurations::weight`]).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::graph::Weight;
use crate::kinds::kind_by_name;

/// Expected duration of a kind nobody knows anything about.
pub const FALLBACK: Duration = Duration::from_secs(10);

/// The share of a kind's expected duration spent in `apply` (until its
/// outputs are known) when the kind says nothing else
/// ([`Kind::apply_share`](crate::kinds::Kind::apply_share)): the cloud's
/// create calls return in seconds, the rest is the wait until ready (a load
/// balancer's 2–5 minutes to `active`). A tenth is on the safe side for the
/// slow kinds and costs little on the fast ones.
pub const DEFAULT_APPLY_SHARE: f64 = 0.1;

/// How many recent samples [`learn`] looks at. Odd, so the median is one
/// real sample.
pub const LEARN_WINDOW: usize = 9;

/// Expected durations by kind, with their precedence resolved in [`Self::of`].
#[derive(Clone, Debug)]
pub struct ExpectedDurations {
    overrides: BTreeMap<String, Duration>,
    learned: BTreeMap<String, Duration>,
    defaults: fn(&str) -> Option<Duration>,
}

/// Where an expected duration came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The stack's `expected:` section.
    Stack,
    /// Learned from past runs.
    Learned,
    /// The kind's built-in default.
    Default,
    /// Nothing known: [`FALLBACK`].
    Fallback,
}

fn registry_default(kind: &str) -> Option<Duration> {
    kind_by_name(kind).map(|k| k.expected())
}

impl ExpectedDurations {
    /// Stack overrides beat learned durations, which beat the kinds'
    /// defaults from the registry.
    pub fn new(
        stack_overrides: &BTreeMap<String, Duration>,
        learned: &BTreeMap<String, Duration>,
    ) -> Self {
        Self::with_defaults(stack_overrides, learned, registry_default)
    }

    /// As [`Self::new`], with the built-in defaults from `defaults` instead
    /// of the kind registry.
    pub fn with_defaults(
        stack_overrides: &BTreeMap<String, Duration>,
        learned: &BTreeMap<String, Duration>,
        defaults: fn(&str) -> Option<Duration>,
    ) -> Self {
        Self {
            overrides: stack_overrides.clone(),
            learned: learned.clone(),
            defaults,
        }
    }

    /// The expected duration of `kind`.
    pub fn of(&self, kind: &str) -> Duration {
        self.lookup(kind).0
    }

    /// The expected duration of `kind` with its apply part: the kind's
    /// [`apply_share`](crate::kinds::Kind::apply_share) (else
    /// [`DEFAULT_APPLY_SHARE`]) of [`Self::of`], whichever source that came
    /// from (stack, learned or default).
    pub fn weight(&self, kind: &str) -> Weight {
        split(kind, self.of(kind))
    }

    /// The expected duration of a claim from a warm pool of `kind`: learned
    /// from past claims (recorded under [`claim_key`]), else the kind's
    /// [`claim_expected`](crate::kinds::Poolable::claim_expected), else what
    /// a create takes ([`Self::of`]).
    pub fn claim(&self, kind: &str) -> Duration {
        if let Some(d) = self.learned.get(&claim_key(kind)) {
            return *d;
        }
        kind_by_name(kind)
            .and_then(|k| k.poolable())
            .map_or_else(|| self.of(kind), |p| p.claim_expected())
    }

    /// [`Self::weight`] of a node of `kind`, or of its claim from a warm
    /// pool when `claimed`: a hit weighs what the claim takes, not the
    /// create (the forecast and the critical path of a pooled stack).
    pub fn node_weight(&self, kind: &str, claimed: bool) -> Weight {
        if claimed {
            split(kind, self.claim(kind))
        } else {
            self.weight(kind)
        }
    }

    /// Where [`Self::of`] takes its answer from.
    pub fn source(&self, kind: &str) -> Source {
        self.lookup(kind).1
    }

    fn lookup(&self, kind: &str) -> (Duration, Source) {
        if let Some(d) = self.overrides.get(kind) {
            (*d, Source::Stack)
        } else if let Some(d) = self.learned.get(kind) {
            (*d, Source::Learned)
        } else if let Some(d) = (self.defaults)(kind) {
            (d, Source::Default)
        } else {
            (FALLBACK, Source::Fallback)
        }
    }
}

/// `total` with its apply part: `kind`'s
/// [`apply_share`](crate::kinds::Kind::apply_share) of it, else
/// [`DEFAULT_APPLY_SHARE`].
fn split(kind: &str, total: Duration) -> Weight {
    let share = kind_by_name(kind).map_or(DEFAULT_APPLY_SHARE, |k| k.apply_share());
    Weight {
        apply: total.mul_f64(share.clamp(0.0, 1.0)),
        total,
    }
}

/// The key a claim's duration is recorded and learned under: apart from
/// the kind's creates, whose minutes a one-minute claim must not pull down.
pub fn claim_key(kind: &str) -> String {
    format!("{kind}#claim")
}

/// A kind's expected duration learned from past samples (oldest first): the
/// median of the last [`LEARN_WINDOW`]. The median ignores the odd run that
/// was throttled or hit a cold API, and the window follows a cloud that got
/// faster or slower. With an even number of samples it is the mean of the two
/// middle ones. `None` without samples.
pub fn learn(samples: &[Duration]) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut recent = samples[samples.len().saturating_sub(LEARN_WINDOW)..].to_vec();
    recent.sort_unstable();
    let mid = recent.len() / 2;
    Some(if recent.len() % 2 == 1 {
        recent[mid]
    } else {
        (recent[mid - 1] + recent[mid]) / 2
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn defaults(kind: &str) -> Option<Duration> {
        (kind == "aws.rds.instance" || kind == "aws.s3.bucket").then_some(s(300))
    }

    #[test]
    fn stack_override_beats_learned_beats_default_beats_fallback() {
        let overrides = BTreeMap::from([("aws.s3.bucket".to_string(), s(4))]);
        let learned = BTreeMap::from([
            ("aws.s3.bucket".to_string(), s(7)),
            ("aws.sqs.queue".to_string(), s(2)),
        ]);
        let e = ExpectedDurations::with_defaults(&overrides, &learned, defaults);
        assert_eq!(
            (e.of("aws.s3.bucket"), e.source("aws.s3.bucket")),
            (s(4), Source::Stack)
        );
        assert_eq!(
            (e.of("aws.sqs.queue"), e.source("aws.sqs.queue")),
            (s(2), Source::Learned)
        );
        assert_eq!(
            (e.of("aws.rds.instance"), e.source("aws.rds.instance")),
            (s(300), Source::Default)
        );
        assert_eq!(
            (e.of("who.knows"), e.source("who.knows")),
            (FALLBACK, Source::Fallback)
        );
    }

    #[test]
    fn registry_defaults_are_the_kinds_own() {
        let e = ExpectedDurations::new(&BTreeMap::new(), &BTreeMap::new());
        for k in crate::kinds::all_kinds() {
            assert_eq!(e.of(k.name()), k.expected(), "{}", k.name());
        }
        assert_eq!(e.of("no.such.kind"), FALLBACK);
    }

    #[test]
    fn a_claimed_node_weighs_its_claim_learned_apart_from_creates() {
        let e = ExpectedDurations::new(&BTreeMap::new(), &BTreeMap::new());
        let rds = "aws.rds.instance";
        let claim = crate::kinds::kind_by_name(rds)
            .and_then(|k| k.poolable())
            .unwrap()
            .claim_expected();
        assert!(claim < e.of(rds));
        assert_eq!(e.node_weight(rds, true).total, claim);
        assert_eq!(e.node_weight(rds, false), e.weight(rds));
        // A kind that cannot be pooled weighs its create either way.
        assert_eq!(
            e.node_weight("aws.s3.bucket", true),
            e.weight("aws.s3.bucket")
        );
        // Learned claims count, and do not touch the creates.
        let learned = BTreeMap::from([(claim_key(rds), s(50))]);
        let e = ExpectedDurations::new(&BTreeMap::new(), &learned);
        assert_eq!(e.node_weight(rds, true).total, s(50));
        assert_eq!(
            e.of(rds),
            crate::kinds::kind_by_name(rds).unwrap().expected()
        );
    }

    #[test]
    fn the_apply_part_is_the_kind_share_of_whatever_total_applies() {
        let overrides = BTreeMap::from([("aws.elbv2.load_balancer".to_string(), s(200))]);
        let e = ExpectedDurations::new(&overrides, &BTreeMap::new());
        assert_eq!(
            e.weight("aws.elbv2.load_balancer"),
            Weight {
                apply: s(20),
                total: s(200)
            }
        );
        // sim.delay's apply is all of it (its readiness is immediate).
        let sim = e.weight("sim.delay");
        assert_eq!(sim.apply, sim.total);
        assert_eq!(
            e.weight("who.knows"),
            Weight {
                apply: FALLBACK.mul_f64(DEFAULT_APPLY_SHARE),
                total: FALLBACK
            }
        );
    }

    #[test]
    fn learned_is_the_median_and_ignores_an_outlier() {
        assert_eq!(learn(&[s(3), s(100), s(4)]), Some(s(4)));
        assert_eq!(learn(&[s(3), s(5)]), Some(s(4)));
        assert_eq!(learn(&[]), None);
    }

    #[test]
    fn learned_only_looks_at_the_most_recent_window() {
        // Ten old slow samples, then LEARN_WINDOW fast ones.
        let mut samples = vec![s(60); 10];
        samples.extend(vec![s(5); LEARN_WINDOW]);
        assert_eq!(learn(&samples), Some(s(5)));
    }
}
