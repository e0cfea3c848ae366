//! `/api/rollouts`: start a rollout of a configured stack across tenants
//! (operator only), list and show rollouts with each tenant's place in
//! them, follow one live (server-sent events), pause, resume and abort it.
//! Every state-changing request is audited, allowed or not.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::ReceiverStream;
use utoipa::ToSchema;

use crate::lifecycle::{RolloutStatus, RolloutTenantStatus};
use crate::release::Snapshot;
use crate::release::rollout::{self, Batch, RolloutEvent, Spec, Summary};
use crate::serve::api::json::{Json, Path};
use crate::serve::app::{ApiError, AppState, Caller, ErrorBody};
use crate::serve::auth::Principal;
use crate::state::RolloutTenantRow;

/// The longest soak a request may ask for: a gate longer than this is a
/// rollout nobody watches.
const MAX_SOAK_SECONDS: u64 = 3600;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRollout {
    /// One of the configured stacks (GET /api/stacks): the same content
    /// for every tenant. Give this, or `service` and `tag`.
    #[schema(min_length = 1)]
    pub stack: Option<String>,
    /// A catalog service whose image tag changes in each tenant's own
    /// stack (with `tag`); everything else each tenant runs stays.
    #[schema(min_length = 1, max_length = 63)]
    pub service: Option<String>,
    /// The image tag `service` gets, e.g. `4.3.0`.
    #[schema(min_length = 1, max_length = 128)]
    pub tag: Option<String>,
    /// Which tenants: comma-separated names or globs (`acme,shop-*`).
    /// Give this or `all`, not both.
    #[schema(min_length = 1, max_length = 2000)]
    pub tenants: Option<String>,
    /// Every tenant with a recorded revision.
    #[serde(default)]
    pub all: bool,
    /// Tenants in the first wave, alone (default 0: no canary).
    #[schema(maximum = 1000)]
    pub canary: Option<u32>,
    /// Tenants per later wave: a number (`3`) or a share (`25%`); default `25%`.
    #[schema(pattern = "^([1-9][0-9]{0,3}|([1-9][0-9]?|100)%)$")]
    pub batch: Option<String>,
    /// Failed tenants tolerated; one more stops the rollout (default 0).
    #[schema(maximum = 1000)]
    pub max_failures: Option<u32>,
    /// At most this many tenants being changed at once within a wave
    /// (default: the whole wave).
    #[schema(minimum = 1, maximum = 1000)]
    pub max_unavailable: Option<u32>,
    /// How long each tenant's Deployments must stay available after they
    /// rolled out, in seconds (default 10).
    #[schema(maximum = 3600)]
    pub soak_seconds: Option<u64>,
    /// After the soak, GET this URL for each tenant (`{tenant}` replaced by
    /// its name); it must answer 2xx three times in a row.
    #[schema(min_length = 1, max_length = 2000)]
    pub http_check_url: Option<String>,
    /// How long that check may take, in seconds (default 60).
    #[schema(minimum = 1, maximum = 3600)]
    pub http_check_timeout_seconds: Option<u64>,
    /// Resources of the stack whose replacement (losing their data) is
    /// allowed in this rollout.
    #[serde(default)]
    pub allow_replace: Vec<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RolloutTenantView {
    pub tenant: String,
    /// 0 for the canary wave (when there is one), then 1, 2, ...
    pub wave: i64,
    pub status: RolloutTenantStatus,
    /// The revision it ran when it was started.
    pub from_revision: Option<i64>,
    /// The revision the rollout recorded for it (its upgrade or rollback).
    pub to_revision: Option<i64>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// Why it is in its status (a refusal, a failed gate, ...).
    pub message: Option<String>,
}

impl RolloutTenantView {
    fn of(t: &RolloutTenantRow) -> Self {
        Self {
            tenant: t.tenant.clone(),
            wave: t.wave,
            status: t.status,
            from_revision: t.from_revision,
            to_revision: t.to_revision,
            started_at: t.started_at.clone(),
            ended_at: t.ended_at.clone(),
            message: t.message.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RolloutView {
    pub id: String,
    pub status: RolloutStatus,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Why it is in its status (the failure that stopped it, who paused it).
    pub message: Option<String>,
    /// What is rolled out: the stack file, or the change (`service orders
    /// tag 4.3.0`, `catalog DIR`) made in each tenant's own stack.
    pub stack: String,
    /// The tenants as selected (`--all` for every one).
    pub selector: String,
    pub canary: usize,
    pub batch: String,
    pub max_failures: usize,
    /// At most this many tenants changed at once; `null`: a whole wave.
    pub max_unavailable: Option<usize>,
    pub soak_seconds: u64,
    /// The URL each tenant's gate requests after the soak (`{tenant}` for
    /// its name); `null`: no HTTP check.
    pub http_check_url: Option<String>,
    pub allow_replace: Vec<String>,
    /// How many tenants are in each status.
    pub counts: BTreeMap<String, usize>,
    /// Whether this server is driving it now (else it is over, paused, or
    /// driven by another process).
    pub driven_here: bool,
    /// In rollout order, wave by wave.
    pub tenants: Vec<RolloutTenantView>,
}

impl RolloutView {
    fn of(s: &Summary, driven_here: bool) -> Self {
        let mut counts = BTreeMap::new();
        for t in &s.tenants {
            *counts.entry(t.status.as_str().to_string()).or_insert(0) += 1;
        }
        Self {
            id: s.rollout.id.clone(),
            status: s.rollout.status,
            created_by: s.rollout.created_by.clone(),
            created_at: s.rollout.created_at.clone(),
            updated_at: s.rollout.updated_at.clone(),
            message: s.rollout.message.clone(),
            stack: s.spec.what(),
            selector: s.spec.selector.clone(),
            canary: s.spec.canary,
            batch: s.spec.batch.to_string(),
            max_failures: s.spec.max_failures,
            max_unavailable: s.spec.max_unavailable,
            soak_seconds: s.spec.soak().as_secs(),
            http_check_url: s.spec.http_check.as_ref().map(|c| c.url.clone()),
            allow_replace: s.spec.allow_replace.clone(),
            counts,
            driven_here,
            tenants: s.tenants.iter().map(RolloutTenantView::of).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RolloutList {
    /// Newest first.
    pub rollouts: Vec<RolloutView>,
}

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no rollout '{id}' in the state store; GET /api/rollouts lists them"
    ))
}

async fn view(app: &AppState, id: &str) -> Result<RolloutView, ApiError> {
    let summary = Summary::load(&app.state, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| unknown(id))?;
    Ok(RolloutView::of(&summary, app.rollouts.follow(id).is_some()))
}

/// Refuses anyone but an operator, audited.
async fn operator_only(
    app: &AppState,
    who: &Principal,
    action: &str,
    target: &str,
) -> Result<(), ApiError> {
    if who.is_operator() {
        return Ok(());
    }
    let why = format!("only an operator may {action} a rollout");
    app.audit(
        Some(who),
        &format!("rollout.{action}"),
        target,
        "denied",
        Some(why.clone()),
    )
    .await;
    Err(ApiError::forbidden(why))
}

#[utoipa::path(get, path = "/api/rollouts", tag = "rollouts",
    responses((status = 200, description = "Every rollout, newest first", body = RolloutList)))]
pub async fn list_rollouts(
    State(app): State<AppState>,
    Caller(_who): Caller,
) -> Result<Json<RolloutList>, ApiError> {
    let mut rollouts = Vec::new();
    for row in app.state.rollouts().await? {
        rollouts.push(view(&app, &row.id).await?);
    }
    rollouts.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    Ok(Json(RolloutList { rollouts }))
}

/// The spec of a request and the tenants it selects, every bad input found
/// before anything is recorded.
async fn checked(app: &AppState, body: &StartRollout) -> Result<(Spec, Vec<String>), ApiError> {
    let stack = match (&body.stack, &body.service, &body.tag) {
        (Some(name), None, None) => Some((name, app.offered_stack(name)?)),
        (None, Some(_), Some(_)) => None,
        _ => {
            return Err(ApiError::bad_request(
                "stack, service, tag: say what to roll out: `stack` (one of GET /api/stacks), or `service` and `tag` (one service's image tag in each tenant's own stack), not both",
            ));
        }
    };
    let selector = match (&body.tenants, body.all) {
        (Some(t), false) => t.clone(),
        (None, true) => "--all".to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "tenants, all: say which tenants: `tenants` (names or globs, e.g. \"acme,shop-*\") or `all: true`, not both",
            ));
        }
    };
    let batch = Batch::parse(body.batch.as_deref().unwrap_or("25%"))
        .map_err(|e| ApiError::bad_request(format!("batch: {e}")))?;
    let soak = body
        .soak_seconds
        .map_or(rollout::DEFAULT_SOAK, Duration::from_secs);
    if body.max_unavailable == Some(0) {
        return Err(ApiError::bad_request(
            "max_unavailable: at least 1 (leave it out for a whole wave at once)",
        ));
    }
    if soak.as_secs() > MAX_SOAK_SECONDS {
        return Err(ApiError::bad_request(format!(
            "soak_seconds: at most {MAX_SOAK_SECONDS}"
        )));
    }
    let http_check = match &body.http_check_url {
        Some(url) => Some(
            rollout::http_check::HttpCheck::new(
                url,
                body.http_check_timeout_seconds
                    .map_or(rollout::http_check::DEFAULT_TIMEOUT, Duration::from_secs),
            )
            .map_err(|e| ApiError::bad_request(format!("http_check_url: {e}")))?,
        ),
        None if body.http_check_timeout_seconds.is_some() => {
            return Err(ApiError::bad_request(
                "http_check_timeout_seconds: goes with http_check_url; give the URL too, or leave the timeout out",
            ));
        }
        None => None,
    };
    for id in &body.allow_replace {
        let Some((name, stack)) = &stack else {
            return Err(ApiError::bad_request(format!(
                "allow_replace: '{id}': a service rollout changes only a service, which holds no data; allow_replace goes with `stack`"
            )));
        };
        if stack.resource(id).is_none() {
            return Err(ApiError::bad_request(format!(
                "allow_replace: stack '{name}' has no resource '{id}'"
            )));
        }
    }
    let known = rollout::rollable(&app.state).await?;
    let tenants = if body.all {
        known
    } else {
        rollout::plan::select(&selector, &known)
            .map_err(|e| ApiError::bad_request(format!("tenants: {e}")))?
    };
    if tenants.is_empty() {
        return Err(ApiError::bad_request(
            "all: no tenant has a recorded revision yet: there is nothing to roll out to",
        ));
    }
    let (path, content_json, change) = match &stack {
        Some((_, stack)) => (
            Some(std::path::absolute(&stack.path).map_err(ApiError::internal)?),
            Snapshot::of(stack, &stack.environment)
                .map_err(ApiError::bad_request)?
                .to_json(),
            None,
        ),
        None => {
            let change = rollout::change::TenantChange {
                catalog: None,
                service_tag: Some(rollout::change::ServiceTag {
                    service: body.service.clone().unwrap_or_default(),
                    tag: body.tag.clone().unwrap_or_default(),
                }),
            };
            let mut latest = Vec::new();
            for t in &tenants {
                latest.extend(app.state.revision(t, None).await?);
            }
            rollout::change::check(&change, &latest, None, &app.config.builtins)
                .map_err(|e| ApiError::bad_request(format!("service, tag: {e}")))?;
            (None, String::new(), Some(change))
        }
    };
    Ok((
        Spec {
            stack: path,
            change,
            environment: None,
            selector,
            canary: body.canary.unwrap_or(0) as usize,
            batch,
            max_failures: body.max_failures.unwrap_or(0) as usize,
            max_unavailable: body.max_unavailable.map(|n| n as usize),
            soak_ms: soak.as_millis() as u64,
            http_check,
            allow_replace: body.allow_replace.clone(),
            domain: app.config.builtins.domain.clone(),
            content_json,
        },
        tenants,
    ))
}

#[utoipa::path(post, path = "/api/rollouts", tag = "rollouts", request_body = StartRollout,
    responses((status = 202, description = "Recorded and started: the rollout as planned", body = RolloutView),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn start_rollout(
    State(app): State<AppState>,
    Caller(who): Caller,
    Json(body): Json<StartRollout>,
) -> Result<(StatusCode, Json<RolloutView>), ApiError> {
    let what = match (&body.stack, &body.service, &body.tag) {
        (Some(stack), _, _) => stack.clone(),
        (None, Some(service), Some(tag)) => format!("service {service} tag {tag}"),
        _ => "nothing".to_string(),
    };
    operator_only(&app, &who, "start", &what).await?;
    let (spec, tenants) = match checked(&app, &body).await {
        Ok(ok) => ok,
        Err(e) => {
            app.audit(
                Some(&who),
                "rollout.start",
                &what,
                "refused",
                Some(e.message.clone()),
            )
            .await;
            return Err(e);
        }
    };
    let id = rollout::record(&app.state, &spec, &tenants, Some(&who.name))
        .await
        .map_err(ApiError::internal)?;
    app.audit(
        Some(&who),
        "rollout.start",
        &id,
        "accepted",
        Some(format!(
            "{} tenants={} canary={} batch={} max_failures={}",
            spec.what(),
            tenants.len(),
            spec.canary,
            spec.batch,
            spec.max_failures
        )),
    )
    .await;
    crate::serve::rollouts::drive(&app, &id, (&who.name, who.role.as_str()));
    Ok((StatusCode::ACCEPTED, Json(view(&app, &id).await?)))
}

#[utoipa::path(get, path = "/api/rollouts/{id}", tag = "rollouts",
    params(("id" = String, Path, description = "rollout id")),
    responses((status = 200, description = "The rollout and each tenant's place in it", body = RolloutView),
        (status = 404, body = ErrorBody)))]
pub async fn get_rollout(
    State(app): State<AppState>,
    Caller(_who): Caller,
    Path(id): Path<String>,
) -> Result<Json<RolloutView>, ApiError> {
    Ok(Json(view(&app, &id).await?))
}

/// `pause` → `paused`, ...
fn past(action: &str) -> &'static str {
    match action {
        "pause" => "paused",
        "abort" => "aborted",
        _ => "resumed",
    }
}

/// Moves rollout `id` from one of `from` to `to`, audited as `action`.
async fn transition(
    app: &AppState,
    who: &Principal,
    id: &str,
    action: &str,
    from: &[RolloutStatus],
    to: RolloutStatus,
) -> Result<RolloutView, ApiError> {
    operator_only(app, who, action, id).await?;
    let current = view(app, id).await?;
    let note = format!("{} by {}", past(action), who.name);
    if !app.state.move_rollout(id, from, to, Some(&note)).await? {
        let why = format!(
            "rollout {id} is {}: it cannot be {} now",
            current.status.as_str(),
            past(action)
        );
        app.audit(
            Some(who),
            &format!("rollout.{action}"),
            id,
            "refused",
            Some(why.clone()),
        )
        .await;
        return Err(ApiError::conflict(why));
    }
    app.audit(Some(who), &format!("rollout.{action}"), id, "ok", None)
        .await;
    view(app, id).await
}

#[utoipa::path(post, path = "/api/rollouts/{id}/pause", tag = "rollouts",
    params(("id" = String, Path, description = "rollout id")),
    responses((status = 200, description = "Paused: no further tenant starts (those under way finish their step)", body = RolloutView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn pause_rollout(
    State(app): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<RolloutView>, ApiError> {
    let view = transition(
        &app,
        &who,
        &id,
        "pause",
        &[RolloutStatus::Running],
        RolloutStatus::Paused,
    )
    .await?;
    Ok(Json(view))
}

#[utoipa::path(post, path = "/api/rollouts/{id}/abort", tag = "rollouts",
    params(("id" = String, Path, description = "rollout id")),
    responses((status = 200, description = "Aborted: no further tenant starts; pending ones stay as they are", body = RolloutView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn abort_rollout(
    State(app): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Json<RolloutView>, ApiError> {
    let view = transition(
        &app,
        &who,
        &id,
        "abort",
        &[RolloutStatus::Running, RolloutStatus::Paused],
        RolloutStatus::Aborted,
    )
    .await?;
    Ok(Json(view))
}

#[utoipa::path(post, path = "/api/rollouts/{id}/resume", tag = "rollouts",
    params(("id" = String, Path, description = "rollout id")),
    responses((status = 202, description = "Resumed on this server: a paused rollout, or a running one whose driver stopped (a crash)", body = RolloutView),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resume_rollout(
    State(app): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RolloutView>), ApiError> {
    operator_only(&app, &who, "resume", &id).await?;
    let current = view(&app, &id).await?;
    match current.status {
        RolloutStatus::Paused => {
            transition(
                &app,
                &who,
                &id,
                "resume",
                &[RolloutStatus::Paused],
                RolloutStatus::Running,
            )
            .await?;
        }
        RolloutStatus::Running if current.driven_here => {
            return Err(ApiError::conflict(format!(
                "rollout {id} is running on this server already"
            )));
        }
        RolloutStatus::Running => {
            app.audit(Some(&who), "rollout.resume", &id, "ok", None)
                .await;
        }
        other => {
            let why = format!(
                "rollout {id} is {}: it is over, nothing to resume",
                other.as_str()
            );
            app.audit(
                Some(&who),
                "rollout.resume",
                &id,
                "refused",
                Some(why.clone()),
            )
            .await;
            return Err(ApiError::conflict(why));
        }
    }
    // A driver in another process holds the rollout's lock: this one then
    // stops at once, and the audit says so.
    crate::serve::rollouts::drive(&app, &id, (&who.name, who.role.as_str()));
    Ok((StatusCode::ACCEPTED, Json(view(&app, &id).await?)))
}

fn json_event(name: &str, data: &impl Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).expect("views serialize"))
}

/// How often a rollout driven elsewhere is read again from the store.
const STORE_POLL: Duration = Duration::from_secs(1);

/// Follows one rollout: a `snapshot` now and after every change (each
/// tenant move of a rollout driven here comes as `tenant` first), and `end`
/// once its driver stopped or it is over.
async fn follow(
    app: AppState,
    id: String,
    tx: tokio::sync::mpsc::Sender<Result<Event, Infallible>>,
) {
    let send = |e: Event| {
        let tx = tx.clone();
        async move { tx.send(Ok(e)).await.is_ok() }
    };
    let mut live = app.rollouts.follow(&id);
    let mut last = match view(&app, &id).await {
        Ok(v) => v,
        Err(_) => return,
    };
    if !send(json_event("snapshot", &last)).await {
        return;
    }
    loop {
        let over = last.status.is_final() || last.status == RolloutStatus::Paused;
        if live.is_none() && over {
            break;
        }
        match live.as_mut() {
            Some(rx) => match rx.recv().await {
                Ok(e) => {
                    if matches!(e, RolloutEvent::Tenant { .. })
                        && !send(json_event("tenant", &e)).await
                    {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => live = None,
            },
            None => {
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(STORE_POLL).await;
                live = app.rollouts.follow(&id);
            }
        }
        let Ok(now) = view(&app, &id).await else {
            return;
        };
        let changed = serde_json::to_string(&now).ok() != serde_json::to_string(&last).ok();
        last = now;
        if changed && !send(json_event("snapshot", &last)).await {
            return;
        }
    }
    let _ = send(json_event("end", &last)).await;
}

/// One server-sent event of a rollout's stream, as a client reads it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RolloutStreamEvent {
    /// `snapshot`, `tenant` or `end`.
    #[schema(pattern = "^(snapshot|tenant|end)$")]
    pub event: String,
    /// JSON: a Rollout (`snapshot`, `end`), a tenant's move (`tenant`).
    pub data: String,
}

#[utoipa::path(get, path = "/api/rollouts/{id}/events", tag = "rollouts",
    params(("id" = String, Path, description = "rollout id")),
    responses((status = 200, description = "Server-sent events: `snapshot` (Rollout) now and on every change, `tenant` (a tenant's move), `end` (Rollout)",
        body = RolloutStreamEvent, content_type = "text/event-stream"),
        (status = 404, body = ErrorBody)))]
pub async fn rollout_events(
    State(app): State<AppState>,
    Caller(_who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    view(&app, &id).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(follow(app, id, tx));
    Ok(Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
