//! What a run tells its watchers while it goes: the CLI's progress bars or
//! plain lines, and (later) the web page's event stream. Messages here are
//! already redacted of secret values.

use std::time::Duration;

use crate::budget::Verdict;
use crate::budget::eta::BudgetStatus;

#[derive(Clone, Debug)]
pub enum Progress {
    RunStarted {
        operation: &'static str,
        tenant: String,
        total: usize,
        budget: Duration,
        /// Forecast at the start: the critical path over expected durations.
        eta: Duration,
    },
    NodeStarted {
        id: String,
        kind: String,
    },
    /// Applied, waiting for readiness.
    NodeWaiting {
        id: String,
        reason: String,
    },
    NodeRetrying {
        id: String,
        attempt: usize,
        error: String,
    },
    NodeSucceeded {
        id: String,
        kind: String,
        elapsed: Duration,
    },
    /// Finished by an earlier run; resumed past.
    NodeSkipped {
        id: String,
    },
    NodeFailed {
        id: String,
        error: String,
    },
    NodeDeleted {
        id: String,
        kind: String,
        elapsed: Duration,
    },
    Status {
        done: usize,
        running: usize,
        total: usize,
        elapsed: Duration,
        eta: Duration,
        budget: Duration,
        status: BudgetStatus,
    },
    /// Sent once, as soon as the forecast first exceeds the budget.
    BudgetWarning {
        forecast: Duration,
        budget: Duration,
    },
    Cancelling,
    RollbackStarted {
        nodes: usize,
    },
    Sweep {
        kind: String,
        found: usize,
    },
    /// A kind the tenant never used whose backend is not configured.
    SweepSkipped {
        kind: String,
        reason: String,
    },
    RunFinished {
        verdict: Verdict,
        elapsed: Duration,
    },
}

/// Where progress goes. Sending never blocks and never fails the run.
#[derive(Clone)]
pub struct ProgressSink(Option<tokio::sync::mpsc::UnboundedSender<Progress>>);

impl ProgressSink {
    pub fn new(tx: tokio::sync::mpsc::UnboundedSender<Progress>) -> Self {
        Self(Some(tx))
    }

    pub fn discard() -> Self {
        Self(None)
    }

    pub fn send(&self, p: Progress) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(p);
        }
    }
}
