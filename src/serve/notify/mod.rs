//! Notifications: webhooks told about tenants (ready, run failed, expiring,
//! reaped, hibernated, woken). [`Notifier::notify`] returns at once; each
//! webhook's delivery runs in a task of its own: claimed in the state store
//! (so no replica or restart sends the same event twice to one webhook),
//! sent with retries, then recorded, audited and counted.

pub mod body;
pub mod config;
pub mod deliver;
pub mod event;
pub mod expiry;

use std::sync::Arc;

pub use config::{Notifications, Webhook};
pub use event::Event;

use super::metrics::Metrics;
use crate::state::StateStore;
use deliver::Outcome;

/// The actor of the notifier's audit entries.
pub const AUDIT_ACTOR: &str = "notifier";

pub struct Notifier {
    config: Notifications,
    state: StateStore,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
}

impl Notifier {
    pub fn new(config: Notifications, state: StateStore, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            config,
            state,
            metrics,
            client: deliver::client(),
        })
    }

    pub fn config(&self) -> &Notifications {
        &self.config
    }

    /// Whether any webhook receives events named `name`.
    pub fn wanted(&self, name: &str) -> bool {
        self.config.webhooks.iter().any(|w| w.wants(name))
    }

    /// Sends `event` to every webhook that wants it, in the background:
    /// never blocks the caller (a run, a request, the reaper).
    pub fn notify(self: &Arc<Self>, event: Event) {
        let at = jiff::Timestamp::now().to_string();
        let event = Arc::new(event);
        for (i, hook) in self.config.webhooks.iter().enumerate() {
            if !hook.wants(event.name()) {
                continue;
            }
            let (me, event, at) = (self.clone(), event.clone(), at.clone());
            tokio::spawn(async move { me.deliver_once(i, &event, &at).await });
        }
    }

    /// One event to one webhook, at most once across replicas and restarts.
    async fn deliver_once(&self, hook: usize, event: &Event, at: &str) {
        let hook: &Webhook = &self.config.webhooks[hook];
        let (name, key) = (event.name(), event.key());
        match self
            .state
            .claim_notification(&hook.name, &key, name, event.tenant())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(webhook = %hook.name, key, "already sent (or being sent) to this webhook; skipped");
                self.metrics.notification(name, "duplicate");
                return;
            }
            Err(e) => {
                tracing::error!(webhook = %hook.name, key, error = %e, "could not record the delivery, so it is not sent (it could not be deduplicated)");
                self.metrics.notification(name, "not_sent");
                return;
            }
        }
        let body = body::body(hook.format, event, at);
        let outcome = deliver::deliver(&self.client, hook, &body).await;
        let (status, attempts, error, detail) = match &outcome {
            Outcome::Delivered { attempts } => (
                "delivered",
                *attempts,
                None,
                format!(
                    "webhook {}: {name} ({key}) delivered after {attempts} attempt(s)",
                    hook.name
                ),
            ),
            Outcome::GaveUp { attempts, error } => (
                "failed",
                *attempts,
                Some(error.as_str()),
                format!(
                    "webhook {}: {name} ({key}) gave up after {attempts} attempt(s): {error}",
                    hook.name
                ),
            ),
        };
        match &outcome {
            Outcome::Delivered { .. } => {
                tracing::info!(webhook = %hook.name, event = name, key, attempts, "notification delivered");
            }
            Outcome::GaveUp { error, .. } => {
                tracing::warn!(webhook = %hook.name, event = name, key, attempts, error = %error, "notification not delivered; gave up");
            }
        }
        if let Err(e) = self
            .state
            .finish_notification(&hook.name, &key, status, attempts, error)
            .await
        {
            tracing::error!(webhook = %hook.name, key, error = %e, "could not record how a delivery ended");
        }
        super::app::write_audit(
            &self.state,
            AUDIT_ACTOR,
            "-",
            "notify",
            event.tenant(),
            status,
            Some(detail),
        )
        .await;
        self.metrics.notification(name, status);
    }
}
