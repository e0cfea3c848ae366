//! Deletes one node, the one way every deletion goes (rollback, destroy,
//! sweep): journal `delete_started`, call the kind's `delete` with retries,
//! poll its `gone` until the resource has really gone away (under the run's
//! progress, cancellation and the kind's `delete_timeout`), remove what the
//! node published, journal the outcome, and report it. Every error text is
//! redacted before it reaches the journal or the progress stream.

use std::time::Instant;

use super::progress::Progress;
use super::redact::Redactor;
use super::retry::{StepError, wait_ready, with_retries};
use super::{Engine, EngineError};
use crate::journal::Journal;
use crate::kinds::{Cx, Kind, Outputs, SweepCx};

/// What to delete.
pub(super) enum Target {
    /// The resource these outputs describe.
    Outputs(Outputs),
    /// Whatever of the kind carries this tenant's and node's tags (a node
    /// that failed half-way, or whose outputs were never journaled).
    ByTag,
}

/// The outcome of one deletion, for the run's report.
pub(super) struct Deletion {
    /// As reported: the node id, or `<id> (sweep)`.
    pub id: String,
    pub kind: String,
    pub start: Instant,
    pub end: Instant,
    /// Redacted.
    pub error: Option<String>,
}

/// What every deletion of a run shares.
pub(super) struct Deleter<'a> {
    pub engine: &'a Engine,
    pub journal: &'a Journal,
    pub redactor: &'a Redactor,
}

impl Deleter<'_> {
    /// Deletes `cx.resource_id` of `kind` and waits until it is gone. A
    /// failed deletion is journaled and reported, and comes back in the
    /// [`Deletion`]; only the run's own bookkeeping (journal, value store)
    /// failing is an error.
    pub async fn delete(
        &self,
        label: String,
        kind: &'static dyn Kind,
        cx: &Cx,
        target: Target,
    ) -> Result<Deletion, EngineError> {
        let start = Instant::now();
        let id = cx.resource_id.as_str();
        self.journal.delete_started(id, kind.name()).await?;
        let outcome = match target {
            Target::Outputs(out) => self.delete_and_wait(kind, cx, &out).await,
            Target::ByTag => self.delete_by_tag(kind, cx).await,
        };
        let error = match outcome {
            Ok(()) => {
                for key in &cx.publish {
                    self.engine.backends.values.delete(key).await?;
                }
                self.journal.deleted(id, kind.name()).await?;
                None
            }
            Err(e) => {
                let msg = self.redactor.redact(&describe(&e));
                self.journal.delete_failed(id, kind.name(), &msg).await?;
                Some(msg)
            }
        };
        let d = Deletion {
            id: label,
            kind: kind.name().into(),
            start,
            end: Instant::now(),
            error,
        };
        self.report(&d);
        Ok(d)
    }

    /// Tells the watchers how a deletion ended.
    pub fn report(&self, d: &Deletion) {
        self.engine.progress.send(match &d.error {
            None => Progress::NodeDeleted {
                id: d.id.clone(),
                kind: d.kind.clone(),
                elapsed: d.end - d.start,
            },
            Some(e) => Progress::NodeFailed {
                id: d.id.clone(),
                error: e.clone(),
            },
        });
    }

    /// `delete` (retried), then `gone` polled until ready.
    async fn delete_and_wait(
        &self,
        kind: &'static dyn Kind,
        cx: &Cx,
        out: &Outputs,
    ) -> Result<(), StepError> {
        let engine = self.engine;
        self.redactor.learn(out);
        with_retries(
            &engine.policy,
            &engine.cancel,
            || kind.delete(cx, out),
            |attempt, e| {
                // Progress says what a delete waits for (network interfaces
                // being released, say).
                engine.progress.send(Progress::NodeRetrying {
                    id: cx.resource_id.clone(),
                    attempt,
                    error: self.redactor.redact(&e.to_string()),
                })
            },
        )
        .await?;
        wait_ready(
            &engine.policy,
            &engine.cancel,
            kind.delete_timeout(),
            || kind.gone(cx, out),
            |reason| {
                engine.progress.send(Progress::NodeWaiting {
                    id: cx.resource_id.clone(),
                    reason: self.redactor.redact(reason),
                })
            },
        )
        .await
    }

    /// Finds the node's resources of `kind` by tag and deletes each.
    async fn delete_by_tag(&self, kind: &'static dyn Kind, cx: &Cx) -> Result<(), StepError> {
        let sweep_cx = SweepCx {
            tenant: cx.tenant.clone(),
            backends: cx.backends.clone(),
        };
        let found = with_retries(
            &self.engine.policy,
            &self.engine.cancel,
            || kind.sweep(&sweep_cx),
            |_, _| {},
        )
        .await?;
        for f in found.iter().filter(|f| f.resource_id == cx.resource_id) {
            self.delete_and_wait(kind, cx, &f.outputs).await?;
        }
        Ok(())
    }
}

/// The sentence for a failed deletion.
fn describe(e: &StepError) -> String {
    match e {
        StepError::NotReady(limit, last) => format!(
            "still not gone {} after it was deleted{}; run destroy again later, or remove it by hand",
            crate::budget::fmt_duration(*limit),
            if last.is_empty() {
                String::new()
            } else {
                format!(" (last: {last})")
            }
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::engine::testkit;
    use crate::journal::NodeState;
    use crate::kinds::{Readiness, kind_by_name};
    use crate::secret::{MASK, SecretString};

    #[tokio::test]
    async fn gone_is_polled_until_the_resource_has_gone_away() {
        let t = testkit::engine().await;
        let kind = kind_by_name("sim.delay").unwrap();
        let cx = t.cx("slow-to-go");
        let out = kind
            .apply(&cx, &testkit::props(&[("delete_duration", "300ms")]))
            .await
            .unwrap();
        let journal = t.journal();
        let redactor = Redactor::default();
        let deleter = Deleter {
            engine: &t.engine,
            journal: &journal,
            redactor: &redactor,
        };
        let d = deleter
            .delete("slow-to-go".into(), kind, &cx, Target::Outputs(out.clone()))
            .await
            .unwrap();
        assert_eq!(d.error, None);
        assert!(
            d.end - d.start >= Duration::from_millis(300),
            "returned after {:?}, before the resource was gone",
            d.end - d.start
        );
        assert_eq!(kind.gone(&cx, &out).await.unwrap(), Readiness::Ready);
        let waited: Vec<String> = t
            .events()
            .into_iter()
            .filter_map(|p| match p {
                Progress::NodeWaiting { reason, .. } => Some(reason),
                _ => None,
            })
            .collect();
        assert!(
            waited.iter().any(|r| r.contains("going away")),
            "{waited:?}"
        );
        assert_eq!(t.state_of("slow-to-go").await, NodeState::Deleted);
    }

    #[tokio::test]
    async fn a_failing_delete_is_journaled_and_reported_redacted() {
        let t = testkit::engine().await;
        let kind = kind_by_name("sim.delay").unwrap();
        let cx = t.cx("leaky");
        let out = Outputs::new()
            .plain("id", "t/leaky")
            .plain(
                "delete_error",
                "DeleteThing refused: password hunter2-xyz is in use",
            )
            .secret("password", SecretString::new("hunter2-xyz"));
        let journal = t.journal();
        let redactor = Redactor::default();
        let deleter = Deleter {
            engine: &t.engine,
            journal: &journal,
            redactor: &redactor,
        };
        let d = deleter
            .delete("leaky".into(), kind, &cx, Target::Outputs(out))
            .await
            .unwrap();
        let error = d.error.expect("the delete failed");
        assert!(!error.contains("hunter2-xyz"), "{error}");
        assert!(error.contains(MASK), "{error}");
        let reported: Vec<String> = t
            .events()
            .into_iter()
            .filter_map(|p| match p {
                Progress::NodeFailed { error, .. } => Some(error),
                _ => None,
            })
            .collect();
        assert_eq!(reported, vec![error.clone()]);
        assert_eq!(t.state_of("leaky").await, NodeState::DeleteFailed);
        let journaled = t.last_error("leaky").await;
        assert!(!journaled.contains("hunter2-xyz"), "{journaled}");
    }

    #[tokio::test]
    async fn a_resource_that_never_goes_away_fails_after_the_delete_timeout() {
        struct Stuck;
        #[async_trait::async_trait]
        impl Kind for Stuck {
            fn name(&self) -> &'static str {
                "test.stuck"
            }
            fn api(&self) -> &'static str {
                "test"
            }
            fn outputs(&self) -> &'static [crate::kinds::OutputSpec] {
                &[]
            }
            fn expected(&self) -> Duration {
                Duration::from_secs(1)
            }
            fn delete_timeout(&self) -> Duration {
                Duration::from_millis(50)
            }
            async fn apply(
                &self,
                _: &Cx,
                _: &crate::kinds::Props,
            ) -> Result<Outputs, crate::kinds::KindError> {
                Ok(Outputs::new())
            }
            async fn delete(&self, _: &Cx, _: &Outputs) -> Result<(), crate::kinds::KindError> {
                Ok(())
            }
            async fn gone(
                &self,
                _: &Cx,
                _: &Outputs,
            ) -> Result<Readiness, crate::kinds::KindError> {
                Ok(Readiness::Pending("still terminating".into()))
            }
        }
        static STUCK: Stuck = Stuck;
        let t = testkit::engine().await;
        let cx = t.cx("stuck");
        let journal = t.journal();
        let redactor = Redactor::default();
        let deleter = Deleter {
            engine: &t.engine,
            journal: &journal,
            redactor: &redactor,
        };
        let d = deleter
            .delete("stuck".into(), &STUCK, &cx, Target::Outputs(Outputs::new()))
            .await
            .unwrap();
        let error = d.error.expect("not gone in time");
        assert!(error.contains("still not gone"), "{error}");
        assert!(error.contains("still terminating"), "{error}");
        assert_eq!(t.state_of("stuck").await, NodeState::DeleteFailed);
    }

    #[tokio::test]
    async fn a_cancelled_run_stops_waiting_for_gone() {
        let t = testkit::engine().await;
        let kind = kind_by_name("sim.delay").unwrap();
        let cx = t.cx("cancelled-wait");
        let out = kind
            .apply(&cx, &testkit::props(&[("delete_duration", "1h")]))
            .await
            .unwrap();
        let journal = t.journal();
        let redactor = Redactor::default();
        let deleter = Deleter {
            engine: &t.engine,
            journal: &journal,
            redactor: &redactor,
        };
        let cancel = t.engine.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            cancel.cancel();
        });
        let t0 = Instant::now();
        let d = deleter
            .delete("cancelled-wait".into(), kind, &cx, Target::Outputs(out))
            .await
            .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(10));
        assert_eq!(d.error.as_deref(), Some("cancelled"));
    }
}
