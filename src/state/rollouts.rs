//! Rollouts in the store: each rollout (its spec as JSON, its status) and
//! the intent log of its tenants (wave, position, status, the revisions it
//! went from and to). A tenant's status changes only by compare-and-swap on
//! the status it had ([`StateStore::move_rollout_tenant`]), so two drivers
//! of one rollout can never both start a tenant, and only along
//! [`RolloutTenantStatus::may_become`].

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{StateError, StateStore};
use crate::lifecycle::{RolloutStatus, RolloutTenantStatus};

/// One rollout.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RolloutRow {
    pub id: String,
    pub created_at: String,
    /// Who started it (the CLI's OS user, an API token's name).
    pub created_by: Option<String>,
    pub status: RolloutStatus,
    /// What to roll out and how: `release::rollout::Spec` as JSON. The
    /// store never looks inside.
    #[serde(skip)]
    pub spec_json: String,
    pub updated_at: String,
    /// Why it is in its status (e.g. which failure stopped it).
    pub message: Option<String>,
}

impl RolloutRow {
    fn from_row(r: &AnyRow) -> Result<Self, StateError> {
        Ok(Self {
            id: r.get("id"),
            created_at: r.get("created_at"),
            created_by: r.get("created_by"),
            status: word(r, "rollouts", "status")?,
            spec_json: r.get("spec_json"),
            updated_at: r.get("updated_at"),
            message: r.get("message"),
        })
    }
}

/// One tenant of a rollout: where it is in the rollout's intent log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RolloutTenantRow {
    pub rollout_id: String,
    pub tenant: String,
    /// 0 for the canary wave (when there is one), then 1, 2, ...
    pub wave: i64,
    /// Its place in the rollout's order (0, 1, ... across waves).
    pub position: i64,
    pub status: RolloutTenantStatus,
    /// The revision it ran when it was started.
    pub from_revision: Option<i64>,
    /// The revision the rollout recorded for it (its apply, or its rollback).
    pub to_revision: Option<i64>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// Why it is in its status, in words (a refusal, a failed gate, ...).
    pub message: Option<String>,
}

impl RolloutTenantRow {
    fn from_row(r: &AnyRow) -> Result<Self, StateError> {
        Ok(Self {
            rollout_id: r.get("rollout_id"),
            tenant: r.get("tenant"),
            wave: r.get("wave"),
            position: r.get("position"),
            status: word(r, "rollout_tenants", "status")?,
            from_revision: r.get("from_revision"),
            to_revision: r.get("to_revision"),
            started_at: r.get("started_at"),
            ended_at: r.get("ended_at"),
            message: r.get("message"),
        })
    }
}

/// A lifecycle column read as its enum; an unknown word is a corrupt row.
fn word<T: std::str::FromStr<Err = crate::lifecycle::UnknownWord>>(
    r: &AnyRow,
    table: &'static str,
    column: &str,
) -> Result<T, StateError> {
    r.get::<String, _>(column)
        .parse()
        .map_err(|e: crate::lifecycle::UnknownWord| StateError::Corrupt {
            table,
            detail: format!("{column}: {e}"),
        })
}

/// A tenant planned into a new rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedTenant {
    pub tenant: String,
    pub wave: i64,
    pub position: i64,
}

/// A rollout to record, with its planned tenants (all `pending`).
#[derive(Clone, Debug)]
pub struct NewRollout<'a> {
    pub id: &'a str,
    pub created_by: Option<&'a str>,
    pub spec_json: &'a str,
    pub tenants: &'a [PlannedTenant],
}

/// What a tenant's move sets besides its status; `None` keeps a column.
#[derive(Clone, Debug, Default)]
pub struct TenantMove<'a> {
    pub from_revision: Option<i64>,
    pub to_revision: Option<i64>,
    pub message: Option<&'a str>,
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

impl StateStore {
    /// Records a rollout as `running` with its tenants `pending`, in one
    /// transaction: a crash leaves either all of it or nothing.
    pub async fn insert_rollout(&self, new: &NewRollout<'_>) -> Result<(), StateError> {
        let at = now();
        let mut tx = self.pool().begin().await.map_err(|e| self.db_err(e))?;
        sqlx::query(
            "INSERT INTO rollouts (id, created_at, created_by, status, spec_json, updated_at, message)
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(new.id)
        .bind(&at)
        .bind(new.created_by)
        .bind(RolloutStatus::Running.as_str())
        .bind(new.spec_json)
        .bind(&at)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db_err(e))?;
        for t in new.tenants {
            sqlx::query(
                "INSERT INTO rollout_tenants (rollout_id, tenant, wave, position, status)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new.id)
            .bind(&t.tenant)
            .bind(t.wave)
            .bind(t.position)
            .bind(RolloutTenantStatus::Pending.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db_err(e))?;
        }
        tx.commit().await.map_err(|e| self.db_err(e))
    }

    /// Every rollout, newest first.
    pub async fn rollouts(&self) -> Result<Vec<RolloutRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM rollouts ORDER BY created_at DESC, id")
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.db_err(e))?;
        rows.iter().map(RolloutRow::from_row).collect()
    }

    /// One rollout by its id.
    pub async fn rollout(&self, id: &str) -> Result<Option<RolloutRow>, StateError> {
        let row = sqlx::query("SELECT * FROM rollouts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.db_err(e))?;
        row.as_ref().map(RolloutRow::from_row).transpose()
    }

    /// The tenants of a rollout in its order (wave, then position).
    pub async fn rollout_tenants(&self, id: &str) -> Result<Vec<RolloutTenantRow>, StateError> {
        let rows = sqlx::query(
            "SELECT * FROM rollout_tenants WHERE rollout_id = $1 ORDER BY wave, position",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.db_err(e))?;
        rows.iter().map(RolloutTenantRow::from_row).collect()
    }

    /// Sets a rollout's status when it is one of `from` (compare-and-swap:
    /// a pause does not undo an abort that came first). False when it was
    /// in none of them, or there is no such rollout.
    pub async fn move_rollout(
        &self,
        id: &str,
        from: &[RolloutStatus],
        to: RolloutStatus,
        message: Option<&str>,
    ) -> Result<bool, StateError> {
        let Some(current) = self.rollout(id).await? else {
            return Ok(false);
        };
        if !from.contains(&current.status) {
            return Ok(false);
        }
        let n = sqlx::query(
            "UPDATE rollouts SET status = $1, message = $2, updated_at = $3 WHERE id = $4 AND status = $5",
        )
        .bind(to.as_str())
        .bind(message)
        .bind(now())
        .bind(id)
        .bind(current.status.as_str())
        .execute(self.pool())
        .await
        .map_err(|e| self.db_err(e))?
        .rows_affected();
        if n == 0 {
            // Moved by someone else between the read and the write: decide
            // again on what it is now.
            return Box::pin(self.move_rollout(id, from, to, message)).await;
        }
        Ok(true)
    }

    /// Moves a tenant of a rollout from `from` to `to` (compare-and-swap on
    /// `from`), setting what `set` holds. Entering a state in progress from
    /// another stamps `started_at` (once); a final state stamps `ended_at`.
    /// False when the tenant was not in `from` (another driver moved it).
    /// An illegal transition is a corrupt-log error, never written.
    pub async fn move_rollout_tenant(
        &self,
        id: &str,
        tenant: &str,
        from: RolloutTenantStatus,
        to: RolloutTenantStatus,
        set: &TenantMove<'_>,
    ) -> Result<bool, StateError> {
        if !from.may_become(to) {
            return Err(StateError::Corrupt {
                table: "rollout_tenants",
                detail: format!(
                    "rollout {id}: tenant {tenant} may not go from {from} to {to} (a bug in the rollout driver)"
                ),
            });
        }
        let at = now();
        let n = sqlx::query(
            "UPDATE rollout_tenants SET status = $1,
               from_revision = COALESCE($2, from_revision),
               to_revision = COALESCE($3, to_revision),
               message = COALESCE($4, message),
               started_at = COALESCE(started_at, $5),
               ended_at = $6
             WHERE rollout_id = $7 AND tenant = $8 AND status = $9",
        )
        .bind(to.as_str())
        .bind(set.from_revision)
        .bind(set.to_revision)
        .bind(set.message)
        .bind((!to.is_final()).then(|| at.clone()))
        .bind(to.is_final().then_some(at))
        .bind(id)
        .bind(tenant)
        .bind(from.as_str())
        .execute(self.pool())
        .await
        .map_err(|e| self.db_err(e))?
        .rows_affected();
        Ok(n > 0)
    }
}
