//! [`PhoneVerifierBuilder`]: what the engine is built of, checked once, at build time.
//!
//! The builder assembles the provider stack the engine holds as one [`OtpProvider`], from the
//! inside out: the metrics' timing around the real provider (feature `metrics`), the `p:` mark
//! on its tickets, and the test numbers when they are configured and enabled. The engine never
//! learns which layers it got.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::{Inner, PhoneVerifier};
use crate::clock::{Clock, SystemClock};
use crate::code::OtpCode;
use crate::events::{EventSink, TracingEvents};
use crate::phone::PhoneParser;
use crate::policy::Policy;
use crate::provider::OtpProvider;
use crate::revocation::RevocationList;
use crate::store::{AttemptLimits, SendLimits, VerificationStore};
use crate::test_numbers::{ProviderTickets, TestNumbers};
use crate::token::KeyRing;

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
    system_clock: bool,
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
        self.system_clock = (&clock as &dyn std::any::Any).is::<SystemClock>();
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
                system_clock: self.system_clock,
                revocations: RevocationList::new(),
                warnings,
                throttled: Mutex::default(),
            }),
        })
    }
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
            system_clock: true,
            test_numbers: Vec::new(),
            test_numbers_enabled: false,
        }
    }
}
