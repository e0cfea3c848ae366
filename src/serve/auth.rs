//! Who is calling: bearer tokens (compared by their SHA-256, as configured),
//! the page's session cookie, and what each role may do.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::TokenEntry;

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

/// The configured tokens and the page's live sessions.
pub struct Authenticator {
    by_digest: HashMap<[u8; 32], Principal>,
    sessions: Mutex<HashMap<String, (Principal, Instant)>>,
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
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The holder of `token`, if it is a configured one. Only the token's
    /// digest is ever compared or kept.
    pub fn by_token(&self, token: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.by_digest.get(&digest).cloned()
    }

    /// Starts a page session for `who`; returns the cookie value.
    pub fn open_session(&self, who: Principal) -> String {
        let id = random_id();
        let mut sessions = self.sessions.lock().expect("sessions lock");
        let now = Instant::now();
        sessions.retain(|_, (_, at)| now.duration_since(*at) < SESSION_TTL);
        sessions.insert(id.clone(), (who, now));
        id
    }

    pub fn by_session(&self, id: &str) -> Option<Principal> {
        let sessions = self.sessions.lock().expect("sessions lock");
        sessions
            .get(id)
            .filter(|(_, at)| at.elapsed() < SESSION_TTL)
            .map(|(p, _)| p.clone())
    }

    pub fn close_session(&self, id: &str) {
        self.sessions.lock().expect("sessions lock").remove(id);
    }
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

    #[test]
    fn sessions_open_and_close() {
        let a = auth();
        let who = a.by_token("s3cret-token").unwrap();
        let id = a.open_session(who.clone());
        assert_eq!(id.len(), 64);
        assert_eq!(a.by_session(&id), Some(who));
        a.close_session(&id);
        assert_eq!(a.by_session(&id), None);
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
