//! Where pending verifications, attempt counters, rate-limit counters and revocations live.
//!
//! [`VerificationStore`] is shaped around the engine's atomic steps, never as get-then-set
//! pairs: a store answers "may this phone be sent a code now?" and records the send in the same
//! step, and "may this guess be compared?" and counts it in the same step. That is what makes
//! the attempt budget hold against parallel requests (Keycloak's CVE-2024-4629 was a
//! read-check-write race on its lockout counter).
//!
//! The steps of one verification:
//!
//! 1. [`reserve_send`](VerificationStore::reserve_send): check, in this order, the lock, the
//!    cooldown, the per-phone cap, the per-client-address cap, the per-number-range cap, the
//!    channel cap (voice), the country conversion guard and the overall cap; the first that
//!    refuses is reported ([`Limit`], in the contract's order). Only if all pass is the send recorded,
//!    against every one of them: a refused send spends no cap. Nothing is sent to the
//!    provider unless this said [`SendDecision::Granted`].
//! 2. The engine asks the provider to send. If the provider certainly sent nothing,
//!    [`release_send`](VerificationStore::release_send) takes back everything the reservation
//!    recorded (every cap's count, the country's send).
//! 3. [`put_pending`](VerificationStore::put_pending): the code's ticket, replacing any earlier
//!    one (at most one live code per phone). Attempt counters are untouched: a resend does not
//!    give fresh attempts.
//! 4. [`begin_attempt`](VerificationStore::begin_attempt): first the client address's verify
//!    budget — spent: [`AttemptDecision::RateLimited`], and the phone is not even read; else the
//!    verify is counted against the address whatever follows. Then refuse if the phone is
//!    locked or has no live code; otherwise count the attempt *before* the comparison and hand
//!    out the ticket. The attempt that spends the budget sets the lock at once, so no further
//!    guess gets through while it is being compared.
//! 5. [`finish_attempt`](VerificationStore::finish_attempt): on a match, consume the code —
//!    only one caller can — and reset the counter and lock; on the last wrong guess, cancel the
//!    code. A wrong guess with attempts left needs no second step, and neither does a provider
//!    saying "expired": the code is left to its own expiry, because that answer also comes
//!    back to the losers of a race with the request that just consumed the code at the
//!    provider, and dropping it then would take the win away from the winner.
//! 6. [`record_verified`](VerificationStore::record_verified): after a successful consume, the
//!    country's verified count, which the conversion guard weighs against its sends.
//!
//! Beside them, [`revoke`](VerificationStore::revoke) and
//! [`revocations`](VerificationStore::revocations) keep the revoked tokens (logout, "sign out
//! everywhere") that every instance must refuse; see [`Revocation`].
//!
//! # Windows
//! The send caps are sliding windows over exact logs of send times: their size is bounded by
//! the caps themselves (the overall cap bounds every log), so exactness costs nothing
//! unbounded. The country conversion guard keeps exact logs too (sends let through, and
//! verifications, which cannot outnumber sends). The per-address verify budget cannot: the
//! number of verifies is bounded by nothing but the budget per address, and addresses are
//! many. So it counts in 60 fixed sub-buckets of its window ([`VERIFY_BUCKETS`]): an
//! address's verify counts for between 59/60 and all of the window, and an address never
//! holds more than 60 counters.
//!
//! Times are passed in (`now_ms`, Unix milliseconds from the engine's [`Clock`]) so that tests
//! can move time without sleeping; a store may use a clock of its own instead where instances'
//! clocks could disagree (the Redis store uses the server's clock by default).
//!
//! Implementations: [`MokaStore`] (in-memory, feature `moka`, the default) and
//! `redis::RedisStore` (feature `redis`, for several app instances). Any implementation can
//! run the conformance suite in the `conformance` module (feature `testing`).
//!
//! [`Clock`]: crate::clock::Clock

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

use crate::phone::PhoneNumber;
use crate::policy::{Policy, SEND_WINDOW};
use crate::provider::{Channel, Ticket};

#[cfg(feature = "moka")]
mod compact;
#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
mod unavailable;
#[cfg(feature = "testing")]
pub use self::unavailable::UnavailableStore;
#[cfg(feature = "moka")]
mod moka;
#[cfg(feature = "moka")]
pub use self::moka::{MokaStore, MokaStoreBuilder};
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How many fixed sub-buckets the per-address verify budget divides its window into.
pub const VERIFY_BUCKETS: u64 = 60;

/// The window of the country conversion guard: one hour, whatever [`SendLimits::window_ms`]
/// says ([`record_verified`](VerificationStore::record_verified) takes no limits).
pub const CONVERSION_WINDOW_MS: u64 = SEND_WINDOW.as_secs() * 1000;

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
    /// The store is too small for the policy: it would have to forget counters or locks.
    #[error("the verification store cannot hold what the policy needs: {0}")]
    Capacity(String),
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
    /// Sends per client address per window.
    pub per_ip: u32,
    /// Sends per number range per window (see [`number_range`]).
    pub per_range: u32,
    /// How many trailing digits a number range spans (1 to 6).
    pub range_digits: u8,
    /// Voice sends overall per window (only [`Channel::Voice`] sends count).
    pub voice_global: u32,
    /// Sends overall per window.
    pub global: u32,
    /// The conversion guard looks at a country only once its window holds this many sends
    /// (0: the guard is off).
    pub conversion_min_sends: u32,
    /// The least share of a country's sends that must be verified, in thousandths (200: 20 %).
    pub conversion_min_permille: u16,
    /// The caps' sliding window, in milliseconds (one hour).
    pub window_ms: u64,
}

impl From<&Policy> for SendLimits {
    fn from(p: &Policy) -> Self {
        Self {
            cooldown_ms: millis(p.resend_cooldown()),
            per_phone: p.sends_per_phone_per_hour(),
            per_ip: p.sends_per_ip_per_hour(),
            per_range: p.sends_per_range_per_hour(),
            range_digits: p.range_digits(),
            voice_global: p.voice_sends_per_hour(),
            global: p.sends_per_hour(),
            conversion_min_sends: p.conversion_min_sends(),
            conversion_min_permille: p.conversion_min_permille(),
            window_ms: millis(SEND_WINDOW),
        }
    }
}

/// The attempt budget and the per-address verify budget, in the units stores work in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptLimits {
    /// Attempts per phone before the lock.
    pub max_attempts: u32,
    /// How long the lock lasts, in milliseconds.
    pub lockout_ms: u64,
    /// How long a run of attempts is remembered after the last one, in milliseconds.
    pub memory_ms: u64,
    /// Verifies per client address per window, whatever their outcome.
    pub verifies_per_ip: u32,
    /// The verify budget's window, in milliseconds (one hour), counted in [`VERIFY_BUCKETS`]
    /// fixed sub-buckets.
    pub verify_window_ms: u64,
}

impl From<&Policy> for AttemptLimits {
    fn from(p: &Policy) -> Self {
        Self {
            max_attempts: p.max_attempts(),
            lockout_ms: millis(p.lockout()),
            memory_ms: millis(p.attempt_memory()),
            verifies_per_ip: p.verifies_per_ip_per_hour(),
            verify_window_ms: millis(SEND_WINDOW),
        }
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Which limit refused a send (or, for [`Limit::Ip`], also a verify). The variants are in
/// The contract's order: a store reports the first that refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Limit {
    /// The phone is locked after too many wrong attempts.
    Locked,
    /// The resend cooldown.
    Cooldown,
    /// Sends per phone per hour.
    Phone,
    /// Sends (or verifies) per client address per hour.
    Ip,
    /// Sends per number range per hour.
    Range,
    /// Sends per channel per hour (voice has its own overall cap).
    Channel,
    /// The country conversion guard.
    Country,
    /// Sends overall per hour (the spend guard).
    Global,
}

impl Limit {
    /// A stable name for logs, events and error bodies (the `reason` of a 429).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Cooldown => "cooldown",
            Self::Phone => "phone",
            Self::Ip => "ip",
            Self::Range => "range",
            Self::Channel => "channel",
            Self::Country => "country",
            Self::Global => "global",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phone's country for the conversion guard: an ISO 3166 alpha-2 code, or
/// [`Country::NON_GEOGRAPHIC`] (`XX`) for numbers of no region (`+800`, `+882`…).
///
/// ```
/// use twofactor_core::PhoneNumber;
/// use twofactor_core::store::Country;
///
/// let india = PhoneNumber::from_digits(919812345678).unwrap();
/// assert_eq!(Country::of(india).as_str(), "IN");
/// assert_eq!(Country::new("us"), Country::new("US"));
/// assert_eq!(Country::new("USA"), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// Numbers that belong to no region (non-geographic calling codes).
    pub const NON_GEOGRAPHIC: Self = Self(*b"XX");

    /// Two ASCII letters, in either case.
    pub fn new(code: &str) -> Option<Self> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }

    /// The region of `phone` (by its numbering plan), or [`Country::NON_GEOGRAPHIC`].
    pub fn of(phone: PhoneNumber) -> Self {
        phone
            .region()
            .and_then(|id| Self::new(id.as_ref()))
            .unwrap_or(Self::NON_GEOGRAPHIC)
    }

    /// The two upper-case letters.
    pub fn as_str(&self) -> &str {
        // Always two ASCII letters (see `new`).
        std::str::from_utf8(&self.0).unwrap_or("XX")
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Country({})", self.as_str())
    }
}

/// The number range (block) a phone belongs to for the per-range cap: its E.164 digits
/// without the last `range_digits` (`+919812345678` with 3: `919812345`).
pub fn number_range(phone: PhoneNumber, range_digits: u8) -> u64 {
    phone.digits() / 10u64.saturating_pow(u32::from(range_digits))
}

/// A request to send a code, as the store sees it.
///
/// ```
/// use twofactor_core::{Channel, PhoneNumber, Policy};
/// use twofactor_core::store::{Country, SendAttempt, SendLimits};
///
/// let phone = PhoneNumber::from_digits(919812345678).unwrap();
/// let send = SendAttempt::new(phone, 1_700_000_000_000, SendLimits::from(&Policy::default()))
///     .with_client(Some("203.0.113.7".parse().unwrap()))
///     .with_channel(Channel::Voice)
///     .with_country(Country::of(phone));
/// assert_eq!(send.country.as_str(), "IN");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendAttempt {
    /// The phone.
    pub phone: PhoneNumber,
    /// The client's address, if known (no per-address cap without it). Already grouped by the
    /// engine (an IPv6 address reduced to its network prefix, an IPv4-mapped address folded
    /// to IPv4): stores key by it verbatim.
    pub client_ip: Option<IpAddr>,
    /// SMS or voice (voice sends also count against [`SendLimits::voice_global`]).
    pub channel: Channel,
    /// The phone's country, for the conversion guard.
    pub country: Country,
    /// Now, Unix milliseconds.
    pub now_ms: u64,
    /// The caps.
    pub limits: SendLimits,
    /// Identifies this reservation for [`VerificationStore::release_send`].
    id: u64,
}

impl SendAttempt {
    /// A send request: no client address, SMS, the phone's own country ([`Country::of`]).
    pub fn new(phone: PhoneNumber, now_ms: u64, limits: SendLimits) -> Self {
        Self {
            phone,
            client_ip: None,
            channel: Channel::Sms,
            country: Country::of(phone),
            now_ms,
            limits,
            id: u64::from_le_bytes(crate::secret::random_bytes()),
        }
    }

    /// Sets the client's address (already grouped, see [`SendAttempt::client_ip`]).
    #[must_use]
    pub fn with_client(mut self, ip: Option<IpAddr>) -> Self {
        self.client_ip = ip;
        self
    }

    /// Sets the channel.
    #[must_use]
    pub fn with_channel(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }

    /// Sets the country.
    #[must_use]
    pub fn with_country(mut self, country: Country) -> Self {
        self.country = country;
        self
    }

    /// A random id, fixed at [`SendAttempt::new`]: stores that keep sends as members of a set
    /// use it to take back exactly this reservation.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// The store's answer to [`VerificationStore::reserve_send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendDecision {
    /// Go ahead: the send is recorded against every cap.
    Granted,
    /// Refused by `limit`, which lifts in `retry_after_ms`. Nothing was recorded.
    Refused {
        /// The limit that refused (the first in [`Limit`]'s order).
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
    /// The client address spent its verify budget: nothing else was read or counted.
    RateLimited {
        /// Milliseconds until the address may verify again (at least 1).
        retry_after_ms: u64,
    },
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

/// A country's figures in the conversion guard's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ConversionFigures {
    /// Sends let through (granted and not released; maybe-sent sends count).
    pub sends: u64,
    /// Successful verifications.
    pub verified: u64,
}

impl ConversionFigures {
    /// Figures.
    pub fn new(sends: u64, verified: u64) -> Self {
        Self { sends, verified }
    }
}

/// Whether the conversion guard refuses a send, given the window's figures.
#[cfg_attr(not(feature = "moka"), allow(dead_code))]
pub(crate) fn conversion_refuses(figures: ConversionFigures, limits: &SendLimits) -> bool {
    let min = u64::from(limits.conversion_min_sends);
    min > 0
        && figures.sends >= min
        && u128::from(figures.verified) * 1000
            < u128::from(limits.conversion_min_permille) * u128::from(figures.sends)
}

/// A revoked proof, as stored (see [`VerificationStore::revoke`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Revocation {
    /// One token, by its id (16 bytes the engine derives from the token).
    Token {
        /// The token's id.
        id: [u8; 16],
        /// When the revocation can be forgotten (the token's own expiry), Unix milliseconds.
        expires_at_ms: u64,
    },
    /// Every proof for `phone` verified at or before `before_ms` ("sign out everywhere").
    Phone {
        /// The phone.
        phone: PhoneNumber,
        /// Proofs verified at or before this instant (Unix milliseconds) are revoked.
        before_ms: u64,
        /// When the revocation can be forgotten (when every proof it covers has expired).
        expires_at_ms: u64,
    },
}

impl Revocation {
    /// When the store may forget this revocation, Unix milliseconds.
    pub fn expires_at_ms(&self) -> u64 {
        match self {
            Self::Token { expires_at_ms, .. } | Self::Phone { expires_at_ms, .. } => *expires_at_ms,
        }
    }
}

/// Where a reader of [`VerificationStore::revocations`] is; opaque to callers.
/// [`RevocationCursor::start`] (the default) reads from the beginning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationCursor(Option<String>);

impl RevocationCursor {
    /// From the beginning: every revocation not yet expired.
    pub fn start() -> Self {
        Self(None)
    }

    /// A position in a store's own terms (for store implementations).
    pub fn at(position: impl Into<String>) -> Self {
        Self(Some(position.into()))
    }

    /// The store's position, `None` at the start (for store implementations).
    pub fn position(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// An answer to [`VerificationStore::revocations`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RevocationBatch {
    /// The revocations (possibly repeating some seen before: treat them as a set).
    pub entries: Vec<Revocation>,
    /// Where to read from next time.
    pub cursor: RevocationCursor,
}

impl RevocationBatch {
    /// A batch.
    pub fn new(entries: Vec<Revocation>, cursor: RevocationCursor) -> Self {
        Self { entries, cursor }
    }
}

/// Storage for pending codes, attempt counters, rate-limit counters and revocations; see the
/// module docs for the protocol. Every method is one atomic step.
#[async_trait]
pub trait VerificationStore: Send + Sync + 'static {
    /// Checks the lock, cooldown and caps for a send, in [`Limit`]'s order, and, if all pass,
    /// records it against every one of them.
    async fn reserve_send(&self, send: &SendAttempt) -> Result<SendDecision, StoreError>;

    /// Takes back everything a grant by [`reserve_send`](Self::reserve_send) recorded for this
    /// very `send` (the same value: stores may identify it by [`SendAttempt::id`] or by its
    /// instant) — the provider certainly sent nothing.
    async fn release_send(&self, send: &SendAttempt) -> Result<(), StoreError>;

    /// Stores the phone's live code, replacing any earlier one. Counters are untouched.
    async fn put_pending(
        &self,
        phone: PhoneNumber,
        pending: &Pending,
        now_ms: u64,
    ) -> Result<(), StoreError>;

    /// Checks and counts the client address's verify budget (if `client` is known), then
    /// refuses if the phone is locked or has no live code; otherwise counts the attempt and
    /// returns the ticket to compare against. A spent address budget touches nothing else.
    async fn begin_attempt(
        &self,
        phone: PhoneNumber,
        client: Option<IpAddr>,
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

    /// Counts a successful verification for `country`'s conversion figures.
    async fn record_verified(&self, country: Country, now_ms: u64) -> Result<(), StoreError>;

    /// `country`'s conversion figures in the window ending at `now_ms` (for events and
    /// metrics).
    async fn conversion(
        &self,
        country: Country,
        now_ms: u64,
    ) -> Result<ConversionFigures, StoreError>;

    /// Records a revocation until its `expires_at_ms`.
    async fn revoke(&self, revocation: &Revocation, now_ms: u64) -> Result<(), StoreError>;

    /// The revocations recorded since `since` (from [`RevocationCursor::start`]: every one not
    /// yet expired), and the cursor to read on from.
    ///
    /// Contract: a later call with the returned cursor returns at least every revocation
    /// recorded after the cursor was produced, by any instance — never missing one — and none
    /// that has expired at `now_ms`. Entries may repeat. The store forgets expired ones, so
    /// its storage does not grow without bound.
    async fn revocations(
        &self,
        since: &RevocationCursor,
        now_ms: u64,
    ) -> Result<RevocationBatch, StoreError>;

    /// Refuses a policy whose working set the store cannot hold without forgetting counters or
    /// locks ([`StoreError::Capacity`]); the engine calls it when it is built. The default
    /// accepts every policy (stores without a fixed capacity).
    fn check_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        let _ = policy;
        Ok(())
    }
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
        client: Option<IpAddr>,
        now_ms: u64,
        limits: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError> {
        (**self).begin_attempt(phone, client, now_ms, limits).await
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
    async fn record_verified(&self, country: Country, now_ms: u64) -> Result<(), StoreError> {
        (**self).record_verified(country, now_ms).await
    }
    async fn conversion(
        &self,
        country: Country,
        now_ms: u64,
    ) -> Result<ConversionFigures, StoreError> {
        (**self).conversion(country, now_ms).await
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
    fn check_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        (**self).check_policy(policy)
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
    if cap == 0 {
        return Some(window_ms.max(1));
    }
    // The oldest send that must age out before the count drops below the cap.
    let gate = live[live.len() - cap];
    Some(gate.saturating_add(window_ms).saturating_sub(now_ms).max(1))
}

/// The sub-bucket length of a bucketed window.
pub(crate) fn bucket_ms(window_ms: u64) -> u64 {
    window_ms.div_ceil(VERIFY_BUCKETS).max(1)
}

/// A budget counted in [`VERIFY_BUCKETS`] fixed sub-buckets: `(bucket index, count)` pairs,
/// oldest first. Bucket `b` covers `[b, b + 1) × bucket_ms` and stays in the window while the
/// current bucket is below `b + VERIFY_BUCKETS`.
#[cfg_attr(not(feature = "moka"), allow(dead_code))] // the Redis store does this in Lua
#[derive(Debug, Clone, Default)]
pub(crate) struct Buckets(pub(crate) Vec<(u64, u32)>);

#[cfg_attr(not(feature = "moka"), allow(dead_code))]
impl Buckets {
    /// Drops the buckets that left the window; returns the current bucket's index.
    fn settle(&mut self, bucket: u64, now_ms: u64) -> u64 {
        let current = now_ms / bucket;
        self.0.retain(|(b, _)| b + VERIFY_BUCKETS > current);
        current
    }

    /// Counts one more if the window holds fewer than `budget`; else the milliseconds until
    /// it will (the fewest oldest buckets that must leave).
    pub(crate) fn take(&mut self, budget: u32, window_ms: u64, now_ms: u64) -> Result<(), u64> {
        let bucket = bucket_ms(window_ms);
        let current = self.settle(bucket, now_ms);
        let total: u64 = self.0.iter().map(|(_, n)| u64::from(*n)).sum();
        if total >= u64::from(budget) {
            let excess = total + 1 - u64::from(budget);
            let mut dropped = 0u64;
            for (b, n) in &self.0 {
                dropped += u64::from(*n);
                if dropped >= excess {
                    let leaves = (b + VERIFY_BUCKETS).saturating_mul(bucket);
                    return Err(leaves.saturating_sub(now_ms).max(1));
                }
            }
            return Err(window_ms.max(1));
        }
        match self.0.last_mut() {
            Some((b, n)) if *b == current => *n = n.saturating_add(1),
            _ => self.0.push((current, 1)),
        }
        Ok(())
    }

    /// Milliseconds from `now_ms` until every bucket has left the window (0: none is left).
    pub(crate) fn keep_for(&mut self, window_ms: u64, now_ms: u64) -> u64 {
        let bucket = bucket_ms(window_ms);
        self.settle(bucket, now_ms);
        self.0.last().map_or(0, |(b, _)| {
            (b + VERIFY_BUCKETS)
                .saturating_mul(bucket)
                .saturating_sub(now_ms)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_in_design_order_with_stable_names() {
        let all = [
            Limit::Locked,
            Limit::Cooldown,
            Limit::Phone,
            Limit::Ip,
            Limit::Range,
            Limit::Channel,
            Limit::Country,
            Limit::Global,
        ];
        let names: Vec<_> = all.iter().map(Limit::as_str).collect();
        assert_eq!(
            names,
            [
                "locked", "cooldown", "phone", "ip", "range", "channel", "country", "global"
            ]
        );
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn countries_and_ranges() {
        let phone = |d| PhoneNumber::from_digits(d).unwrap();
        assert_eq!(Country::of(phone(919812345678)).as_str(), "IN");
        assert_eq!(Country::of(phone(14155552671)).as_str(), "US");
        assert_eq!(Country::of(phone(16135550123)).as_str(), "CA");
        assert_eq!(Country::of(phone(447400123456)).as_str(), "GB");
        assert_eq!(
            Country::of(phone(447911123456)).as_str(),
            "GG",
            "+44 7911 1… is Guernsey"
        );
        assert_eq!(Country::of(phone(80012345678)), Country::NON_GEOGRAPHIC);
        assert_eq!(Country::new("i1"), None);
        assert_eq!(format!("{:?}", Country::new("in").unwrap()), "Country(IN)");
        assert_eq!(number_range(phone(919812345678), 3), 919812345);
        assert_eq!(
            number_range(phone(919812345678), 3),
            number_range(phone(919812345001), 3)
        );
        assert_ne!(
            number_range(phone(919812345678), 3),
            number_range(phone(919812346678), 3)
        );
    }

    #[test]
    fn buckets_count_and_say_when_the_budget_frees_up() {
        let window = 3_600_000;
        let mut b = Buckets::default();
        let t0 = 1_000 * 60_000 + 30_000; // half-way through bucket 1000
        assert_eq!(b.take(2, window, t0), Ok(()));
        assert_eq!(b.take(2, window, t0 + 60_000), Ok(()));
        // Full: the first bucket (1000) leaves when bucket 1060 starts.
        assert_eq!(
            b.take(2, window, t0 + 120_000),
            Err(1060 * 60_000 - t0 - 120_000)
        );
        assert_eq!(b.take(2, window, 1060 * 60_000), Ok(()));
        assert_eq!(b.0.len(), 2, "the old bucket is gone");
        assert_eq!(b.take(0, window, 1060 * 60_000), Err(window));
        assert_eq!(b.keep_for(window, 1060 * 60_000), 60 * 60_000);
        assert_eq!(b.keep_for(window, 1200 * 60_000), 0);
    }
}
