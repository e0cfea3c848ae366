//! Page sessions in the store, so that every replica of `envctl serve` on it
//! knows them: kept by the SHA-256 of their id (never the id), with an
//! expiry, deleted at logout, purged once expired.

use sqlx::Row;

use super::{StateError, StateStore};

/// A live session as stored: who signed in, with which role (as text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub name: String,
    pub role: String,
}

impl StateStore {
    /// Records a session under `id_sha256` (hex) until `expires_ms`, and
    /// purges the sessions expired at `now_ms`.
    pub async fn open_session(
        &self,
        id_sha256: &str,
        who: &SessionRow,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), StateError> {
        self.purge_sessions(now_ms).await?;
        sqlx::query(
            "INSERT INTO sessions (id_sha256, name, role, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_sha256)
        .bind(&who.name)
        .bind(&who.role)
        .bind(now_ms)
        .bind(expires_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// The session under `id_sha256` if it has not expired at `now_ms`.
    pub async fn session(
        &self,
        id_sha256: &str,
        now_ms: i64,
    ) -> Result<Option<SessionRow>, StateError> {
        let row =
            sqlx::query("SELECT name, role FROM sessions WHERE id_sha256 = $1 AND expires_ms > $2")
                .bind(id_sha256)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.db_err(e))?;
        Ok(row.map(|r| SessionRow {
            name: r.get("name"),
            role: r.get("role"),
        }))
    }

    /// Ends the session under `id_sha256` (logout). Ending one that is gone
    /// is no error.
    pub async fn close_session(&self, id_sha256: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM sessions WHERE id_sha256 = $1")
            .bind(id_sha256)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Deletes the sessions expired at `now_ms`; returns how many.
    pub async fn purge_sessions(&self, now_ms: i64) -> Result<u64, StateError> {
        let n = sqlx::query("DELETE FROM sessions WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db_err(e))?
            .rows_affected();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_expires_and_expired_ones_are_purged() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::open_path(&dir.path().join("s.sqlite"))
            .await
            .unwrap();
        let who = SessionRow {
            name: "sam".into(),
            role: "viewer".into(),
        };
        state.open_session("aa", &who, 1_000, 2_000).await.unwrap();
        assert_eq!(state.session("aa", 1_999).await.unwrap(), Some(who.clone()));
        assert_eq!(state.session("aa", 2_000).await.unwrap(), None);
        // Opening another later purges the expired one.
        state.open_session("bb", &who, 3_000, 9_000).await.unwrap();
        assert_eq!(state.purge_sessions(3_000).await.unwrap(), 0);
        assert_eq!(state.session("bb", 3_001).await.unwrap(), Some(who));
        assert_eq!(state.purge_sessions(9_000).await.unwrap(), 1);
        state.close_session("bb").await.unwrap();
        state.close_session("bb").await.unwrap();
    }
}
