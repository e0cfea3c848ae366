//! `/api/tenants/{name}/hibernate` and `/api/tenants/{name}/wake`: start a
//! hibernate or wake run in the background (202 with its id), or answer 200
//! when there is nothing to do. Requesters may do it to their own tenants,
//! operators to any; every request is audited, allowed or not.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::hibernate::{self, Decision};
use crate::serve::api::json::{Json, Path};
use crate::serve::api::tenants::{existing, require_change, view};
use crate::serve::app::{ApiError, AppState, Caller, ErrorBody};
use crate::serve::auth::Principal;
use crate::serve::views::TenantView;
use crate::tenant::TenantName;

#[derive(Serialize, ToSchema)]
pub struct HibernationStarted {
    pub tenant: TenantView,
    /// The run doing it: GET /api/runs/{id} shows it once started, with
    /// its report when finished.
    pub run_id: String,
    /// `hibernate` or `wake`.
    pub operation: String,
}

#[derive(Serialize, ToSchema)]
pub struct NothingToDo {
    pub tenant: TenantView,
    /// Why nothing was started, e.g. "tenant 'x' is awake (ready) already".
    pub message: String,
}

#[utoipa::path(post, path = "/api/tenants/{name}/hibernate", tag = "tenants",
    params(("name" = String, Path, description = "tenant name")),
    responses(
        (status = 202, description = "A hibernate run started", body = HibernationStarted),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn hibernate_tenant(
    State(app): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    start(&app, &who, &name, Op::Hibernate).await
}

#[utoipa::path(post, path = "/api/tenants/{name}/wake", tag = "tenants",
    params(("name" = String, Path, description = "tenant name")),
    responses(
        (status = 202, description = "A wake run started", body = HibernationStarted),
        (status = 200, description = "The tenant is awake already", body = NothingToDo),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn wake_tenant(
    State(app): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    start(&app, &who, &name, Op::Wake).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Hibernate,
    Wake,
}

impl Op {
    /// The operation a run of the state names, if it is one of these.
    pub fn of(operation: crate::lifecycle::Operation) -> Option<Op> {
        use crate::lifecycle::Operation;
        match operation {
            Operation::Hibernate => Some(Op::Hibernate),
            Operation::Wake => Some(Op::Wake),
            Operation::Create | Operation::Destroy => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Hibernate => "hibernate",
            Op::Wake => "wake",
        }
    }
}

async fn start(app: &AppState, who: &Principal, name: &str, op: Op) -> Result<Response, ApiError> {
    let action = op.as_str();
    let row = existing(app, name).await?;
    require_change(app, who, action, &row).await?;
    let result = decide(app, name, op, who).await;
    match result {
        Ok(run_id) => {
            app.audit(
                Some(who),
                action,
                name,
                "accepted",
                Some(format!("run={run_id}")),
            )
            .await;
            let row = existing(app, name).await?;
            Ok((
                StatusCode::ACCEPTED,
                Json(HibernationStarted {
                    tenant: view(app, &row),
                    run_id,
                    operation: action.into(),
                }),
            )
                .into_response())
        }
        Err(Answer::Nothing(message)) => {
            app.audit(
                Some(who),
                action,
                name,
                "nothing-to-do",
                Some(message.clone()),
            )
            .await;
            Ok((
                StatusCode::OK,
                Json(NothingToDo {
                    tenant: view(app, &row),
                    message,
                }),
            )
                .into_response())
        }
        Err(Answer::Error(e)) => {
            app.audit(Some(who), action, name, "rejected", Some(e.message.clone()))
                .await;
            Err(e)
        }
    }
}

enum Answer {
    Nothing(String),
    Error(ApiError),
}

/// Refuses while another run of the tenant goes on here or its status
/// does not allow `op`; otherwise starts the run and answers its id.
async fn decide(app: &AppState, name: &str, op: Op, who: &Principal) -> Result<String, Answer> {
    if let Some(run) = app.jobs.active_for(name) {
        return Err(Answer::Error(ApiError::conflict(format!(
            "tenant '{name}' has a {} run going ({}); wait for it to finish",
            run.operation, run.id
        ))));
    }
    let decision = hibernate::check(&app.state, name, op == Op::Hibernate)
        .await
        .map_err(|e| Answer::Error(ApiError::internal(e)))?;
    match decision {
        Decision::Proceed => {}
        Decision::AlreadyDone(why) => return Err(Answer::Nothing(why)),
        Decision::Refuse(why) => return Err(Answer::Error(ApiError::conflict(why))),
    }
    let tenant =
        TenantName::parse(name).map_err(|e| Answer::Error(ApiError::bad_request(e.to_string())))?;
    let run_id = crate::engine::new_run_id();
    crate::serve::hibernation::spawn_run(
        app.clone(),
        tenant,
        op,
        run_id.clone(),
        format!("requested by {}", who.name),
    );
    Ok(run_id)
}
