//! The request a delivery sends: the target URL (with `append_path`) and the headers — the
//! sender's own passed through byte for byte, or re-signed.

use crate::config::{AppendPath, Config, SignScheme, TargetConfig};
use crate::live::{self, Live};
use crate::model::{DeliveryRecord, EventMeta, Header, SendMode};
use crate::signature::{self, Secret};
use bytes::Bytes;

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus those the client sets.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Everything needed to make one attempt.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: String,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: Bytes,
    /// Said in the attempt when the relay changed what the sender sent.
    pub note: Option<String>,
    /// Why the signature the target needs could not be made (every secret expired, an id or
    /// event type a header cannot carry): the attempt is recorded as `sign_failed` and nothing
    /// is sent.
    pub sign_failed: Option<String>,
}

/// The settings deliveries to `name` are made with: the configured target, or defaults for a
/// replay to a URL (whose target is named by the URL). `None` when the target is no longer
/// configured (its deliveries wait for it to return).
pub fn settings(config: &Config, name: &str) -> Option<TargetConfig> {
    match config.target(name) {
        Some(t) => Some(t.clone()),
        None if name.starts_with("http://") || name.starts_with("https://") => {
            Some(TargetConfig::new(name, name))
        }
        None => None,
    }
}

pub fn build(
    live: &Live,
    target: &TargetConfig,
    record: &DeliveryRecord,
    event: &EventMeta,
    body: Bytes,
    now_secs: i64,
) -> Outgoing {
    let rest = live.config.route_for(&event.path).rest;
    // A replay `--to URL` keeps its URL (password and all) on the delivery; its name shows it
    // redacted.
    let base = record.url.as_deref().unwrap_or(&target.url);
    let url = target_url(base, target.append_path, rest, &event.query);
    let original: Vec<Header> = event
        .headers
        .iter()
        .filter(|h| !HOP_BY_HOP.contains(&h.name.as_str()))
        .cloned()
        .collect();
    let id = record.wire_id.as_str();
    let route_scheme = live.verifier(&event.route).map(|v| v.scheme());
    let resign = |scheme: &signature::Scheme, secrets: &[Secret], note: String| {
        let fresh = signature::try_sign(
            scheme,
            secrets,
            &body,
            now_secs,
            Some(id),
            event.event_type.as_deref(),
        );
        match fresh {
            Ok(fresh) => {
                let fresh = in_senders_families(fresh, &original);
                let kept =
                    without_sender_credentials(original.clone(), event, route_scheme, scheme);
                (signed(kept, fresh), Some(note), None)
            }
            Err(error) => (
                Vec::new(),
                None,
                Some(format!("{}: {error}", scheme.name())),
            ),
        }
    };
    let (headers, note, sign_failed) = match (record.mode, &target.sign.scheme) {
        (SendMode::AsReceived, _) => (
            original.clone(),
            Some("sent as received (--as-received)".into()),
            None,
        ),
        (_, SignScheme::Resign(name)) => {
            let sign = &target.sign;
            let scheme = live::scheme(
                *name,
                sign.header.as_deref(),
                sign.prefix.as_deref(),
                sign.encoding,
                sign.timestamp_header.as_deref(),
                sign.signed.as_deref(),
            );
            let secrets = live::secrets(&sign.secrets);
            let note = format!("re-signed with the target's {} secret", scheme.name());
            resign(&scheme, &secrets, note)
        }
        (SendMode::Target, SignScheme::Passthrough) => (original.clone(), None, None),
        (SendMode::Replay, SignScheme::Passthrough) => match live.verifier(&event.route) {
            Some(v) if !v.secrets().is_empty() => {
                let note = format!(
                    "re-signed with route {:?}'s {} secret and a fresh timestamp",
                    event.route,
                    v.scheme().name()
                );
                resign(v.scheme(), v.secrets(), note)
            }
            _ => (
                original.clone(),
                Some("sent as received: the route has no secret to re-sign with".into()),
                None,
            ),
        },
    };
    let mut headers = headers;
    if target.forwarded_headers && record.mode != SendMode::AsReceived {
        add_forwarded(&mut headers, event);
    }
    // Even as received: the loop check of a receiver down the line must see this hop.
    live.identity.add_via(&mut headers);
    Outgoing {
        method: event.method.clone(),
        url,
        headers,
        body,
        note,
        sign_failed,
    }
}

/// This hop, the way proxies say it: the sender's address appended to `X-Forwarded-For`, and
/// `X-Forwarded-Proto` / `X-Forwarded-Host` (the `Host` the sender called) unless a proxy in
/// front (a tunnel) said them already — the first one describes the original request.
fn add_forwarded(headers: &mut Vec<Header>, event: &EventMeta) {
    let sender = event
        .remote_addr
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| event.remote_addr.clone());
    match headers.iter_mut().rfind(|h| h.name == "x-forwarded-for") {
        Some(h) => match h.value.to_str() {
            Some(list) => *h = Header::new("x-forwarded-for", format!("{list}, {sender}")),
            None => *h = Header::new("x-forwarded-for", sender),
        },
        None => headers.push(Header::new("x-forwarded-for", sender)),
    }
    if !headers.iter().any(|h| h.name == "x-forwarded-proto") {
        headers.push(Header::new("x-forwarded-proto", "http"));
    }
    let host = event.headers.iter().find(|h| h.name == "host");
    if let Some(host) = host
        && !headers.iter().any(|h| h.name == "x-forwarded-host")
    {
        headers.push(Header::new("x-forwarded-host", host.value.as_bytes()));
    }
}

/// An answer from this instance's own receiver refusing a loop (508 with our `Via`) is a
/// failure to report (`loop_detected`), never one to retry: the target is this receiver.
pub fn refuse_own_loop(live: &Live, sent: &mut super::attempt::Sent) {
    let attempt = &mut sent.attempt;
    if attempt.status == Some(508) && live.identity.seen_in(&attempt.response_headers) {
        attempt.error = Some("loop_detected".into());
        sent.outcome = super::Outcome::Refused;
    }
}

/// What of the sender's headers a re-signed delivery keeps: none of the signature, timestamp
/// and id headers of any known scheme (nor the route's own, nor the target scheme's), and none
/// of the sender's credentials (`Authorization`, `Cookie`, a `header-secret` route's header) —
/// a re-signing target is a different consumer and never receives them.
fn without_sender_credentials(
    original: Vec<Header>,
    event: &EventMeta,
    route_scheme: Option<&signature::Scheme>,
    target_scheme: &signature::Scheme,
) -> Vec<Header> {
    let scheme_own: Vec<&str> = route_scheme
        .map(|s| s.own_headers())
        .unwrap_or_default()
        .into_iter()
        .chain(target_scheme.own_headers())
        .collect();
    original
        .into_iter()
        .filter(|h| {
            let name = h.name.as_str();
            !(signature::SCHEME_HEADERS.contains(&name)
                || name == "authorization"
                || name == "cookie"
                || event
                    .secret_headers
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(name))
                || scheme_own.iter().any(|s| s.eq_ignore_ascii_case(name)))
        })
        .collect()
}

/// The kept headers, without any the fresh signature replaces, then the fresh ones.
/// The fresh headers, and again in the sender's other header family where it used one (Svix's
/// `svix-*` beside `webhook-*`, Shopify's newer `shopify-*` beside `X-Shopify-*`), so both the
/// provider's newest library and an older one verify.
fn in_senders_families(fresh: Vec<(String, String)>, sender: &[Header]) -> Vec<(String, String)> {
    let used = |prefix: &str| sender.iter().any(|h| h.name.starts_with(prefix));
    let mut out = fresh.clone();
    for (name, value) in fresh {
        let lower = name.to_ascii_lowercase();
        let other = if let Some(rest) = lower.strip_prefix("webhook-") {
            used("svix-").then(|| format!("svix-{rest}"))
        } else if let Some(rest) = lower.strip_prefix("x-shopify-") {
            used("shopify-").then(|| format!("shopify-{rest}"))
        } else {
            None
        };
        out.extend(other.map(|n| (n, value)));
    }
    out
}

fn signed(kept: Vec<Header>, fresh: Vec<(String, String)>) -> Vec<Header> {
    let mut headers: Vec<Header> = kept
        .into_iter()
        .filter(|h| !fresh.iter().any(|(n, _)| n.eq_ignore_ascii_case(&h.name)))
        .collect();
    headers.extend(
        fresh
            .into_iter()
            .map(|(n, v)| Header::new(n, v.into_bytes())),
    );
    headers
}

/// `append_path`: with `Auto`, the request's path after the route prefix is appended when the
/// target URL's path is empty or `/`, and not otherwise; the received query is appended to the
/// target URL's own in every case.
pub fn target_url(base: &str, append: AppendPath, rest: &str, query: &str) -> String {
    let Ok(mut url) = reqwest::Url::parse(base) else {
        // Validated when the configuration was loaded; a bad URL fails the attempt, visibly.
        return base.to_owned();
    };
    let append = match append {
        AppendPath::Always => true,
        AppendPath::Never => false,
        AppendPath::Auto => url.path().is_empty() || url.path() == "/",
    };
    if append {
        let mut path = url.path().trim_end_matches('/').to_owned();
        if !rest.starts_with('/') {
            path.push('/');
        }
        path.push_str(rest);
        url.set_path(&path);
    }
    // The received query goes along whatever `append_path` says: it governs the path only.
    if !query.is_empty() {
        let joined = match url.query() {
            Some(q) if !q.is_empty() => format!("{q}&{query}"),
            _ => query.to_owned(),
        };
        url.set_query(Some(&joined));
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_path_table() {
        use AppendPath::*;
        let table = [
            ("http://h:3000", Auto, "/a/b", "", "http://h:3000/a/b"),
            (
                "http://h:3000/",
                Auto,
                "/a/b",
                "x=1",
                "http://h:3000/a/b?x=1",
            ),
            (
                "http://h:3000/hooks",
                Auto,
                "/a/b",
                "x=1",
                "http://h:3000/hooks?x=1",
            ),
            (
                "http://h:3000/hooks",
                Always,
                "/a",
                "x=1",
                "http://h:3000/hooks/a?x=1",
            ),
            ("http://h:3000/", Never, "/a", "x=1", "http://h:3000/?x=1"),
            (
                "http://h:3000/in?k=v",
                Never,
                "/a",
                "x=1",
                "http://h:3000/in?k=v&x=1",
            ),
            ("http://h:3000", Auto, "", "", "http://h:3000/"),
            ("http://h:3000", Auto, "", "q=1", "http://h:3000/?q=1"),
            (
                "http://h:3000/hooks?k=v",
                Always,
                "/a",
                "x=1",
                "http://h:3000/hooks/a?k=v&x=1",
            ),
            ("http://h:3000", Auto, "/a%20b", "", "http://h:3000/a%20b"),
        ];
        for (base, mode, rest, query, want) in table {
            assert_eq!(
                target_url(base, mode, rest, query),
                want,
                "{base} {mode:?} {rest} {query}"
            );
        }
    }
}
