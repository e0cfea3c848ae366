//! `/api/login`, `/api/logout`, `/api/whoami`: the page's sign-in with a
//! token, kept as an HttpOnly, same-site session cookie whose session lives
//! in the state store (by digest), so that any replica serves it.

use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::serve::api::json::Json;
use crate::serve::app::{ApiError, AppState, Caller, ErrorBody};
use crate::serve::auth::{Principal, SESSION_COOKIE};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub token: String,
}

#[utoipa::path(post, path = "/api/login", tag = "session", request_body = Login,
    responses((status = 200, body = Principal, description = "signed in; sets the session cookie"),
        (status = 401, body = ErrorBody),
        (status = 500, body = ErrorBody, description = "the state store could not record the session")))]
pub async fn login(
    State(app): State<AppState>,
    jar: CookieJar,
    Json(body): Json<Login>,
) -> Result<(CookieJar, Json<Principal>), ApiError> {
    let Some(who) = app.auth.by_token(body.token.trim()) else {
        app.audit(None, "login", "-", "denied", Some("unknown token".into()))
            .await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token: not a configured token; ask an operator for yours",
        ));
    };
    let session = app.auth.open_session(&app.state, &who).await?;
    app.audit(Some(&who), "login", "-", "accepted", None).await;
    let cookie = Cookie::build((SESSION_COOKIE, session))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(app.config.secure_cookie)
        .path("/")
        .build();
    Ok((jar.add(cookie), Json(who)))
}

#[utoipa::path(post, path = "/api/logout", tag = "session",
    responses((status = 204, description = "signed out on every replica; clears the session cookie"),
        (status = 500, body = ErrorBody, description = "the state store could not end the session; the cookie is kept so that logging out can be tried again")))]
pub async fn logout(
    State(app): State<AppState>,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode), ApiError> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        app.auth.close_session(&app.state, c.value()).await?;
    }
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    ))
}

#[utoipa::path(get, path = "/api/whoami", tag = "session",
    responses((status = 200, description = "Who the credentials name, and their role", body = Principal)))]
pub async fn whoami(Caller(who): Caller) -> Json<Principal> {
    Json(who)
}
