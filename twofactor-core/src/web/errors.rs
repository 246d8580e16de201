//! Every error code of the contract, with its HTTP status, in one table.
//!
//! | code | status | when |
//! |---|---|---|
//! | `invalid_request` | 400 | malformed JSON, a missing or ill-typed field, not JSON at all |
//! | `invalid_phone` | 400 | not a valid number, or a number type that cannot take the channel |
//! | `invalid_code` | 400 | not the configured code shape (never reaches the provider, costs no attempt) |
//! | `phone_verification_required` | 401 | a guarded route without a valid proof |
//! | `phone_verification_stale` | 401 | a proof older than the route allows |
//! | `phone_not_allowed` | 403 | the number's country is not on the allow-list |
//! | `channel_not_allowed` | 403 | the channel is switched off |
//! | `not_found` | 404 | an unknown path under the endpoints' prefix |
//! | `method_not_allowed` | 405 | a known path, another method (with `Allow`) |
//! | `code_expired` | 410 | no live code for this phone |
//! | `payload_too_large` | 413 | a body over 4 KiB |
//! | `incorrect_code` | 422 | a wrong code, attempts left (`attempts_left`) |
//! | `too_many_attempts` | 429 | the attempt budget is spent (`retry_after`, `Retry-After`) |
//! | `rate_limited` | 429 | a send or verify cap (`retry_after`, `reason`, `Retry-After`) |
//! | `internal_error` | 500 | a server misconfiguration (opaque) |
//! | `provider_error` | 502 | the provider failed or answered something unusable |
//! | `service_unavailable` | 503 | the store is unreachable (`Retry-After`) |
//! | `provider_timeout` | 504 | the provider did not answer in time |
//!
//! An app's own refusals ([`Refusal`](super::hooks::Refusal)) choose their code and status
//! freely; the body keeps the same shape.

use std::fmt;

use http::StatusCode;

/// A stable snake_case error code of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: malformed request.
    InvalidRequest,
    /// 400: not a valid phone number.
    InvalidPhone,
    /// 400: not the configured code shape.
    InvalidCode,
    /// 401: no valid proof.
    PhoneVerificationRequired,
    /// 401: a proof older than the route allows.
    PhoneVerificationStale,
    /// 403: the country is not allowed.
    PhoneNotAllowed,
    /// 403: the channel is switched off.
    ChannelNotAllowed,
    /// 404: no such endpoint.
    NotFound,
    /// 405: another method is needed.
    MethodNotAllowed,
    /// 410: no live code.
    CodeExpired,
    /// 413: the body is too large.
    PayloadTooLarge,
    /// 422: wrong code.
    IncorrectCode,
    /// 429: the attempt budget is spent.
    TooManyAttempts,
    /// 429: a cap refused.
    RateLimited,
    /// 500: server misconfiguration.
    InternalError,
    /// 502: the provider failed.
    ProviderError,
    /// 503: the store is unreachable.
    ServiceUnavailable,
    /// 504: the provider timed out.
    ProviderTimeout,
}

impl ErrorCode {
    /// The code as it appears in the `error` field.
    pub fn as_str(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status that goes with it.
    pub fn status(self) -> StatusCode {
        self.row().1
    }

    fn row(self) -> (&'static str, StatusCode) {
        match self {
            Self::InvalidRequest => ("invalid_request", StatusCode::BAD_REQUEST),
            Self::InvalidPhone => ("invalid_phone", StatusCode::BAD_REQUEST),
            Self::InvalidCode => ("invalid_code", StatusCode::BAD_REQUEST),
            Self::PhoneVerificationRequired => {
                ("phone_verification_required", StatusCode::UNAUTHORIZED)
            }
            Self::PhoneVerificationStale => ("phone_verification_stale", StatusCode::UNAUTHORIZED),
            Self::PhoneNotAllowed => ("phone_not_allowed", StatusCode::FORBIDDEN),
            Self::ChannelNotAllowed => ("channel_not_allowed", StatusCode::FORBIDDEN),
            Self::NotFound => ("not_found", StatusCode::NOT_FOUND),
            Self::MethodNotAllowed => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
            Self::CodeExpired => ("code_expired", StatusCode::GONE),
            Self::PayloadTooLarge => ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            Self::IncorrectCode => ("incorrect_code", StatusCode::UNPROCESSABLE_ENTITY),
            Self::TooManyAttempts => ("too_many_attempts", StatusCode::TOO_MANY_REQUESTS),
            Self::RateLimited => ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
            Self::InternalError => ("internal_error", StatusCode::INTERNAL_SERVER_ERROR),
            Self::ProviderError => ("provider_error", StatusCode::BAD_GATEWAY),
            Self::ServiceUnavailable => ("service_unavailable", StatusCode::SERVICE_UNAVAILABLE),
            Self::ProviderTimeout => ("provider_timeout", StatusCode::GATEWAY_TIMEOUT),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the guard or an extractor refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardRejection {
    /// No proof, or a missing, tampered, expired, revoked or unknown-key token: 401
    /// `phone_verification_required`.
    #[error("phone verification required")]
    Required,
    /// A valid proof older than the route's freshness limit: 401 `phone_verification_stale`.
    #[error("phone verification is too old for this route")]
    Stale,
    /// The list of revoked tokens (or the app's session store) could not be read, so no
    /// proof can be trusted right now: 503 `service_unavailable` (fail closed).
    #[error("phone verification is temporarily unavailable")]
    Unavailable,
    /// The server is misconfigured (a layer or middleware is missing; the adapter logged
    /// how to fix it): the opaque 500 `internal_error`.
    #[error("phone verification is misconfigured")]
    Misconfigured,
}

impl GuardRejection {
    /// The error code of this rejection.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Required => ErrorCode::PhoneVerificationRequired,
            Self::Stale => ErrorCode::PhoneVerificationStale,
            Self::Unavailable => ErrorCode::ServiceUnavailable,
            Self::Misconfigured => ErrorCode::InternalError,
        }
    }

    /// A stable name for logs and metrics (`required`, `stale`, `unavailable`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Stale => "stale",
            Self::Unavailable => "unavailable",
            Self::Misconfigured => "misconfigured",
        }
    }
}
