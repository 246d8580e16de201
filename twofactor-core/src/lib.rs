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
//! - [`twofactor`]: the 2Factor.in client ([`TwoFactorClient`]) and its provider ([`TwoFactorOtp`]).
//!
//! # Why `async-trait`
//! The provider traits are used as `Arc<dyn OtpProvider>` and `Arc<dyn SmsSender>` so that the
//! provider can be picked at run time. Native `async fn` in traits is not dyn-compatible, so the
//! traits use [`async_trait`](macro@async_trait), which boxes each call's future — a cost of nanoseconds against a
//! provider round trip of a hundred milliseconds. See [`provider`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod code;
pub mod phone;
pub mod provider;
mod secret;
// `transport_error` is for the header-keyed providers (Verihubs, Octopush) as they land.
#[allow(dead_code)]
pub mod transport;
pub mod twofactor;

pub use async_trait::async_trait;
pub use code::{CodeError, OtpCode};
pub use phone::{MaskedPhone, PhoneError, PhoneNumber, PhoneParser};
pub use phonenumber::country::Id as CountryId;
pub use provider::{
    Channel, Delivery, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, SmsMessage,
    SmsReceipt, SmsSender, Ticket, Verdict,
};
pub use twofactor::{TwoFactorClient, TwoFactorError, TwoFactorOtp};
