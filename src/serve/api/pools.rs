//! `GET /api/pools`: the warm pools of the stacks on offer, as `envctl get
//! pools` shows them: members by status, hits and misses, and what the
//! idle members cost per day.

use std::collections::BTreeSet;

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::pool::status::{PoolLevel, levels};
use crate::serve::api::json::Json;
use crate::serve::app::{ApiError, AppState, Caller};

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
    let members = app.state.pool_members(None).await?;
    let claims = app.state.pool_claims().await?;
    let now = jiff::Timestamp::now();
    let mut seen = BTreeSet::new();
    let mut pools = Vec::new();
    for stack in app.config.stacks.values() {
        for level in levels(stack, &members, &claims, &app.config.cost.table, now) {
            // Two names on offer for one stack file share its pools.
            if seen.insert(level.pool.clone()) {
                pools.push(level);
            }
        }
    }
    pools.sort_by(|a, b| a.pool.cmp(&b.pool));
    Ok(Json(PoolList { pools }))
}
