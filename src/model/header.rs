//! A header as captured: a lowercase name and the value's exact bytes.
//!
//! In JSON a header is `[name, value]`, the value a string, or `{"base64": "..."}` where it is not
//! UTF-8, so no byte is ever lost or re-encoded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: HeaderValue,
}

impl Header {
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Header {
            name: name.into(),
            value: HeaderValue(value.into()),
        }
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.name, self.value)
    }
}

/// A header value's raw bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderValue(pub Vec<u8>);

impl HeaderValue {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value as text, if it is UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_str() {
            Some(s) => write!(f, "{s:?}"),
            None => write!(f, "base64:{}", STANDARD.encode(&self.0)),
        }
    }
}

impl Serialize for HeaderValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.to_str() {
            Some(text) => s.serialize_str(text),
            None => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("base64", &STANDARD.encode(&self.0))?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Binary { base64: String },
        }
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(HeaderValue(t.into_bytes())),
            Repr::Binary { base64 } => STANDARD
                .decode(base64)
                .map(HeaderValue)
                .map_err(de::Error::custom),
        }
    }
}

impl Serialize for Header {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.name)?;
        t.serialize_element(&self.value)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairVisitor;
        impl<'de> Visitor<'de> for PairVisitor {
            type Value = Header;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a [name, value] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Header, A::Error> {
                let name = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let value = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                Ok(Header { name, value })
            }
        }
        d.deserialize_tuple(2, PairVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_binary_values_round_trip_through_json() {
        let headers = vec![
            Header::new("content-type", "application/json"),
            Header::new("x-raw", vec![0xff, 0x00, b'a']),
        ];
        let json = serde_json::to_string(&headers).unwrap();
        assert_eq!(
            json,
            r#"[["content-type","application/json"],["x-raw",{"base64":"/wBh"}]]"#
        );
        let back: Vec<Header> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, headers);
    }
}
