//! Who this instance is: a random id made at each start. `instance.json` carries it and
//! `/healthz` answers it, so a command trusts the instance and not whatever listens on its old
//! port; relayed requests carry it in `Via`, so a relay loop (a target that is this receiver) is
//! seen and refused instead of multiplying one request into thousands.

use crate::model::Header;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    id: Arc<str>,
    /// `hooklens-<id>`: this instance's name in a `Via` element (RFC 9110 §7.6.3).
    pseudonym: Arc<str>,
}

impl Identity {
    /// A fresh identity: 16 random bytes, hex.
    pub fn generate() -> std::io::Result<Identity> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        Ok(Identity::new(&hex::encode(bytes)))
    }

    pub fn new(id: &str) -> Identity {
        Identity {
            id: id.into(),
            pseudonym: format!("hooklens-{id}").into(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `Via` element this instance adds to what it relays.
    pub fn via(&self) -> String {
        format!("1.1 {}", self.pseudonym)
    }

    /// Whether a `Via` header among `headers` names this instance: the request went through it
    /// already.
    pub fn seen_in(&self, headers: &[Header]) -> bool {
        headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("via"))
            .filter_map(|h| h.value.to_str())
            .flat_map(|v| v.split(','))
            .any(|element| {
                // `protocol received-by [comment]`
                element.split_whitespace().nth(1) == Some(&*self.pseudonym)
            })
    }

    /// `headers` with this instance added to their `Via` (appended to the sender's list).
    pub fn add_via(&self, headers: &mut Vec<Header>) {
        let mine = self.via();
        match headers
            .iter_mut()
            .rfind(|h| h.name.eq_ignore_ascii_case("via"))
        {
            Some(last) => match last.value.to_str() {
                Some(v) => *last = Header::new("via", format!("{v}, {mine}")),
                None => headers.push(Header::new("via", mine)),
            },
            None => headers.push(Header::new("via", mine)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_names_this_instance_only() {
        let me = Identity::new("abc");
        let other = Identity::new("abd");
        let mut headers = vec![Header::new("via", "1.1 proxy.example (squid)")];
        assert!(!me.seen_in(&headers));
        me.add_via(&mut headers);
        assert_eq!(
            headers[0].value.to_str(),
            Some("1.1 proxy.example (squid), 1.1 hooklens-abc")
        );
        assert!(me.seen_in(&headers));
        assert!(!other.seen_in(&headers), "another instance is not a loop");
        let mut fresh = Vec::new();
        other.add_via(&mut fresh);
        assert_eq!(fresh, [Header::new("via", "1.1 hooklens-abd")]);
        assert!(!me.seen_in(&[Header::new("VIA", "1.1 hooklens-abcd")]));
        assert!(me.seen_in(&[Header::new("Via", "HTTP/1.1 hooklens-abc")]));
    }
}
