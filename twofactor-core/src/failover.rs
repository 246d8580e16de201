//! [`Failover`]: several providers in order of preference, behind one [`OtpProvider`].
//!
//! A send goes to the first provider that supports the channel and whose breaker is closed. If
//! it fails, the next one is tried **only** when the failure is the provider's, not the user's,
//! and certainly sent nothing:
//!
//! - [`Delivery::NotSent`], not a user error ([`ProviderError::is_user_error`]), and of kind
//!   [`Unreachable`](ProviderErrorKind::Unreachable) (connection refused, DNS, TLS),
//!   [`RateLimited`](ProviderErrorKind::RateLimited),
//!   [`QuotaExhausted`](ProviderErrorKind::QuotaExhausted),
//!   [`Unauthorized`](ProviderErrorKind::Unauthorized), or
//!   [`Timeout`](ProviderErrorKind::Timeout) while *connecting* (the only timeout that is
//!   `NotSent`).
//! - Never on [`Delivery::MaybeSent`]: a timeout once connected, a connection dropped after
//!   the request was written, a 5xx from the provider or a gateway
//!   ([`ServerError`](ProviderErrorKind::ServerError), never failed over whatever its
//!   delivery says), an unreadable answer. The first provider may have delivered a code; a
//!   second send would give the user two, and only one of them would verify.
//! - Never on an invalid phone (another provider would refuse it too), nor on a blocked
//!   recipient or a refusal of the request itself.
//!
//! The [`Ticket`] records which provider issued it (`"{index}:{name}:{inner ticket}"`), and
//! verify goes to that provider, even while its breaker is open: only it knows the code. The
//! index and name survive a restart as long as the list is rebuilt in the same order. A ticket
//! that names a provider no longer at its index (the list changed) verifies as
//! [`Verdict::Expired`], so the user asks for a new code; a ticket that is not of this shape at
//! all is a [`ProviderErrorKind::UnexpectedResponse`] error.
//!
//! # The breaker
//! A provider whose sends fail `threshold` times in a row (provider failures: the kinds above,
//! plus [`Timeout`](ProviderErrorKind::Timeout) and
//! [`UnexpectedResponse`](ProviderErrorKind::UnexpectedResponse); user errors and refusals
//! neither count nor reset) is skipped for `cool_off`, and [`Event::BreakerOpened`] is
//! reported. After the cool-off it is tried again; a success closes the breaker
//! ([`Event::BreakerClosed`]), a failure opens it for another cool-off. Verifies neither
//! count nor are skipped. If every provider that supports the channel is skipped, they are
//! tried anyway, the one whose cool-off ends first first: a send is never refused without
//! trying.
//!
//! Concurrent sends after a cool-off may all try the recovering provider; the breaker is small
//! on purpose.
//!
//! # Events
//! A move to the next provider ([`Event::FailedOver`]) and the breakers' changes are reported
//! to an [`EventSink`], the engine's kind, and nowhere else: by default [`TracingEvents`] logs
//! them (with the `metrics` feature [`MetricsEvents`] counts them too), as the engine's own
//! events. To have them in your own sink beside the engine's events, give the same sink to both
//! ([`Failover::with_event_sink`] and
//! [`PhoneVerifierBuilder::shared_events`](crate::verifier::PhoneVerifierBuilder::shared_events)):
//! the failover is one of the engine's providers, out of the engine's reach, so it gets its sink
//! the way it gets its providers, from you.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use twofactor_core::failover::Failover;
//! use twofactor_core::octopush::OctopushProvider;
//! use twofactor_core::verihubs::VerihubsProvider;
//! use twofactor_core::{OtpProvider, PhoneNumber, SendOptions};
//! use wiremock::matchers::{method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let verihubs_mock = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .and(path("/v2/otp/send"))
//!     .respond_with(ResponseTemplate::new(403).set_body_json(serde_json::json!({
//!         "message": "OTP quota is insufficient", "code": 403
//!     })))
//!     .mount(&verihubs_mock)
//!     .await;
//! let octopush_mock = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .and(path("/service/otp/generate"))
//!     .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
//!         "code": 0, "otp_request_token": "otp_1"
//!     })))
//!     .mount(&octopush_mock)
//!     .await;
//!
//! let primary = VerihubsProvider::builder("app", "key").base_url(verihubs_mock.uri()).build().unwrap();
//! let secondary = OctopushProvider::builder("me@example.org", "key")
//!     .base_url(octopush_mock.uri())
//!     .build()
//!     .unwrap();
//! let providers = Failover::new(vec![Arc::new(primary), Arc::new(secondary)])
//!     .unwrap()
//!     .with_breaker(3, Duration::from_secs(30));
//!
//! // Verihubs' quota is spent: Octopush sends the code.
//! let phone = PhoneNumber::from_digits(33611223344).unwrap();
//! let ticket = providers.send(&phone, &SendOptions::default()).await.unwrap();
//! assert!(ticket.expose().starts_with("1:octopush:"));
//! # }
//! ```
//!
#![cfg_attr(
    feature = "metrics",
    doc = "[`MetricsEvents`]: crate::metrics::MetricsEvents"
)]
#![cfg_attr(not(feature = "metrics"), doc = "[`MetricsEvents`]: crate#features")]

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::clock::{Clock, SystemClock};
use crate::code::OtpCode;
use crate::events::{Event, EventSink, TracingEvents};
use crate::phone::PhoneNumber;
use crate::provider::{
    Channel, Delivery, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, Ticket, Verdict,
};

/// The name of a [`Failover`] in logs and in its own errors.
pub const NAME: &str = "failover";

/// Default consecutive failures that open a provider's breaker.
pub const DEFAULT_THRESHOLD: u32 = 3;

/// Default time a provider with an open breaker is skipped.
pub const DEFAULT_COOL_OFF: Duration = Duration::from_secs(30);

/// Why a [`Failover`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FailoverError {
    /// The list of providers is empty.
    #[error("a failover needs at least one provider")]
    NoProviders,
}

/// Several providers in order of preference; see the [module docs](self).
pub struct Failover {
    members: Vec<Member>,
    threshold: u32,
    cool_off: Duration,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
}

struct Member {
    provider: Arc<dyn OtpProvider>,
    breaker: Mutex<Breaker>,
}

#[derive(Debug, Default)]
struct Breaker {
    /// Provider failures since the last success.
    failures: u32,
    /// Set while open (and, once passed, half-open: the next send is a trial).
    open_until: Option<SystemTime>,
}

impl Member {
    fn name(&self) -> &str {
        self.provider.name()
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // The state is two numbers, always consistent: a panic elsewhere cannot corrupt it.
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open_until(&self, now: SystemTime) -> Option<SystemTime> {
        self.breaker().open_until.filter(|until| now < *until)
    }
}

impl Failover {
    /// Providers in order of preference, with the default breaker (3 failures, 30 s) and the
    /// system clock.
    pub fn new(providers: Vec<Arc<dyn OtpProvider>>) -> Result<Self, FailoverError> {
        if providers.is_empty() {
            return Err(FailoverError::NoProviders);
        }
        Ok(Self {
            members: providers
                .into_iter()
                .map(|provider| Member {
                    provider,
                    breaker: Mutex::new(Breaker::default()),
                })
                .collect(),
            threshold: DEFAULT_THRESHOLD,
            cool_off: DEFAULT_COOL_OFF,
            clock: Arc::new(SystemClock),
            events: instrument(Arc::new(TracingEvents)),
        })
    }

    /// Opens a provider's breaker after `threshold` failures in a row, for `cool_off`. A
    /// threshold of 0 turns the breaker off.
    #[must_use]
    pub fn with_breaker(mut self, threshold: u32, cool_off: Duration) -> Self {
        self.threshold = threshold;
        self.cool_off = cool_off;
        self
    }

    /// Reads the time from `clock` (tests use [`crate::clock::ManualClock`]).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reports the failover's events to `sink` instead of [`TracingEvents`] (see the module
    /// docs); share one sink with the engine to see both in one stream. With the `metrics`
    /// feature they are counted too, as the engine's are.
    #[must_use]
    pub fn with_event_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = instrument(sink);
        self
    }

    /// The providers' names, in order.
    pub fn provider_names(&self) -> Vec<&str> {
        self.members.iter().map(Member::name).collect()
    }

    fn emit(&self, event: Event) {
        self.events.record(&event);
    }

    /// The order to try for `channel`: closed breakers in list order, or, if every breaker is
    /// open, all of them by when their cool-off ends.
    fn plan(&self, channel: Channel) -> Vec<usize> {
        let candidates: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].provider.supports(channel))
            .collect();
        let now = self.clock.now();
        let closed: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| self.members[i].open_until(now).is_none())
            .collect();
        if !closed.is_empty() {
            return closed;
        }
        let mut all = candidates;
        // A stable sort: ties keep the order of preference.
        all.sort_by_key(|&i| self.members[i].open_until(now));
        if let Some(&first) = all.first() {
            tracing::warn!(
                provider = self.members[first].name(),
                "every provider's breaker is open; trying them anyway"
            );
        }
        all
    }

    fn record_success(&self, member: &Member) {
        let was_open = {
            let mut breaker = member.breaker();
            breaker.failures = 0;
            breaker.open_until.take().is_some()
        };
        if was_open {
            self.emit(Event::BreakerClosed {
                provider: member.name().to_owned(),
            });
        }
    }

    fn record_failure(&self, member: &Member) {
        if self.threshold == 0 {
            return;
        }
        let now = self.clock.now();
        let opened = {
            let mut breaker = member.breaker();
            breaker.failures = breaker.failures.saturating_add(1);
            let reopen = match breaker.open_until {
                // Still cooling off (tried because every breaker was open): keep the end.
                Some(until) if now < until => false,
                // The trial after the cool-off failed.
                Some(_) => true,
                None => breaker.failures >= self.threshold,
            };
            if reopen {
                breaker.open_until = Some(now + self.cool_off);
            }
            reopen
        };
        if opened {
            self.emit(Event::BreakerOpened {
                provider: member.name().to_owned(),
                duration: self.cool_off,
            });
        }
    }
}

/// `sink`, and with the `metrics` feature the metrics too: the engine's sink gets the same.
fn instrument(sink: Arc<dyn EventSink>) -> Arc<dyn EventSink> {
    #[cfg(feature = "metrics")]
    let sink = crate::metrics::instrument_events(sink);
    sink
}

/// Whether the next provider may be tried after `err`: nothing was sent, and the next provider
/// has a chance where this one failed.
fn may_fail_over(err: &ProviderError) -> bool {
    // A 5xx is not in the list even when a provider calls it `NotSent`: the contract counts
    // any 5xx as maybe sent.
    err.delivery() == Delivery::NotSent
        && !err.is_user_error()
        && matches!(
            err.kind(),
            ProviderErrorKind::Unreachable
                | ProviderErrorKind::RateLimited
                | ProviderErrorKind::QuotaExhausted
                | ProviderErrorKind::Unauthorized
                | ProviderErrorKind::Timeout
        )
}

/// Whether `err` says something about the provider's health (and so counts for its breaker).
fn is_provider_failure(err: &ProviderError) -> bool {
    matches!(
        err.kind(),
        ProviderErrorKind::Unreachable
            | ProviderErrorKind::ServerError
            | ProviderErrorKind::RateLimited
            | ProviderErrorKind::QuotaExhausted
            | ProviderErrorKind::Unauthorized
            | ProviderErrorKind::Timeout
            | ProviderErrorKind::UnexpectedResponse
    )
}

impl fmt::Debug for Failover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failover")
            .field("providers", &self.provider_names())
            .field("threshold", &self.threshold)
            .field("cool_off", &self.cool_off)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl OtpProvider for Failover {
    fn name(&self) -> &str {
        NAME
    }

    /// Whether any provider supports `channel`.
    fn supports(&self, channel: Channel) -> bool {
        self.members.iter().any(|m| m.provider.supports(channel))
    }

    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        let plan = self.plan(options.channel);
        let mut last_error = None;
        for (step, &index) in plan.iter().enumerate() {
            let member = &self.members[index];
            match member.provider.send(phone, options).await {
                Ok(inner) => {
                    self.record_success(member);
                    return Ok(Ticket::new(format!(
                        "{index}:{}:{}",
                        member.name(),
                        inner.expose()
                    )));
                }
                Err(err) => {
                    if is_provider_failure(&err) {
                        self.record_failure(member);
                    }
                    let next = plan.get(step + 1).map(|&i| &self.members[i]);
                    match next {
                        Some(next) if may_fail_over(&err) => {
                            self.emit(Event::FailedOver {
                                from: member.name().to_owned(),
                                to: next.name().to_owned(),
                                kind: err.kind(),
                            });
                            last_error = Some(err);
                        }
                        _ => return Err(err),
                    }
                }
            }
        }
        Err(last_error.unwrap_or_else(|| {
            ProviderError::new(NAME, ProviderErrorKind::Unsupported).with_detail(format!(
                "no provider can deliver codes by {}",
                options.channel
            ))
        }))
    }

    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        let malformed = || {
            ProviderError::new(NAME, ProviderErrorKind::UnexpectedResponse)
                .with_delivery(Delivery::NotSent)
                .with_detail("the ticket was not issued by a failover")
        };
        let (index, rest) = ticket.expose().split_once(':').ok_or_else(malformed)?;
        let index: usize = index.parse().map_err(|_| malformed())?;
        // The name is matched as a prefix, so that a provider name may contain ':'.
        let issued = self.members.get(index).and_then(|member| {
            let inner = rest.strip_prefix(member.name())?.strip_prefix(':')?;
            Some((member, inner))
        });
        let Some((member, inner)) = issued else {
            tracing::warn!(
                phone = %phone.masked(),
                "the ticket names a provider no longer in the failover list; the code cannot be checked"
            );
            return Ok(Verdict::Expired);
        };
        member
            .provider
            .verify(phone, &Ticket::new(inner), code)
            .await
    }
}
