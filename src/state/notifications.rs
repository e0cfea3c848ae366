//! Webhook deliveries: a delivery is claimed (one row per webhook and event
//! key, the table's primary key) before its first attempt, and its outcome
//! recorded after the last. The claim is what deduplicates: whichever
//! replica or restart inserts the row first sends; the others find it.

use sqlx::Row;

use super::{StateError, StateStore};

/// One recorded delivery (no URL: webhooks are named by their name).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotificationRow {
    pub webhook: String,
    pub event_key: String,
    pub event: String,
    pub tenant: String,
    /// `sending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub claimed_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

impl StateStore {
    /// Claims the delivery of `event_key` to `webhook`. False when it was
    /// already claimed (by this process before a restart, or another
    /// replica): then the caller sends nothing.
    pub async fn claim_notification(
        &self,
        webhook: &str,
        event_key: &str,
        event: &str,
        tenant: &str,
    ) -> Result<bool, StateError> {
        let n = sqlx::query(
            "INSERT INTO notifications (webhook, event_key, event, tenant, status, attempts, claimed_at)
             VALUES ($1, $2, $3, $4, 'sending', 0, $5)
             ON CONFLICT (webhook, event_key) DO NOTHING",
        )
        .bind(webhook)
        .bind(event_key)
        .bind(event)
        .bind(tenant)
        .bind(jiff::Timestamp::now().to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records how a claimed delivery ended: `delivered` or `failed`, after
    /// `attempts` tries, with the last error (never the URL).
    pub async fn finish_notification(
        &self,
        webhook: &str,
        event_key: &str,
        status: &str,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE notifications SET status = $1, attempts = $2, finished_at = $3, error = $4
             WHERE webhook = $5 AND event_key = $6",
        )
        .bind(status)
        .bind(i64::from(attempts))
        .bind(jiff::Timestamp::now().to_string())
        .bind(error)
        .bind(webhook)
        .bind(event_key)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// The deliveries about `tenant`, oldest claim first.
    pub async fn notifications(&self, tenant: &str) -> Result<Vec<NotificationRow>, StateError> {
        let rows = sqlx::query(
            "SELECT webhook, event_key, event, tenant, status, attempts, claimed_at, finished_at, error
             FROM notifications WHERE tenant = $1 ORDER BY claimed_at, event_key",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(rows
            .iter()
            .map(|r| NotificationRow {
                webhook: r.get("webhook"),
                event_key: r.get("event_key"),
                event: r.get("event"),
                tenant: r.get("tenant"),
                status: r.get("status"),
                attempts: r.get("attempts"),
                claimed_at: r.get("claimed_at"),
                finished_at: r.get("finished_at"),
                error: r.get("error"),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_delivery_is_claimed_once_per_webhook_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open_path(&dir.path().join("state.sqlite"))
            .await
            .unwrap();
        let again = StateStore::open_path(&dir.path().join("state.sqlite"))
            .await
            .unwrap();
        assert!(
            store
                .claim_notification("ops", "ready:r1", "tenant.ready", "acme")
                .await
                .unwrap()
        );
        assert!(
            !again
                .claim_notification("ops", "ready:r1", "tenant.ready", "acme")
                .await
                .unwrap()
        );
        assert!(
            store
                .claim_notification("chat", "ready:r1", "tenant.ready", "acme")
                .await
                .unwrap()
        );
        store
            .finish_notification("ops", "ready:r1", "delivered", 3, None)
            .await
            .unwrap();
        let rows = again.notifications("acme").await.unwrap();
        assert_eq!(rows.len(), 2);
        let ops = rows.iter().find(|r| r.webhook == "ops").unwrap();
        assert_eq!((ops.status.as_str(), ops.attempts), ("delivered", 3));
        assert!(ops.finished_at.is_some());
        let chat = rows.iter().find(|r| r.webhook == "chat").unwrap();
        assert_eq!(chat.status, "sending");
    }
}
