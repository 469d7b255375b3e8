//! `GET /api/v1/deliveries` (newest first, cursor pages) and `GET /api/v1/endpoints` (health).

use super::{ApiError, ApiState, Page, PageQuery, read};
use crate::model::Delivery;
use crate::relay::HealthReport;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

#[derive(Debug, Serialize, Deserialize)]
pub struct DeliveryItem {
    pub event_id: Ulid,
    #[serde(flatten)]
    pub delivery: Delivery,
}

pub async fn list(
    State(state): State<ApiState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<DeliveryItem>>, ApiError> {
    let (before, limit) = query.parse()?;
    let page = read(&state.store, move |s| s.list_deliveries(before, limit)).await?;
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
