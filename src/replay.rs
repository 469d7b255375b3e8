//! Planning a replay: which targets, how it is signed, who asked. Shared by the control API, the
//! `replay` command and (later) the interface, so all three replay the same way.

use crate::config::Config;
use crate::contract::ReplayBody;
use crate::model::{DeliveryRecord, DeliveryState, SendMode};
use crate::store::{Planned, ReplayRequest, Store, StoreError, Writer};
use crate::text::escape;
use std::collections::HashMap;
use ulid::Ulid;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no such event")]
    NoSuchEvent,
    #[error("the event has no target to replay to; give one with --to URL (API: \"to\")")]
    NoTarget,
    #[error("{0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("give either a URL (--to) or target names (--target), not both")]
    ToAndTargets,
    /// A target name the configuration does not have (so a delivery queued to it could only
    /// fire later, to whatever some other configuration calls that name).
    #[error("no target named {name:?} in the configuration (configured: {known}); {hint}")]
    UnknownTarget {
        name: String,
        known: String,
        hint: &'static str,
    },
    #[error("bulk replay takes --state dead or --state failed, not {0:?}")]
    BulkState(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// To `to` when given; to the named `targets` when given; else to every named target the event
/// was delivered to (never an ad-hoc `--to` URL), or, if it never was, the targets its route
/// goes to now. Every named target must be in `config`.
pub fn plan(
    store: &Store,
    config: &Config,
    event: Ulid,
    body: &ReplayBody,
    actor: &str,
) -> Result<ReplayRequest, PlanError> {
    let Some((meta, _)) = store.get_event(event)? else {
        return Err(PlanError::NoSuchEvent);
    };
    let chosen = body.targets.as_deref().filter(|t| !t.is_empty());
    let targets = match (&body.to, chosen) {
        (Some(_), Some(_)) => return Err(PlanError::ToAndTargets),
        (Some(url), None) => {
            let ok = reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(PlanError::BadUrl(url.to_string()));
            }
            // Named by the URL, its password (if any) as `***`: the name is shown everywhere;
            // the URL itself is kept for the request only.
            vec![Planned {
                target: crate::text::redact_url(url).into_owned(),
                url: Some(url.to_string()),
            }]
        }
        (None, Some(names)) => named(
            config,
            names.iter().cloned(),
            "the names are those of [[targets]] in the configuration, and forward-N for --forward",
        )?,
        (None, None) => {
            let mut names: Vec<String> = Vec::new();
            // A delivery with its own URL was an ad-hoc `--to`: asked for once, not a target.
            for d in store.event_delivery_records(event)? {
                if d.url.is_none() && !names.contains(&d.target) {
                    names.push(d.target);
                }
            }
            if names.is_empty() {
                names = config
                    .targets_for_route(&meta.route)
                    .into_iter()
                    .map(|t| t.name.clone())
                    .collect();
            }
            named(
                config,
                names,
                "choose configured ones with --target NAME, or a URL with --to",
            )?
        }
    };
    if targets.is_empty() {
        return Err(PlanError::NoTarget);
    }
    Ok(ReplayRequest {
        event_id: event,
        targets,
        mode: if body.as_received {
            SendMode::AsReceived
        } else {
            SendMode::Replay
        },
        duplicate: body.duplicate,
        actor: actor.to_owned(),
    })
}

/// The state a bulk replay takes: dead letters, or deliveries that failed for good.
pub fn bulk_state(text: &str) -> Result<DeliveryState, PlanError> {
    match text {
        "dead" => Ok(DeliveryState::Dead),
        "failed" => Ok(DeliveryState::Failed),
        other => Err(PlanError::BulkState(other.to_owned())),
    }
}

/// Every delivery in `state` (to `target`, newer than `since`) that has not been replayed since,
/// replayed to its own target: one request per event. Nothing is planned unless every target
/// is in `config`.
pub fn plan_bulk(
    store: &Store,
    config: &Config,
    state: DeliveryState,
    target: Option<&str>,
    since: Option<Ulid>,
    actor: &str,
) -> Result<Vec<ReplayRequest>, PlanError> {
    if let Some(name) = target {
        named(
            config,
            [name.to_owned()],
            "the names are those of [[targets]] in the configuration, and forward-N for --forward",
        )?;
    }
    let mut requests: Vec<ReplayRequest> = Vec::new();
    let mut of_event: HashMap<Ulid, usize> = HashMap::new();
    for d in store.replayable(state, target, since)? {
        named(
            config,
            [d.target.clone()],
            "narrow the replay with --target NAME",
        )?;
        let planned = Planned {
            target: d.target,
            url: None,
        };
        match of_event.get(&d.event_id) {
            Some(&i) => requests[i].targets.push(planned),
            None => {
                of_event.insert(d.event_id, requests.len());
                requests.push(ReplayRequest {
                    event_id: d.event_id,
                    targets: vec![planned],
                    mode: SendMode::Replay,
                    duplicate: false,
                    actor: actor.to_owned(),
                });
            }
        }
    }
    Ok(requests)
}

/// The named targets, each once, each checked against the configuration.
fn named(
    config: &Config,
    names: impl IntoIterator<Item = String>,
    hint: &'static str,
) -> Result<Vec<Planned>, PlanError> {
    let mut out: Vec<Planned> = Vec::new();
    for name in names {
        if config.target(&name).is_none() {
            let known: Vec<String> = config
                .targets
                .iter()
                .map(|t| escape(&t.name).into_owned())
                .collect();
            return Err(PlanError::UnknownTarget {
                name,
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
                hint,
            });
        }
        if !out.iter().any(|p| p.target == name) {
            out.push(Planned {
                target: name,
                url: None,
            });
        }
    }
    Ok(out)
}

/// Queues many replays at once. They go to the writer together, so its group commit takes them
/// in a few transactions rather than one commit each. An event pruned meanwhile is left out.
pub async fn queue_all(
    writer: &Writer,
    requests: Vec<ReplayRequest>,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let mut made = Vec::new();
    for chunk in requests.chunks(QUEUE_CHUNK) {
        let mut calls = tokio::task::JoinSet::new();
        for request in chunk.iter().cloned() {
            let writer = writer.clone();
            calls.spawn(async move { writer.replay(request).await });
        }
        while let Some(done) = calls.join_next().await {
            match done.map_err(|_| StoreError::WriterGone)? {
                Ok(records) => made.extend(records),
                Err(StoreError::NoSuchEvent(_)) => {}
                Err(other) => return Err(other),
            }
        }
    }
    made.sort_by_key(|d| d.id);
    Ok(made)
}

/// Replays sent to the writer at once: within one batch of the writer's group commit.
const QUEUE_CHUNK: usize = 512;
