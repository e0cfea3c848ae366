//! The rest of the API: the stacks on offer, the audit log, running the
//! reaper now, metrics and the health check.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::lifecycle::TenantStatus;
use crate::serve::api::json::{Json, Query};
use crate::serve::app::{ApiError, AppState, Caller, ErrorBody};
use crate::state::AuditRow;
use crate::state::MemberStatus;

#[derive(Serialize, ToSchema)]
pub struct StackOffer {
    pub name: String,
    /// Default time to live, e.g. `7d`; `null`: the server's max_ttl.
    pub ttl: Option<String>,
    pub budget: String,
    pub environment: String,
    /// How many resources (nodes) a tenant of this stack has.
    pub resources: usize,
}

#[derive(Serialize, ToSchema)]
pub struct StackList {
    pub stacks: Vec<StackOffer>,
    pub default: String,
    pub max_ttl: String,
}

#[utoipa::path(get, path = "/api/stacks", tag = "tenants",
    responses((status = 200, description = "The stacks a tenant may be made from, the default and the longest TTL", body = StackList)))]
pub async fn list_stacks(State(app): State<AppState>, Caller(_who): Caller) -> Json<StackList> {
    let fmt = crate::ttl::fmt_ttl;
    Json(StackList {
        stacks: app
            .config
            .stacks
            .iter()
            .map(|(name, s)| StackOffer {
                name: name.clone(),
                ttl: s.ttl.map(fmt),
                budget: fmt(s.budget),
                environment: s.environment.clone(),
                resources: s.resources.len(),
            })
            .collect(),
        default: app.config.default_stack.clone(),
        max_ttl: fmt(app.config.max_ttl),
    })
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Newest entries to return (default 100, at most 1000).
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    /// Newest first.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<AuditRow>,
}

#[utoipa::path(get, path = "/api/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, description = "The newest audit entries", body = AuditList)))]
pub async fn list_audit(
    State(app): State<AppState>,
    Caller(_who): Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(AuditList {
        entries: app.state.audit(limit).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReapNow {
    /// List what would be destroyed; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Also destroy orphans (managed resources of tenants the state does not know).
    #[serde(default)]
    pub orphans: bool,
}

#[utoipa::path(post, path = "/api/reap", tag = "admin", request_body = ReapNow,
    responses((status = 200, description = "The reaper's report", body = Object),
        (status = 403, body = ErrorBody)))]
pub async fn reap_now(
    State(app): State<AppState>,
    Caller(who): Caller,
    Json(body): Json<ReapNow>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !who.is_operator() {
        let why = "only an operator may run the reaper".to_string();
        app.audit(Some(&who), "reap", "-", "denied", Some(why.clone()))
            .await;
        return Err(ApiError::forbidden(why));
    }
    let opts = crate::reap::ReapOptions {
        dry_run: body.dry_run,
        orphans: body.orphans,
    };
    let report = crate::serve::schedule::reap_once(&app, &opts, &who.name).await?;
    Ok(Json(report))
}

#[utoipa::path(get, path = "/metrics", tag = "admin",
    responses((status = 200, description = "The metrics in the OpenMetrics text format", body = String,
        content_type = "application/openmetrics-text")))]
pub async fn metrics(State(app): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let tenants = app.state.tenants().await?;
    let not_destroyed: std::collections::BTreeSet<&str> = tenants
        .iter()
        .filter(|t| t.status != TenantStatus::Destroyed)
        .map(|t| t.name.as_str())
        .collect();
    let alive = not_destroyed.len() as i64;
    let drifted = app
        .state
        .drifts()
        .await?
        .iter()
        .filter(|d| d.drifted && not_destroyed.contains(d.tenant.as_str()))
        .count() as i64;
    let levels: Vec<(String, &'static str, i64)> = crate::serve::pools::offered_levels(&app)
        .await?
        .into_iter()
        .flat_map(|l| {
            [
                (MemberStatus::Creating, l.creating),
                (MemberStatus::Available, l.available),
                (MemberStatus::Claimed, l.claimed),
                (MemberStatus::Deleting, l.deleting),
            ]
            .map(|(status, n)| (l.pool.clone(), status.as_str(), n as i64))
        })
        .collect();
    app.metrics
        .set_pools(&levels, &crate::pool::claim::counts());
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(alive, drifted),
    ))
}

#[utoipa::path(get, path = "/healthz", tag = "admin",
    responses((status = 200, description = "The server answers and its state store too: `ok`", body = String,
        content_type = "text/plain")))]
pub async fn healthz(State(app): State<AppState>) -> Result<&'static str, ApiError> {
    app.state.tenant("-").await?;
    Ok("ok\n")
}
