//! The bodies sent to webhooks. The generic JSON body is versioned
//! (`"version": 1`; fields are only ever added within a version):
//!
//! ```json
//! {"version": 1, "event": "tenant.ready", "key": "ready:<run id>",
//!  "tenant": "acme", "at": "2026-01-01T00:00:00Z",
//!  "summary": "Tenant acme is ready (...).", "detail": {"run_id": "..."}}
//! ```
//!
//! The Slack body is an incoming-webhook message, `{"text": "..."}`, with
//! `&`, `<` and `>` escaped as Slack's message formatting requires
//! (https://api.slack.com/reference/surfaces/formatting#escaping: "there are
//! three characters you must convert to HTML entities and only three").

use serde_json::{Value, json};

use super::config::Format;
use super::event::Event;

/// The JSON body's version; bumped only when a field changes meaning.
pub const BODY_VERSION: u32 = 1;

/// The body for `format`, for an event that happened at `at` (RFC 3339).
pub fn body(format: Format, event: &Event, at: &str) -> Value {
    match format {
        Format::Json => json!({
            "version": BODY_VERSION,
            "event": event.name(),
            "key": event.key(),
            "tenant": event.tenant(),
            "at": at,
            "summary": event.summary(),
            "detail": event.detail(),
        }),
        Format::Slack => json!({ "text": slack_escape(&format!("[envctl] {}", event.summary())) }),
    }
}

/// Escapes Slack's three control characters, and only those.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed() -> Event {
        Event::RunFailed {
            tenant: "acme".into(),
            run_id: "r1".into(),
            operation: "create".into(),
            error: "bucket <b> & queue".into(),
        }
    }

    #[test]
    fn the_json_body_has_the_documented_fields() {
        let b = body(Format::Json, &failed(), "2026-01-01T00:00:00Z");
        assert_eq!(b["version"], 1);
        assert_eq!(b["event"], "run.failed");
        assert_eq!(b["key"], "run-failed:r1");
        assert_eq!(b["tenant"], "acme");
        assert_eq!(b["at"], "2026-01-01T00:00:00Z");
        assert_eq!(b["detail"]["operation"], "create");
        assert_eq!(b["detail"]["error"], "bucket <b> & queue");
    }

    #[test]
    fn the_slack_body_is_text_only_and_escaped() {
        let b = body(Format::Slack, &failed(), "2026-01-01T00:00:00Z");
        let obj = b.as_object().unwrap();
        assert_eq!(obj.len(), 1, "{b}");
        assert_eq!(
            obj["text"],
            "[envctl] The create of tenant acme failed (run r1): bucket &lt;b&gt; &amp; queue"
        );
    }
}
