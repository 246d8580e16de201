//! Phone-number verification by SMS one-time code: providers, the verification engine, stores
//! and tokens, with no web framework inside.
//!
//! `twofactor-core` is the framework-free heart of twofactor-rs; `twofactor-tower` (axum and any
//! tower stack) and `twofactor-actix` (actix-web) mount it over HTTP. An app depends on one of
//! those adapters, which re-exports what an app needs from here under the same names; this
//! crate is for provider, store and adapter authors, and for apps that run the engine without
//! HTTP.
//!
//! # The public API on one page
//!
//! ## What an app uses
//!
//! | to | use |
//! |---|---|
//! | configure everything from `TWOFACTOR_*` variables | [`config::Settings`], built into a ready [`web::Contract`]; its errors, [`config::ConfigError`], name the variable |
//! | build the engine in code | [`verifier::PhoneVerifier::builder`] → [`verifier::PhoneVerifierBuilder`] ([`verifier::BuildError`]) |
//! | send and verify without HTTP | [`verifier::PhoneVerifier::send`] / [`verify`](verifier::PhoneVerifier::verify): [`verifier::Sent`], [`verifier::Verified`], [`verifier::SendError`], [`verifier::VerifyError`]; [`verifier::Context`] carries the client address |
//! | set limits, caps and the fraud guard | [`policy::Policy`], [`policy::PolicyBuilder`] ([`policy::PolicyError`] names the [`policy::PolicyKnob`]) |
//! | pick a provider | [`twofactor_in::TwoFactorInProvider`] (2Factor.in), [`verihubs::VerihubsProvider`], [`octopush::OctopushProvider`]; [`local::LocalOtp`] over any [`provider::SmsSender`] (the library makes and checks the code); [`console::ConsoleProvider`] (development); [`failover::Failover`] (several, in order) |
//! | pick a store | [`store::MokaStore`] (in process, the default), [`store::redis::RedisStore`] (plain, TLS, cluster), [`store::postgres::PostgresStore`] |
//! | sign proofs | [`token::SigningKey`], [`token::KeyRing`] (rotation); a verified request carries a [`token::PhoneProof`] |
//! | handle phone numbers | [`phone::PhoneNumber`] (E.164), [`phone::PhoneParser`] (default region, allowed countries), [`phone::MaskedPhone`] (for logs) |
//! | log, count and audit | [`events::EventSink`], [`events::Event`], [`events::TracingEvents`] (the default); `metrics` (feature `metrics`) |
//! | set the HTTP side | [`web::WebConfig`] (cookie, where proofs live, client address), [`web::ErrorCode`] (each code with its status), [`web::Approval`] / [`web::Refusal`] (what the adapters' hooks answer) |
//! | test the app | `mock::MockProvider` (feature `testing`), [`clock::ManualClock`] |
//!
//! ## What a provider author uses
//!
//! Implement [`provider::OtpProvider`] (the provider makes and checks the code) or
//! [`provider::SmsSender`] (the library does, through [`local::LocalOtp`]). The inputs are
//! validated types — [`phone::PhoneNumber`], [`code::OtpCode`], [`provider::SendOptions`],
//! [`provider::SmsMessage`] — and the answers are a [`provider::Ticket`], a
//! [`provider::Verdict`] (only an explicit match verifies), a [`provider::SmsReceipt`], or a
//! [`provider::ProviderError`] of a [`provider::ProviderErrorKind`] (a 5xx or a timeout on a send
//! is "maybe sent": the engine keeps the reservation and does not retry).
//! [`transport::HttpOptions`] are the HTTP client settings the built-in providers share;
//! [`async_trait`](macro@async_trait) is re-exported for the traits.
//!
//! ## What a store author uses
//!
//! Implement [`store::VerificationStore`]: every method is one atomic step, described on the
//! trait with its argument and result types ([`store::SendAttempt`], [`store::SendDecision`],
//! [`store::AttemptDecision`], [`store::FinishOutcome`], [`store::Revocation`], …), then run the
//! shared conformance suite, `store::conformance` (feature `testing`), against it.
//!
//! ## What an adapter author uses
//!
//! [`web::Contract`]: the HTTP contract without a framework. Each endpoint takes the request's
//! bytes and answers a [`web::WebResponse`] with its exact status, headers and body; the guard's
//! check is [`web::Contract::check`] ([`web::GuardRejection`]). The helpers the two adapters
//! share sit in `web::adapter`, hidden from these docs and not a stable API.
//!
//! # Where things are
//! Each item is defined in one module and imported from there inside the crate; the root
//! re-exports are for users.
//! - [`phone`]: [`PhoneNumber`] and [`PhoneParser`], the only way a user's number reaches a
//!   provider.
//! - [`code`]: [`OtpCode`], the only way a user's code reaches a provider.
//! - [`provider`]: the [`OtpProvider`] and [`SmsSender`] traits and the provider error type.
//! - [`local`]: [`LocalOtp`], codes the library generates and checks, sent by any
//!   [`SmsSender`]; [`console`] prints them (development).
//! - [`twofactor_in`]: the 2Factor.in client ([`TwoFactorInClient`]) and its provider
//!   ([`TwoFactorInProvider`]).
//! - [`verihubs`], [`octopush`]: those providers' OTP clients ([`VerihubsProvider`],
//!   [`OctopushProvider`]).
//! - [`transport`]: what the three HTTP providers share: the HTTP options and the "sent, or
//!   maybe sent" rule. Their answers are read by one private reader (`answer.rs`, which
//!   defines [`ResponseCode`]).
//! - [`failover`]: [`Failover`], several providers in order of preference behind one, with a
//!   small circuit breaker.
//! - [`verifier`]: the engine, [`PhoneVerifier`], and its [`policy`]; [`events`]: the one
//!   stream of what the engine and a failover decided, for logs, metrics and audit.
//! - [`store`]: where pending codes, attempts and limits live ([`VerificationStore`]);
//!   [`token`]: the signed proofs of a verified phone ([`PhoneProof`], [`KeyRing`]);
//!   [`revocation`]: logged-out proofs.
//! - [`web`]: the framework-free HTTP contract ([`web::Contract`]) that the adapters mount.
//! - [`config`]: the top floor, the only module that reads the environment: typed settings of
//!   the provider, the store, the policy, the keys and the HTTP layer, built into a ready
//!   [`web::Contract`].
//!
//! # Why `async-trait`
//! The provider traits are used as `Arc<dyn OtpProvider>` and `Arc<dyn SmsSender>` so that the
//! provider can be picked at run time. Native `async fn` in traits is not dyn-compatible, so the
//! traits use [`async_trait`](macro@async_trait), which boxes each call's future — a cost of
//! nanoseconds against a provider round trip of a hundred milliseconds. See [`provider`].
//!
//! # Features
//!
//! - `moka`, `twofactor-in` (the defaults): the in-memory store; the 2Factor.in client and
//!   provider. `bulk` and `encrypted-sms` add 2Factor's bulk SMS and encrypted SMS module.
//! - `verihubs`, `octopush`: those OTP providers.
//! - `redis` (with `redis-tls`, `redis-cluster`), `postgres`: the stores that app instances
//!   share.
//! - `testing`: the recording mock provider, the store conformance suite and a store that is
//!   down, for tests.
//! - `openapi`: the OpenAPI 3.1 document of the HTTP contract (`web::openapi`).
//! - `metrics`: counters and latencies through the `metrics` facade (`metrics::MetricsEvents`
//!   and the guard's and stores' counters); the app installs the recorder.
//!
//! With a feature off, the links to its items on these pages lead to this list.
//!
#![cfg_attr(
    not(feature = "verihubs"),
    doc = "[`verihubs::VerihubsProvider`]: #features"
)]
#![cfg_attr(not(feature = "verihubs"), doc = "[`verihubs`]: #features")]
#![cfg_attr(not(feature = "verihubs"), doc = "[`VerihubsProvider`]: #features")]
#![cfg_attr(
    not(feature = "octopush"),
    doc = "[`octopush::OctopushProvider`]: #features"
)]
#![cfg_attr(not(feature = "octopush"), doc = "[`octopush`]: #features")]
#![cfg_attr(not(feature = "octopush"), doc = "[`OctopushProvider`]: #features")]
#![cfg_attr(
    not(feature = "redis"),
    doc = "[`store::redis::RedisStore`]: #features"
)]
#![cfg_attr(
    not(feature = "postgres"),
    doc = "[`store::postgres::PostgresStore`]: #features"
)]
#![cfg_attr(
    not(any(feature = "verihubs", feature = "octopush")),
    doc = "[`ResponseCode`]: #features"
)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
mod answer;
#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
mod base_url;
#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
mod client_error;
pub mod clock;
pub mod code;
pub mod config;
pub mod console;
pub mod events;
pub mod failover;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod local;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod mock;
#[cfg(feature = "octopush")]
#[cfg_attr(docsrs, doc(cfg(feature = "octopush")))]
pub mod octopush;
mod outcome;
pub mod phone;
pub mod policy;
pub mod provider;
pub mod revocation;
mod secret;
pub mod store;
mod test_numbers;
pub mod token;
#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush")))
)]
pub mod transport;
#[cfg(feature = "twofactor-in")]
#[cfg_attr(docsrs, doc(cfg(feature = "twofactor-in")))]
pub mod twofactor_in;
pub mod verifier;
#[cfg(feature = "verihubs")]
#[cfg_attr(docsrs, doc(cfg(feature = "verihubs")))]
pub mod verihubs;
mod warn;
pub mod web;

#[cfg(any(feature = "verihubs", feature = "octopush"))]
pub use answer::ResponseCode;
pub use async_trait::async_trait;
pub use code::{CodeError, OtpCode};
pub use failover::{Failover, FailoverError};
pub use local::{CodeHasher, LocalOtp};
#[cfg(feature = "octopush")]
#[cfg_attr(docsrs, doc(cfg(feature = "octopush")))]
pub use octopush::{OctopushError, OctopushOtpOptions, OctopushProvider};
pub use phone::{MaskedPhone, PhoneError, PhoneNumber, PhoneParser};
pub use phonenumber::country::Id as CountryId;
pub use policy::{Policy, PolicyBuilder, PolicyError, PolicyKnob};
pub use provider::{
    Channel, Delivery, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, SmsMessage,
    SmsReceipt, SmsSender, Ticket, Verdict,
};
pub use store::VerificationStore;
pub use token::{KeyRing, PhoneProof, SigningKey, TokenError};
#[cfg(feature = "twofactor-in")]
#[cfg_attr(docsrs, doc(cfg(feature = "twofactor-in")))]
pub use twofactor_in::{TwoFactorInClient, TwoFactorInError, TwoFactorInProvider};
pub use verifier::{
    BuildError, Context, PhoneVerifier, PhoneVerifierBuilder, SendError, Sent, Verified,
    VerifyError,
};
#[cfg(feature = "verihubs")]
#[cfg_attr(docsrs, doc(cfg(feature = "verihubs")))]
pub use verihubs::{VerihubsChannel, VerihubsError, VerihubsProvider};
