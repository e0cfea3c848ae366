//! Runs a stack's graph: nodes start as soon as their inputs are ready, under
//! per-API concurrency bounds, with retries, readiness waits, cancellation and
//! optional rollback (`create`); and removes a tenant in reverse order, then
//! by tag (`destroy`). Both go through one walker (`walk`), and every
//! deletion through one path (`delete`). The engine never parses stacks: it gets a validated
//! [`Stack`](crate::stack::Stack) and a [`Graph`](crate::graph::Graph).

mod create;
#[cfg(test)]
mod create_tests;
mod delete;
mod destroy;
pub mod limits;
pub mod progress;
pub mod redact;
pub mod retry;
pub mod spec;
#[cfg(test)]
mod testkit;
pub mod walk;

pub use create::CreateRequest;
pub use destroy::DestroyRequest;
pub use progress::{Progress, ProgressSink};
pub use retry::RetryPolicy;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::envapi::StoreError;
use crate::graph::CycleError;
use crate::journal::{IllegalTransition, JournalError};
use crate::kinds::Backends;
use crate::state::{LockHeld, StateError, StateStore};

/// Everything a run needs besides its request.
#[derive(Clone)]
pub struct Engine {
    pub backends: Arc<Backends>,
    pub state: StateStore,
    pub policy: RetryPolicy,
    pub cancel: CancellationToken,
    pub progress: ProgressSink,
    /// Concurrency bound per API from the command line; over the stack's.
    pub limit_overrides: BTreeMap<String, usize>,
    pub parallelism: usize,
}

/// Errors that stop a run before or outside any node (a node's own failure
/// is not an error here: it is reported in the run's report).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Lock(#[from] LockHeld),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Replay(#[from] IllegalTransition),
    #[error("value store: {0}")]
    Values(#[from] StoreError),
    #[error("stack graph: {0}")]
    Graph(#[from] CycleError),
    #[error("value-store key: {0}")]
    Key(#[from] crate::envapi::KeyError),
    /// The tenant's status does not allow the run (e.g. a create of a
    /// hibernated tenant); the sentence says what to do. Nothing was done.
    #[error("{0}")]
    Refused(String),
}

impl Engine {
    /// Records a finished run (status and report) and tells the watchers.
    async fn finish_run(
        &self,
        run_id: &str,
        status: &str,
        report: &crate::budget::Report,
        elapsed: std::time::Duration,
    ) -> Result<(), EngineError> {
        let json = serde_json::to_string(report).expect("report serializes");
        self.state.finish_run(run_id, status, &json).await?;
        self.progress.send(Progress::RunFinished {
            verdict: report.verdict,
            elapsed,
        });
        Ok(())
    }
}

/// A fresh run id.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn ms_between(origin: std::time::Instant, t: std::time::Instant) -> u64 {
    t.saturating_duration_since(origin).as_millis() as u64
}
