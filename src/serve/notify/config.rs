//! The `notifications:` section of the server's configuration: webhooks
//! (name, URL, body format, events, attempts, timeout) and the expiry
//! warning distances, checked as a whole at start-up. A webhook URL is a
//! secret (Slack's carry their token in the path): it is held in a
//! [`WebhookUrl`] whose `Debug` hides it, and no message ever repeats it.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Deserialize;

use super::event::EVENT_NAMES;

/// The warning distances when `expiry_warnings` is not set.
const DEFAULT_WARNINGS: [&str; 2] = ["1d", "2h"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
    expiry_warnings: Option<Vec<String>>,
    check_every: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    name: String,
    url: Option<String>,
    /// The name of an environment variable that holds the URL, so that the
    /// secret need not sit in the file.
    url_env: Option<String>,
    #[serde(default)]
    format: Format,
    events: Option<Vec<String>>,
    attempts: Option<usize>,
    timeout: Option<String>,
    first_retry: Option<String>,
}

/// The body sent: the documented JSON, or Slack's incoming-webhook `{"text"}`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Slack,
}

/// A webhook's URL. Never printed: `Debug` shows only that it is hidden.
#[derive(Clone)]
pub struct WebhookUrl(reqwest::Url);

impl WebhookUrl {
    pub fn url(&self) -> &reqwest::Url {
        &self.0
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookUrl(<hidden>)")
    }
}

/// One validated webhook.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// How the webhook is named in logs, the audit log and metrics.
    pub name: String,
    pub url: WebhookUrl,
    pub format: Format,
    /// The event names it receives (all when not configured).
    pub events: BTreeSet<&'static str>,
    /// Tries per event, the first included.
    pub attempts: usize,
    /// Time allowed for one attempt (connect, send, answer).
    pub timeout: Duration,
    /// The wait before the first retry; each next one doubles (at most 5 minutes).
    pub first_retry: Duration,
}

impl Webhook {
    pub fn wants(&self, event_name: &str) -> bool {
        self.events.contains(event_name)
    }
}

/// The validated `notifications:` section (empty when absent).
#[derive(Clone, Debug)]
pub struct Notifications {
    pub webhooks: Vec<Webhook>,
    /// Warning distances before a tenant's expiry, longest first.
    pub expiry_warnings: Vec<Duration>,
    /// How often the expiry watcher looks at the tenants.
    pub check_every: Duration,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            webhooks: Vec::new(),
            expiry_warnings: Vec::new(),
            check_every: Duration::from_secs(60),
        }
    }
}

fn duration(field: &str, text: &str, example: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!(
            "{field} '{text}' is zero; write a positive duration such as {example}"
        )),
        Err(e) => Err(format!(
            "{field} '{text}' is not a duration ({e}); write e.g. {example}"
        )),
    }
}

/// Whether plain `http://` is acceptable: only to this machine (tests, a
/// local relay); anything else must use TLS, since the URL is a secret.
fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn webhook_url(
    at: &str,
    raw: &RawWebhook,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<WebhookUrl, String> {
    let text = match (&raw.url, &raw.url_env) {
        (Some(u), None) => u.clone(),
        (None, Some(var)) => env(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            format!("{at}: url_env names {var}, which is not set; export {var} with the webhook's URL, or write url:")
        })?,
        (Some(_), Some(_)) => {
            return Err(format!("{at}: set url or url_env, not both"));
        }
        (None, None) => {
            return Err(format!(
                "{at}: no url; write url: https://... or url_env: VARIABLE (an environment variable holding it)"
            ));
        }
    };
    // The value is never repeated in a message: it may carry a token.
    let url = reqwest::Url::parse(text.trim()).map_err(|e| {
        format!("{at}: url is not a valid absolute URL ({e}); write it as https://HOST/PATH")
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "{at}: url uses http:// to a host other than this machine; use https:// (a webhook URL is a secret and must not travel in the clear)"
            ));
        }
        other => {
            return Err(format!(
                "{at}: url scheme '{other}' is not supported; use https://"
            ));
        }
    }
    if url.host().is_none() {
        return Err(format!(
            "{at}: url has no host; write it as https://HOST/PATH"
        ));
    }
    Ok(WebhookUrl(url))
}

fn events(at: &str, raw: &Option<Vec<String>>) -> Result<BTreeSet<&'static str>, String> {
    let Some(list) = raw else {
        return Ok(EVENT_NAMES.into_iter().collect());
    };
    if list.is_empty() {
        return Err(format!(
            "{at}: events is empty; list some of {} or leave it out for all",
            EVENT_NAMES.join(", ")
        ));
    }
    list.iter()
        .map(|e| {
            EVENT_NAMES
                .into_iter()
                .find(|n| *n == e.trim())
                .ok_or_else(|| {
                    format!(
                        "{at}: unknown event '{e}'; the events are {}",
                        EVENT_NAMES.join(", ")
                    )
                })
        })
        .collect()
}

impl RawNotifications {
    /// Checks the section; a problem comes back as one sentence that names
    /// the field (`notifications.webhooks[0] (ops): ...`) and the fix.
    /// `env` looks up `url_env` variables.
    pub fn validate(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Notifications, String> {
        let mut webhooks: Vec<Webhook> = Vec::new();
        for (i, raw) in self.webhooks.iter().enumerate() {
            let name = raw.name.trim();
            let at = format!("notifications.webhooks[{i}] ({name})");
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                return Err(format!(
                    "notifications.webhooks[{i}]: name '{name}' must be letters, digits, '-', '_' or '.' (it names the webhook in logs and the audit log, e.g. ops-slack)"
                ));
            }
            if webhooks.iter().any(|w| w.name == name) {
                return Err(format!(
                    "{at}: two webhooks are named '{name}'; give each its own name"
                ));
            }
            let attempts = raw.attempts.unwrap_or(6);
            if !(1..=20).contains(&attempts) {
                return Err(format!(
                    "{at}: attempts {attempts} is out of range; write 1 to 20 (default 6)"
                ));
            }
            let timeout = duration(
                &format!("{at}: timeout"),
                raw.timeout.as_deref().unwrap_or("10s"),
                "10s",
            )?;
            let first_retry = duration(
                &format!("{at}: first_retry"),
                raw.first_retry.as_deref().unwrap_or("1s"),
                "1s",
            )?;
            webhooks.push(Webhook {
                name: name.to_string(),
                url: webhook_url(&at, raw, env)?,
                format: raw.format,
                events: events(&at, &raw.events)?,
                attempts,
                timeout,
                first_retry,
            });
        }
        let warnings: Vec<String> = self
            .expiry_warnings
            .unwrap_or_else(|| DEFAULT_WARNINGS.map(String::from).to_vec());
        let mut expiry_warnings = Vec::new();
        for (i, w) in warnings.iter().enumerate() {
            let d = duration(
                &format!("notifications.expiry_warnings[{i}]"),
                w,
                "7d, 1d or 2h",
            )?;
            if expiry_warnings.contains(&d) {
                return Err(format!(
                    "notifications.expiry_warnings[{i}] '{w}' is listed twice; list each distance once"
                ));
            }
            expiry_warnings.push(d);
        }
        expiry_warnings.sort_by(|a, b| b.cmp(a));
        let check_every = duration(
            "notifications.check_every",
            self.check_every.as_deref().unwrap_or("1m"),
            "1m",
        )?;
        Ok(Notifications {
            webhooks,
            expiry_warnings,
            check_every,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<Notifications, String> {
        let raw: RawNotifications = serde_yaml_ng::from_str(yaml).map_err(|e| e.to_string())?;
        raw.validate(&|var| {
            (var == "SLACK_URL").then(|| "https://hooks.slack.com/services/T0/B0/secret".into())
        })
    }

    #[test]
    fn defaults_fill_in_and_warnings_sort_longest_first() {
        let n = load(
            "webhooks: [{ name: ops, url: 'https://example.com/hook' }, { name: chat, url_env: SLACK_URL, format: slack, events: [run.failed] }]\nexpiry_warnings: [2h, 7d, 1d]\n",
        )
        .unwrap();
        assert_eq!(n.webhooks[0].format, Format::Json);
        assert_eq!(n.webhooks[0].events.len(), EVENT_NAMES.len());
        assert_eq!(n.webhooks[0].attempts, 6);
        assert_eq!(n.webhooks[0].timeout, Duration::from_secs(10));
        assert_eq!(n.webhooks[1].format, Format::Slack);
        assert!(n.webhooks[1].wants("run.failed") && !n.webhooks[1].wants("tenant.ready"));
        assert_eq!(n.webhooks[1].url.url().host_str(), Some("hooks.slack.com"));
        let hours: Vec<u64> = n
            .expiry_warnings
            .iter()
            .map(|d| d.as_secs() / 3600)
            .collect();
        assert_eq!(hours, [168, 24, 2]);
        assert_eq!(n.check_every, Duration::from_secs(60));
    }

    #[test]
    fn the_url_is_hidden_from_debug() {
        let n = load("webhooks: [{ name: chat, url_env: SLACK_URL, format: slack }]\n").unwrap();
        let shown = format!("{n:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("hooks.slack.com"),
            "{shown}"
        );
    }

    #[test]
    fn each_mistake_names_the_field_and_the_fix_without_the_url() {
        let cases = [
            (
                "webhooks: [{ name: ops, url: 'not a url/tok3n' }]",
                "notifications.webhooks[0] (ops): url is not a valid absolute URL",
            ),
            (
                "webhooks: [{ name: ops, url: 'http://example.com/tok3n' }]",
                "use https://",
            ),
            (
                "webhooks: [{ name: ops, url: 'ftp://example.com/tok3n' }]",
                "url scheme 'ftp' is not supported",
            ),
            ("webhooks: [{ name: ops }]", "no url; write url: https://"),
            (
                "webhooks: [{ name: ops, url: 'https://a.example/tok3n', url_env: SLACK_URL }]",
                "set url or url_env, not both",
            ),
            (
                "webhooks: [{ name: ops, url_env: NOPE_TOK3N }]",
                "url_env names NOPE_TOK3N, which is not set",
            ),
            (
                "webhooks: [{ name: ops, url: 'https://a.example/tok3n', format: teams }]",
                "unknown variant `teams`",
            ),
            (
                "webhooks: [{ name: ops, url: 'https://a.example/tok3n', events: [tenant.created] }]",
                "unknown event 'tenant.created'; the events are tenant.ready, run.failed",
            ),
            (
                "webhooks: [{ name: ops, url: 'https://a.example/tok3n', events: [] }]",
                "events is empty",
            ),
            (
                "webhooks: [{ name: 'o p', url: 'https://a.example/tok3n' }]",
                "name 'o p' must be letters",
            ),
            (
                "webhooks: [{ name: ops, url: 'https://a.example/tok3n' }, { name: ops, url: 'https://b.example/tok3n' }]",
                "two webhooks are named 'ops'",
            ),
            (
                "webhooks: [{ name: ops, url: 'https://a.example/tok3n', attempts: 0 }]",
                "attempts 0 is out of range",
            ),
            (
                "webhooks: [{ name: ops, url: 'https://a.example/tok3n', timeout: soon }]",
                "timeout 'soon' is not a duration",
            ),
            (
                "expiry_warnings: [7d, fortnight]",
                "notifications.expiry_warnings[1] 'fortnight' is not a duration",
            ),
            ("expiry_warnings: [1d, 24h]", "'24h' is listed twice"),
            ("expiry_warnings: [0s]", "is zero"),
            ("check_every: 0s", "notifications.check_every '0s' is zero"),
            ("webhook: []", "unknown field `webhook`"),
        ];
        for (yaml, want) in cases {
            let err = load(yaml).expect_err(yaml);
            assert!(err.contains(want), "{err}\n  wanted: {want}");
            if !want.contains("tok3n") {
                assert!(!err.contains("tok3n"), "the URL leaked into: {err}");
            }
        }
    }

    #[test]
    fn plain_http_is_accepted_to_this_machine_only() {
        assert!(load("webhooks: [{ name: t, url: 'http://127.0.0.1:9/x' }]").is_ok());
        assert!(load("webhooks: [{ name: t, url: 'http://localhost:9/x' }]").is_ok());
        assert!(load("webhooks: [{ name: t, url: 'http://[::1]:9/x' }]").is_ok());
        assert!(load("webhooks: [{ name: t, url: 'http://10.0.0.1/x' }]").is_err());
    }
}
