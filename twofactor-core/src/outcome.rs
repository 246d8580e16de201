//! What the engine answers: a code [`Sent`] or a phone [`Verified`], or why not
//! ([`SendError`], [`VerifyError`]), each error with its code in the HTTP contract.
//!
//! These types are apart from the engine ([`crate::verifier`], which re-exports them) so that
//! the engine and the [`metrics`](crate::metrics) wrappers it calls can both read them without
//! importing each other: the engine calls the wrappers, the wrappers label outcomes, and both
//! stand on this file.

use std::fmt;
use std::time::Duration;

use crate::phone::{PhoneError, PhoneNumber};
use crate::provider::{Channel, ProviderError, ProviderErrorKind};
use crate::store::{Limit, StoreError};
use crate::token::PhoneProof;
use crate::web::errors::ErrorCode;

/// A code was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sent {
    /// The phone, normalised.
    pub phone: PhoneNumber,
    /// How long the code stays valid.
    pub expires_in: Duration,
    /// How long until another code may be sent.
    pub resend_in: Duration,
}

/// A phone was verified.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The proof.
    pub proof: PhoneProof,
    /// The proof as a signed token, for the client (a secret: `Debug` hides it).
    pub token: String,
    /// How long the token is valid.
    pub expires_in: Duration,
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("proof", &self.proof)
            .field("token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why no code was sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The [`PhoneParser`](crate::phone::PhoneParser) refused the number as typed: not a phone number
    /// ([`PhoneError::Invalid`], answered `400 invalid_phone`) or from a country that is not
    /// allowed ([`PhoneError::NotAllowed`], `403 phone_not_allowed`).
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// A number the parser took but that cannot be sent a code: the provider judged it
    /// invalid, or its type cannot take the channel or bills the caller
    /// ([`Policy::allows_number`](crate::policy::Policy::allows_number)).
    #[error("not a valid phone number")]
    InvalidPhone,
    /// The provider cannot deliver over this channel.
    #[error("the {0} channel is not available")]
    ChannelUnsupported(Channel),
    /// The policy switched this channel off
    /// ([`Policy::channels`](crate::policy::Policy::channels)).
    #[error("codes are not sent by {0}")]
    ChannelNotAllowed(Channel),
    /// A limit refused the send.
    #[error("too many codes requested ({limit}); retry in {}s", retry_secs(*.retry_after))]
    RateLimited {
        /// Which limit.
        limit: Limit,
        /// When it lifts.
        retry_after: Duration,
    },
    /// The provider failed.
    #[error("the SMS provider failed")]
    Provider(#[source] ProviderError),
    /// The store failed; nothing was sent.
    #[error("the verification store is unavailable")]
    StoreUnavailable(#[source] StoreError),
}

/// Why a phone was not verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The [`PhoneParser`](crate::phone::PhoneParser) refused the number as typed: not a phone number
    /// ([`PhoneError::Invalid`], answered `400 invalid_phone`) or from a country that is not
    /// allowed ([`PhoneError::NotAllowed`], `403 phone_not_allowed`).
    #[error(transparent)]
    Phone(#[from] PhoneError),
    /// The code is not of the configured shape (no attempt was counted).
    #[error("a code is {len} digits")]
    InvalidCode {
        /// The configured length.
        len: usize,
    },
    /// No live code for this phone: never sent, expired, used or cancelled.
    #[error("no valid code for this phone; request a new one")]
    NoLiveCode,
    /// Wrong code.
    #[error("incorrect code; {attempts_left} attempts left")]
    Incorrect {
        /// Attempts left before the lock (at least 1).
        attempts_left: u32,
    },
    /// The attempt budget is spent; the phone is locked.
    #[error("too many attempts; retry in {}s", retry_secs(*.retry_after))]
    TooManyAttempts {
        /// When the lock lifts.
        retry_after: Duration,
    },
    /// The client address spent its verify budget ([`Limit::Ip`]); the phone lost no attempt.
    #[error("too many verifications ({limit}); retry in {}s", retry_secs(*.retry_after))]
    RateLimited {
        /// Which limit.
        limit: Limit,
        /// When it lifts.
        retry_after: Duration,
    },
    /// The provider failed.
    #[error("the SMS provider failed")]
    Provider(#[source] ProviderError),
    /// The store failed; the guess was not compared.
    #[error("the verification store is unavailable")]
    StoreUnavailable(#[source] StoreError),
}

/// Whole seconds, rounded up, at least 1: what `Retry-After` and `retry_after` carry.
pub fn retry_secs(d: Duration) -> u64 {
    (d.as_millis().div_ceil(1000) as u64).max(1)
}

fn phone_code(e: &PhoneError) -> ErrorCode {
    match e {
        PhoneError::NotAllowed { .. } => ErrorCode::PhoneNotAllowed,
        _ => ErrorCode::InvalidPhone,
    }
}

fn provider_code(e: &ProviderError) -> ErrorCode {
    match e.kind() {
        ProviderErrorKind::Timeout => ErrorCode::ProviderTimeout,
        _ => ErrorCode::ProviderError,
    }
}

impl SendError {
    /// The contract's error code for this error (its status is [`ErrorCode::status`]).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Phone(e) => phone_code(e),
            Self::InvalidPhone => ErrorCode::InvalidPhone,
            Self::ChannelUnsupported(_) => ErrorCode::InvalidRequest,
            Self::ChannelNotAllowed(_) => ErrorCode::ChannelNotAllowed,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Provider(e) => provider_code(e),
            Self::StoreUnavailable(_) => ErrorCode::ServiceUnavailable,
        }
    }
}

impl VerifyError {
    /// The contract's error code for this error (its status is [`ErrorCode::status`]).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Phone(e) => phone_code(e),
            Self::InvalidCode { .. } => ErrorCode::InvalidCode,
            Self::NoLiveCode => ErrorCode::CodeExpired,
            Self::Incorrect { .. } => ErrorCode::IncorrectCode,
            Self::TooManyAttempts { .. } => ErrorCode::TooManyAttempts,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Provider(e) => provider_code(e),
            Self::StoreUnavailable(_) => ErrorCode::ServiceUnavailable,
        }
    }
}
