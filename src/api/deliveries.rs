//! `GET /api/v1/deliveries` (newest first, cursor pages) and `GET /api/v1/endpoints` (health).

use super::events::parse_id;
use super::{ApiError, ApiState};
use crate::model::Delivery;
use crate::relay::HealthReport;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeliveryItem {
    pub event_id: Ulid,
    #[serde(flatten)]
    pub delivery: Delivery,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Page {
    pub items: Vec<DeliveryItem>,
    pub next_cursor: Option<Ulid>,
}

pub async fn list(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page>, ApiError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let before = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(parse_id)
        .transpose()?;
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.list_deliveries(before, limit))
        .await
        .map_err(|_| ApiError::BadRequest("the query was cancelled".into()))??;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|(event_id, delivery)| DeliveryItem { event_id, delivery })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

pub async fn endpoints(State(state): State<ApiState>) -> Json<Vec<HealthReport>> {
    Json(state.relay.health().await)
}
