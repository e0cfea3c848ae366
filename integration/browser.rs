//! The web page end to end in a real headless Chromium: `envctl serve` on
//! loopback against a private moto, driven by `integration/browser/e2e.mjs`
//! (playwright-core): log in, request a tenant, watch it become ready, see
//! its status badge, its PUBLIC_URL link and its cost in the list, extend
//! it, destroy it. Screenshots are kept in `target/browser-screenshots/` for a
//! person to look at. Afterwards the API must agree: the tenant is destroyed
//! and the audit log names the token's holder for create, extend and destroy.

#[path = "support/mod.rs"]
mod support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{Moto, free_port, repo_root};

const HOLDER: &str = "pat";
const TENANT: &str = "browser-e2e";
const STACK: &str = "aws-basic";
/// What the stack publishes as PUBLIC_URL (the page links it) next to an
/// API_URL that is not a web URL (the page must not link it).
const PUBLIC_URL: &str = "https://app.browser-e2e.envctl-demo.net";
const SCREENSHOTS: [&str; 3] = [
    "1-ready-run-view.png",
    "2-extended-list.png",
    "3-destroyed-run-view.png",
];

/// `envctl serve` as a child process; killed on drop.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(moto: &Moto, dir: &Path, token_sha256: &str, log: PathBuf) -> Server {
        // aws-basic plus the two URL values a full tenant publishes.
        let stack = dir.join("aws-basic-links.yaml");
        let basic =
            std::fs::read_to_string(repo_root().join("integration/stacks/aws-basic.yaml")).unwrap();
        std::fs::write(
            &stack,
            format!(
                "{basic}\n  - id: public-url\n    kind: env.value\n    properties: {{ value: \"{PUBLIC_URL}\" }}\n    publish:\n      - {{ output: value, key: PUBLIC_URL, level: tenant }}\n  - id: api-url\n    kind: env.value\n    properties: {{ value: \"javascript:alert(1)\" }}\n    publish:\n      - {{ output: value, key: API_URL, level: tenant }}\n"
            ),
        )
        .unwrap();
        let config = dir.join("serve.yaml");
        std::fs::write(
            &config,
            format!(
                "max_ttl: 30d\ndefault_stack: {STACK}\nstacks:\n  {STACK}: {}\ntokens:\n  - {{ name: {HOLDER}, role: requester, sha256: {token_sha256} }}\n",
                stack.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let log_file = File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_envctl"));
        command
            .args(["serve", "--config"])
            .arg(&config)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("ENVCTL_STATE", dir.join("state.sqlite"))
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-browser")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file);
        for (key, value) in moto.env() {
            command.env(key, value);
        }
        let child = command.spawn().expect("start envctl serve");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls GET /healthz until it answers 200 (or the server exits).
    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = reqwest::Client::new();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("envctl serve exited ({status}):\n{}", self.log_text());
            }
            let answer = client
                .get(format!("{}/healthz", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "GET /healthz did not answer 200 within 60s:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: {e}: {text}"))
    }
}

fn run_setup() {
    let script = repo_root().join("integration/browser/setup.sh");
    let status = Command::new(&script)
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(
        status.success(),
        "{} failed ({status}): Chromium or playwright-core is missing",
        script.display()
    );
}

fn assert_png(path: &Path) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("screenshot {}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
        "{} is not a PNG with a picture in it ({} bytes)",
        path.display(),
        bytes.len()
    );
}

#[tokio::test]
async fn a_person_requests_extends_and_destroys_a_tenant_in_the_browser() {
    run_setup();
    let screenshots = repo_root().join("target/browser-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).unwrap();

    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let token = hex::encode(rand::random::<[u8; 24]>());
    let token_sha256 = hex::encode(Sha256::digest(token.as_bytes()));
    let mut server = Server::start(
        &moto,
        dir.path(),
        &token_sha256,
        screenshots.join("serve.log"),
    );
    server.wait_healthy().await;

    let browser = repo_root().join("integration/browser");
    let output = Command::new("node")
        .arg("e2e.mjs")
        .current_dir(&browser)
        .env("BASE_URL", &server.base)
        .env("TOKEN", &token)
        .env("TENANT", TENANT)
        .env("STACK", STACK)
        .env("PUBLIC_URL", PUBLIC_URL)
        .env("SCREENSHOT_DIR", &screenshots)
        .stdin(Stdio::null())
        .output()
        .expect("run node integration/browser/e2e.mjs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("-- e2e.mjs stdout\n{stdout}-- e2e.mjs stderr\n{stderr}");
    assert!(
        output.status.success(),
        "the browser test failed ({}):\n{stderr}\n-- envctl serve log ({})\n{}",
        output.status,
        server.log.display(),
        server.log_text()
    );
    for name in SCREENSHOTS {
        assert_png(&screenshots.join(name));
    }

    let tenant = server.get(&token, &format!("/api/tenants/{TENANT}")).await;
    assert_eq!(tenant["status"], "destroyed", "{tenant}");
    assert_eq!(tenant["owner"], HOLDER, "{tenant}");

    let audit = server.get(&token, "/api/audit?limit=200").await;
    let entries = audit["entries"].as_array().expect("audit entries");
    for action in ["create", "extend", "destroy"] {
        assert!(
            entries
                .iter()
                .any(|e| e["action"] == action && e["actor"] == HOLDER && e["target"] == TENANT),
            "no audit entry '{action}' of {TENANT} by {HOLDER}: {audit:#}"
        );
    }
    eprintln!("screenshots in {}", screenshots.display());
}
