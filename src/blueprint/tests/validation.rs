//! Catalog and template validation: each problem `Catalog::load` finds, with
//! its message naming the file, the line, the service and the fix; and the
//! facts the real catalog must keep.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{blueprints_dir, catalog};
use crate::blueprint::{BlueprintError, Catalog, Check, ObjectKind, Security};

const DEFAULTS: &str = "defaults:
  port: 8080
  replicas: 1
  resources:
    requests: { cpu: 100m, memory: 128Mi, ephemeral_storage: 128Mi }
    limits: { cpu: 500m, memory: 256Mi, ephemeral_storage: 1Gi }
  health:
    path: /healthcheck
    startup: { check: http, period_seconds: 5, timeout_seconds: 2, failure_threshold: 60 }
    readiness: { check: http, initial_delay_seconds: 5, period_seconds: 5, timeout_seconds: 2, failure_threshold: 3 }
    liveness: { check: tcp, initial_delay_seconds: 5, period_seconds: 10, timeout_seconds: 5, failure_threshold: 6 }
  security: { run_as_user: 10001, read_only_root_filesystem: true, service_account_token: false }
  env: [LOG_LEVEL]
services:
";

/// A blueprints dir with the real templates and `services` after DEFAULTS.
fn dir_with(services: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.yaml"),
        format!("{DEFAULTS}{services}"),
    )
    .unwrap();
    let t = dir.path().join("templates");
    std::fs::create_dir(&t).unwrap();
    for kind in ObjectKind::ALL {
        std::fs::copy(
            blueprints_dir().join("templates").join(kind.file()),
            t.join(kind.file()),
        )
        .unwrap();
    }
    dir
}

fn load(dir: &Path) -> Result<Catalog, BlueprintError> {
    Catalog::load(dir)
}

/// The single error of loading `services`, as text.
fn error(services: &str) -> String {
    let dir = dir_with(services);
    let e = load(dir.path()).expect_err("the catalog should be refused");
    assert_eq!(e.all().len(), 1, "expected one error, got: {e}");
    let msg = e.to_string();
    assert!(
        msg.contains("catalog.yaml") && msg.contains("fix:"),
        "{msg}"
    );
    msg
}

const OK: &str = "  - name: a
    image: registry.example.com/saas/a
    tag: \"1.0.0\"
";

#[test]
fn a_minimal_catalog_loads() {
    let dir = dir_with(OK);
    let c = load(dir.path()).unwrap();
    let a = c.service("a").unwrap();
    assert_eq!(a.consumes().collect::<Vec<_>>(), [("LOG_LEVEL", false)]);
    assert_eq!(a.line(), Some(15));
}

#[test]
fn unknown_field() {
    let m = error(
        "  - name: a\n    image: registry.example.com/saas/a\n    tag: \"1\"\n    imgae: x\n",
    );
    assert!(
        m.contains("catalog.yaml:18")
            && m.contains("service 'a'")
            && m.contains("unknown field `imgae`"),
        "{m}"
    );
    assert!(m.contains("remove or correct the field"), "{m}");
}

#[test]
fn unquoted_numeric_tag_is_kept_as_written() {
    let dir = dir_with("  - name: a\n    image: registry.example.com/saas/a\n    tag: 1.10\n");
    assert_eq!(
        load(dir.path()).unwrap().service("a").unwrap().tag(),
        "1.10"
    );
}

#[test]
fn wrong_type() {
    let m = error(
        "  - name: a\n    image: registry.example.com/saas/a\n    tag: \"1\"\n    port: http\n",
    );
    assert!(
        m.contains("catalog.yaml:18") && m.contains("service 'a'") && m.contains("invalid type"),
        "{m}"
    );
    assert!(m.contains("value of the expected type"), "{m}");
}

#[test]
fn duplicate_service() {
    let m = error(&format!("{OK}{OK}"));
    assert!(
        m.contains("catalog.yaml:18: service 'a': the service is defined twice (first at line 15)"),
        "{m}"
    );
    assert!(m.contains("remove or rename one"), "{m}");
}

#[test]
fn depends_on_a_missing_service() {
    let m = error(&format!("{OK}    depends_on: [nope]\n"));
    assert!(
        m.contains("service 'a'")
            && m.contains("depends_on names 'nope', which is not in the catalog"),
        "{m}"
    );
    assert!(
        m.contains("add a service 'nope' or remove it from depends_on"),
        "{m}"
    );
}

#[test]
fn depends_on_cycle_lists_its_members() {
    let svc = |n: &str, dep: &str| {
        format!(
            "  - name: {n}\n    image: r.example.com/{n}\n    tag: \"1\"\n    depends_on: [{dep}]\n"
        )
    };
    let m = error(&format!(
        "{}{}{}{OK}",
        svc("x", "y"),
        svc("y", "z"),
        svc("z", "x")
    ));
    assert!(
        m.contains("service 'x'") && m.contains("depends_on forms a cycle: x -> y -> z -> x"),
        "{m}"
    );
    assert!(m.contains("remove one of these dependencies"), "{m}");
    let m = error(&svc("self", "self"));
    assert!(m.contains("cycle: self -> self"), "{m}");
}

#[test]
fn malformed_key() {
    let m = error(&format!("{OK}    env: [database_host]\n"));
    assert!(
        m.contains("service 'a': KEY 'database_host' in env is malformed"),
        "{m}"
    );
    assert!(m.contains("upper-case letters, digits and '_'"), "{m}");
    let m = error(&format!("{OK}    secrets: [DB-PASSWORD]\n"));
    assert!(
        m.contains("KEY 'DB-PASSWORD' in secrets is malformed"),
        "{m}"
    );
}

#[test]
fn key_listed_twice() {
    let m = error(&format!(
        "{OK}    env: [DATABASE_HOST]\n    secrets: [DATABASE_HOST]\n"
    ));
    assert!(
        m.contains("KEY DATABASE_HOST is in env and in secrets") && m.contains("not in both"),
        "{m}"
    );
    let m = error(&format!("{OK}    env: [LOG_LEVEL]\n"));
    assert!(
        m.contains("defaults.env") && m.contains("remove LOG_LEVEL from env"),
        "{m}"
    );
}

#[test]
fn bad_resource_quantities() {
    let m = error(&format!(
        "{OK}    resources: {{ limits: {{ memory: 512m }} }}\n"
    ));
    assert!(
        m.contains("service 'a': resources.limits.memory '512m' is not a valid quantity"),
        "{m}"
    );
    assert!(m.contains("milli") && m.contains("write 512Mi"), "{m}");
    let m = error(&format!(
        "{OK}    resources: {{ requests: {{ cpu: 1cpu }} }}\n"
    ));
    assert!(
        m.contains("resources.requests.cpu '1cpu'") && m.contains("millicores (250m)"),
        "{m}"
    );
    let m = error(&format!(
        "{OK}    resources: {{ requests: {{ memory: 1Gi }} }}\n"
    ));
    assert!(
        m.contains("requests.memory 1Gi is more than resources.limits.memory 256Mi"),
        "{m}"
    );
}

#[test]
fn probes_that_would_kill_rolling_deploys() {
    let m = error(&format!(
        "{OK}    health: {{ liveness: {{ failure_threshold: 1 }} }}\n"
    ));
    assert!(
        m.contains("liveness.failure_threshold 1") && m.contains("3 or more"),
        "{m}"
    );
    let m = error(&format!(
        "{OK}    health: {{ liveness: {{ initial_delay_seconds: 2 }} }}\n"
    ));
    assert!(
        m.contains("shorter than readiness") && m.contains("at least readiness's initial delay"),
        "{m}"
    );
    let m = error(&format!("{OK}    health: {{ path: healthcheck }}\n"));
    assert!(m.contains("health.path 'healthcheck'"), "{m}");
}

#[test]
fn a_liveness_that_checks_what_readiness_checks_is_refused() {
    // check: http without a path of its own GETs health.path, as readiness does.
    let m = error(&format!(
        "{OK}    health: {{ liveness: {{ check: http }} }}\n"
    ));
    assert!(
        m.contains("service 'a'")
            && m.contains("health.liveness checks the same as health.readiness (GET /healthcheck)")
            && m.contains("`check: tcp`"),
        "{m}"
    );
    let m = error(&format!(
        "{OK}    health: {{ path: /ready, liveness: {{ check: http, path: /ready }} }}\n"
    ));
    assert!(m.contains("(GET /ready)"), "{m}");
    // Its own path is another check.
    let dir = dir_with(&format!(
        "{OK}    health: {{ liveness: {{ check: http, path: /livez }} }}\n"
    ));
    let c = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let h = c.service("a").unwrap().health();
    assert_eq!(h.liveness.check, Check::Http("/livez".into()));
    assert_eq!(h.readiness.check, Check::Http("/healthcheck".into()));
    assert_eq!(h.startup.check, Check::Http("/healthcheck".into()));
}

#[test]
fn a_liveness_less_tolerant_than_readiness_is_refused() {
    let m = error(&format!(
        "{OK}    health: {{ liveness: {{ period_seconds: 5, failure_threshold: 3 }} }}\n"
    ));
    assert!(
        m.contains("gives up after 15s")
            && m.contains("readiness's 15s")
            && m.contains("more tolerant"),
        "{m}"
    );
}

#[test]
fn a_tcp_probe_with_a_path_is_refused() {
    let m = error(&format!(
        "{OK}    health: {{ liveness: {{ path: /livez }} }}\n"
    ));
    assert!(
        m.contains("health.liveness has path '/livez' but checks tcp") && m.contains("check: http"),
        "{m}"
    );
}

#[test]
fn security_and_ephemeral_storage_fall_back_field_by_field() {
    let dir = dir_with(&format!(
        "{OK}    security: {{ read_only_root_filesystem: false }}\n    resources: {{ limits: {{ ephemeral_storage: 2Gi }} }}\n"
    ));
    let c = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let a = c.service("a").unwrap();
    assert_eq!(
        a.security(),
        &Security {
            run_as_user: 10001,
            read_only_root_filesystem: false,
            service_account_token: false,
        }
    );
    assert_eq!(a.resources().requests.ephemeral_storage, "128Mi");
    assert_eq!(a.resources().limits.ephemeral_storage, "2Gi");
}

#[test]
fn root_and_bad_ephemeral_storage_are_refused() {
    let m = error(&format!("{OK}    security: {{ run_as_user: 0 }}\n"));
    assert!(
        m.contains("security.run_as_user 0 is root") && m.contains("restricted"),
        "{m}"
    );
    let m = error(&format!(
        "{OK}    resources: {{ requests: {{ ephemeral_storage: 2Gi }} }}\n"
    ));
    assert!(
        m.contains(
            "requests.ephemeral_storage 2Gi is more than resources.limits.ephemeral_storage 1Gi"
        ),
        "{m}"
    );
    let m = error(&format!(
        "{OK}    resources: {{ limits: {{ ephemeral_storage: 1GB }} }}\n"
    ));
    assert!(
        m.contains("resources.limits.ephemeral_storage '1GB'") && m.contains("1Gi"),
        "{m}"
    );
}

#[test]
fn hpa_and_replicas_conflict() {
    let m = error(&format!(
        "{OK}    replicas: 3\n    hpa: {{ min: 1, max: 4, cpu_percent: 75 }}\n"
    ));
    assert!(
        m.contains("replicas is set together with hpa") && m.contains("remove replicas"),
        "{m}"
    );
    let m = error(&format!(
        "{OK}    hpa: {{ min: 4, max: 2, cpu_percent: 75 }}\n"
    ));
    assert!(m.contains("min 4 / max 2"), "{m}");
}

#[test]
fn images_names_and_tags() {
    let m = error("  - name: a\n    image: registry.example.com/saas/a:1.0\n    tag: \"1.0\"\n");
    assert!(
        m.contains("includes a tag") && m.contains("version in `tag`"),
        "{m}"
    );
    let m = error("  - name: a\n    image: registry.example.com/saas/a\n    tag: latest\n");
    assert!(
        m.contains("'latest' is not a version") && m.contains("pin the version"),
        "{m}"
    );
    let m = error("  - name: Billing_2\n    image: r.example.com/b\n    tag: \"1\"\n");
    assert!(
        m.contains("service 'Billing_2'") && m.contains("a-z, 0-9 and '-'"),
        "{m}"
    );
    let m = error("  - name: common\n    image: r.example.com/b\n    tag: \"1\"\n");
    assert!(m.contains("shared level"), "{m}");
}

#[test]
fn ingress_rules_must_be_unique_and_hosts_single_labels() {
    let svc = |n: &str, host: &str| {
        format!(
            "  - name: {n}\n    image: r.example.com/{n}\n    tag: \"1\"\n    ingress: {{ host: {host}, path: / }}\n"
        )
    };
    let m = error(&format!("{}{}", svc("a", "app"), svc("b", "app")));
    assert!(
        m.contains("service 'b'") && m.contains("ingress app/ is already routed to service 'a'"),
        "{m}"
    );
    let m = error(&svc("a", "app.acme.example.test"));
    assert!(m.contains("not a single DNS label"), "{m}");
}

#[test]
fn several_problems_are_reported_together() {
    let dir = dir_with(&format!(
        "{OK}    env: [bad]\n    depends_on: [nope]\n    resources: {{ limits: {{ cpu: lots }} }}\n"
    ));
    let e = load(dir.path()).unwrap_err();
    assert_eq!(e.all().len(), 3, "{e}");
    assert!(
        e.to_string().starts_with("3 problems in the blueprints:"),
        "{e}"
    );
}

#[test]
fn missing_template() {
    let dir = dir_with(OK);
    std::fs::remove_file(dir.path().join("templates/hpa.yaml.mustache")).unwrap();
    let e = load(dir.path()).unwrap_err();
    assert!(matches!(e, BlueprintError::MissingTemplate { .. }), "{e}");
    let m = e.to_string();
    assert!(
        m.contains("templates/hpa.yaml.mustache: the template is missing; fix: create it"),
        "{m}"
    );
}

#[test]
fn template_error_names_the_file_and_the_line() {
    let dir = dir_with(OK);
    let path = dir.path().join("templates/deployment.yaml.mustache");
    let src = std::fs::read_to_string(&path).unwrap();
    // Drop the line that closes the config section.
    let broken: String = src
        .lines()
        .filter(|l| l.trim() != "{{/config}}")
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, &broken).unwrap();
    let opened = src.lines().position(|l| l.trim() == "{{#config}}").unwrap() + 1;
    let m = load(dir.path()).unwrap_err().to_string();
    assert!(m.contains("templates/deployment.yaml.mustache:"), "{m}");
    assert!(
        m.contains(&format!("`{{{{#config}}}}` opened at line {opened}"))
            || m.contains(&format!(":{opened}: `{{{{#config}}}}`")),
        "{m}"
    );
    assert!(m.contains("fix:"), "{m}");
}

#[test]
fn missing_catalog_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = load(dir.path()).unwrap_err().to_string();
    assert!(
        m.contains("catalog.yaml: cannot read it") && m.contains("fix:"),
        "{m}"
    );
}

// ---------------------------------------------------------------------------
// The real catalog.

fn needs_database_or_queue(svc: &crate::blueprint::Service) -> bool {
    svc.consumes()
        .any(|(k, _)| k.starts_with("DATABASE_") || k == "QUEUE_URL" || k == "DLQ_URL")
}

#[test]
fn the_real_catalog_has_about_fifty_services_many_free_of_the_database() {
    let c = catalog();
    assert!((48..=56).contains(&c.len()), "{}", c.len());
    let free: Vec<&str> = c
        .services()
        .filter(|s| !needs_database_or_queue(s))
        .map(|s| s.name())
        .collect();
    assert!(free.len() >= 15, "{free:?}");
    // ... and most of those can start at once: no dependency on a service
    // that waits for the database.
    let waits = |s: &crate::blueprint::Service| {
        let mut stack: Vec<&str> = s.depends_on().iter().map(String::as_str).collect();
        let mut seen = BTreeSet::new();
        while let Some(d) = stack.pop() {
            if seen.insert(d) {
                let d = c.service(d).unwrap();
                if needs_database_or_queue(d) {
                    return true;
                }
                stack.extend(d.depends_on().iter().map(String::as_str));
            }
        }
        false
    };
    let immediate = c
        .services()
        .filter(|s| !needs_database_or_queue(s) && !waits(s))
        .count();
    assert!(immediate >= 15, "{immediate}");
    // depends_on stays sparse.
    let edges: usize = c.services().map(|s| s.depends_on().len()).sum();
    assert!(edges <= c.len() / 2, "{edges} dependencies");
    let gateway = c.service("gateway").unwrap();
    assert_eq!(gateway.depends_on(), ["auth", "users"]);
}

/// A KEY the tenant stack publishes only at service level must be consumed
/// only by those services: anyone else would never see a value.
#[test]
fn service_level_keys_reach_their_consumers() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks/tenant.yaml");
    let stack: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut tenant_wide = BTreeSet::new();
    let mut per_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in stack["resources"].as_array().unwrap() {
        for p in r["publish"].as_array().into_iter().flatten() {
            let key = p["key"].as_str().unwrap().to_string();
            match p["level"].as_str() {
                Some("service") => {
                    per_service
                        .entry(key)
                        .or_default()
                        .insert(p["service"].as_str().unwrap().to_string());
                }
                _ => {
                    tenant_wide.insert(key);
                }
            }
        }
    }
    assert!(!per_service.is_empty());
    for svc in catalog().services() {
        for (key, secret) in svc.consumes() {
            if let Some(owners) = per_service.get(key)
                && !tenant_wide.contains(key)
            {
                assert!(
                    owners.contains(svc.name()),
                    "{} consumes {key}{}, which stacks/tenant.yaml publishes only for {owners:?}",
                    svc.name(),
                    if secret { " (secret)" } else { "" }
                );
            }
        }
    }
    for (key, owners) in &per_service {
        for owner in owners {
            let svc = catalog().service(owner).unwrap_or_else(|| {
                panic!(
                    "stacks/tenant.yaml publishes {key} for '{owner}', which is not in the catalog"
                )
            });
            assert!(
                svc.consumes().any(|(k, _)| k == key),
                "{owner} does not consume {key}, which the stack publishes for it"
            );
        }
    }
}
