//! Durable state: tenants, runs, the per-node event log (the journal's
//! storage), per-tenant locks and learned durations. SQLite by default, at
//! `ENVCTL_STATE` (a path or `sqlite://` URL). No secret value is ever
//! written here: the journal only hands over plain outputs.

mod lock;
mod rows;

pub use lock::{LockHeld, TenantLock};
pub use rows::{EventRow, RunRow, TenantRow};

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::journal::Event;

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
    #[error("state store: corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error(
        "ENVCTL_STATE '{0}' is not supported: use a file path or a sqlite:// URL (PostgreSQL comes with the shared-state work)"
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
    pool: SqlitePool,
    location: String,
}

impl StateStore {
    /// Opens (creating if needed) the store at `location`: a file path or a
    /// `sqlite://` URL. Runs migrations.
    pub async fn open(location: &str) -> Result<Self, StateError> {
        let path = if let Some(rest) = location.strip_prefix("sqlite://") {
            PathBuf::from(rest)
        } else if location.contains("://") {
            return Err(StateError::Unsupported(location.into()));
        } else {
            PathBuf::from(location)
        };
        Self::open_path(&path).await
    }

    pub async fn open_path(path: &Path) -> Result<Self, StateError> {
        let location = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Dir {
                location: location.clone(),
                source,
            })?;
        }
        let db = |source| StateError::Db {
            location: location.clone(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(db)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db)?;
        sqlx::migrate!("src/state/migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|source| StateError::Migrate {
                location: location.clone(),
                source,
            })?;
        Ok(Self { pool, location })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
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
            "INSERT INTO tenants (name, environment, stack_name, stack_path, status, created_at, updated_at, expires_at, protected, graph_json)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(name) DO UPDATE SET environment = excluded.environment, stack_name = excluded.stack_name,
               stack_path = excluded.stack_path, status = excluded.status, updated_at = excluded.updated_at,
               expires_at = excluded.expires_at, graph_json = excluded.graph_json",
        )
        .bind(&t.name)
        .bind(&t.environment)
        .bind(&t.stack_name)
        .bind(&t.stack_path)
        .bind(&t.status)
        .bind(&t.created_at)
        .bind(&t.updated_at)
        .bind(&t.expires_at)
        .bind(t.protected)
        .bind(&t.graph_json)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub async fn set_tenant_status(&self, name: &str, status: &str) -> Result<(), StateError> {
        sqlx::query("UPDATE tenants SET status = ?, updated_at = ? WHERE name = ?")
            .bind(status)
            .bind(jiff::Timestamp::now().to_string())
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub async fn tenant(&self, name: &str) -> Result<Option<TenantRow>, StateError> {
        let row = sqlx::query("SELECT * FROM tenants WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        row.map(|r| TenantRow::from_row(&r)).transpose()
    }

    pub async fn tenants(&self) -> Result<Vec<TenantRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM tenants ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        rows.iter().map(TenantRow::from_row).collect()
    }

    // ---- runs ------------------------------------------------------------

    pub async fn start_run(
        &self,
        id: &str,
        tenant: &str,
        operation: &str,
    ) -> Result<(), StateError> {
        sqlx::query("INSERT INTO runs (id, tenant, operation, status, started_at) VALUES (?, ?, ?, 'running', ?)")
            .bind(id)
            .bind(tenant)
            .bind(operation)
            .bind(jiff::Timestamp::now().to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub async fn finish_run(
        &self,
        id: &str,
        status: &str,
        report_json: &str,
    ) -> Result<(), StateError> {
        sqlx::query("UPDATE runs SET status = ?, finished_at = ?, report_json = ? WHERE id = ?")
            .bind(status)
            .bind(jiff::Timestamp::now().to_string())
            .bind(report_json)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub async fn runs(&self, tenant: &str) -> Result<Vec<RunRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM runs WHERE tenant = ? ORDER BY started_at, rowid")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        rows.iter().map(RunRow::from_row).collect()
    }

    /// The newest finished run of `operation` that has a report.
    pub async fn last_report(
        &self,
        tenant: &str,
        operation: Option<&str>,
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.run_id)
        .bind(&e.tenant)
        .bind(&e.node)
        .bind(&e.kind)
        .bind(e.event.as_str())
        .bind(e.at_ms)
        .bind(outputs)
        .bind(e.had_secrets)
        .bind(&e.spec_hash)
        .bind(&e.error)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    pub async fn events(&self, tenant: &str) -> Result<Vec<EventRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM events WHERE tenant = ? ORDER BY seq")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        rows.iter().map(EventRow::from_row).collect()
    }

    // ---- learned durations -----------------------------------------------

    pub async fn record_duration(&self, kind: &str, d: Duration) -> Result<(), StateError> {
        sqlx::query("INSERT INTO durations (kind, ms, at_ms) VALUES (?, ?, ?)")
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
            "SELECT kind, ms FROM (SELECT kind, ms, seq, ROW_NUMBER() OVER (PARTITION BY kind ORDER BY seq DESC) AS rn FROM durations)
             WHERE rn <= ? ORDER BY kind, seq",
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
