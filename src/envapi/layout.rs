//! Pure key layout: building and parsing object keys, and merging levels.

use std::collections::BTreeMap;

/// Where a value lives. Precedence, highest first: `Service`, `Tenant`, `Environment`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// `<environment>/common/<KEY>`: every tenant of the environment.
    Environment,
    /// `<environment>/<tenant>/common/<KEY>`: every service of one tenant.
    Tenant,
    /// `<environment>/<tenant>/<service>/<KEY>`: one service of one tenant.
    Service(String),
}

impl Level {
    /// Precedence rank: a higher rank wins in the merged view.
    pub fn rank(&self) -> u8 {
        match self {
            Level::Environment => 0,
            Level::Tenant => 1,
            Level::Service(_) => 2,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Level::Environment => "environment-common".into(),
            Level::Tenant => "tenant-common".into(),
            Level::Service(s) => format!("service {s}"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "KEY '{0}' is malformed: use upper-case letters, digits and '_', starting with a letter or '_' (e.g. DATABASE_HOST)"
    )]
    BadKey(String),
    #[error("service name '{0}' is malformed: use a-z, 0-9 and '-', and not 'common'")]
    BadService(String),
    #[error("environment name '{0}' is malformed: use a-z, 0-9 and '-', and not 'common'")]
    BadEnvironment(String),
    #[error("tenant name '{0}' is malformed: use a-z, 0-9 and '-', and not 'common'")]
    BadTenant(String),
}

/// `[A-Z_][A-Z0-9_]*`, the shape of a process environment variable.
pub fn valid_key_name(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "common"
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// One value's address in the store.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct EnvKey {
    pub environment: String,
    /// `None` only for `Level::Environment`.
    pub tenant: Option<String>,
    pub level: Level,
    pub key: String,
}

/// Checks that `environment` can name a level of the value store.
pub fn check_environment(environment: &str) -> Result<(), KeyError> {
    if valid_segment(environment) {
        Ok(())
    } else {
        Err(KeyError::BadEnvironment(environment.into()))
    }
}

impl EnvKey {
    pub fn new(
        environment: &str,
        tenant: Option<&str>,
        level: Level,
        key: &str,
    ) -> Result<Self, KeyError> {
        if !valid_segment(environment) {
            return Err(KeyError::BadEnvironment(environment.into()));
        }
        if !valid_key_name(key) {
            return Err(KeyError::BadKey(key.into()));
        }
        if let Level::Service(s) = &level
            && !valid_segment(s)
        {
            return Err(KeyError::BadService(s.clone()));
        }
        let tenant = match level {
            Level::Environment => None,
            _ => match tenant {
                Some(t) if valid_segment(t) => Some(t.to_string()),
                Some(t) => return Err(KeyError::BadTenant(t.into())),
                None => return Err(KeyError::BadTenant(String::new())),
            },
        };
        Ok(Self {
            environment: environment.into(),
            tenant,
            level,
            key: key.into(),
        })
    }

    /// The S3 object key.
    pub fn object_key(&self) -> String {
        let t = self.tenant.as_deref().unwrap_or("");
        match &self.level {
            Level::Environment => format!("{}/common/{}", self.environment, self.key),
            Level::Tenant => format!("{}/{t}/common/{}", self.environment, self.key),
            Level::Service(s) => format!("{}/{t}/{s}/{}", self.environment, self.key),
        }
    }

    /// Parses an object key back; `None` for keys outside the layout.
    pub fn parse(object_key: &str) -> Option<Self> {
        let parts: Vec<&str> = object_key.split('/').collect();
        match parts.as_slice() {
            [env, "common", key] => EnvKey::new(env, None, Level::Environment, key).ok(),
            [env, tenant, "common", key] => EnvKey::new(env, Some(tenant), Level::Tenant, key).ok(),
            [env, tenant, svc, key] => {
                EnvKey::new(env, Some(tenant), Level::Service(svc.to_string()), key).ok()
            }
            _ => None,
        }
    }
}

/// The merged view a service sees: for each KEY, the value from the highest
/// level that has it, with that level. Input order does not matter.
pub fn merge<V: Clone>(entries: &[(EnvKey, V)]) -> BTreeMap<String, (V, Level)> {
    let mut out: BTreeMap<String, (V, Level)> = BTreeMap::new();
    for (k, v) in entries {
        match out.get(&k.key) {
            Some((_, lvl)) if lvl.rank() >= k.level.rank() => {}
            _ => {
                out.insert(k.key.clone(), (v.clone(), k.level.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_follow_the_documented_layout() {
        let s = EnvKey::new(
            "staging",
            Some("acme"),
            Level::Service("billing".into()),
            "DB_HOST",
        )
        .unwrap();
        assert_eq!(s.object_key(), "staging/acme/billing/DB_HOST");
        let t = EnvKey::new("staging", Some("acme"), Level::Tenant, "DB_HOST").unwrap();
        assert_eq!(t.object_key(), "staging/acme/common/DB_HOST");
        let e = EnvKey::new("staging", Some("acme"), Level::Environment, "DB_HOST").unwrap();
        assert_eq!(e.object_key(), "staging/common/DB_HOST");
        for k in [s, t, e] {
            assert_eq!(EnvKey::parse(&k.object_key()), Some(k));
        }
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for bad in ["db_host", "1DB", "DB-HOST", "", "DB HOST"] {
            assert_eq!(
                EnvKey::new("staging", Some("acme"), Level::Tenant, bad),
                Err(KeyError::BadKey(bad.into()))
            );
        }
        assert!(EnvKey::new("staging", Some("a"), Level::Service("common".into()), "K").is_err());
        assert!(EnvKey::new("staging", Some("common"), Level::Tenant, "K").is_err());
        assert!(EnvKey::new("staging", Some("a/b"), Level::Tenant, "K").is_err());
        assert!(EnvKey::new("staging", None, Level::Tenant, "K").is_err());
    }

    #[test]
    fn service_beats_tenant_beats_environment() {
        let k = |lvl, key| EnvKey::new("e", Some("t"), lvl, key).unwrap();
        let merged = merge(&[
            (k(Level::Environment, "A"), "env"),
            (k(Level::Service("s".into()), "A"), "svc"),
            (k(Level::Tenant, "A"), "ten"),
            (k(Level::Environment, "B"), "env"),
            (k(Level::Tenant, "B"), "ten"),
            (k(Level::Environment, "C"), "env"),
        ]);
        assert_eq!(merged["A"], ("svc", Level::Service("s".into())));
        assert_eq!(merged["B"], ("ten", Level::Tenant));
        assert_eq!(merged["C"], ("env", Level::Environment));
    }
}
