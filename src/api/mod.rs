//! The control API: its own loopback listener, a bearer token on every route but `/healthz` and
//! `/metrics`, JSON errors `{error, message}`, every JSON body safe for a terminal.

mod deliveries;
mod error;
mod events;
mod extract;
mod targets;

pub use error::ApiError;

use crate::live::LiveRx;
use crate::relay::Relay;
use crate::store::{Store, Writer};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub writer: Writer,
    pub relay: Relay,
    pub live: LiveRx,
    token: Arc<str>,
}

impl ApiState {
    pub fn new(store: Store, writer: Writer, relay: Relay, live: LiveRx, token: &str) -> Self {
        ApiState {
            store,
            writer,
            relay,
            live,
            token: token.into(),
        }
    }
}

pub fn router(state: ApiState) -> Router {
    let authed = Router::new()
        .route("/api/v1/events", get(events::list))
        .route("/api/v1/events/{id}", get(events::show))
        .route("/api/v1/events/{id}/replay", post(events::replay))
        .route(
            "/api/v1/import",
            // An export of many events is one body.
            post(events::import).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
        )
        .route("/api/v1/deliveries", get(deliveries::list))
        .route("/api/v1/deliveries/replay", post(deliveries::replay))
        .route("/api/v1/endpoints", get(targets::endpoints))
        .route("/api/v1/targets/{name}/pause", post(targets::pause))
        .route("/api/v1/targets/{name}/resume", post(targets::resume))
        .route("/api/v1/targets/{name}/probe", post(targets::probe))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(authed)
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(middleware::from_fn(json_safe_bodies))
        .with_state(state)
}

/// Every JSON body the API answers goes through [`crate::text::json_safe`]: `curl` prints it as it
/// is, and serde_json leaves DEL, C1 and bidi characters raw. One layer over the whole router, so
/// no route, error or fallback can forget it. Our JSON bodies are bounded pages that axum already
/// holds in memory, so reading one whole here costs a pass over it, not a buffer.
async fn json_safe_bodies(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, "control API answer could not be read");
            return ApiError::Unavailable("the answer could not be made".into()).into_response();
        }
    };
    let body = match crate::text::json_safe(&bytes) {
        Cow::Borrowed(_) => Body::from(bytes),
        Cow::Owned(safe) => {
            // Escapes make the body longer; the new body's own length is sent instead.
            parts.headers.remove(CONTENT_LENGTH);
            Body::from(safe)
        }
    };
    Response::from_parts(parts, body)
}

/// The largest export `POST /api/v1/import` takes at once.
const MAX_IMPORT_BYTES: usize = 512 * 1024 * 1024;

/// `?limit=&cursor=` of the list routes: newest first, the cursor exclusive.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PageQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

impl PageQuery {
    const DEFAULT_LIMIT: usize = 50;
    const MAX_LIMIT: usize = 1000;

    /// The exclusive upper key and the page size.
    fn parse(&self) -> Result<(Option<ulid::Ulid>, usize), ApiError> {
        let limit = self
            .limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT);
        let before = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(events::parse_id)
            .transpose()?;
        Ok((before, limit))
    }

    /// The same from a query whose values are text (an empty value means "not given").
    fn from_text(
        limit: &Option<String>,
        cursor: &Option<String>,
    ) -> Result<(Option<ulid::Ulid>, usize), ApiError> {
        let limit = extract::given(limit)
            .map(|l| {
                l.parse::<usize>()
                    .map_err(|_| ApiError::BadRequest(format!("limit: {l:?} is not a number")))
            })
            .transpose()?;
        PageQuery {
            limit,
            cursor: cursor.clone(),
        }
        .parse()
    }
}

/// Runs a store read off the async workers (a long page must not stall other requests).
async fn read<T: Send + 'static>(
    store: &Store,
    query: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || query(&store))
        .await
        .map_err(|_| ApiError::BadRequest("the query was cancelled".into()))?
        .map_err(ApiError::from)
}

/// `{"status": "ok", "instance_id": "..."}`: the id in `instance.json`, which a command checks
/// before it sends the token (whatever else listens on a stale file's port gets nothing).
async fn healthz(State(state): State<ApiState>) -> axum::Json<serde_json::Value> {
    let id = state.live.borrow().identity.id().to_owned();
    axum::Json(serde_json::json!({ "status": "ok", "instance_id": id }))
}

async fn require_token(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(state.token.as_bytes())) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// The token of an `Authorization: Bearer TOKEN` value; the scheme's name is matched without
/// regard to case (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A running control API.
pub struct ApiServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ApiServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Serves the API on an already bound listener.
pub fn serve(listener: TcpListener, state: ApiState) -> std::io::Result<ApiServer> {
    let local_addr = listener.local_addr()?;
    let (stop, mut stopped) = watch::channel(false);
    let app = router(state);
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.changed().await;
        };
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "control API stopped");
        }
    });
    Ok(ApiServer {
        local_addr,
        stop,
        task,
    })
}
