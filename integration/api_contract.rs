//! The API keeps its contract, checked with independent tools against a real
//! `envctl serve` on loopback: the served document validates against the
//! OpenAPI 3.1 specification (openapi-spec-validator); every error is
//! `{"error"}` JSON with a status the operation documents, body-parsing
//! failures, unknown routes and wrong methods included; what the server
//! refuses, the schema refuses; and Schemathesis, generating requests from
//! the document, finds no server error and no undocumented response.
//!
//! The server offers one stack, `integration/stacks/contract.yaml` (one
//! `sim.delay` node): the tenants Schemathesis requests are made in
//! moments and create nothing anywhere.

#[path = "support/serve_process.rs"]
mod serve_process;
#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use serve_process::ServeProcess;
use sha2::{Digest, Sha256};
use support::{Moto, repo_root};

const OPERATOR: &str = "contract-operator-token-0123456789abcdef";
const SEED: &str = "contract-seed";

/// `envctl serve` offering the contract stack, on a private moto; its
/// files in a directory that lives as long as it.
struct Served {
    server: ServeProcess,
    base: String,
    dir: tempfile::TempDir,
    _moto: Moto,
}

impl Served {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn dir(&self) -> &Path {
        self.dir.path()
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn stderr(&self) -> String {
        self.server.log()
    }
}

fn serve() -> Served {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.yaml");
    std::fs::write(
        &config,
        format!(
            "max_concurrent_runs: 4\nmax_ttl: 10d\ndefault_stack: contract\nstacks:\n  contract: {}\ntokens:\n  - {{ name: olga, role: operator, sha256: {} }}\n",
            repo_root()
                .join("integration/stacks/contract.yaml")
                .display(),
            hex::encode(Sha256::digest(OPERATOR.as_bytes())),
        ),
    )
    .unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
    c.current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("ENVCTL_STATE", dir.path().join("state.sqlite"))
        .env("ENVCTL_VALUES_BUCKET", "envctl-values-contract")
        .env("RUST_LOG", "info")
        .args(["serve", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::null());
    for (k, v) in moto.env() {
        c.env(k, v);
    }
    let server = ServeProcess::spawn(c);
    Served {
        base: server.base.clone(),
        server,
        dir,
        _moto: moto,
    }
}

async fn document(s: &Served, dir: &Path) -> (Value, PathBuf) {
    let resp = reqwest::get(s.url("/api/openapi.json")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    let path = dir.join("openapi.json");
    std::fs::write(&path, &text).unwrap();
    (serde_json::from_str(&text).unwrap(), path)
}

/// One request; the status, the content type and the body (JSON if it is).
async fn call(
    s: &Served,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, String, Value) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some((content_type, bytes)) = body {
        req = req.header("content-type", content_type).body(bytes);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, v)
}

/// The operations of the document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    ops
}

fn concrete(path: &str) -> String {
    path.replace("{name}", "nosuch").replace("{id}", "nosuch")
}

/// `status` is documented for the operation and the answer is `{"error"}` JSON.
fn assert_documented_error(
    op: &Value,
    at: &str,
    status: StatusCode,
    content_type: &str,
    body: &Value,
) {
    assert!(
        op["responses"][status.as_str()].is_object(),
        "{at}: answered {status}, which the document does not list: {body}"
    );
    assert!(
        content_type.starts_with("application/json"),
        "{at}: {status} answered as {content_type}: {body}"
    );
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{at}: {status} without an `error` sentence: {body}"
    );
}

#[tokio::test]
async fn the_served_document_is_valid_openapi_3_1() {
    let s = serve();
    let (doc, path) = document(&s, s.dir()).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    let out = Command::new(support::apitools::bin().join("openapi-spec-validator"))
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .arg(&path)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "the served OpenAPI document does not validate against OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn every_error_is_json_with_a_status_the_operation_documents() {
    let s = serve();
    let (doc, _) = document(&s, s.dir()).await;
    for (method, path, op) in operations(&doc) {
        let at = format!("{method} {path}");
        let url = concrete(&path);
        if op["security"] != json!([]) {
            let (status, ct, body) = call(&s, &method, &url, None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{at}: {body}");
            assert_documented_error(&op, &at, status, &ct, &body);
        }
        if op["requestBody"].is_object() {
            let too_large = vec![b' '; 3 * 1024 * 1024];
            for (what, content_type, bytes, expected) in [
                ("not JSON", "application/json", b"{\"oops".to_vec(), 400),
                ("a JSON array", "application/json", b"[]".to_vec(), 400),
                ("not sent as JSON", "text/plain", b"{}".to_vec(), 415),
                ("too large", "application/json", too_large, 413),
            ] {
                let (status, ct, body) = call(
                    &s,
                    &method,
                    &url,
                    Some(OPERATOR),
                    Some((content_type, bytes)),
                )
                .await;
                let at = format!("{at} with a body {what}");
                assert_eq!(status.as_u16(), expected, "{at}: {body}");
                assert_documented_error(&op, &at, status, &ct, &body);
            }
        }
    }
    // Routes and methods the server does not have.
    let (status, ct, body) = call(&s, "GET", "/api/nothing-here", Some(OPERATOR), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        ct.starts_with("application/json") && body["error"].is_string(),
        "{ct} {body}"
    );
    let resp = reqwest::Client::new()
        .put(s.url("/api/tenants"))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = resp.headers()["allow"].to_str().unwrap().to_string();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let body: Value = resp.json().await.expect("a JSON 405");
    assert!(body["error"].as_str().unwrap().contains("PUT"), "{body}");
}

/// Bodies the server refuses with 400 are refused by the document's
/// schema too (checked with `jsonschema`, an independent validator).
#[tokio::test]
async fn what_the_server_refuses_the_schema_refuses() {
    let s = serve();
    let (doc, doc_path) = document(&s, s.dir()).await;
    let refused = [
        ("POST", "/api/tenants", json!({"name": ""})),
        ("POST", "/api/tenants", json!({"name": "Initech"})),
        ("POST", "/api/tenants", json!({"name": "-initech"})),
        ("POST", "/api/tenants", json!({"name": "initech_demo"})),
        ("POST", "/api/tenants", json!({"name": "a".repeat(41)})),
        ("POST", "/api/tenants", json!({"name": "ok", "ttl": ""})),
        ("POST", "/api/tenants", json!({"name": "ok", "ttl": "soon"})),
        (
            "POST",
            "/api/tenants",
            json!({"name": "ok", "environment": "Dev"}),
        ),
        ("POST", "/api/tenants", json!({"name": "ok", "unknown": 1})),
        (
            "POST",
            "/api/tenants",
            json!({"name": "ok", "note": "a\u{0}b"}),
        ),
        (
            "POST",
            "/api/tenants",
            json!({"name": "ok", "note": "x".repeat(501)}),
        ),
        ("POST", "/api/tenants/{name}/extend", json!({"by": ""})),
        (
            "POST",
            "/api/tenants/{name}/extend",
            json!({"by": "a while"}),
        ),
        (
            "POST",
            "/api/tenants/{name}/extend",
            json!({"by": "1d", "more": 1}),
        ),
        ("POST", "/api/reap", json!({"dry_run": "yes"})),
    ];
    // The extend cases need a tenant to reach the body's validation.
    seed(&s).await;
    let mut schema_accepts = Vec::new();
    for (method, path, body) in &refused {
        let url = path.replace("{name}", SEED);
        let (status, ct, answer) = call(
            &s,
            method,
            &url,
            Some(OPERATOR),
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
        let at = format!("{method} {path} {body}");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{at}: {answer}");
        assert_documented_error(
            &doc["paths"][path][method.to_lowercase()],
            &at,
            status,
            &ct,
            &answer,
        );
        if schema_valid(&doc, &doc_path, path, method, body) {
            schema_accepts.push(at);
        }
    }
    assert!(
        schema_accepts.is_empty(),
        "the server refuses these bodies but the document's schema accepts them:\n{}",
        schema_accepts.join("\n")
    );
}

/// Whether `body` is valid for the operation's request body schema.
fn schema_valid(doc: &Value, doc_path: &Path, path: &str, method: &str, body: &Value) -> bool {
    let schema = &doc["paths"][path][method.to_lowercase()]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} has no JSON body schema"
    );
    // The schema's `#/components/...` references resolve against a root
    // that carries the document's components.
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
doc = json.load(open(sys.argv[1]))
root = {"components": doc["components"], "allOf": [json.loads(sys.argv[2])]}
print("valid" if Draft202012Validator(root).is_valid(json.loads(sys.argv[3])) else "invalid")
"#;
    let out = Command::new(support::apitools::bin().join("python"))
        .args(["-c", script])
        .arg(doc_path)
        .arg(schema.to_string())
        .arg(body.to_string())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "jsonschema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim() == "valid"
}

/// Creates tenant `SEED` and waits until it is ready; returns its run id.
async fn seed(s: &Served) -> String {
    let (status, _, accepted) = call(
        s,
        "POST",
        "/api/tenants",
        Some(OPERATOR),
        Some((
            "application/json",
            json!({"name": SEED, "note": "seeded by the contract test"})
                .to_string()
                .into_bytes(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, _, t) = call(
            s,
            "GET",
            &format!("/api/tenants/{SEED}"),
            Some(OPERATOR),
            None,
        )
        .await;
        if t["status"] == "ready" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the seed tenant never got ready: {t}\n{}",
            s.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    accepted["run"]["id"].as_str().unwrap().to_string()
}

/// Schemathesis's checks, and how many cases per operation. The run is
/// deterministic (a fixed seed) unless ENVCTL_CONTRACT_SEED says otherwise.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection,unsupported_method";
const MAX_EXAMPLES: &str = "25";

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_undocumented_response() {
    let s = serve();
    let (_, doc_path) = document(&s, s.dir()).await;
    let run_id = seed(&s).await;
    // Path parameters name the seeded tenant and its run, so that the
    // operations answer with their success bodies (checked against their
    // schemas), not only 404.
    let config = s.file("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.name\" = \"{SEED}\"\n\"path.id\" = \"{run_id}\"\n\n[generation]\nmode = \"all\"\n"
        ),
    )
    .unwrap();
    let seed = std::env::var("ENVCTL_CONTRACT_SEED").unwrap_or_else(|_| "20261201".into());
    let started = Instant::now();
    let out = Command::new(support::apitools::bin().join("st"))
        .current_dir(s.dir())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(&doc_path)
        .args(["--url", &s.base])
        .args(["--checks", CHECKS])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", &seed])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--workers", "2", "--request-timeout", "20"])
        .args(["--header", &format!("Authorization: Bearer {OPERATOR}")])
        .args(["--report", "junit"])
        .arg("--report-junit-path")
        .arg(s.file("junit.xml"))
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "schemathesis ({} s, seed {seed}):\n{stdout}",
        started.elapsed().as_secs()
    );
    assert!(
        out.status.success(),
        "Schemathesis found responses the document does not promise:\n{stdout}{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.stderr()
    );
    assert!(
        !s.stderr().contains("panicked"),
        "the server panicked:\n{}",
        s.stderr()
    );
}
