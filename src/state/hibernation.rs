//! The state of hibernation: what a tenant's hibernation remembered (JSON,
//! never a secret), the tenant's own sleep/wake schedule, and the periods
//! it spent hibernated.

use sqlx::Row;

use super::{StateError, StateStore};

/// One stretch of time a tenant spent hibernated; `ended_at` is `None`
/// while it still is. Both are RFC 3339 timestamps.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HibernationPeriod {
    pub started_at: String,
    pub ended_at: Option<String>,
}

impl StateStore {
    /// The tenant's hibernated periods, oldest first.
    pub async fn hibernation_periods(
        &self,
        tenant: &str,
    ) -> Result<Vec<HibernationPeriod>, StateError> {
        let rows = sqlx::query(
            "SELECT started_at, ended_at FROM hibernations WHERE tenant = $1 ORDER BY seq",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(rows
            .iter()
            .map(|r| HibernationPeriod {
                started_at: r.get("started_at"),
                ended_at: r.get("ended_at"),
            })
            .collect())
    }

    /// Opens a hibernated period at `at` unless one is open already.
    pub async fn open_hibernation_period(&self, tenant: &str, at: &str) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO hibernations (tenant, started_at)
             SELECT $1, $2 WHERE NOT EXISTS
               (SELECT 1 FROM hibernations WHERE tenant = $3 AND ended_at IS NULL)",
        )
        .bind(tenant)
        .bind(at)
        .bind(tenant)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Closes the tenant's open hibernated period (if any) at `at`.
    pub async fn close_hibernation_period(&self, tenant: &str, at: &str) -> Result<(), StateError> {
        sqlx::query("UPDATE hibernations SET ended_at = $1 WHERE tenant = $2 AND ended_at IS NULL")
            .bind(at)
            .bind(tenant)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Stores (or, with `None`, forgets) what a hibernation remembered.
    pub async fn set_hibernation_memory(
        &self,
        tenant: &str,
        remembered_json: Option<&str>,
    ) -> Result<(), StateError> {
        self.set_field(Field::Remembered, tenant, remembered_json)
            .await
    }

    /// What the tenant's hibernation remembered, if it is (or was left)
    /// hibernated.
    pub async fn hibernation_memory(&self, tenant: &str) -> Result<Option<String>, StateError> {
        self.field(Field::Remembered, tenant).await
    }

    /// Stores (or, with `None`, clears) the tenant's own schedule, which
    /// overrides its stack's.
    pub async fn set_hibernation_schedule(
        &self,
        tenant: &str,
        schedule_json: Option<&str>,
    ) -> Result<(), StateError> {
        self.set_field(Field::Schedule, tenant, schedule_json).await
    }

    /// The tenant's own schedule (JSON), if it has one.
    pub async fn hibernation_schedule(&self, tenant: &str) -> Result<Option<String>, StateError> {
        self.field(Field::Schedule, tenant).await
    }

    async fn set_field(
        &self,
        field: Field,
        tenant: &str,
        value: Option<&str>,
    ) -> Result<(), StateError> {
        let sql = match field {
            Field::Remembered => {
                "INSERT INTO hibernation_state (tenant, remembered_json, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT(tenant) DO UPDATE SET remembered_json = excluded.remembered_json,
                   updated_at = excluded.updated_at"
            }
            Field::Schedule => {
                "INSERT INTO hibernation_state (tenant, schedule_json, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT(tenant) DO UPDATE SET schedule_json = excluded.schedule_json,
                   updated_at = excluded.updated_at"
            }
        };
        sqlx::query(sql)
            .bind(tenant)
            .bind(value)
            .bind(jiff::Timestamp::now().to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    async fn field(&self, field: Field, tenant: &str) -> Result<Option<String>, StateError> {
        let (sql, column) = match field {
            Field::Remembered => (
                "SELECT remembered_json FROM hibernation_state WHERE tenant = $1",
                "remembered_json",
            ),
            Field::Schedule => (
                "SELECT schedule_json FROM hibernation_state WHERE tenant = $1",
                "schedule_json",
            ),
        };
        let row = sqlx::query(sql)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(row.and_then(|r| r.get::<Option<String>, _>(column)))
    }

    /// Forgets everything hibernation kept about a destroyed tenant except
    /// its periods (cost still needs them).
    pub async fn forget_hibernation(&self, tenant: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM hibernation_state WHERE tenant = $1")
            .bind(tenant)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }
}

/// The two nullable columns of `hibernation_state`.
#[derive(Clone, Copy)]
enum Field {
    Remembered,
    Schedule,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn periods_open_once_and_close() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open_path(&dir.path().join("s.sqlite"))
            .await
            .unwrap();
        store
            .open_hibernation_period("t1", "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        // A second hibernate while hibernated does not open a second period.
        store
            .open_hibernation_period("t1", "2026-01-01T01:00:00Z")
            .await
            .unwrap();
        assert_eq!(
            store.hibernation_periods("t1").await.unwrap(),
            vec![HibernationPeriod {
                started_at: "2026-01-01T00:00:00Z".into(),
                ended_at: None
            }]
        );
        store
            .close_hibernation_period("t1", "2026-01-01T02:00:00Z")
            .await
            .unwrap();
        store
            .open_hibernation_period("t1", "2026-01-02T00:00:00Z")
            .await
            .unwrap();
        let periods = store.hibernation_periods("t1").await.unwrap();
        assert_eq!(periods.len(), 2);
        assert_eq!(periods[0].ended_at.as_deref(), Some("2026-01-01T02:00:00Z"));
        assert_eq!(periods[1].ended_at, None);
        assert!(store.hibernation_periods("other").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn memory_and_schedule_are_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open_path(&dir.path().join("s.sqlite"))
            .await
            .unwrap();
        assert_eq!(store.hibernation_memory("t1").await.unwrap(), None);
        store
            .set_hibernation_schedule("t1", Some(r#"{"sleep":"0 20 * * *"}"#))
            .await
            .unwrap();
        store
            .set_hibernation_memory("t1", Some(r#"{"deployments":[]}"#))
            .await
            .unwrap();
        assert_eq!(
            store.hibernation_schedule("t1").await.unwrap().as_deref(),
            Some(r#"{"sleep":"0 20 * * *"}"#)
        );
        store.set_hibernation_memory("t1", None).await.unwrap();
        assert_eq!(store.hibernation_memory("t1").await.unwrap(), None);
        assert!(store.hibernation_schedule("t1").await.unwrap().is_some());
        store.forget_hibernation("t1").await.unwrap();
        assert_eq!(store.hibernation_schedule("t1").await.unwrap(), None);
    }
}
