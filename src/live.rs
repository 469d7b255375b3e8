//! The configuration in force and what is derived from it, swapped as one `Arc` on each reload so
//! a request sees one consistent version from start to end.

use crate::config::{Config, RouteMatch, SchemeName};
use crate::model::{Header, Timestamp, Verdict, Verification};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

pub type LiveRx = watch::Receiver<Arc<Live>>;

pub struct Live {
    pub config: Config,
    pub config_path: Option<PathBuf>,
}

/// What the receiver learns from a request before storing it.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub verification: Verification,
    pub event_type: Option<String>,
    pub dedupe_key: Option<String>,
    /// Captured headers that carry a secret on this route (shown redacted).
    pub secret_headers: Vec<String>,
}

impl Live {
    pub fn new(config: Config, config_path: Option<PathBuf>) -> Self {
        Live {
            config,
            config_path,
        }
    }

    /// Checks the request's signature by its route's rule, and reads its event facts.
    pub fn inspect(
        &self,
        route: &RouteMatch<'_, '_>,
        _headers: &[Header],
        _body: &[u8],
        _now: Timestamp,
    ) -> Inspection {
        let verify = route.route.and_then(|r| r.verify.as_ref());
        let secret_headers = match verify {
            Some(v) if v.scheme == SchemeName::HeaderSecret => vec![
                v.header
                    .as_deref()
                    .unwrap_or("x-webhook-secret")
                    .to_ascii_lowercase(),
            ],
            _ => Vec::new(),
        };
        Inspection {
            verification: Verification::bare(None, Verdict::Unsigned),
            event_type: None,
            dedupe_key: None,
            secret_headers,
        }
    }
}
