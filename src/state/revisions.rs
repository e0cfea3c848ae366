//! Releases in the store: each tenant's recorded revisions (numbered 1, 2,
//! … per tenant, the content as JSON with no secret value in it) and its
//! pin. The content's shape is `release::Snapshot`'s; the store keeps it as
//! text and never looks inside.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{StateError, StateStore};

/// One recorded revision of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RevisionRow {
    pub tenant: String,
    pub revision: i64,
    /// The create run that applied it.
    pub run_id: String,
    /// Who applied it (the run's owner: a token's name, or the CLI's OS user).
    pub applied_by: Option<String>,
    pub applied_at: String,
    pub stack_name: String,
    pub stack_path: String,
    pub environment: String,
    #[serde(skip)]
    pub content_json: String,
}

impl RevisionRow {
    fn from_row(r: &AnyRow) -> Self {
        Self {
            tenant: r.get("tenant"),
            revision: r.get("revision"),
            run_id: r.get("run_id"),
            applied_by: r.get("applied_by"),
            applied_at: r.get("applied_at"),
            stack_name: r.get("stack_name"),
            stack_path: r.get("stack_path"),
            environment: r.get("environment"),
            content_json: r.get("content_json"),
        }
    }
}

/// A revision to record: everything but its number, which the store picks.
#[derive(Clone, Debug)]
pub struct NewRevision<'a> {
    pub tenant: &'a str,
    pub run_id: &'a str,
    pub applied_by: Option<&'a str>,
    pub stack_name: &'a str,
    pub stack_path: &'a str,
    pub environment: &'a str,
    pub content_json: &'a str,
}

/// A tenant held at one revision.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PinRow {
    pub tenant: String,
    pub revision: i64,
    pub pinned_by: Option<String>,
    pub pinned_at: String,
}

impl PinRow {
    fn from_row(r: &AnyRow) -> Self {
        Self {
            tenant: r.get("tenant"),
            revision: r.get("revision"),
            pinned_by: r.get("pinned_by"),
            pinned_at: r.get("pinned_at"),
        }
    }
}

impl StateStore {
    /// Records `new` as the tenant's next revision and returns its number
    /// (1 for the first). Callers hold the tenant's lock; should two
    /// records race anyway, the primary key refuses the second.
    pub async fn record_revision(&self, new: &NewRevision<'_>) -> Result<i64, StateError> {
        let row = sqlx::query(
            "INSERT INTO revisions (tenant, revision, run_id, applied_by, applied_at, stack_name, stack_path, environment, content_json)
             SELECT $1, COALESCE(MAX(revision), 0) + 1, $2, $3, $4, $5, $6, $7, $8 FROM revisions WHERE tenant = $1
             RETURNING revision",
        )
        .bind(new.tenant)
        .bind(new.run_id)
        .bind(new.applied_by)
        .bind(jiff::Timestamp::now().to_string())
        .bind(new.stack_name)
        .bind(new.stack_path)
        .bind(new.environment)
        .bind(new.content_json)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(row.get("revision"))
    }

    /// The tenant's revisions, oldest first, with their content.
    pub async fn revisions(&self, tenant: &str) -> Result<Vec<RevisionRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM revisions WHERE tenant = $1 ORDER BY revision")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(rows.iter().map(RevisionRow::from_row).collect())
    }

    /// One revision of a tenant; `None` for the newest.
    pub async fn revision(
        &self,
        tenant: &str,
        revision: Option<i64>,
    ) -> Result<Option<RevisionRow>, StateError> {
        let row = match revision {
            Some(n) => {
                sqlx::query("SELECT * FROM revisions WHERE tenant = $1 AND revision = $2")
                    .bind(tenant)
                    .bind(n)
                    .fetch_optional(&self.pool)
                    .await
            }
            None => {
                sqlx::query(
                    "SELECT * FROM revisions WHERE tenant = $1 ORDER BY revision DESC LIMIT 1",
                )
                .bind(tenant)
                .fetch_optional(&self.pool)
                .await
            }
        }
        .map_err(|e| self.db_err(e))?;
        Ok(row.as_ref().map(RevisionRow::from_row))
    }

    /// The tenants that have at least one recorded revision, by name.
    pub async fn revised_tenants(&self) -> Result<Vec<String>, StateError> {
        let rows = sqlx::query("SELECT DISTINCT tenant FROM revisions ORDER BY tenant")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(rows.iter().map(|r| r.get("tenant")).collect())
    }

    /// Pins `tenant` at `revision` (replacing an earlier pin).
    pub async fn pin(
        &self,
        tenant: &str,
        revision: i64,
        pinned_by: Option<&str>,
    ) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO pins (tenant, revision, pinned_by, pinned_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant) DO UPDATE SET revision = excluded.revision,
               pinned_by = excluded.pinned_by, pinned_at = excluded.pinned_at",
        )
        .bind(tenant)
        .bind(revision)
        .bind(pinned_by)
        .bind(jiff::Timestamp::now().to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Removes the tenant's pin. False when it had none.
    pub async fn unpin(&self, tenant: &str) -> Result<bool, StateError> {
        let n = sqlx::query("DELETE FROM pins WHERE tenant = $1")
            .bind(tenant)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?
            .rows_affected();
        Ok(n > 0)
    }

    /// The tenant's pin, if any.
    pub async fn pinned(&self, tenant: &str) -> Result<Option<PinRow>, StateError> {
        let row = sqlx::query("SELECT * FROM pins WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(row.as_ref().map(PinRow::from_row))
    }

    /// Every pin, by tenant.
    pub async fn pins(&self) -> Result<Vec<PinRow>, StateError> {
        let rows = sqlx::query("SELECT * FROM pins ORDER BY tenant")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(rows.iter().map(PinRow::from_row).collect())
    }
}
