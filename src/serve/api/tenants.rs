//! `/api/tenants`: list, request (create), show, destroy, extend and protect
//! tenants. Every state-changing request is audited, allowed or not.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::engine::{CreateRequest, DestroyRequest};
use crate::lifecycle::{self, CreateMode, HowTo, TenantStatus};
use crate::serve::api::json::{Json, Path};
use crate::serve::app::{ApiError, AppState, Caller, ErrorBody};
use crate::serve::auth::Principal;
use crate::serve::jobs::Work;
use crate::serve::views::{RunView, TenantView};
use crate::state::TenantRow;
use crate::tenant::TenantName;

#[derive(Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// A lowercase RFC 1123 label of at most 40 characters, e.g. `initech-demo`
    /// (not `common`, the value store's shared level).
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
    )]
    pub name: String,
    /// One of the configured stacks (GET /api/stacks); default: the configured default.
    pub stack: Option<String>,
    /// Environment of the value store (lowercase letters, digits and `-`;
    /// not `common`); default: the stack's.
    #[schema(min_length = 1, pattern = "^[a-z0-9-]+$")]
    pub environment: Option<String>,
    /// Time to live, e.g. `7d` or `1d 12h` (units s, m, h, d, w); default:
    /// the stack's (at most `max_ttl`).
    #[schema(
        min_length = 2,
        pattern = "^([1-9][0-9]{0,2}[smhdw] ?)*[1-9][0-9]{0,2}[smhdw]$"
    )]
    pub ttl: Option<String>,
    /// Free text kept with the tenant, e.g. `demo for Initech`: one line
    /// of at most 500 characters, no control characters.
    #[schema(max_length = 500, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub tenant: TenantView,
    pub run: RunView,
}

#[derive(Serialize, ToSchema)]
pub struct TenantDetail {
    #[serde(flatten)]
    pub tenant: TenantView,
    /// Runs of this tenant, oldest first.
    pub runs: Vec<RunView>,
    /// The last finished run's report, as `envctl report -o json` prints it.
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    /// The cost of each resource of the tenant's last create (its stored
    /// graph), per hour running and hibernated.
    pub cost_breakdown: Vec<crate::cost::Line>,
    /// The latest scheduled drift check; `null` when none ran.
    pub drift: Option<crate::serve::views::DriftSummary>,
}

#[derive(Serialize, ToSchema)]
pub struct CostTotals {
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// The date of the price table.
    pub prices_as_of: String,
    /// Per owner, by name: tenants not destroyed, their hourly and monthly
    /// cost now, and what all of the owner's tenants accrued.
    pub owners: Vec<crate::cost::OwnerCost>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Extend {
    /// How much later, e.g. `1d` or `12h` (units s, m, h, d, w); counted from the current expiry
    /// (or now, if it has passed); the new expiry at most `max_ttl` from now.
    #[schema(
        min_length = 2,
        pattern = "^([1-9][0-9]{0,2}[smhdw] ?)*[1-9][0-9]{0,2}[smhdw]$"
    )]
    pub by: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Protect {
    pub protected: bool,
}

pub(crate) fn view(app: &AppState, row: &TenantRow) -> TenantView {
    let active = app.jobs.active_for(&row.name).map(|r| r.view());
    TenantView::of(row, active).with_cost(app.config.cost.tenant(row))
}

pub(crate) async fn existing(app: &AppState, name: &str) -> Result<TenantRow, ApiError> {
    app.state.tenant(name).await?.ok_or_else(|| {
        ApiError::not_found(format!("no tenant '{name}'; GET /api/tenants lists them"))
    })
}

/// Refuses (and audits the refusal) unless `who` may change a tenant of `owner`.
pub(crate) async fn require_change(
    app: &AppState,
    who: &Principal,
    action: &str,
    row: &TenantRow,
) -> Result<(), ApiError> {
    if who.may_change(row.owner.as_deref()) {
        return Ok(());
    }
    let why = match who.role {
        crate::serve::auth::Role::Viewer => format!("role viewer may not {action} tenants"),
        _ => format!(
            "tenant '{}' belongs to {}; a requester may {action} only their own tenants (ask an operator)",
            row.name,
            row.owner.as_deref().unwrap_or("nobody")
        ),
    };
    app.audit(Some(who), action, &row.name, "denied", Some(why.clone()))
        .await;
    Err(ApiError::forbidden(why))
}

#[utoipa::path(get, path = "/api/tenants", tag = "tenants",
    responses((status = 200, description = "Every tenant the state knows, destroyed ones included", body = TenantList)))]
pub async fn list_tenants(
    State(app): State<AppState>,
    Caller(_who): Caller,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    // Served from the cache of src/serve/list_cache.rs while no tenant
    // changed anywhere; tenants with a run here carry its live progress.
    // Cost and URLs come from the cost book: brought up to date here (a
    // counter read at most once a second), then a pure lookup per tenant.
    app.config.cost.refresh(&app.state).await?;
    let with_cost =
        |row: &TenantRow, run| TenantView::of(row, run).with_cost(app.config.cost.tenant(row));
    let body = app
        .tenant_list
        .body(&app.state, with_cost, |name| {
            app.jobs.active_for(name).map(|r| r.view())
        })
        .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// The list's JSON around its items, as `TenantList` serializes.
pub fn list_envelope() -> crate::serve::list_cache::Envelope {
    let empty = serde_json::to_string(&TenantList {
        tenants: Vec::new(),
    })
    .expect("the list serializes");
    crate::serve::list_cache::Envelope::of_empty(&empty)
}

#[utoipa::path(post, path = "/api/tenants", tag = "tenants", request_body = CreateTenant,
    responses((status = 202, description = "Accepted: the tenant and the create run now going", body = Accepted),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_tenant(
    State(app): State<AppState>,
    Caller(who): Caller,
    Json(body): Json<CreateTenant>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let target = body.name.clone();
    let result = create(&app, &who, body).await;
    match &result {
        Ok((_, Json(a))) => {
            app.audit(
                Some(&who),
                "create",
                &target,
                "accepted",
                Some(format!("stack={} run={}", a.tenant.stack, a.run.id)),
            )
            .await
        }
        Err(e) if e.status != StatusCode::FORBIDDEN => {
            app.audit(
                Some(&who),
                "create",
                &target,
                "rejected",
                Some(e.message.clone()),
            )
            .await
        }
        Err(_) => {} // audited where refused
    }
    result
}

async fn create(
    app: &AppState,
    who: &Principal,
    body: CreateTenant,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    if !who.may_create() {
        let why = "role viewer may not create tenants; ask for a requester token".to_string();
        app.audit(Some(who), "create", &body.name, "denied", Some(why.clone()))
            .await;
        return Err(ApiError::forbidden(why));
    }
    let tenant =
        TenantName::parse(&body.name).map_err(|e| ApiError::bad_request(format!("name: {e}")))?;
    let stack_name = body
        .stack
        .clone()
        .unwrap_or_else(|| app.config.default_stack.clone());
    let stack = app.offered_stack(&stack_name)?;
    let environment = body
        .environment
        .clone()
        .unwrap_or_else(|| stack.environment.clone());
    crate::envapi::check_environment(&environment)
        .map_err(|e| ApiError::bad_request(format!("environment: {e}")))?;
    if let Some(note) = &body.note {
        crate::tenant::check_note(note).map_err(ApiError::bad_request)?;
    }
    let max = app.config.max_ttl;
    let ttl = match &body.ttl {
        Some(t) => humantime::parse_duration(t)
            .map_err(|e| ApiError::bad_request(format!("ttl '{t}': {e}; write e.g. 7d or 12h")))?,
        None => stack.ttl.unwrap_or(max).min(max),
    };
    if ttl.is_zero() || ttl > max {
        return Err(ApiError::bad_request(format!(
            "ttl: must be more than 0 and at most {} (the server's max_ttl)",
            crate::ttl::fmt_ttl(max)
        )));
    }
    let now = jiff::Timestamp::now();
    let expires_at = crate::ttl::expiry_from(now, ttl)
        .map_err(|e| ApiError::bad_request(format!("ttl: {e}")))?;

    let prior = app.state.tenant(tenant.as_str()).await?;
    if let Some(run) = app.jobs.active_for(tenant.as_str()) {
        return Err(ApiError::conflict(format!(
            "tenant '{tenant}' has a {} run going ({}); wait for it to finish",
            run.operation, run.id
        )));
    }
    let how = HowTo {
        wake: &format!("POST /api/tenants/{tenant}/wake"),
        destroy: &format!("DELETE /api/tenants/{tenant}"),
    };
    match lifecycle::may_create(prior.as_ref().map(|p| p.status), None) {
        Err(refusal) => return Err(ApiError::conflict(refusal.sentence(tenant.as_str(), &how))),
        Ok(CreateMode::Fresh) => {}
        // Through the API a name is taken once; re-applying a ready tenant
        // is the CLI's (or a rollout's) job.
        Ok(CreateMode::Reapply) => {
            return Err(ApiError::conflict(format!(
                "tenant '{tenant}' already exists and is ready; pick another name, or extend or destroy it"
            )));
        }
        // failed, rolled back or interrupted: resume, by its owner or an operator
        Ok(CreateMode::Resume) => {
            require_change(app, who, "resume", prior.as_ref().expect("prior")).await?
        }
    }

    // Preflight, before anything is created or recorded: a failure answers
    // 400 naming the fix, audited as a rejection by `create_tenant`.
    let cx = crate::preflight::PreflightCx::new(
        tenant.clone(),
        stack.clone(),
        Ok(app.jobs.engine().backends.clone()),
        // The engine's own endpoint and credentials, never the process
        // environment's: the server may run with backends set up otherwise.
        crate::preflight::PreflightClients::from_config(&app.jobs.engine().backends.aws.config),
    );
    if let Some(why) = crate::preflight::run(&cx).await.refusal() {
        return Err(ApiError::bad_request(why.replace('\n', "; ")));
    }

    let row = TenantRow {
        name: tenant.to_string(),
        environment: environment.clone(),
        stack_name: stack.name.clone(),
        stack_path: stack.path.display().to_string(),
        status: TenantStatus::Creating,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        expires_at: Some(expires_at.to_string()),
        protected: false,
        owner: Some(who.name.clone()),
        note: body.note.clone(),
        graph_json: "{}".into(),
    };
    if prior
        .as_ref()
        .is_none_or(|p| p.status == TenantStatus::Destroyed)
    {
        // Shown at once in the list; the run fills in the rest.
        app.state.upsert_tenant(&row).await?;
    }
    let req = CreateRequest {
        tenant: tenant.clone(),
        stack: stack.clone(),
        environment,
        budget: stack.budget,
        expires_at: Some(expires_at),
        rollback_on_failure: false,
        owner: if prior.is_none() {
            Some(who.name.clone())
        } else {
            None
        },
        note: body.note,
        run_id: None,
    };
    let live = app
        .jobs
        .submit(Work::Create(Box::new(req)))
        .map_err(|e| ApiError::conflict(e.to_string()))?;
    let current = app.state.tenant(tenant.as_str()).await?.unwrap_or(row);
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            tenant: TenantView::of(&current, Some(live.view())),
            run: live.view(),
        }),
    ))
}

#[utoipa::path(get, path = "/api/tenants/{name}", tag = "tenants",
    params(("name" = String, Path, description = "tenant name")),
    responses((status = 200, description = "The tenant, its runs and its last report", body = TenantDetail),
        (status = 404, body = ErrorBody)))]
pub async fn get_tenant(
    State(app): State<AppState>,
    Caller(_who): Caller,
    Path(name): Path<String>,
) -> Result<Json<TenantDetail>, ApiError> {
    let row = existing(&app, &name).await?;
    let runs = app.state.runs(&name).await?;
    let report = runs
        .iter()
        .rev()
        .find_map(|r| r.report_json.as_deref())
        .and_then(|j| serde_json::from_str(j).ok());
    let runs = runs
        .iter()
        .map(|r| match app.jobs.get(&r.id) {
            Some(live) => live.view(),
            None => RunView::of_row(r),
        })
        .collect();
    let cost = app.config.cost.detail(&app.state, &row).await?;
    let active = app.jobs.active_for(&row.name).map(|r| r.view());
    let drift = app
        .state
        .drift(&name)
        .await?
        .as_ref()
        .and_then(crate::serve::views::DriftSummary::of);
    Ok(Json(TenantDetail {
        drift,
        tenant: TenantView::of(&row, active).with_cost((Some(cost.cost), cost.urls)),
        runs,
        report,
        cost_breakdown: cost.estimate.lines,
    }))
}

#[utoipa::path(get, path = "/api/tenants/{name}/drift", tag = "tenants",
    params(("name" = String, Path, description = "tenant name")),
    responses((status = 200, description = "The tenant's latest scheduled drift check (`drift_check` in the server's configuration): what runs against its newest revision", body = crate::release::drift::DriftReport),
        (status = 404, body = ErrorBody)))]
pub async fn tenant_drift(
    State(app): State<AppState>,
    Caller(_who): Caller,
    Path(name): Path<String>,
) -> Result<Json<crate::release::drift::DriftReport>, ApiError> {
    existing(&app, &name).await?;
    let row = app.state.drift(&name).await?.ok_or_else(|| {
        ApiError::not_found(match app.config.drift_check_every {
            Some(_) => format!(
                "tenant '{name}' has no drift check yet: the scheduled check runs on ready tenants with a recorded revision; run `envctl diff tenant {name} --live` for one now"
            ),
            None => format!(
                "tenant '{name}' has no drift check: this server runs none (set `drift_check: {{ every: 1h }}` in its configuration), or run `envctl diff tenant {name} --live`"
            ),
        })
    })?;
    let report = serde_json::from_str(&row.summary_json).map_err(|e| {
        ApiError::internal(format!(
            "tenant '{name}': the stored drift check does not read ({e}); the state store may be from a newer envctl"
        ))
    })?;
    Ok(Json(report))
}

#[utoipa::path(get, path = "/api/costs", tag = "tenants",
    responses((status = 200, description = "Cost per owner, from the price table", body = CostTotals)))]
pub async fn cost_totals(
    State(app): State<AppState>,
    Caller(_who): Caller,
) -> Result<Json<CostTotals>, ApiError> {
    let book = &app.config.cost;
    book.refresh(&app.state).await?;
    let rows = app.state.tenants().await?;
    Ok(Json(CostTotals {
        currency: book.table.currency.clone(),
        prices_as_of: book.table.as_of.to_string(),
        owners: book.owners(&rows),
    }))
}

#[utoipa::path(delete, path = "/api/tenants/{name}", tag = "tenants",
    params(("name" = String, Path, description = "tenant name")),
    responses((status = 202, description = "Accepted: the tenant and the destroy run now going", body = Accepted),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn destroy_tenant(
    State(app): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let row = existing(&app, &name).await?;
    require_change(&app, &who, "destroy", &row).await?;
    let refuse = |msg: String| ApiError::conflict(msg);
    let result = if row.status == TenantStatus::Destroyed {
        Err(refuse(format!("tenant '{name}' is already destroyed")))
    } else if row.protected {
        Err(refuse(format!(
            "tenant '{name}' is protected; an operator unprotects it first (POST /api/tenants/{name}/protect)"
        )))
    } else {
        let tenant = TenantName::parse(&name).map_err(|e| ApiError::bad_request(e.to_string()))?;
        app.jobs
            .submit(Work::Destroy(DestroyRequest {
                tenant,
                environment: Some(row.environment.clone()),
                run_id: None,
            }))
            .map_err(|e| refuse(e.to_string()))
    };
    match result {
        Ok(live) => {
            app.audit(
                Some(&who),
                "destroy",
                &name,
                "accepted",
                Some(format!("run={}", live.id)),
            )
            .await;
            Ok((
                StatusCode::ACCEPTED,
                Json(Accepted {
                    tenant: TenantView::of(&row, Some(live.view())),
                    run: live.view(),
                }),
            ))
        }
        Err(e) => {
            app.audit(
                Some(&who),
                "destroy",
                &name,
                "rejected",
                Some(e.message.clone()),
            )
            .await;
            Err(e)
        }
    }
}

#[utoipa::path(post, path = "/api/tenants/{name}/extend", tag = "tenants", request_body = Extend,
    params(("name" = String, Path, description = "tenant name")),
    responses((status = 200, description = "The tenant with its new expiry", body = TenantView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn extend_tenant(
    State(app): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    Json(body): Json<Extend>,
) -> Result<Json<TenantView>, ApiError> {
    let row = existing(&app, &name).await?;
    require_change(&app, &who, "extend", &row).await?;
    let result = extend(&app, &row, &body).await;
    match &result {
        Ok(at) => {
            app.audit(
                Some(&who),
                "extend",
                &name,
                "accepted",
                Some(format!("by={} expires_at={at}", body.by)),
            )
            .await
        }
        Err(e) => {
            app.audit(
                Some(&who),
                "extend",
                &name,
                "rejected",
                Some(e.message.clone()),
            )
            .await
        }
    }
    let at = result?;
    let row = existing(&app, &name).await?;
    // Stamp the new expiry on the tenant's resources, without holding up the answer.
    let backends = app.jobs.engine().backends.clone();
    tokio::spawn(async move {
        if let Ok(tenant) = TenantName::parse(&name)
            && let Err(e) = crate::reap::stamp_expiry(&backends, &tenant, at).await
        {
            tracing::warn!(tenant = %name, error = %e, "could not stamp the new expiry on every resource; the state has it");
        }
    });
    Ok(Json(view(&app, &row)))
}

async fn extend(
    app: &AppState,
    row: &TenantRow,
    body: &Extend,
) -> Result<jiff::Timestamp, ApiError> {
    if matches!(
        row.status,
        TenantStatus::Destroyed | TenantStatus::Destroying
    ) {
        return Err(ApiError::conflict(format!(
            "tenant '{}' is {}; there is nothing to extend",
            row.name, row.status
        )));
    }
    let by = humantime::parse_duration(&body.by).map_err(|e| {
        ApiError::bad_request(format!("by '{}': {e}; write e.g. 1d or 12h", body.by))
    })?;
    let current = row
        .expires_at
        .as_deref()
        .map(|s| s.parse::<jiff::Timestamp>())
        .transpose()
        .map_err(ApiError::internal)?;
    let at = crate::ttl::extend(
        &row.name,
        current,
        by,
        jiff::Timestamp::now(),
        app.config.max_ttl,
    )
    .map_err(|e| ApiError::bad_request(format!("by: {e}")))?;
    app.state
        .set_expiry(&row.name, Some(&at.to_string()))
        .await?;
    Ok(at)
}

#[utoipa::path(post, path = "/api/tenants/{name}/protect", tag = "tenants", request_body = Protect,
    params(("name" = String, Path, description = "tenant name")),
    responses((status = 200, description = "The tenant, protected or not as asked", body = TenantView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn protect_tenant(
    State(app): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
    Json(body): Json<Protect>,
) -> Result<Json<TenantView>, ApiError> {
    let row = existing(&app, &name).await?;
    let action = if body.protected {
        "protect"
    } else {
        "unprotect"
    };
    if !who.is_operator() {
        let why = format!("only an operator may {action} tenants");
        app.audit(Some(&who), action, &name, "denied", Some(why.clone()))
            .await;
        return Err(ApiError::forbidden(why));
    }
    app.state.set_protected(&row.name, body.protected).await?;
    app.audit(Some(&who), action, &name, "accepted", None).await;
    let row = existing(&app, &name).await?;
    Ok(Json(view(&app, &row)))
}
