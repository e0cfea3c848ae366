//! The latest drift check of each tenant: when it ran, whether anything
//! drifted, and the report as JSON (`release::drift::DriftReport`'s shape;
//! the store keeps it as text and never looks inside). One row per tenant,
//! replaced by each check.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{StateError, StateStore};

/// One tenant's latest drift check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DriftRow {
    pub tenant: String,
    pub checked_at: String,
    pub drifted: bool,
    #[serde(skip)]
    pub summary_json: String,
}

impl DriftRow {
    fn from_row(r: &AnyRow) -> Self {
        Self {
            tenant: r.get("tenant"),
            checked_at: r.get("checked_at"),
            drifted: r.get::<i64, _>("drifted") != 0,
            summary_json: r.get("summary_json"),
        }
    }
}

impl StateStore {
    /// Stores `row` as the tenant's latest drift check (replacing the one
    /// before).
    pub async fn record_drift(&self, row: &DriftRow) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO drift (tenant, checked_at, drifted, summary_json) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant) DO UPDATE SET checked_at = excluded.checked_at,
               drifted = excluded.drifted, summary_json = excluded.summary_json",
        )
        .bind(&row.tenant)
        .bind(&row.checked_at)
        .bind(i64::from(row.drifted))
        .bind(&row.summary_json)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// The tenant's latest drift check, if one ran.
    pub async fn drift(&self, tenant: &str) -> Result<Option<DriftRow>, StateError> {
        let row = sqlx::query("SELECT * FROM drift WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(row.as_ref().map(DriftRow::from_row))
    }

    /// Every tenant's latest drift check, by tenant.
    pub async fn drifts(&self) -> Result<Vec<DriftRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM drift ORDER BY tenant")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(rows.iter().map(DriftRow::from_row).collect())
    }

    /// Forgets the tenant's drift check (its tenant is destroyed).
    pub async fn forget_drift(&self, tenant: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM drift WHERE tenant = $1")
            .bind(tenant)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }
}
