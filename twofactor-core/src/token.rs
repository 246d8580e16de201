//! Proofs of verification, and the tokens that carry them.
//!
//! A [`PhoneProof`] says that someone verified a phone number at a given moment, until when
//! that counts, and — once the app has bound it — to which of the app's users it belongs.
//! It travels either in the app's own session (serde) or as a signed token.
//!
//! A token is 104 URL-safe characters (so it fits a cookie and an `Authorization: Bearer`
//! header unchanged): base64url, without padding, of 78 bytes —
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version (`2`) |
//! | 4 | key id: identifies which key of the [`KeyRing`] signed it |
//! | 8 | the phone's E.164 digits, big-endian |
//! | 8 | verified at, Unix milliseconds, big-endian |
//! | 8 | expires at, Unix seconds, big-endian |
//! | 1 | flags: bit 0 set when the proof is bound to a subject; the other bits are zero |
//! | 16 | the subject's tag (zeros when unbound) |
//! | 32 | HMAC-SHA256 of the 46 bytes above |
//!
//! 78 bytes make exactly 104 base64 characters with no spare bits, so changing any character
//! changes the bytes and breaks the MAC. The key ring signs with its first key and accepts any
//! of its keys, which is how keys rotate: add the new key first, keep the old one until the
//! tokens it signed have expired, then drop it.
//!
//! Verification is kept to the millisecond so that "sign out everywhere" can revoke every proof
//! issued up to an instant without also revoking one issued a moment later.
//!
//! The subject is never written in clear: the token carries a 128-bit tag of it
//! (SHA-256 with a domain prefix), which is enough to check "is this proof bound to user X?"
//! and tells a reader of the token nothing simpler than guessing user ids would.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use twofactor_core::token::{KeyRing, PhoneProof, SigningKey, TokenError};
//! use twofactor_core::phone::PhoneParser;
//!
//! let phone = PhoneParser::default().parse("+919812345678").unwrap();
//! let old = SigningKey::from_bytes(&[7u8; 32]).unwrap();
//! let new = SigningKey::from_bytes(&[9u8; 32]).unwrap();
//! let now = SystemTime::now();
//!
//! let proof = PhoneProof::new(phone, now, Duration::from_secs(3600)).bound_to("alice");
//! let token = KeyRing::new(old.clone()).sign(&proof);
//! let rotated = KeyRing::new(new).with_key(old);
//! let checked = rotated.verify(&token, now).unwrap();
//! assert_eq!(checked.phone(), phone);
//! assert!(checked.is_bound_to("alice") && !checked.is_bound_to("bob"));
//!
//! let mut tampered = token.clone().into_bytes();
//! tampered[40] = if tampered[40] == b'A' { b'B' } else { b'A' };
//! let tampered = String::from_utf8(tampered).unwrap();
//! assert_eq!(rotated.verify(&tampered, now).unwrap_err(), TokenError::Invalid);
//! ```

use std::fmt;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::phone::PhoneNumber;

mod proof;
mod recent;

use self::proof::{FLAG_BOUND, MAC_LEN, PAYLOAD_LEN, TOKEN_BYTES, VERSION};
pub use self::proof::{PhoneProof, SubjectTag, TOKEN_LEN, TokenId};

type HmacSha256 = Hmac<Sha256>;

/// Shortest signing key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;

/// Why a token or proof was refused. Deliberately coarse: a client learns only that its proof
/// is not good, or that it is old.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Malformed, tampered with, or signed by a key this ring does not hold.
    #[error("invalid verification token")]
    Invalid,
    /// Past its expiry.
    #[error("verification token expired")]
    Expired,
    /// Revoked by a logout or a "sign out everywhere".
    #[error("verification token revoked")]
    Revoked,
}

/// Why a signing key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Fewer than [`MIN_KEY_LEN`] bytes.
    #[error("a signing key needs at least {MIN_KEY_LEN} bytes, this one has {0}")]
    TooShort(usize),
    /// Neither hex nor base64.
    #[error("a signing key must be hex or base64")]
    Encoding,
}

/// An HMAC-SHA256 signing key with its key id. `Debug` shows the id only.
#[derive(Clone)]
pub struct SigningKey {
    id: [u8; 4],
    // Keyed once: cloning a keyed HMAC state is cheaper than re-keying for every token.
    mac: HmacSha256,
}

impl SigningKey {
    /// A key from raw bytes (at least 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort(bytes.len()));
        }
        let digest = Sha256::new()
            .chain_update(b"twofactor-rs key id\0")
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; 4];
        id.copy_from_slice(&digest[..4]);
        let mac = HmacSha256::new_from_slice(bytes).map_err(|_| KeyError::TooShort(bytes.len()))?;
        Ok(Self { id, mac })
    }

    /// A key from its text form: hex (64+ hex digits) or base64 (standard or URL-safe, padded
    /// or not), as `TWOFACTOR_SIGNING_KEY` holds it.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = if text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| KeyError::Encoding)?
        } else {
            use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or(KeyError::Encoding)?
        };
        Self::from_bytes(&bytes)
    }

    /// A fresh random 32-byte key.
    pub fn random() -> Self {
        let bytes: [u8; 32] = crate::secret::random_bytes();
        // 32 bytes always satisfy `from_bytes`.
        Self::from_bytes(&bytes).unwrap_or_else(|_| unreachable!())
    }

    /// The key id written into tokens, as hex.
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }

    /// Derives a separate 32-byte secret for another purpose (`label`), so one configured key
    /// can serve several uses without one use's output helping to attack another.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(b"twofactor-rs derive\0");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn tag(&self, payload: &[u8; PAYLOAD_LEN]) -> [u8; MAC_LEN] {
        let mut mac = self.mac.clone();
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// The signing keys: the first signs, all verify.
///
/// A ring remembers, per thread, the tokens it verified lately, so that checking the same token
/// again skips the base64 decoding and the HMAC (see `token/recent.rs`); clones share that
/// memory, and a ring with a key added is a new ring with none.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
    /// This key set's identity in the per-thread memory of verified tokens.
    id: u64,
}

/// Each key set gets its own id, so that one ring's tokens are never taken for another's.
fn next_ring_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn token_id(tag: &[u8]) -> TokenId {
    let mut id = [0u8; 16];
    id.copy_from_slice(&tag[..16]);
    TokenId(id)
}

impl KeyRing {
    /// A ring whose signing key is `primary`.
    pub fn new(primary: SigningKey) -> Self {
        Self {
            keys: vec![primary],
            id: next_ring_id(),
        }
    }

    /// A ring with one fresh random key: tokens die with the process.
    pub fn random() -> Self {
        Self::new(SigningKey::random())
    }

    /// Adds a key that still verifies (an older key during rotation).
    #[must_use]
    pub fn with_key(mut self, key: SigningKey) -> Self {
        self.keys.push(key);
        self.id = next_ring_id();
        self
    }

    /// The key that signs.
    pub fn primary(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// Signs a token carrying exactly `proof`.
    pub fn sign(&self, proof: &PhoneProof) -> String {
        self.sign_with_id(proof).0
    }

    /// Signs a token for `proof` and returns its id too (what revokes it).
    pub fn sign_with_id(&self, proof: &PhoneProof) -> (String, TokenId) {
        let key = self.primary();
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[0] = VERSION;
        bytes[1..5].copy_from_slice(&key.id);
        bytes[5..13].copy_from_slice(&proof.phone.digits().to_be_bytes());
        bytes[13..21].copy_from_slice(&proof.verified_at_ms.to_be_bytes());
        bytes[21..29].copy_from_slice(&proof.expires_at.to_be_bytes());
        if let Some(subject) = proof.subject {
            bytes[29] = FLAG_BOUND;
            bytes[30..46].copy_from_slice(&subject.0);
        }
        let mut payload = [0u8; PAYLOAD_LEN];
        payload.copy_from_slice(&bytes[..PAYLOAD_LEN]);
        let tag = key.tag(&payload);
        bytes[PAYLOAD_LEN..].copy_from_slice(&tag);
        (URL_SAFE_NO_PAD.encode(bytes), token_id(&tag))
    }

    /// Checks a token's signature and expiry at `now` (not its revocation: the engine does
    /// that, see [`PhoneVerifier::authenticate`](crate::verifier::PhoneVerifier::authenticate)).
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<PhoneProof, TokenError> {
        self.verify_bytes(token.as_bytes(), crate::clock::unix_millis(now))
    }

    /// [`verify`](Self::verify) on the token's bytes as a request carries them, at `now_ms`
    /// (Unix milliseconds): what is not base64url is refused like any other invalid token, so
    /// the guard need not check the header for UTF-8 first.
    #[inline]
    pub(crate) fn verify_bytes(&self, token: &[u8], now_ms: u64) -> Result<PhoneProof, TokenError> {
        let words = recent::TokenWords::of(token).ok_or(TokenError::Invalid)?;
        let proof = match recent::lookup(self.id, &words) {
            Some(proof) => proof,
            None => {
                let proof = self.check_signature(token)?;
                recent::remember(self.id, &words, proof);
                proof
            }
        };
        if proof.is_expired_at(now_ms) {
            return Err(TokenError::Expired);
        }
        Ok(proof)
    }

    /// The proof a token of the right length carries, if one of the ring's keys signed it.
    #[inline(never)]
    fn check_signature(&self, token: &[u8]) -> Result<PhoneProof, TokenError> {
        let mut bytes = [0u8; TOKEN_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(token, &mut bytes) {
            Ok(TOKEN_BYTES) => {}
            _ => return Err(TokenError::Invalid),
        }
        let flags = bytes[29];
        if bytes[0] != VERSION || flags & !FLAG_BOUND != 0 {
            return Err(TokenError::Invalid);
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.id == bytes[1..5])
            .ok_or(TokenError::Invalid)?;
        let mut mac = key.mac.clone();
        mac.update(&bytes[..PAYLOAD_LEN]);
        // Constant-time comparison of the tag.
        mac.verify_slice(&bytes[PAYLOAD_LEN..])
            .map_err(|_| TokenError::Invalid)?;
        let field = |range: std::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[range]);
            u64::from_be_bytes(b)
        };
        let phone = PhoneNumber::from_digits(field(5..13)).ok_or(TokenError::Invalid)?;
        let subject = if flags & FLAG_BOUND != 0 {
            let mut tag = [0u8; 16];
            tag.copy_from_slice(&bytes[30..46]);
            Some(SubjectTag(tag))
        } else if bytes[30..46].iter().any(|b| *b != 0) {
            return Err(TokenError::Invalid);
        } else {
            None
        };
        Ok(PhoneProof {
            phone,
            verified_at_ms: field(13..21),
            expires_at: field(21..29),
            subject,
            token_id: Some(token_id(&bytes[PAYLOAD_LEN..])),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::proof::unix_secs;
    use super::*;
    use crate::phone::PhoneParser;

    fn phone() -> PhoneNumber {
        PhoneParser::default().parse("+919812345678").unwrap()
    }

    fn ring() -> KeyRing {
        KeyRing::new(SigningKey::from_bytes(&[1u8; 32]).unwrap())
    }

    fn ring_with_same_key() -> KeyRing {
        ring()
    }

    #[test]
    fn round_trips() {
        let now = SystemTime::now();
        let token = ring().sign(&PhoneProof::new(phone(), now, Duration::from_secs(60)));
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let proof = ring().verify(&token, now).unwrap();
        assert_eq!(proof.phone(), phone());
        assert_eq!(proof.verified_at_unix(), unix_secs(now));
        assert_eq!(proof.expires_in(now), Duration::from_secs(60));
    }

    #[test]
    fn a_token_seen_before_is_checked_again_for_expiry_and_not_taken_for_its_neighbours() {
        let now = SystemTime::now();
        let ring = ring();
        let token = ring.sign(&PhoneProof::new(phone(), now, Duration::from_secs(60)));
        // The first check remembers the token on this thread; the later ones use that.
        let first = ring.verify(&token, now).unwrap();
        assert_eq!(ring.verify(&token, now).unwrap(), first);
        assert_eq!(ring.clone().verify(&token, now).unwrap(), first);
        // Expiry is the caller's clock on every use, remembered or not.
        let later = now + Duration::from_secs(61);
        assert_eq!(ring.verify(&token, later), Err(TokenError::Expired));
        assert_eq!(ring.verify(&token, now).unwrap(), first);
        // A remembered token does not vouch for one that differs in a single character.
        let mut bytes = token.clone().into_bytes();
        bytes[TOKEN_LEN - 1] = if bytes[TOKEN_LEN - 1] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let near = String::from_utf8(bytes).unwrap();
        assert_eq!(ring.verify(&near, now), Err(TokenError::Invalid));
        // Nor for another ring: one with other keys refuses it, one with the same key accepts it
        // on its own check, and a ring grown by a key is a new ring.
        let other = KeyRing::new(SigningKey::from_bytes(&[2u8; 32]).unwrap());
        assert_eq!(other.verify(&token, now), Err(TokenError::Invalid));
        assert_eq!(ring_with_same_key().verify(&token, now).unwrap(), first);
        let grown = ring
            .clone()
            .with_key(SigningKey::from_bytes(&[3u8; 32]).unwrap());
        assert_ne!(grown.id, ring.id);
        assert_eq!(grown.verify(&token, now).unwrap(), first);
        let rotated_away = KeyRing::new(SigningKey::from_bytes(&[3u8; 32]).unwrap());
        assert_eq!(rotated_away.verify(&token, now), Err(TokenError::Invalid));
    }

    #[test]
    fn each_thread_remembers_on_its_own() {
        let now = SystemTime::now();
        let ring = ring();
        let token = ring.sign(&PhoneProof::new(phone(), now, Duration::from_secs(60)));
        let proof = ring.verify(&token, now).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (ring, token) = (ring.clone(), token.clone());
                std::thread::spawn(move || ring.verify(&token, now))
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), Ok(proof));
        }
    }

    #[test]
    fn flipping_any_single_character_is_rejected() {
        let now = SystemTime::now();
        let token = ring().sign(&PhoneProof::new(phone(), now, Duration::from_secs(60)));
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..token.len() {
            for &c in alphabet {
                let mut bytes = token.clone().into_bytes();
                if bytes[i] == c {
                    continue;
                }
                bytes[i] = c;
                let t = String::from_utf8(bytes).unwrap();
                assert_eq!(
                    ring().verify(&t, now),
                    Err(TokenError::Invalid),
                    "position {i} -> {}",
                    c as char
                );
            }
        }
    }

    #[test]
    fn expired_tokens_are_refused() {
        let now = SystemTime::now();
        let token = ring().sign(&PhoneProof::new(phone(), now, Duration::from_secs(60)));
        assert!(ring().verify(&token, now + Duration::from_secs(59)).is_ok());
        assert_eq!(
            ring().verify(&token, now + Duration::from_secs(60)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn unknown_keys_are_refused_and_rotated_keys_accepted() {
        let now = SystemTime::now();
        let other = KeyRing::new(SigningKey::from_bytes(&[2u8; 32]).unwrap());
        let token = other.sign(&PhoneProof::new(phone(), now, Duration::from_secs(60)));
        assert_eq!(ring().verify(&token, now), Err(TokenError::Invalid));
        let rotated = ring().with_key(other.primary().clone());
        assert!(rotated.verify(&token, now).is_ok());
        // The new ring signs with its first key.
        let fresh = rotated.sign(&PhoneProof::new(phone(), now, Duration::from_secs(60)));
        assert!(ring().verify(&fresh, now).is_ok());
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let now = SystemTime::now();
        for t in [
            "",
            "abc",
            &"A".repeat(TOKEN_LEN),
            &"é".repeat(40),
            &"A".repeat(10_000),
        ] {
            assert_eq!(ring().verify(t, now), Err(TokenError::Invalid), "{t:?}");
        }
    }

    #[test]
    fn freshness() {
        let now = SystemTime::now();
        let proof = ring()
            .verify(
                &ring().sign(&PhoneProof::new(phone(), now, Duration::from_secs(600))),
                now,
            )
            .unwrap();
        let later = now + Duration::from_secs(120);
        assert!(proof.is_fresh(Duration::from_secs(120), later));
        assert!(!proof.is_fresh(Duration::from_secs(119), later));
    }

    #[test]
    fn keys_parse_from_hex_and_base64_and_hide_in_debug() {
        let hex_key = "00".repeat(32);
        let b64_key = URL_SAFE_NO_PAD.encode([0u8; 32]);
        assert_eq!(
            SigningKey::from_text(&hex_key).unwrap().id(),
            SigningKey::from_text(&b64_key).unwrap().id()
        );
        assert_eq!(
            SigningKey::from_text("abcd").unwrap_err(),
            KeyError::TooShort(2)
        );
        assert_eq!(
            SigningKey::from_text("not a key!").unwrap_err(),
            KeyError::Encoding
        );
        let key = SigningKey::from_bytes(&[0x5a; 32]).unwrap();
        let debug = format!("{key:?} {:?}", KeyRing::new(key.clone()));
        assert!(
            !debug.contains("5a5a") && !debug.contains("90, 90"),
            "{debug}"
        );
    }
}
