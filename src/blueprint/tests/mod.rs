//! Tests of the blueprints against the real catalog and templates: golden
//! files, Kubernetes schema round-trips, secret hygiene, the mustache spec
//! and validation errors. Shared fixtures live here.

mod golden;
mod render_errors;
mod schema;
mod secrets;
mod spec;
mod validation;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{Catalog, RenderContext, Value};

pub(super) fn blueprints_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints")
}

/// The real catalog, loaded once.
pub(super) fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::load(&blueprints_dir()).unwrap_or_else(|e| panic!("{e}")))
}

/// A fixed, fake secret value for `key`: unique, and full of characters
/// that YAML treats specially.
pub(super) fn fake_secret(key: &str) -> String {
    format!("fake-{}: #\"q'\nend", key.to_ascii_lowercase())
}

/// A tenant context with fixed fake values for every KEY the catalog
/// consumes, published at the levels the tenant stack uses.
pub(super) fn full_context() -> RenderContext {
    let mut cx = RenderContext::new("acme", "acme", "acme.example.test");
    let plain = [
        ("LOG_LEVEL", "info"),
        ("PUBLIC_URL", "https://app.acme.example.test"),
        ("API_URL", "https://api.acme.example.test"),
        ("DATABASE_HOST", "acme-db.fake.eu-west-1.rds.amazonaws.com"),
        ("DATABASE_PORT", "5432"),
        ("DATABASE_NAME", "saas"),
        ("DATABASE_USER", "saas_app"),
        ("UPLOADS_BUCKET", "envctl-acme-uploads"),
        (
            "EVENTS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:000000000000:envctl-acme-domain-events",
        ),
        (
            "ORDER_EVENTS_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:000000000000:envctl-acme-order-events",
        ),
    ];
    for (k, v) in plain {
        cx = cx.with_value(k, Value::plain(v));
    }
    for k in [
        "SESSION_SECRET",
        "DATABASE_PASSWORD",
        "PAYMENTS_API_KEY",
        "EMAIL_API_KEY",
        "SMS_API_KEY",
        "SLACK_SIGNING_SECRET",
    ] {
        cx = cx.with_value(k, Value::secret(fake_secret(k)));
    }
    for svc in ["orders", "notifications", "audit", "thumbnails", "exports"] {
        let url =
            format!("https://sqs.eu-west-1.amazonaws.com/000000000000/envctl-acme-{svc}-queue");
        cx = cx.with_service_value(svc, "QUEUE_URL", Value::plain(url));
    }
    cx.with_service_value(
        "orders",
        "DLQ_URL",
        Value::plain(
            "https://sqs.eu-west-1.amazonaws.com/000000000000/envctl-acme-orders-queue-dlq",
        ),
    )
    .with_service_value(
        "exports",
        "EXPORTS_BUCKET",
        Value::plain("envctl-acme-exports"),
    )
    .with_service_value(
        "backups",
        "BACKUPS_BUCKET",
        Value::plain("envctl-acme-backups"),
    )
    .with_service_value(
        "uploads",
        "UPLOAD_EVENTS_TOPIC_ARN",
        Value::plain("arn:aws:sns:eu-west-1:000000000000:envctl-acme-upload-events"),
    )
    .with_service_value(
        "webhooks",
        "WEBHOOK_SIGNING_KEY",
        Value::secret(fake_secret("WEBHOOK_SIGNING_KEY")),
    )
}
