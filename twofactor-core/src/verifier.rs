//! The engine: [`PhoneVerifier`] decides whether a code is sent, whether a guess counts, and
//! what proof the user gets.
//!
//! It owns a provider, a store, a [`Policy`], a [`PhoneParser`] and a [`KeyRing`], and both
//! web adapters call exactly two methods, [`send`](PhoneVerifier::send) and
//! [`verify`](PhoneVerifier::verify), whose typed errors they map to the HTTP contract.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use twofactor_core::mock::MockProvider;
//! use twofactor_core::{Context, PhoneVerifier, VerifyError};
//!
//! let mock = MockProvider::new();
//! let verifier = PhoneVerifier::builder(mock.clone()).build().unwrap();
//!
//! let sent = verifier.send("98123 45678", &Context::default()).await.unwrap();
//! assert_eq!(sent.phone.to_string(), "+919812345678");
//!
//! let err = verifier.verify("+919812345678", "000000", &Context::default()).await;
//! # let err = if mock.last_code(&sent.phone).unwrap().expose() == "000000" {
//! #     verifier.verify("+919812345678", "000001", &Context::default()).await } else { err };
//! assert!(matches!(err, Err(VerifyError::Incorrect { attempts_left: 4 })));
//!
//! let code = mock.last_code(&sent.phone).unwrap();
//! let verified = verifier.verify("+919812345678", code.expose(), &Context::default()).await.unwrap();
//! assert_eq!(verifier.authenticate(&verified.token).unwrap().phone(), sent.phone);
//! # }
//! ```
//!
//! # The rules
//! - Attempts are counted per phone, before the comparison, in one atomic store step: parallel
//!   guesses cannot exceed the budget, and a locked phone costs no provider call.
//! - A resend does not reset the count; a success does. The guess that spends the budget is
//!   answered [`VerifyError::TooManyAttempts`], cancels the code, and locks the phone for
//!   [`Policy::lockout`]; while locked even the right code is refused, and no code is sent
//!   (a send is answered [`SendError::RateLimited`] with [`Limit::Locked`]).
//! - At most one live code per phone: a new send replaces the old code.
//! - Sends go only over the channels the policy allows, and only to number types that can
//!   take the channel without billing the caller ([`Policy::allows_number`]), checked before
//!   any cap is spent. Then sends pass the cooldown, the per-phone, per-IP, per-number-range,
//!   voice and overall hourly caps, the country conversion guard and the country allow-list,
//!   each refusal saying which limit refused and when it lifts. Verifies spend the client address's hourly budget first
//!   ([`VerifyError::RateLimited`]).
//! - The store failing means refusal ([`SendError::StoreUnavailable`]): never a send without a
//!   record, never a guess without a count.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::Instrument;

use crate::clock::{Clock, SystemClock};
use crate::code::OtpCode;
use crate::events::{Event, EventSink, FailureReason, TracingEvents};
use crate::phone::{PhoneError, PhoneNumber, PhoneParser};
use crate::policy::Policy;
use crate::provider::Channel;
use crate::provider::{
    Delivery, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, Verdict,
};
use crate::revocation::RevocationList;
use crate::store::{
    AttemptDecision, AttemptLimits, AttemptResult, Country, FinishOutcome, Limit, Pending,
    SendAttempt, SendDecision, SendLimits, StoreError, VerificationStore,
};
use crate::store::{Revocation, StoreError as RevocationStoreError};
use crate::test_numbers::{ProviderTickets, TestNumbers};
use crate::token::{KeyRing, PhoneProof, TokenError};
use crate::web::errors::ErrorCode;

/// Where a request comes from and what it asks for, beside the phone and code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// The client's address (for the per-address send cap and verify budget).
    pub client_ip: Option<IpAddr>,
    /// SMS (default) or voice, for sends.
    pub channel: Channel,
}

impl Context {
    /// An empty context: no client IP, SMS.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the client's address.
    #[must_use]
    pub fn with_client_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.client_ip = ip;
        self
    }

    /// Sets the channel.
    #[must_use]
    pub fn with_channel(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }
}

/// A code was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sent {
    /// The phone, normalised.
    pub phone: PhoneNumber,
    /// How long the code stays valid.
    pub expires_in: Duration,
    /// How long until another code may be sent.
    pub resend_in: Duration,
}

/// A phone was verified.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The proof.
    pub proof: PhoneProof,
    /// The proof as a signed token, for the client (a secret: `Debug` hides it).
    pub token: String,
    /// How long the token is valid.
    pub expires_in: Duration,
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("proof", &self.proof)
            .field("token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why no code was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The [`PhoneParser`] refused the number as typed: not a phone number
    /// ([`PhoneError::Invalid`], answered `400 invalid_phone`) or from a country that is not
    /// allowed ([`PhoneError::NotAllowed`], `403 phone_not_allowed`).
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// A number the parser took but that cannot be sent a code: the provider judged it
    /// invalid, or its type cannot take the channel or bills the caller
    /// ([`Policy::allows_number`]).
    #[error("not a valid phone number")]
    InvalidPhone,
    /// The provider cannot deliver over this channel.
    #[error("the {0} channel is not available")]
    ChannelUnsupported(Channel),
    /// The policy switched this channel off ([`Policy::channels`]).
    #[error("codes are not sent by {0}")]
    ChannelNotAllowed(Channel),
    /// A limit refused the send.
    #[error("too many codes requested ({limit}); retry in {}s", retry_secs(*.retry_after))]
    RateLimited {
        /// Which limit.
        limit: Limit,
        /// When it lifts.
        retry_after: Duration,
    },
    /// The provider failed.
    #[error("the SMS provider failed")]
    Provider(#[source] ProviderError),
    /// The store failed; nothing was sent.
    #[error("the verification store is unavailable")]
    StoreUnavailable(#[source] StoreError),
}

/// Why a phone was not verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The [`PhoneParser`] refused the number as typed: not a phone number
    /// ([`PhoneError::Invalid`], answered `400 invalid_phone`) or from a country that is not
    /// allowed ([`PhoneError::NotAllowed`], `403 phone_not_allowed`).
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// The code is not of the configured shape (no attempt was counted).
    #[error("a code is {len} digits")]
    InvalidCode {
        /// The configured length.
        len: usize,
    },
    /// No live code for this phone: never sent, expired, used or cancelled.
    #[error("no valid code for this phone; request a new one")]
    NoLiveCode,
    /// Wrong code.
    #[error("incorrect code; {attempts_left} attempts left")]
    Incorrect {
        /// Attempts left before the lock (at least 1).
        attempts_left: u32,
    },
    /// The attempt budget is spent; the phone is locked.
    #[error("too many attempts; retry in {}s", retry_secs(*.retry_after))]
    TooManyAttempts {
        /// When the lock lifts.
        retry_after: Duration,
    },
    /// The client address spent its verify budget ([`Limit::Ip`]); the phone lost no attempt.
    #[error("too many verifications ({limit}); retry in {}s", retry_secs(*.retry_after))]
    RateLimited {
        /// Which limit.
        limit: Limit,
        /// When it lifts.
        retry_after: Duration,
    },
    /// The provider failed.
    #[error("the SMS provider failed")]
    Provider(#[source] ProviderError),
    /// The store failed; the guess was not compared.
    #[error("the verification store is unavailable")]
    StoreUnavailable(#[source] StoreError),
}

/// Whole seconds, rounded up, at least 1: what `Retry-After` and `retry_after` carry.
pub fn retry_secs(d: Duration) -> u64 {
    (d.as_millis().div_ceil(1000) as u64).max(1)
}

/// Why a [`PhoneVerifier`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No store was given and the in-memory store is not compiled in.
    #[error(
        "no verification store configured: give one with PhoneVerifierBuilder::store, or enable \
         the `moka` feature (on by default in twofactor-core, twofactor-tower and twofactor-actix; \
         check `default-features = false` in your Cargo.toml)"
    )]
    NoStore,
    /// Test numbers were configured without [`PhoneVerifierBuilder::enable_test_numbers`].
    #[error(
        "test numbers are configured but not enabled; call enable_test_numbers(true) if you mean it"
    )]
    TestNumbersNotEnabled,
    /// A test number or its code is invalid.
    #[error("invalid test number {number:?}: {reason}")]
    TestNumber {
        /// The number as configured.
        number: String,
        /// What is wrong.
        reason: String,
    },
    /// The store cannot hold what the policy needs without forgetting counters or locks.
    #[error("{0}")]
    StoreCapacity(String),
}

const RANDOM_KEY_WARNING: &str = "twofactor: no signing key configured; using a random one \
     (tokens die with the process and other instances reject them; set TWOFACTOR_SIGNING_KEY \
     or call PhoneVerifierBuilder::keys)";

struct Inner {
    provider: Arc<dyn OtpProvider>,
    store: Arc<dyn VerificationStore>,
    policy: Policy,
    send_limits: SendLimits,
    attempt_limits: AttemptLimits,
    parser: PhoneParser,
    keys: KeyRing,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    revocations: RevocationList,
    warnings: Vec<&'static str>,
    /// The countries the conversion guard refused last, to report throttle and release once.
    throttled: Mutex<HashSet<Country>>,
}

/// The verification engine; cheap to clone (clones share everything). See the module docs.
#[derive(Clone)]
pub struct PhoneVerifier {
    inner: Arc<Inner>,
}

impl fmt::Debug for PhoneVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneVerifier")
            .field("provider", &self.inner.provider.name())
            .field("policy", &self.inner.policy)
            .field("parser", &self.inner.parser)
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}

/// Builds a [`PhoneVerifier`].
#[must_use]
pub struct PhoneVerifierBuilder {
    provider: Arc<dyn OtpProvider>,
    store: Option<Arc<dyn VerificationStore>>,
    policy: Policy,
    parser: PhoneParser,
    keys: Option<KeyRing>,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    test_numbers: Vec<(String, String)>,
    test_numbers_enabled: bool,
}

impl fmt::Debug for PhoneVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneVerifierBuilder")
            .field("provider", &self.provider.name())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl PhoneVerifierBuilder {
    /// The store (default: a [`MokaStore`](crate::store::MokaStore) with the default
    /// capacities, raised to what the policy needs). [`build`](Self::build) refuses a store
    /// that cannot hold the policy's working set
    /// ([`VerificationStore::check_policy`]).
    pub fn store(mut self, store: impl VerificationStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// A shared store.
    pub fn shared_store(mut self, store: Arc<dyn VerificationStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The policy (default: the defaults of the README).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// How phone input is parsed (default: region `IN`, only Indian numbers).
    pub fn phone_parser(mut self, parser: PhoneParser) -> Self {
        self.parser = parser;
        self
    }

    /// The token keys (default: one random key — tokens die with the process, and other
    /// instances reject them; a warning is logged).
    pub fn keys(mut self, keys: KeyRing) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Where events go (default: [`TracingEvents`]).
    pub fn events(mut self, sink: impl EventSink) -> Self {
        self.events = Arc::new(sink);
        self
    }

    /// A shared event sink: give the same one to a
    /// [`Failover`](crate::failover::Failover) ([`with_event_sink`](crate::failover::Failover::with_event_sink))
    /// and its events join the engine's in one stream.
    pub fn shared_events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = sink;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// A test number: `code` verifies it, no SMS is sent; caps, cooldowns and attempts count as
    /// for any phone. Refused at build time unless
    /// [`enable_test_numbers`](Self::enable_test_numbers) is also called, so that a test
    /// number left in a configuration cannot open production by accident. (The builder puts
    /// the numbers around the provider as a decorator; the engine itself knows nothing of them.)
    pub fn test_number(mut self, number: impl Into<String>, code: impl Into<String>) -> Self {
        self.test_numbers.push((number.into(), code.into()));
        self
    }

    /// Allows the configured test numbers.
    pub fn enable_test_numbers(mut self, enabled: bool) -> Self {
        self.test_numbers_enabled = enabled;
        self
    }

    /// The engine.
    pub fn build(self) -> Result<PhoneVerifier, BuildError> {
        let store = match self.store {
            Some(store) => store,
            #[cfg(feature = "moka")]
            None => Arc::new(
                crate::store::MokaStore::builder()
                    .sized_for(&self.policy)
                    .build(),
            ),
            #[cfg(not(feature = "moka"))]
            None => return Err(BuildError::NoStore),
        };
        store
            .check_policy(&self.policy)
            .map_err(|e| BuildError::StoreCapacity(e.to_string()))?;
        if !self.test_numbers.is_empty() && !self.test_numbers_enabled {
            return Err(BuildError::TestNumbersNotEnabled);
        }
        let len = self.policy.code_length();
        let mut test_numbers = HashMap::new();
        for (number, code) in self.test_numbers {
            let reason = |e: &dyn fmt::Display| BuildError::TestNumber {
                number: number.clone(),
                reason: e.to_string(),
            };
            let phone = self.parser.parse(&number).map_err(|e| reason(&e))?;
            let code = OtpCode::parse(&code, len..=len).map_err(|e| reason(&e))?;
            test_numbers.insert(phone, code);
        }
        let mut warnings = Vec::new();
        let keys = self.keys.unwrap_or_else(|| {
            warnings.push(RANDOM_KEY_WARNING);
            crate::warn::important("random-signing-key", RANDOM_KEY_WARNING);
            KeyRing::random()
        });
        // With the feature on every engine records its metrics; the facade drops them when
        // the app installed no recorder.
        #[cfg(feature = "metrics")]
        let (provider, store, events): (
            Arc<dyn OtpProvider>,
            Arc<dyn VerificationStore>,
            _,
        ) = (
            Arc::new(crate::metrics::InstrumentedProvider::new(self.provider)),
            Arc::new(crate::metrics::InstrumentedStore::new(store)),
            crate::metrics::instrument_events(self.events),
        );
        #[cfg(not(feature = "metrics"))]
        let (provider, events) = (self.provider, self.events);
        // The timing wraps the real provider alone: a test number is no provider call.
        let provider = ProviderTickets::new(provider);
        let provider: Arc<dyn OtpProvider> = if test_numbers.is_empty() {
            Arc::new(provider)
        } else {
            Arc::new(TestNumbers::new(provider, test_numbers))
        };
        Ok(PhoneVerifier {
            inner: Arc::new(Inner {
                provider,
                store,
                send_limits: SendLimits::from(&self.policy),
                attempt_limits: AttemptLimits::from(&self.policy),
                policy: self.policy,
                parser: self.parser,
                keys,
                events,
                clock: self.clock,
                revocations: RevocationList::new(),
                warnings,
                throttled: Mutex::default(),
            }),
        })
    }
}

fn random_id() -> u64 {
    u64::from_le_bytes(crate::secret::random_bytes())
}

impl PhoneVerifier {
    /// Starts a builder around `provider`.
    pub fn builder(provider: impl OtpProvider) -> PhoneVerifierBuilder {
        Self::builder_shared(Arc::new(provider))
    }

    /// Starts a builder around a shared provider.
    pub fn builder_shared(provider: Arc<dyn OtpProvider>) -> PhoneVerifierBuilder {
        PhoneVerifierBuilder {
            provider,
            store: None,
            policy: Policy::default(),
            parser: PhoneParser::default(),
            keys: None,
            events: Arc::new(TracingEvents),
            clock: Arc::new(SystemClock),
            test_numbers: Vec::new(),
            test_numbers_enabled: false,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The phone parser.
    pub fn phone_parser(&self) -> &PhoneParser {
        &self.inner.parser
    }

    /// The token keys.
    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.inner.clock
    }

    /// The provider's name.
    pub fn provider_name(&self) -> &str {
        self.inner.provider.name()
    }

    /// The warnings that matter raised while building (a random signing key). Each was also
    /// logged, and written to stderr if no `tracing` subscriber is installed.
    pub fn warnings(&self) -> &[&'static str] {
        &self.inner.warnings
    }

    /// Checks a token: its signature, key, expiry, and revocation as this process knows it
    /// (see [`refresh_revocations`](Self::refresh_revocations)).
    pub fn authenticate(&self, token: &str) -> Result<PhoneProof, TokenError> {
        self.authenticate_bytes(token.as_bytes())
    }

    /// [`authenticate`](Self::authenticate) on the bytes of a request's token.
    pub(crate) fn authenticate_bytes(&self, token: &[u8]) -> Result<PhoneProof, TokenError> {
        // One clock reading for the whole check: the guard runs this on every request.
        let proof = self
            .inner
            .keys
            .verify_bytes(token, self.inner.clock.now())?;
        self.check_revoked(&proof)?;
        Ok(proof)
    }

    /// Checks a proof from elsewhere (the app's session): expiry and revocation.
    pub fn check_proof(&self, proof: &PhoneProof) -> Result<(), TokenError> {
        if proof.is_expired(self.inner.clock.now()) {
            return Err(TokenError::Expired);
        }
        self.check_revoked(proof)
    }

    fn check_revoked(&self, proof: &PhoneProof) -> Result<(), TokenError> {
        if self.inner.revocations.is_revoked(proof) {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }

    /// The signed token carrying `proof`.
    pub fn sign(&self, proof: &PhoneProof) -> String {
        self.inner.keys.sign(proof)
    }

    /// Whether this process's copy of the revocations is recent enough to check proofs against
    /// without touching the store (the guard's fast path; see the `revocation` module docs).
    pub fn revocations_current(&self) -> bool {
        self.inner.revocations.is_current()
    }

    /// Brings this process's copy of the revocations up to date when it is due: cheap when it
    /// is recent, one store call when not. An error means the copy is too old to trust and the
    /// store could not be read: refuse proofs until it can (fail closed).
    pub async fn refresh_revocations(&self) -> Result<(), RevocationStoreError> {
        self.inner
            .revocations
            .ensure_fresh(&*self.inner.store, self.inner.clock.now_millis())
            .await
    }

    /// Revokes the token `proof` was read from (logout): at once in this process, and for
    /// every instance sharing the store within a second. A proof that came from no token
    /// (the app's session) has nothing to revoke here: end the session instead.
    pub async fn revoke(&self, proof: &PhoneProof) -> Result<(), RevocationStoreError> {
        let Some(id) = proof.token_id() else {
            return Ok(());
        };
        let revocation = Revocation::Token {
            id: id.to_bytes(),
            expires_at_ms: proof.expires_at_unix().saturating_mul(1000),
        };
        self.record_revocation(revocation).await
    }

    /// Revokes every proof issued for `phone` until now, tokens and session proofs alike
    /// ("sign out everywhere"). Proofs issued afterwards are not affected.
    pub async fn sign_out_everywhere(
        &self,
        phone: PhoneNumber,
    ) -> Result<(), RevocationStoreError> {
        let now = self.inner.clock.now_millis();
        // Every proof verified until now expires within one token lifetime (and a second of
        // rounding to whole seconds).
        let lifetime = crate::store::millis(self.inner.policy.token_ttl()).saturating_add(1000);
        let revocation = Revocation::Phone {
            phone,
            before_ms: now,
            expires_at_ms: now.saturating_add(lifetime),
        };
        self.record_revocation(revocation).await
    }

    async fn record_revocation(&self, revocation: Revocation) -> Result<(), RevocationStoreError> {
        self.inner.revocations.add(&revocation);
        let result = self
            .inner
            .store
            .revoke(&revocation, self.inner.clock.now_millis())
            .await;
        tracing::info!(
            outcome = if result.is_ok() {
                "revoked"
            } else {
                "revoked_locally"
            },
            "twofactor: proof revoked"
        );
        result
    }

    /// How many revocations this process holds (tokens, phones); for tests and metrics.
    pub fn revocation_counts(&self) -> (usize, usize) {
        self.inner.revocations.len()
    }

    fn emit(&self, event: Event) {
        self.inner.events.record(&event);
    }

    async fn with_timeout<T>(
        &self,
        fut: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        match tokio::time::timeout(self.inner.policy.provider_timeout(), fut).await {
            Ok(result) => result,
            Err(_) => Err(ProviderError::new(
                self.inner.provider.name().to_owned(),
                ProviderErrorKind::Timeout,
            )
            .with_detail("no answer within the provider timeout")
            .with_delivery(Delivery::MaybeSent)),
        }
    }

    /// Sends a code to the phone typed as `phone_input`.
    pub async fn send(&self, phone_input: &str, ctx: &Context) -> Result<Sent, SendError> {
        match self.inner.parser.parse(phone_input) {
            Ok(phone) => self.send_to(phone, ctx).await,
            Err(e) => {
                let e = SendError::from(e);
                #[cfg(feature = "metrics")]
                crate::metrics::count_send(ctx.channel, Err(&e));
                tracing::info_span!("twofactor.send", channel = %ctx.channel, outcome = e.code().as_str())
                    .in_scope(|| tracing::debug!("phone refused"));
                Err(e)
            }
        }
    }

    /// Sends a code to a phone already parsed with [`phone_parser`](Self::phone_parser) (an
    /// app that looks at the number before the send, as the web hooks do).
    pub async fn send_to(&self, phone: PhoneNumber, ctx: &Context) -> Result<Sent, SendError> {
        let span = tracing::info_span!("twofactor.send", phone = %phone.masked(), channel = %ctx.channel, outcome = tracing::field::Empty);
        let result = self.send_inner(phone, ctx).instrument(span.clone()).await;
        span.record(
            "outcome",
            match &result {
                Ok(_) => "sent",
                Err(e) => e.code().as_str(),
            },
        );
        #[cfg(feature = "metrics")]
        crate::metrics::count_send(ctx.channel, result.as_ref());
        result
    }

    async fn send_inner(&self, phone: PhoneNumber, ctx: &Context) -> Result<Sent, SendError> {
        let inner = &*self.inner;
        if !inner.policy.allows_channel(ctx.channel) {
            return Err(SendError::ChannelNotAllowed(ctx.channel));
        }
        let stand_in = inner.provider.stand_in(&phone);
        if stand_in.is_none() {
            if !inner.provider.supports(ctx.channel) {
                return Err(SendError::ChannelUnsupported(ctx.channel));
            }
            // Before any cap is spent: a premium-rate or toll-free number pays whoever runs
            // it, and a fixed line cannot read an SMS. A stand-in sends nothing.
            let kind = phone.number_type();
            if !inner.policy.allows_number(kind, ctx.channel) {
                tracing::info!(number_type = %kind, "twofactor: number type refused for this channel");
                return Err(SendError::InvalidPhone);
            }
        }
        let now = inner.clock.now_millis();
        // `new` takes the phone's own country ([`Country::of`]).
        let attempt = SendAttempt::new(phone, now, inner.send_limits)
            .with_client(ctx.client_ip)
            .with_channel(ctx.channel);
        let country = attempt.country;
        let decision = inner.store.reserve_send(&attempt).await;
        if let Ok(d) = &decision {
            self.note_conversion(country, d);
        }
        match decision {
            Err(e) => {
                self.emit(Event::StoreFailed { phone });
                return Err(SendError::StoreUnavailable(e));
            }
            Ok(SendDecision::Refused {
                limit,
                retry_after_ms,
            }) => {
                let retry_after = Duration::from_millis(retry_after_ms);
                self.emit(Event::RateLimited {
                    phone,
                    client_ip: ctx.client_ip,
                    limit,
                    retry_after,
                });
                return Err(SendError::RateLimited { limit, retry_after });
            }
            Ok(SendDecision::Granted) => {}
        }
        let options = SendOptions::new(ctx.channel)
            .with_code_length(inner.policy.code_length())
            .with_ttl(inner.policy.code_ttl());
        let ticket = match self
            .with_timeout(inner.provider.send(&phone, &options))
            .await
        {
            Ok(ticket) => ticket,
            Err(e) => {
                self.emit(Event::ProviderFailed {
                    phone,
                    provider: e.provider().to_owned(),
                    kind: e.kind(),
                });
                if e.delivery() == Delivery::NotSent
                    && let Err(release) = inner.store.release_send(&attempt).await
                {
                    // The reservation stays: the user waits out a cooldown for nothing, which
                    // is the safe side.
                    tracing::warn!(error = %release, "twofactor: could not release a send reservation");
                }
                return Err(if e.kind() == ProviderErrorKind::InvalidPhone {
                    SendError::InvalidPhone
                } else {
                    SendError::Provider(e)
                });
            }
        };
        let code_ttl = inner.policy.code_ttl();
        let pending = Pending::new(
            random_id(),
            ticket,
            now.saturating_add(crate::store::millis(code_ttl)),
        );
        if let Err(e) = inner.store.put_pending(phone, &pending, now).await {
            self.emit(Event::StoreFailed { phone });
            return Err(SendError::StoreUnavailable(e));
        }
        self.emit(Event::CodeSent {
            phone,
            channel: ctx.channel,
            provider: stand_in.unwrap_or_else(|| inner.provider.name()).to_owned(),
        });
        Ok(Sent {
            phone,
            expires_in: code_ttl,
            resend_in: inner.policy.resend_cooldown(),
        })
    }

    /// Reports the conversion guard's transitions for `country`, as the send decision `d` shows
    /// them: refused by it (throttled), or past it (released; every limit after it in
    /// [`Limit`]'s order means the guard let the send through).
    fn note_conversion(&self, country: Country, d: &SendDecision) {
        let throttled = match d {
            SendDecision::Refused {
                limit: Limit::Country,
                ..
            } => true,
            SendDecision::Granted
            | SendDecision::Refused {
                limit: Limit::Global,
                ..
            } => false,
            _ => return,
        };
        let changed = {
            let mut set = self
                .inner
                .throttled
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if throttled {
                set.insert(country)
            } else {
                set.remove(&country)
            }
        };
        if changed {
            self.emit(if throttled {
                Event::CountryThrottled { country }
            } else {
                Event::CountryReleased { country }
            });
        }
    }

    /// Checks `code_input` for the phone typed as `phone_input`.
    pub async fn verify(
        &self,
        phone_input: &str,
        code_input: &str,
        ctx: &Context,
    ) -> Result<Verified, VerifyError> {
        let span = tracing::info_span!(
            "twofactor.verify",
            phone = tracing::field::Empty,
            outcome = tracing::field::Empty
        );
        let result = self
            .verify_inner(phone_input, code_input, ctx, &span)
            .instrument(span.clone())
            .await;
        span.record(
            "outcome",
            match &result {
                Ok(_) => "verified",
                Err(e) => e.code().as_str(),
            },
        );
        #[cfg(feature = "metrics")]
        crate::metrics::count_verify(result.as_ref());
        result
    }

    async fn verify_inner(
        &self,
        phone_input: &str,
        code_input: &str,
        ctx: &Context,
        span: &tracing::Span,
    ) -> Result<Verified, VerifyError> {
        let inner = &*self.inner;
        let phone = inner.parser.parse(phone_input).map_err(VerifyError::from)?;
        span.record("phone", tracing::field::display(phone.masked()));
        let len = inner.policy.code_length();
        let code =
            OtpCode::parse(code_input, len..=len).map_err(|_| VerifyError::InvalidCode { len })?;
        let now = inner.clock.now_millis();
        let store_failed = |e| {
            self.emit(Event::StoreFailed { phone });
            VerifyError::StoreUnavailable(e)
        };
        let (pending_id, ticket, attempt, last) = match inner
            .store
            .begin_attempt(phone, ctx.client_ip, now, &inner.attempt_limits)
            .await
            .map_err(store_failed)?
        {
            AttemptDecision::RateLimited { retry_after_ms } => {
                let retry_after = Duration::from_millis(retry_after_ms);
                self.emit(Event::RateLimited {
                    phone,
                    client_ip: ctx.client_ip,
                    limit: Limit::Ip,
                    retry_after,
                });
                return Err(VerifyError::RateLimited {
                    limit: Limit::Ip,
                    retry_after,
                });
            }
            AttemptDecision::Locked { retry_after_ms } => {
                self.emit(Event::VerificationFailed {
                    phone,
                    reason: FailureReason::Locked,
                });
                return Err(VerifyError::TooManyAttempts {
                    retry_after: Duration::from_millis(retry_after_ms),
                });
            }
            AttemptDecision::NoCode => {
                self.emit(Event::VerificationFailed {
                    phone,
                    reason: FailureReason::NoLiveCode,
                });
                return Err(VerifyError::NoLiveCode);
            }
            AttemptDecision::Proceed {
                pending_id,
                ticket,
                attempt,
                last,
            } => (pending_id, ticket, attempt, last),
        };
        let verdict = self
            .with_timeout(inner.provider.verify(&phone, &ticket, &code))
            .await;
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => {
                self.emit(Event::ProviderFailed {
                    phone,
                    provider: e.provider().to_owned(),
                    kind: e.kind(),
                });
                // The attempt stays counted: a failing provider must not become a free retry.
                return Err(if e.kind() == ProviderErrorKind::InvalidCode {
                    VerifyError::InvalidCode { len }
                } else {
                    VerifyError::Provider(e)
                });
            }
        };
        match verdict {
            Verdict::Matched => {
                match inner
                    .store
                    .finish_attempt(phone, pending_id, AttemptResult::Matched, now)
                    .await
                    .map_err(store_failed)?
                {
                    FinishOutcome::Done => {
                        // Only the conversion guard's figures: a failure here costs the user
                        // nothing and leaves the guard on the strict side.
                        if let Err(e) = inner.store.record_verified(Country::of(phone), now).await {
                            tracing::warn!(error = %e, "twofactor: could not count a verification for the conversion guard");
                        }
                    }
                    FinishOutcome::Gone => {
                        self.emit(Event::VerificationFailed {
                            phone,
                            reason: FailureReason::NoLiveCode,
                        });
                        return Err(VerifyError::NoLiveCode);
                    }
                }
                let ttl = inner.policy.token_ttl();
                let proof = PhoneProof::new(phone, inner.clock.now(), ttl);
                let (token, id) = inner.keys.sign_with_id(&proof);
                let proof = proof.with_token_id(id);
                self.emit(Event::Verified { phone });
                Ok(Verified {
                    proof,
                    token,
                    expires_in: Duration::from_secs(ttl.as_secs()),
                })
            }
            Verdict::Mismatch if last => {
                inner
                    .store
                    .finish_attempt(phone, pending_id, AttemptResult::LastMismatch, now)
                    .await
                    .map_err(store_failed)?;
                let lockout = inner.policy.lockout();
                self.emit(Event::Locked {
                    phone,
                    duration: lockout,
                });
                Err(VerifyError::TooManyAttempts {
                    retry_after: lockout,
                })
            }
            Verdict::Mismatch => {
                let attempts_left = inner.attempt_limits.max_attempts.saturating_sub(attempt);
                self.emit(Event::VerificationFailed {
                    phone,
                    reason: FailureReason::Incorrect { attempts_left },
                });
                Err(VerifyError::Incorrect { attempts_left })
            }
            Verdict::Expired => {
                // The code stays until its own expiry: this answer is also what the losers of a
                // race get once the winner consumed the code at the provider (see the store's
                // module docs), and further guesses stay counted either way.
                self.emit(Event::VerificationFailed {
                    phone,
                    reason: FailureReason::NoLiveCode,
                });
                Err(VerifyError::NoLiveCode)
            }
        }
    }
}

fn phone_code(e: &PhoneError) -> ErrorCode {
    match e {
        PhoneError::NotAllowed { .. } => ErrorCode::PhoneNotAllowed,
        _ => ErrorCode::InvalidPhone,
    }
}

fn provider_code(e: &ProviderError) -> ErrorCode {
    match e.kind() {
        ProviderErrorKind::Timeout => ErrorCode::ProviderTimeout,
        _ => ErrorCode::ProviderError,
    }
}

impl SendError {
    /// The contract's error code for this error (its status is [`ErrorCode::status`]).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Phone(e) => phone_code(e),
            Self::InvalidPhone => ErrorCode::InvalidPhone,
            Self::ChannelUnsupported(_) => ErrorCode::InvalidRequest,
            Self::ChannelNotAllowed(_) => ErrorCode::ChannelNotAllowed,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Provider(e) => provider_code(e),
            Self::StoreUnavailable(_) => ErrorCode::ServiceUnavailable,
        }
    }
}

impl VerifyError {
    /// The contract's error code for this error (its status is [`ErrorCode::status`]).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Phone(e) => phone_code(e),
            Self::InvalidCode { .. } => ErrorCode::InvalidCode,
            Self::NoLiveCode => ErrorCode::CodeExpired,
            Self::Incorrect { .. } => ErrorCode::IncorrectCode,
            Self::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Provider(e) => provider_code(e),
            Self::StoreUnavailable(_) => ErrorCode::ServiceUnavailable,
        }
    }
}
