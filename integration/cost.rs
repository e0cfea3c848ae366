//! Cost and links end to end, on a private moto: a tenant created by the CLI
//! has its estimate and accrued cost in `envctl get tenants -o json`, a
//! per-resource breakdown in `envctl describe tenant`, and the same cost,
//! its public URL (and not a `javascript:` one) and its owner's totals in
//! the API of `envctl serve`. A bad price table stops both with exit 2,
//! naming the entry and the fix.

#[path = "support/serve_process.rs"]
mod serve_process;
#[path = "support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use serve_process::ServeProcess;
use sha2::{Digest, Sha256};
use support::{Moto, repo_root};

const TENANT: &str = "cost-demo";
const TOKEN: &str = "cost-viewer-token-0123456789abcdef";
const PUBLIC_URL: &str = "https://app.cost-demo.envctl-cost.net";

/// A stack whose only priced resource is a hosted zone ($0.50 a month in
/// the shipped table), with a public URL and an API "URL" that is not one.
const STACK: &str = "stack: cost-test
environment: dev
budget: 5m
resources:
  - id: zone
    kind: aws.route53.zone
    properties: { domain: cost-demo.envctl-cost.net, delegated: true }
  - id: files
    kind: aws.s3.bucket
  - id: public-url
    kind: env.value
    properties: { value: \"https://app.${zone.name}\" }
    publish:
      - { output: value, key: PUBLIC_URL, level: tenant }
  - id: api-url
    kind: env.value
    properties: { value: \"javascript:alert(1)\" }
    publish:
      - { output: value, key: API_URL, level: tenant }
";

struct World {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(w.stack_path(), STACK).unwrap();
        w
    }

    fn stack_path(&self) -> PathBuf {
        self.dir.path().join("cost-test.yaml")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("USER", "cora")
            .env("ENVCTL_STATE", self.dir.path().join("state.sqlite"))
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-cost")
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run envctl")
    }

    fn config(&self, extra: &str) -> PathBuf {
        let path = self.dir.path().join("serve.yaml");
        std::fs::write(
            &path,
            format!(
                "stacks:\n  cost-test: {}\ntokens:\n  - {{ name: vic, role: viewer, sha256: {} }}\n{extra}",
                self.stack_path().display(),
                hex::encode(Sha256::digest(TOKEN.as_bytes()))
            ),
        )
        .unwrap();
        path
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n-- stdout\n{}\n-- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// The zone's $0.50 a month, and nothing else of the stack costs at idle.
fn assert_zone_cost(cost: &Value, what: &str) {
    assert_eq!(cost["currency"], "USD", "{what}: {cost}");
    assert_eq!(cost["monthly"], 0.5, "{what}: {cost}");
    assert_eq!(cost["running_monthly"], 0.5, "{what}: {cost}");
    assert_eq!(cost["hibernated_monthly"], 0.5, "{what}: {cost}");
    assert_eq!(cost["prices_as_of"], "2026-12-01", "{what}: {cost}");
    let accrued = cost["accrued"].as_f64().expect("accrued");
    assert!(
        (0.0..0.01).contains(&accrued),
        "{what}: minutes of a $0.50/month zone: {cost}"
    );
}

fn urls_are_only_the_public_one(urls: &Value, what: &str) {
    assert_eq!(
        urls,
        &serde_json::json!([{ "name": "PUBLIC_URL", "url": PUBLIC_URL }]),
        "{what}"
    );
}

async fn get(base: &str, path: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_created_tenant_has_a_cost_and_its_url_in_the_cli_and_the_api() {
    let w = World::new();
    let stack = w.stack_path();
    let create = w.run(&[
        "create",
        "tenant",
        TENANT,
        "--stack",
        stack.to_str().unwrap(),
    ]);
    assert!(create.status.success(), "{}", text(&create));

    let list = json(&w.run(&["get", "tenants", "-o", "json"]));
    let t = &list[0];
    assert_eq!(t["name"], TENANT, "{list}");
    assert_zone_cost(&t["cost"], "get tenants");
    urls_are_only_the_public_one(&t["urls"], "get tenants");

    let table = w.run(&["get", "tenants"]);
    let out = String::from_utf8_lossy(&table.stdout);
    assert!(
        out.contains("cost/month") && out.contains("accrued"),
        "{out}"
    );
    assert!(out.contains("$0.50"), "{out}");

    let d = json(&w.run(&["describe", "tenant", TENANT, "-o", "json"]));
    let lines = d["cost_breakdown"].as_array().expect("cost_breakdown");
    assert_eq!(lines.len(), 4, "{d}");
    let zone = lines.iter().find(|l| l["id"] == "zone").expect("zone line");
    assert_eq!(zone["basis"], "hosted zone", "{zone}");
    assert!(
        (zone["running_hourly"].as_f64().unwrap() * 730.0 - 0.5).abs() < 1e-9,
        "{zone}"
    );

    // The server, on the same state, says the same.
    let mut serve = w.command();
    serve.args(["serve", "--config"]).arg(w.config(""));
    let s = ServeProcess::spawn(serve);
    let list = get(&s.base, "/api/tenants").await;
    let t = &list["tenants"][0];
    assert_zone_cost(&t["cost"], "GET /api/tenants");
    urls_are_only_the_public_one(&t["urls"], "GET /api/tenants");
    let detail = get(&s.base, &format!("/api/tenants/{TENANT}")).await;
    assert_zone_cost(&detail["cost"], "GET /api/tenants/NAME");
    urls_are_only_the_public_one(&detail["urls"], "GET /api/tenants/NAME");
    assert_eq!(detail["cost_breakdown"].as_array().unwrap().len(), 4);
    let costs = get(&s.base, "/api/costs").await;
    assert_eq!(costs["owners"][0]["owner"], "cora", "{costs}");
    assert_eq!(costs["owners"][0]["tenants"], 1, "{costs}");
    assert_eq!(costs["owners"][0]["monthly"], 0.5, "{costs}");

    // The CLI's totals per owner are the API's.
    let cli = json(&w.run(&["get", "costs", "-o", "json"]));
    assert_eq!(cli, costs["owners"], "get costs vs GET /api/costs");
    let table = w.run(&["get", "costs"]);
    let out = String::from_utf8_lossy(&table.stdout);
    assert!(out.contains("cora") && out.contains("$0.50"), "{out}");
}

fn bad_table(dir: &Path) -> PathBuf {
    let path = dir.join("bad-prices.yaml");
    let shipped = std::fs::read_to_string(repo_root().join("prices/aws-us-east-1.yaml")).unwrap();
    std::fs::write(
        &path,
        shipped.replacen("hosted_zone_month: 0.50", "hosted_zone_month: -1", 1),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn a_bad_price_table_is_bad_input_for_the_cli_and_the_server() {
    let w = World::new();
    let bad = bad_table(w.dir.path());
    let o = w.run(&["--prices", bad.to_str().unwrap(), "get", "tenants"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err.contains("route53.hosted_zone_month: -1 is not a price")
            && err.contains("non-negative amount in USD"),
        "{err}"
    );
    let config = w.config(&format!("prices: {}\n", bad.display()));
    let o = w
        .command()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err.contains("prices: price table") && err.contains("route53.hosted_zone_month"),
        "{err}"
    );
}
