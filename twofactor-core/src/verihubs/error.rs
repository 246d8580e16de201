//! What can go wrong talking to Verihubs, one variant per documented status.

use std::fmt;

use crate::base_url::BaseUrlError;
use crate::client_error::{ClientError, ClientSetting, provider_error};
use crate::provider::{Delivery, ProviderError, ProviderErrorKind};
use crate::transport::answer_delivery;

/// The provider's name in errors, logs and events.
pub const NAME: &str = "verihubs";

/// A value that [`VerihubsError::InvalidParameter`] refuses: a body field of send or verify,
/// one of the two credential headers, a field of the delivery callback's query, or the HTTP
/// client itself. Typed, so that a caller (configuration) decides on the parameter, never on
/// the error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerihubsParameter {
    /// `msisdn`.
    Msisdn,
    /// `template` (SMS).
    Template,
    /// `lang_code` (WhatsApp).
    LangCode,
    /// `template_name` (WhatsApp).
    TemplateName,
    /// `otp`.
    Otp,
    /// `time_limit`.
    TimeLimit,
    /// `challenge`.
    Challenge,
    /// `callback_url`.
    CallbackUrl,
    /// The delivery callback's `session_id`.
    SessionId,
    /// The delivery callback's `status`.
    Status,
    /// The `App-ID` header: the account's id.
    AppId,
    /// The `API-Key` header.
    ApiKey,
    /// Not sent: the HTTP client built from [`HttpOptions`](crate::transport::HttpOptions).
    Http,
}

impl VerihubsParameter {
    /// The parameter's name as the API spells it (`app_id`, `api_key` and `http` for the
    /// headers and the client).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Msisdn => "msisdn",
            Self::Template => "template",
            Self::LangCode => "lang_code",
            Self::TemplateName => "template_name",
            Self::Otp => "otp",
            Self::TimeLimit => "time_limit",
            Self::Challenge => "challenge",
            Self::CallbackUrl => "callback_url",
            Self::SessionId => "session_id",
            Self::Status => "status",
            Self::AppId => "app_id",
            Self::ApiKey => "api_key",
            Self::Http => "http",
        }
    }
}

impl fmt::Display for VerihubsParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Verihubs failure.
///
/// The provider's own message is kept (scrubbed of our credentials, without control characters,
/// shortened); no variant ever holds the App-ID, the API key, a header or a URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerihubsError {
    /// A value we were about to send is not acceptable (refused before any request).
    #[error("invalid Verihubs {parameter}: {reason}")]
    InvalidParameter {
        /// The parameter (shown as the API spells it: `template`, `challenge`, …).
        parameter: VerihubsParameter,
        /// What is wrong with it.
        reason: String,
    },
    /// 400: the msisdn is not a valid number.
    #[error("Verihubs refused the msisdn: {message}")]
    InvalidMsisdn {
        /// Verihubs' message.
        message: String,
    },
    /// 401: the App-ID / API-Key pair was refused.
    #[error("Verihubs authorization failed: {message}")]
    AuthorizationFailed {
        /// Verihubs' message.
        message: String,
    },
    /// 403: the account's OTP quota is spent.
    #[error("Verihubs quota insufficient: {message}")]
    QuotaInsufficient {
        /// Verihubs' message.
        message: String,
    },
    /// 409: Verihubs has blocked this msisdn.
    #[error("Verihubs blocked the msisdn: {message}")]
    MsisdnBlocked {
        /// Verihubs' message.
        message: String,
    },
    /// 429: too many requests in Verihubs' time frame.
    #[error("Verihubs rate limit: {message}")]
    TooManyRequests {
        /// Verihubs' message.
        message: String,
    },
    /// 404 on verify: no OTP matches this msisdn, code and challenge. Verihubs documents this
    /// as its answer to a code the user typed wrong.
    #[error("Verihubs found no such OTP: {message}")]
    OtpNotFound {
        /// Verihubs' message.
        message: String,
    },
    /// 422 on verify: the OTP's time limit has passed.
    #[error("Verihubs OTP time limit exceeded: {message}")]
    TimeLimitExceeded {
        /// Verihubs' message.
        message: String,
    },
    /// Another 4xx status.
    #[error("Verihubs refused the request ({status}): {message}")]
    Rejected {
        /// The HTTP status (or the `code` of a 2xx answer that reported an error).
        status: u16,
        /// Verihubs' message.
        message: String,
    },
    /// A 5xx status (or a 2xx answer whose `code` says 5xx): Verihubs, or a gateway in front of
    /// it, failed. It may have sent the message first: [`Delivery::MaybeSent`].
    #[error("Verihubs server error ({status}): {message}")]
    ServerError {
        /// The HTTP status.
        status: u16,
        /// Verihubs' message, if any.
        message: String,
    },
    /// An answer we cannot use (not JSON, cut short, an unknown status).
    #[error("unexpected answer from Verihubs ({status}): {reason}")]
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        reason: String,
    },
    /// The base URL was refused when the client was built (the error never repeats it: it
    /// may hold credentials).
    #[error("invalid Verihubs base URL: {0}")]
    InvalidBaseUrl(#[source] BaseUrlError),
    /// The request did not complete (connection refused, timeout, TLS); the inner error says
    /// whether a message may have gone out, and carries the URL-free transport error.
    #[error("could not talk to Verihubs: {0}")]
    Transport(#[source] ProviderError),
}

impl VerihubsError {
    /// Whether a message may have reached the user despite this error.
    ///
    /// Explicit refusals (a documented status or code, another 4xx) and refusals before any
    /// request are [`Delivery::NotSent`]; a 5xx (the provider's or a gateway's, whatever the
    /// body), an unreadable 2xx and a transport failure after connecting are
    /// [`Delivery::MaybeSent`] (the rule of [`crate::transport`]).
    pub fn delivery(&self) -> Delivery {
        match self {
            Self::Transport(err) => err.delivery(),
            Self::ServerError { .. } => Delivery::MaybeSent,
            Self::UnexpectedResponse { status, .. } => answer_delivery(*status),
            _ => Delivery::NotSent,
        }
    }

    /// The [`ProviderErrorKind`] the engine sees.
    pub fn kind(&self) -> ProviderErrorKind {
        match self {
            Self::InvalidMsisdn { .. } => ProviderErrorKind::InvalidPhone,
            Self::AuthorizationFailed { .. } => ProviderErrorKind::Unauthorized,
            Self::QuotaInsufficient { .. } => ProviderErrorKind::QuotaExhausted,
            Self::MsisdnBlocked { .. } => ProviderErrorKind::Blocked,
            Self::TooManyRequests { .. } => ProviderErrorKind::RateLimited,
            Self::ServerError { .. } => ProviderErrorKind::ServerError,
            Self::UnexpectedResponse { .. } => ProviderErrorKind::UnexpectedResponse,
            Self::Transport(err) => err.kind(),
            Self::InvalidParameter { .. }
            | Self::InvalidBaseUrl(_)
            | Self::OtpNotFound { .. }
            | Self::TimeLimitExceeded { .. }
            | Self::Rejected { .. } => ProviderErrorKind::Rejected,
        }
    }

    /// Verihubs' own message, if the error carries one.
    fn message(&self) -> Option<&str> {
        match self {
            Self::InvalidMsisdn { message }
            | Self::AuthorizationFailed { message }
            | Self::QuotaInsufficient { message }
            | Self::MsisdnBlocked { message }
            | Self::TooManyRequests { message }
            | Self::OtpNotFound { message }
            | Self::TimeLimitExceeded { message }
            | Self::Rejected { message, .. }
            | Self::ServerError { message, .. } => Some(message).filter(|m| !m.is_empty()),
            Self::InvalidParameter { .. }
            | Self::InvalidBaseUrl(_)
            | Self::UnexpectedResponse { .. }
            | Self::Transport(_) => None,
        }
        .map(String::as_str)
    }

    /// The error for a documented status.
    pub(crate) fn from_status(status: u16, message: String) -> Self {
        match status {
            400 => Self::InvalidMsisdn { message },
            401 => Self::AuthorizationFailed { message },
            403 => Self::QuotaInsufficient { message },
            404 => Self::OtpNotFound { message },
            409 => Self::MsisdnBlocked { message },
            422 => Self::TimeLimitExceeded { message },
            429 => Self::TooManyRequests { message },
            500..=599 => Self::ServerError { status, message },
            _ if (400..500).contains(&status) => Self::Rejected { status, message },
            _ => Self::UnexpectedResponse {
                status,
                reason: format!("status {status}"),
            },
        }
    }
}

impl ClientError for VerihubsError {
    const PROVIDER: &'static str = NAME;

    fn engine_kind(&self) -> ProviderErrorKind {
        self.kind()
    }

    fn engine_delivery(&self) -> Delivery {
        self.delivery()
    }

    /// Verihubs' own words; for our own findings, the whole sentence (it names the parameter or
    /// what was wrong with the answer).
    fn detail(&self) -> Option<String> {
        match self {
            Self::InvalidParameter { .. }
            | Self::InvalidBaseUrl(_)
            | Self::UnexpectedResponse { .. } => Some(self.to_string()),
            _ => self.message().map(str::to_owned),
        }
    }

    fn refused_setting(&self) -> ClientSetting {
        match self {
            Self::InvalidParameter { parameter, .. } => match parameter {
                VerihubsParameter::AppId => ClientSetting::Account,
                VerihubsParameter::ApiKey => ClientSetting::ApiKey,
                VerihubsParameter::Template => ClientSetting::Template,
                _ => ClientSetting::Other,
            },
            Self::InvalidBaseUrl(_) => ClientSetting::BaseUrl,
            _ => ClientSetting::Other,
        }
    }

    fn into_transport(self) -> Result<ProviderError, Self> {
        match self {
            Self::Transport(inner) => Ok(inner),
            other => Err(other),
        }
    }
}

/// Keeps the [`VerihubsError`] as `source()`; a transport failure is handed on as it is.
impl From<VerihubsError> for ProviderError {
    fn from(err: VerihubsError) -> Self {
        provider_error(err)
    }
}
