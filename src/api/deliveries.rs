//! `GET /api/v1/deliveries` (newest first, cursor pages, filtered) and `POST
//! /api/v1/deliveries/replay` (bulk: dead letters to their own targets).

use super::extract::{ApiBody, ApiQuery, given, variant};
use super::{ApiError, ApiState, PageQuery, read};
use crate::contract::{BulkReplayBody, DeliveryItem, Page};
use crate::store::DeliveryFilter;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

/// `?state=&target=&event=&limit=&cursor=`; anything else is a 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    state: Option<String>,
    target: Option<String>,
    event: Option<String>,
}

pub async fn list(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<DeliveryItem>>, ApiError> {
    let (before, limit) = PageQuery::from_text(&query.limit, &query.cursor)?;
    let filter = DeliveryFilter {
        state: variant("state", &query.state)?,
        target: given(&query.target).map(str::to_owned),
        event: given(&query.event)
            .map(super::events::parse_id)
            .transpose()?,
    };
    let page = read(&state.store, move |s| {
        if filter == DeliveryFilter::default() {
            s.list_deliveries(before, limit)
        } else {
            s.list_deliveries_where(before, limit, &filter)
        }
    })
    .await?;
    let circuits = state.relay.open_circuits().await;
    let items = page
        .items
        .into_iter()
        .map(|(event_id, mut delivery)| {
            if let Some(reopens) = circuits.get(&delivery.target) {
                delivery.wait_for_circuit(*reopens);
            }
            DeliveryItem { event_id, delivery }
        })
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

pub async fn replay(
    State(state): State<ApiState>,
    ApiBody(body): ApiBody<BulkReplayBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let wanted =
        crate::replay::bulk_state(&body.state).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let config = state.live.borrow().config.clone();
    let store = state.store.clone();
    let requests = tokio::task::spawn_blocking(move || {
        crate::replay::plan_bulk(
            &store,
            &config,
            wanted,
            body.target.as_deref(),
            body.since,
            "api",
        )
    })
    .await
    .map_err(|_| ApiError::BadRequest("the replay was cancelled".into()))?
    .map_err(|e| match e {
        crate::replay::PlanError::Store(e) => ApiError::Store(e),
        other => ApiError::BadRequest(other.to_string()),
    })?;
    let made = crate::replay::queue_all(&state.writer, requests).await?;
    Ok(Json(serde_json::json!({ "replayed": made.len() })))
}
