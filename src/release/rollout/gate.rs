//! The health gate of one tenant after its apply: each of its Deployments
//! completes its rollout (`kubectl rollout status`'s rule; the engine has
//! already waited for this, a resumed rollout has not), then stays fully
//! available for the soak. Both wait on watches of the objects
//! (`kube::runtime::wait::await_condition`, `watcher::watch_object`), not
//! on polls; a Deployment that loses a replica, is deleted, or gets a new
//! spec during the soak fails the gate at once.

use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::runtime::wait::await_condition;
use kube::runtime::watcher::watch_object;

use crate::kinds::k8s::KubeClient;
use crate::kinds::k8s::service::rollout_pending;

/// A Deployment of the tenant: namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeploymentRef {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for DeploymentRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Deployment {}/{}", self.namespace, self.name)
    }
}

/// Why `d` is not fully available now; `None` when it is: the controller
/// has seen its newest spec, every wanted replica is updated and
/// available, and no old replica is left. Pure.
pub fn unavailable(d: &Deployment) -> Option<String> {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let s = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    if s.observed_generation.unwrap_or(0) < generation {
        return Some(format!(
            "its controller has not yet seen generation {generation} of its spec"
        ));
    }
    let (updated, available, total) = (
        s.updated_replicas.unwrap_or(0),
        s.available_replicas.unwrap_or(0),
        s.replicas.unwrap_or(0),
    );
    if updated < want || available < want || total > want || s.unavailable_replicas.unwrap_or(0) > 0
    {
        return Some(format!(
            "{available} of {want} replicas available ({updated} updated, {total} in all)"
        ));
    }
    None
}

/// Has `d`'s newest spec rolled out (`kubectl rollout status`'s rule, the
/// one the engine waits on), and is it fully available?
fn complete(d: Option<&Deployment>) -> bool {
    d.is_some_and(|d| rollout_pending(d).is_none() && unavailable(d).is_none())
}

/// Waits until every Deployment in `deployments` has completed its
/// rollout (within `rollout_timeout`), then watches them for `soak`: `Ok`
/// when all stayed fully available, else why not, naming the Deployment.
pub async fn check(
    kube: &KubeClient,
    deployments: &[DeploymentRef],
    rollout_timeout: Duration,
    soak: Duration,
) -> Result<(), String> {
    // A tenant without Deployments (a stack of AWS resources only) has
    // nothing to gate, and needs no cluster.
    if deployments.is_empty() {
        return Ok(());
    }
    let client = kube.get().await.map_err(|e| e.to_string())?;
    for d in deployments {
        let api: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace);
        let done =
            tokio::time::timeout(rollout_timeout, await_condition(api, &d.name, complete)).await;
        match done {
            Err(_) => {
                return Err(format!(
                    "{d} did not complete its rollout within {}",
                    humantime::format_duration(rollout_timeout)
                ));
            }
            Ok(Err(e)) => return Err(format!("cannot watch {d}: {e}")),
            Ok(Ok(_)) => {}
        }
    }
    if soak.is_zero() || deployments.is_empty() {
        return Ok(());
    }
    let watches = deployments.iter().map(|d| {
        let api: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace);
        let d = d.clone();
        watch_object(api, &d.name).map(move |e| (d.clone(), e))
    });
    let mut merged = pin!(futures::stream::select_all(watches.map(Box::pin)));
    // Watch errors are the API connection's (the watcher re-lists by
    // itself): a few in a row fail the gate, a lone one does not.
    const WATCH_ERRORS: u32 = 5;
    let mut errors = 0;
    let watched = tokio::time::timeout(soak, async {
        while let Some((d, event)) = merged.next().await {
            match event {
                Ok(Some(obj)) => {
                    errors = 0;
                    if let Some(why) = unavailable(&obj) {
                        return format!("{d} became unavailable during the soak: {why}");
                    }
                }
                Ok(None) => return format!("{d} was deleted during the soak"),
                Err(e) => {
                    errors += 1;
                    if errors >= WATCH_ERRORS {
                        return format!("cannot watch {d} during the soak: {e}");
                    }
                }
            }
        }
        "the watches of the Deployments ended during the soak".to_string()
    })
    .await;
    match watched {
        Err(_elapsed) => Ok(()),
        Ok(why) => Err(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(
        generation: i64,
        observed: i64,
        want: i32,
        status: (i32, i32, i32),
    ) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": want, "selector": {}, "template": {}},
            "status": {
                "observedGeneration": observed,
                "updatedReplicas": status.0,
                "availableReplicas": status.1,
                "replicas": status.2,
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_deployment_with_every_replica_updated_and_available_passes() {
        assert_eq!(unavailable(&deployment(3, 3, 2, (2, 2, 2))), None);
    }

    #[test]
    fn a_missing_replica_an_old_pod_left_or_an_unseen_spec_fails() {
        let why = unavailable(&deployment(3, 3, 2, (2, 1, 2))).unwrap();
        assert!(why.contains("1 of 2 replicas available"), "{why}");
        // A rollout stuck half-way: the old pod still serves, the new one
        // never came.
        assert!(unavailable(&deployment(3, 3, 1, (0, 1, 1))).is_some());
        assert!(unavailable(&deployment(3, 3, 1, (1, 1, 2))).is_some());
        let why = unavailable(&deployment(4, 3, 1, (1, 1, 1))).unwrap();
        assert!(why.contains("generation 4"), "{why}");
    }
}
