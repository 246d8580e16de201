//! What a token proves, [`PhoneProof`], with the token format's sizes and the time helpers the
//! proof and the signing code share.
//!
//! Apart from the signing code (`token.rs`) so that the cache of recently checked tokens
//! (`token/recent.rs`), which the signing code consults and which stores proofs, imports the
//! proof from here rather than from the signing code.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::unix_millis;
use crate::phone::PhoneNumber;

pub(super) const VERSION: u8 = 2;
pub(super) const PAYLOAD_LEN: usize = 46;
pub(super) const MAC_LEN: usize = 32;
pub(super) const TOKEN_BYTES: usize = PAYLOAD_LEN + MAC_LEN;
pub(super) const FLAG_BOUND: u8 = 1;
/// The length of every token, in characters.
pub const TOKEN_LEN: usize = TOKEN_BYTES / 3 * 4;

/// A 128-bit tag of the subject a proof is bound to (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubjectTag(pub(super) [u8; 16]);

impl SubjectTag {
    /// The tag of `subject` (an app's user id, say).
    pub fn of(subject: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(b"twofactor-rs subject v1\0")
            .chain_update(subject.as_bytes())
            .finalize();
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&digest[..16]);
        Self(tag)
    }

    fn matches(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for SubjectTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectTag({})", hex::encode(self.0))
    }
}

/// Which token a proof came from: what logout revokes. Derived from the token's MAC, so it is
/// unique per token and says nothing about the phone.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenId(pub(crate) [u8; 16]);

impl TokenId {
    /// The id's bytes (what a store keeps).
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// An id from its bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Half of it is plenty to tell two apart in a log, and not enough to revoke with.
        write!(f, "TokenId({}…)", hex::encode(&self.0[..4]))
    }
}

/// Proof that someone verified `phone` at `verified_at`; valid until `expires_at`, and bound to
/// one of the app's users once the app says so ([`bound_to`](Self::bound_to)).
///
/// It is `serde`-serialisable so an app can keep it in its own session:
/// `{"phone":"+919812345678","verified_at_ms":…,"expires_at":…,"subject":"…"}`. A proof read back
/// from a session is checked like a token (expiry, revocation) before it counts.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PhoneProof {
    pub(super) phone: PhoneNumber,
    pub(super) verified_at_ms: u64,
    /// Unix seconds.
    pub(super) expires_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "subject_hex")]
    pub(super) subject: Option<SubjectTag>,
    /// Set when the proof was read from a token: what logout revokes.
    #[serde(skip)]
    pub(super) token_id: Option<TokenId>,
}

impl fmt::Debug for PhoneProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneProof")
            .field("phone", &self.phone)
            .field("verified_at_ms", &self.verified_at_ms)
            .field("expires_at", &self.expires_at)
            .field("bound", &self.subject.is_some())
            .finish_non_exhaustive()
    }
}

impl PhoneProof {
    /// A proof that `phone` was verified at `verified_at`, valid for `ttl` (whole seconds).
    pub fn new(phone: PhoneNumber, verified_at: SystemTime, ttl: Duration) -> Self {
        let verified_at_ms = unix_millis(verified_at);
        Self {
            phone,
            verified_at_ms,
            expires_at: (verified_at_ms / 1000).saturating_add(ttl.as_secs()),
            subject: None,
            token_id: None,
        }
    }

    /// The same proof, bound to `subject` (the app's id for the user it belongs to). A bound
    /// proof can be checked with [`is_bound_to`](Self::is_bound_to): another user's session or
    /// request carrying it is not that user's proof.
    #[must_use]
    pub fn bound_to(mut self, subject: &str) -> Self {
        self.subject = Some(SubjectTag::of(subject));
        self.token_id = None;
        self
    }

    /// The verified number.
    pub fn phone(&self) -> PhoneNumber {
        self.phone
    }

    /// When it was verified.
    pub fn verified_at(&self) -> SystemTime {
        system_time(Duration::from_millis(self.verified_at_ms))
    }

    /// When it was verified, in Unix seconds (what the HTTP bodies carry).
    pub fn verified_at_unix(&self) -> u64 {
        self.verified_at_ms / 1000
    }

    /// When it was verified, in Unix milliseconds.
    pub fn verified_at_millis(&self) -> u64 {
        self.verified_at_ms
    }

    /// When the proof expires (a proof that never expires, from a huge lifetime, says the end
    /// of year 9999).
    pub fn expires_at(&self) -> SystemTime {
        system_time(Duration::from_secs(self.expires_at))
    }

    /// When the proof expires, in Unix seconds.
    pub fn expires_at_unix(&self) -> u64 {
        self.expires_at
    }

    /// Validity left at `now`, in whole seconds (zero once expired).
    pub fn expires_in(&self, now: SystemTime) -> Duration {
        Duration::from_secs(self.expires_at.saturating_sub(unix_secs(now)))
    }

    /// Whether the proof has expired at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.is_expired_at(unix_millis(now))
    }

    /// [`is_expired`](Self::is_expired) at `now_ms` (Unix milliseconds): the guard reads the
    /// clock once per check and converts it once.
    #[inline]
    pub(crate) fn is_expired_at(&self, now_ms: u64) -> bool {
        self.expires_at <= now_ms / 1000
    }

    /// How long ago the phone was verified, at `now`.
    pub fn age(&self, now: SystemTime) -> Duration {
        Duration::from_millis(unix_millis(now).saturating_sub(self.verified_at_ms))
    }

    /// Whether the phone was verified at most `max_age` before `now` (for step-up routes).
    pub fn is_fresh(&self, max_age: Duration, now: SystemTime) -> bool {
        self.is_fresh_at(max_age, unix_millis(now))
    }

    /// [`is_fresh`](Self::is_fresh) at `now_ms` (Unix milliseconds).
    pub(crate) fn is_fresh_at(&self, max_age: Duration, now_ms: u64) -> bool {
        // Whole seconds, as `max_age` is configured and as `verified_at` is shown.
        (now_ms / 1000).saturating_sub(self.verified_at_unix()) <= max_age.as_secs()
    }

    /// Whether the app bound this proof to one of its users.
    pub fn is_bound(&self) -> bool {
        self.subject.is_some()
    }

    /// Whether the proof is bound to `subject` (compared in constant time).
    pub fn is_bound_to(&self, subject: &str) -> bool {
        self.subject
            .is_some_and(|tag| tag.matches(&SubjectTag::of(subject)))
    }

    /// The subject's tag, if bound.
    pub fn subject(&self) -> Option<SubjectTag> {
        self.subject
    }

    /// The same proof, as read from the token `id`.
    pub(crate) fn with_token_id(mut self, id: TokenId) -> Self {
        self.token_id = Some(id);
        self
    }

    /// The token this proof was read from, if any.
    pub fn token_id(&self) -> Option<TokenId> {
        self.token_id
    }
}

mod subject_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::SubjectTag;

    pub(super) fn serialize<S: Serializer>(
        tag: &Option<SubjectTag>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match tag {
            Some(tag) => serializer.serialize_str(&hex::encode(tag.0)),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SubjectTag>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        let mut tag = [0u8; 16];
        hex::decode_to_slice(&text, &mut tag)
            .map_err(|_| serde::de::Error::custom("a subject tag is 32 hex digits"))?;
        Ok(Some(SubjectTag(tag)))
    }
}

/// The end of year 9999 UTC, in Unix seconds: later than any real proof, and within what
/// `SystemTime` holds on every platform.
const LAST_UNIX_SECS: u64 = 253_402_300_799;

/// `since_epoch` after the Unix epoch, capped at [`LAST_UNIX_SECS`]: a proof's times come from
/// a session or a caller's lifetime (`Duration::MAX` saturates to `u64::MAX` seconds), and
/// `SystemTime` panics on overflow (found by the `token` fuzz target).
pub(super) fn system_time(since_epoch: Duration) -> SystemTime {
    UNIX_EPOCH + since_epoch.min(Duration::from_secs(LAST_UNIX_SECS))
}

#[inline]
pub(super) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
