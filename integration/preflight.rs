//! End-to-end: preflight, the `envctl` binary against a private moto server.
//! Each refusal exits 2 before anything exists; what exists is checked
//! directly against moto (its own S3 and EC2 APIs, never envctl's state).

#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use support::{Moto, free_port, repo_root};

/// One isolated world: a moto, a state file, a values bucket.
struct World {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        World {
            moto: Moto::start(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.sqlite")
    }

    /// envctl with the moto settings, then `extra` on top (an empty value
    /// removes the variable).
    fn envctl_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
        c.args(args)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("ENVCTL_STATE", self.state_path())
            .env("ENVCTL_VALUES_BUCKET", "envctl-values-preflight")
            .env("KUBECONFIG", self.dir.path().join("no-kubeconfig"))
            .stdin(Stdio::null());
        for (k, v) in self.moto.env() {
            c.env(k, v);
        }
        for (k, v) in extra {
            if v.is_empty() {
                c.env_remove(k);
            } else {
                c.env(k, v);
            }
        }
        let out = c.output().expect("run envctl");
        eprintln!(
            "$ envctl {}\n-- exit {:?}\n-- stdout\n{}\n-- stderr\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn envctl(&self, args: &[&str]) -> Output {
        self.envctl_with(args, &[])
    }

    fn write_stack(&self, name: &str, yaml: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, yaml).unwrap();
        path.display().to_string()
    }

    fn s3(&self) -> aws_sdk_s3::Client {
        let conf = self.moto.sdk_config();
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .force_path_style(true)
                .build(),
        )
    }

    fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.moto.sdk_config())
    }

    async fn buckets(&self) -> Vec<String> {
        self.s3()
            .list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect()
    }

    async fn vpc_count(&self) -> usize {
        self.ec2()
            .describe_vpcs()
            .send()
            .await
            .unwrap()
            .vpcs()
            .len()
    }

    /// Creates VPCs (tagged with `tenant` when given) until the region
    /// holds `total`.
    async fn fill_vpcs(&self, total: usize, tenant: Option<&str>) {
        let ec2 = self.ec2();
        let mut i = self.vpc_count().await;
        while i < total {
            let mut req = ec2
                .create_vpc()
                .cidr_block(format!("10.{}.0.0/16", 100 + i));
            if let Some(t) = tenant.filter(|_| i + 1 == total) {
                req = req.tag_specifications(
                    aws_sdk_ec2::types::TagSpecification::builder()
                        .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
                        .tags(
                            aws_sdk_ec2::types::Tag::builder()
                                .key("envctl:tenant")
                                .value(t)
                                .build(),
                        )
                        .build(),
                );
            }
            req.send().await.unwrap();
            i += 1;
        }
        assert_eq!(self.vpc_count().await, total);
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A network and a bucket: one VPC and one internet gateway needed.
const NETWORK_STACK: &str = "stack: net\nenvironment: e2e\nresources:\n  - id: network\n    kind: aws.ec2.network\n  - id: files\n    kind: aws.s3.bucket\n";

/// Every refusal is the `error:` line(s) of preflight and nothing else: no
/// SDK dump, no Debug output.
fn assert_clean_refusal(out: &Output) {
    assert_eq!(out.status.code(), Some(2), "bad input: exit 2");
    // kube-client logs its own failed connection at ERROR level (one line,
    // no dump); the refusal is what follows.
    let err: String = stderr(out)
        .lines()
        .filter(|l| !l.contains("kube_client"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(err.starts_with("error: preflight "), "{err}");
    assert!(err.trim_end().ends_with("nothing was created"), "{err}");
    for dump in [
        "DispatchFailure",
        "SdkError",
        "ServiceError {",
        "source:",
        "raw:",
    ] {
        assert!(!err.contains(dump), "no SDK Debug dump ({dump}): {err}");
    }
}

#[tokio::test]
async fn plan_shows_the_preflight_section_with_account_and_region() {
    let w = World::new();
    let stack = w.write_stack("net.yaml", NETWORK_STACK);
    let out = w.envctl(&["plan", "tenant", "acme", "--stack", &stack, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pf = &plan["preflight"];
    assert_eq!(pf["account"], "123456789012", "moto's account, from STS");
    assert_eq!(pf["region"], "us-east-1");
    assert_eq!(pf["passed"], true);
    let checks: Vec<(&str, &str, &str)> = pf["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["detail"].as_str().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = checks.iter().map(|c| c.0).collect();
    assert_eq!(
        names,
        ["endpoint", "credentials", "value-store", "quotas", "quotas"],
        "VPCs and internet gateways; no kubernetes check without k8s kinds"
    );
    assert!(checks.iter().all(|c| c.1 == "pass"), "{checks:?}");
    assert!(
        checks
            .iter()
            .any(|c| c.2.starts_with("VPCs per Region (L-F678F1CE)")
                && c.2.contains("applied quota, Service Quotas")),
        "moto answers GetServiceQuota for vpc: {checks:?}"
    );
    assert!(
        checks
            .iter()
            .any(|c| c.0 == "value-store"
                && c.2.contains("envctl-values-preflight does not exist yet")),
        "{checks:?}"
    );
    // The table has the section too; plan created nothing.
    let table = w.envctl(&["plan", "tenant", "acme", "--stack", &stack]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("preflight: account 123456789012, region us-east-1: ready"),
        "{text}"
    );
    assert!(w.buckets().await.is_empty());
    assert!(!w.state_path().exists());
}

#[tokio::test]
async fn a_full_vpc_quota_exits_2_naming_quota_usage_need_and_fix_and_creates_nothing() {
    let w = World::new();
    // moto answers 5 for VPCs per Region (L-F678F1CE), like AWS's default.
    w.fill_vpcs(5, None).await;
    let stack = w.write_stack("net.yaml", NETWORK_STACK);
    let out = w.envctl(&["create", "tenant", "full", "--stack", &stack]);
    assert_clean_refusal(&out);
    let err = stderr(&out);
    assert!(
        err.contains("the stack would exceed VPCs per Region: 5 in use + 1 needed > quota 5"),
        "{err}"
    );
    assert!(err.contains("L-F678F1CE") && err.contains("request an increase in Service Quotas"));
    assert!(err.contains("share one network") && err.contains("destroy unused tenants"));
    // Nothing was created: no VPC, no bucket (not even the value store's),
    // no state.
    assert_eq!(w.vpc_count().await, 5);
    assert!(w.buckets().await.is_empty(), "{:?}", w.buckets().await);
    assert!(!w.state_path().exists());
    // plan says the same, after printing the plan, also with exit 2.
    let plan = w.envctl(&["plan", "tenant", "full", "--stack", &stack]);
    assert_eq!(plan.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&plan.stdout).contains("FAIL quotas"));
}

#[tokio::test]
async fn a_rerun_does_not_count_the_tenants_own_vpc_against_the_quota() {
    let w = World::new();
    // The region is full, but one of the five VPCs is tenant `mine`'s own
    // (an earlier, interrupted run made it).
    w.fill_vpcs(5, Some("mine")).await;
    let stack = w.write_stack("net.yaml", NETWORK_STACK);
    let out = w.envctl(&["plan", "tenant", "mine", "--stack", &stack, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vpcs = plan["preflight"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["detail"].as_str().unwrap().starts_with("VPCs per Region"))
        .unwrap()
        .clone();
    assert_eq!(vpcs["status"], "pass");
    assert!(
        vpcs["detail"]
            .as_str()
            .unwrap()
            .contains("5 in use, 1 of them this tenant's own, 0 more needed"),
        "{vpcs}"
    );
    // Another tenant is refused in the same region.
    let other = w.envctl(&["plan", "tenant", "other", "--stack", &stack]);
    assert_eq!(other.status.code(), Some(2));
}

#[tokio::test]
async fn an_unreachable_cluster_exits_2_before_any_aws_resource_exists() {
    let w = World::new();
    let port = free_port();
    let kubeconfig = w.dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: gone\n  context: {{cluster: gone, user: u}}\ncurrent-context: gone\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    let out = w.envctl_with(
        &[
            "create",
            "tenant",
            "nocluster",
            "--stack",
            "integration/stacks/namespace-only.yaml",
        ],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap())],
    );
    assert_clean_refusal(&out);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the Kubernetes API at https://127.0.0.1:{port} is unreachable"
        )),
        "{err}"
    );
    assert!(err.contains("check KUBECONFIG"), "{err}");
    // Before: the bucket of the stack was created and the namespace failed.
    assert!(w.buckets().await.is_empty(), "{:?}", w.buckets().await);
    assert!(!w.state_path().exists());
    // Without any kubeconfig the fix is to set one.
    let none = w.envctl(&[
        "create",
        "tenant",
        "nocluster",
        "--stack",
        "integration/stacks/namespace-only.yaml",
    ]);
    assert_clean_refusal(&none);
    assert!(
        stderr(&none).contains("set KUBECONFIG"),
        "{}",
        stderr(&none)
    );
    assert!(w.buckets().await.is_empty());
}

#[tokio::test]
async fn a_bad_endpoint_exits_2_with_one_sentence_naming_it() {
    let w = World::new();
    let port = free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = w.envctl_with(
        &["create", "tenant", "lost", "--stack", "stacks/minimal.yaml"],
        &[("AWS_ENDPOINT_URL", &endpoint)],
    );
    assert_clean_refusal(&out);
    let err = stderr(&out);
    assert_eq!(
        err.lines().count(),
        2,
        "one sentence, then 'nothing was created': {err}"
    );
    assert!(
        err.starts_with(&format!(
            "error: preflight endpoint: the AWS endpoint {endpoint} (from AWS_ENDPOINT_URL) is unreachable ("
        )),
        "{err}"
    );
    assert!(
        err.contains("check that AWS_ENDPOINT_URL is the right URL"),
        "{err}"
    );
    assert!(w.buckets().await.is_empty());
    assert!(!w.state_path().exists());
}

#[tokio::test]
async fn missing_credentials_exit_2_naming_the_settings() {
    let w = World::new();
    let out = w.envctl_with(
        &["create", "tenant", "anon", "--stack", "stacks/minimal.yaml"],
        &[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    );
    assert_clean_refusal(&out);
    let err = stderr(&out);
    assert!(
        err.contains("preflight credentials: no AWS credentials were found"),
        "{err}"
    );
    assert!(
        err.contains("AWS_ACCESS_KEY_ID") && err.contains("AWS_PROFILE"),
        "{err}"
    );
    assert!(w.buckets().await.is_empty());
}

#[tokio::test]
async fn skip_preflight_goes_straight_to_the_run() {
    let w = World::new();
    w.fill_vpcs(5, None).await;
    // A stack that counts against no quota still passes preflight with a
    // full region; --skip-preflight runs without asking at all.
    let out = w.envctl(&[
        "create",
        "tenant",
        "quick",
        "--stack",
        "stacks/minimal.yaml",
        "--skip-preflight",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("preflight:"));
    let with = w.envctl(&[
        "create",
        "tenant",
        "quick2",
        "--stack",
        "stacks/minimal.yaml",
    ]);
    assert_eq!(with.status.code(), Some(0), "{}", stderr(&with));
    assert!(
        stderr(&with)
            .contains("preflight: account 123456789012, region us-east-1: 4 checks passed"),
        "{}",
        stderr(&with)
    );
}

/// `envctl serve` runs preflight on a create request: 400 with the sentence,
/// audited as rejected, no tenant recorded, nothing created.
#[tokio::test]
async fn the_server_refuses_a_create_that_fails_preflight_with_400_and_audits_it() {
    use std::io::{BufRead, BufReader};

    use sha2::{Digest, Sha256};

    let w = World::new();
    let token = "preflight-operator-token";
    let config = w.dir.path().join("serve.yaml");
    std::fs::write(
        &config,
        format!(
            "max_concurrent_runs: 1\nmax_ttl: 10d\ndefault_stack: k8s\nstacks:\n  k8s: {}\ntokens:\n  - {{ name: olga, role: operator, sha256: {} }}\n",
            repo_root()
                .join("integration/stacks/namespace-only.yaml")
                .display(),
            hex::encode(Sha256::digest(token.as_bytes()))
        ),
    )
    .unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_envctl"));
    c.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", w.dir.path())
        .env("ENVCTL_STATE", w.state_path())
        .env("ENVCTL_VALUES_BUCKET", "envctl-values-preflight")
        .env("KUBECONFIG", w.dir.path().join("no-kubeconfig"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in w.moto.env() {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("start envctl serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("listening on ")
                .nth(1)
                .map(|u| u.trim().to_string())
        })
        .expect("the server prints its address");
    std::thread::spawn(move || lines.for_each(drop));

    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{base}/api/tenants"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "name": "acme" }))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body: serde_json::Value = answer.json().await.unwrap();
    let audit: serde_json::Value = http
        .get(format!("{base}/api/audit"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenants: serde_json::Value = http
        .get(format!("{base}/api/tenants"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "preflight kubernetes: the stack has Kubernetes resources but no cluster is configured"
        ),
        "{error}"
    );
    assert!(error.contains("set KUBECONFIG") && error.ends_with("nothing was created"));
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "create" && e["target"] == "acme")
        .cloned()
        .expect("the refusal is audited");
    assert_eq!(entry["result"], "rejected");
    assert_eq!(entry["actor"], "olga");
    assert!(
        entry["detail"]
            .as_str()
            .unwrap()
            .contains("preflight kubernetes")
    );
    assert!(
        tenants["tenants"].as_array().unwrap().is_empty(),
        "{tenants}"
    );
    assert!(w.buckets().await.is_empty());
}

/// Against the real test cluster (`make test` sets ENVCTL_TEST_KUBECONFIG):
/// an administrator passes the access reviews; a service account that may
/// only read namespaces is refused, naming the verbs it lacks.
#[tokio::test]
async fn access_reviews_pass_for_an_admin_and_name_the_verbs_a_service_account_lacks() {
    let admin = std::env::var("ENVCTL_TEST_KUBECONFIG").expect(
        "ENVCTL_TEST_KUBECONFIG is not set: run `make test`, or start a cluster with \
         `integration/k8s/cluster.sh up` and set it to `integration/k8s/cluster.sh kubeconfig`",
    );
    let kubectl_bin = Command::new(repo_root().join("integration/k8s/cluster.sh"))
        .arg("kubectl")
        .output()
        .expect("integration/k8s/cluster.sh kubectl");
    let kubectl_bin = String::from_utf8(kubectl_bin.stdout)
        .unwrap()
        .trim()
        .to_string();
    let kubectl = |args: &[&str], input: Option<&str>| -> String {
        use std::io::Write;
        let mut child = Command::new(&kubectl_bin)
            .args(args)
            .env("KUBECONFIG", &admin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.unwrap_or("").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let w = World::new();
    let ns = "envctl-preflight-test";
    let ok = w.envctl_with(
        &[
            "plan",
            "tenant",
            "pfadmin",
            "--stack",
            "integration/stacks/namespace-only.yaml",
            "-o",
            "json",
        ],
        &[("KUBECONFIG", &admin)],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let plan: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    let k8s = plan["preflight"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "kubernetes")
        .cloned()
        .unwrap();
    assert_eq!(k8s["status"], "pass", "{k8s}");
    assert!(
        k8s["detail"]
            .as_str()
            .unwrap()
            .contains("answers and allows all 11 verbs"),
        "namespaces x5, resourcequotas, limitranges, networkpolicies x2: {k8s}"
    );

    // A service account that may only get and list namespaces.
    kubectl(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: reader, namespace: {ns}}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {ns}-reader}}\nrules:\n- {{apiGroups: [\"\"], resources: [namespaces], verbs: [get, list]}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {ns}-reader}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {ns}-reader}}\nsubjects:\n- {{kind: ServiceAccount, name: reader, namespace: {ns}}}\n"
        )),
    );
    let token = kubectl(&["create", "token", "reader", "-n", ns], None);
    let server = kubectl(
        &[
            "config",
            "view",
            "--raw",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ],
        None,
    );
    let ca = kubectl(
        &[
            "config",
            "view",
            "--raw",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.certificate-authority-data}",
        ],
        None,
    );
    let reader = w.dir.path().join("reader.kubeconfig");
    std::fs::write(
        &reader,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"{server}\", certificate-authority-data: \"{ca}\"}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: reader}}\ncurrent-context: c\nusers:\n- name: reader\n  user: {{token: \"{}\"}}\n",
            token.trim()
        ),
    )
    .unwrap();
    let out = w.envctl_with(
        &[
            "create",
            "tenant",
            "pfreader",
            "--stack",
            "integration/stacks/namespace-only.yaml",
        ],
        &[("KUBECONFIG", reader.to_str().unwrap())],
    );
    kubectl(
        &[
            "delete",
            "--ignore-not-found",
            &format!("clusterrolebinding/{ns}-reader"),
            &format!("clusterrole/{ns}-reader"),
            &format!("namespace/{ns}"),
            "--wait=false",
        ],
        None,
    );
    assert_clean_refusal(&out);
    let err = stderr(&out);
    assert!(
        err.contains("the kubeconfig's user may not create limitranges in namespace pfreader, "),
        "{err}"
    );
    for denied in [
        ", create namespaces,",
        ", delete namespaces,",
        ", patch namespaces,",
        ", patch networkpolicies.networking.k8s.io in namespace pfreader",
    ] {
        assert!(err.contains(denied), "{denied}: {err}");
    }
    assert!(!err.contains("get namespaces"), "get is granted: {err}");
    assert!(err.contains("deploy/10-rbac.yaml"), "{err}");
    assert!(
        w.buckets().await.is_empty(),
        "nothing created in AWS either"
    );
}
