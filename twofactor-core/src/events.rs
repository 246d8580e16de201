//! Events for audit logs and metrics: sent, verified, failed, locked, rate limited, a country
//! throttled or released by the conversion guard, a [`Failover`] moving on or opening a
//! breaker.
//!
//! The engine and a [`Failover`] report every decision to an [`EventSink`], and to nothing
//! else: one stream, one place to log it, count it or audit it. The default sink of both,
//! [`TracingEvents`], emits `tracing` events with the phone masked (with the `metrics` feature
//! both also count into [`MetricsEvents`], next to whatever sink you give them). Your own sink
//! receives the full number (you may need it for an audit trail) but never a code, ticket or
//! key.
//!
//! The event types live here, beneath the engine and the failover that emit them: both import
//! this file, and it imports neither.
//!
//! [`Failover`]: crate::failover::Failover
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use twofactor_core::events::{Event, EventSink};
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = {
//!     let seen = seen.clone();
//!     move |event: &Event| seen.lock().unwrap().push(event.name())
//! };
//! let sink: Arc<dyn EventSink> = Arc::new(sink);
//! # let _ = sink;
//! ```
//!
#![cfg_attr(
    feature = "metrics",
    doc = "[`MetricsEvents`]: crate::metrics::MetricsEvents"
)]
#![cfg_attr(not(feature = "metrics"), doc = "[`MetricsEvents`]: crate#features")]

use std::net::IpAddr;
use std::time::Duration;

use crate::phone::PhoneNumber;
use crate::provider::{Channel, ProviderErrorKind};
use crate::store::{Country, Limit};

/// Why a verification attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// Wrong code; `attempts_left` more are allowed.
    Incorrect {
        /// Attempts left before the lock.
        attempts_left: u32,
    },
    /// No live code (never sent, expired, used or cancelled).
    NoLiveCode,
    /// The phone is locked.
    Locked,
}

/// Something the engine or a [`Failover`](crate::failover::Failover) decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A code was sent.
    CodeSent {
        /// The recipient.
        phone: PhoneNumber,
        /// SMS or voice.
        channel: Channel,
        /// The provider that sent it.
        provider: String,
    },
    /// A phone was verified.
    Verified {
        /// The phone.
        phone: PhoneNumber,
    },
    /// A verification attempt failed.
    VerificationFailed {
        /// The phone.
        phone: PhoneNumber,
        /// Why.
        reason: FailureReason,
    },
    /// A phone spent its attempt budget and is locked.
    Locked {
        /// The phone.
        phone: PhoneNumber,
        /// How long the lock lasts.
        duration: Duration,
    },
    /// A send (or, for [`Limit::Ip`], a verify) was refused by a limit.
    RateLimited {
        /// The phone.
        phone: PhoneNumber,
        /// The client's address, if known.
        client_ip: Option<IpAddr>,
        /// Which limit.
        limit: Limit,
        /// When it lifts.
        retry_after: Duration,
    },
    /// A provider call failed.
    ProviderFailed {
        /// The phone.
        phone: PhoneNumber,
        /// The provider.
        provider: String,
        /// What went wrong.
        kind: ProviderErrorKind,
    },
    /// The country conversion guard started refusing sends to `country` (too few of its
    /// recent sends were verified).
    CountryThrottled {
        /// The country.
        country: Country,
    },
    /// The country conversion guard let a send to `country` through again.
    CountryReleased {
        /// The country.
        country: Country,
    },
    /// The store failed; the engine refused the request (fail closed).
    StoreFailed {
        /// The phone.
        phone: PhoneNumber,
    },
    /// A [`Failover`](crate::failover::Failover)'s send failed on `from` in a way that sent
    /// nothing; `to` is tried next.
    FailedOver {
        /// The provider that failed.
        from: String,
        /// The provider tried next.
        to: String,
        /// How `from` failed.
        kind: ProviderErrorKind,
    },
    /// A [`Failover`](crate::failover::Failover)'s `provider` failed too often in a row and is
    /// skipped for `duration`.
    BreakerOpened {
        /// The provider.
        provider: String,
        /// How long it is skipped (the failover's cool-off).
        duration: Duration,
    },
    /// A [`Failover`](crate::failover::Failover)'s `provider` succeeded again after its breaker
    /// had opened.
    BreakerClosed {
        /// The provider.
        provider: String,
    },
}

impl Event {
    /// A stable snake_case name for the event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CodeSent { .. } => "code_sent",
            Self::Verified { .. } => "verified",
            Self::VerificationFailed { .. } => "verification_failed",
            Self::Locked { .. } => "locked",
            Self::RateLimited { .. } => "rate_limited",
            Self::ProviderFailed { .. } => "provider_failed",
            Self::CountryThrottled { .. } => "country_throttled",
            Self::CountryReleased { .. } => "country_released",
            Self::StoreFailed { .. } => "store_failed",
            Self::FailedOver { .. } => "failed_over",
            Self::BreakerOpened { .. } => "breaker_opened",
            Self::BreakerClosed { .. } => "breaker_closed",
        }
    }
}

/// Receives the engine's and the failover's events. Called inline on the request path: keep it
/// quick (hand the event to a channel if you need to do I/O).
pub trait EventSink: Send + Sync + 'static {
    /// One event.
    fn record(&self, event: &Event);

    /// This sink, then `other`: both receive every event, in that order.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use twofactor_core::events::{Event, EventSink, TracingEvents};
    /// use twofactor_core::store::Country;
    ///
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let count = {
    ///     let seen = seen.clone();
    ///     move |_: &Event| {
    ///         seen.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// };
    /// let sink = TracingEvents.and(count);
    /// sink.record(&Event::CountryReleased { country: Country::new("IN").unwrap() });
    /// assert_eq!(seen.load(Ordering::Relaxed), 1);
    /// ```
    fn and<S: EventSink>(self, other: S) -> Both<Self, S>
    where
        Self: Sized,
    {
        Both(self, other)
    }
}

/// Two sinks in turn; see [`EventSink::and`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Both<A, B>(pub A, pub B);

impl<A: EventSink, B: EventSink> EventSink for Both<A, B> {
    fn record(&self, event: &Event) {
        self.0.record(event);
        self.1.record(event);
    }
}

impl<F: Fn(&Event) + Send + Sync + 'static> EventSink for F {
    fn record(&self, event: &Event) {
        self(event)
    }
}

/// The default sink: `tracing` events with masked phones (target `twofactor::events`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingEvents;

impl EventSink for TracingEvents {
    fn record(&self, event: &Event) {
        const T: &str = "twofactor::events";
        match event {
            Event::CodeSent {
                phone,
                channel,
                provider,
            } => {
                tracing::info!(target: T, event = "code_sent", phone = %phone.masked(), %channel, provider = %provider);
            }
            Event::Verified { phone } => {
                tracing::info!(target: T, event = "verified", phone = %phone.masked())
            }
            Event::VerificationFailed { phone, reason } => {
                tracing::info!(target: T, event = "verification_failed", phone = %phone.masked(), reason = ?reason);
            }
            Event::Locked { phone, duration } => {
                tracing::warn!(target: T, event = "locked", phone = %phone.masked(), lock_secs = duration.as_secs());
            }
            Event::RateLimited {
                phone,
                client_ip,
                limit,
                retry_after,
            } => {
                tracing::warn!(target: T, event = "rate_limited", phone = %phone.masked(), client_ip = ?client_ip, %limit, retry_after_secs = retry_after.as_secs());
            }
            Event::ProviderFailed {
                phone,
                provider,
                kind,
            } => {
                tracing::warn!(target: T, event = "provider_failed", phone = %phone.masked(), provider = %provider, kind = %kind);
            }
            Event::CountryThrottled { country } => {
                tracing::warn!(target: T, event = "country_throttled", %country);
            }
            Event::CountryReleased { country } => {
                tracing::info!(target: T, event = "country_released", %country);
            }
            Event::StoreFailed { phone } => {
                tracing::error!(target: T, event = "store_failed", phone = %phone.masked())
            }
            Event::FailedOver { from, to, kind } => {
                tracing::warn!(target: T, event = "failed_over", provider = %from, next = %to, %kind, "send failed, trying the next provider");
            }
            Event::BreakerOpened { provider, duration } => {
                tracing::warn!(target: T, event = "breaker_opened", %provider, skipped_for_secs = duration.as_secs(), "provider breaker opened");
            }
            Event::BreakerClosed { provider } => {
                tracing::info!(target: T, event = "breaker_closed", %provider, "provider breaker closed");
            }
        }
    }
}
