//! Kubernetes side of hibernation: look at a tenant's Deployments and HPAs,
//! remove the HPAs and scale the Deployments to zero; put both back and
//! wait for the rollouts.
//!
//! HPAs: an HPA cannot hold `minReplicas: 0` unless the cluster enables the
//! alpha gate `HPAScaleToZero`, and while it exists it scales its target
//! back up to its minimum. kube-downscaler (caas-team/py-kube-downscaler)
//! instead lowers the HPA's `minReplicas` to its "downtime replicas" (at
//! least 1) and keeps the original in an annotation — which never reaches
//! zero pods. envctl removes the HPA and keeps it whole (labels,
//! annotations, spec) in the state; wake applies it again (server-side
//! apply, field manager `envctl`, as the create did) after the Deployment
//! has its replicas back.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::wait::await_condition;

use super::plan::{DeploymentSize, Remembered, SavedHpa};
use crate::kinds::k8s::{apply, is_not_found};

/// Field manager of hibernation's scale changes (not `envctl`: the create's
/// server-side apply keeps owning the rest of the Deployment).
const SCALE_MANAGER: &str = "envctl-hibernate";

/// The Deployments (with their replicas now) and HPAs of `namespaces`.
pub async fn look(client: &Client, namespaces: &[String]) -> Result<Remembered, String> {
    let mut r = Remembered::default();
    for ns in namespaces {
        let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), ns);
        let list = match hpas.list(&ListParams::default()).await {
            Ok(l) => l,
            Err(e) if is_not_found(&e) => continue,
            Err(e) => {
                return Err(format!(
                    "list HorizontalPodAutoscalers in namespace {ns}: {e}"
                ));
            }
        };
        for h in list {
            let name = h.metadata.name.clone().unwrap_or_default();
            r.hpas.push(SavedHpa {
                namespace: ns.clone(),
                name,
                object: keepable(h),
            });
        }
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let list = deployments
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("list Deployments in namespace {ns}: {e}"))?;
        for d in list {
            r.deployments.push(DeploymentSize {
                namespace: ns.clone(),
                name: d.metadata.name.clone().unwrap_or_default(),
                replicas: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            });
        }
    }
    Ok(r)
}

/// The HPA as it can be applied again: name, namespace, labels, annotations
/// and spec; no status, uid, resourceVersion or managed fields.
fn keepable(h: HorizontalPodAutoscaler) -> serde_json::Value {
    let kept = HorizontalPodAutoscaler {
        metadata: kube::api::ObjectMeta {
            name: h.metadata.name,
            namespace: h.metadata.namespace,
            labels: h.metadata.labels,
            annotations: h.metadata.annotations,
            ..Default::default()
        },
        spec: h.spec,
        status: None,
    };
    let mut v = serde_json::to_value(&kept).expect("an HPA serializes");
    v["apiVersion"] = "autoscaling/v2".into();
    v["kind"] = "HorizontalPodAutoscaler".into();
    v
}

/// Removes the remembered HPAs, then scales every remembered Deployment to
/// zero. Already gone or already at zero is fine.
pub async fn scale_down(client: &Client, r: &Remembered) -> Result<(), String> {
    for h in &r.hpas {
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &h.namespace);
        match api.delete(&h.name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(format!(
                    "delete HorizontalPodAutoscaler {}/{}: {e}",
                    h.namespace, h.name
                ));
            }
        }
    }
    for d in &r.deployments {
        scale(client, d, 0).await?;
    }
    Ok(())
}

async fn scale(client: &Client, d: &DeploymentSize, replicas: i32) -> Result<(), String> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace);
    let patch = serde_json::json!({ "spec": { "replicas": replicas } });
    match api
        .patch_scale(
            &d.name,
            &PatchParams {
                field_manager: Some(SCALE_MANAGER.into()),
                ..Default::default()
            },
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        // Removed since (by hand, or a destroy): nothing to scale.
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(format!(
            "scale Deployment {}/{} to {replicas}: {e}",
            d.namespace, d.name
        )),
    }
}

/// Gives every remembered Deployment its replicas back, then applies the
/// remembered HPAs again.
pub async fn restore(client: &Client, r: &Remembered) -> Result<(), String> {
    for d in &r.deployments {
        scale(client, d, d.replicas).await?;
    }
    for h in &r.hpas {
        let obj: HorizontalPodAutoscaler =
            serde_json::from_value(h.object.clone()).map_err(|e| {
                format!(
                    "the remembered HPA {}/{} is unreadable: {e}",
                    h.namespace, h.name
                )
            })?;
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), &h.namespace);
        apply(&api, &h.name, &obj)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Waits until every remembered Deployment is back: its controller has
/// seen the new replicas (observed generation) and all of them are updated
/// and available, for at most `timeout` in all. (kube-runtime's
/// `is_deployment_completed` only reads the Progressing condition, which a
/// scale-up leaves at NewReplicaSetAvailable: it holds before any pod is
/// back.)
pub async fn wait_ready(client: &Client, r: &Remembered, timeout: Duration) -> Result<(), String> {
    let waits = r.deployments.iter().map(|d| async move {
        let api: Api<Deployment> = Api::namespaced(client.clone(), &d.namespace);
        await_condition(api, &d.name, all_available)
            .await
            .map(|_| ())
            .map_err(|e| format!("watch Deployment {}/{}: {e}", d.namespace, d.name))
    });
    match tokio::time::timeout(timeout, futures::future::try_join_all(waits)).await {
        Ok(result) => result.map(|_| ()),
        Err(_) => Err(format!(
            "the Deployments were not all ready within {}; see `kubectl get deployments -n {}` and run `envctl wake tenant` again to keep waiting",
            crate::budget::fmt_duration(timeout),
            r.deployments
                .first()
                .map(|d| d.namespace.as_str())
                .unwrap_or("<namespace>")
        )),
    }
}

/// Every replica the spec asks for is updated and available, as observed
/// for the current generation.
fn all_available(d: Option<&Deployment>) -> bool {
    let Some(d) = d else { return false };
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(s) = &d.status else { return false };
    s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
        && s.updated_replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
}
