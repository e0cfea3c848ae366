//! Kubernetes kinds and what they share: the client ([`KubeClient`], one per
//! [`Backends`](crate::kinds::Backends), made on first use so that a stack
//! without Kubernetes never needs a cluster); server-side apply with the
//! field manager `envctl`; and error classification.

pub mod namespace;
pub mod service;

use std::path::PathBuf;

use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use super::KindError;

/// Field manager of every server-side apply envctl makes.
pub const FIELD_MANAGER: &str = "envctl";
/// Label selecting everything envctl manages for a tenant.
pub const LABEL_TENANT: &str = "envctl/tenant";
pub const LABEL_MANAGED: &str = "envctl/managed";
pub const ANNOTATION_EXPIRES: &str = "envctl/expires-at";

/// The Kubernetes client of one set of [`Backends`](crate::kinds::Backends),
/// as the AWS clients are: built on first use, so that a stack without
/// Kubernetes never needs a cluster, and a missing or broken kubeconfig is
/// [`KindError::Unconfigured`] only for the kind (or sweep) that uses it.
pub struct KubeClient {
    source: Source,
    client: OnceCell<Client>,
}

enum Source {
    /// kube's `Client::try_default`: `KUBECONFIG` / `~/.kube/config` (its
    /// current context), else the pod's service account.
    Environment,
    /// One kubeconfig file, its current context.
    Kubeconfig(PathBuf),
}

impl KubeClient {
    /// The client of the kubeconfig in force when first used.
    pub fn from_env() -> Self {
        Self {
            source: Source::Environment,
            client: OnceCell::new(),
        }
    }

    /// The client of the current context of the kubeconfig at `path`.
    pub fn from_kubeconfig(path: impl Into<PathBuf>) -> Self {
        Self {
            source: Source::Kubeconfig(path.into()),
            client: OnceCell::new(),
        }
    }

    /// A client built already.
    pub fn from_client(client: Client) -> Self {
        Self {
            source: Source::Environment,
            client: OnceCell::new_with(Some(client)),
        }
    }

    /// The client, built on the first call (a clone: clients share one
    /// connection pool).
    pub async fn get(&self) -> Result<Client, KindError> {
        self.client.get_or_try_init(|| self.build()).await.cloned()
    }

    async fn build(&self) -> Result<Client, KindError> {
        match &self.source {
            Source::Environment => Client::try_default().await.map_err(|e| {
                KindError::Unconfigured(format!(
                    "Kubernetes: cannot build a client from the kubeconfig ({e}); set KUBECONFIG to the cluster's kubeconfig (for the local cluster: `make local-up`, then `source .local/env`)"
                ))
            }),
            Source::Kubeconfig(path) => {
                let unconfigured = |e: &dyn std::fmt::Display| {
                    KindError::Unconfigured(format!(
                        "Kubernetes: cannot build a client from the kubeconfig {} ({e}); point it at the cluster's kubeconfig",
                        path.display()
                    ))
                };
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| unconfigured(&e))?;
                let config =
                    kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                        .await
                        .map_err(|e| unconfigured(&e))?;
                Client::try_from(config).map_err(|e| unconfigured(&e))
            }
        }
    }
}

/// Server-side apply of `obj` named `name` (field manager `envctl`, forcing
/// ownership of the fields it sets).
pub async fn apply<K>(api: &Api<K>, name: &str, obj: &K) -> Result<K, KindError>
where
    K: Clone + DeserializeOwned + Serialize + std::fmt::Debug + kube::Resource<DynamicType = ()>,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(obj))
        .await
        .map_err(|e| classify(&format!("apply {} {name}", K::kind(&())), e))
}

/// Server-side dry-run apply: the API server validates the object fully
/// (schema, defaulting, admission) and stores nothing.
pub async fn dry_run_apply<K>(api: &Api<K>, name: &str, obj: &K) -> Result<K, KindError>
where
    K: Clone + DeserializeOwned + Serialize + std::fmt::Debug + kube::Resource<DynamicType = ()>,
{
    let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
    api.patch(name, &params, &Patch::Apply(obj))
        .await
        .map_err(|e| classify(&format!("dry-run apply {} {name}", K::kind(&())), e))
}

/// Is this the API's "not found"?
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// 429, 5xx, timeouts and connection errors are transient; a 409 conflict
/// too (someone else changed the object: apply again); the rest permanent.
pub fn classify(what: &str, e: kube::Error) -> KindError {
    let transient = match &e {
        kube::Error::Api(s) => s.code == 429 || s.code == 409 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    };
    let message = format!("{what}: {e}");
    if transient {
        KindError::Transient(message)
    } else {
        KindError::Permanent(message)
    }
}
