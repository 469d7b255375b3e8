//! The control API's request bodies and pages: what the API reads and answers, the CLI sends and
//! reads back, and the replay planner takes. Kept apart from `api` so that none of them reaches
//! into another's module for a shape.

use crate::model::Delivery;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

/// One page of a list route: `{items, next_cursor}`, `next_cursor` null on the last page.
#[derive(Debug, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Ulid>,
}

/// One item of `GET /api/v1/deliveries`: a delivery with its event's id.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliveryItem {
    pub event_id: Ulid,
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// `POST /api/v1/events/{id}/replay` body.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    #[serde(default)]
    pub to: Option<String>,
    /// Only these configured targets (names).
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    #[serde(default)]
    pub duplicate: bool,
    #[serde(default)]
    pub as_received: bool,
}

/// `POST /api/v1/deliveries/replay` body.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BulkReplayBody {
    /// `dead` or `failed`.
    pub state: String,
    #[serde(default)]
    pub target: Option<String>,
    /// Only deliveries newer than this id (exclusive).
    #[serde(default)]
    pub since: Option<Ulid>,
}
