//! Kubernetes kinds and what they share: one client for the standard
//! kubeconfig (`KUBECONFIG`, current context), made on first use so that a
//! stack without Kubernetes never needs a cluster; server-side apply with the
//! field manager `envctl`; and error classification.

pub mod namespace;
pub mod service;

use kube::Client;
use kube::api::{Api, Patch, PatchParams};
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

static CLIENT: OnceCell<Client> = OnceCell::const_new();

/// The client for the kubeconfig in force (one per process).
pub async fn client() -> Result<Client, KindError> {
    CLIENT
        .get_or_try_init(|| async {
            Client::try_default().await.map_err(|e| {
                KindError::Unconfigured(format!(
                    "Kubernetes: cannot build a client from the kubeconfig ({e}); set KUBECONFIG to the cluster's kubeconfig (for the local cluster: `make local-up`, then `source .local/env`)"
                ))
            })
        })
        .await
        .cloned()
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
