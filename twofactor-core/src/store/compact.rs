//! Tickets in fixed-size bytes, for the in-memory store.
//!
//! A million pending verifications hold a million tickets, and as text each is a heap string of
//! 42 to 45 bytes plus its allocation. The two shapes the engine stores almost always are
//! binary data in disguise, so they are kept as bytes, inline:
//!
//! - provider mode with 2Factor: `p:sms:` or `p:voice:` and a session id that is a lowercase
//!   UUID (16 bytes);
//! - local mode: `p:` and the 43-character base64url keyed hash of [`CodeHasher`] (32 bytes).
//!
//! Anything else (other providers' ids, test numbers, an uppercase UUID) stays text. A ticket is
//! packed only if unpacking gives back exactly the same text, so the store still returns
//! tickets verbatim.
//!
//! [`CodeHasher`]: crate::local::CodeHasher

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The prefixes a packed ticket may carry, by index.
const PREFIXES: [&str; 3] = ["p:sms:", "p:voice:", "p:"];

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A ticket, packed when its shape allows (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum CompactTicket {
    /// A prefix and a lowercase hyphenated UUID.
    Uuid { prefix: u8, bytes: [u8; 16] },
    /// A prefix and 32 bytes in unpadded base64url.
    Hash { prefix: u8, bytes: [u8; 32] },
    /// Anything else, as given.
    Text(Box<str>),
}

impl CompactTicket {
    /// Packs `text` if it has one of the known shapes and round-trips exactly.
    pub(crate) fn new(text: &str) -> Self {
        Self::pack(text)
            .filter(|packed| packed.unpack() == text)
            .unwrap_or_else(|| Self::Text(text.into()))
    }

    fn pack(text: &str) -> Option<Self> {
        PREFIXES.iter().enumerate().find_map(|(i, prefix)| {
            let rest = text.strip_prefix(prefix)?;
            let prefix = i as u8;
            if let Some(bytes) = parse_uuid(rest) {
                return Some(Self::Uuid { prefix, bytes });
            }
            let mut bytes = [0u8; 32];
            match URL_SAFE_NO_PAD.decode_slice(rest, &mut bytes) {
                Ok(32) if rest.len() == 43 => Some(Self::Hash { prefix, bytes }),
                _ => None,
            }
        })
    }

    /// The ticket's text.
    pub(crate) fn unpack(&self) -> String {
        match self {
            Self::Uuid { prefix, bytes } => {
                let mut out = String::with_capacity(44);
                out.push_str(PREFIXES[usize::from(*prefix)]);
                for (i, b) in bytes.iter().enumerate() {
                    if matches!(i, 4 | 6 | 8 | 10) {
                        out.push('-');
                    }
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0xf)]));
                }
                out
            }
            Self::Hash { prefix, bytes } => {
                let mut out = String::from(PREFIXES[usize::from(*prefix)]);
                URL_SAFE_NO_PAD.encode_string(bytes, &mut out);
                out
            }
            Self::Text(text) => text.to_string(),
        }
    }
}

/// A lowercase hyphenated UUID (`8-4-4-4-12` hex digits) as 16 bytes.
fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let b = text.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let digits: Vec<u8> = b.iter().copied().filter(|c| *c != b'-').collect();
    if digits.len() != 32
        || !digits
            .iter()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut out = [0u8; 16];
    hex::decode_to_slice(&digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_shapes_pack_and_everything_round_trips() {
        let hash = URL_SAFE_NO_PAD.encode([0xa5u8; 32]);
        let cases = [
            ("p:sms:ab88279e-0105-415f-912e-2f24162b8cbb", true),
            ("p:voice:ab88279e-0105-415f-912e-2f24162b8cbb", true),
            (&*format!("p:{hash}"), true),
            ("p:sms:AB88279E-0105-415F-912E-2F24162B8CBB", false),
            ("p:sms:ab88279e-0105-415f-912e-2f24162b8cb", false),
            ("p:sms:ab88279e+0105-415f-912e-2f24162b8cbb", false),
            ("p:sms:fake-sess-00000001-42", false),
            (&*format!("p:{}", &hash[..42]), false),
            // 43 characters whose last one carries stray bits: not canonical, kept as text.
            (&*format!("p:{}B", &hash[..42]), false),
            ("t:", false),
            ("", false),
            ("p:", false),
            ("sms:é/%..\"'{}", false),
        ];
        for (text, packs) in cases {
            let t = CompactTicket::new(text);
            assert_eq!(t.unpack(), text, "{text}");
            assert_eq!(!matches!(t, CompactTicket::Text(_)), packs, "{text}");
        }
    }
}
