//! Render errors: a missing value names the service, every missing KEY and
//! the fix; unknown services and bad tenant names are refused.

use super::{catalog, full_context};
use crate::blueprint::{RenderContext, RenderError, SecretMode, Value, render, render_all};

#[test]
fn a_missing_value_names_the_service_the_key_and_the_fix() {
    let mut cx = full_context();
    cx.values.remove("DATABASE_HOST");
    cx.values.remove("DATABASE_PASSWORD");
    let e = render(catalog(), "billing", &cx, SecretMode::Mask).unwrap_err();
    match &e {
        RenderError::MissingValues { service, keys } => {
            assert_eq!(service, "billing");
            assert_eq!(
                keys,
                &[
                    ("DATABASE_HOST".to_string(), false),
                    ("DATABASE_PASSWORD".to_string(), true)
                ]
            );
        }
        other => panic!("{other}"),
    }
    let m = e.to_string();
    assert!(
        m.contains("service 'billing' consumes KEYs DATABASE_HOST, DATABASE_PASSWORD (secret)"),
        "{m}"
    );
    assert!(
        m.contains("publish them from the tenant stack") && m.contains("`envctl env set`"),
        "{m}"
    );

    let cx = RenderContext::new("acme", "acme", "acme.example.test");
    let m = render(catalog(), "i18n", &cx, SecretMode::Mask)
        .unwrap_err()
        .to_string();
    assert!(m.contains("service 'i18n' consumes KEY LOG_LEVEL, but the tenant has no value for it; fix: publish it"), "{m}");
}

#[test]
fn a_service_level_value_is_not_seen_by_other_services() {
    // QUEUE_URL published for orders only: audit (which also reads it) fails.
    let mut cx = full_context();
    cx.service_values
        .get_mut("audit")
        .unwrap()
        .remove("QUEUE_URL");
    assert!(render(catalog(), "orders", &cx, SecretMode::Mask).is_ok());
    let m = render(catalog(), "audit", &cx, SecretMode::Mask)
        .unwrap_err()
        .to_string();
    assert!(m.contains("service 'audit' consumes KEY QUEUE_URL"), "{m}");
}

#[test]
fn render_all_reports_every_service_that_cannot_render() {
    let mut cx = full_context();
    cx.values.remove("PUBLIC_URL");
    let e = render_all(catalog(), &cx, SecretMode::Mask).unwrap_err();
    let RenderError::Many(errors) = &e else {
        panic!("{e}")
    };
    let want = catalog()
        .services()
        .filter(|s| s.consumes().any(|(k, _)| k == "PUBLIC_URL"))
        .count();
    assert_eq!(errors.len(), want);
    assert!(
        e.to_string()
            .contains("service 'web' consumes KEY PUBLIC_URL"),
        "{e}"
    );
}

#[test]
fn unknown_service_and_bad_context() {
    let m = render(catalog(), "nope", &full_context(), SecretMode::Mask)
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("service 'nope' is not in the catalog; fix:"),
        "{m}"
    );
    let mut cx = full_context();
    cx.tenant = "Acme Corp".into();
    let m = render(catalog(), "i18n", &cx, SecretMode::Mask)
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("tenant 'Acme Corp' is invalid") && m.contains("fix:"),
        "{m}"
    );
    let cx = full_context().with_value("LOG_LEVEL", Value::plain("info"));
    assert!(render(catalog(), "i18n", &cx, SecretMode::Mask).is_ok());
}
