//! The server's configuration file: where to listen, which stacks people may
//! ask for, the tokens (stored as SHA-256 hashes) with their roles, limits,
//! and the reaper's schedule. Validated as a whole at start-up, so that a bad
//! file stops the server with the place and the fix, before it listens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::auth::Role;
use crate::stack::{self, Stack};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ConfigError {
    pub file: String,
    pub problem: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    #[serde(default = "default_runs")]
    max_concurrent_runs: usize,
    #[serde(default = "default_max_ttl")]
    max_ttl: String,
    default_stack: Option<String>,
    stacks: BTreeMap<String, PathBuf>,
    /// `${envctl.domain}` of the stacks; default ENVCTL_DOMAIN.
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    tokens: Vec<RawToken>,
    reaper: Option<RawReaper>,
    #[serde(default)]
    secure_cookie: bool,
    /// A price table replacing the shipped one (relative to this file).
    #[serde(default)]
    prices: Option<PathBuf>,
    #[serde(default)]
    notifications: super::notify::config::RawNotifications,
    #[serde(default)]
    hibernation: RawHibernation,
    /// Off when absent.
    drift_check: Option<RawDriftCheck>,
}

/// `drift_check:`: how often every ready tenant's drift is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDriftCheck {
    every: String,
}

fn default_runs() -> usize {
    4
}

fn default_max_ttl() -> String {
    "30d".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: String,
    role: Role,
    sha256: String,
}

/// `hibernation:`: how often the sleep/wake schedules and the stopped
/// databases are looked at.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHibernation {
    check_every: Option<String>,
}

/// The default of `hibernation.check_every`: cron's finest unit.
const HIBERNATION_CHECK_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReaper {
    schedule: String,
    #[serde(default)]
    orphans: bool,
}

/// A token as configured: who it is, the role, and the token's SHA-256.
#[derive(Clone, Debug)]
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    pub sha256: [u8; 32],
}

#[derive(Clone, Debug)]
pub struct ReaperSchedule {
    pub expression: String,
    pub cron: croner::Cron,
    pub orphans: bool,
}

/// A validated configuration, with every stack loaded.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: String,
    pub max_concurrent_runs: usize,
    pub max_ttl: Duration,
    pub default_stack: String,
    pub stacks: BTreeMap<String, Stack>,
    /// The built-in values the stacks were loaded with (`domain:`, else
    /// ENVCTL_DOMAIN); a resumed run loads its stack again with them.
    pub builtins: stack::Builtins,
    pub tokens: Vec<TokenEntry>,
    pub reaper: Option<ReaperSchedule>,
    /// Mark the session cookie `Secure` (set it when the page is served
    /// over HTTPS, e.g. behind an ingress that terminates TLS).
    pub secure_cookie: bool,
    /// The price table, each stack's estimate and the tenants' cost facts.
    pub cost: std::sync::Arc<crate::cost::CostBook>,
    /// Webhooks and expiry warnings (none when not configured).
    pub notifications: super::notify::Notifications,
    /// How often the hibernation schedules and the RDS re-stop check run.
    pub hibernation_check_every: Duration,
    /// How often every ready tenant's drift is checked; `None`: never.
    pub drift_check_every: Option<Duration>,
}

impl ServeConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            problem: format!("cannot read it: {e}; pass an existing file with --config"),
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let bad = |problem: String| ConfigError {
            file: path.display().to_string(),
            problem,
        };
        let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("line {}: ", l.line()))
                .unwrap_or_default();
            bad(format!(
                "{at}{e}; see the example configuration in the README"
            ))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));

        if raw.max_concurrent_runs == 0 {
            return Err(bad(
                "max_concurrent_runs: must be at least 1 (e.g. 4)".into()
            ));
        }
        let max_ttl = humantime::parse_duration(&raw.max_ttl)
            .map_err(|e| bad(format!("max_ttl '{}': {e}; write e.g. 30d", raw.max_ttl)))?;
        if raw.stacks.is_empty() {
            return Err(bad(
                "stacks: name at least one stack, e.g. `stacks: { minimal: stacks/minimal.yaml }`"
                    .into(),
            ));
        }
        let builtins = match raw.domain.clone().filter(|d| !d.trim().is_empty()) {
            Some(d) => stack::Builtins::with_domain(d),
            None => stack::Builtins::from_env(),
        };
        let mut stacks = BTreeMap::new();
        for (name, file) in &raw.stacks {
            let file = if file.is_absolute() {
                file.clone()
            } else {
                base.join(file)
            };
            let stack = stack::load_file_in(&file, &builtins)
                .map_err(|e| bad(format!("stacks.{name}: {e}")))?;
            stacks.insert(name.clone(), stack);
        }
        let default_stack = match raw.default_stack {
            Some(d) if stacks.contains_key(&d) => d,
            Some(d) => {
                return Err(bad(format!(
                    "default_stack '{d}' is not one of the stacks ({}); name one of them",
                    stacks.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            None => stacks.keys().next().cloned().expect("at least one stack"),
        };

        let mut tokens = Vec::new();
        for (i, t) in raw.tokens.iter().enumerate() {
            let digest = hex::decode(t.sha256.trim())
                .ok()
                .and_then(|d| <[u8; 32]>::try_from(d).ok())
                .ok_or_else(|| {
                    bad(format!(
                        "tokens[{i}] ({}): sha256 must be 64 hex digits, the SHA-256 of the token: printf %s TOKEN | sha256sum",
                        t.name
                    ))
                })?;
            if t.name.trim().is_empty() {
                return Err(bad(format!(
                    "tokens[{i}]: name is empty; name who holds the token"
                )));
            }
            if tokens.iter().any(|o: &TokenEntry| o.sha256 == digest) {
                return Err(bad(format!(
                    "tokens[{i}] ({}): the same token is configured twice; give each person their own",
                    t.name
                )));
            }
            tokens.push(TokenEntry {
                name: t.name.clone(),
                role: t.role,
                sha256: digest,
            });
        }
        if tokens.is_empty() {
            return Err(bad(
                "tokens: configure at least one token (name, role, sha256), or nobody can sign in"
                    .into(),
            ));
        }

        let reaper = raw
            .reaper
            .map(|r| {
                let cron: croner::Cron = r.schedule.parse().map_err(|e| {
                    bad(format!(
                        "reaper.schedule '{}': {e}; write a cron expression such as \"*/15 * * * *\"",
                        r.schedule
                    ))
                })?;
                Ok(ReaperSchedule {
                    expression: r.schedule,
                    cron,
                    orphans: r.orphans,
                })
            })
            .transpose()?;

        let notifications = raw
            .notifications
            .validate(&|var| std::env::var(var).ok())
            .map_err(bad)?;

        let hibernation_check_every = match &raw.hibernation.check_every {
            None => HIBERNATION_CHECK_EVERY,
            Some(text) => humantime::parse_duration(text)
                .ok()
                .filter(|d| (Duration::from_secs(1)..=Duration::from_secs(3600)).contains(d))
                .ok_or_else(|| {
                    bad(format!(
                        "hibernation.check_every '{text}' is not a duration from 1s to 1h; write e.g. 1m (the default) or 30s"
                    ))
                })?,
        };

        let drift_check_every = raw
            .drift_check
            .as_ref()
            .map(|d| {
                humantime::parse_duration(&d.every)
                    .ok()
                    .filter(|t| {
                        (Duration::from_secs(1)..=Duration::from_secs(7 * 86400)).contains(t)
                    })
                    .ok_or_else(|| {
                        bad(format!(
                            "drift_check.every '{}' is not a duration from 1s to 7d; write e.g. 1h",
                            d.every
                        ))
                    })
            })
            .transpose()?;

        let prices = raw.prices.as_ref().map(|p| base.join(p));
        let table = crate::cost::PriceTable::load(prices.as_deref())
            .map_err(|e| bad(format!("prices: {e}")))?;
        let cost = crate::cost::CostBook::new(table, stacks.values())
            .map_err(|e| bad(format!("prices: {e}")))?;

        Ok(Self {
            listen: raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.into()),
            max_concurrent_runs: raw.max_concurrent_runs,
            max_ttl,
            default_stack,
            stacks,
            builtins,
            tokens,
            reaper,
            secure_cookie: raw.secure_cookie,
            cost: std::sync::Arc::new(cost),
            notifications,
            hibernation_check_every,
            drift_check_every,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_path(file: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(file)
    }

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn parse(text: &str) -> Result<ServeConfig, ConfigError> {
        ServeConfig::parse(&repo_path("serve.yaml"), text)
    }

    #[test]
    fn loads_stacks_relative_to_the_file_and_defaults_the_rest() {
        let c = parse(&format!(
            "stacks: {{ minimal: stacks/minimal.yaml }}\ntokens: [{{ name: olga, role: operator, sha256: {HASH} }}]\n"
        ))
        .unwrap();
        assert_eq!(c.listen, DEFAULT_LISTEN);
        assert_eq!(c.default_stack, "minimal");
        assert_eq!(c.max_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(c.tokens[0].role, Role::Operator);
        assert!(c.reaper.is_none());
        assert!(!c.secure_cookie);
        assert_eq!(c.drift_check_every, None, "drift checks are off by default");
    }

    #[test]
    fn each_mistake_names_the_field_and_the_fix() {
        let cases = [
            (
                "stacks: { minimal: stacks/minimal.yaml }\ntokens: [{ name: a, role: operator, sha256: abc }]\n",
                "sha256 must be 64 hex digits",
            ),
            (
                &format!(
                    "stacks: {{ minimal: stacks/nope.yaml }}\ntokens: [{{ name: a, role: operator, sha256: {HASH} }}]\n"
                ),
                "stacks.minimal",
            ),
            (
                &format!(
                    "stacks: {{ minimal: stacks/minimal.yaml }}\ntokens: [{{ name: a, role: admin, sha256: {HASH} }}]\n"
                ),
                "unknown variant `admin`",
            ),
            (
                &format!(
                    "stacks: {{ minimal: stacks/minimal.yaml }}\ndefault_stack: big\ntokens: [{{ name: a, role: viewer, sha256: {HASH} }}]\n"
                ),
                "default_stack 'big' is not one of the stacks (minimal)",
            ),
            (
                &format!(
                    "stacks: {{ minimal: stacks/minimal.yaml }}\ntokens: [{{ name: a, role: viewer, sha256: {HASH} }}]\nreaper: {{ schedule: 'every day' }}\n"
                ),
                "reaper.schedule 'every day'",
            ),
            (
                &format!(
                    "stacks: {{ minimal: stacks/minimal.yaml }}\ntokens: [{{ name: a, role: viewer, sha256: {HASH} }}]\nhibernation: {{ check_every: 0s }}\n"
                ),
                "hibernation.check_every '0s' is not a duration from 1s to 1h",
            ),
            (
                &format!(
                    "stacks: {{ minimal: stacks/minimal.yaml }}\ntokens: [{{ name: a, role: viewer, sha256: {HASH} }}]\ndrift_check: {{ every: often }}\n"
                ),
                "drift_check.every 'often' is not a duration from 1s to 7d",
            ),
            (
                "stacks: { minimal: stacks/minimal.yaml }\n",
                "configure at least one token",
            ),
            (
                &format!(
                    "stacks: {{ minimal: stacks/minimal.yaml }}\ntokens: [{{ name: a, role: viewer, sha256: {HASH} }}]\nlisten_on: x\n"
                ),
                "unknown field `listen_on`",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.contains(want), "{err}\n  wanted: {want}");
            assert!(
                err.starts_with(&repo_path("serve.yaml").display().to_string()),
                "{err}"
            );
        }
    }

    #[test]
    fn the_example_configuration_is_valid_and_its_demo_tokens_match() {
        use sha2::{Digest, Sha256};
        let c = ServeConfig::load(&repo_path("serve.example.yaml")).unwrap();
        assert_eq!(c.default_stack, "tenant");
        assert!(c.reaper.is_some());
        assert_eq!(c.drift_check_every, Some(Duration::from_secs(3600)));
        assert_eq!(c.notifications.expiry_warnings.len(), 3);
        assert!(c.notifications.webhooks.is_empty());
        for (token, name, role) in [
            ("demo-operator", "olga", Role::Operator),
            ("demo-requester", "sam", Role::Requester),
            ("demo-viewer", "vic", Role::Viewer),
        ] {
            let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            let t = c.tokens.iter().find(|t| t.sha256 == digest).expect(token);
            assert_eq!((t.name.as_str(), t.role), (name, role));
        }
    }

    #[test]
    fn a_cron_schedule_is_parsed() {
        let c = parse(&format!(
            "stacks: {{ minimal: stacks/minimal.yaml }}\ntokens: [{{ name: a, role: viewer, sha256: {HASH} }}]\nreaper: {{ schedule: '*/15 * * * *', orphans: true }}\n"
        ))
        .unwrap();
        let r = c.reaper.unwrap();
        assert!(r.orphans);
        assert_eq!(r.expression, "*/15 * * * *");
    }
}
