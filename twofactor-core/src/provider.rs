//! The provider traits: [`OtpProvider`] sends and checks codes, [`SmsSender`] sends text.
//!
//! Both traits use `#[async_trait]` rather than native `async fn` in traits: the engine holds
//! its provider as `Arc<dyn OtpProvider>` so that the provider can be chosen at run time (from
//! the environment, or a failover list), and a trait with native `async fn` or return-position
//! `impl Future` is not dyn-compatible. `async_trait` boxes each call's future once, which
//! costs a few tens of nanoseconds against a provider round trip of 100 ms or more.
//!
//! Implementing a provider for another SMS gateway takes two methods:
//!
//! ```
//! use twofactor_core::provider::{OtpProvider, ProviderError, SendOptions, Ticket, Verdict};
//! use twofactor_core::{OtpCode, PhoneNumber};
//!
//! struct MyGateway;
//!
//! #[async_trait::async_trait]
//! impl OtpProvider for MyGateway {
//!     fn name(&self) -> &str {
//!         "my-gateway"
//!     }
//!     async fn send(&self, phone: &PhoneNumber, _: &SendOptions) -> Result<Ticket, ProviderError> {
//!         // Call the gateway; return what `verify` will need (its request id).
//!         Ok(Ticket::new(format!("request-for-{}", phone.digits())))
//!     }
//!     async fn verify(&self, _: &PhoneNumber, _: &Ticket, code: &OtpCode) -> Result<Verdict, ProviderError> {
//!         Ok(if code.expose() == "123456" { Verdict::Matched } else { Verdict::Mismatch })
//!     }
//! }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::code::OtpCode;
use crate::phone::PhoneNumber;

/// How the code reaches the user.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = twofactor::Channel))]
#[non_exhaustive]
pub enum Channel {
    /// A text message.
    #[default]
    Sms,
    /// A voice call reading the code out.
    Voice,
}

impl Channel {
    /// `"sms"` or `"voice"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Voice => "voice",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the engine asks of a provider when it sends a code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// SMS or voice.
    pub channel: Channel,
    /// How many digits the code must have (providers that let us choose use it).
    pub code_length: usize,
    /// How long the code stays valid (providers that let us choose use it).
    pub ttl: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            channel: Channel::Sms,
            code_length: 6,
            ttl: Duration::from_secs(600),
        }
    }
}

impl SendOptions {
    /// Options for `channel` with the default length (6) and lifetime (600 s).
    pub fn new(channel: Channel) -> Self {
        Self {
            channel,
            ..Self::default()
        }
    }

    /// Sets the code length.
    #[must_use]
    pub fn with_code_length(mut self, len: usize) -> Self {
        self.code_length = len;
        self
    }

    /// Sets the code lifetime.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
}

/// What a provider hands back from a send, and needs again to verify: a provider session id,
/// or for codes checked locally a keyed hash of the code.
///
/// A ticket is a secret: it is stored server-side, never returned to the client, and its
/// `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Ticket(Box<str>);

impl Ticket {
    /// Wraps a provider's ticket.
    pub fn new(ticket: impl Into<String>) -> Self {
        Self(ticket.into().into_boxed_str())
    }

    /// The ticket's text, for the provider call and the store. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ticket([REDACTED])")
    }
}

/// A provider's answer to a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The code is right (and the provider has consumed it, where it tracks that).
    Matched,
    /// The code is wrong.
    Mismatch,
    /// The provider has no live code for this ticket: expired, used, or never issued.
    Expired,
}

/// Sends a one-time code to a phone and checks the code the user typed.
///
/// Implemented by the 2Factor client ([`TwoFactorInProvider`](crate::twofactor_in::TwoFactorInProvider)),
/// [Verihubs], [Octopush], [`Failover`](crate::failover::Failover)
/// over several of them, the console provider for development, the recording mock for tests, and
/// [`crate::local::LocalOtp`] (the library
/// generates and checks the code and delivers it through any [`SmsSender`]).
///
#[cfg_attr(feature = "verihubs", doc = "[Verihubs]: crate::verihubs")]
#[cfg_attr(not(feature = "verihubs"), doc = "[Verihubs]: crate#features")]
#[cfg_attr(feature = "octopush", doc = "[Octopush]: crate::octopush")]
#[cfg_attr(not(feature = "octopush"), doc = "[Octopush]: crate#features")]
#[async_trait]
pub trait OtpProvider: Send + Sync + 'static {
    /// A short name for logs and events (`"2factor"`, `"console"`).
    fn name(&self) -> &str;

    /// Whether this provider can deliver over `channel`. The default: SMS only.
    fn supports(&self, channel: Channel) -> bool {
        channel == Channel::Sms
    }

    /// The name of a stand-in that answers for `phone` in place of a real delivery: a
    /// decorator that sends this phone nothing and checks its codes itself (the engine's test
    /// numbers answer as `"test-number"`). The engine holds only real deliveries to
    /// [`supports`](Self::supports) and to the policy's number types, since those rules are
    /// about what a message costs and who can read it, and names the stand-in as the sender in
    /// its events. The default: `None`, every send is a real one.
    fn stand_in(&self, phone: &PhoneNumber) -> Option<&str> {
        let _ = phone;
        None
    }

    /// Sends a code to `phone`; returns what [`OtpProvider::verify`] needs later.
    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError>;

    /// Checks `code` against the code sent with `ticket` to `phone`.
    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError>;
}

#[async_trait]
impl<P: OtpProvider + ?Sized> OtpProvider for Arc<P> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn supports(&self, channel: Channel) -> bool {
        (**self).supports(channel)
    }
    fn stand_in(&self, phone: &PhoneNumber) -> Option<&str> {
        (**self).stand_in(phone)
    }
    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        (**self).send(phone, options).await
    }
    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        (**self).verify(phone, ticket, code).await
    }
}

/// A text message to send.
///
/// The text may carry a one-time code (it does when [`SmsSender::send_code`] falls back to
/// [`SmsSender::send_sms`]), so `Debug` shows its length only.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmsMessage {
    /// The recipients.
    pub to: Vec<PhoneNumber>,
    /// The text (in India: a DLT-approved template, filled in).
    pub text: String,
    /// The sender id (in India: the DLT header, e.g. `TFACTR`); `None` for the gateway's default.
    pub sender: Option<String>,
    /// Deliver later instead of now.
    pub schedule_at: Option<SystemTime>,
}

impl SmsMessage {
    /// A message of `text` to one phone, sent now from the default sender.
    pub fn new(to: PhoneNumber, text: impl Into<String>) -> Self {
        Self {
            to: vec![to],
            text: text.into(),
            sender: None,
            schedule_at: None,
        }
    }

    /// Adds a recipient.
    #[must_use]
    pub fn and_to(mut self, to: PhoneNumber) -> Self {
        self.to.push(to);
        self
    }

    /// Sets the sender id.
    #[must_use]
    pub fn with_sender(mut self, sender: impl Into<String>) -> Self {
        self.sender = Some(sender.into());
        self
    }

    /// Schedules the message.
    #[must_use]
    pub fn with_schedule(mut self, at: SystemTime) -> Self {
        self.schedule_at = Some(at);
        self
    }
}

impl fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsMessage")
            .field("to", &self.to)
            .field(
                "text",
                &format_args!("[{} chars]", self.text.chars().count()),
            )
            .field("sender", &self.sender)
            .field("schedule_at", &self.schedule_at)
            .finish()
    }
}

/// The gateway's receipt for an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmsReceipt {
    /// The gateway's id for the message (for delivery reports), if it gave one.
    pub message_id: Option<String>,
}

impl SmsReceipt {
    /// A receipt with the gateway's message id.
    pub fn new(message_id: Option<String>) -> Self {
        Self { message_id }
    }
}

/// A one-time code to deliver, for [`SmsSender::send_code`].
///
/// `Debug` shows neither the code nor the text (which holds the code): a message logged while
/// debugging must not hand out the code it was meant to deliver.
#[derive(Clone)]
#[non_exhaustive]
pub struct CodeMessage<'a> {
    /// The recipient.
    pub phone: &'a PhoneNumber,
    /// The code.
    pub code: &'a OtpCode,
    /// The message text with the code filled in, for senders that send free text.
    pub text: &'a str,
    /// SMS or voice.
    pub channel: Channel,
}

impl<'a> CodeMessage<'a> {
    /// A code message.
    pub fn new(phone: &'a PhoneNumber, code: &'a OtpCode, text: &'a str, channel: Channel) -> Self {
        Self {
            phone,
            code,
            text,
            channel,
        }
    }
}

impl fmt::Debug for CodeMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeMessage")
            .field("phone", &self.phone.masked())
            .field("code", &"[REDACTED]")
            .field("text", &"[REDACTED]")
            .field("channel", &self.channel)
            .finish()
    }
}

/// Sends text messages: single, to several recipients, and scheduled.
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    /// A short name for logs and events.
    fn name(&self) -> &str;

    /// Sends one message (to one or more recipients).
    async fn send_sms(&self, message: &SmsMessage) -> Result<SmsReceipt, ProviderError>;

    /// Sends several messages; the default sends them one by one and stops at the first error.
    async fn send_many(&self, messages: &[SmsMessage]) -> Result<Vec<SmsReceipt>, ProviderError> {
        let mut receipts = Vec::with_capacity(messages.len());
        for message in messages {
            receipts.push(self.send_sms(message).await?);
        }
        Ok(receipts)
    }

    /// Whether [`SmsSender::send_code`] can deliver over `channel`. The default: SMS only.
    fn supports_code_channel(&self, channel: Channel) -> bool {
        channel == Channel::Sms
    }

    /// Delivers a one-time code. The default sends `message.text` as an SMS; gateways with a
    /// dedicated OTP route (2Factor's custom-code endpoint, with its DLT template) override it.
    async fn send_code(&self, message: &CodeMessage<'_>) -> Result<(), ProviderError> {
        if message.channel != Channel::Sms {
            return Err(
                ProviderError::new(self.name().to_owned(), ProviderErrorKind::Unsupported)
                    .with_detail(format!(
                        "{} cannot deliver codes by {}",
                        self.name(),
                        message.channel
                    )),
            );
        }
        self.send_sms(&SmsMessage::new(*message.phone, message.text))
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl<S: SmsSender + ?Sized> SmsSender for Arc<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    async fn send_sms(&self, message: &SmsMessage) -> Result<SmsReceipt, ProviderError> {
        (**self).send_sms(message).await
    }
    async fn send_many(&self, messages: &[SmsMessage]) -> Result<Vec<SmsReceipt>, ProviderError> {
        (**self).send_many(messages).await
    }
    fn supports_code_channel(&self, channel: Channel) -> bool {
        (**self).supports_code_channel(channel)
    }
    async fn send_code(&self, message: &CodeMessage<'_>) -> Result<(), ProviderError> {
        (**self).send_code(message).await
    }
}

/// What kind of failure a provider reported; decides the HTTP status and whether failover may
/// try another provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProviderErrorKind {
    /// The provider says the phone number is invalid (the user's mistake).
    InvalidPhone,
    /// The provider says the code is malformed (the user's mistake).
    InvalidCode,
    /// Our credentials were refused (invalid API key, authorization failed).
    Unauthorized,
    /// The provider throttled us (too many requests).
    RateLimited,
    /// The account's quota or balance is spent.
    QuotaExhausted,
    /// The provider refuses this recipient (blocked number).
    Blocked,
    /// The provider refused the request for another reason it stated.
    Rejected,
    /// The channel or feature is not supported by this provider.
    Unsupported,
    /// No answer in time. Usually [`Delivery::MaybeSent`] (the request may have reached the
    /// provider); a timeout while connecting is [`Delivery::NotSent`].
    Timeout,
    /// The provider could not be reached (DNS, connection refused, TLS); nothing was sent.
    Unreachable,
    /// The provider answered something we cannot use (HTML, garbage, an unknown shape).
    UnexpectedResponse,
    /// The provider, or a gateway in front of it, failed (5xx). The providers in this crate
    /// report it as [`Delivery::MaybeSent`]: the provider may have sent the SMS before failing.
    /// A provider of your own should say so too (`.with_delivery(Delivery::MaybeSent)`), and
    /// [`Failover`](crate::failover::Failover) never fails over on it.
    ServerError,
}

impl fmt::Display for ProviderErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidPhone => "invalid phone number",
            Self::InvalidCode => "invalid code",
            Self::Unauthorized => "credentials refused",
            Self::RateLimited => "rate limited by the provider",
            Self::QuotaExhausted => "quota exhausted",
            Self::Blocked => "recipient blocked",
            Self::Rejected => "request rejected",
            Self::Unsupported => "not supported",
            Self::Timeout => "timed out",
            Self::Unreachable => "unreachable",
            Self::UnexpectedResponse => "unexpected response",
            Self::ServerError => "server error",
        })
    }
}

/// Whether a message may have reached the user despite the error.
///
/// This decides what a failed send costs: on [`Delivery::NotSent`] the engine gives the send's
/// reservation (cooldown, caps) back and a failover may try another provider; on
/// [`Delivery::MaybeSent`] neither happens, as either could deliver a second code. When in
/// doubt, a provider must say `MaybeSent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Certainly not sent: the request never left (DNS, connection refused, TLS, connect
    /// timeout), or the provider explicitly refused it (a documented error, a 4xx).
    NotSent,
    /// Possibly sent: a timeout once connected, a connection dropped after the request was
    /// written, a 5xx from the provider or a gateway, or a success that cannot be read.
    MaybeSent,
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A provider failure, as the engine sees it: a [`ProviderErrorKind`], the provider's own words
/// (free of secrets), whether a message may have gone out, and the provider-specific error as
/// `source()`.
///
/// Every provider in this crate guarantees that no API key, secret header or secret-bearing URL
/// appears in `Display`, `Debug` or anywhere in the `source()` chain.
#[derive(Debug, thiserror::Error)]
#[error("{provider}: {kind}{}", .detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct ProviderError {
    provider: Cow<'static, str>,
    kind: ProviderErrorKind,
    detail: Option<String>,
    delivery: Delivery,
    #[source]
    source: Option<BoxError>,
}

impl ProviderError {
    /// A failure of `kind` from `provider`. Whether a message may have been sent defaults from
    /// the kind: only [`ProviderErrorKind::Timeout`] and
    /// [`ProviderErrorKind::UnexpectedResponse`] and [`ProviderErrorKind::ServerError`] (a 5xx:
    /// the provider may have sent before failing) say "maybe".
    pub fn new(provider: impl Into<Cow<'static, str>>, kind: ProviderErrorKind) -> Self {
        let delivery = match kind {
            ProviderErrorKind::Timeout
            | ProviderErrorKind::UnexpectedResponse
            | ProviderErrorKind::ServerError => Delivery::MaybeSent,
            _ => Delivery::NotSent,
        };
        Self {
            provider: provider.into(),
            kind,
            detail: None,
            delivery,
            source: None,
        }
    }

    /// Adds the provider's own description (it must not contain secrets).
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Overrides whether a message may have been sent.
    #[must_use]
    pub fn with_delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// Attaches the underlying error (it must not carry secrets in its `Display`/`Debug`).
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The provider's name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// What went wrong.
    pub fn kind(&self) -> ProviderErrorKind {
        self.kind
    }

    /// The provider's own description, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Whether a message may have reached the user.
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// Whether the user's input caused this (invalid phone or code): another provider would
    /// refuse it too.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self.kind,
            ProviderErrorKind::InvalidPhone | ProviderErrorKind::InvalidCode
        )
    }
}
