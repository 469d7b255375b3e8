//! Capture planning: from a request that has arrived (or been made again by edit-and-resend) to
//! what is stored — its inspection, its targets by route and event filter, the wire id and the
//! dedupe rules — and how its sender is answered. The receiver plans every request through here,
//! so a resend is captured by exactly the rules a received event is.

use crate::config::{Dedupe, Respond, StaticAnswer};
use crate::live::{Inspection, Live};
use crate::model::{Header, Timestamp, Verdict};
use crate::store::{Capture, CaptureTarget};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use ulid::Ulid;

/// A request as the receiver read it, before it is checked.
#[derive(Debug, Clone)]
pub struct Arrived {
    pub received_at: Timestamp,
    pub remote_addr: String,
    pub method: String,
    pub path: String,
    /// The raw query string, `""` when absent.
    pub query: String,
    pub headers: Vec<Header>,
    pub body: Bytes,
    /// The event this one was edited from.
    pub resend_of: Option<Ulid>,
}

/// How the sender is answered once the event is on disk.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `reject_invalid` and the signature failed: 401, nothing delivered.
    Rejected,
    /// A verified Slack Request URL check: its challenge, whatever the route's `respond`.
    Challenge(String),
    /// The route's static answer.
    Static(StaticAnswer),
    /// The first target's answer (its delivery is marked `proxy`).
    Proxy,
    /// `200 {"event_id": ...}`.
    Ack,
}

/// What to store and how to answer.
#[derive(Debug)]
pub struct Plan {
    pub capture: Capture,
    pub reply: Reply,
}

/// Checks the request's signature by its route's rule and hashes its body: the CPU-heavy part,
/// which the receiver runs off the async workers for large bodies.
pub fn inspect(live: &Live, arrived: &Arrived) -> (Inspection, String) {
    let route = live.config.route_for(&arrived.path);
    let inspection = live.inspect(&route, &arrived.headers, &arrived.body, arrived.received_at);
    (inspection, hex::encode(Sha256::digest(&arrived.body)))
}

/// Plans the capture of an inspected request under the configuration in force.
pub fn plan(live: &Live, arrived: Arrived, inspection: Inspection, body_sha256: String) -> Plan {
    let route = live.config.route_for(&arrived.path);
    let settings = route.route;
    let reject =
        settings.is_some_and(|r| r.reject_invalid) && inspection.verification.verdict.is_invalid();
    // The id a consumer dedupes on is the sender's own when it has one (so a consumer that
    // dedupes on `X-GitHub-Delivery` or `webhook-id` keeps working through hooklens, re-signed
    // or not), else the delivery's; one a header cannot carry falls back to the delivery's.
    let wire_id = inspection
        .dedupe_key
        .clone()
        .filter(|k| crate::signature::header_safe(k));
    // A refused event is recorded as evidence but goes nowhere.
    let targets: Vec<CaptureTarget> = if reject {
        Vec::new()
    } else {
        live.config
            .targets_for_route(route.name())
            .into_iter()
            .filter(|t| crate::live::accepts(&t.events, inspection.event_type.as_deref()))
            .map(|t| CaptureTarget {
                name: t.name.clone(),
                wire_id: wire_id.clone(),
                claimed: false,
            })
            .collect()
    };
    let challenge = slack_challenge(live, route.name(), &inspection, &arrived.body);
    let proxy = challenge.is_none()
        && !targets.is_empty()
        && settings.is_some_and(|r| r.respond == Respond::Proxy);
    let reply = if reject {
        Reply::Rejected
    } else if let Some(challenge) = challenge {
        Reply::Challenge(challenge)
    } else if let Some(Respond::Static(answer)) = settings.map(|r| &r.respond) {
        Reply::Static(answer.clone())
    } else if proxy {
        Reply::Proxy
    } else {
        Reply::Ack
    };
    let claims_dedupe_key = settings.is_none_or(|r| r.verify.is_none())
        || inspection.verification.verdict == Verdict::Verified;
    let capture = Capture {
        received_at: arrived.received_at,
        route: route.name().to_owned(),
        method: arrived.method,
        query: arrived.query,
        path: arrived.path,
        headers: arrived.headers,
        body_sha256,
        body: arrived.body,
        remote_addr: arrived.remote_addr,
        event_type: inspection.event_type,
        dedupe_key: inspection.dedupe_key,
        claims_dedupe_key,
        resend_of: arrived.resend_of,
        verification: inspection.verification,
        secret_headers: inspection.secret_headers,
        targets,
        drop_duplicate: settings.is_some_and(|r| r.dedupe == Dedupe::Drop),
        proxy,
    };
    Plan { capture, reply }
}

/// A Slack Request URL check (`{"type": "url_verification", "challenge": ...}`) on a route that
/// verifies Slack signatures: its challenge, to be answered whatever the route's `respond`. Only
/// a verified one — answering an unverified one would echo anyone's text back as Slack's.
fn slack_challenge(
    live: &Live,
    route: &str,
    inspection: &Inspection,
    body: &[u8],
) -> Option<String> {
    let slack = live
        .verifier(route)
        .is_some_and(|v| v.scheme().name() == "slack");
    if !slack || inspection.verification.verdict != Verdict::Verified {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    (json["type"] == "url_verification")
        .then(|| json["challenge"].as_str().map(str::to_owned))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn live(toml: &str) -> Live {
        let config = crate::config::parse(toml, std::path::Path::new("t.toml")).unwrap();
        Live::new(config, None, Identity::new("test"))
    }

    fn arrived(path: &str, headers: &[(&str, &str)], body: &str) -> Arrived {
        Arrived {
            received_at: Timestamp::from_unix_millis(1_700_000_000_000),
            remote_addr: "127.0.0.1:1".into(),
            method: "POST".into(),
            path: path.into(),
            query: String::new(),
            headers: headers
                .iter()
                .map(|(n, v)| Header::new(*n, v.as_bytes()))
                .collect(),
            body: Bytes::from(body.to_owned()),
            resend_of: None,
        }
    }

    fn planned(live: &Live, arrived: Arrived) -> Plan {
        let (inspection, sha) = inspect(live, &arrived);
        plan(live, arrived, inspection, sha)
    }

    const CONFIG: &str = r#"
[[routes]]
name = "gh"
path = "/gh"
targets = ["app", "audit"]
reject_invalid = true
[routes.verify]
scheme = "github"
secrets = ["It's a Secret to Everybody"]

[[targets]]
name = "app"
url = "http://127.0.0.1:9/"
events = ["push"]

[[targets]]
name = "audit"
url = "http://127.0.0.1:9/"
"#;

    #[test]
    fn a_verified_event_goes_to_the_targets_its_type_passes_with_the_senders_id() {
        let live = live(CONFIG);
        // GitHub's documented example: "Hello, World!" under "It's a Secret to Everybody"
        // (docs.github.com, "Validating webhook deliveries").
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let arrived = arrived(
            "/gh/hook",
            &[
                ("x-hub-signature-256", sig),
                ("x-github-event", "issues"),
                ("x-github-delivery", "d-1"),
            ],
            "Hello, World!",
        );
        let plan = planned(&live, arrived);
        assert_eq!(plan.reply, Reply::Ack);
        assert_eq!(plan.capture.verification.verdict, Verdict::Verified);
        let targets: Vec<_> = plan
            .capture
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(targets, ["audit"], "app takes push events only");
        assert_eq!(plan.capture.targets[0].wire_id.as_deref(), Some("d-1"));
        assert!(plan.capture.claims_dedupe_key);
    }

    #[test]
    fn a_forged_event_is_refused_recorded_and_claims_no_dedupe_key() {
        let live = live(CONFIG);
        let arrived = arrived(
            "/gh",
            &[
                ("x-hub-signature-256", "sha256=00"),
                ("x-github-delivery", "d-1"),
            ],
            "Hello, World!",
        );
        let plan = planned(&live, arrived);
        assert_eq!(plan.reply, Reply::Rejected);
        assert!(plan.capture.targets.is_empty());
        assert!(!plan.capture.claims_dedupe_key);
        assert_eq!(plan.capture.dedupe_key.as_deref(), Some("d-1"));
    }
}
