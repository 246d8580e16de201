//! What can go wrong talking to 2Factor, and how it maps onto [`ProviderError`].
//!
//! Every variant is free of the API key and of the encryption secret: the key lives in the URL
//! path, so transport errors are stripped of their URL, and anything 2Factor says back is
//! scrubbed of the key before it is kept.

use std::time::Duration;

#[cfg(feature = "bulk")]
use super::bulk_report::BulkReport;
use crate::base_url::BaseUrlError;
use crate::client_error::{ClientError, ClientSetting, provider_error};
use crate::provider::{Delivery, ProviderError, ProviderErrorKind};
use crate::transport::{TransportFailure, answer_delivery};

/// The provider name used in [`ProviderError`]s and by the trait implementations.
pub(crate) const PROVIDER: &str = "2factor";

/// A setting of the 2Factor client that [`TwoFactorInError::Config`] refuses. Typed, so that a
/// caller (configuration) decides on the setting, never on the error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TwoFactorInSetting {
    /// The API key (empty, or of a form that cannot be one URL path segment).
    ApiKey,
    /// The default sender id.
    SenderId,
    /// The encrypted module's configuration: its secret key, or its absence.
    Encryption,
}

/// An error from the 2Factor client.
///
/// `Display`, `Debug` and every `source()` in the chain are free of the API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TwoFactorInError {
    /// 2Factor refused the API key (`Invalid API Key`, or the service is inactive for it).
    #[error("2Factor refused the API key: {details}")]
    InvalidApiKey {
        /// 2Factor's words.
        details: String,
    },
    /// 2Factor answered HTTP 401 or 403 without a recognisable reason (an IP restriction, for
    /// instance).
    #[error("2Factor refused access (HTTP {status}): {details}")]
    Forbidden {
        /// The HTTP status.
        status: u16,
        /// 2Factor's words, if any.
        details: String,
    },
    /// The phone number was refused, by 2Factor or by this client.
    #[error("invalid phone number: {details}")]
    InvalidPhone {
        /// Why.
        details: String,
    },
    /// The code was refused, by 2Factor or by this client (2Factor's custom codes have 4 to 6
    /// digits).
    #[error("invalid code: {details}")]
    InvalidCode {
        /// Why.
        details: String,
    },
    /// 2Factor has no OTP session with this id for this API key
    /// (`Invalid API / SessionId Combination - No Entry Exists`).
    #[error("2Factor has no OTP session with this id for this API key")]
    SessionNotFound,
    /// 2Factor throttled the request (HTTP 429, or a limit-sounding reason).
    #[error("2Factor rate limited the request (HTTP {status}): {details}")]
    RateLimited {
        /// The HTTP status.
        status: u16,
        /// 2Factor's words, if any.
        details: String,
        /// The `Retry-After` header, when 2Factor sent one in seconds.
        retry_after: Option<Duration>,
    },
    /// The account's balance or quota is spent.
    #[error("2Factor quota or balance exhausted (HTTP {status}): {details}")]
    QuotaExhausted {
        /// The HTTP status.
        status: u16,
        /// 2Factor's words.
        details: String,
    },
    /// 2Factor refused the request for a reason this client does not recognise.
    #[error("2Factor rejected the request (HTTP {status}): {details}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// 2Factor's words (scrubbed of the key, shortened).
        details: String,
    },
    /// 2Factor, or a gateway in front of it, failed (HTTP 5xx). 2Factor may have sent the
    /// message before failing: [`Delivery::MaybeSent`].
    #[error("2Factor failed on its side (HTTP {status}){}", .details.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    ServerError {
        /// The HTTP status.
        status: u16,
        /// 2Factor's words, if the body had any.
        details: Option<String>,
    },
    /// The HTTP exchange failed: no connection, a timeout, or a broken connection.
    #[error("{}", transport_message(*.failure, *.may_have_reached))]
    Transport {
        /// What failed.
        failure: TransportFailure,
        /// Whether the request may have reached 2Factor (and so a message may have been sent).
        may_have_reached: bool,
        /// The underlying error, with its URL removed.
        #[source]
        source: reqwest::Error,
    },
    /// 2Factor answered something this client cannot use: HTML, garbage, an empty body, JSON of
    /// an unknown shape, or an encrypted answer that does not decrypt.
    #[error("2Factor answered something unusable (HTTP {status}): {reason}{}", snippet_suffix(.snippet))]
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        reason: &'static str,
        /// The start of the body, cleaned as all provider text is: secrets scrubbed, control
        /// characters replaced, at most 200 characters.
        snippet: String,
    },
    /// The request was refused by this client before anything was sent (a schedule less than
    /// five minutes ahead, no sender id, an empty message, an unusable template name, ...).
    #[error("request refused before sending: {reason}")]
    InvalidRequest {
        /// Why.
        reason: String,
    },
    /// The base URL was refused when the client was built (the error never repeats it: it
    /// may hold credentials).
    #[error("invalid 2Factor base URL: {0}")]
    InvalidBaseUrl(#[source] BaseUrlError),
    /// The client's configuration is unusable (API key, sender id, encryption key).
    #[error("invalid 2Factor client configuration: {reason}")]
    Config {
        /// Which setting.
        setting: TwoFactorInSetting,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[cfg(feature = "bulk")]
    /// A bulk send larger than one request failed part-way: the messages before `failed_from`
    /// were handed to 2Factor (see `report`), the request starting at `failed_from` failed with
    /// `source`, and nothing after it was attempted.
    #[error(
        "bulk send stopped at message {failed_from} of {total} ({} accepted before the failure)",
        .report.accepted.len()
    )]
    BulkIncomplete {
        /// What 2Factor accepted and rejected before the failure (indices into the caller's list).
        report: Box<BulkReport>,
        /// The index of the first message of the request that failed.
        failed_from: usize,
        /// How many messages the caller asked to send.
        total: usize,
        /// Why that request failed.
        #[source]
        source: Box<TwoFactorInError>,
    },
}

fn transport_message(failure: TransportFailure, may_have_reached: bool) -> String {
    let what = match failure {
        TransportFailure::Connect => "could not connect to 2Factor",
        TransportFailure::Timeout => "2Factor did not answer in time",
        TransportFailure::Other => "the connection to 2Factor failed",
    };
    let reach = if may_have_reached {
        "the request may have reached 2Factor"
    } else {
        "the request did not reach 2Factor"
    };
    format!("{what}; {reach}")
}

fn snippet_suffix(snippet: &str) -> String {
    if snippet.is_empty() {
        String::new()
    } else {
        format!(": {snippet:?}")
    }
}

impl TwoFactorInError {
    /// Whether a message may have gone out despite the error.
    ///
    /// Explicit refusals (recognised error answers, 4xx), client-side refusals and connection
    /// failures are [`Delivery::NotSent`]. Timeouts after connecting, connections dropped after
    /// the request was written, 5xx answers (2Factor's or a gateway's, whatever the body),
    /// unreadable 2xx answers and incomplete bulk sends are [`Delivery::MaybeSent`]. The rule is
    /// the one every provider of this crate follows, see [`crate::transport`].
    pub fn delivery(&self) -> Delivery {
        match self {
            Self::Transport {
                may_have_reached: true,
                ..
            }
            | Self::ServerError { .. } => Delivery::MaybeSent,
            #[cfg(feature = "bulk")]
            Self::BulkIncomplete { .. } => Delivery::MaybeSent,
            Self::UnexpectedResponse { status, .. } => answer_delivery(*status),
            _ => Delivery::NotSent,
        }
    }

    /// The HTTP status 2Factor answered with, when there was an answer.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Forbidden { status, .. }
            | Self::RateLimited { status, .. }
            | Self::QuotaExhausted { status, .. }
            | Self::Rejected { status, .. }
            | Self::ServerError { status, .. }
            | Self::UnexpectedResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The [`ProviderErrorKind`] this error maps to.
    pub fn provider_kind(&self) -> ProviderErrorKind {
        match self {
            Self::InvalidApiKey { .. } | Self::Forbidden { .. } => ProviderErrorKind::Unauthorized,
            Self::InvalidPhone { .. } => ProviderErrorKind::InvalidPhone,
            Self::InvalidCode { .. } => ProviderErrorKind::InvalidCode,
            Self::RateLimited { .. } => ProviderErrorKind::RateLimited,
            Self::QuotaExhausted { .. } => ProviderErrorKind::QuotaExhausted,
            Self::ServerError { .. } => ProviderErrorKind::ServerError,
            Self::Transport { failure, .. } => match failure {
                TransportFailure::Timeout => ProviderErrorKind::Timeout,
                TransportFailure::Connect | TransportFailure::Other => {
                    ProviderErrorKind::Unreachable
                }
            },
            Self::UnexpectedResponse { .. } => ProviderErrorKind::UnexpectedResponse,
            #[cfg(feature = "bulk")]
            Self::BulkIncomplete { source, .. } => source.provider_kind(),
            Self::SessionNotFound
            | Self::Rejected { .. }
            | Self::InvalidRequest { .. }
            | Self::InvalidBaseUrl(_)
            | Self::Config { .. }
            | Self::HttpClient(_) => ProviderErrorKind::Rejected,
        }
    }

    /// Builds a transport error from a `reqwest` error, removing its URL (which holds the key).
    ///
    /// `answered` says whether 2Factor had already started answering (the failure happened while
    /// reading the body).
    pub(crate) fn transport(err: reqwest::Error, answered: bool) -> Self {
        let err = err.without_url();
        // The rule shared by every provider: only a connect failure certainly sent nothing.
        let (failure, delivery) = crate::transport::classify(&err);
        let may_have_reached = answered || delivery == Delivery::MaybeSent;
        Self::Transport {
            failure,
            may_have_reached,
            source: err,
        }
    }

    pub(crate) fn invalid_request(reason: impl Into<String>) -> Self {
        Self::InvalidRequest {
            reason: reason.into(),
        }
    }

    pub(crate) fn config(setting: TwoFactorInSetting, reason: impl Into<String>) -> Self {
        Self::Config {
            setting,
            reason: reason.into(),
        }
    }
}

impl ClientError for TwoFactorInError {
    const PROVIDER: &'static str = PROVIDER;

    fn engine_kind(&self) -> ProviderErrorKind {
        self.provider_kind()
    }

    fn engine_delivery(&self) -> Delivery {
        self.delivery()
    }

    /// The whole sentence: 2Factor answers in words, which every variant already quotes.
    fn detail(&self) -> Option<String> {
        Some(self.to_string())
    }

    /// The builder checks one request value, the default template's name, and refuses it as
    /// [`TwoFactorInError::InvalidRequest`], as a send refuses a template it is given.
    fn refused_setting(&self) -> ClientSetting {
        match self {
            Self::Config {
                setting: TwoFactorInSetting::ApiKey,
                ..
            } => ClientSetting::ApiKey,
            Self::InvalidRequest { .. } => ClientSetting::Template,
            Self::InvalidBaseUrl(_) => ClientSetting::BaseUrl,
            _ => ClientSetting::Other,
        }
    }
}

/// Maps onto the engine's error: the kind, whether a message may have gone out, this error's
/// text as the detail, and this error as the `source`.
impl From<TwoFactorInError> for ProviderError {
    fn from(err: TwoFactorInError) -> Self {
        provider_error(err)
    }
}
