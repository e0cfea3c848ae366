//! Secret hygiene: secret values appear only in the service's Secret (and
//! only in Reveal mode), never in a Deployment or any other object; values
//! with YAML-special characters survive exactly; a value change rolls pods.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use super::{catalog, fake_secret, full_context};
use crate::blueprint::{Manifest, RenderError, SecretMode, Value, render, render_all};
use crate::secret::MASK;

/// Forms in which a secret could leak into YAML: as is, YAML-quoted,
/// base64, and any distinctive fragment.
fn leaks(secret: &str) -> Vec<String> {
    vec![
        secret.to_string(),
        crate::blueprint::context::yaml_quote(secret),
        aws_smithy_types::base64::encode(secret.as_bytes()),
        secret.split(':').next().unwrap().to_string(),
    ]
}

fn all_secrets() -> Vec<String> {
    let cx = full_context();
    cx.values
        .values()
        .chain(cx.service_values.values().flat_map(|m| m.values()))
        .filter_map(|v| match v {
            Value::Secret(s) => Some(s.expose().to_string()),
            Value::Plain(_) => None,
        })
        .collect()
}

#[test]
fn no_object_but_the_secret_holds_a_secret_value() {
    let secrets = all_secrets();
    assert!(secrets.len() >= 7);
    for mode in [SecretMode::Reveal, SecretMode::Mask] {
        let all = render_all(catalog(), &full_context(), mode).unwrap();
        for (svc, ms) in &all {
            for m in ms {
                if m.kind == "Secret" && mode == SecretMode::Reveal {
                    continue;
                }
                for s in &secrets {
                    for form in leaks(s) {
                        assert!(
                            !m.yaml.contains(&form),
                            "{svc}: {} {} ({mode:?}) contains a secret value",
                            m.kind,
                            m.name
                        );
                    }
                }
            }
        }
    }
}

fn find<'a>(ms: &'a [Manifest], kind: &str) -> &'a Manifest {
    ms.iter()
        .find(|m| m.kind == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn reveal_holds_the_values_and_mask_only_the_mask() {
    let cx = full_context();
    let reveal = render(catalog(), "webhooks", &cx, SecretMode::Reveal).unwrap();
    let mask = render(catalog(), "webhooks", &cx, SecretMode::Mask).unwrap();
    let revealed: Secret = serde_yaml_ng::from_str(&find(&reveal, "Secret").yaml).unwrap();
    let data = revealed.data.unwrap();
    assert_eq!(
        data["WEBHOOK_SIGNING_KEY"].0,
        fake_secret("WEBHOOK_SIGNING_KEY").into_bytes()
    );
    assert_eq!(
        data["DATABASE_PASSWORD"].0,
        fake_secret("DATABASE_PASSWORD").into_bytes()
    );
    let masked: Secret = serde_yaml_ng::from_str(&find(&mask, "Secret").yaml).unwrap();
    for (k, v) in masked.data.unwrap() {
        assert_eq!(v.0, MASK.as_bytes(), "{k}");
    }
    // Only the Secret differs: the masked render shows the Deployment (and
    // its checksum) exactly as it would be applied.
    for (r, m) in reveal.iter().zip(&mask) {
        if r.kind != "Secret" {
            assert_eq!(r, m);
        }
    }
}

#[test]
fn debug_of_a_secret_manifest_hides_it() {
    let ms = render(catalog(), "webhooks", &full_context(), SecretMode::Reveal).unwrap();
    let shown = format!("{ms:?}");
    for s in all_secrets() {
        for form in leaks(&s) {
            assert!(!shown.contains(&form));
        }
    }
    assert!(shown.contains("not shown"));
}

#[test]
fn yaml_special_values_survive_exactly() {
    let tricky = "a: b # not a comment \" double ' single\nsecond line\\ {x} [y] &z *w !v %u @t `s` | > -- ...";
    let cx = full_context()
        .with_value("PUBLIC_URL", Value::plain(tricky))
        .with_value("SESSION_SECRET", Value::secret(tricky));
    let ms = render(catalog(), "gateway", &cx, SecretMode::Reveal).unwrap();
    let cm: ConfigMap = serde_yaml_ng::from_str(&find(&ms, "ConfigMap").yaml).unwrap();
    assert_eq!(cm.data.unwrap()["PUBLIC_URL"], tricky);
    let secret: Secret = serde_yaml_ng::from_str(&find(&ms, "Secret").yaml).unwrap();
    assert_eq!(secret.data.unwrap()["SESSION_SECRET"].0, tricky.as_bytes());
}

#[test]
fn a_value_change_changes_the_checksum_of_that_service_only() {
    let checksum = |cx: &crate::blueprint::RenderContext, svc: &str| {
        let ms = render(catalog(), svc, cx, SecretMode::Mask).unwrap();
        let d = &find(&ms, "Deployment").yaml;
        d.lines()
            .find(|l| l.contains("envctl/config-checksum"))
            .unwrap()
            .to_string()
    };
    let base = full_context();
    let secret_changed = full_context().with_value("SESSION_SECRET", Value::secret("rotated"));
    let plain_changed =
        full_context().with_value("API_URL", Value::plain("https://api2.acme.example.test"));
    assert_ne!(
        checksum(&base, "gateway"),
        checksum(&secret_changed, "gateway")
    );
    assert_ne!(
        checksum(&base, "gateway"),
        checksum(&plain_changed, "gateway")
    );
    // i18n consumes neither.
    assert_eq!(checksum(&base, "i18n"), checksum(&secret_changed, "i18n"));
    assert_eq!(checksum(&base, "i18n"), checksum(&plain_changed, "i18n"));
}

#[test]
fn a_secret_is_never_put_in_a_configmap() {
    let cx = full_context().with_value("LOG_LEVEL", Value::secret("debug"));
    let e = render(catalog(), "i18n", &cx, SecretMode::Reveal).unwrap_err();
    assert!(
        matches!(&e, RenderError::SecretConsumedAsPlain { service, key } if service == "i18n" && key == "LOG_LEVEL"),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("move LOG_LEVEL from `env` to `secrets`") && !msg.contains("debug"),
        "{msg}"
    );
    // The other way is safe: a plain value a service reads as a secret goes
    // to its Secret.
    let cx = full_context().with_value("SESSION_SECRET", Value::plain("not-so-secret"));
    let ms = render(catalog(), "gateway", &cx, SecretMode::Reveal).unwrap();
    assert!(!find(&ms, "ConfigMap").yaml.contains("not-so-secret"));
}
