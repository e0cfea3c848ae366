//! Who is calling: bearer tokens (compared by their SHA-256, as configured),
//! the page's session cookie (its session kept in the state store by digest,
//! so any replica knows it), and what each role may do.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::TokenEntry;
use crate::state::{SessionRow, StateError, StateStore};

/// The cookie the page's login sets.
pub const SESSION_COOKIE: &str = "envctl_session";
/// How long a page session lasts without a new login.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Creates tenants; extends and destroys its own.
    Requester,
    /// Does everything, to any tenant.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Requester => "requester",
            Role::Operator => "operator",
        }
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

impl Principal {
    /// May create tenants.
    pub fn may_create(&self) -> bool {
        self.role >= Role::Requester
    }

    /// May change (extend, destroy, resume) a tenant owned by `owner`.
    pub fn may_change(&self, owner: Option<&str>) -> bool {
        match self.role {
            Role::Operator => true,
            Role::Requester => owner == Some(self.name.as_str()),
            Role::Viewer => false,
        }
    }

    pub fn is_operator(&self) -> bool {
        self.role == Role::Operator
    }
}

/// The configured tokens; page sessions live in the state store, where
/// every replica finds them.
pub struct Authenticator {
    by_digest: HashMap<[u8; 32], Principal>,
}

impl Authenticator {
    pub fn new(tokens: &[TokenEntry]) -> Self {
        Self {
            by_digest: tokens
                .iter()
                .map(|t| {
                    (
                        t.sha256,
                        Principal {
                            name: t.name.clone(),
                            role: t.role,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The holder of `token`, if it is a configured one. Only the token's
    /// digest is ever compared or kept.
    pub fn by_token(&self, token: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.by_digest.get(&digest).cloned()
    }

    /// Starts a page session for `who` in `state` (purging expired ones);
    /// returns the cookie value. The store keeps only its digest.
    pub async fn open_session(
        &self,
        state: &StateStore,
        who: &Principal,
    ) -> Result<String, StateError> {
        let id = random_id();
        let now = now_ms();
        let row = SessionRow {
            name: who.name.clone(),
            role: who.role.as_str().into(),
        };
        let ttl = i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX);
        state
            .open_session(&session_digest(&id), &row, now, now.saturating_add(ttl))
            .await?;
        Ok(id)
    }

    /// The principal of the session `id`, if it is open, unexpired, and its
    /// holder is still a configured token's (removing a token from the
    /// configuration ends its sessions).
    pub async fn by_session(
        &self,
        state: &StateStore,
        id: &str,
    ) -> Result<Option<Principal>, StateError> {
        let Some(row) = state.session(&session_digest(id), now_ms()).await? else {
            return Ok(None);
        };
        Ok(self
            .by_digest
            .values()
            .find(|p| p.name == row.name && p.role.as_str() == row.role)
            .cloned())
    }

    /// Ends the session `id` for every replica.
    pub async fn close_session(&self, state: &StateStore, id: &str) -> Result<(), StateError> {
        state.close_session(&session_digest(id)).await
    }
}

/// What the store keeps of a session id: its SHA-256, hex. The id is 256
/// random bits, so a fast hash is enough: nothing can be guessed back.
pub fn session_digest(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// 32 random bytes, hex: a session id nobody can guess.
fn random_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Authenticator {
        Authenticator::new(&[TokenEntry {
            name: "sam".into(),
            role: Role::Requester,
            sha256: Sha256::digest(b"s3cret-token").into(),
        }])
    }

    #[test]
    fn a_token_is_known_by_its_digest_only() {
        let a = auth();
        assert_eq!(a.by_token("s3cret-token").unwrap().name, "sam");
        assert!(a.by_token("s3cret-token ").is_none());
        assert!(a.by_token("").is_none());
    }

    async fn store() -> (tempfile::TempDir, StateStore) {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::open_path(&dir.path().join("s.sqlite"))
            .await
            .unwrap();
        (dir, state)
    }

    #[tokio::test]
    async fn sessions_open_and_close_in_the_store() {
        let (_dir, state) = store().await;
        let a = auth();
        let who = a.by_token("s3cret-token").unwrap();
        let id = a.open_session(&state, &who).await.unwrap();
        assert_eq!(id.len(), 64);
        assert_eq!(a.by_session(&state, &id).await.unwrap(), Some(who));
        assert_eq!(a.by_session(&state, &id[1..]).await.unwrap(), None);
        a.close_session(&state, &id).await.unwrap();
        assert_eq!(a.by_session(&state, &id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_session_ends_when_its_token_leaves_the_configuration() {
        let (_dir, state) = store().await;
        let who = auth().by_token("s3cret-token").unwrap();
        let id = auth().open_session(&state, &who).await.unwrap();
        let reconfigured = Authenticator::new(&[TokenEntry {
            name: "sam".into(),
            role: Role::Viewer,
            sha256: Sha256::digest(b"other-token").into(),
        }]);
        assert_eq!(reconfigured.by_session(&state, &id).await.unwrap(), None);
        assert!(auth().by_session(&state, &id).await.unwrap().is_some());
    }

    #[test]
    fn roles_decide_who_may_change_what() {
        let p = |role| Principal {
            name: "sam".into(),
            role,
        };
        assert!(!p(Role::Viewer).may_create());
        assert!(p(Role::Requester).may_create());
        assert!(p(Role::Requester).may_change(Some("sam")));
        assert!(!p(Role::Requester).may_change(Some("olga")));
        assert!(!p(Role::Requester).may_change(None));
        assert!(p(Role::Operator).may_change(Some("olga")));
        assert!(!p(Role::Viewer).may_change(Some("sam")));
    }
}
