//! Phone-number verification by SMS one-time code: providers, the verification engine, stores
//! and tokens, with no web framework inside.
//!
//! `twofactor-core` is the framework-free heart of twofactor-rs; `twofactor-tower` (axum and any
//! tower stack) and `twofactor-actix` (actix-web) mount it over HTTP.
//!
//! # Where things are
//! - [`PhoneNumber`], [`PhoneParser`]: the only way a user's number reaches a provider.
//! - [`OtpCode`]: the only way a user's code reaches a provider.
//! - [`provider`]: the [`OtpProvider`] and [`SmsSender`] traits and the provider error type.
//! - [`verihubs`], [`octopush`]: those providers' OTP clients ([`VerihubsProvider`],
//!   [`OctopushProvider`]).
//! - [`failover`]: [`Failover`], several providers in order of preference behind one, with a
//!   small circuit breaker.
//! - [`twofactor`]: the 2Factor.in client ([`TwoFactorClient`]) and its provider ([`TwoFactorOtp`]).
//!
//! # Why `async-trait`
//! The provider traits are used as `Arc<dyn OtpProvider>` and `Arc<dyn SmsSender>` so that the
//! provider can be picked at run time. Native `async fn` in traits is not dyn-compatible, so the
//! traits use [`async_trait`](macro@async_trait), which boxes each call's future — a cost of
//! nanoseconds against a provider round trip of a hundred milliseconds. See [`provider`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod code;
pub mod config;
pub mod console;
mod endpoint;
pub mod events;
pub mod failover;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod local;
pub mod mock;
pub mod octopush;
pub mod phone;
mod phone_rules;
pub mod policy;
pub mod provider;
mod response;
pub mod revocation;
mod secret;
pub mod store;
pub mod token;
pub mod transport;
pub mod twofactor;
pub mod verifier;
pub mod verihubs;
mod warn;
pub mod web;

pub use async_trait::async_trait;
pub use code::{CodeError, OtpCode};
pub use failover::{Failover, FailoverError, FailoverEvent};
pub use local::{CodeHasher, LocalOtp};
pub use octopush::{OctopushError, OctopushOtpOptions, OctopushProvider};
pub use phone::{MaskedPhone, PhoneError, PhoneNumber, PhoneParser};
pub use phonenumber::country::Id as CountryId;
pub use policy::{Policy, PolicyBuilder, PolicyError};
pub use provider::{
    Channel, Delivery, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, SmsMessage,
    SmsReceipt, SmsSender, Ticket, Verdict,
};
pub use response::ResponseCode;
pub use store::VerificationStore;
pub use token::{KeyRing, PhoneProof, SigningKey, TokenError};
pub use twofactor::{TwoFactorClient, TwoFactorError, TwoFactorOtp};
pub use verifier::{
    BuildError, Context, PhoneVerifier, PhoneVerifierBuilder, SendError, Sent, Verified,
    VerifyError,
};
pub use verihubs::{VerihubsChannel, VerihubsError, VerihubsProvider};
