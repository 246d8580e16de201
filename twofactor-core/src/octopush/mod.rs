//! The [Octopush](https://octopush.com) OTP client: "Generate and Send an OTP" and "Validate",
//! by SMS or voice call.
//!
//! - Base URL `https://api.octopush.com/v1/public`, headers `api-login` and `api-key` (both kept as
//!   [`SecretString`], marked sensitive, redacted from every `Debug` and error), JSON bodies.
//! - Generate: `POST /service/otp/generate` with every documented parameter
//!   ([`OctopushOtpOptions`]); the answer's `otp_request_token` names the code.
//! - Validate: `PUT /service/otp/validate` with `code` and `otp_request_token` (or
//!   `phone_number`, for the last code sent to it). Return codes 194–199 are
//!   [`OctopushError`] variants: 199 wrong code (with the remaining attempts), 196 maximum
//!   attempts reached, 197 expired, 198 not found, 194/195 a missing field.
//!
//! Octopush silently casts, trims or drops a parameter it does not like and sends anyway, so
//! every parameter is checked here first ([`OctopushOtpOptions::validate`]) and a bad one is an
//! [`OctopushError::InvalidParameter`] naming it, before any request.
//!
//! # As an [`OtpProvider`]
//! [`OtpProvider::send`] generates a code of the engine's length (`code_length`), digits only
//! (`allow_digits` true, the other `allow_*` false, because the engine takes digits), valid for
//! the engine's lifetime (`validity_period`), on `sms` for [`Channel::Sms`] and `voice_sms` for
//! [`Channel::Voice`]; the other parameters come from [`OctopushBuilder::options`], which
//! refuses (at [`OctopushBuilder::build`]) a channel, length, lifetime or alphabet of its own
//! rather than silently ignore it. Every request carries a `text` with the `{code}`
//! placeholder: the configured one, else [`DEFAULT_TEXT`]. Unless the
//! options set `max_wrong_attempts`, it is [`DEFAULT_MAX_WRONG_ATTEMPTS`], above any sensible
//! engine budget, so that the engine's own per-phone attempt counter decides. The [`Ticket`] is
//! the `otp_request_token`. Verdicts: code 0 is [`Verdict::Matched`], 199
//! [`Verdict::Mismatch`], 196/197/198 [`Verdict::Expired`]; any other answer, a 2xx without an
//! explicit `"code": 0` included, is an error, never a match.
//!
//! A send that may have delivered a message — a timeout once connected, a dropped connection,
//! any 5xx, a 2xx that cannot be read — is [`Delivery::MaybeSent`](crate::provider::Delivery::MaybeSent);
//! only a connect failure or Octopush's own refusal is `NotSent` (see [`crate::transport`]).
//!
//! ```
//! use twofactor_core::octopush::OctopushProvider;
//! use twofactor_core::{Channel, OtpCode, OtpProvider, PhoneNumber, SendOptions, Verdict};
//! use wiremock::matchers::{body_partial_json, header, method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .and(path("/service/otp/generate"))
//!     .and(header("api-login", "me@example.org"))
//!     .and(body_partial_json(serde_json::json!({
//!         "phone_number": "+33611223344", "channel": "voice_sms", "code_length": 6
//!     })))
//!     .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
//!         "code": 0, "message": "ok", "ticket_number": "t-1", "otp_request_token": "otp_1"
//!     })))
//!     .mount(&server)
//!     .await;
//! Mock::given(method("PUT"))
//!     .and(path("/service/otp/validate"))
//!     .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
//!         "code": 199, "message": "Wrong OTP code.", "remaining_number_of_attempts": 3
//!     })))
//!     .mount(&server)
//!     .await;
//!
//! let octopush = OctopushProvider::builder("me@example.org", "my-key")
//!     .base_url(server.uri())
//!     .build()
//!     .unwrap();
//! let phone = PhoneNumber::from_digits(33611223344).unwrap();
//! let ticket = octopush.send(&phone, &SendOptions::new(Channel::Voice)).await.unwrap();
//! let code = OtpCode::parse("000000", 6..=6).unwrap();
//! assert_eq!(octopush.verify(&phone, &ticket, &code).await.unwrap(), Verdict::Mismatch);
//! # }
//! ```

mod error;
mod options;
mod request;

use std::fmt;

use async_trait::async_trait;
use http::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::answer::{Body, clean_text};
use crate::base_url;
use crate::code::OtpCode;
use crate::phone::PhoneNumber;
use crate::provider::{
    Channel, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, Ticket, Verdict,
};
use crate::transport::{HttpOptions, transport_error};

pub use error::{NAME, OctopushError, OctopushParameter};
pub use options::{
    CODE_LENGTH, CODE_PLACEHOLDER, DEFAULT_TEXT, MAX_WRONG_ATTEMPTS, OctopushChannel,
    OctopushOtpOptions, SENDER_CHARS, TEXT_CHARS, VALIDITY_PERIOD, VoiceGender, VoiceLanguage,
};
pub use request::{
    OctopushGenerateRequest, OctopushGenerateResponse, OctopushValidateRequest,
    OctopushValidateTarget,
};

/// Octopush's production base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.octopush.com/v1/public";

/// `max_wrong_attempts` sent by [`OtpProvider::send`] when the options set none: high enough
/// that the engine's per-phone attempt budget, not Octopush, decides when guessing stops.
pub const DEFAULT_MAX_WRONG_ATTEMPTS: u32 = 100;

/// Configures an [`OctopushProvider`]; from [`OctopushProvider::builder`].
#[must_use]
pub struct OctopushBuilder {
    api_login: SecretString,
    api_key: SecretString,
    base_url: String,
    options: OctopushOtpOptions,
    http: HttpOptions,
}

impl OctopushBuilder {
    /// The base URL (default [`DEFAULT_BASE_URL`]); tests point it at a local mock. It must be
    /// `http(s)` without credentials, query or fragment, or [`OctopushBuilder::build`] refuses
    /// it ([`OctopushError::InvalidBaseUrl`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The generation parameters (text, sender, voice, …) used by [`OtpProvider::send`];
    /// checked by [`OctopushBuilder::build`].
    ///
    /// What the engine decides per send is not configurable here, and [`Self::build`] refuses
    /// it rather than ignore it: the channel (keep the default [`OctopushChannel::Sms`]), the
    /// code length (keep the default 6; the engine's `code_length` is sent), the validity
    /// period (the engine's code lifetime is sent) and the alphabet (the engine checks
    /// digit-only codes, so `allow_digits` stays true and the other `allow_*` false). Use
    /// [`OctopushProvider::generate`] directly for codes of another alphabet.
    pub fn options(mut self, options: OctopushOtpOptions) -> Self {
        self.options = options;
        self
    }

    /// Timeouts, pool and client.
    pub fn http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<OctopushProvider, OctopushError> {
        let base_url = base_url::check(&self.base_url).map_err(OctopushError::InvalidBaseUrl)?;
        self.options.validate()?;
        refuse_engine_owned(&self.options)?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            HeaderName::from_static("api-login"),
            secret_header(OctopushParameter::ApiLogin, &self.api_login)?,
        );
        headers.insert(
            HeaderName::from_static("api-key"),
            secret_header(OctopushParameter::ApiKey, &self.api_key)?,
        );
        let client = self
            .http
            .client()
            .map_err(|_| OctopushError::InvalidParameter {
                parameter: OctopushParameter::Http,
                reason: "the HTTP client could not be built".to_owned(),
            })?;
        Ok(OctopushProvider {
            client,
            headers,
            api_login: self.api_login,
            api_key: self.api_key,
            base_url,
            options: self.options,
        })
    }
}

impl fmt::Debug for OctopushBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OctopushBuilder")
            .field("api_login", &"[REDACTED]")
            .field("api_key", &"[REDACTED]")
            .field("base_url", &base_url::redacted(&self.base_url))
            .field("options", &self.options)
            .field("http", &self.http)
            .finish()
    }
}

/// The Octopush client; see the [module docs](self).
#[derive(Clone)]
pub struct OctopushProvider {
    client: reqwest::Client,
    headers: HeaderMap,
    api_login: SecretString,
    api_key: SecretString,
    base_url: String,
    options: OctopushOtpOptions,
}

impl fmt::Debug for OctopushProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OctopushProvider")
            .field("api_login", &"[REDACTED]")
            .field("api_key", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl OctopushProvider {
    /// Starts a configuration with the account's login and API key.
    pub fn builder(
        api_login: impl Into<SecretString>,
        api_key: impl Into<SecretString>,
    ) -> OctopushBuilder {
        OctopushBuilder {
            api_login: api_login.into(),
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            options: OctopushOtpOptions::default(),
            http: HttpOptions::default(),
        }
    }

    /// Generates and sends a code as `request` describes, after checking every parameter.
    /// One request, never retried.
    pub async fn generate(
        &self,
        request: &OctopushGenerateRequest,
    ) -> Result<OctopushGenerateResponse, OctopushError> {
        let body = request.to_json()?;
        let answer = self
            .call(reqwest::Method::POST, "/service/otp/generate", &body)
            .await?;
        self.read_generate(&answer)
    }

    /// What a generate's answer says.
    pub(crate) fn read_generate(
        &self,
        answer: &Body,
    ) -> Result<OctopushGenerateResponse, OctopushError> {
        self.check(answer)?;
        let token = answer
            .str_field("otp_request_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OctopushError::UnexpectedResponse {
                status: answer.status,
                reason: "no otp_request_token in the answer".to_owned(),
            })?;
        Ok(OctopushGenerateResponse {
            otp_request_token: Ticket::new(token),
            ticket_number: answer.str_field("ticket_number").map(|s| self.clean(s)),
            message: answer.str_field("message").map(|s| self.clean(s)),
        })
    }

    /// Checks a code. `Ok(())` means it matched; a wrong, spent, expired or unknown code is the
    /// matching [`OctopushError`] variant (199, 196, 197, 198).
    pub async fn validate(&self, request: &OctopushValidateRequest) -> Result<(), OctopushError> {
        let body = request.to_json()?;
        let answer = self
            .call(reqwest::Method::PUT, "/service/otp/validate", &body)
            .await?;
        self.read_validate(&answer)
    }

    /// What a validate's answer says: a match only with an explicit `"code": 0`.
    pub(crate) fn read_validate(&self, answer: &Body) -> Result<(), OctopushError> {
        self.check(answer)?;
        // A 2xx without an explicit `"code": 0` (a proxy's page, say) is not a match.
        if answer.code().and_then(|c| c.as_i64()) != Some(0) {
            return Err(OctopushError::UnexpectedResponse {
                status: answer.status,
                reason: "a success without \"code\": 0".to_owned(),
            });
        }
        Ok(())
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Body, OctopushError> {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .headers(self.headers.clone())
            .json(body)
            .send()
            .await
            .map_err(|e| OctopushError::Transport(transport_error(NAME, e)))?;
        Body::read(response)
            .await
            .map_err(|e| OctopushError::Transport(transport_error(NAME, e)))
    }

    /// The error an answer stands for: a documented return code first, else the status.
    fn check(&self, answer: &Body) -> Result<(), OctopushError> {
        let code = answer.code().and_then(|c| c.as_i64());
        let message = || {
            answer
                .str_field("message")
                .map(|m| self.clean(m))
                .unwrap_or_default()
        };
        if answer.is_success() {
            if answer.json.is_none() {
                return Err(OctopushError::UnexpectedResponse {
                    status: answer.status,
                    reason: "the body is not a JSON object".to_owned(),
                });
            }
            return match code {
                None | Some(0) => Ok(()),
                // A documented return code is an explicit refusal, even under a 2xx.
                Some(code) => match OctopushError::from_code(
                    code,
                    message(),
                    answer.u32_field("remaining_number_of_attempts"),
                ) {
                    Some(err) => Err(err),
                    // An unknown code under a 2xx says neither "sent" nor "refused".
                    None => Err(OctopushError::UnexpectedResponse {
                        status: answer.status,
                        reason: format!("a success with the unknown return code {code}"),
                    }),
                },
            };
        }
        Err(match code {
            // A 5xx may have sent the message whatever its body says (found by the
            // `octopush_answer` fuzz target: a 503 with a documented code read as "not sent").
            Some(code) if answer.status < 500 => self.code_error(answer, code, message()),
            code => OctopushError::from_status(answer.status, code, message()),
        })
    }

    fn code_error(&self, answer: &Body, code: i64, message: String) -> OctopushError {
        let remaining = answer.u32_field("remaining_number_of_attempts");
        OctopushError::from_code(code, message.clone(), remaining)
            .unwrap_or_else(|| OctopushError::from_status(answer.status, Some(code), message))
    }

    fn clean(&self, text: &str) -> String {
        clean_text(
            text,
            &[self.api_key.expose_secret(), self.api_login.expose_secret()],
        )
    }
}

#[async_trait]
impl OtpProvider for OctopushProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn supports(&self, channel: Channel) -> bool {
        matches!(channel, Channel::Sms | Channel::Voice)
    }

    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        let channel = match options.channel {
            Channel::Sms => OctopushChannel::Sms,
            Channel::Voice => OctopushChannel::VoiceSms,
            #[allow(unreachable_patterns)] // `Channel` is non-exhaustive
            other => {
                return Err(ProviderError::new(NAME, ProviderErrorKind::Unsupported)
                    .with_detail(format!("Octopush cannot deliver codes by {other}")));
            }
        };
        let mut generate = self.options.clone();
        generate.channel = channel;
        // Out-of-range values stay out of range, so that validation names them.
        generate.code_length = u32::try_from(options.code_length).unwrap_or(u32::MAX);
        generate.validity_period = Some(u32::try_from(options.ttl.as_secs()).unwrap_or(u32::MAX));
        // The engine takes digits only.
        generate.allow_digits = true;
        generate.allow_upper_case = false;
        generate.allow_lower_case = false;
        generate.allow_special_chars = false;
        generate.max_wrong_attempts = generate
            .max_wrong_attempts
            .or(Some(DEFAULT_MAX_WRONG_ATTEMPTS));
        let sent = self
            .generate(&OctopushGenerateRequest::new(*phone, generate))
            .await?;
        // Neither the request token nor the ticket number is logged: they name the code.
        tracing::debug!(
            provider = NAME,
            phone = %phone.masked(),
            channel = channel.as_str(),
            "code sent"
        );
        Ok(sent.otp_request_token)
    }

    async fn verify(
        &self,
        _phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        let request = OctopushValidateRequest::by_token(ticket.expose(), code.expose());
        verdict(self.validate(&request).await)
    }
}

/// The engine's verdict from a validate's outcome.
pub(crate) fn verdict(outcome: Result<(), OctopushError>) -> Result<Verdict, ProviderError> {
    match outcome {
        Ok(()) => Ok(Verdict::Matched),
        Err(OctopushError::WrongCode { .. }) => Ok(Verdict::Mismatch),
        Err(
            OctopushError::MaxAttemptsReached { .. }
            | OctopushError::OtpExpired { .. }
            | OctopushError::OtpNotFound { .. },
        ) => Ok(Verdict::Expired),
        Err(err) => Err(err.into()),
    }
}

/// Refuses what [`OtpProvider::send`] decides per send instead of ignoring it.
fn refuse_engine_owned(options: &OctopushOtpOptions) -> Result<(), OctopushError> {
    let defaults = OctopushOtpOptions::default();
    let refuse = |parameter: OctopushParameter, reason: &str| {
        Err(OctopushError::InvalidParameter {
            parameter,
            reason: reason.to_owned(),
        })
    };
    if options.channel != defaults.channel {
        return refuse(
            OctopushParameter::Channel,
            "the engine chooses the channel of each send (sms or voice); leave it at sms",
        );
    }
    if options.code_length != defaults.code_length {
        return refuse(
            OctopushParameter::CodeLength,
            "the engine's code length is sent; set the length in the engine's policy",
        );
    }
    if options.validity_period.is_some() {
        return refuse(
            OctopushParameter::ValidityPeriod,
            "the engine's code lifetime is sent; set it in the engine's policy",
        );
    }
    let alphabet = [
        (OctopushParameter::AllowDigits, options.allow_digits, true),
        (
            OctopushParameter::AllowUpperCase,
            options.allow_upper_case,
            false,
        ),
        (
            OctopushParameter::AllowLowerCase,
            options.allow_lower_case,
            false,
        ),
        (
            OctopushParameter::AllowSpecialChars,
            options.allow_special_chars,
            false,
        ),
    ];
    for (parameter, value, engine) in alphabet {
        if value != engine {
            return refuse(
                parameter,
                "the engine checks digit-only codes: the alphabet must stay digits only \
                 (call OctopushProvider::generate directly for other codes)",
            );
        }
    }
    Ok(())
}

fn secret_header(
    parameter: OctopushParameter,
    secret: &SecretString,
) -> Result<HeaderValue, OctopushError> {
    crate::secret::secret_header(secret).ok_or_else(|| OctopushError::InvalidParameter {
        parameter,
        reason: "empty, or not a valid HTTP header value".to_owned(),
    })
}
