//! Where commands read and change the history: a running instance's control API, or the history
//! file itself when none runs (a stale `instance.json` is ignored).

use super::Failure;
use crate::contract::{DeliveryItem, Page};
use crate::instance::DataDir;
use crate::model::{EventDetail, EventSummary};
use crate::store::{DeliveryFilter, EventFilter, Store, StoreOptions, Writer};
use anyhow::{Context, anyhow};
use std::time::Duration;
use ulid::Ulid;

pub enum Source {
    Api {
        client: reqwest::Client,
        base: String,
        token: String,
    },
    /// `None`: there is no history yet.
    File(Option<History>),
}

/// What a command does to the history file when no instance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only reads: the file is opened read-only (its schema is never upgraded).
    Read,
    /// Writes too (a replay, a pause): opened with a writer (made when there is none yet).
    Write,
}

/// The history file, opened by this command.
pub struct History {
    pub store: Store,
    writer: Option<Writer>,
}

impl History {
    /// The writer of a history opened with [`Access::Write`].
    pub fn writer(&self) -> Result<&Writer, Failure> {
        self.writer
            .as_ref()
            .ok_or_else(|| Failure::failed(anyhow!("internal: the history was opened read-only")))
    }
}

impl Source {
    pub async fn open(data: &DataDir, access: Access) -> Result<Source, Failure> {
        // An instance runs only while it holds the history's lock; and the token goes only to
        // the one that wrote `instance.json` (after a crash, anything may listen on its port).
        if let (Some(info), Some(token)) = (data.read_instance(), data.existing_token())
            && in_use(&data.history())
        {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(1))
                .no_proxy()
                .build()?;
            let base = format!("http://{}", info.api);
            if answers_as(&client, &base, &info.instance_id).await {
                return Ok(Source::Api {
                    client,
                    base,
                    token,
                });
            }
        }
        let path = data.history();
        if access == Access::Read && !path.exists() {
            return Ok(Source::File(None));
        }
        if access == Access::Write {
            data.prepare()
                .with_context(|| format!("cannot make {}", data.path().display()))?;
        }
        let options = StoreOptions::new(&path);
        let history = match access {
            Access::Read => Store::open_read_only(options).map(|store| History {
                store,
                writer: None,
            }),
            Access::Write => Store::open(options).map(|(store, writer)| History {
                store,
                writer: Some(writer),
            }),
        }
        .with_context(|| format!("cannot open the history {}", path.display()))?;
        Ok(Source::File(Some(history)))
    }

    pub async fn list(
        &self,
        limit: usize,
        filter: &EventFilter,
    ) -> Result<Vec<EventSummary>, Failure> {
        match self {
            Source::Api { .. } => {
                let mut query = vec![];
                if let Some(route) = &filter.route {
                    query.push(("route", route.clone()));
                }
                if let Some(verdict) = filter.verdict {
                    query.push(("verdict", verdict.as_str().to_owned()));
                }
                if let Some(state) = filter.state {
                    query.push(("state", super::output::json_name(&state)));
                }
                self.pages("/api/v1/events", query, limit).await
            }
            Source::File(None) => Ok(Vec::new()),
            Source::File(Some(history)) => {
                let (store, filter) = (history.store.clone(), filter.clone());
                let page = tokio::task::spawn_blocking(move || {
                    store.list_events_where(None, limit, &filter)
                })
                .await
                .map_err(|e| Failure::failed(anyhow!(e)))??;
                Ok(page.items)
            }
        }
    }

    /// Deliveries, newest first, matching `filter`.
    pub async fn deliveries(
        &self,
        limit: usize,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryItem>, Failure> {
        match self {
            Source::Api { .. } => {
                let mut query = vec![];
                if let Some(state) = filter.state {
                    query.push(("state", state.as_str().to_owned()));
                }
                if let Some(target) = &filter.target {
                    query.push(("target", target.clone()));
                }
                if let Some(event) = filter.event {
                    query.push(("event", event.to_string()));
                }
                self.pages("/api/v1/deliveries", query, limit).await
            }
            Source::File(None) => Ok(Vec::new()),
            Source::File(Some(history)) => {
                let (store, filter) = (history.store.clone(), filter.clone());
                let page = tokio::task::spawn_blocking(move || {
                    store.list_deliveries_where(None, limit, &filter)
                })
                .await
                .map_err(|e| Failure::failed(anyhow!(e)))??;
                Ok(page
                    .items
                    .into_iter()
                    .map(|(event_id, delivery)| DeliveryItem { event_id, delivery })
                    .collect())
            }
        }
    }

    /// Up to `limit` items of a list route, page after page.
    async fn pages<T: serde::de::DeserializeOwned>(
        &self,
        route: &str,
        query: Vec<(&str, String)>,
        limit: usize,
    ) -> Result<Vec<T>, Failure> {
        let mut items = Vec::new();
        let mut cursor: Option<Ulid> = None;
        while items.len() < limit {
            let mut url = reqwest::Url::parse("http://instance").expect("a valid base");
            url.set_path(route);
            {
                let mut pairs = url.query_pairs_mut();
                pairs.append_pair("limit", &(limit - items.len()).min(1000).to_string());
                for (name, value) in &query {
                    pairs.append_pair(name, value);
                }
                if let Some(c) = cursor {
                    pairs.append_pair("cursor", &c.to_string());
                }
            }
            let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
            let page: Page<T> = self.get(&path).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(items)
    }

    pub async fn show(&self, id: Ulid, reveal: bool) -> Result<Option<EventDetail>, Failure> {
        match self {
            Source::Api {
                client,
                base,
                token,
            } => {
                let url = format!("{base}/api/v1/events/{id}?reveal={reveal}");
                let response = client.get(url).bearer_auth(token).send().await?;
                if response.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                Ok(Some(decode(response).await?))
            }
            Source::File(None) => Ok(None),
            Source::File(Some(history)) => {
                let store = history.store.clone();
                let found = tokio::task::spawn_blocking(move || store.event_detail(id, reveal))
                    .await
                    .map_err(|e| Failure::failed(anyhow!(e)))??;
                Ok(found)
            }
        }
    }

    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let response = self.api(reqwest::Method::GET, path)?.send().await?;
        decode(response).await
    }

    pub async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, Failure> {
        let response = self
            .api(reqwest::Method::POST, path)?
            .json(body)
            .send()
            .await?;
        decode(response).await
    }

    /// A POST of raw bytes (a file handed over as it is).
    pub async fn post_bytes<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, Failure> {
        let response = self
            .api(reqwest::Method::POST, path)?
            .body(body)
            .send()
            .await?;
        decode(response).await
    }

    /// A POST without a body to a route that names something (`/api/v1/targets/{name}/pause`):
    /// a name the instance does not know (404) is a usage error, as the same name would be
    /// without an instance.
    pub async fn post_to_named<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, Failure> {
        let response = self.api(reqwest::Method::POST, path)?.send().await?;
        let not_found = response.status() == reqwest::StatusCode::NOT_FOUND;
        decode(response).await.map_err(|failure| {
            if not_found {
                Failure::usage(failure.error)
            } else {
                failure
            }
        })
    }

    /// An authorised request to the running instance's control API.
    fn api(&self, method: reqwest::Method, path: &str) -> Result<reqwest::RequestBuilder, Failure> {
        match self {
            Source::Api {
                client,
                base,
                token,
            } => Ok(client
                .request(method, format!("{base}{path}"))
                .bearer_auth(token)),
            Source::File(_) => Err(Failure::failed(anyhow!("no running instance"))),
        }
    }
}

/// Whether a process holds the history file (a running instance does, for its whole life).
fn in_use(history: &std::path::Path) -> bool {
    matches!(
        Store::open_read_only(StoreOptions::new(history)),
        Err(crate::store::StoreError::Locked(_))
    )
}

/// Whether `/healthz` at `base` answers with `instance_id`: the instance that wrote
/// `instance.json`, not another process on its old port. Nothing secret is sent to ask.
async fn answers_as(client: &reqwest::Client, base: &str, instance_id: &str) -> bool {
    let Ok(response) = client.get(format!("{base}/healthz")).send().await else {
        return false;
    };
    if !response.status().is_success() {
        return false;
    }
    let Ok(body) = response.json::<serde_json::Value>().await else {
        return false;
    };
    !instance_id.is_empty() && body["instance_id"].as_str() == Some(instance_id)
}

async fn decode<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, Failure> {
    let status = response.status();
    let bytes = response.bytes().await?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| status.to_string());
        let error = anyhow!("the running instance answered: {message}");
        // A request the instance refused as malformed (an unknown target, a bad filter) is a
        // usage error, like the same mistake made without an instance.
        return Err(if status == reqwest::StatusCode::BAD_REQUEST {
            Failure::usage(error)
        } else {
            Failure::failed(error)
        });
    }
    Ok(serde_json::from_slice(&bytes)
        .context("the running instance answered something unexpected")?)
}
