//! Where commands read and change the history: a running instance's control API, or the history
//! file itself when none runs (a stale `instance.json` is ignored).

use super::Failure;
use crate::api::Page;
use crate::instance::DataDir;
use crate::model::{EventDetail, EventSummary};
use crate::store::{Store, StoreOptions, Writer};
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
    File(Option<(Store, Writer)>),
}

impl Source {
    pub async fn open(data: &DataDir) -> Result<Source, Failure> {
        if let (Some(info), Some(token)) = (data.read_instance(), data.existing_token()) {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(1))
                .no_proxy()
                .build()?;
            let base = format!("http://{}", info.api);
            let alive = client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if alive {
                return Ok(Source::Api {
                    client,
                    base,
                    token,
                });
            }
        }
        let path = data.history();
        if !path.exists() {
            return Ok(Source::File(None));
        }
        let opened = Store::open(StoreOptions::new(&path))
            .with_context(|| format!("cannot open the history {}", path.display()))?;
        Ok(Source::File(Some(opened)))
    }

    pub async fn list(&self, limit: usize) -> Result<Vec<EventSummary>, Failure> {
        match self {
            Source::Api { .. } => {
                let mut items = Vec::new();
                let mut cursor: Option<Ulid> = None;
                while items.len() < limit {
                    let mut path =
                        format!("/api/v1/events?limit={}", (limit - items.len()).min(1000));
                    if let Some(c) = cursor {
                        path.push_str(&format!("&cursor={c}"));
                    }
                    let page: Page<EventSummary> = self.get(&path).await?;
                    items.extend(page.items);
                    match page.next_cursor {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                Ok(items)
            }
            Source::File(None) => Ok(Vec::new()),
            Source::File(Some((store, _))) => {
                let store = store.clone();
                let page = tokio::task::spawn_blocking(move || store.list_events(None, limit))
                    .await
                    .map_err(|e| Failure::failed(anyhow!(e)))??;
                Ok(page.items)
            }
        }
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
            Source::File(Some((store, _))) => {
                let store = store.clone();
                let found = tokio::task::spawn_blocking(move || {
                    let Some((meta, body)) = store.get_event(id)? else {
                        return Ok(None);
                    };
                    let deliveries = store.event_deliveries(id)?;
                    Ok::<_, crate::store::StoreError>(Some(EventDetail::new(
                        meta, &body, deliveries, reveal,
                    )))
                })
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

async fn decode<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, Failure> {
    let status = response.status();
    let bytes = response.bytes().await?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| status.to_string());
        return Err(Failure::failed(anyhow!(
            "the running instance answered: {message}"
        )));
    }
    Ok(serde_json::from_slice(&bytes)
        .context("the running instance answered something unexpected")?)
}
