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
//!   (a send is answered [`SendError::RateLimited`] with
//!   [`Limit::Locked`](crate::store::Limit::Locked)).
//! - At most one live code per phone: a new send replaces the old code.
//! - Sends go only over the channels the policy allows, and only to number types that can
//!   take the channel without billing the caller ([`Policy::allows_number`]), checked before
//!   any cap is spent. Then sends pass the cooldown, the per-phone, per-IP, per-number-range,
//!   voice and overall hourly caps, the country conversion guard and the country allow-list,
//!   each refusal saying which limit refused and when it lifts. Verifies spend the client
//!   address's hourly budget first ([`VerifyError::RateLimited`]).
//! - The store failing means refusal ([`SendError::StoreUnavailable`]): never a send without a
//!   record, never a guess without a count.
//! - Test numbers are no rule of the engine: the builder wraps them around the provider
//!   ([`PhoneVerifierBuilder::test_number`]), and the engine only asks any provider whether a
//!   phone has a stand-in that sends nothing ([`OtpProvider::stand_in`]).
//!
//! # Where the engine is written
//! One file per concern, all of them `impl PhoneVerifier` over the state defined here:
//!
//! | file | what |
//! |---|---|
//! | `verifier/mod.rs` | [`PhoneVerifier`] and its state, [`Context`], what every path shares |
//! | `verifier/builder.rs` | [`PhoneVerifierBuilder`], [`BuildError`]: the provider stack (metrics, tickets, test numbers), the store, the keys |
//! | `verifier/send.rs` | [`send`](PhoneVerifier::send), [`send_to`](PhoneVerifier::send_to) and the conversion guard's reports |
//! | `verifier/verify.rs` | [`verify`](PhoneVerifier::verify): the attempt, the comparison, the proof |
//! | `verifier/proofs.rs` | checking proofs and tokens, revocation, sign-out everywhere |
//! | `outcome.rs` | [`Sent`], [`Verified`], [`SendError`], [`VerifyError`] |
//!
//! The outcome types live outside this folder, in `outcome.rs`, because the [`metrics`] wrappers
//! that the engine calls read them too: beside the engine rather than in it, both import them
//! and neither imports the other in a circle. They are re-exported here, where their users look
//! for them.
//!
#![cfg_attr(feature = "metrics", doc = "[`metrics`]: crate::metrics")]
#![cfg_attr(not(feature = "metrics"), doc = "[`metrics`]: crate#features")]

mod builder;
mod proofs;
mod send;
mod verify;

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::events::{Event, EventSink};
use crate::phone::PhoneParser;
use crate::policy::Policy;
use crate::provider::{Channel, Delivery, OtpProvider, ProviderError, ProviderErrorKind};
use crate::revocation::RevocationList;
use crate::store::{AttemptLimits, Country, SendLimits, VerificationStore};
use crate::token::KeyRing;

pub use self::builder::{BuildError, PhoneVerifierBuilder};
pub use crate::outcome::{SendError, Sent, Verified, VerifyError, retry_secs};

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
    /// Whether `clock` is the [`SystemClock`](crate::clock::SystemClock): then the guard's one
    /// reading of the system clock is the engine's time too.
    system_clock: bool,
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

impl PhoneVerifier {
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
}
