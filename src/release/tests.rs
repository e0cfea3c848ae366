//! Snapshots and diffs of small stacks with a catalog of their own. The
//! diffs are compared with golden files in `src/release/testdata/`;
//! `ENVCTL_BLESS=1 cargo test --lib release` rewrites them.

use std::path::{Path, PathBuf};

use super::restore;
use super::*;
use crate::stack::{Catalog as Kinds, load_str_with};

const CATALOG: &str = r#"
defaults:
  port: 8080
  replicas: 1
  resources:
    requests: { cpu: 100m, memory: 128Mi, ephemeral_storage: 128Mi }
    limits: { cpu: 500m, memory: 256Mi, ephemeral_storage: 1Gi }
  health:
    path: /healthcheck
    startup: { check: http, period_seconds: 5, timeout_seconds: 2, failure_threshold: 60 }
    readiness: { check: http, period_seconds: 5, timeout_seconds: 2, failure_threshold: 3 }
    liveness: { check: tcp, period_seconds: 10, timeout_seconds: 5, failure_threshold: 6 }
  security: { run_as_user: 10001, read_only_root_filesystem: true, service_account_token: false }
  env: [LOG_LEVEL]
  secrets: []
services:
  - name: billing
    image: registry.example.com/saas/billing
    tag: "4.2.0"
    env: [DATABASE_HOST]
    secrets: [DATABASE_PASSWORD]
  - name: search
    image: registry.example.com/saas/search
    tag: "1.0.3"
    replicas: 2
"#;

const STACK: &str = r#"
stack: golden
environment: dev
resources:
  - id: net
    kind: aws.ec2.network
    properties: { cidr: 10.20.0.0/16 }
  - id: db-password
    kind: secret.password
    publish: [{ output: value, key: DATABASE_PASSWORD, level: tenant, secret: true }]
  - id: db
    kind: aws.rds.instance
    properties:
      engine: postgres
      instance_class: db.t3.micro
      password: ${db-password.value}
      subnet_ids: ${net.subnet_ids}
    publish: [{ output: host, key: DATABASE_HOST, level: tenant }]
  - id: uploads
    kind: aws.s3.bucket
    properties: { versioning: true }
  - id: signing-key
    kind: env.value
    properties: { value: hunter2-known-secret-0451 }
    publish: [{ output: value, key: SIGNING_KEY, level: tenant, secret: true }]
  - id: ns
    kind: k8s.namespace
  - id: app
    kind: k8s.catalog
    properties: { catalog: CATALOG_DIR, namespace: "${ns.name}", domain: acme.example.test }
"#;

/// A catalog directory: `catalog` as its catalog.yaml, the shipped
/// templates beside it.
fn catalog_dir(catalog: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("catalog.yaml"), catalog).unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/templates");
    for f in std::fs::read_dir(shipped).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), templates.join(f.file_name())).unwrap();
    }
    dir
}

/// The snapshot of `stack` with `catalog`, loaded as `create` loads it.
fn snapshot(stack: &str, catalog: &str) -> Snapshot {
    let dir = catalog_dir(catalog);
    let text = stack.replace("CATALOG_DIR", &dir.path().display().to_string());
    let stack = load_str_with(&dir.path().join("stack.yaml"), &text, &Kinds::registry())
        .unwrap_or_else(|e| panic!("{e}"));
    Snapshot::of(&stack, "dev").unwrap()
}

fn golden(name: &str, actual: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "src/release/testdata", name]
        .iter()
        .collect();
    if std::env::var_os("ENVCTL_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `ENVCTL_BLESS=1 cargo test --lib release` to write it",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs; if the new output is right, run `ENVCTL_BLESS=1 cargo test --lib release`",
        path.display()
    );
}

fn diff_text(old: &Snapshot, new: &Snapshot) -> String {
    diff(old, new).render_text() + "\n"
}

#[test]
fn a_snapshot_never_holds_a_secret_value() {
    let literal = STACK.replace("${db-password.value}", "hunter2-known-db-password-77");
    let snap = snapshot(&literal, CATALOG);
    let json = snap.to_json();
    for secret in ["hunter2-known-secret-0451", "hunter2-known-db-password-77"] {
        assert!(!json.contains(secret), "{secret} in {json}");
    }
    assert_eq!(
        snap.nodes["signing-key"].properties["value"], SECRET_MARKER,
        "{json}"
    );
    assert_eq!(snap.nodes["db"].properties["password"], SECRET_MARKER);
    // A reference is a name, not a value: kept.
    let snap = snapshot(STACK, CATALOG);
    assert_eq!(
        snap.nodes["db"].properties["password"],
        "${db-password.value}"
    );
    // Services name their secret KEYs, nothing more.
    let billing = snap.nodes["app-billing"].service.as_ref().unwrap();
    assert_eq!(billing.secrets, ["DATABASE_PASSWORD"]);
    // The catalog's source, to re-apply from.
    let (_, source) = snap.catalogs.iter().next().expect("one catalog");
    assert_eq!(snap.catalogs.len(), 1);
    assert!(source.catalog.contains("name: billing"));
    assert_eq!(
        source.templates.len(),
        crate::blueprint::TEMPLATE_FILES.len()
    );
    assert_eq!(Snapshot::from_json(&snap.to_json()).unwrap(), snap);
}

#[test]
fn the_same_stack_and_catalog_make_no_changes() {
    let d = diff(&snapshot(STACK, CATALOG), &snapshot(STACK, CATALOG));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(d.unchanged, 8);
    assert_eq!(
        d.render_text(),
        "Plan: 0 to add, 0 to change, 0 to replace, 0 to destroy; 8 unchanged."
    );
}

#[test]
fn a_changed_image_tag_updates_the_service_in_place() {
    let old = snapshot(STACK, CATALOG);
    let new = snapshot(STACK, &CATALOG.replace("\"4.2.0\"", "\"4.3.0\""));
    let d = diff(&old, &new);
    assert_eq!(d.to_change, 1);
    assert_eq!(d.changes[0].action, Action::Update);
    golden("diff_tag.txt", &diff_text(&old, &new));
}

#[test]
fn a_changed_aws_property_updates_in_place() {
    let old = snapshot(STACK, CATALOG);
    let new = snapshot(
        &STACK.replace("db.t3.micro", "db.t3.small"),
        &CATALOG.replace("replicas: 2", "replicas: 3"),
    );
    let d = diff(&old, &new);
    assert_eq!((d.to_change, d.to_replace), (2, 0), "{d:?}");
    golden("diff_property.txt", &diff_text(&old, &new));
}

#[test]
fn an_added_service_is_created_with_its_keys() {
    let old = snapshot(STACK, CATALOG);
    let added = format!(
        "{CATALOG}  - name: webhooks\n    image: registry.example.com/saas/webhooks\n    tag: \"0.9.0\"\n    secrets: [SIGNING_KEY]\n"
    );
    let new = snapshot(STACK, &added);
    let d = diff(&old, &new);
    assert_eq!(d.to_add, 1);
    golden("diff_added_service.txt", &diff_text(&old, &new));
}

#[test]
fn a_removed_service_and_a_removed_bucket_are_destroyed_in_words() {
    let old = snapshot(STACK, CATALOG);
    let without_search = CATALOG.split("  - name: search").next().unwrap();
    let without_bucket = STACK.replace(
        "  - id: uploads\n    kind: aws.s3.bucket\n    properties: { versioning: true }\n",
        "",
    );
    let new = snapshot(&without_bucket, without_search);
    let d = diff(&old, &new);
    assert_eq!(d.to_destroy, 2, "{d:?}");
    let text = diff_text(&old, &new);
    assert!(
        text.contains("deletes aws.s3.bucket uploads; the bucket's objects would be lost"),
        "{text}"
    );
    golden("diff_removed_service.txt", &text);
}

#[test]
fn a_changed_engine_replaces_the_database_and_says_the_data_is_lost() {
    let old = snapshot(STACK, CATALOG);
    let new = snapshot(&STACK.replace("engine: postgres", "engine: mysql"), CATALOG);
    let d = diff(&old, &new);
    assert_eq!(d.to_replace, 1, "{d:?}");
    let db = &d.changes[0];
    assert_eq!((db.id.as_str(), db.action), ("db", Action::Replace));
    assert_eq!(
        db.warning.as_deref(),
        Some("replaces aws.rds.instance db: engine changes; the database's data would be lost")
    );
    golden("diff_replace_database.txt", &diff_text(&old, &new));
}

#[test]
fn a_key_that_becomes_secret_shows_its_name_and_never_a_value() {
    let old = snapshot(STACK, CATALOG);
    let new = snapshot(
        &STACK
            .replace("hunter2-known-secret-0451", "hunter2-known-secret-0452")
            .replace(
                "key: DATABASE_HOST, level: tenant }",
                "key: DATABASE_HOST, level: tenant, secret: true }",
            ),
        CATALOG,
    );
    let text = diff_text(&old, &new);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains(
            "publish KEY DATABASE_HOST (tenant level): output host -> output host (secret)"
        ),
        "{text}"
    );
}

/// The settings a restored stack takes (budget and the like).
fn settings() -> crate::stack::Stack {
    let dir = catalog_dir(CATALOG);
    let text = STACK.replace("CATALOG_DIR", &dir.path().display().to_string());
    load_str_with(&dir.path().join("stack.yaml"), &text, &Kinds::registry()).unwrap()
}

#[test]
fn a_restored_revision_applies_the_same_nodes_and_services_again() {
    let without_literal = STACK.replace(
        "properties: { value: hunter2-known-secret-0451 }",
        "properties: { value: \"${db-password.value}\" }",
    );
    let old = snapshot(&without_literal, CATALOG);
    let scratch = tempfile::tempdir().unwrap();
    let stack = restore::stack_of(&old, &settings(), scratch.path()).unwrap();
    // The services render from the recorded catalog, written anew.
    let again = Snapshot::of(&stack, "dev").unwrap();
    let d = diff(&old, &again);
    assert!(d.is_empty(), "{}", d.render_text());
    assert_eq!(d.unchanged, old.nodes.len());
    let written = std::fs::read_to_string(scratch.path().join("catalog-0/catalog.yaml")).unwrap();
    assert!(written.contains("tag: \"4.2.0\""));
}

#[test]
fn a_revision_that_held_a_secret_literal_cannot_be_restored() {
    let old = snapshot(STACK, CATALOG);
    let scratch = tempfile::tempdir().unwrap();
    let e = restore::stack_of(&old, &settings(), scratch.path()).unwrap_err();
    assert!(
        e.contains("node 'signing-key' (env.value) had a secret literal in property 'value'"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn a_restored_revision_keeps_its_created_edges() {
    let stack = STACK
        .replace(
            "properties: { value: hunter2-known-secret-0451 }",
            "properties: { value: \"${db-password.value}\" }",
        )
        .replace(
            "    publish: [{ output: host, key: DATABASE_HOST, level: tenant }]",
            "    publish: [{ output: host, key: DATABASE_HOST, level: tenant }]\n    \
             wait_for: { net: created }",
        );
    let old = snapshot(&stack, CATALOG);
    assert_eq!(old.nodes["db"].created_edges, ["net"]);
    let scratch = tempfile::tempdir().unwrap();
    let restored = restore::stack_of(&old, &settings(), scratch.path()).unwrap();
    let db = restored.resource("db").unwrap();
    assert_eq!(db.wait_for.len(), 1);
    assert_eq!(db.wait_for[0].resource, "net");
    assert_eq!(db.wait_for[0].until, crate::graph::Until::Created);
    assert!(restored.resource("uploads").unwrap().wait_for.is_empty());
}

#[test]
fn a_rollout_refuses_replacing_the_database_unless_it_is_allowed() {
    use super::rollout::safety::refusal;
    let old = snapshot(STACK, CATALOG);
    let new = snapshot(&STACK.replace("engine: postgres", "engine: mysql"), CATALOG);
    let why = refusal(&diff(&old, &new), &[]).expect("refused");
    assert!(why.contains("replace db (aws.rds.instance)"), "{why}");
    assert!(why.contains("the database's data would be lost"), "{why}");
    assert!(why.contains("--allow-replace db"), "{why}");
    assert_eq!(refusal(&diff(&old, &new), &["db".to_string()]), None);
    // A new tag only: nothing to refuse.
    let retagged = snapshot(STACK, &CATALOG.replace("4.2.0", "4.3.0"));
    assert_eq!(refusal(&diff(&old, &retagged), &[]), None);
}
