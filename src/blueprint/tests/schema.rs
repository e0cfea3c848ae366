//! Every rendered object of every catalog service, parsed into its
//! k8s-openapi type and serialised back: the two must be equal, so a field
//! the API does not know (k8s-openapi ignores unknown fields when parsing)
//! or of the wrong type fails. Then the cross-object wiring is checked on
//! the typed objects.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service as KService};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{catalog, full_context};
use crate::blueprint::{Manifest, SecretMode, Service, labels, render_all};

/// The paths at which two JSON documents differ.
fn diff(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => diff(v, w, &format!("{path}.{k}"), out),
                    (Some(_), None) => out.push(format!(
                        "{path}.{k}: rendered, but not in the schema (unknown field?)"
                    )),
                    (None, Some(_)) => out.push(format!("{path}.{k}: added by the schema")),
                    (None, None) => {}
                }
            }
        }
        (serde_json::Value::Array(x), serde_json::Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: rendered {a}, schema gives {b}")),
        _ => {}
    }
}

fn typed<T: DeserializeOwned + Serialize>(m: &Manifest) -> T {
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&m.yaml).unwrap_or_else(|e| panic!("{} {}: {e}", m.kind, m.name));
    let t: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{} {} does not match the schema: {e}", m.kind, m.name));
    let back = serde_json::to_value(&t).unwrap();
    let mut d = Vec::new();
    diff(&doc, &back, "", &mut d);
    assert!(
        d.is_empty(),
        "{} {} does not round-trip through k8s-openapi:\n{}",
        m.kind,
        m.name,
        d.join("\n")
    );
    t
}

fn check_meta(meta: &ObjectMeta, svc: &Service, what: &str) {
    assert_eq!(meta.namespace.as_deref(), Some("acme"), "{what}");
    let have = meta.labels.clone().unwrap_or_default();
    for (k, v) in labels(svc.name(), "acme") {
        assert_eq!(have.get(k), Some(&v), "{what}: label {k}");
    }
}

#[test]
fn every_object_round_trips_through_the_kubernetes_types() {
    let all = render_all(catalog(), &full_context(), SecretMode::Reveal)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), catalog().len());
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for svc in catalog().services() {
        let name = svc.name();
        let ms = &all[name];
        let mut deployment = None;
        for m in ms {
            *kinds.entry(m.kind.clone()).or_default() += 1;
            let what = format!("{name}: {} {}", m.kind, m.name);
            match m.kind.as_str() {
                "ConfigMap" => {
                    let o: ConfigMap = typed(m);
                    check_meta(&o.metadata, svc, &what);
                    let keys: Vec<&str> = o
                        .data
                        .as_ref()
                        .map(|d| d.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let mut want: Vec<&str> = svc.env().iter().map(String::as_str).collect();
                    want.sort();
                    assert_eq!(keys, want, "{what}");
                }
                "Secret" => {
                    let o: Secret = typed(m);
                    check_meta(&o.metadata, svc, &what);
                    assert_eq!(o.type_.as_deref(), Some("Opaque"));
                    assert!(o.string_data.is_none());
                    let data = o.data.unwrap_or_default();
                    let mut want: Vec<&str> = svc.secrets().iter().map(String::as_str).collect();
                    want.sort();
                    assert_eq!(
                        data.keys().map(String::as_str).collect::<Vec<_>>(),
                        want,
                        "{what}"
                    );
                }
                "Service" => {
                    let o: KService = typed(m);
                    check_meta(&o.metadata, svc, &what);
                    let spec = o.spec.unwrap();
                    assert_eq!(spec.selector.unwrap()["app.kubernetes.io/name"], name);
                    let port = &spec.ports.unwrap()[0];
                    assert_eq!(port.target_port, Some(IntOrString::String("http".into())));
                }
                "Deployment" => {
                    let o: Deployment = typed(m);
                    check_meta(&o.metadata, svc, &what);
                    deployment = Some(o);
                }
                "PodDisruptionBudget" => {
                    let o: PodDisruptionBudget = typed(m);
                    check_meta(&o.metadata, svc, &what);
                    let spec = o.spec.unwrap();
                    assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
                    assert_eq!(
                        spec.selector.unwrap().match_labels.unwrap()["app.kubernetes.io/name"],
                        name
                    );
                }
                "HorizontalPodAutoscaler" => {
                    let o: HorizontalPodAutoscaler = typed(m);
                    check_meta(&o.metadata, svc, &what);
                    let spec = o.spec.unwrap();
                    let h = svc.hpa().unwrap();
                    assert_eq!(
                        (spec.min_replicas, spec.max_replicas),
                        (Some(h.min as i32), h.max as i32)
                    );
                    assert_eq!(
                        (
                            spec.scale_target_ref.kind.as_str(),
                            spec.scale_target_ref.name.as_str()
                        ),
                        ("Deployment", name)
                    );
                    let metric = &spec.metrics.unwrap()[0];
                    let target = &metric.resource.as_ref().unwrap().target;
                    assert_eq!(target.average_utilization, Some(h.cpu_percent as i32));
                }
                "Ingress" => {
                    let o: Ingress = typed(m);
                    check_meta(&o.metadata, svc, &what);
                    let rule = &o.spec.unwrap().rules.unwrap()[0];
                    let ing = svc.ingress().unwrap();
                    assert_eq!(
                        rule.host.as_deref(),
                        Some(format!("{}.acme.example.test", ing.host).as_str())
                    );
                    let path = &rule.http.as_ref().unwrap().paths[0];
                    let backend = path.backend.service.as_ref().unwrap();
                    assert_eq!(backend.name, name);
                    assert_eq!(backend.port.as_ref().unwrap().name.as_deref(), Some("http"));
                }
                other => panic!("{name}: unexpected kind {other}"),
            }
        }
        check_deployment(
            svc,
            &deployment.unwrap_or_else(|| panic!("{name}: no Deployment")),
        );
    }
    // Every kind occurs, so every template went through the schema.
    assert_eq!(kinds.len(), 7, "{kinds:?}");
}

fn check_deployment(svc: &Service, d: &Deployment) {
    let name = svc.name();
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(
        spec.replicas.is_none(),
        svc.hpa().is_some(),
        "{name}: replicas is set exactly when there is no HPA"
    );
    let strategy = spec.strategy.as_ref().unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    assert_eq!(
        strategy.rolling_update.as_ref().unwrap().max_unavailable,
        Some(IntOrString::Int(0)),
        "{name}"
    );
    let pod_meta = spec.template.metadata.as_ref().unwrap();
    check_meta(
        &ObjectMeta {
            namespace: Some("acme".into()),
            ..pod_meta.clone()
        },
        svc,
        &format!("{name}: pod template"),
    );
    assert!(
        pod_meta.annotations.as_ref().unwrap()["envctl/config-checksum"].starts_with("sha256:")
    );
    assert_eq!(
        spec.selector.match_labels.as_ref().unwrap()["app.kubernetes.io/name"],
        name
    );
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.enable_service_links, Some(false));
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some(svc.image_ref().as_str()));
    assert_eq!(
        c.ports.as_ref().unwrap()[0].container_port,
        i32::from(svc.port())
    );
    let res = c.resources.as_ref().unwrap();
    assert_eq!(
        res.requests.as_ref().unwrap()["cpu"].0,
        svc.resources().requests.cpu
    );
    assert_eq!(
        res.limits.as_ref().unwrap()["memory"].0,
        svc.resources().limits.memory
    );

    assert_eq!(
        res.requests.as_ref().unwrap()["ephemeral-storage"].0,
        svc.resources().requests.ephemeral_storage
    );
    assert_eq!(
        res.limits.as_ref().unwrap()["ephemeral-storage"].0,
        svc.resources().limits.ephemeral_storage
    );

    let (startup, ready, live) = (
        c.startup_probe.as_ref().unwrap(),
        c.readiness_probe.as_ref().unwrap(),
        c.liveness_probe.as_ref().unwrap(),
    );
    let checks = |p: &k8s_openapi::api::core::v1::Probe| {
        (
            p.http_get.as_ref().map(|h| h.path.clone()),
            p.tcp_socket.as_ref().map(|t| t.port.clone()),
        )
    };
    assert_ne!(
        checks(ready),
        checks(live),
        "{name}: liveness checks something other than readiness"
    );
    assert!(
        live.initial_delay_seconds >= ready.initial_delay_seconds,
        "{name}"
    );
    assert!(live.failure_threshold.unwrap() >= 3, "{name}");
    let tolerance = |p: &k8s_openapi::api::core::v1::Probe| {
        p.period_seconds.unwrap() * p.failure_threshold.unwrap()
    };
    assert!(
        tolerance(live) > tolerance(ready),
        "{name}: liveness is the more tolerant"
    );
    assert!(
        tolerance(startup) >= 60,
        "{name}: the startup probe gives a start at least a minute"
    );
    assert_eq!(
        ready.http_get.as_ref().unwrap().path.as_deref(),
        Some(svc.health().path.as_str())
    );

    // Pod Security Standards "restricted", field by field.
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true), "{name}");
    assert_eq!(
        psc.run_as_user,
        Some(i64::from(svc.security().run_as_user)),
        "{name}"
    );
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault",
        "{name}"
    );
    assert_eq!(
        pod.automount_service_account_token,
        Some(svc.security().service_account_token),
        "{name}"
    );
    let csc = c.security_context.as_ref().unwrap();
    assert_eq!(csc.allow_privilege_escalation, Some(false), "{name}");
    assert_eq!(
        csc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..]),
        "{name}"
    );
    let read_only = svc.security().read_only_root_filesystem;
    assert_eq!(csc.read_only_root_filesystem, Some(read_only), "{name}");
    let tmp_mounted = c
        .volume_mounts
        .iter()
        .flatten()
        .any(|m| m.name == "tmp" && m.mount_path == "/tmp");
    let tmp_is_empty_dir = pod
        .volumes
        .iter()
        .flatten()
        .any(|v| v.name == "tmp" && v.empty_dir.is_some());
    assert_eq!(
        (tmp_mounted, tmp_is_empty_dir),
        (read_only, read_only),
        "{name}: /tmp is an emptyDir exactly when the root is read-only"
    );

    let env = c.env.clone().unwrap_or_default();
    let got: Vec<(&str, bool)> = env
        .iter()
        .map(|e| {
            assert!(
                e.value.is_none(),
                "{name}: env {} has an inline value",
                e.name
            );
            let from = e.value_from.as_ref().unwrap();
            match (&from.config_map_key_ref, &from.secret_key_ref) {
                (Some(r), None) => {
                    assert_eq!(
                        (r.name.as_str(), r.key.as_str()),
                        (format!("{name}-config").as_str(), e.name.as_str())
                    );
                    (e.name.as_str(), false)
                }
                (None, Some(r)) => {
                    assert_eq!(
                        (r.name.as_str(), r.key.as_str()),
                        (format!("{name}-secrets").as_str(), e.name.as_str())
                    );
                    (e.name.as_str(), true)
                }
                _ => panic!(
                    "{name}: env {} is neither a ConfigMap nor a Secret reference",
                    e.name
                ),
            }
        })
        .collect();
    assert_eq!(
        got,
        svc.consumes().collect::<Vec<_>>(),
        "{name}: env is exactly what the service consumes"
    );
}

#[test]
fn example_values_render_every_service_with_secrets_kept_secret() {
    use crate::blueprint::RenderContext;
    let cx = RenderContext::new("acme", "acme", "acme.example.test").with_example_values(catalog());
    let all = render_all(catalog(), &cx, SecretMode::Mask).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), catalog().len());
    let gateway = catalog().service("gateway").unwrap();
    assert!(cx.lookup("gateway", "SESSION_SECRET").unwrap().is_secret());
    assert!(!cx.lookup("gateway", "LOG_LEVEL").unwrap().is_secret());
    assert_eq!(gateway.consumes().count(), 4);
}
