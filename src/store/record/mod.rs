//! How events and deliveries are kept: compact binary records (postcard), since every capture
//! and every attempt writes them and the disk's commit time grows with the bytes written.
//!
//! An event's record carries its body right behind it when the body is small, so one capture
//! writes one value instead of two:
//!
//! ```text
//! seq: u64 LE | format: u8 | meta length: u32 LE | meta (postcard) | body (inline format only)
//! ```
//!
//! Formats 3 (body apart) and 4 (inline) are received events; 5 and 6 the same for an imported
//! one.
//!
//! `seq` is the event's `event.received` log record. Schema 2 files hold JSON after `seq` (a JSON
//! object starts with `{`, never a format byte) with the body in the `bodies` table, and JSON
//! delivery records; they are read as they are.

mod attempt;
mod legacy;
mod stored;

pub use attempt::{decode_attempt, encode_attempt};

use super::StoreError;
use crate::model::{DeliveryRecord, EventMeta, Header, Timestamp};
use legacy::{V2Delivery, V2Event};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use stored::{StoredMode, StoredState, StoredVerification};
use ulid::Ulid;

// The stored forms are types of their own, never the model's: the model's serde shape is the
// contract's (JSON output) and may grow; these are the file's, and change only with a new format
// (`tests_format.rs` holds their golden bytes). Postcard writes enums as their variant's index and
// structs as their fields in order, so the order of every variant and field below is the format.

/// Bodies up to this size live inside the event's record; larger ones in the `bodies` table, so
/// that listing events never drags large bodies through the page cache.
pub const INLINE_BODY_MAX: usize = 3 * 1024;

/// Compact record, body in the `bodies` table.
const COMPACT: u8 = 3;
/// Compact record, body inline after the meta.
const COMPACT_INLINE: u8 = 4;
/// The same two, for an event loaded by `hooklens import` (the format byte is the mark, so the
/// records of received events stay as they were).
const IMPORTED: u8 = 5;
const IMPORTED_INLINE: u8 = 6;
/// The first byte of a schema-2 JSON record.
const JSON: u8 = b'{';

const SEQ_LEN: usize = 8;
const HEADER_LEN: usize = SEQ_LEN + 1 + 4;

/// The meta as stored: the id is the record's key, times are milliseconds, header values raw.
/// Field order is the format (postcard writes no field names, nor how many there are): any
/// change to it is a new format byte, with the old one still read.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    received_at_ms: i64,
    route: Cow<'a, str>,
    method: Cow<'a, str>,
    path: Cow<'a, str>,
    query: Cow<'a, str>,
    headers: Vec<(Cow<'a, str>, Cow<'a, [u8]>)>,
    body_sha256: Cow<'a, str>,
    body_len: u64,
    remote_addr: Cow<'a, str>,
    event_type: Option<Cow<'a, str>>,
    dedupe_key: Option<Cow<'a, str>>,
    duplicate_of: Option<u128>,
    resend_of: Option<u128>,
    verification: StoredVerification<'a>,
    secret_headers: Vec<Cow<'a, str>>,
}

impl<'a> Stored<'a> {
    fn of(meta: &'a EventMeta) -> Self {
        Stored {
            received_at_ms: meta.received_at.unix_millis(),
            route: Cow::Borrowed(&meta.route),
            method: Cow::Borrowed(&meta.method),
            path: Cow::Borrowed(&meta.path),
            query: Cow::Borrowed(&meta.query),
            headers: meta
                .headers
                .iter()
                .map(|h| {
                    (
                        Cow::Borrowed(h.name.as_str()),
                        Cow::Borrowed(h.value.as_bytes()),
                    )
                })
                .collect(),
            body_sha256: Cow::Borrowed(&meta.body_sha256),
            body_len: meta.body_len,
            remote_addr: Cow::Borrowed(&meta.remote_addr),
            event_type: meta.event_type.as_deref().map(Cow::Borrowed),
            dedupe_key: meta.dedupe_key.as_deref().map(Cow::Borrowed),
            duplicate_of: meta.duplicate_of.map(|id| id.0),
            resend_of: meta.resend_of.map(|id| id.0),
            verification: StoredVerification::of(&meta.verification),
            secret_headers: meta
                .secret_headers
                .iter()
                .map(|h| Cow::Borrowed(h.as_str()))
                .collect(),
        }
    }

    fn into_meta(self, id: Ulid, imported: bool) -> EventMeta {
        EventMeta {
            id,
            received_at: Timestamp::from_unix_millis(self.received_at_ms),
            route: self.route.into_owned(),
            method: self.method.into_owned(),
            path: self.path.into_owned(),
            query: self.query.into_owned(),
            headers: self
                .headers
                .into_iter()
                .map(|(name, value)| Header::new(name.into_owned(), value.into_owned()))
                .collect(),
            body_sha256: self.body_sha256.into_owned(),
            body_len: self.body_len,
            remote_addr: self.remote_addr.into_owned(),
            event_type: self.event_type.map(Cow::into_owned),
            dedupe_key: self.dedupe_key.map(Cow::into_owned),
            duplicate_of: self.duplicate_of.map(Ulid),
            resend_of: self.resend_of.map(Ulid),
            verification: self.verification.into_model(),
            secret_headers: self
                .secret_headers
                .into_iter()
                .map(Cow::into_owned)
                .collect(),
            imported,
        }
    }
}

/// A delivery as stored; field order is the format, as for [`Stored`].
#[derive(Serialize, Deserialize)]
struct StoredDelivery<'a> {
    event_id: u128,
    target: Cow<'a, str>,
    url: Option<Cow<'a, str>>,
    state: StoredState,
    replay_of: Option<u128>,
    next_attempt_at_ms: Option<i64>,
    wire_id: Cow<'a, str>,
    mode: StoredMode,
    duplicate: bool,
    proxy: bool,
    attempt_count: u32,
}

/// The first byte of a compact delivery record.
const DELIVERY: u8 = 1;

/// A delivery's record (its id is the key).
pub fn encode_delivery(d: &DeliveryRecord) -> Result<Vec<u8>, StoreError> {
    let stored = StoredDelivery {
        event_id: d.event_id.0,
        target: Cow::Borrowed(&d.target),
        url: d.url.as_deref().map(Cow::Borrowed),
        state: d.state.into(),
        replay_of: d.replay_of.map(|id| id.0),
        next_attempt_at_ms: d.next_attempt_at.map(Timestamp::unix_millis),
        wire_id: Cow::Borrowed(&d.wire_id),
        mode: d.mode.into(),
        duplicate: d.duplicate,
        proxy: d.proxy,
        attempt_count: d.attempt_count,
    };
    Ok(postcard::to_extend(&stored, vec![DELIVERY])?)
}

/// Reads a record of the delivery `id`, in either format.
pub fn decode_delivery(id: Ulid, value: &[u8]) -> Result<DeliveryRecord, StoreError> {
    match value.split_first() {
        Some((&JSON, _)) => Ok(serde_json::from_slice::<V2Delivery>(value)?.into_model()),
        Some((&DELIVERY, rest)) => {
            let d: StoredDelivery<'_> = postcard::from_bytes(rest)?;
            Ok(DeliveryRecord {
                id,
                event_id: Ulid(d.event_id),
                target: d.target.into_owned(),
                url: d.url.map(Cow::into_owned),
                state: d.state.into(),
                replay_of: d.replay_of.map(Ulid),
                next_attempt_at: d.next_attempt_at_ms.map(Timestamp::from_unix_millis),
                wire_id: d.wire_id.into_owned(),
                mode: d.mode.into(),
                duplicate: d.duplicate,
                proxy: d.proxy,
                attempt_count: d.attempt_count,
            })
        }
        other => Err(corrupt(&format!(
            "unknown delivery record format {:?}",
            other.map(|(b, _)| b)
        ))),
    }
}

/// An event's record. Returns it and whether the body went inside it (else it belongs in the
/// `bodies` table).
pub fn encode(seq: u64, meta: &EventMeta, body: &[u8]) -> Result<(Vec<u8>, bool), StoreError> {
    let inline = body.len() <= INLINE_BODY_MAX;
    let mut out = Vec::with_capacity(HEADER_LEN + 256 + if inline { body.len() } else { 0 });
    out.extend_from_slice(&seq.to_le_bytes());
    out.push(match (inline, meta.imported) {
        (true, false) => COMPACT_INLINE,
        (false, false) => COMPACT,
        (true, true) => IMPORTED_INLINE,
        (false, true) => IMPORTED,
    });
    out.extend_from_slice(&[0; 4]);
    let mut out = postcard::to_extend(&Stored::of(meta), out)?;
    let meta_len = u32::try_from(out.len() - HEADER_LEN).map_err(|_| corrupt("meta too long"))?;
    out[SEQ_LEN + 1..HEADER_LEN].copy_from_slice(&meta_len.to_le_bytes());
    if inline {
        out.extend_from_slice(body);
    }
    Ok((out, inline))
}

/// A stored event record, taken apart.
pub struct Decoded<'v> {
    pub meta: EventMeta,
    /// The body, when it is inside the record; `None`: look in the `bodies` table.
    pub body: Option<&'v [u8]>,
}

/// Reads a record of the event `id` (the record's key), in either format.
pub fn decode(id: Ulid, value: &[u8]) -> Result<Decoded<'_>, StoreError> {
    let rest = value
        .get(SEQ_LEN..)
        .ok_or_else(|| corrupt("event record shorter than its header"))?;
    match rest.first() {
        Some(&JSON) => Ok(Decoded {
            meta: serde_json::from_slice::<V2Event>(rest)?.into_model(),
            body: None,
        }),
        Some(&format @ (COMPACT | COMPACT_INLINE | IMPORTED | IMPORTED_INLINE)) => {
            let len = value
                .get(SEQ_LEN + 1..HEADER_LEN)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| corrupt("event record shorter than its header"))?;
            let end = usize::try_from(len)
                .ok()
                .and_then(|len| HEADER_LEN.checked_add(len))
                .filter(|&end| end <= value.len())
                .ok_or_else(|| corrupt("event meta runs past the record"))?;
            let stored: Stored<'_> = postcard::from_bytes(&value[HEADER_LEN..end])?;
            let imported = matches!(format, IMPORTED | IMPORTED_INLINE);
            let inline = matches!(format, COMPACT_INLINE | IMPORTED_INLINE);
            Ok(Decoded {
                meta: stored.into_meta(id, imported),
                body: inline.then(|| &value[end..]),
            })
        }
        other => Err(corrupt(&format!("unknown event record format {other:?}"))),
    }
}

/// Sequence of the `event.received` record without decoding the rest.
pub fn seq(value: &[u8]) -> u64 {
    value
        .get(..SEQ_LEN)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

pub(super) fn borrowed(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(Cow::Borrowed)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeliveryState, SendMode, now};

    /// An event with every field set (the golden fixtures' own).
    fn meta() -> EventMeta {
        crate::store::tests_format::event()
    }

    #[test]
    fn a_record_gives_back_the_event_and_a_small_body_exactly() {
        let meta = meta();
        let body = b"\x00\xff{}\n";
        let (value, inline) = encode(42, &meta, body).unwrap();
        assert!(inline);
        let back = decode(meta.id, &value).unwrap();
        assert_eq!(seq(&value), 42);
        assert_eq!((&back.meta, back.body), (&meta, Some(&body[..])));
        // Far smaller than the JSON it replaces.
        let json = serde_json::to_vec(&meta).unwrap();
        assert!(
            value.len() - body.len() < json.len() * 2 / 3,
            "{} vs {}",
            value.len(),
            json.len()
        );
    }

    #[test]
    fn an_empty_body_is_inline_and_a_large_one_is_not() {
        let meta = meta();
        let (value, inline) = encode(1, &meta, b"").unwrap();
        assert!(inline);
        assert_eq!(decode(meta.id, &value).unwrap().body, Some(&b""[..]));
        let large = vec![7u8; INLINE_BODY_MAX + 1];
        let (value, inline) = encode(1, &meta, &large).unwrap();
        assert!(!inline);
        let back = decode(meta.id, &value).unwrap();
        assert_eq!((back.body, back.meta), (None, meta));
    }

    #[test]
    fn a_schema_2_json_record_still_reads() {
        let meta = meta();
        let mut value = 9u64.to_le_bytes().to_vec();
        serde_json::to_writer(&mut value, &meta).unwrap();
        let back = decode(meta.id, &value).unwrap();
        assert_eq!(seq(&value), 9);
        assert_eq!((back.meta, back.body), (meta, None));
    }

    fn delivery() -> DeliveryRecord {
        DeliveryRecord {
            id: Ulid::generate(),
            event_id: Ulid::generate(),
            target: "app".into(),
            url: Some("http://127.0.0.1:3000/x?y".into()),
            state: DeliveryState::RetryScheduled,
            replay_of: Some(Ulid::generate()),
            next_attempt_at: Some(now()),
            wire_id: "evt_1".into(),
            mode: SendMode::AsReceived,
            duplicate: true,
            proxy: false,
            attempt_count: 3,
        }
    }

    #[test]
    fn a_delivery_record_gives_back_the_delivery_in_a_third_of_the_json() {
        let d = delivery();
        let value = encode_delivery(&d).unwrap();
        assert_eq!(decode_delivery(d.id, &value).unwrap(), d);
        let json = serde_json::to_vec(&d).unwrap();
        assert!(
            value.len() * 3 < json.len(),
            "{} vs {}",
            value.len(),
            json.len()
        );
        // Schema 2 kept deliveries as JSON.
        assert_eq!(decode_delivery(d.id, &json).unwrap(), d);
        for cut in 0..value.len() {
            assert!(
                decode_delivery(d.id, &value[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            decode_delivery(d.id, b"\x09"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let meta = meta();
        let body = b"body";
        let (value, _) = encode(1, &meta, body).unwrap();
        // Cut anywhere before the body, a record says it is damaged (a cut body cannot be told).
        for cut in 0..value.len() - body.len() {
            assert!(decode(meta.id, &value[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong = value.clone();
        wrong[8] = 0x7f;
        assert!(matches!(
            decode(meta.id, &wrong),
            Err(StoreError::Corrupt(_))
        ));
        let mut long = value;
        long[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(meta.id, &long),
            Err(StoreError::Corrupt(_))
        ));
    }
}
