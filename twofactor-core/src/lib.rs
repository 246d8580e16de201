//! Phone-number verification by SMS one-time code: providers, the verification engine, stores
//! and tokens, with no web framework inside.
//!
//! `twofactor-core` is the framework-free heart of twofactor-rs; `twofactor-tower` (axum and any
//! tower stack) and `twofactor-actix` (actix-web) mount it over HTTP.
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
