//! Background runs: creates and destroys submitted by requests run on the
//! shared engine with at most `max_concurrent_runs` at once; one run per
//! tenant in this server (and across processes the state's tenant lock).
//! Finished runs stay visible for a while; the state keeps them for good.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use super::live::LiveRun;
use super::metrics::Metrics;
use super::notify::{Event, Notifier};
use super::views::outcome_of;
use crate::budget::Verdict;
use crate::engine::{CreateRequest, DestroyRequest, Engine, ProgressSink};

/// Finished runs kept in memory for the page (older ones come from the state).
const KEEP_FINISHED: usize = 500;

pub enum Work {
    Create(Box<CreateRequest>),
    Destroy(DestroyRequest),
}

impl Work {
    fn tenant(&self) -> &str {
        match self {
            Work::Create(r) => r.tenant.as_str(),
            Work::Destroy(r) => r.tenant.as_str(),
        }
    }

    fn operation(&self) -> &'static str {
        match self {
            Work::Create(_) => "create",
            Work::Destroy(_) => "destroy",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("tenant '{tenant}' already has a {operation} run going ({run_id}); wait for it to finish")]
pub struct Busy {
    pub tenant: String,
    pub run_id: String,
    pub operation: String,
}

pub struct Jobs {
    /// Backends, state and policy shared by every run; each run gets its own
    /// progress sink.
    engine: Engine,
    slots: Arc<Semaphore>,
    runs: Mutex<HashMap<String, Arc<LiveRun>>>,
    finished: Mutex<VecDeque<String>>,
    active: Mutex<HashMap<String, Arc<LiveRun>>>,
    metrics: Arc<Metrics>,
    /// Told when a create is ready or a run fails.
    notifier: Arc<Notifier>,
}

impl Jobs {
    pub fn new(
        engine: Engine,
        max_concurrent: usize,
        metrics: Arc<Metrics>,
        notifier: Arc<Notifier>,
    ) -> Arc<Self> {
        Arc::new(Self {
            engine,
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            runs: Mutex::new(HashMap::new()),
            finished: Mutex::new(VecDeque::new()),
            active: Mutex::new(HashMap::new()),
            metrics,
            notifier,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn get(&self, run_id: &str) -> Option<Arc<LiveRun>> {
        self.runs.lock().expect("runs lock").get(run_id).cloned()
    }

    /// The run going on for `tenant` in this server, if any.
    pub fn active_for(&self, tenant: &str) -> Option<Arc<LiveRun>> {
        self.active
            .lock()
            .expect("active lock")
            .get(tenant)
            .cloned()
    }

    /// Queues `work`; it starts when a slot is free.
    pub fn submit(self: &Arc<Self>, mut work: Work) -> Result<Arc<LiveRun>, Busy> {
        let run_id = crate::engine::new_run_id();
        match &mut work {
            Work::Create(r) => r.run_id = Some(run_id.clone()),
            Work::Destroy(r) => r.run_id = Some(run_id.clone()),
        }
        let (stack, environment) = match &work {
            Work::Create(r) => (r.stack.name.clone(), r.environment.clone()),
            Work::Destroy(r) => (String::new(), r.environment.clone().unwrap_or_default()),
        };
        let live = Arc::new(LiveRun::new(
            run_id.clone(),
            work.tenant().to_string(),
            work.operation(),
            stack,
            environment,
        ));
        {
            let mut active = self.active.lock().expect("active lock");
            if let Some(other) = active.get(work.tenant()) {
                return Err(Busy {
                    tenant: work.tenant().into(),
                    run_id: other.id.clone(),
                    operation: other.operation.into(),
                });
            }
            active.insert(work.tenant().to_string(), live.clone());
        }
        self.runs
            .lock()
            .expect("runs lock")
            .insert(run_id, live.clone());
        self.metrics.run_started();
        let jobs = self.clone();
        let run = live.clone();
        tokio::spawn(async move { jobs.run(work, run).await });
        Ok(live)
    }

    async fn run(self: Arc<Self>, work: Work, live: Arc<LiveRun>) {
        let started = std::time::Instant::now();
        let _slot = self.slots.clone().acquire_owned().await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut engine = self.engine.clone();
        engine.progress = ProgressSink::new(tx);
        let follower = {
            let live = live.clone();
            tokio::spawn(async move {
                while let Some(p) = rx.recv().await {
                    live.apply(&p);
                }
            })
        };
        let result = match &work {
            Work::Create(r) => engine.create(r).await,
            Work::Destroy(r) => engine.destroy(r).await,
        };
        drop(engine);
        let _ = follower.await;
        let operation = work.operation();
        match result {
            Ok(report) => {
                let over = report.verdict == Verdict::OverBudget;
                let outcome = outcome_of(report.verdict);
                tracing::info!(tenant = %live.tenant, run = %live.id, operation, outcome, "run finished");
                if let Some(event) = finished_event(&live, &report, outcome) {
                    self.notifier.notify(event);
                }
                live.finish(report);
                self.metrics.run_finished(
                    operation,
                    outcome,
                    started.elapsed().as_secs_f64(),
                    over,
                );
            }
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(tenant = %live.tenant, run = %live.id, operation, error = %message, "run could not run");
                self.notifier.notify(Event::RunFailed {
                    tenant: live.tenant.clone(),
                    run_id: live.id.clone(),
                    operation: operation.into(),
                    error: message.clone(),
                });
                live.fail(message);
                self.metrics.run_finished(
                    operation,
                    "failed",
                    started.elapsed().as_secs_f64(),
                    false,
                );
            }
        }
        self.active
            .lock()
            .expect("active lock")
            .remove(&live.tenant);
        let mut finished = self.finished.lock().expect("finished lock");
        finished.push_back(live.id.clone());
        if finished.len() > KEEP_FINISHED
            && let Some(old) = finished.pop_front()
        {
            self.runs.lock().expect("runs lock").remove(&old);
        }
    }
}

/// What to tell the webhooks about a finished run: a create that succeeded
/// made the tenant ready; any run that failed is `run.failed` (a cancelled
/// run or a finished destroy tells nothing).
fn finished_event(live: &LiveRun, report: &crate::budget::Report, outcome: &str) -> Option<Event> {
    match (live.operation, outcome) {
        ("create", "succeeded") => Some(Event::TenantReady {
            tenant: live.tenant.clone(),
            run_id: live.id.clone(),
            stack: live.stack.clone(),
            environment: live.environment.clone(),
        }),
        (operation, "failed") => Some(Event::RunFailed {
            tenant: live.tenant.clone(),
            run_id: live.id.clone(),
            operation: operation.into(),
            error: first_errors(&report.errors),
        }),
        _ => None,
    }
}

/// The first three errors of a run, and how many more there were.
pub(crate) fn first_errors(errors: &[(String, String)]) -> String {
    let mut text = errors
        .iter()
        .take(3)
        .map(|(node, e)| format!("{node}: {e}"))
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > 3 {
        text.push_str(&format!(" (and {} more)", errors.len() - 3));
    }
    text
}
