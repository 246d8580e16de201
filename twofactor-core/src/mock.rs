//! A recording mock provider for your own tests.
//!
//! [`MockProvider`] behaves like a provider that generates its own codes (2Factor's AUTOGEN): it
//! remembers the last code sent to each phone so a test can type it in, counts every call, and
//! can be told to fail or to answer slowly.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use twofactor_core::mock::MockProvider;
//! use twofactor_core::{OtpProvider, PhoneParser, ProviderErrorKind, SendOptions, Verdict};
//!
//! let mock = MockProvider::new();
//! let phone = PhoneParser::default().parse("+919812345678").unwrap();
//! let ticket = mock.send(&phone, &SendOptions::default()).await.unwrap();
//! let code = mock.last_code(&phone).unwrap();
//! assert_eq!(mock.verify(&phone, &ticket, &code).await.unwrap(), Verdict::Matched);
//!
//! mock.fail_next_send(ProviderErrorKind::Unreachable);
//! assert!(mock.send(&phone, &SendOptions::default()).await.is_err());
//! assert_eq!(mock.send_count(), 2);
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::code::OtpCode;
use crate::phone::PhoneNumber;
use crate::provider::{
    Channel, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, Ticket, Verdict,
};

/// One code the mock "sent".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentCode {
    /// The recipient.
    pub phone: PhoneNumber,
    /// The channel asked for.
    pub channel: Channel,
    /// The code.
    pub code: OtpCode,
}

#[derive(Default)]
struct State {
    sent: Vec<SentCode>,
    tickets: HashMap<String, (PhoneNumber, OtpCode)>,
    send_failures: VecDeque<ProviderErrorKind>,
    verify_failures: VecDeque<ProviderErrorKind>,
    fail_all_sends: Option<ProviderErrorKind>,
}

/// A recording mock [`OtpProvider`]; clones share their state. See the module docs.
#[derive(Clone, Default)]
pub struct MockProvider {
    state: Arc<Mutex<State>>,
    sends: Arc<AtomicU64>,
    verifies: Arc<AtomicU64>,
    delay: Arc<Mutex<Option<Duration>>>,
}

impl fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProvider")
            .field("sends", &self.send_count())
            .field("verifies", &self.verify_count())
            .finish_non_exhaustive()
    }
}

impl MockProvider {
    /// A mock that succeeds at everything.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last code sent to `phone`.
    pub fn last_code(&self, phone: &PhoneNumber) -> Option<OtpCode> {
        self.state()
            .sent
            .iter()
            .rev()
            .find(|s| s.phone == *phone)
            .map(|s| s.code.clone())
    }

    /// Every code sent, oldest first.
    pub fn sent(&self) -> Vec<SentCode> {
        self.state().sent.clone()
    }

    /// Calls to `send` so far (failed ones included).
    pub fn send_count(&self) -> u64 {
        self.sends.load(Ordering::SeqCst)
    }

    /// Calls to `verify` so far (failed ones included).
    pub fn verify_count(&self) -> u64 {
        self.verifies.load(Ordering::SeqCst)
    }

    /// The next `send` fails with `kind`.
    pub fn fail_next_send(&self, kind: ProviderErrorKind) {
        self.state().send_failures.push_back(kind);
    }

    /// Every `send` fails with `kind` until [`MockProvider::heal`].
    pub fn fail_all_sends(&self, kind: ProviderErrorKind) {
        self.state().fail_all_sends = Some(kind);
    }

    /// The next `verify` fails with `kind`.
    pub fn fail_next_verify(&self, kind: ProviderErrorKind) {
        self.state().verify_failures.push_back(kind);
    }

    /// Clears every programmed failure.
    pub fn heal(&self) {
        let mut state = self.state();
        state.send_failures.clear();
        state.verify_failures.clear();
        state.fail_all_sends = None;
    }

    /// Forgets every code sent so far: the mock then answers [`Verdict::Expired`] for them,
    /// like a provider whose codes ran out.
    pub fn forget_codes(&self) {
        self.state().tickets.clear();
    }

    /// Every call waits `delay` before answering (to make concurrent calls overlap).
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap_or_else(|e| e.into_inner()) = Some(delay);
    }

    async fn pause(&self) {
        let delay = *self.delay.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }

    fn error(kind: ProviderErrorKind) -> ProviderError {
        ProviderError::new("mock", kind).with_detail("programmed failure")
    }
}

#[async_trait]
impl OtpProvider for MockProvider {
    fn name(&self) -> &str {
        "mock"
    }

    fn supports(&self, _: Channel) -> bool {
        true
    }

    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        self.sends.fetch_add(1, Ordering::SeqCst);
        self.pause().await;
        let mut state = self.state();
        if let Some(kind) = state.send_failures.pop_front().or(state.fail_all_sends) {
            return Err(Self::error(kind));
        }
        let code = OtpCode::generate(options.code_length);
        let ticket = format!("mock-{}", hex::encode(crate::secret::random_bytes::<12>()));
        state.tickets.insert(ticket.clone(), (*phone, code.clone()));
        state.sent.push(SentCode {
            phone: *phone,
            channel: options.channel,
            code,
        });
        Ok(Ticket::new(ticket))
    }

    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        self.verifies.fetch_add(1, Ordering::SeqCst);
        self.pause().await;
        let mut state = self.state();
        if let Some(kind) = state.verify_failures.pop_front() {
            return Err(Self::error(kind));
        }
        Ok(match state.tickets.get(ticket.expose()) {
            Some((p, c)) if p == phone && c == code => {
                // Like a real provider, a matched code is used up.
                state.tickets.remove(ticket.expose());
                Verdict::Matched
            }
            Some(_) => Verdict::Mismatch,
            None => Verdict::Expired,
        })
    }
}
