//! Rollouts the server drives: started (or resumed) through the API, each
//! on a task of its own whose events are broadcast to the page's followers
//! (server-sent events), every tenant's outcome counted in `/metrics`, and
//! the end written to the audit log. A rollout driven elsewhere (the CLI,
//! another replica) is followed through the state store instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use super::app::{AppState, write_audit};
use super::metrics::Metrics;
use crate::release::rollout::{self, Driver, RolloutEvent};

/// How far a follower may fall behind before it misses events (it then
/// reads the state store's snapshot, which is complete anyway).
const EVENT_BUFFER: usize = 1024;

/// The rollouts this server drives now, by id, with their event channel.
#[derive(Default)]
pub struct Rollouts {
    live: Mutex<HashMap<String, broadcast::Sender<RolloutEvent>>>,
}

impl Rollouts {
    /// Rollout `id`'s events from now on, while this server drives it.
    pub fn follow(&self, id: &str) -> Option<broadcast::Receiver<RolloutEvent>> {
        self.live
            .lock()
            .expect("rollouts table")
            .get(id)
            .map(broadcast::Sender::subscribe)
    }

    /// Registers `id` as driven here; `None` when it already is.
    fn claim(&self, id: &str) -> Option<broadcast::Sender<RolloutEvent>> {
        let mut live = self.live.lock().expect("rollouts table");
        if live.contains_key(id) {
            return None;
        }
        let (tx, _) = broadcast::channel(EVENT_BUFFER);
        live.insert(id.to_string(), tx.clone());
        Some(tx)
    }

    fn release(&self, id: &str) {
        self.live.lock().expect("rollouts table").remove(id);
    }
}

/// Drives rollout `id` (recorded already, `running`) on a task of its own,
/// until it ends, is paused or aborted; `false` when this server drives it
/// already. Another process driving it makes the driver answer busy, which
/// is audited as such.
pub fn drive(app: &AppState, id: &str, actor: (&str, &str)) -> bool {
    let Some(events) = app.rollouts.claim(id) else {
        return false;
    };
    let app = app.clone();
    let id = id.to_string();
    let (who, role) = (actor.0.to_string(), actor.1.to_string());
    tokio::spawn(async move {
        let counter = tokio::spawn(count_outcomes(app.metrics.clone(), events.subscribe()));
        let engine = app.jobs.engine();
        let driver = Driver::with_backends(
            engine.backends.clone(),
            app.state.clone(),
            events,
            engine.cancel.child_token(),
        );
        let result = rollout::run(&driver, &id).await;
        // The channel closes once the driver and the table let go of it:
        // followers and the counter see the end.
        drop(driver);
        app.rollouts.release(&id);
        let _ = counter.await;
        let (outcome, detail) = match &result {
            Ok(s) => (
                s.rollout.status.as_str().to_string(),
                s.rollout.message.clone(),
            ),
            Err(e) => ("error".to_string(), Some(e.to_string())),
        };
        if let Err(e) = &result {
            tracing::warn!(rollout = %id, error = %e, "rollout driver stopped");
        }
        write_audit(
            &app.state,
            &who,
            &role,
            "rollout.end",
            &id,
            &outcome,
            detail,
        )
        .await;
    });
    true
}

/// Counts each tenant that reaches a final status, by that status
/// (`envctl_rollout_tenants_total{outcome}`).
async fn count_outcomes(metrics: Arc<Metrics>, mut rx: broadcast::Receiver<RolloutEvent>) {
    use broadcast::error::RecvError;
    loop {
        match rx.recv().await {
            Ok(RolloutEvent::Tenant { status, .. }) if status.is_final() => {
                metrics.rollout_tenant(status.as_str());
            }
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "rollout metrics fell behind the driver");
            }
            Err(RecvError::Closed) => return,
        }
    }
}
