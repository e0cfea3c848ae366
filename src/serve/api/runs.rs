//! `/api/runs/{id}`: a run's state, its live event stream (server-sent
//! events) and its timeline picture.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio_stream::wrappers::ReceiverStream;

use crate::serve::api::json::{Json, Path};
use crate::serve::app::{ApiError, AppState, Caller, ErrorBody};
use crate::serve::live::LiveRun;
use crate::serve::views::RunView;

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no run '{id}' on this server; a tenant's runs are listed by GET /api/tenants/{{name}}"
    ))
}

#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs",
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, description = "The run: its state, progress and report", body = RunView),
        (status = 404, body = ErrorBody)))]
pub async fn get_run(
    State(app): State<AppState>,
    Caller(_who): Caller,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    match app.jobs.get(&id) {
        Some(live) => Ok(Json(live.view())),
        None => app
            .state
            .run(&id)
            .await?
            .map(|r| Json(RunView::of_row(&r)))
            .ok_or_else(|| unknown(&id)),
    }
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).expect("views serialize"))
}

/// Follows one run: a `snapshot` now and on every change, a `log` per line,
/// and `end` with the final run.
async fn follow(
    live: std::sync::Arc<LiveRun>,
    tx: tokio::sync::mpsc::Sender<Result<Event, Infallible>>,
) {
    let mut view = live.watch();
    let (lines, mut log) = live.log();
    let send = |e: Event| {
        let tx = tx.clone();
        async move { tx.send(Ok(e)).await.is_ok() }
    };
    if !send(json_event("snapshot", &live.view().progress)).await {
        return;
    }
    for line in lines {
        if !send(json_event("log", &serde_json::json!({ "line": line }))).await {
            return;
        }
    }
    loop {
        if live.view().is_finished() {
            break;
        }
        tokio::select! {
            changed = view.changed() => {
                if changed.is_err() { break; }
                let progress = live.view().progress;
                if !send(json_event("snapshot", &progress)).await { return; }
            }
            line = log.recv() => {
                match line {
                    Ok(line) => {
                        if !send(json_event("log", &serde_json::json!({ "line": line }))).await { return; }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
        }
    }
    // Lines sent after the last snapshot, then the end.
    while let Ok(line) = log.try_recv() {
        if !send(json_event("log", &serde_json::json!({ "line": line }))).await {
            return;
        }
    }
    let end = live.view();
    let _ = send(json_event("snapshot", &end.progress)).await;
    let _ = send(json_event("end", &end)).await;
}

/// Follows a run this server does not hold (started by the CLI or another
/// replica) node by node through the state's event log (see
/// `live::StoredRun`): a `snapshot` now and whenever nodes move, and `end`
/// once it has finished.
async fn follow_stored(
    app: AppState,
    run: crate::state::RunRow,
    tx: tokio::sync::mpsc::Sender<Result<Event, Infallible>>,
) {
    let mut stored = match crate::serve::live::StoredRun::open(app.state.clone(), &run).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(run = %run.id, error = %e, "cannot follow a stored run");
            let _ = tx.send(Ok(json_event("end", &RunView::of_row(&run)))).await;
            return;
        }
    };
    if tx
        .send(Ok(json_event("snapshot", &stored.view().progress)))
        .await
        .is_err()
    {
        return;
    }
    while !stored.view().is_finished() {
        if tx.is_closed() {
            return;
        }
        match stored.changed().await {
            Ok(true) => {
                let progress = &stored.view().progress;
                if tx.send(Ok(json_event("snapshot", progress))).await.is_err() {
                    return;
                }
            }
            Ok(false) => break,
            Err(e) => {
                tracing::warn!(run = %run.id, error = %e, "cannot follow a stored run");
                break;
            }
        }
    }
    let _ = tx.send(Ok(json_event("end", stored.view()))).await;
}

/// One server-sent event of a run's stream, as a client reads it (the
/// document's schema for each event; the server writes them as SSE text).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RunEvent {
    /// `snapshot`, `log` or `end`.
    #[schema(pattern = "^(snapshot|log|end)$")]
    pub event: String,
    /// JSON: a Progress (`snapshot`), `{"line": "..."}` (`log`), the Run (`end`).
    pub data: String,
}

#[utoipa::path(get, path = "/api/runs/{id}/events", tag = "runs",
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, description = "Server-sent events: `snapshot` (Progress), `log` ({line}), `end` (Run)",
        body = RunEvent, content_type = "text/event-stream"),
        (status = 404, body = ErrorBody)))]
pub async fn run_events(
    State(app): State<AppState>,
    Caller(_who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    match app.jobs.get(&id) {
        Some(live) => {
            tokio::spawn(follow(live, tx));
        }
        None => {
            let run = app.state.run(&id).await?.ok_or_else(|| unknown(&id))?;
            tokio::spawn(follow_stored(app.clone(), run, tx));
        }
    }
    Ok(Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[utoipa::path(get, path = "/api/runs/{id}/timeline.svg", tag = "runs",
    params(("id" = String, Path, description = "run id")),
    responses((status = 200, description = "The run's timeline (live while it runs)", body = String,
        content_type = "image/svg+xml"),
        (status = 404, body = ErrorBody)))]
pub async fn run_timeline(
    State(app): State<AppState>,
    Caller(_who): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let svg = match app.jobs.get(&id) {
        Some(live) => live.timeline_svg(),
        None => {
            let run = app.state.run(&id).await?.ok_or_else(|| unknown(&id))?;
            let report: crate::budget::Report = run
                .report_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok())
                .ok_or_else(|| {
                    ApiError::not_found(format!("run '{id}' has no report (it never finished)"))
                })?;
            crate::budget::svg::render(&report)
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}
