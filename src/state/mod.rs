//! Durable state: tenants, runs, the per-node event log (the journal's
//! storage), per-tenant locks, the audit log, learned durations and each
//! tenant's recorded revisions and pin (releases), rollouts and their
//! per-tenant intent log, at
//! `ENVCTL_STATE`: a SQLite file by default (a path or `sqlite://` URL), or a
//! PostgreSQL database (`postgres://` URL) shared by several processes and
//! machines. No secret value is ever written here: the journal only hands
//! over plain outputs.

mod connect;
mod cost_facts;
mod drift;
mod hibernation;
mod lock;
mod notifications;
mod pools;
mod revisions;
mod rollouts;
mod rows;
mod sessions;
mod watch;

pub use connect::{Backend, redact};
pub use drift::DriftRow;
pub use hibernation::HibernationPeriod;
pub use lock::{LockHeld, TenantLock};
pub use notifications::NotificationRow;
pub use pools::{MemberStatus, PoolMember};
pub use revisions::{NewRevision, PinRow, RevisionRow};
pub use rollouts::{NewRollout, PlannedTenant, RolloutRow, RolloutTenantRow, TenantMove};
pub use rows::{AuditRow, EventRow, RunRow, TenantRow};
pub use sessions::SessionRow;

use std::path::PathBuf;
use std::time::Duration;

use sqlx::{AnyPool, Row};

use crate::journal::Event;
use crate::lifecycle::{Operation, RunStatus, TenantStatus, UnknownWord, Word};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store {location}: {source}")]
    Db {
        location: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("state store {location}: migration failed: {source}")]
    Migrate {
        location: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("state store {location}: cannot create its directory: {source}")]
    Dir {
        location: String,
        #[source]
        source: std::io::Error,
    },
    /// A lifecycle word handed to the store that no variant knows.
    #[error("state store: {0}")]
    Unknown(#[from] UnknownWord),
    #[error("state store: corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    /// Holds the location with its password redacted.
    #[error(
        "ENVCTL_STATE '{0}' is not supported: use a file path, a sqlite:// URL, or a postgres:// (postgresql://) URL such as postgres://USER:PASSWORD@HOST:5432/DATABASE"
    )]
    Unsupported(String),
}

/// Default location: `<data dir>/envctl/state.sqlite`.
pub fn default_location() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("envctl")
        .join("state.sqlite")
}

/// The state store. Cheap to clone (a connection pool).
#[derive(Clone, Debug)]
pub struct StateStore {
    pool: AnyPool,
    /// For messages: a path, or a URL without its password.
    location: String,
    backend: Backend,
}

impl StateStore {
    pub fn location(&self) -> &str {
        &self.location
    }

    pub(crate) fn db_err(&self, source: sqlx::Error) -> StateError {
        StateError::Db {
            location: self.location.clone(),
            source,
        }
    }

    // ---- tenants -------------------------------------------------------

    pub async fn upsert_tenant(&self, t: &TenantRow) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO tenants (name, environment, stack_name, stack_path, status, created_at, updated_at, expires_at, protected, graph_json, owner, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT(name) DO UPDATE SET environment = excluded.environment, stack_name = excluded.stack_name,
               stack_path = excluded.stack_path, status = excluded.status, updated_at = excluded.updated_at,
               expires_at = excluded.expires_at, graph_json = excluded.graph_json,
               owner = COALESCE(excluded.owner, tenants.owner), note = COALESCE(excluded.note, tenants.note)",
        )
        .bind(&t.name)
        .bind(&t.environment)
        .bind(&t.stack_name)
        .bind(&t.stack_path)
        .bind(t.status.as_str())
        .bind(&t.created_at)
        .bind(&t.updated_at)
        .bind(&t.expires_at)
        .bind(i64::from(t.protected))
        .bind(&t.graph_json)
        .bind(&t.owner)
        .bind(&t.note)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Sets a tenant's status (a [`TenantStatus`], or its word).
    pub async fn set_tenant_status(
        &self,
        name: &str,
        status: impl Word<TenantStatus>,
    ) -> Result<(), StateError> {
        let status = status.word()?;
        sqlx::query("UPDATE tenants SET status = $1, updated_at = $2 WHERE name = $3")
            .bind(status.as_str())
            .bind(jiff::Timestamp::now().to_string())
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub async fn tenant(&self, name: &str) -> Result<Option<TenantRow>, StateError> {
        let row = sqlx::query("SELECT * FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        row.map(|r| TenantRow::from_row(&r)).transpose()
    }

    /// Every tenant, by name, without its stored graph (`graph_json` is
    /// empty: it is the bulk of a row and no list needs it; `tenant(name)`
    /// has it).
    pub async fn tenants(&self) -> Result<Vec<TenantRow>, StateError> {
        let rows = sqlx::query(
            "SELECT name, environment, stack_name, stack_path, status, created_at, updated_at,
               expires_at, protected, owner, note, '' AS graph_json FROM tenants ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        rows.iter().map(TenantRow::from_row).collect()
    }

    /// Sets (or clears) a tenant's expiry. False when there is no such tenant.
    pub async fn set_expiry(
        &self,
        name: &str,
        expires_at: Option<&str>,
    ) -> Result<bool, StateError> {
        let n = sqlx::query("UPDATE tenants SET expires_at = $1, updated_at = $2 WHERE name = $3")
            .bind(expires_at)
            .bind(jiff::Timestamp::now().to_string())
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?
            .rows_affected();
        Ok(n > 0)
    }

    /// Marks a tenant protected from the reaper (or not). False when there
    /// is no such tenant.
    pub async fn set_protected(&self, name: &str, protected: bool) -> Result<bool, StateError> {
        let n = sqlx::query("UPDATE tenants SET protected = $1, updated_at = $2 WHERE name = $3")
            .bind(i64::from(protected))
            .bind(jiff::Timestamp::now().to_string())
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?
            .rows_affected();
        Ok(n > 0)
    }

    // ---- runs ------------------------------------------------------------

    /// Records a run of `operation` (an [`Operation`], or its word) as
    /// running.
    pub async fn start_run(
        &self,
        id: &str,
        tenant: &str,
        operation: impl Word<Operation>,
    ) -> Result<(), StateError> {
        let operation = operation.word()?;
        sqlx::query("INSERT INTO runs (id, tenant, operation, status, started_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(tenant)
            .bind(operation.as_str())
            .bind(RunStatus::Running.as_str())
            .bind(jiff::Timestamp::now().to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Records a run's end: its status (a [`RunStatus`], or its word) and
    /// report.
    pub async fn finish_run(
        &self,
        id: &str,
        status: impl Word<RunStatus>,
        report_json: &str,
    ) -> Result<(), StateError> {
        let status = status.word()?;
        sqlx::query(
            "UPDATE runs SET status = $1, finished_at = $2, report_json = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(jiff::Timestamp::now().to_string())
        .bind(report_json)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub async fn runs(&self, tenant: &str) -> Result<Vec<RunRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM runs WHERE tenant = $1 ORDER BY seq")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        rows.iter().map(RunRow::from_row).collect()
    }

    /// One run by its id.
    pub async fn run(&self, id: &str) -> Result<Option<RunRow>, StateError> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        row.as_ref().map(RunRow::from_row).transpose()
    }

    /// Runs that were started and never finished (their process stopped).
    pub async fn unfinished_runs(&self) -> Result<Vec<RunRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM runs WHERE status = $1 ORDER BY seq")
            .bind(RunStatus::Running.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        rows.iter().map(RunRow::from_row).collect()
    }

    /// Closes a run whose process stopped before it finished.
    pub async fn abandon_run(&self, id: &str) -> Result<(), StateError> {
        sqlx::query("UPDATE runs SET status = $1, finished_at = $2 WHERE id = $3 AND status = $4")
            .bind(RunStatus::Interrupted.as_str())
            .bind(jiff::Timestamp::now().to_string())
            .bind(id)
            .bind(RunStatus::Running.as_str())
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// The newest finished run of `operation` that has a report.
    pub async fn last_report(
        &self,
        tenant: &str,
        operation: Option<Operation>,
    ) -> Result<Option<RunRow>, StateError> {
        let runs = self.runs(tenant).await?;
        Ok(runs
            .into_iter()
            .rev()
            .find(|r| r.report_json.is_some() && operation.is_none_or(|op| r.operation == op)))
    }

    // ---- events (the journal's storage) ------------------------------------

    pub async fn append_event(&self, e: &EventRow) -> Result<(), StateError> {
        let outputs = serde_json::to_string(&e.outputs).expect("plain outputs serialize");
        sqlx::query(
            "INSERT INTO events (run_id, tenant, node, kind, event, at_ms, outputs_json, had_secrets, spec_hash, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&e.run_id)
        .bind(&e.tenant)
        .bind(&e.node)
        .bind(&e.kind)
        .bind(e.event.as_str())
        .bind(e.at_ms)
        .bind(outputs)
        .bind(i64::from(e.had_secrets))
        .bind(&e.spec_hash)
        .bind(&e.error)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub async fn events(&self, tenant: &str) -> Result<Vec<EventRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM events WHERE tenant = $1 ORDER BY seq")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        rows.iter().map(EventRow::from_row).collect()
    }

    // ---- audit log ----------------------------------------------------------

    pub async fn append_audit(&self, a: &AuditRow) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO audit (at, actor, role, action, target, result, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&a.at)
        .bind(&a.actor)
        .bind(&a.role)
        .bind(&a.action)
        .bind(&a.target)
        .bind(&a.result)
        .bind(&a.detail)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// The newest `limit` audit entries, newest first.
    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM audit ORDER BY seq DESC LIMIT $1")
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        rows.iter().map(AuditRow::from_row).collect()
    }

    // ---- learned durations -----------------------------------------------

    pub async fn record_duration(&self, kind: &str, d: Duration) -> Result<(), StateError> {
        sqlx::query("INSERT INTO durations (kind, ms, at_ms) VALUES ($1, $2, $3)")
            .bind(kind)
            .bind(d.as_millis() as i64)
            .bind(jiff::Timestamp::now().as_millisecond())
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// The last `n` recorded durations of each kind, oldest first.
    pub async fn recent_durations(
        &self,
        n: usize,
    ) -> Result<std::collections::BTreeMap<String, Vec<Duration>>, StateError> {
        let rows = sqlx::query(
            "SELECT kind, ms FROM (SELECT kind, ms, seq, ROW_NUMBER() OVER (PARTITION BY kind ORDER BY seq DESC) AS rn FROM durations) AS recent
             WHERE rn <= $1 ORDER BY kind, seq",
        )
        .bind(n as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        let mut out: std::collections::BTreeMap<String, Vec<Duration>> = Default::default();
        for r in rows {
            let kind: String = r.get("kind");
            let ms: i64 = r.get("ms");
            out.entry(kind)
                .or_default()
                .push(Duration::from_millis(ms.max(0) as u64));
        }
        Ok(out)
    }
}

pub(crate) fn parse_event(s: &str) -> Result<Event, StateError> {
    Event::parse(s).ok_or_else(|| StateError::Corrupt {
        table: "events",
        detail: format!("unknown event '{s}'"),
    })
}

#[cfg(test)]
mod tests;
