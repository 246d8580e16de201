//! Metrics through the [`metrics`] facade (feature `metrics`).
//!
//! The library only records: it never installs a recorder. Install one in your binary (for
//! Prometheus, `metrics-exporter-prometheus`) and every engine built with this feature on
//! reports to it; without a recorder the facade drops everything for the price of an atomic
//! load. Nothing to call: [`PhoneVerifierBuilder::build`](crate::verifier::PhoneVerifierBuilder::build)
//! instruments the engine's provider, store and event sink itself, and a
//! [`Failover`](crate::failover::Failover) its event sink, so an app built from the
//! environment (`Settings`, the adapters' `from_env`) has metrics as soon as the feature is on.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `twofactor_sends_total` | counter | `outcome` (`sent` or the error code of the answer: `rate_limited`, `invalid_phone`, `provider_error`…), `channel` (`sms`, `voice`) |
//! | `twofactor_verifications_total` | counter | `outcome` (`verified` or the error code: `incorrect_code`, `code_expired`, `too_many_attempts`, `rate_limited`…) |
//! | `twofactor_rate_limited_total` | counter | `reason`: the `reason` of the 429 (`locked`, `cooldown`, `phone`, `ip`, `range`, `channel`, `country`, `global`), sends and verifies |
//! | `twofactor_guard_rejections_total` | counter | `reason`: `required` (no valid proof: none, tampered, expired, revoked), `stale`, `unavailable`, `misconfigured` |
//! | `twofactor_conversion_throttled` | gauge | `country` (ISO code): 1 while the conversion guard refuses sends to it, 0 once it released it |
//! | `twofactor_provider_request_duration_seconds` | histogram | `provider`, `operation` (`send`, `verify`) |
//! | `twofactor_store_errors_total` | counter | `operation`: the store step that failed (`reserve_send`, `begin_attempt`…) |
//! | `twofactor_failovers_total` | counter | `from`, `to`: a [`Failover`](crate::failover::Failover) moved on |
//! | `twofactor_provider_breaker_open` | gauge | `provider`: 1 while a failover's breaker skips it |
//!
//! Sends and verifications are counted as the engine answers them
//! ([`PhoneVerifier::send`](crate::verifier::PhoneVerifier::send) or `send_to`,
//! [`verify`](crate::verifier::PhoneVerifier::verify)); a request the web layer refuses
//! before the engine (a malformed body, a send whose number does not parse, the app's
//! `before_send` hook) is not a send.
//!
//! A guard rejection is counted where the proof is checked ([`Contract::check`] and
//! [`Contract::authenticate`]): by the guard, by the `VerifiedPhone` extractors (the optional
//! one too) and by `GET {prefix}/status` without a valid token alike; a valid proof costs
//! nothing, a refusal a counter increment (no allocation).
//!
//! [`Contract::check`]: crate::web::Contract::check
//! [`Contract::authenticate`]: crate::web::Contract::authenticate
//!
//! No label ever carries a phone number, a code, a ticket or a token: every label value is
//! one of a fixed set, a provider's name or a country code.
//!
//! ```
//! use twofactor_core::metrics::{SENDS_TOTAL, names};
//!
//! assert_eq!(SENDS_TOTAL, "twofactor_sends_total");
//! assert!(names().iter().all(|n| n.starts_with("twofactor_")));
//! ```

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use metrics::{Key, Label, Level, Metadata, SharedString};

use crate::code::OtpCode;
use crate::events::{Event, EventSink};
use crate::outcome::{SendError, Sent, Verified, VerifyError};
use crate::phone::PhoneNumber;
use crate::policy::Policy;
use crate::provider::{Channel, OtpProvider, ProviderError, SendOptions, Ticket, Verdict};
use crate::store::{
    AttemptDecision, AttemptLimits, AttemptResult, ConversionFigures, Country, FinishOutcome,
    Pending, Revocation, RevocationBatch, RevocationCursor, SendAttempt, SendDecision, StoreError,
    VerificationStore,
};
use crate::web::errors::GuardRejection;

/// Sends by `outcome` and `channel`.
pub const SENDS_TOTAL: &str = "twofactor_sends_total";
/// Verifications by `outcome`.
pub const VERIFICATIONS_TOTAL: &str = "twofactor_verifications_total";
/// Refusals by a cap, by `reason`.
pub const RATE_LIMITED_TOTAL: &str = "twofactor_rate_limited_total";
/// Requests the guard or an extractor refused, by `reason`.
pub const GUARD_REJECTIONS_TOTAL: &str = "twofactor_guard_rejections_total";
/// The conversion guard's state for a `country`: 1 throttled, 0 released.
pub const CONVERSION_THROTTLED: &str = "twofactor_conversion_throttled";
/// Provider call latency, by `provider` and `operation`.
pub const PROVIDER_REQUEST_DURATION_SECONDS: &str = "twofactor_provider_request_duration_seconds";
/// Store failures, by `operation`.
pub const STORE_ERRORS_TOTAL: &str = "twofactor_store_errors_total";
/// Failovers from one provider to the next, by `from` and `to`.
pub const FAILOVERS_TOTAL: &str = "twofactor_failovers_total";
/// A failover's circuit breaker state for a `provider`: 1 open, 0 closed.
pub const PROVIDER_BREAKER_OPEN: &str = "twofactor_provider_breaker_open";

/// Every metric name this module records.
pub fn names() -> [&'static str; 9] {
    [
        SENDS_TOTAL,
        VERIFICATIONS_TOTAL,
        RATE_LIMITED_TOTAL,
        GUARD_REJECTIONS_TOTAL,
        CONVERSION_THROTTLED,
        PROVIDER_REQUEST_DURATION_SECONDS,
        STORE_ERRORS_TOTAL,
        FAILOVERS_TOTAL,
        PROVIDER_BREAKER_OPEN,
    ]
}

/// Describes every metric to the installed recorder (units and `# HELP` lines); call it once
/// after installing the recorder. Recording works without it.
///
/// ```
/// twofactor_core::metrics::describe();
/// ```
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(SENDS_TOTAL, "Code sends, by outcome and channel");
    describe_counter!(VERIFICATIONS_TOTAL, "Code verifications, by outcome");
    describe_counter!(
        RATE_LIMITED_TOTAL,
        "Sends and verifications refused by a cap, by reason"
    );
    describe_counter!(
        GUARD_REJECTIONS_TOTAL,
        "Requests refused for want of a valid phone verification, by reason"
    );
    describe_gauge!(
        CONVERSION_THROTTLED,
        "1 while the conversion guard refuses sends to the country"
    );
    describe_histogram!(
        PROVIDER_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Provider call latency, by provider and operation"
    );
    describe_counter!(STORE_ERRORS_TOTAL, "Store failures, by operation");
    describe_counter!(FAILOVERS_TOTAL, "Failovers from one provider to the next");
    describe_gauge!(
        PROVIDER_BREAKER_OPEN,
        "1 while a failover's circuit breaker skips the provider"
    );
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

fn increment(key: &Key) {
    metrics::with_recorder(|r| r.register_counter(key, &METADATA)).increment(1);
}

fn gauge(key: &Key, value: f64) {
    metrics::with_recorder(|r| r.register_gauge(key, &METADATA)).set(value);
}

fn counter2(name: &'static str, labels: [(&'static str, SharedString); 2]) {
    increment(&Key::from_parts(
        name,
        labels
            .into_iter()
            .map(|(k, v)| Label::new(k, v))
            .collect::<Vec<_>>(),
    ));
}

/// Counts a send's outcome (the engine calls it once per send).
pub(crate) fn count_send(channel: Channel, result: Result<&Sent, &SendError>) {
    let outcome = match result {
        Ok(_) => "sent",
        Err(e) => e.code().as_str(),
    };
    counter2(
        SENDS_TOTAL,
        [
            ("outcome", outcome.into()),
            ("channel", channel.as_str().into()),
        ],
    );
}

/// Counts a verification's outcome (the engine calls it once per verification).
pub(crate) fn count_verify(result: Result<&Verified, &VerifyError>) {
    let outcome = match result {
        Ok(_) => "verified",
        Err(e) => e.code().as_str(),
    };
    increment(&Key::from_parts(
        VERIFICATIONS_TOTAL,
        vec![Label::new("outcome", outcome)],
    ));
}

// The guard's keys are built at compile time: a refused request costs a map lookup in the
// recorder and an atomic increment, never an allocation.
static GUARD_REQUIRED: [Label; 1] = [Label::from_static_parts("reason", "required")];
static GUARD_STALE: [Label; 1] = [Label::from_static_parts("reason", "stale")];
static GUARD_UNAVAILABLE: [Label; 1] = [Label::from_static_parts("reason", "unavailable")];
static GUARD_MISCONFIGURED: [Label; 1] = [Label::from_static_parts("reason", "misconfigured")];

/// Counts a refusal by the guard or an extractor.
pub(crate) fn count_guard_rejection(rejection: GuardRejection) {
    let labels: &'static [Label] = match rejection {
        GuardRejection::Required => &GUARD_REQUIRED,
        GuardRejection::Stale => &GUARD_STALE,
        GuardRejection::Unavailable => &GUARD_UNAVAILABLE,
        GuardRejection::Misconfigured => &GUARD_MISCONFIGURED,
    };
    increment(&Key::from_static_parts(GUARD_REJECTIONS_TOTAL, labels));
}

/// An [`EventSink`] that turns the engine's events into metrics: refusals by a cap
/// (`twofactor_rate_limited_total`), the conversion guard's state per country, and a
/// [`Failover`](crate::failover::Failover)'s moves and breakers.
///
/// The engine and every failover already report to it when the feature is on (next to the
/// sink you configured), so do not add it to a sink yourself: the events would count twice.
/// It is public for a component of your own that reports [`Event`]s.
///
/// ```
/// use twofactor_core::events::{Event, EventSink};
/// use twofactor_core::metrics::MetricsEvents;
///
/// MetricsEvents.record(&Event::BreakerClosed { provider: "octopush".into() });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsEvents;

impl EventSink for MetricsEvents {
    fn record(&self, event: &Event) {
        match event {
            Event::RateLimited { limit, .. } => increment(&Key::from_parts(
                RATE_LIMITED_TOTAL,
                vec![Label::new("reason", limit.as_str())],
            )),
            Event::CountryThrottled { country } => conversion_state(*country, 1.0),
            Event::CountryReleased { country } => conversion_state(*country, 0.0),
            Event::FailedOver { from, to, .. } => counter2(
                FAILOVERS_TOTAL,
                [("from", from.clone().into()), ("to", to.clone().into())],
            ),
            Event::BreakerOpened { provider, .. } => breaker_state(provider, 1.0),
            Event::BreakerClosed { provider } => breaker_state(provider, 0.0),
            // Sends and verifications are counted by the engine with their full outcome (an
            // event alone does not say whether a provider or store failure hit a send or a
            // verify); store failures by the instrumented store, with the step that failed.
            _ => {}
        }
    }
}

fn conversion_state(country: Country, value: f64) {
    gauge(
        &Key::from_parts(
            CONVERSION_THROTTLED,
            vec![Label::new("country", country.as_str().to_owned())],
        ),
        value,
    );
}

fn breaker_state(provider: &str, value: f64) {
    gauge(
        &Key::from_parts(
            PROVIDER_BREAKER_OPEN,
            vec![Label::new("provider", provider.to_owned())],
        ),
        value,
    );
}

/// `sink` followed by [`MetricsEvents`], for the engine and the failover.
pub(crate) fn instrument_events(sink: Arc<dyn EventSink>) -> Arc<dyn EventSink> {
    Arc::new(move |event: &Event| {
        sink.record(event);
        MetricsEvents.record(event);
    })
}

/// A provider whose calls are timed into `twofactor_provider_request_duration_seconds`
/// (labels `provider` = its name, `operation` = `send` or `verify`). A call the engine gives
/// up on (its provider timeout) is recorded too, with the time it ran.
///
/// The engine wraps its provider in one itself; wrap the members of a
/// [`Failover`](crate::failover::Failover) to see each provider apart:
///
/// ```
/// use twofactor_core::OtpProvider;
/// use twofactor_core::metrics::InstrumentedProvider;
/// use twofactor_core::mock::MockProvider;
///
/// let provider = InstrumentedProvider::new(MockProvider::new());
/// assert_eq!(provider.name(), "mock");
/// ```
pub struct InstrumentedProvider<P> {
    inner: P,
    send_key: Key,
    verify_key: Key,
}

impl<P> std::fmt::Debug for InstrumentedProvider<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedProvider")
            .field("send_key", &self.send_key)
            .finish_non_exhaustive()
    }
}

impl<P: OtpProvider> InstrumentedProvider<P> {
    /// Times `inner`'s calls.
    pub fn new(inner: P) -> Self {
        // The keys are built once: a call then costs a lookup in the recorder, no allocation.
        let name = SharedString::from(inner.name().to_owned());
        let key = |operation: &'static str| {
            Key::from_parts(
                PROVIDER_REQUEST_DURATION_SECONDS,
                vec![
                    Label::new("provider", name.clone()),
                    Label::new("operation", operation),
                ],
            )
        };
        Self {
            send_key: key("send"),
            verify_key: key("verify"),
            inner,
        }
    }
}

/// Records the time since `start` when dropped: on completion, and also when the caller
/// drops the call (a timeout).
struct Timing<'a> {
    key: &'a Key,
    start: Instant,
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        let secs = self.start.elapsed().as_secs_f64();
        metrics::with_recorder(|r| r.register_histogram(self.key, &METADATA)).record(secs);
    }
}

#[async_trait]
impl<P: OtpProvider> OtpProvider for InstrumentedProvider<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn supports(&self, channel: Channel) -> bool {
        self.inner.supports(channel)
    }

    fn stand_in(&self, phone: &PhoneNumber) -> Option<&str> {
        self.inner.stand_in(phone)
    }

    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        let _timing = Timing {
            key: &self.send_key,
            start: Instant::now(),
        };
        self.inner.send(phone, options).await
    }

    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        let _timing = Timing {
            key: &self.verify_key,
            start: Instant::now(),
        };
        self.inner.verify(phone, ticket, code).await
    }
}

/// A store whose failures are counted into `twofactor_store_errors_total` (label
/// `operation`: the method that failed). Everything else is passed through unchanged.
///
/// The engine wraps its store in one itself; use it for a store you call directly.
///
/// ```
/// use twofactor_core::metrics::InstrumentedStore;
/// use twofactor_core::store::MokaStore;
///
/// let store = InstrumentedStore::new(MokaStore::builder().build());
/// # let _ = store;
/// ```
#[derive(Debug)]
pub struct InstrumentedStore<S> {
    inner: S,
}

impl<S: VerificationStore> InstrumentedStore<S> {
    /// Counts `inner`'s failures.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

macro_rules! store_op {
    ($op:literal, $call:expr) => {{
        let result = $call;
        if result.is_err() {
            static LABELS: [Label; 1] = [Label::from_static_parts("operation", $op)];
            increment(&Key::from_static_parts(STORE_ERRORS_TOTAL, &LABELS));
        }
        result
    }};
}

#[async_trait]
impl<S: VerificationStore> VerificationStore for InstrumentedStore<S> {
    async fn reserve_send(&self, send: &SendAttempt) -> Result<SendDecision, StoreError> {
        store_op!("reserve_send", self.inner.reserve_send(send).await)
    }

    async fn release_send(&self, send: &SendAttempt) -> Result<(), StoreError> {
        store_op!("release_send", self.inner.release_send(send).await)
    }

    async fn put_pending(
        &self,
        phone: PhoneNumber,
        pending: &Pending,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        store_op!(
            "put_pending",
            self.inner.put_pending(phone, pending, now_ms).await
        )
    }

    async fn begin_attempt(
        &self,
        phone: PhoneNumber,
        client: Option<IpAddr>,
        now_ms: u64,
        limits: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError> {
        store_op!(
            "begin_attempt",
            self.inner
                .begin_attempt(phone, client, now_ms, limits)
                .await
        )
    }

    async fn finish_attempt(
        &self,
        phone: PhoneNumber,
        pending_id: u64,
        result: AttemptResult,
        now_ms: u64,
    ) -> Result<FinishOutcome, StoreError> {
        store_op!(
            "finish_attempt",
            self.inner
                .finish_attempt(phone, pending_id, result, now_ms)
                .await
        )
    }

    async fn record_verified(&self, country: Country, now_ms: u64) -> Result<(), StoreError> {
        store_op!(
            "record_verified",
            self.inner.record_verified(country, now_ms).await
        )
    }

    async fn conversion(
        &self,
        country: Country,
        now_ms: u64,
    ) -> Result<ConversionFigures, StoreError> {
        store_op!("conversion", self.inner.conversion(country, now_ms).await)
    }

    async fn revoke(&self, revocation: &Revocation, now_ms: u64) -> Result<(), StoreError> {
        store_op!("revoke", self.inner.revoke(revocation, now_ms).await)
    }

    async fn revocations(
        &self,
        since: &RevocationCursor,
        now_ms: u64,
    ) -> Result<RevocationBatch, StoreError> {
        store_op!("revocations", self.inner.revocations(since, now_ms).await)
    }

    fn check_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        // A build-time check, not a failure of the running store: not counted.
        self.inner.check_policy(policy)
    }
}
