//! Planning a replay: which targets, how it is signed, who asked. Shared by the control API, the
//! `replay` command and (later) the interface, so all three replay the same way.

use crate::api::ReplayBody;
use crate::config::Config;
use crate::model::SendMode;
use crate::store::{Planned, ReplayRequest, Store};
use ulid::Ulid;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("no such event")]
    NoSuchEvent,
    #[error("the event has no target to replay to; give one with --to URL (API: \"to\")")]
    NoTarget,
    #[error("{0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// To `to` when given; else to every target the event was delivered to, or, if it never was,
/// the targets its route goes to now.
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
    let targets = match &body.to {
        Some(url) => {
            let ok = reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(PlanError::BadUrl(url.to_string()));
            }
            vec![Planned {
                target: url.to_string(),
                url: Some(url.to_string()),
            }]
        }
        None => {
            let mut names: Vec<String> = Vec::new();
            for d in store.event_deliveries(event)? {
                if !names.contains(&d.target) {
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
            names
                .into_iter()
                .map(|target| Planned { target, url: None })
                .collect()
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
