//! The server's shared state (configuration, authenticator, runs, metrics,
//! state store), the caller extractor that answers 401, the JSON error type,
//! and the audit helper every state-changing handler goes through.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::auth::{Authenticator, Principal, SESSION_COOKIE};
use super::config::ServeConfig;
use super::jobs::Jobs;
use super::metrics::Metrics;
use crate::state::{AuditRow, StateStore};

pub struct App {
    pub config: ServeConfig,
    pub auth: Authenticator,
    pub jobs: Arc<Jobs>,
    pub metrics: Arc<Metrics>,
    pub state: StateStore,
    /// `GET /api/tenants`'s cache, checked against the store on each request.
    pub tenant_list: super::list_cache::TenantListCache,
    /// Webhook notifications (a notifier with no webhooks sends nothing).
    pub notifier: Arc<super::notify::Notifier>,
    /// The rollouts this server drives now.
    pub rollouts: super::rollouts::Rollouts,
}

pub type AppState = Arc<App>;

impl App {
    /// The configured stack `name`, or a 400 naming the ones offered.
    pub fn offered_stack(&self, name: &str) -> Result<&crate::stack::Stack, ApiError> {
        self.config.stacks.get(name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "stack: '{name}' is not offered here; choose one of {}",
                self.config
                    .stacks
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Writes one audit entry. A failure to write it is logged, never
    /// hidden, but does not undo what was done.
    pub async fn audit(
        &self,
        who: Option<&Principal>,
        action: &str,
        target: &str,
        result: &str,
        detail: Option<String>,
    ) {
        write_audit(
            &self.state,
            who.map_or("anonymous", |p| p.name.as_str()),
            who.map_or("-", |p| p.role.as_str()),
            action,
            target,
            result,
            detail,
        )
        .await;
    }

    /// Tells the webhooks about `event`, in the background (never blocks).
    pub fn notify(&self, event: super::notify::Event) {
        self.notifier.notify(event);
    }
}

/// Writes one audit entry as `actor` (also for the server's own background
/// parts, which have no caller). A failure to write it is logged.
pub async fn write_audit(
    state: &StateStore,
    actor: &str,
    role: &str,
    action: &str,
    target: &str,
    result: &str,
    detail: Option<String>,
) {
    let row = AuditRow {
        at: jiff::Timestamp::now().to_string(),
        actor: actor.into(),
        role: role.into(),
        action: action.into(),
        target: target.into(),
        result: result.into(),
        detail,
    };
    if let Err(e) = state.append_audit(&row).await {
        tracing::error!(error = %e, action, target, "could not write the audit log");
    }
}

/// An error answered as `{"error": "..."}` with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, naming the field and the fix.
    pub error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl From<crate::state::StateError> for ApiError {
    fn from(e: crate::state::StateError) -> Self {
        tracing::error!(error = %e, "state store");
        ApiError::internal(format!("state store: {e}"))
    }
}

/// The authenticated caller: a bearer token, or the page's session cookie.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .unwrap_or_default();
            return app.auth.by_token(token).map(Caller).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "the bearer token is not a configured one; send `Authorization: Bearer <token>` with a token from the server's configuration",
                )
            });
        }
        let jar = CookieJar::from_headers(&parts.headers);
        if let Some(c) = jar.get(SESSION_COOKIE)
            && let Some(p) = app.auth.by_session(&app.state, c.value()).await?
        {
            return Ok(Caller(p));
        }
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "sign in: send `Authorization: Bearer <token>`, or log in on the page",
        ))
    }
}
