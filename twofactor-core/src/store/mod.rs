//! Where pending verifications, attempt counters and rate-limit counters live.
//!
//! [`VerificationStore`] is shaped around the engine's atomic steps, never as get-then-set
//! pairs: a store answers "may this phone be sent a code now?" and records the send in the same
//! step, and "may this guess be compared?" and counts it in the same step. That is what makes
//! the attempt budget hold against parallel requests (Keycloak's CVE-2024-4629 was a
//! read-check-write race on its lockout counter).
//!
//! The steps of one verification:
//!
//! 1. [`reserve_send`](VerificationStore::reserve_send): check the lock, the cooldown and the
//!    per-phone, per-IP and overall caps; if all pass, record the send against each. Nothing is
//!    sent to the provider unless this said [`SendDecision::Granted`].
//! 2. The engine asks the provider to send. If the provider certainly sent nothing,
//!    [`release_send`](VerificationStore::release_send) takes the reservation back.
//! 3. [`put_pending`](VerificationStore::put_pending): the code's ticket, replacing any earlier
//!    one (at most one live code per phone). Attempt counters are untouched: a resend does not
//!    give fresh attempts.
//! 4. [`begin_attempt`](VerificationStore::begin_attempt): refuse if locked or if there is no
//!    live code; otherwise count the attempt *before* the comparison and hand out the ticket.
//!    The attempt that spends the budget sets the lock at once, so no further guess gets
//!    through while it is being compared.
//! 5. [`finish_attempt`](VerificationStore::finish_attempt): on a match, consume the code —
//!    only one caller can — and reset the counter and lock; on the last wrong guess, cancel the
//!    code. A wrong guess with attempts left needs no second step, and neither does a provider
//!    saying "expired": the code is left to its own expiry, because that answer also comes
//!    back to the losers of a race with the request that just consumed the code at the
//!    provider, and dropping it then would take the win away from the winner.
//!
//! Times are passed in (`now_ms`, Unix milliseconds from the engine's [`Clock`]) so that stores
//! hold no clock of their own and tests can move time without sleeping.
//!
//! Implementations: [`MokaStore`] (in-memory, feature `moka`, the default) and
//! `redis::RedisStore` (feature `redis`, for several app instances). Any implementation can
//! run the conformance suite in the `conformance` module (feature `testing`).
//!
//! [`Clock`]: crate::clock::Clock

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::policy::{Policy, SEND_WINDOW};
use crate::{PhoneNumber, Ticket};

#[cfg(feature = "moka")]
mod compact;
#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "moka")]
mod moka;
#[cfg(feature = "moka")]
pub use self::moka::{MokaStore, MokaStoreBuilder};
#[cfg(feature = "redis")]
pub mod redis;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The store could not answer. The engine fails closed on it: no send, no verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend is unreachable or refused the operation.
    #[error("verification store unavailable")]
    Unavailable(#[source] BoxError),
    /// The backend did not answer in time.
    #[error("verification store timed out")]
    Timeout,
    /// The backend holds data this version cannot read.
    #[error("verification store returned unreadable data: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Wraps a backend error as [`StoreError::Unavailable`].
    pub fn unavailable(err: impl Into<BoxError>) -> Self {
        Self::Unavailable(err.into())
    }
}

/// The send caps, in the units stores work in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendLimits {
    /// Minimum milliseconds between two sends to one phone (0: none).
    pub cooldown_ms: u64,
    /// Sends per phone per window.
    pub per_phone: u32,
    /// Sends per client IP per window.
    pub per_ip: u32,
    /// Sends overall per window.
    pub global: u32,
    /// The caps' sliding window, in milliseconds (one hour).
    pub window_ms: u64,
}

impl From<&Policy> for SendLimits {
    fn from(p: &Policy) -> Self {
        Self {
            cooldown_ms: millis(p.resend_cooldown()),
            per_phone: p.sends_per_phone_per_hour(),
            per_ip: p.sends_per_ip_per_hour(),
            global: p.sends_per_hour(),
            window_ms: millis(SEND_WINDOW),
        }
    }
}

/// The attempt budget, in the units stores work in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptLimits {
    /// Attempts per phone before the lock.
    pub max_attempts: u32,
    /// How long the lock lasts, in milliseconds.
    pub lockout_ms: u64,
    /// How long a run of attempts is remembered after the last one, in milliseconds.
    pub memory_ms: u64,
}

impl From<&Policy> for AttemptLimits {
    fn from(p: &Policy) -> Self {
        Self {
            max_attempts: p.max_attempts(),
            lockout_ms: millis(p.lockout()),
            memory_ms: millis(p.attempt_memory()),
        }
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Which limit refused a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// The phone is locked after too many wrong attempts.
    Locked,
    /// The resend cooldown.
    Cooldown,
    /// Sends per phone per hour.
    PhoneHourly,
    /// Sends per client IP per hour.
    IpHourly,
    /// Sends overall per hour (the spend guard).
    GlobalHourly,
}

impl Limit {
    /// A stable name for logs, events and error bodies.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Cooldown => "cooldown",
            Self::PhoneHourly => "phone_hourly",
            Self::IpHourly => "ip_hourly",
            Self::GlobalHourly => "global_hourly",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to send a code, as the store sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendAttempt {
    /// The phone.
    pub phone: PhoneNumber,
    /// The client's address, if known (no per-IP cap without it).
    pub client_ip: Option<IpAddr>,
    /// Now, Unix milliseconds. [`VerificationStore::release_send`] identifies the reservation
    /// by this instant.
    pub now_ms: u64,
    /// The caps.
    pub limits: SendLimits,
}

impl SendAttempt {
    /// A send request.
    pub fn new(
        phone: PhoneNumber,
        client_ip: Option<IpAddr>,
        now_ms: u64,
        limits: SendLimits,
    ) -> Self {
        Self {
            phone,
            client_ip,
            now_ms,
            limits,
        }
    }
}

/// The store's answer to [`VerificationStore::reserve_send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendDecision {
    /// Go ahead: the send is recorded against every cap.
    Granted,
    /// Refused by `limit`, which lifts in `retry_after_ms`.
    Refused {
        /// The limit that refused.
        limit: Limit,
        /// Milliseconds until it lifts (at least 1).
        retry_after_ms: u64,
    },
}

/// A live code, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pending {
    /// A random id: consuming checks it, so a code can be used once and a replaced code not at
    /// all.
    pub id: u64,
    /// What the provider needs to check a guess (a secret).
    pub ticket: Ticket,
    /// When the code expires, Unix milliseconds.
    pub expires_at_ms: u64,
}

impl Pending {
    /// A pending code.
    pub fn new(id: u64, ticket: Ticket, expires_at_ms: u64) -> Self {
        Self {
            id,
            ticket,
            expires_at_ms,
        }
    }
}

/// The store's answer to [`VerificationStore::begin_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptDecision {
    /// The phone is locked for `retry_after_ms` more.
    Locked {
        /// Milliseconds until the lock lifts (at least 1).
        retry_after_ms: u64,
    },
    /// No live code for this phone: never sent, expired, used or cancelled.
    NoCode,
    /// The attempt is counted; compare the guess against `ticket`.
    Proceed {
        /// The pending code's id, for [`VerificationStore::finish_attempt`].
        pending_id: u64,
        /// The pending code's ticket.
        ticket: Ticket,
        /// This attempt's number, from 1.
        attempt: u32,
        /// Whether this attempt spent the budget (the lock is already set; a match lifts it).
        last: bool,
    },
}

/// What the comparison said, for [`VerificationStore::finish_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptResult {
    /// Right code: consume it and reset the phone's counter and lock.
    Matched,
    /// Wrong code on the attempt that spent the budget: cancel the pending code.
    LastMismatch,
}

/// The store's answer to [`VerificationStore::finish_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FinishOutcome {
    /// The code was consumed by this call (for [`AttemptResult::Matched`]), or the record was
    /// updated.
    Done,
    /// The code was already consumed or replaced: this match does not count.
    Gone,
}

/// A revocation, as stored (see [`VerificationStore::revoke`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// One token, by its id (16 bytes the engine derives from the token).
    Token {
        /// The token's id.
        id: [u8; 16],
        /// When the token expires anyway, Unix milliseconds: the entry can go then.
        expires_at_ms: u64,
    },
    /// Every proof for `phone` verified at or before `before_ms` ("sign out everywhere").
    Phone {
        /// The phone.
        phone: PhoneNumber,
        /// Proofs verified at or before this instant (Unix milliseconds) are revoked.
        before_ms: u64,
        /// When every such proof has expired anyway, Unix milliseconds.
        expires_at_ms: u64,
    },
}

impl Revocation {
    /// When the entry can be forgotten, Unix milliseconds.
    pub fn expires_at_ms(&self) -> u64 {
        match self {
            Self::Token { expires_at_ms, .. } | Self::Phone { expires_at_ms, .. } => *expires_at_ms,
        }
    }
}

/// Where [`VerificationStore::revocations`] continues from; opaque to the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationCursor(pub String);

impl RevocationCursor {
    /// From the beginning: every live revocation.
    pub fn start() -> Self {
        Self::default()
    }
}

/// An answer of [`VerificationStore::revocations`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationBatch {
    /// Revocations added since the cursor (possibly some seen before).
    pub entries: Vec<Revocation>,
    /// Where to continue from.
    pub cursor: RevocationCursor,
}

/// Storage for pending codes, attempt counters and rate-limit counters; see the module docs
/// for the protocol. Every method is one atomic step.
#[async_trait]
pub trait VerificationStore: Send + Sync + 'static {
    /// Checks the lock, cooldown and caps for a send and, if all pass, records it.
    async fn reserve_send(&self, send: &SendAttempt) -> Result<SendDecision, StoreError>;

    /// Takes back a reservation made by [`reserve_send`](Self::reserve_send) with the same
    /// `send` (the provider certainly sent nothing).
    async fn release_send(&self, send: &SendAttempt) -> Result<(), StoreError>;

    /// Stores the phone's live code, replacing any earlier one. Counters are untouched.
    async fn put_pending(
        &self,
        phone: PhoneNumber,
        pending: &Pending,
        now_ms: u64,
    ) -> Result<(), StoreError>;

    /// Refuses if the phone is locked or has no live code; otherwise counts the attempt and
    /// returns the ticket to compare against.
    async fn begin_attempt(
        &self,
        phone: PhoneNumber,
        now_ms: u64,
        limits: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError>;

    /// Records the comparison's result for the code `pending_id`.
    async fn finish_attempt(
        &self,
        phone: PhoneNumber,
        pending_id: u64,
        result: AttemptResult,
        now_ms: u64,
    ) -> Result<FinishOutcome, StoreError>;

    /// Records a revocation; it stays until its `expires_at_ms`.
    async fn revoke(&self, revocation: &Revocation, now_ms: u64) -> Result<(), StoreError>;

    /// The live revocations added since `since` ([`RevocationCursor::start`]: all live ones).
    /// It may repeat entries, but never misses one added after the cursor was handed out.
    async fn revocations(
        &self,
        since: &RevocationCursor,
        now_ms: u64,
    ) -> Result<RevocationBatch, StoreError>;
}

#[async_trait]
impl<S: VerificationStore + ?Sized> VerificationStore for std::sync::Arc<S> {
    async fn reserve_send(&self, send: &SendAttempt) -> Result<SendDecision, StoreError> {
        (**self).reserve_send(send).await
    }
    async fn release_send(&self, send: &SendAttempt) -> Result<(), StoreError> {
        (**self).release_send(send).await
    }
    async fn put_pending(
        &self,
        phone: PhoneNumber,
        pending: &Pending,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        (**self).put_pending(phone, pending, now_ms).await
    }
    async fn begin_attempt(
        &self,
        phone: PhoneNumber,
        now_ms: u64,
        limits: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError> {
        (**self).begin_attempt(phone, now_ms, limits).await
    }
    async fn finish_attempt(
        &self,
        phone: PhoneNumber,
        pending_id: u64,
        result: AttemptResult,
        now_ms: u64,
    ) -> Result<FinishOutcome, StoreError> {
        (**self)
            .finish_attempt(phone, pending_id, result, now_ms)
            .await
    }
    async fn revoke(&self, revocation: &Revocation, now_ms: u64) -> Result<(), StoreError> {
        (**self).revoke(revocation, now_ms).await
    }
    async fn revocations(
        &self,
        since: &RevocationCursor,
        now_ms: u64,
    ) -> Result<RevocationBatch, StoreError> {
        (**self).revocations(since, now_ms).await
    }
}

/// Milliseconds until a sliding-window cap of `cap` per `window_ms` admits one more, given the
/// sorted send times `log` (None if it admits one now).
#[cfg_attr(not(feature = "moka"), allow(dead_code))] // the Redis store computes this in Lua
pub(crate) fn window_wait(log: &[u64], cap: u32, window_ms: u64, now_ms: u64) -> Option<u64> {
    let live = &log[log.partition_point(|t| t.saturating_add(window_ms) <= now_ms)..];
    let cap = cap as usize;
    if live.len() < cap {
        return None;
    }
    // The oldest send that must age out before the count drops below the cap.
    let gate = live[live.len() - cap];
    Some(gate.saturating_add(window_ms).saturating_sub(now_ms).max(1))
}
