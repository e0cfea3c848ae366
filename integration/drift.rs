//! Drift end to end, against moto and the shared local cluster: a tenant of
//! a small stack (an SQS queue, a namespace, one catalog service) shows no
//! drift right after its create; a Deployment edited by another field
//! manager, a tag changed and one added on the queue by an independent
//! client (boto3), and a deleted Service are each reported by
//! `envctl diff tenant NAME --live`, naming the object and field, the tag
//! key, or the deleted object (exit 3). Then `envctl serve` with
//! `drift_check` records the drift: `GET /api/tenants/{name}/drift`, the
//! tenant's detail and the `envctl_tenants_drifted` gauge of `/metrics`.

#[path = "support/serve_process.rs"]
mod serve_process;
#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use serve_process::ServeProcess;
use sha2::{Digest, Sha256};
use support::cluster::{kube_client as client, kubeconfig};
use support::{Moto, repo_root};

const TOKEN: &str = "olga-drift-token-0123456789abcdef";
/// Unique to this test on the shared cluster.
const TENANT: &str = "drift-live-e2e";
const SERVICE: &str = "api";
/// The node `k8s.catalog` entry `svc` expands into for it.
const SERVICE_NODE: &str = "svc-api";

struct World {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl World {
    /// moto, and in a temporary directory a one-service catalog (the
    /// shipped templates) and the stack using it.
    fn new() -> World {
        let w = World {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
        };
        let catalog = w.dir.path().join("catalog");
        std::fs::create_dir_all(catalog.join("templates")).unwrap();
        for entry in std::fs::read_dir(repo_root().join("blueprints/templates")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(
                entry.path(),
                catalog.join("templates").join(entry.file_name()),
            )
            .unwrap();
        }
        let shipped = std::fs::read_to_string(repo_root().join("blueprints/catalog.yaml")).unwrap();
        let defaults =
            &shipped[shipped.find("\ndefaults:").unwrap()..shipped.find("\nservices:").unwrap()];
        std::fs::write(
            catalog.join("catalog.yaml"),
            format!(
                "{defaults}\nservices:\n  - name: {SERVICE}\n    image: registry.example.com/saas/{SERVICE}\n    tag: \"1.0.0\"\n    replicas: 1\n"
            ),
        )
        .unwrap();
        std::fs::write(
            w.stack(),
            format!(
                "stack: drift-e2e\nenvironment: e2e\nbudget: 15m\nresources:\n  \
                 - id: log-level\n    kind: env.value\n    properties: {{ value: info }}\n    publish:\n      - {{ output: value, key: LOG_LEVEL, level: tenant }}\n  \
                 - id: jobs\n    kind: aws.sqs.queue\n  \
                 - id: namespace\n    kind: k8s.namespace\n  \
                 - id: svc\n    kind: k8s.catalog\n    properties:\n      catalog: {}\n      namespace: ${{namespace.name}}\n      domain: drift.example.test\n",
                catalog.display()
            ),
        )
        .unwrap();
        std::fs::write(
            w.dir.path().join("serve.yaml"),
            format!(
                "stacks: {{ drift: {} }}\ntokens: [{{ name: olga, role: operator, sha256: {} }}]\ndrift_check: {{ every: 1s }}\n",
                w.stack().display(),
                hex::encode(Sha256::digest(TOKEN.as_bytes()))
            ),
        )
        .unwrap();
        w
    }

    fn stack(&self) -> PathBuf {
        self.dir.path().join("drift.yaml")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", self.dir.path().join("state.sqlite"))
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-drift")
            .env("KUBECONFIG", kubeconfig())
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        c
    }

    /// `envctl ARGS`, logged; its exit code must be `code`.
    fn envctl(&self, args: &[&str], code: i32) -> Output {
        let out = self.command(args).output().expect("run envctl");
        eprintln!(
            "$ envctl {}\n-- exit {:?}\n-- stdout\n{}\n-- stderr\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "envctl {} exit code",
            args.join(" ")
        );
        out
    }

    /// `diff tenant --live -o json`, expecting exit `code`.
    fn live(&self, code: i32) -> Value {
        let out = self.envctl(&["diff", "tenant", TENANT, "--live", "-o", "json"], code);
        serde_json::from_slice(&out.stdout).expect("diff --live -o json prints JSON")
    }

    /// Runs `script` with moto's python (boto3, an independent client).
    fn python(&self, script: &str) {
        let out = Command::new(self.moto.python())
            .args(["-c", script])
            .envs(self.moto.env())
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The drift of node `id` in a report.
fn node<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
}

fn field<'a>(node: &'a Value, object: &str, field: &str) -> Option<&'a Value> {
    node["fields"]
        .as_array()?
        .iter()
        .find(|f| f["object"] == object && f["field"] == field)
}

/// The value of an unlabelled series in a Prometheus text exposition, and
/// whether its family is declared a gauge.
fn gauge(exposition: &str, name: &str) -> Option<f64> {
    let declared = exposition
        .lines()
        .any(|l| l == format!("# TYPE {name} gauge"));
    assert!(declared, "no `# TYPE {name} gauge` in\n{exposition}");
    exposition.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        (parts.next() == Some(name))
            .then(|| parts.next()?.parse().ok())
            .flatten()
    })
}

#[tokio::test]
async fn live_diff_reports_hand_edits_tag_changes_and_deletions_and_serve_records_them() {
    let w = World::new();
    let client = client().await;
    let stack = w.stack().display().to_string();
    w.envctl(&["create", "tenant", TENANT, "--stack", &stack], 0);

    // Right after the create: no drift, and the text says so.
    let calm = w.live(0);
    assert_eq!(calm["drifted"], false, "{calm:#}");
    assert_eq!(calm["counts"]["drifted"], 0, "{calm:#}");
    assert!(
        calm["counts"]["in_sync"].as_u64().unwrap() >= 3,
        "the queue, the namespace and the service are compared: {calm:#}"
    );
    let text = w.envctl(&["diff", "tenant", TENANT, "--live"], 0);
    assert!(String::from_utf8_lossy(&text.stdout).contains("No drift"));

    // A hand edit by another field manager: replicas 1 -> 3.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), TENANT);
    deployments
        .patch(
            SERVICE,
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("edit the Deployment");
    let edited = w.live(3);
    assert_eq!(edited["drifted"], true);
    let svc = node(&edited, SERVICE_NODE).expect("the service node drifted");
    assert_eq!(svc["status"], "drifted", "{svc:#}");
    let replicas = field(svc, &format!("Deployment/{SERVICE}"), ".spec.replicas")
        .unwrap_or_else(|| panic!("no .spec.replicas in {svc:#}"));
    assert_eq!(replicas["applied"], "1");
    assert_eq!(replicas["live"], "3");
    assert_eq!(replicas["changed_by"], "kubectl-edit");
    let text = w.envctl(&["diff", "tenant", TENANT, "--live"], 3);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!(
            "Deployment/{SERVICE} .spec.replicas: envctl set 1, live 3 (changed by kubectl-edit)"
        )),
        "{text}"
    );

    // A tag changed and one added on the queue, with boto3.
    let queue = format!("envctl-{TENANT}-jobs");
    w.python(&format!(
        "import boto3\nsqs = boto3.client('sqs', endpoint_url='{}', region_name='us-east-1')\nurl = sqs.get_queue_url(QueueName='{queue}')['QueueUrl']\n\
         sqs.tag_queue(QueueUrl=url, Tags={{'envctl:stack': 'tampered', 'owner': 'bob'}})\n",
        w.moto.endpoint
    ));
    let tagged = w.live(3);
    let jobs = node(&tagged, "jobs").expect("the queue drifted");
    assert_eq!(jobs["status"], "drifted", "{jobs:#}");
    let fields: Vec<(&str, &str, &str)> = jobs["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap(),
                f["applied"].as_str().unwrap_or("-"),
                f["live"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("tag envctl:stack", "\"drift-e2e\"", "\"tampered\""),
            ("tag owner", "-", "\"bob\"")
        ],
        "{jobs:#}"
    );

    // A deleted object.
    let services: Api<Service> = Api::namespaced(client.clone(), TENANT);
    services
        .delete(SERVICE, &DeleteParams::default())
        .await
        .expect("delete the Service");
    let deleted = w.live(3);
    let svc = node(&deleted, SERVICE_NODE).unwrap();
    assert!(
        field(svc, &format!("Service/{SERVICE}"), "(object)").is_some(),
        "the deleted Service is not reported: {svc:#}"
    );
    let text = w.envctl(&["diff", "tenant", TENANT, "--live"], 3);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("Service/{SERVICE}: deleted")));

    // The scheduled check of `envctl serve` records it.
    let mut serve = w.command(&["serve", "--config"]);
    serve.arg(w.dir.path().join("serve.yaml"));
    let server = ServeProcess::spawn(serve);
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http
            .get(format!("{}{path}", server.base))
            .bearer_auth(TOKEN);
        async move {
            let resp = req.send().await.expect("request");
            let status = resp.status();
            (status, resp.text().await.unwrap())
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let recorded: Value = loop {
        let (status, body) = get(format!("/api/tenants/{TENANT}/drift")).await;
        if status.is_success() {
            break serde_json::from_str(&body).unwrap();
        }
        assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{body}");
        assert!(
            Instant::now() < deadline,
            "no drift check recorded within 2 minutes:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(recorded["drifted"], true, "{recorded:#}");
    assert!(node(&recorded, SERVICE_NODE).is_some() && node(&recorded, "jobs").is_some());
    let (_, detail) = get(format!("/api/tenants/{TENANT}")).await;
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["drift"]["drifted"], true, "{detail:#}");
    let (_, metrics) = get("/metrics".into()).await;
    assert_eq!(
        gauge(&metrics, "envctl_tenants_drifted"),
        Some(1.0),
        "{metrics}"
    );
    let (_, doc) = get("/api/openapi.json".into()).await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert!(
        doc["paths"]["/api/tenants/{name}/drift"]["get"].is_object(),
        "the drift route is not in the OpenAPI document"
    );
    drop(server);

    w.envctl(&["destroy", "tenant", TENANT, "--yes"], 0);
    assert_no_namespace_left(&client).await;
}

async fn assert_no_namespace_left(client: &kube::Client) {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = namespaces.get_opt(TENANT).await.unwrap();
    // A namespace being deleted is fine; one still active is not.
    if let Some(ns) = ns {
        assert!(
            ns.metadata.deletion_timestamp.is_some(),
            "namespace {TENANT} left behind"
        );
    }
}
