//! The local Kubernetes cluster the suites run against (`make test` starts
//! it and sets ENVCTL_TEST_KUBECONFIG): its kubeconfig and a kube client.

use std::path::PathBuf;

/// The test cluster's kubeconfig; a sentence on how to get one when unset.
pub fn kubeconfig() -> PathBuf {
    PathBuf::from(std::env::var("ENVCTL_TEST_KUBECONFIG").expect(
        "ENVCTL_TEST_KUBECONFIG is not set: run `make test`, or start a cluster with \
         `integration/k8s/cluster.sh up` and set it to `integration/k8s/cluster.sh kubeconfig`",
    ))
}

/// A client of the test cluster, as an independent reader of what envctl
/// applied.
pub async fn kube_client() -> kube::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kube config");
    kube::Client::try_from(config).expect("kube client")
}
