//! What a reader polls to see other processes' writes: the tenants table's
//! change counter (kept by triggers, see migration 0006) and a run's journal
//! events after a given one.

use sqlx::Row;

use super::{EventRow, StateError, StateStore};

impl StateStore {
    /// The tenants table's change counter: it moves, in the same
    /// transaction, with every insert, update or delete of a tenant by any
    /// process. Equal counters mean equal tenant rows.
    pub async fn tenants_version(&self) -> Result<i64, StateError> {
        let row = sqlx::query("SELECT version FROM tenants_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(row.get("version"))
    }

    /// The journal events of run `run_id` (of `tenant`) stored after the
    /// event numbered `after`, oldest first, each with its number.
    pub async fn run_events_after(
        &self,
        tenant: &str,
        run_id: &str,
        after: i64,
    ) -> Result<Vec<(i64, EventRow)>, StateError> {
        let rows = sqlx::query(
            "SELECT * FROM events WHERE tenant = $1 AND run_id = $2 AND seq > $3 ORDER BY seq",
        )
        .bind(tenant)
        .bind(run_id)
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        rows.iter()
            .map(|r| Ok((r.get::<i64, _>("seq"), EventRow::from_row(r)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TenantRow;

    #[tokio::test]
    async fn the_tenants_counter_moves_with_every_change_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::open_path(&dir.path().join("s.sqlite"))
            .await
            .unwrap();
        let v0 = state.tenants_version().await.unwrap();
        let row = TenantRow {
            name: "acme".into(),
            environment: "dev".into(),
            stack_name: "s".into(),
            stack_path: "s.yaml".into(),
            status: "creating".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            expires_at: None,
            protected: false,
            owner: None,
            note: None,
            graph_json: "{}".into(),
        };
        state.upsert_tenant(&row).await.unwrap();
        let v1 = state.tenants_version().await.unwrap();
        assert!(v1 > v0);
        state.tenants().await.unwrap();
        state.start_run("r1", "acme", "create").await.unwrap();
        assert_eq!(state.tenants_version().await.unwrap(), v1, "reads and runs");
        state.set_protected("acme", true).await.unwrap();
        let v2 = state.tenants_version().await.unwrap();
        assert!(v2 > v1);
        // A change by another connection (another process) moves it too.
        let other = StateStore::open_path(&dir.path().join("s.sqlite"))
            .await
            .unwrap();
        other.set_tenant_status("acme", "ready").await.unwrap();
        assert!(state.tenants_version().await.unwrap() > v2);
    }
}
