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
//!
//! # Why `async-trait`
//! The provider traits are used as `Arc<dyn OtpProvider>` and `Arc<dyn SmsSender>` so that the
//! provider can be picked at run time. Native `async fn` in traits is not dyn-compatible, so the
//! traits use [`async_trait`](mod@async_trait), which boxes each call's future — a cost of
//! nanoseconds against a provider round trip of a hundred milliseconds. See [`provider`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod code;
mod endpoint;
pub mod failover;
pub mod octopush;
pub mod phone;
pub mod provider;
mod response;
#[allow(dead_code)] // used by the provider clients as they land
mod secret;
pub mod transport;
pub mod verihubs;

pub use async_trait::async_trait;
pub use code::{CodeError, OtpCode};
pub use failover::{Failover, FailoverError, FailoverEvent};
pub use octopush::{OctopushError, OctopushOtpOptions, OctopushProvider};
pub use phone::{MaskedPhone, PhoneError, PhoneNumber, PhoneParser};
pub use phonenumber::country::Id as CountryId;
pub use provider::{
    Channel, Delivery, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, SmsMessage,
    SmsReceipt, SmsSender, Ticket, Verdict,
};
pub use response::ResponseCode;
pub use verihubs::{VerihubsChannel, VerihubsError, VerihubsProvider};
