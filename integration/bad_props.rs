//! Generated from the kind registry: for every property of every kind, a
//! stack whose first resource is a valid bucket and whose second sets that
//! property to a literal of the wrong type makes `envctl create` exit 2,
//! naming the file, the line and the property — and nothing is created (no
//! state, no bucket, no queue, read back with raw SDK clients).

#[path = "support/mod.rs"]
mod support;

use std::process::{Command, Stdio};

use envctl::kinds::all_kinds;
use support::{Moto, repo_root};

/// A YAML literal of the wrong type for a field described as `ty`
/// (`envctl explain`'s words): a mapping where a scalar or list is expected,
/// a number where a mapping is.
fn wrong_literal(ty: &str) -> &'static str {
    if ty.starts_with('{') || ty == "object" {
        "7"
    } else {
        "{ wrong: 1 }"
    }
}

#[tokio::test]
async fn every_literal_property_error_of_every_kind_exits_2_before_anything_is_created() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite");
    let mut failures = Vec::new();
    let mut checked = 0;
    for kind in all_kinds() {
        let schema = kind
            .schema()
            .unwrap_or_else(|| panic!("kind {} has no typed schema", kind.name()));
        for field in schema.fields() {
            let stack = dir
                .path()
                .join(format!("{}-{}.yaml", kind.name(), field.name));
            // The bad property is on line 8.
            let text = format!(
                "stack: bad\nresources:\n  - id: files\n    kind: aws.s3.bucket\n  \
                 - id: subject\n    kind: {}\n    properties:\n      {}: {}\n",
                kind.name(),
                field.name,
                wrong_literal(&field.ty)
            );
            std::fs::write(&stack, text).unwrap();
            let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
            c.args(["create", "tenant", "bad-props", "--stack"])
                .arg(&stack)
                .current_dir(repo_root())
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", dir.path())
                .env("ENVCTL_STATE", &state)
                .env("ENVCTL_VALUES_BUCKET", "envctl-values-bad-props")
                .env("ENVCTL_DOMAIN", "envctl-bad-props.net")
                .stdin(Stdio::null());
            for (k, v) in moto.env() {
                c.env(k, v);
            }
            let out = c.output().expect("run envctl");
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            let at_line = format!("{}:8", stack.display());
            let names_field = err.contains(&format!("'{}", field.name));
            checked += 1;
            if out.status.code() != Some(2) || !err.contains(&at_line) || !names_field {
                failures.push(format!(
                    "{}.{} ({}): exit {:?}: {err}",
                    kind.name(),
                    field.name,
                    field.ty,
                    out.status.code()
                ));
            }
        }
    }
    assert!(checked > 50, "only {checked} properties were checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(!state.exists(), "no state was created");
    let config = moto.sdk_config();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty(), "no bucket was created");
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queues = sqs.list_queues().send().await.unwrap();
    assert!(queues.queue_urls().is_empty(), "no queue was created");
}
