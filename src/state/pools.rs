//! Warm-pool members (`src/pool`): recorded when a fill starts making one,
//! marked available once it is ready, and claimed by a create with one
//! compare-and-swap statement, so two creates never get the same member
//! (SQLite: one `UPDATE … WHERE status = 'available' … RETURNING`, which
//! the database's single writer makes atomic; PostgreSQL: the same, with
//! the candidate row chosen `FOR UPDATE SKIP LOCKED`, so concurrent
//! claimers take different rows instead of queueing on one and missing).
//! Only plain outputs are stored, never a secret.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Backend, StateError, StateStore};

/// Where a member is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    /// A fill is making it (or died making it: `pool fill` adopts it).
    Creating,
    /// Ready, belongs to no tenant: a create may claim it.
    Available,
    /// A tenant's: it carries the tenant's tags and goes with its destroy.
    Claimed,
    /// `pool drain` or a replacement (past `max_age`, other properties) is
    /// deleting it.
    Deleting,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Creating => "creating",
            MemberStatus::Available => "available",
            MemberStatus::Claimed => "claimed",
            MemberStatus::Deleting => "deleting",
        }
    }

    fn parse(s: &str) -> Result<Self, StateError> {
        Ok(match s {
            "creating" => MemberStatus::Creating,
            "available" => MemberStatus::Available,
            "claimed" => MemberStatus::Claimed,
            "deleting" => MemberStatus::Deleting,
            other => {
                return Err(StateError::Corrupt {
                    table: "pool_members",
                    detail: format!("unknown status '{other}'"),
                });
            }
        })
    }
}

/// One member of a pool.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PoolMember {
    /// `<stack>/<resource>`.
    pub pool: String,
    /// The neutral name, `pool-<hash>`.
    pub member: String,
    /// Its cloud id (an RDS DB instance identifier); empty while creating.
    pub physical_id: String,
    /// Plain outputs only.
    pub outputs: BTreeMap<String, String>,
    /// SHA-256 of the properties it was made from.
    pub fingerprint: String,
    pub status: MemberStatus,
    pub created_at: String,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<String>,
}

impl PoolMember {
    fn from_row(r: &AnyRow) -> Result<Self, StateError> {
        let outputs: String = r.get("outputs_json");
        Ok(Self {
            pool: r.get("pool"),
            member: r.get("member"),
            physical_id: r.get("physical_id"),
            outputs: serde_json::from_str(&outputs).map_err(|e| StateError::Corrupt {
                table: "pool_members",
                detail: format!("outputs_json: {e}"),
            })?,
            fingerprint: r.get("fingerprint"),
            status: MemberStatus::parse(&r.get::<String, _>("status"))?,
            created_at: r.get("created_at"),
            claimed_by: r.get("claimed_by"),
            claimed_at: r.get("claimed_at"),
        })
    }
}

const COLUMNS: &str = "pool, member, physical_id, outputs_json, fingerprint, status, created_at, \
     claimed_by, claimed_at";

impl StateStore {
    /// Records a member a fill starts making (status `creating`).
    pub async fn add_pool_member(
        &self,
        pool: &str,
        member: &str,
        fingerprint: &str,
    ) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO pool_members (pool, member, fingerprint, status, created_at)
             VALUES ($1, $2, $3, 'creating', $4)",
        )
        .bind(pool)
        .bind(member)
        .bind(fingerprint)
        .bind(jiff::Timestamp::now().to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Marks a `creating` member available, with its cloud id and plain
    /// outputs. False when it is not `creating` any more.
    pub async fn pool_member_ready(
        &self,
        pool: &str,
        member: &str,
        physical_id: &str,
        outputs: &BTreeMap<String, String>,
    ) -> Result<bool, StateError> {
        let json = serde_json::to_string(outputs).expect("a string map serializes");
        let n = sqlx::query(
            "UPDATE pool_members SET status = 'available', physical_id = $1, outputs_json = $2
             WHERE pool = $3 AND member = $4 AND status = 'creating'",
        )
        .bind(physical_id)
        .bind(json)
        .bind(pool)
        .bind(member)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?
        .rows_affected();
        Ok(n == 1)
    }

    /// Claims a member of `pool` made from `fingerprint` for `tenant`: the
    /// one it already claimed (a rerun or resume of its create), else the
    /// oldest available one, atomically. `None` is a miss.
    pub async fn claim_pool_member(
        &self,
        pool: &str,
        fingerprint: &str,
        tenant: &str,
    ) -> Result<Option<PoolMember>, StateError> {
        if let Some(held) = self.held_pool_member(pool, tenant).await? {
            return Ok(Some(held));
        }
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE pool_members SET status = 'claimed', claimed_by = $1, claimed_at = $2
             WHERE pool = $3 AND status = 'available' AND member = (
               SELECT member FROM pool_members
               WHERE pool = $3 AND status = 'available' AND fingerprint = $4
               ORDER BY created_at, member LIMIT 1 {lock})
             RETURNING {COLUMNS}"
        )))
        .bind(tenant)
        .bind(jiff::Timestamp::now().to_string())
        .bind(pool)
        .bind(fingerprint)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        row.as_ref().map(PoolMember::from_row).transpose()
    }

    /// The member of `pool` that `tenant` claimed, if any.
    pub async fn held_pool_member(
        &self,
        pool: &str,
        tenant: &str,
    ) -> Result<Option<PoolMember>, StateError> {
        let held = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM pool_members
             WHERE pool = $1 AND claimed_by = $2 AND status = 'claimed'"
        )))
        .bind(pool)
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        held.as_ref().map(PoolMember::from_row).transpose()
    }

    /// Moves an `available` (or `creating`) member to `deleting`, so no
    /// create claims it while it is deleted. False when it was claimed
    /// meanwhile (or is gone).
    pub async fn retire_pool_member(&self, pool: &str, member: &str) -> Result<bool, StateError> {
        let n = sqlx::query(
            "UPDATE pool_members SET status = 'deleting'
             WHERE pool = $1 AND member = $2 AND status IN ('available', 'creating', 'deleting')",
        )
        .bind(pool)
        .bind(member)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?
        .rows_affected();
        Ok(n == 1)
    }

    /// Forgets a member (deleted, or a claimed one whose tenant was
    /// destroyed).
    pub async fn remove_pool_member(&self, pool: &str, member: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM pool_members WHERE pool = $1 AND member = $2")
            .bind(pool)
            .bind(member)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Forgets the members `tenant` claimed (its destroy deleted them with
    /// the rest of the tenant).
    pub async fn forget_claimed_pool_members(&self, tenant: &str) -> Result<u64, StateError> {
        Ok(
            sqlx::query("DELETE FROM pool_members WHERE claimed_by = $1 AND status = 'claimed'")
                .bind(tenant)
                .execute(&self.pool)
                .await
                .map_err(|e| self.db_err(e))?
                .rows_affected(),
        )
    }

    /// Counts one claim of `pool` that ended as `outcome` (`hit`, `miss`).
    pub async fn count_pool_claim(&self, pool: &str, outcome: &str) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO pool_claims (pool, outcome, count) VALUES ($1, $2, 1)
             ON CONFLICT (pool, outcome) DO UPDATE SET count = pool_claims.count + 1",
        )
        .bind(pool)
        .bind(outcome)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Claims counted per (pool, outcome), by every process.
    pub async fn pool_claims(&self) -> Result<BTreeMap<(String, String), i64>, StateError> {
        let rows = sqlx::query("SELECT pool, outcome, count FROM pool_claims")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(rows
            .iter()
            .map(|r| ((r.get("pool"), r.get("outcome")), r.get("count")))
            .collect())
    }

    /// Every member of `pool` (every pool when `None`), oldest first.
    pub async fn pool_members(&self, pool: Option<&str>) -> Result<Vec<PoolMember>, StateError> {
        let rows = match pool {
            Some(p) => sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM pool_members WHERE pool = $1 ORDER BY pool, created_at, member"
            )))
            .bind(p)
            .fetch_all(&self.pool)
            .await,
            None => sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM pool_members ORDER BY pool, created_at, member"
            )))
            .fetch_all(&self.pool)
            .await,
        }
        .map_err(|e| self.db_err(e))?;
        rows.iter().map(PoolMember::from_row).collect()
    }
}
