//! `GET /api/v1/events` (cursor pages, newest first) and `GET /api/v1/events/{id}`.

use super::{ApiError, ApiState, Page, PageQuery, read};
use crate::model::{EventDetail, EventSummary};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

pub async fn list(
    State(state): State<ApiState>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<EventSummary>>, ApiError> {
    let (before, limit) = query.parse()?;
    let page = read(&state.store, move |s| s.list_events(before, limit)).await?;
    Ok(Json(Page {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    reveal: bool,
}

pub async fn show(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Json<EventDetail>, ApiError> {
    let id = parse_id(&id)?;
    let reveal = query.reveal;
    let found = read(&state.store, move |s| {
        let Some((meta, body)) = s.get_event(id)? else {
            return Ok(None);
        };
        let deliveries = s.event_deliveries(id)?;
        Ok(Some(EventDetail::new(meta, &body, deliveries, reveal)))
    })
    .await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no event {id}")))
}

/// `POST /api/v1/events/{id}/replay` body.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub duplicate: bool,
    #[serde(default)]
    pub as_received: bool,
}

pub async fn replay(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Option<Json<ReplayBody>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let config = state.live.borrow().config.clone();
    let request =
        crate::replay::plan(&state.store, &config, id, &body, "api").map_err(|e| match e {
            crate::replay::PlanError::NoSuchEvent => ApiError::NotFound(format!("no event {id}")),
            other => ApiError::BadRequest(other.to_string()),
        })?;
    let made = state.writer.replay(request).await?;
    let deliveries: Vec<_> = made
        .iter()
        .map(|d| {
            serde_json::json!({
                "id": d.id,
                "target": d.target,
                "replay_of": d.replay_of,
                "duplicate": d.duplicate,
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "event_id": id, "deliveries": deliveries }),
    ))
}

pub(super) fn parse_id(text: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(text)
        .map_err(|_| ApiError::BadRequest(format!("{text:?} is not an event id")))
}
