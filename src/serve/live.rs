//! A run in progress, as the server shows it: the engine's progress messages
//! folded into a [`RunView`] that watchers (the page's event stream) follow,
//! a short log of lines, and a timeline picture drawn while it goes; and a
//! run held by another replica, followed node by node through the state
//! store's event log ([`StoredRun`]).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, watch};

use super::views::{NodeView, RunView, outcome_of, verdict_str};
use crate::budget::{NodeTiming, Report, Verdict};
use crate::engine::Progress;
use crate::journal::Event;
use crate::lifecycle::RunStatus;
use crate::state::{EventRow, RunRow, StateError, StateStore};

/// Lines kept for a late watcher.
const LOG_KEEP: usize = 200;

pub struct LiveRun {
    pub id: String,
    pub tenant: String,
    pub operation: &'static str,
    /// Stack and environment, for the timeline's heading.
    pub stack: String,
    pub environment: String,
    origin: Mutex<Option<Instant>>,
    view: watch::Sender<RunView>,
    log_tx: broadcast::Sender<String>,
    log: Mutex<Vec<String>>,
    report: Mutex<Option<Report>>,
}

impl LiveRun {
    pub fn new(
        id: String,
        tenant: String,
        operation: &'static str,
        stack: String,
        environment: String,
    ) -> Self {
        let view = RunView {
            id: id.clone(),
            tenant: tenant.clone(),
            operation: operation.into(),
            status: "queued".into(),
            started_at: jiff::Timestamp::now().to_string(),
            finished_at: None,
            error: None,
            progress: Default::default(),
        };
        Self {
            id,
            tenant,
            operation,
            stack,
            environment,
            origin: Mutex::new(None),
            view: watch::Sender::new(view),
            log_tx: broadcast::channel(256).0,
            log: Mutex::new(Vec::new()),
            report: Mutex::new(None),
        }
    }

    pub fn view(&self) -> RunView {
        let mut v = self.view.borrow().clone();
        if !v.is_finished()
            && let Some(origin) = *self.origin.lock().expect("origin lock")
        {
            v.progress.elapsed_ms = origin.elapsed().as_millis() as u64;
        }
        v
    }

    pub fn watch(&self) -> watch::Receiver<RunView> {
        self.view.subscribe()
    }

    /// The lines so far and a receiver for the next ones.
    pub fn log(&self) -> (Vec<String>, broadcast::Receiver<String>) {
        let log = self.log.lock().expect("log lock");
        (log.clone(), self.log_tx.subscribe())
    }

    pub fn report(&self) -> Option<Report> {
        self.report.lock().expect("report lock").clone()
    }

    fn line(&self, text: String) {
        let mut log = self.log.lock().expect("log lock");
        if log.len() == LOG_KEEP {
            log.remove(0);
        }
        log.push(text.clone());
        let _ = self.log_tx.send(text);
    }

    fn elapsed_ms(&self) -> u64 {
        self.origin
            .lock()
            .expect("origin lock")
            .map(|o| o.elapsed().as_millis() as u64)
            .unwrap_or(0)
    }

    /// Folds one progress message into the view.
    pub fn apply(&self, p: &Progress) {
        let now_ms = self.elapsed_ms();
        let node = |v: &mut RunView, id: &str| -> usize {
            match v.progress.nodes.iter().position(|n| n.id == id) {
                Some(i) => i,
                None => {
                    v.progress.nodes.push(NodeView {
                        id: id.into(),
                        kind: String::new(),
                        state: "waiting".into(),
                        start_ms: None,
                        end_ms: None,
                    });
                    v.progress.nodes.len() - 1
                }
            }
        };
        self.view.send_modify(|v| {
            match p {
                Progress::RunStarted {
                    total, budget, eta, ..
                } => {
                    *self.origin.lock().expect("origin lock") = Some(Instant::now());
                    v.status = "running".into();
                    v.started_at = jiff::Timestamp::now().to_string();
                    v.progress.total = *total;
                    v.progress.budget_ms = budget.as_millis() as u64;
                    v.progress.eta_ms = eta.as_millis() as u64;
                }
                Progress::NodeStarted { id, kind } => {
                    let i = node(v, id);
                    let n = &mut v.progress.nodes[i];
                    n.kind = kind.clone();
                    n.state = "running".into();
                    n.start_ms = Some(now_ms);
                }
                Progress::NodeWaiting { id, .. } => {
                    let i = node(v, id);
                    v.progress.nodes[i].state = "waiting".into();
                }
                Progress::NodeSucceeded { id, kind, elapsed } => {
                    let i = node(v, id);
                    let n = &mut v.progress.nodes[i];
                    n.kind = kind.clone();
                    n.state = "succeeded".into();
                    n.end_ms = Some(now_ms);
                    n.start_ms = n
                        .start_ms
                        .or(Some(now_ms.saturating_sub(elapsed.as_millis() as u64)));
                }
                Progress::NodeSkipped { id } => {
                    let i = node(v, id);
                    v.progress.nodes[i].state = "skipped".into();
                }
                Progress::NodeFailed { id, .. } => {
                    let i = node(v, id);
                    let n = &mut v.progress.nodes[i];
                    n.state = "failed".into();
                    n.end_ms = Some(now_ms);
                }
                Progress::NodeDeleted { id, kind, elapsed } => {
                    let i = node(v, id);
                    let n = &mut v.progress.nodes[i];
                    n.kind = kind.clone();
                    n.state = "deleted".into();
                    n.end_ms = Some(now_ms);
                    n.start_ms = Some(now_ms.saturating_sub(elapsed.as_millis() as u64));
                }
                Progress::Status {
                    done,
                    running,
                    total,
                    elapsed,
                    eta,
                    budget,
                    status,
                } => {
                    v.progress.done = *done;
                    v.progress.running = *running;
                    v.progress.total = *total;
                    v.progress.elapsed_ms = elapsed.as_millis() as u64;
                    v.progress.eta_ms = eta.as_millis() as u64;
                    v.progress.budget_ms = budget.as_millis() as u64;
                    v.progress.budget_status = serde_json::to_value(status)
                        .ok()
                        .and_then(|s| s.as_str().map(String::from));
                }
                Progress::RunFinished { verdict, elapsed } => {
                    v.progress.verdict = Some(verdict_str(*verdict).into());
                    v.progress.elapsed_ms = elapsed.as_millis() as u64;
                }
                Progress::NodeRetrying { .. }
                | Progress::BudgetWarning { .. }
                | Progress::Cancelling
                | Progress::RollbackStarted { .. }
                | Progress::Sweep { .. }
                | Progress::SweepSkipped { .. } => {}
            }
            recount(v);
        });
        if let Some(text) = p.line() {
            self.line(text);
        }
    }

    /// Marks the run finished with the engine's report.
    pub fn finish(&self, report: Report) {
        let view = super::views::ProgressView::of_report(&report);
        self.view.send_modify(|v| {
            v.status = outcome_of(report.verdict).into();
            v.finished_at = Some(jiff::Timestamp::now().to_string());
            // Keep the live node list (it has the kinds of skipped nodes too)
            // but take the report's counts and verdict.
            v.progress.verdict = view.verdict.clone();
            v.progress.done = view.done;
            v.progress.failed = view.failed;
            v.progress.running = 0;
            v.progress.total = view.total;
            v.progress.elapsed_ms = view.elapsed_ms;
            v.progress.nodes = view.nodes.clone();
            v.progress.eta_ms = 0;
            if let Some((id, e)) = report.errors.first() {
                v.error = Some(format!("{id}: {e}"));
            }
        });
        *self.report.lock().expect("report lock") = Some(report);
    }

    /// Marks the run as one that could not run at all (tenant busy, state down).
    pub fn fail(&self, error: String) {
        self.line(format!("FAILED    {error}"));
        self.view.send_modify(|v| {
            v.status = "failed".into();
            v.finished_at = Some(jiff::Timestamp::now().to_string());
            v.error = Some(error);
        });
    }

    /// The timeline picture: the final report's, or one drawn from the
    /// progress so far.
    pub fn timeline_svg(&self) -> String {
        if let Some(r) = self.report() {
            return crate::budget::svg::render(&r);
        }
        let v = self.view();
        let elapsed = v.progress.elapsed_ms;
        let report = Report {
            tenant: v.tenant.clone(),
            run_id: v.id.clone(),
            operation: v.operation.to_string(),
            stack: self.stack.clone(),
            environment: self.environment.clone(),
            started_at: v.started_at.clone(),
            budget_ms: v.progress.budget_ms,
            total_ms: elapsed,
            verdict: if v.progress.failed > 0 {
                Verdict::Failed
            } else {
                Verdict::WithinBudget
            },
            nodes: v
                .progress
                .nodes
                .iter()
                .filter(|n| n.start_ms.is_some())
                .map(|n| NodeTiming {
                    id: n.id.clone(),
                    kind: n.kind.clone(),
                    start_ms: n.start_ms,
                    end_ms: n.end_ms.or(Some(elapsed)),
                    applied_ms: None,
                    status: n.state.clone(),
                    expected_ms: 0,
                })
                .collect(),
            critical_path: Vec::new(),
            critical_path_ms: 0,
            errors: Vec::new(),
        };
        let status = format!(
            "{}, {} of {} done, {} of budget {}",
            v.status,
            v.progress.done,
            v.progress.total,
            crate::budget::fmt_ms(elapsed),
            crate::budget::fmt_ms(v.progress.budget_ms)
        );
        crate::budget::svg::render_live(&report, &status)
    }
}

/// How often a run held by another process (a replica, the CLI) is read
/// again from the store's event log.
pub const STORED_POLL: Duration = Duration::from_millis(250);

/// A run held by another process, followed node by node through the
/// journal's event log in the state store (which every process writing a
/// run fills as it goes).
pub struct StoredRun {
    state: StateStore,
    view: RunView,
    /// The last event folded in.
    after: i64,
    /// The run's start, in ms since the epoch: node times count from it.
    origin_ms: i64,
}

impl StoredRun {
    /// Starts following `row` with the events stored so far folded in.
    pub async fn open(state: StateStore, row: &RunRow) -> Result<Self, StateError> {
        let origin_ms = row
            .started_at
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .unwrap_or(0);
        let mut run = Self {
            state,
            view: RunView::of_row(row),
            after: 0,
            origin_ms,
        };
        if !run.view.is_finished() {
            run.fold_new().await?;
        }
        Ok(run)
    }

    pub fn view(&self) -> &RunView {
        &self.view
    }

    /// Waits until the run has new node events or has finished, polling
    /// every [`STORED_POLL`]. False when the run is no longer in the store.
    pub async fn changed(&mut self) -> Result<bool, StateError> {
        loop {
            tokio::time::sleep(STORED_POLL).await;
            // The row first: events written before it finished are then all
            // in the read that follows.
            let Some(row) = self.state.run(&self.view.id).await? else {
                return Ok(false);
            };
            let folded = self.fold_new().await?;
            if row.status != RunStatus::Running {
                // Its report has the final node list, as a local run's end.
                self.view = RunView::of_row(&row);
                return Ok(true);
            }
            if folded {
                return Ok(true);
            }
        }
    }

    /// Folds the events stored since the last read; true if there were any.
    async fn fold_new(&mut self) -> Result<bool, StateError> {
        let events = self
            .state
            .run_events_after(&self.view.tenant, &self.view.id, self.after)
            .await?;
        let any = !events.is_empty();
        for (seq, e) in events {
            fold_event(&mut self.view, &e, self.origin_ms);
            self.after = seq;
        }
        if any {
            self.view.progress.elapsed_ms =
                (jiff::Timestamp::now().as_millisecond() - self.origin_ms).max(0) as u64;
        }
        Ok(any)
    }
}

/// Folds one stored journal event into a run's view: the node's state and
/// its start or end (ms from the run's start at `origin_ms`).
pub fn fold_event(v: &mut RunView, e: &EventRow, origin_ms: i64) {
    let at = (e.at_ms - origin_ms).max(0) as u64;
    let i = match v.progress.nodes.iter().position(|n| n.id == e.node) {
        Some(i) => i,
        None => {
            v.progress.nodes.push(NodeView {
                id: e.node.clone(),
                kind: e.kind.clone(),
                state: "waiting".into(),
                start_ms: None,
                end_ms: None,
            });
            v.progress.nodes.len() - 1
        }
    };
    let n = &mut v.progress.nodes[i];
    n.kind = e.kind.clone();
    match e.event {
        Event::Started | Event::DeleteStarted => {
            n.state = "running".into();
            n.start_ms = Some(at);
            n.end_ms = None;
        }
        Event::Succeeded => {
            n.state = "succeeded".into();
            n.end_ms = Some(at);
        }
        Event::Deleted => {
            n.state = "deleted".into();
            n.end_ms = Some(at);
        }
        Event::Failed | Event::DeleteFailed => {
            n.state = "failed".into();
            n.end_ms = Some(at);
        }
    }
    if n.start_ms.is_none() {
        n.start_ms = n.end_ms;
    }
    recount(v);
}

/// Counts from the node list, where no `Status` message has said better.
fn recount(v: &mut RunView) {
    let nodes = &v.progress.nodes;
    let done = nodes
        .iter()
        .filter(|n| matches!(n.state.as_str(), "succeeded" | "skipped" | "deleted"))
        .count();
    v.progress.done = v.progress.done.max(done);
    v.progress.running = nodes
        .iter()
        .filter(|n| matches!(n.state.as_str(), "running" | "waiting") && n.start_ms.is_some())
        .count();
    v.progress.failed = nodes.iter().filter(|n| n.state == "failed").count();
    v.progress.total = v.progress.total.max(nodes.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(node: &str, event: Event, at_ms: i64) -> EventRow {
        EventRow {
            run_id: "r1".into(),
            tenant: "acme".into(),
            node: node.into(),
            kind: "aws.s3.bucket".into(),
            event,
            at_ms,
            outputs: Default::default(),
            had_secrets: false,
            spec_hash: None,
            error: None,
        }
    }

    #[test]
    fn stored_events_fold_into_node_states_and_times() {
        let mut v = LiveRun::new(
            "r1".into(),
            "acme".into(),
            "create",
            "minimal".into(),
            "dev".into(),
        )
        .view();
        fold_event(&mut v, &stored("a", Event::Started, 10_100), 10_000);
        fold_event(&mut v, &stored("b", Event::Started, 10_150), 10_000);
        fold_event(&mut v, &stored("a", Event::Succeeded, 10_400), 10_000);
        let p = &v.progress;
        assert_eq!((p.done, p.running, p.failed, p.total), (1, 1, 0, 2));
        assert_eq!(
            (
                p.nodes[0].state.as_str(),
                p.nodes[0].start_ms,
                p.nodes[0].end_ms
            ),
            ("succeeded", Some(100), Some(400))
        );
        fold_event(&mut v, &stored("b", Event::Failed, 10_500), 10_000);
        assert_eq!((v.progress.running, v.progress.failed), (0, 1));
        fold_event(&mut v, &stored("a", Event::DeleteStarted, 11_000), 10_000);
        fold_event(&mut v, &stored("a", Event::Deleted, 11_200), 10_000);
        assert_eq!(v.progress.nodes[0].state, "deleted");
        assert_eq!(v.progress.nodes[0].start_ms, Some(1_000));
    }

    #[test]
    fn progress_messages_fold_into_counts_and_node_states() {
        let run = LiveRun::new(
            "r1".into(),
            "acme".into(),
            "create",
            "minimal".into(),
            "dev".into(),
        );
        run.apply(&Progress::RunStarted {
            operation: "create",
            tenant: "acme".into(),
            total: 3,
            budget: Duration::from_secs(900),
            eta: Duration::from_secs(60),
        });
        run.apply(&Progress::NodeStarted {
            id: "a".into(),
            kind: "aws.s3.bucket".into(),
        });
        run.apply(&Progress::NodeStarted {
            id: "b".into(),
            kind: "aws.sqs.queue".into(),
        });
        run.apply(&Progress::NodeSucceeded {
            id: "a".into(),
            kind: "aws.s3.bucket".into(),
            elapsed: Duration::from_millis(5),
        });
        run.apply(&Progress::NodeFailed {
            id: "b".into(),
            error: "boom".into(),
        });
        let v = run.view();
        assert_eq!(v.status, "running");
        assert_eq!(
            (
                v.progress.done,
                v.progress.running,
                v.progress.failed,
                v.progress.total
            ),
            (1, 0, 1, 3)
        );
        assert_eq!(v.progress.budget_ms, 900_000);
        let (lines, _) = run.log();
        assert!(
            lines.iter().any(|l| l.contains("FAILED    b: boom")),
            "{lines:?}"
        );
        let svg = run.timeline_svg();
        assert!(svg.starts_with("<svg") && svg.contains(">a<"), "{svg}");
        assert!(svg.contains("create acme: running, 1 of 3 done"), "{svg}");
        assert!(svg.contains("stack minimal, environment dev"), "{svg}");
        assert!(
            !svg.contains("within budget"),
            "no verdict while running: {svg}"
        );
    }
}
