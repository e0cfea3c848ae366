//! The scheduled drift check (`drift_check: { every: 1h }`): every ready
//! tenant with a recorded revision and no run going on is compared with
//! what runs (`release::drift::check`, as `envctl diff tenant NAME --live`),
//! and the latest result per tenant is stored in the state store, where
//! the API, the page and `/metrics` read it.

use std::time::Duration;

use super::app::App;
use crate::lifecycle::TenantStatus;
use crate::state::DriftRow;

/// One pass over every tenant; returns how many were checked. A tenant
/// whose check fails (a backend that does not answer) keeps its previous
/// result, and the failure is logged.
pub async fn pass(app: &App) -> usize {
    let tenants = match app.state.tenants().await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "drift check: cannot list the tenants");
            return 0;
        }
    };
    let backends = app.jobs.engine().backends.clone();
    let mut checked = 0;
    for t in tenants {
        if t.status == TenantStatus::Destroyed {
            if let Err(e) = app.state.forget_drift(&t.name).await {
                tracing::error!(tenant = %t.name, error = %e, "drift check: cannot forget a destroyed tenant's result");
            }
            continue;
        }
        if t.status != TenantStatus::Ready || app.jobs.active_for(&t.name).is_some() {
            continue;
        }
        let revision = match app.state.revision(&t.name, None).await {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(tenant = %t.name, error = %e, "drift check: cannot read the revision");
                continue;
            }
        };
        match crate::release::drift::check(&backends, &app.state, &revision).await {
            Ok(report) => {
                let row = DriftRow {
                    tenant: t.name.clone(),
                    checked_at: report.checked_at.clone(),
                    drifted: report.drifted,
                    summary_json: serde_json::to_string(&report).expect("a report serializes"),
                };
                if report.drifted {
                    tracing::warn!(tenant = %t.name, summary = %report.summary(), "drift found");
                }
                match app.state.record_drift(&row).await {
                    Ok(()) => checked += 1,
                    Err(e) => {
                        tracing::error!(tenant = %t.name, error = %e, "drift check: cannot store the result")
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "drift check failed; the previous result stays"),
        }
    }
    checked
}

/// Runs [`pass`] every `every`, from the server's start on (the first pass
/// right away).
pub async fn run(app: std::sync::Arc<App>, every: Duration) {
    loop {
        let n = pass(&app).await;
        tracing::info!(tenants = n, "drift check done");
        tokio::time::sleep(every).await;
    }
}
