//! Verification tokens: the proof, carried by the client, that it verified a phone number.
//!
//! A token is 80 URL-safe characters (so it fits a cookie and an `Authorization: Bearer`
//! header unchanged): base64url, without padding, of 60 bytes —
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version (`1`) |
//! | 4 | key id: identifies which key of the [`KeyRing`] signed it |
//! | 8 | the phone's E.164 digits, big-endian |
//! | 8 | verified at, Unix seconds, big-endian |
//! | 8 | expires at, Unix seconds, big-endian |
//! | 1 | reserved (`0`) |
//! | 30 | HMAC-SHA256 of the 30 bytes above, truncated to 240 bits |
//!
//! 60 bytes make exactly 80 base64 characters with no spare bits, so changing any character
//! changes the bytes and breaks the MAC. The key ring signs with its first key and accepts any
//! of its keys, which is how keys rotate: add the new key first, keep the old one until the
//! tokens it signed have expired, then drop it.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use twofactor_core::{KeyRing, PhoneParser, SigningKey, TokenError};
//!
//! let phone = PhoneParser::default().parse("+919812345678").unwrap();
//! let old = SigningKey::from_bytes(&[7u8; 32]).unwrap();
//! let new = SigningKey::from_bytes(&[9u8; 32]).unwrap();
//! let now = SystemTime::now();
//!
//! let token = KeyRing::new(old.clone()).sign(phone, now, Duration::from_secs(3600));
//! let rotated = KeyRing::new(new).with_key(old);
//! assert_eq!(rotated.verify(&token, now).unwrap().phone(), phone);
//!
//! let mut tampered = token.clone().into_bytes();
//! tampered[40] = if tampered[40] == b'A' { b'B' } else { b'A' };
//! let tampered = String::from_utf8(tampered).unwrap();
//! assert_eq!(rotated.verify(&tampered, now).unwrap_err(), TokenError::Invalid);
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::PhoneNumber;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 30;
const MAC_LEN: usize = 30;
const TOKEN_BYTES: usize = PAYLOAD_LEN + MAC_LEN;
/// The length of every token, in characters.
pub const TOKEN_LEN: usize = TOKEN_BYTES / 3 * 4;
/// Shortest signing key accepted, in bytes (DESIGN §4).
pub const MIN_KEY_LEN: usize = 32;

/// Proof that the bearer verified `phone` at `verified_at`; valid until `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifiedPhone {
    phone: PhoneNumber,
    verified_at: u64,
    expires_at: u64,
}

impl VerifiedPhone {
    /// A proof that `phone` was verified at `verified_at`, valid for `ttl` (whole seconds).
    pub fn new(phone: PhoneNumber, verified_at: SystemTime, ttl: Duration) -> Self {
        let verified_at = unix_secs(verified_at);
        Self {
            phone,
            verified_at,
            expires_at: verified_at.saturating_add(ttl.as_secs()),
        }
    }

    /// The verified number.
    pub fn phone(&self) -> PhoneNumber {
        self.phone
    }

    /// When it was verified.
    pub fn verified_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.verified_at)
    }

    /// When it was verified, in Unix seconds.
    pub fn verified_at_unix(&self) -> u64 {
        self.verified_at
    }

    /// When the proof expires, in Unix seconds.
    pub fn expires_at_unix(&self) -> u64 {
        self.expires_at
    }

    /// Seconds of validity left at `now` (0 if expired).
    pub fn expires_in(&self, now: SystemTime) -> u64 {
        self.expires_at.saturating_sub(unix_secs(now))
    }

    /// Whether the phone was verified at most `max_age` before `now` (for step-up routes).
    pub fn is_fresh(&self, max_age: Duration, now: SystemTime) -> bool {
        unix_secs(now).saturating_sub(self.verified_at) <= max_age.as_secs()
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Why a token was refused. Deliberately coarse: a client learns only that the token is not
/// good, or that it is old.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Malformed, tampered with, or signed by a key this ring does not hold.
    #[error("invalid verification token")]
    Invalid,
    /// Past its expiry.
    #[error("verification token expired")]
    Expired,
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
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; MAC_LEN];
        tag.copy_from_slice(&full[..MAC_LEN]);
        tag
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
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// A ring whose signing key is `primary`.
    pub fn new(primary: SigningKey) -> Self {
        Self {
            keys: vec![primary],
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
        self
    }

    /// The key that signs.
    pub fn primary(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// Signs a token for `phone`, verified at `verified_at`, valid for `ttl`.
    pub fn sign(&self, phone: PhoneNumber, verified_at: SystemTime, ttl: Duration) -> String {
        self.sign_proof(&VerifiedPhone::new(phone, verified_at, ttl))
    }

    /// Signs a token carrying exactly `proof`.
    pub fn sign_proof(&self, proof: &VerifiedPhone) -> String {
        let key = self.primary();
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[0] = VERSION;
        bytes[1..5].copy_from_slice(&key.id);
        bytes[5..13].copy_from_slice(&proof.phone.digits().to_be_bytes());
        bytes[13..21].copy_from_slice(&proof.verified_at.to_be_bytes());
        bytes[21..29].copy_from_slice(&proof.expires_at.to_be_bytes());
        let mut payload = [0u8; PAYLOAD_LEN];
        payload.copy_from_slice(&bytes[..PAYLOAD_LEN]);
        bytes[PAYLOAD_LEN..].copy_from_slice(&key.tag(&payload));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Checks a token's signature and expiry at `now`.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<VerifiedPhone, TokenError> {
        if token.len() != TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(token, &mut bytes) {
            Ok(TOKEN_BYTES) => {}
            _ => return Err(TokenError::Invalid),
        }
        if bytes[0] != VERSION || bytes[29] != 0 {
            return Err(TokenError::Invalid);
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.id == bytes[1..5])
            .ok_or(TokenError::Invalid)?;
        let mut payload = [0u8; PAYLOAD_LEN];
        payload.copy_from_slice(&bytes[..PAYLOAD_LEN]);
        let mut mac = key.mac.clone();
        mac.update(&payload);
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(&bytes[PAYLOAD_LEN..])
            .map_err(|_| TokenError::Invalid)?;
        let field = |range: std::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[range]);
            u64::from_be_bytes(b)
        };
        let phone = PhoneNumber::from_digits(field(5..13)).ok_or(TokenError::Invalid)?;
        let proof = VerifiedPhone {
            phone,
            verified_at: field(13..21),
            expires_at: field(21..29),
        };
        if proof.expires_at <= unix_secs(now) {
            return Err(TokenError::Expired);
        }
        Ok(proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PhoneParser;

    fn phone() -> PhoneNumber {
        PhoneParser::default().parse("+919812345678").unwrap()
    }

    fn ring() -> KeyRing {
        KeyRing::new(SigningKey::from_bytes(&[1u8; 32]).unwrap())
    }

    #[test]
    fn round_trips() {
        let now = SystemTime::now();
        let token = ring().sign(phone(), now, Duration::from_secs(60));
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let proof = ring().verify(&token, now).unwrap();
        assert_eq!(proof.phone(), phone());
        assert_eq!(proof.verified_at_unix(), unix_secs(now));
        assert_eq!(proof.expires_in(now), 60);
    }

    #[test]
    fn flipping_any_single_character_is_rejected() {
        let now = SystemTime::now();
        let token = ring().sign(phone(), now, Duration::from_secs(60));
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
        let token = ring().sign(phone(), now, Duration::from_secs(60));
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
        let token = other.sign(phone(), now, Duration::from_secs(60));
        assert_eq!(ring().verify(&token, now), Err(TokenError::Invalid));
        let rotated = ring().with_key(other.primary().clone());
        assert!(rotated.verify(&token, now).is_ok());
        // The new ring signs with its first key.
        let fresh = rotated.sign(phone(), now, Duration::from_secs(60));
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
            .verify(&ring().sign(phone(), now, Duration::from_secs(600)), now)
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
