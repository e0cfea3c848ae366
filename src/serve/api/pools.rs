//! `GET /api/pools`: the warm pools of the stacks on offer, as `envctl get
//! pools` shows them: members by status, hits and misses, and what the
//! idle members cost per day.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::pool::status::PoolLevel;
use crate::serve::api::json::Json;
use crate::serve::app::{ApiError, AppState, Caller};
use crate::serve::pools::offered_levels;

#[derive(Serialize, ToSchema)]
pub struct PoolList {
    /// One row per pooled resource of a stack on offer, by pool name.
    pub pools: Vec<PoolLevel>,
}

#[utoipa::path(get, path = "/api/pools", tag = "admin",
    responses((status = 200, description = "The warm pools of the stacks on offer: levels, hits and misses, idle cost per day", body = PoolList)))]
pub async fn list_pools(
    State(app): State<AppState>,
    Caller(_who): Caller,
) -> Result<Json<PoolList>, ApiError> {
    Ok(Json(PoolList {
        pools: offered_levels(&app).await?,
    }))
}
