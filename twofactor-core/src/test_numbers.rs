//! Test numbers: phones that are sent nothing and verify with a fixed code (an app store's
//! reviewer, a staging smoke test), as decorators over the engine's provider.
//!
//! # Why decorators
//! A test number is a provider question, "who answers for this phone?", not an engine rule: the
//! engine counts, caps and locks a test number like any phone, and only the sending and the
//! checking differ. So [`TestNumbers`] sits over the provider as [`LocalOtp`] sits over a
//! sender and [`Failover`] over providers, and the engine holds one
//! [`OtpProvider`] whatever it is made of. The one thing the engine must know, that a send is
//! no real delivery and so escapes the rules about what a message costs and who can read it,
//! it asks every provider alike ([`OtpProvider::stand_in`]).
//!
//! The builder ([`PhoneVerifierBuilder::test_number`]) parses the numbers and their codes,
//! refuses them unless they are explicitly enabled, and wraps [`TestNumbers`] around the
//! provider only then; the types stay private, so that no test number reaches a provider stack
//! past that switch.
//!
//! # Tickets
//! A stored ticket says who answered it:
//!
//! - `t:` — a test number's send, checked against the number's fixed code;
//! - `p:` and the provider's own ticket — everything else.
//!
//! [`ProviderTickets`] writes the `p:` on every stack the builder makes, test numbers or not,
//! and [`TestNumbers`] the `t:` over it. This is the text the stores (in memory, Redis,
//! PostgreSQL) have always held, so a code in flight survives an upgrade, a rolling deploy
//! beside older instances sharing the store, and a restart that switches test numbers on or
//! off; the in-memory store's compact form of a ticket is keyed on the `p:` too. A ticket with
//! neither prefix was never written by any version: it verifies as a mismatch, as it always
//! did, and a `t:` ticket whose number is no longer a test number likewise.
//!
//! [`LocalOtp`]: crate::local::LocalOtp
//! [`Failover`]: crate::failover::Failover
//! [`PhoneVerifierBuilder::test_number`]: crate::verifier::PhoneVerifierBuilder::test_number

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;

use crate::code::OtpCode;
use crate::phone::PhoneNumber;
use crate::provider::{Channel, OtpProvider, ProviderError, SendOptions, Ticket, Verdict};

/// The name a test number's sends go under in the engine's events.
const NAME: &str = "test-number";

/// The whole ticket of a test number's send: the code is in the configuration, not the ticket.
const TEST_TICKET: &str = "t:";

/// The prefix of a provider's ticket.
const PROVIDER_TICKET: &str = "p:";

/// Marks the inner provider's tickets with `p:` (see the module docs).
pub(crate) struct ProviderTickets<P>(P);

impl<P: OtpProvider> ProviderTickets<P> {
    pub(crate) fn new(inner: P) -> Self {
        Self(inner)
    }
}

#[async_trait]
impl<P: OtpProvider> OtpProvider for ProviderTickets<P> {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn supports(&self, channel: Channel) -> bool {
        self.0.supports(channel)
    }

    fn stand_in(&self, phone: &PhoneNumber) -> Option<&str> {
        self.0.stand_in(phone)
    }

    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        let ticket = self.0.send(phone, options).await?;
        Ok(Ticket::new(format!("{PROVIDER_TICKET}{}", ticket.expose())))
    }

    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        match ticket.expose().strip_prefix(PROVIDER_TICKET) {
            Some(inner) => self.0.verify(phone, &Ticket::new(inner), code).await,
            None => Ok(Verdict::Mismatch),
        }
    }
}

/// Test numbers over `P`: a configured number is sent nothing and verifies with its code,
/// compared in constant time; every other phone goes to `P`, whose tickets are marked `p:` so
/// that none reads as a test number's.
pub(crate) struct TestNumbers<P> {
    inner: ProviderTickets<P>,
    codes: HashMap<PhoneNumber, OtpCode>,
}

impl<P: OtpProvider> TestNumbers<P> {
    pub(crate) fn new(inner: ProviderTickets<P>, codes: HashMap<PhoneNumber, OtpCode>) -> Self {
        Self { inner, codes }
    }
}

impl<P> fmt::Debug for TestNumbers<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The codes open the numbers: their count only.
        f.debug_struct("TestNumbers")
            .field("numbers", &self.codes.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<P: OtpProvider> OtpProvider for TestNumbers<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn supports(&self, channel: Channel) -> bool {
        self.inner.supports(channel)
    }

    fn stand_in(&self, phone: &PhoneNumber) -> Option<&str> {
        if self.codes.contains_key(phone) {
            Some(NAME)
        } else {
            self.inner.stand_in(phone)
        }
    }

    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        if self.codes.contains_key(phone) {
            return Ok(Ticket::new(TEST_TICKET));
        }
        self.inner.send(phone, options).await
    }

    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        if ticket.expose() != TEST_TICKET {
            return self.inner.verify(phone, ticket, code).await;
        }
        // `OtpCode`'s equality is constant-time.
        Ok(match self.codes.get(phone) {
            Some(expected) if expected == code => Verdict::Matched,
            _ => Verdict::Mismatch,
        })
    }
}
