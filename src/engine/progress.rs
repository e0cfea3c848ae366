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

impl Progress {
    /// The message as one line of text, for a log (the CLI's plain output,
    /// the web page's run log); `None` for the periodic `Status`, which is
    /// shown as numbers, not as a line.
    pub fn line(&self) -> Option<String> {
        use crate::budget::fmt_duration as d;
        Some(match self {
            Progress::RunStarted {
                operation,
                tenant,
                total,
                budget,
                eta,
            } => format!(
                "{operation} tenant {tenant}: {total} nodes, budget {}, forecast {}",
                d(*budget),
                d(*eta)
            ),
            Progress::NodeStarted { id, kind } => format!("started   {id} ({kind})"),
            Progress::NodeWaiting { id, reason } => format!("waiting   {id}: {reason}"),
            Progress::NodeRetrying { id, attempt, error } => {
                format!("retrying  {id} (attempt {}): {error}", attempt + 1)
            }
            Progress::NodeSucceeded { id, kind, elapsed } => {
                format!("ready     {id} ({kind}) in {}", d(*elapsed))
            }
            Progress::NodeSkipped { id } => format!("skipped   {id} (finished by an earlier run)"),
            Progress::NodeFailed { id, error } => format!("FAILED    {id}: {error}"),
            Progress::NodeDeleted { id, kind, elapsed } => {
                format!("deleted   {id} ({kind}) in {}", d(*elapsed))
            }
            Progress::Status { .. } => return None,
            Progress::BudgetWarning { forecast, budget } => format!(
                "WARNING   forecast {} exceeds the budget of {}",
                d(*forecast),
                d(*budget)
            ),
            Progress::Cancelling => {
                "cancelling: letting running nodes finish; rerun to resume".into()
            }
            Progress::RollbackStarted { nodes } => {
                format!("rolling back {nodes} nodes started by this run")
            }
            Progress::Sweep { kind, found } => {
                format!("sweep     {kind}: {found} tagged resources left")
            }
            Progress::SweepSkipped { kind, reason } => format!(
                "WARNING   sweep of {kind} skipped, its backend is not configured: {reason}"
            ),
            Progress::RunFinished { verdict, elapsed } => {
                format!("finished: {} in {}", verdict.describe(), d(*elapsed))
            }
        })
    }
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
