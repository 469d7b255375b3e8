//! `events list` and `events show`: through a running instance's control API, or straight from the
//! history file when none runs (a stale `instance.json` is ignored).

use super::{EventsCommand, Failure, output};
use crate::instance::DataDir;
use crate::model::{EventDetail, EventSummary};
use crate::store::{Store, StoreOptions};
use anyhow::{Context, anyhow};
use std::path::PathBuf;
use std::time::Duration;
use ulid::Ulid;

pub async fn run(
    _config: Option<PathBuf>,
    data: Option<PathBuf>,
    command: EventsCommand,
) -> Result<(), Failure> {
    let data = DataDir::resolve(data.as_deref()).map_err(Failure::usage)?;
    let source = Source::open(&data).await?;
    match command {
        EventsCommand::List { json, limit } => {
            let items = source.list(limit).await?;
            output::print_list(&items, json)?;
        }
        EventsCommand::Show { id, json, reveal } => {
            let id = Ulid::from_string(&id)
                .map_err(|_| Failure::usage(anyhow!("{id:?} is not an event id")))?;
            let detail = source
                .show(id, reveal)
                .await?
                .ok_or_else(|| Failure::failed(anyhow!("no event {id}")))?;
            output::print_show(&detail, json)?;
        }
    }
    Ok(())
}

/// Where the history is read from.
pub enum Source {
    Api {
        client: reqwest::Client,
        base: String,
        token: String,
    },
    File(Option<Store>),
}

impl Source {
    pub async fn open(data: &DataDir) -> Result<Source, Failure> {
        if let (Some(info), Some(token)) = (data.read_instance(), data.existing_token()) {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(1))
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
        let (store, _writer) = Store::open(StoreOptions::new(&path))
            .with_context(|| format!("cannot open the history {}", path.display()))?;
        Ok(Source::File(Some(store)))
    }

    pub async fn list(&self, limit: usize) -> Result<Vec<EventSummary>, Failure> {
        match self {
            Source::Api {
                client,
                base,
                token,
            } => {
                #[derive(serde::Deserialize)]
                struct Page {
                    items: Vec<EventSummary>,
                    next_cursor: Option<Ulid>,
                }
                let mut items = Vec::new();
                let mut cursor: Option<Ulid> = None;
                while items.len() < limit {
                    let mut url = format!(
                        "{base}/api/v1/events?limit={}",
                        (limit - items.len()).min(1000)
                    );
                    if let Some(c) = cursor {
                        url.push_str(&format!("&cursor={c}"));
                    }
                    let page: Page = api_get(client, &url, token).await?;
                    items.extend(page.items);
                    match page.next_cursor {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                Ok(items)
            }
            Source::File(None) => Ok(Vec::new()),
            Source::File(Some(store)) => {
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
            Source::File(Some(store)) => {
                let store = store.clone();
                let found = tokio::task::spawn_blocking(move || store.get_event(id))
                    .await
                    .map_err(|e| Failure::failed(anyhow!(e)))??;
                Ok(found.map(|(meta, body)| EventDetail::new(meta, &body, Vec::new(), reveal)))
            }
        }
    }
}

async fn api_get<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<T, Failure> {
    let response = client.get(url).bearer_auth(token).send().await?;
    decode(response).await
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
