//! Secrets encrypted at rest on the test cluster (ENVCTL_TEST_KUBECONFIG): a
//! Secret written through the API is read back straight from etcd, through
//! etcd's v3 JSON gateway on the endpoint `cluster.sh up` recorded in the
//! cluster directory, and its stored bytes are the apiserver's encrypted
//! envelope (`k8s:enc:<provider>:v1:<key>:`), not the value.

#[path = "support/mod.rs"]
mod support;

#[path = "support/kubectl.rs"]
mod kubectl;

use aws_smithy_types::base64;
use kubectl::{DeleteNamespace, Kube};
use serde_json::json;
use support::repo_root;

/// The etcd client URL of the cluster in `dir`, as `cluster.sh up` wrote it.
fn etcd_endpoint(dir: &std::path::Path) -> String {
    let file = dir.join("run/etcd-endpoint");
    let url = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; this cluster was started before cluster.sh recorded its etcd endpoint \
             and encrypted Secrets: restart it with `integration/k8s/cluster.sh down {d}` and \
             `integration/k8s/cluster.sh up {d}`",
            file.display(),
            d = dir.display()
        )
    });
    let url = url.trim().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "{}: etcd is expected on loopback, got {url}",
        file.display()
    );
    url
}

/// The value etcd stores under `key`, through the v3 gateway's
/// `POST /v3/kv/range` (keys and values are base64 in its JSON).
async fn etcd_get(endpoint: &str, key: &str) -> Vec<u8> {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{endpoint}/v3/kv/range"))
        .json(&json!({ "key": base64::encode(key) }))
        .send()
        .await
        .expect("etcd answers on its client URL")
        .error_for_status()
        .expect("etcd's range succeeds")
        .json()
        .await
        .expect("etcd's answer is JSON");
    let value = answer["kvs"][0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("etcd has no {key}: {answer}"));
    base64::decode(value).expect("etcd's value is base64")
}

#[tokio::test]
async fn a_secret_is_stored_encrypted_in_etcd() {
    let k = Kube::from_env(&repo_root());
    let endpoint = etcd_endpoint(&k.cluster_dir());
    let ns = format!("envctl-at-rest-{}", std::process::id());
    let _cleanup = DeleteNamespace(&k, ns.clone());
    k.ok(&["create", "namespace", &ns], "");
    let plaintext = format!("at-rest-sentinel-{}", uuid::Uuid::new_v4());
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": { "name": "probe", "namespace": ns },
        "stringData": { "password": plaintext },
    });
    k.ok(&["create", "-f", "-"], &secret.to_string());
    // Through the API, the value reads back as written.
    let via_api = k.ok(
        &[
            "-n",
            &ns,
            "get",
            "secret",
            "probe",
            "-o",
            "jsonpath={.data.password}",
        ],
        "",
    );
    assert_eq!(
        base64::decode(via_api.trim()).unwrap(),
        plaintext.as_bytes()
    );

    let stored = etcd_get(&endpoint, &format!("/registry/secrets/{ns}/probe")).await;
    assert!(
        stored.starts_with(b"k8s:enc:"),
        "the Secret is stored unencrypted (starts {:?}): start the apiserver with \
         --encryption-provider-config (integration/k8s/cluster.sh does)",
        String::from_utf8_lossy(&stored[..stored.len().min(24)])
    );
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(plaintext.as_bytes()),
        "the value is in etcd as is"
    );
    assert!(
        !contains(base64::encode(&plaintext).as_bytes()),
        "the value is in etcd as base64"
    );
    // A ConfigMap is not a Secret: stored as is, so the check above can fail.
    k.ok(
        &[
            "-n",
            &ns,
            "create",
            "configmap",
            "plain",
            &format!("--from-literal=v={plaintext}"),
        ],
        "",
    );
    let stored = etcd_get(&endpoint, &format!("/registry/configmaps/{ns}/plain")).await;
    assert!(
        stored
            .windows(plaintext.len())
            .any(|w| w == plaintext.as_bytes()),
        "the control ConfigMap should be readable in etcd"
    );
}
