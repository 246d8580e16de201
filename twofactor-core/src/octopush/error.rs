//! What can go wrong talking to Octopush: its documented return codes and HTTP statuses.

use std::fmt;

use crate::base_url::BaseUrlError;
use crate::client_error::{ClientError, ClientSetting, provider_error};
use crate::provider::{Delivery, ProviderError, ProviderErrorKind};
use crate::transport::answer_delivery;

/// The provider's name in errors, logs and events.
pub const NAME: &str = "octopush";

/// A value of an Octopush request that [`OctopushError::InvalidParameter`] refuses: a body
/// field of generate or validate, one of the two credential headers, or the HTTP client itself.
/// Typed, so that a caller (configuration, the engine's mapping to
/// [`ProviderErrorKind::InvalidPhone`]) decides on the parameter, never on the error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OctopushParameter {
    /// `phone_number`.
    PhoneNumber,
    /// `text`.
    Text,
    /// `channel`.
    Channel,
    /// `sender`.
    Sender,
    /// `code_length`.
    CodeLength,
    /// `allow_digits`.
    AllowDigits,
    /// `allow_upper_case`.
    AllowUpperCase,
    /// `allow_lower_case`.
    AllowLowerCase,
    /// `allow_special_chars`.
    AllowSpecialChars,
    /// `remove_confusing_characters`.
    RemoveConfusingCharacters,
    /// `validity_period`.
    ValidityPeriod,
    /// `max_wrong_attempts`.
    MaxWrongAttempts,
    /// `recipient_ip`.
    RecipientIp,
    /// `voice_language`.
    VoiceLanguage,
    /// `voice_gender`.
    VoiceGender,
    /// `code` (validate).
    Code,
    /// `otp_request_token` (validate).
    OtpRequestToken,
    /// The `api-login` header: the account's login.
    ApiLogin,
    /// The `api-key` header.
    ApiKey,
    /// Not sent: the HTTP client built from [`HttpOptions`](crate::transport::HttpOptions).
    Http,
}

impl OctopushParameter {
    /// The parameter's name as the API spells it (`api_login`, `api_key` and `http` for the
    /// headers and the client).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PhoneNumber => "phone_number",
            Self::Text => "text",
            Self::Channel => "channel",
            Self::Sender => "sender",
            Self::CodeLength => "code_length",
            Self::AllowDigits => "allow_digits",
            Self::AllowUpperCase => "allow_upper_case",
            Self::AllowLowerCase => "allow_lower_case",
            Self::AllowSpecialChars => "allow_special_chars",
            Self::RemoveConfusingCharacters => "remove_confusing_characters",
            Self::ValidityPeriod => "validity_period",
            Self::MaxWrongAttempts => "max_wrong_attempts",
            Self::RecipientIp => "recipient_ip",
            Self::VoiceLanguage => "voice_language",
            Self::VoiceGender => "voice_gender",
            Self::Code => "code",
            Self::OtpRequestToken => "otp_request_token",
            Self::ApiLogin => "api_login",
            Self::ApiKey => "api_key",
            Self::Http => "http",
        }
    }
}

impl fmt::Display for OctopushParameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An Octopush failure.
///
/// The provider's own message is kept (scrubbed of our credentials, without control characters,
/// shortened); no variant ever holds the login, the API key, a header or a URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OctopushError {
    /// A parameter fails Octopush's documented constraints; nothing was sent.
    #[error("invalid Octopush {parameter}: {reason}")]
    InvalidParameter {
        /// The parameter (shown as the API spells it: `sender`, `code_length`, …).
        parameter: OctopushParameter,
        /// What is wrong with it.
        reason: String,
    },
    /// HTTP 401, or return code 101: the login / key pair was refused.
    #[error("Octopush refused the credentials: {message}")]
    Unauthorized {
        /// Octopush's message.
        message: String,
    },
    /// HTTP 403: the account may not do this.
    #[error("Octopush forbade the request: {message}")]
    Forbidden {
        /// Octopush's message.
        message: String,
    },
    /// Return code 104 or 105: the account has run out of credit.
    #[error("Octopush credit exhausted ({code}): {message}")]
    InsufficientCredit {
        /// The return code.
        code: i64,
        /// Octopush's message.
        message: String,
    },
    /// Return code 117: no valid recipient number.
    #[error("Octopush refused the recipient ({code}): {message}")]
    InvalidRecipient {
        /// The return code.
        code: i64,
        /// Octopush's message.
        message: String,
    },
    /// HTTP 429.
    #[error("Octopush rate limit: {message}")]
    TooManyRequests {
        /// Octopush's message.
        message: String,
    },
    /// Return code 194: neither a phone number nor a request token was given.
    #[error("Octopush needs a phone number or a request token (194): {message}")]
    TargetMissing {
        /// Octopush's message.
        message: String,
    },
    /// Return code 195: the code field is missing.
    #[error("Octopush needs the code (195): {message}")]
    CodeMissing {
        /// Octopush's message.
        message: String,
    },
    /// Return code 196: the code's wrong attempts are spent.
    #[error("Octopush: maximum wrong attempts reached (196): {message}")]
    MaxAttemptsReached {
        /// Octopush's message.
        message: String,
    },
    /// Return code 197: the OTP request expired.
    #[error("Octopush: OTP request expired (197): {message}")]
    OtpExpired {
        /// Octopush's message.
        message: String,
    },
    /// Return code 198: no such OTP request.
    #[error("Octopush: OTP request not found (198): {message}")]
    OtpNotFound {
        /// Octopush's message.
        message: String,
    },
    /// Return code 199: the code is wrong.
    #[error("Octopush: wrong code (199), {} attempts left", .remaining_attempts.map_or_else(|| "unknown".to_owned(), |n| n.to_string()))]
    WrongCode {
        /// `remaining_number_of_attempts`, if Octopush said.
        remaining_attempts: Option<u32>,
        /// Octopush's message.
        message: String,
    },
    /// Another refusal.
    #[error("Octopush refused the request ({status}, code {}): {message}", .code.map_or_else(|| "none".to_owned(), |c| c.to_string()))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The return code, if any.
        code: Option<i64>,
        /// Octopush's message.
        message: String,
    },
    /// A 5xx status: Octopush, or a gateway in front of it, failed. It may have sent the
    /// message first: [`Delivery::MaybeSent`].
    #[error("Octopush server error ({status}): {message}")]
    ServerError {
        /// The HTTP status.
        status: u16,
        /// Octopush's message, if any.
        message: String,
    },
    /// An answer we cannot use (not JSON, no code, no token).
    #[error("unexpected answer from Octopush ({status}): {reason}")]
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        reason: String,
    },
    /// The base URL was refused when the client was built (the error never repeats it: it
    /// may hold credentials).
    #[error("invalid Octopush base URL: {0}")]
    InvalidBaseUrl(#[source] BaseUrlError),
    /// The request did not complete (connection refused, timeout, TLS); the inner error says
    /// whether a message may have gone out, and carries the URL-free transport error.
    #[error("could not talk to Octopush: {0}")]
    Transport(#[source] ProviderError),
}

impl OctopushError {
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
            Self::InvalidParameter {
                parameter: OctopushParameter::PhoneNumber,
                ..
            }
            | Self::InvalidRecipient { .. } => ProviderErrorKind::InvalidPhone,
            Self::Unauthorized { .. } | Self::Forbidden { .. } => ProviderErrorKind::Unauthorized,
            Self::InsufficientCredit { .. } => ProviderErrorKind::QuotaExhausted,
            Self::TooManyRequests { .. } => ProviderErrorKind::RateLimited,
            Self::ServerError { .. } => ProviderErrorKind::ServerError,
            Self::UnexpectedResponse { .. } => ProviderErrorKind::UnexpectedResponse,
            Self::Transport(err) => err.kind(),
            Self::InvalidParameter { .. }
            | Self::InvalidBaseUrl(_)
            | Self::TargetMissing { .. }
            | Self::CodeMissing { .. }
            | Self::MaxAttemptsReached { .. }
            | Self::OtpExpired { .. }
            | Self::OtpNotFound { .. }
            | Self::WrongCode { .. }
            | Self::Api { .. } => ProviderErrorKind::Rejected,
        }
    }

    /// The error a documented return code stands for, if it is one.
    pub(crate) fn from_code(
        code: i64,
        message: String,
        remaining_attempts: Option<u32>,
    ) -> Option<Self> {
        Some(match code {
            101 => Self::Unauthorized { message },
            104 | 105 => Self::InsufficientCredit { code, message },
            117 => Self::InvalidRecipient { code, message },
            194 => Self::TargetMissing { message },
            195 => Self::CodeMissing { message },
            196 => Self::MaxAttemptsReached { message },
            197 => Self::OtpExpired { message },
            198 => Self::OtpNotFound { message },
            199 => Self::WrongCode {
                remaining_attempts,
                message,
            },
            _ => return None,
        })
    }

    /// The error for an HTTP status with no known return code.
    pub(crate) fn from_status(status: u16, code: Option<i64>, message: String) -> Self {
        match status {
            401 => Self::Unauthorized { message },
            403 => Self::Forbidden { message },
            429 => Self::TooManyRequests { message },
            500..=599 => Self::ServerError { status, message },
            200..=299 | 400..=499 => Self::Api {
                status,
                code,
                message,
            },
            _ => Self::UnexpectedResponse {
                status,
                reason: format!("status {status}"),
            },
        }
    }

    fn message(&self) -> Option<&str> {
        match self {
            Self::Unauthorized { message }
            | Self::Forbidden { message }
            | Self::InsufficientCredit { message, .. }
            | Self::InvalidRecipient { message, .. }
            | Self::TooManyRequests { message }
            | Self::TargetMissing { message }
            | Self::CodeMissing { message }
            | Self::MaxAttemptsReached { message }
            | Self::OtpExpired { message }
            | Self::OtpNotFound { message }
            | Self::WrongCode { message, .. }
            | Self::Api { message, .. }
            | Self::ServerError { message, .. } => Some(message).filter(|m| !m.is_empty()),
            Self::InvalidParameter { .. }
            | Self::InvalidBaseUrl(_)
            | Self::UnexpectedResponse { .. }
            | Self::Transport(_) => None,
        }
        .map(String::as_str)
    }
}

impl ClientError for OctopushError {
    const PROVIDER: &'static str = NAME;

    fn engine_kind(&self) -> ProviderErrorKind {
        self.kind()
    }

    fn engine_delivery(&self) -> Delivery {
        self.delivery()
    }

    /// Octopush's own words; for our own findings, the whole sentence (it names the parameter
    /// or what was wrong with the answer).
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
                OctopushParameter::ApiLogin => ClientSetting::Account,
                OctopushParameter::ApiKey => ClientSetting::ApiKey,
                OctopushParameter::Text => ClientSetting::Template,
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

/// Keeps the [`OctopushError`] as `source()`; a transport failure is handed on as it is.
impl From<OctopushError> for ProviderError {
    fn from(err: OctopushError) -> Self {
        provider_error(err)
    }
}
