//! `GET /api/v1/events` (cursor pages, newest first, filtered), `GET /api/v1/events/{id}` (an
//! event id, or a delivery id for its event) and `POST /api/v1/events/{id}/replay`.

use super::extract::{ApiBody, ApiPath, ApiQuery, given, variant};
use super::{ApiError, ApiState, PageQuery, read};
use crate::contract::{Page, ReplayBody};
use crate::model::{EventDetail, EventSummary};
use crate::store::EventFilter;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use ulid::Ulid;

/// `?limit=&cursor=&route=&verdict=&state=`, or `after=ID` for oldest first from there (the
/// `next_cursor` of such a page is the next `after`); anything else is a 400.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    after: Option<String>,
    route: Option<String>,
    verdict: Option<String>,
    state: Option<String>,
}

pub async fn list(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<EventSummary>>, ApiError> {
    let (before, limit) = PageQuery::from_text(&query.limit, &query.cursor)?;
    let filter = EventFilter {
        route: given(&query.route).map(str::to_owned),
        verdict: variant("verdict", &query.verdict)?,
        state: variant("state", &query.state)?,
    };
    let after = given(&query.after).map(parse_id).transpose()?;
    if after.is_some() && before.is_some() {
        return Err(ApiError::BadRequest(
            "give cursor (newest first) or after (oldest first), not both".into(),
        ));
    }
    let page = read(&state.store, move |s| match after {
        Some(after) => s.list_events_after(Some(after), limit, &filter),
        None if filter.is_empty() => s.list_events(before, limit),
        None => s.list_events_where(before, limit, &filter),
    })
    .await?;
    Ok(Json(Page {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowQuery {
    #[serde(default)]
    reveal: bool,
}

pub async fn show(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ShowQuery>,
) -> Result<Json<EventDetail>, ApiError> {
    let id = parse_id(&id)?;
    let reveal = query.reveal;
    let mut detail = read(&state.store, move |s| s.event_detail(id, reveal))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event or delivery {id}")))?;
    let circuits = state.relay.open_circuits().await;
    for delivery in &mut detail.deliveries {
        if let Some(reopens) = circuits.get(&delivery.target) {
            delivery.wait_for_circuit(*reopens);
        }
    }
    Ok(Json(detail))
}

pub async fn replay(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiBody(body): ApiBody<ReplayBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let config = state.live.borrow().config.clone();
    let store = state.store.clone();
    let request =
        tokio::task::spawn_blocking(move || crate::replay::plan(&store, &config, id, &body, "api"))
            .await
            .map_err(|_| ApiError::BadRequest("the replay was cancelled".into()))?
            .map_err(|e| match e {
                crate::replay::PlanError::NoSuchEvent => {
                    ApiError::NotFound(format!("no event {id}"))
                }
                crate::replay::PlanError::Store(e) => ApiError::Store(e),
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

/// `?format=jsonl|har`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    format: String,
}

/// `POST /api/v1/import?format=jsonl|har` with an export as the body: all of it or nothing,
/// `{imported, ids}`; a bad file is a 400 naming the line or entry.
pub async fn import(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let format = match query.format.as_str() {
        "jsonl" => crate::export::Format::Jsonl,
        "har" => crate::export::Format::Har,
        other => {
            return Err(ApiError::BadRequest(format!(
                "format: {other:?} is not jsonl or har"
            )));
        }
    };
    let events = tokio::task::spawn_blocking(move || crate::export::parse_import(format, &body))
        .await
        .map_err(|_| ApiError::BadRequest("the import was cancelled".into()))?
        .map_err(|e| ApiError::BadRequest(format!("{e}; nothing was imported")))?;
    let ids = state.writer.import(events, "api").await?;
    Ok(Json(
        serde_json::json!({ "imported": ids.len(), "ids": ids }),
    ))
}

pub(super) fn parse_id(text: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(text)
        .map_err(|_| ApiError::BadRequest(format!("{text:?} is not an event id")))
}
