//! `envctl serve`: the HTTP API, the web page, background runs, the audit
//! log, metrics and the reaper's schedule — on the same engine and state as
//! the command line.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod drift;
pub mod hibernation;
pub mod jobs;
pub mod list_cache;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod page;
pub mod pools;
pub mod resume;
pub mod rollouts;
pub mod schedule;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use app::{App, AppState};
pub use config::ServeConfig;

use crate::engine::Engine;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "envctl",
        description = "Request, watch, extend and destroy single-tenant environments; roll a stack out across them. Authenticate with `Authorization: Bearer <token>` or the session cookie set by POST /api/login. Roles: viewer (read), requester (create; extend and destroy own tenants), operator (everything)."
    ),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "tenants", description = "Tenants and the stacks they are made from"),
        (name = "runs", description = "Creates and destroys, live"),
        (name = "rollouts", description = "A stack rolled out across tenants in health-gated waves"),
        (name = "session", description = "Signing in for the page"),
        (name = "admin", description = "Audit log, reaper, metrics, health"),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

/// The documented API's routes: a new route goes here, so that it is in
/// the OpenAPI document (see the conventions in `api/mod.rs`).
fn api_routes() -> OpenApiRouter<AppState> {
    use api::{admin, hibernate, pools, rollouts, runs, session, tenants};
    OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(session::whoami))
        .routes(routes!(admin::list_stacks))
        .routes(routes!(tenants::list_tenants, tenants::create_tenant))
        .routes(routes!(tenants::get_tenant, tenants::destroy_tenant))
        .routes(routes!(tenants::extend_tenant))
        .routes(routes!(tenants::protect_tenant))
        .routes(routes!(hibernate::hibernate_tenant))
        .routes(routes!(hibernate::wake_tenant))
        .routes(routes!(tenants::tenant_drift))
        .routes(routes!(tenants::cost_totals))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::run_events))
        .routes(routes!(runs::run_timeline))
        .routes(routes!(rollouts::list_rollouts, rollouts::start_rollout))
        .routes(routes!(rollouts::get_rollout))
        .routes(routes!(rollouts::rollout_events))
        .routes(routes!(rollouts::pause_rollout))
        .routes(routes!(rollouts::resume_rollout))
        .routes(routes!(rollouts::abort_rollout))
        .routes(routes!(pools::list_pools))
        .routes(routes!(admin::list_audit))
        .routes(routes!(admin::reap_now))
        .routes(routes!(admin::metrics))
        .routes(routes!(admin::healthz))
}

/// The served OpenAPI document, with the conventions of `api/mod.rs` applied.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api_routes().split_for_parts();
    utoipa::Modify::modify(&api::openapi::Conventions, &mut doc);
    doc
}

/// The whole server: the documented API, its OpenAPI document and the page;
/// anything else answers a JSON 404 or 405.
pub fn router(app: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (api, mut doc) = api_routes().split_for_parts();
    utoipa::Modify::modify(&api::openapi::Conventions, &mut doc);
    let json = Arc::new(
        doc.to_pretty_json()
            .expect("the OpenAPI document serializes"),
    );
    let router = api
        .route(
            api::openapi::OPENAPI_PATH,
            get(move || {
                let json = json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        json.as_ref().clone(),
                    )
                }
            }),
        )
        .route("/", get(page::index))
        .route("/assets/app.js", get(page::app_js))
        .route("/assets/style.css", get(page::style_css))
        .fallback(api::json::not_found)
        .method_not_allowed_fallback(api::json::method_not_allowed)
        .with_state(app);
    (router, doc)
}

/// Builds the server's state around `engine` (its backends and state store).
pub fn app(config: ServeConfig, engine: Engine) -> AppState {
    let metrics = Arc::new(metrics::Metrics::new());
    let state = engine.state.clone();
    let notifier =
        notify::Notifier::new(config.notifications.clone(), state.clone(), metrics.clone());
    let jobs = jobs::Jobs::new(
        engine,
        config.max_concurrent_runs,
        metrics.clone(),
        notifier.clone(),
    );
    Arc::new(App {
        tenant_list: list_cache::TenantListCache::new(api::tenants::list_envelope()),
        auth: auth::Authenticator::new(&config.tokens),
        config,
        jobs,
        metrics,
        state,
        notifier,
        rollouts: rollouts::Rollouts::default(),
    })
}

/// Serves on `listener` until SIGTERM or Ctrl-C. Runs still going then are
/// resumed from the intent log by the next start (every journal write is one
/// row, so stopping at any point is safe).
pub async fn serve(app: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    tokio::spawn(resume::resume_unfinished(app.clone()));
    tokio::spawn(hibernation::run(app.clone()));
    tokio::spawn(pools::run(app.clone()));
    if let Some(every) = app.config.drift_check_every {
        tracing::info!(every = %humantime::format_duration(every), "drift check scheduled");
        tokio::spawn(drift::run(app.clone(), every));
    }
    if let Some(schedule) = app.config.reaper.clone() {
        tracing::info!(schedule = %schedule.expression, orphans = schedule.orphans, "reaper scheduled");
        tokio::spawn(schedule::run_schedule(app.clone(), schedule));
    }
    if app.notifier.wanted("tenant.expiring")
        && !app.config.notifications.expiry_warnings.is_empty()
    {
        tokio::spawn(notify::expiry::watch(
            app.notifier.clone(),
            app.state.clone(),
        ));
    }
    let (router, _) = router(app);
    tokio::select! {
        served = axum::serve(listener, router) => served,
        _ = stop_signal() => {
            eprintln!("envctl serve: stopping; unfinished runs resume at the next start");
            Ok(())
        }
    }
}

async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
