//! The [Verihubs](https://verihubs.com) OTP client: "Send OTP V2" and "Verify OTP V2", by SMS or
//! WhatsApp, with the sandbox selectable by configuration.
//!
//! - Base URL `https://api.verihubs.com`, headers `App-ID` and `API-Key` (both kept as
//!   [`SecretString`], marked sensitive, redacted from every `Debug` and error), JSON bodies.
//! - Send: `POST /v2/otp/send` (`msisdn` with its country code and no `+`, `template` containing
//!   `$OTP`, optional client-generated `otp`, `time_limit` in seconds, `challenge`,
//!   `callback_url`). Verify: `POST /v2/otp/verify` (`msisdn`, `otp`, the same `challenge`).
//! - WhatsApp: `POST /v2/whatsapp/otp/send|verify`, with `lang_code` and `template_name` instead of
//!   a template text.
//! - Sandbox: the same paths with `/sandbox` appended. Verihubs documents the send sandbox
//!   (`/v2/otp/send/sandbox`) and its test numbers in [`sandbox`]; the verify sandbox path follows
//!   the pattern of its WhatsApp sandbox (`…/verify/sandbox`).
//!
//! Every documented status maps to a [`VerihubsError`] variant: 400 invalid msisdn, 401
//! authorization failed, 403 quota insufficient, 409 msisdn blocked, 429 too many requests; on
//! verify, 404 "OTP not found" (Verihubs' documented answer to a mistyped code) and 422 time
//! limit exceeded. A 2xx answer whose `code` field (a number or a string) says 4xx/5xx is treated
//! as that status.
//!
//! # As an [`OtpProvider`]
//! [`OtpProvider::send`] sends with `time_limit` = the engine's code lifetime, the configured
//! template, challenge and callback, and (only if [`VerihubsBuilder::client_generated_otp`] is
//! on) a code of the engine's length generated here; otherwise Verihubs generates the code with
//! the length set in its dashboard (set it to the engine's code length, or the engine refuses the
//! user's code as malformed). The [`Ticket`] records the channel and the challenge, which
//! verify must repeat. Verdicts: an explicit match (2xx with a 2xx `code`, or with Verihubs'
//! "OTP has been verified" and no `code`) is [`Verdict::Matched`], 404 [`Verdict::Mismatch`],
//! 422 [`Verdict::Expired`]; any other 2xx answer (empty, `{}`, an unknown shape) is a
//! [`ProviderErrorKind::UnexpectedResponse`] error, never a match.
//!
//! A send that may have delivered a message — a timeout once connected, a dropped connection,
//! any 5xx — is [`Delivery::MaybeSent`]; only a connect failure or
//! Verihubs' own refusal is `NotSent` (see [`crate::transport`]). Verihubs documents no "too many wrong attempts" answer; the engine's
//! own per-phone attempt budget is what stops guessing.
//!
//! The provider supports [`Channel::Sms`] only: configuring [`VerihubsChannel::WhatsApp`]
//! makes WhatsApp the transport of the engine's "sms" channel (the user gets the code on
//! WhatsApp), and [`Channel::Voice`] is refused.
//!
//! ```
//! use twofactor_core::verihubs::{VerihubsProvider, sandbox};
//! use twofactor_core::{OtpCode, OtpProvider, PhoneNumber, SendOptions, Verdict};
//! use wiremock::matchers::{header, method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .and(path("/v2/otp/send/sandbox"))
//!     .and(header("App-ID", "my-app"))
//!     .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
//!         "message": "OTP sent successfully", "code": 201, "session_id": "s-1"
//!     })))
//!     .mount(&server)
//!     .await;
//! Mock::given(method("POST"))
//!     .and(path("/v2/otp/verify/sandbox"))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
//!         "message": "OTP has been verified", "code": "200"
//!     })))
//!     .mount(&server)
//!     .await;
//!
//! let verihubs = VerihubsProvider::builder("my-app", "my-key")
//!     .base_url(server.uri())
//!     .sandbox(true)
//!     .template("Your code is $OTP")
//!     .challenge("signup")
//!     .build()
//!     .unwrap();
//! let phone = PhoneNumber::from_digits(sandbox::SENT).unwrap();
//! let ticket = verihubs.send(&phone, &SendOptions::default()).await.unwrap();
//! let code = OtpCode::parse("1234", 4..=8).unwrap();
//! assert_eq!(verihubs.verify(&phone, &ticket, &code).await.unwrap(), Verdict::Matched);
//! assert!(!format!("{verihubs:?}").contains("my-key"));
//! # }
//! ```

mod callback;
mod channel;
mod error;
mod request;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use http::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::answer::{Body, clean_text};
use crate::base_url;
use crate::code::{MAX_CODE_LEN, OtpCode};
use crate::phone::PhoneNumber;
use crate::provider::{
    Channel, Delivery, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, Ticket, Verdict,
};
use crate::transport::{HttpOptions, transport_error};

pub use crate::answer::ResponseCode;
pub use callback::{VerihubsCallback, VerihubsDeliveryStatus};
pub use channel::{VerihubsChannel, VerihubsChannelKind};
pub use error::{NAME, VerihubsError, VerihubsParameter};
pub use request::{
    OTP_PLACEHOLDER, VerihubsSendRequest, VerihubsSendResponse, VerihubsVerifyRequest,
    VerihubsVerifyResponse,
};

/// Verihubs' production base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.verihubs.com";

/// Verihubs' documented sandbox numbers for `POST /v2/otp/send/sandbox`, each answering with one
/// status. Use with [`PhoneNumber::from_digits`].
pub mod sandbox {
    /// 201 "OTP sent successfully".
    pub const SENT: u64 = 6282123060001;
    /// 400 "Msisdn invalid: msisdn length should between 4-16 characters".
    pub const INVALID_MSISDN: u64 = 6282123060002;
    /// 401 "Authorization failed".
    pub const AUTHORIZATION_FAILED: u64 = 6282123060003;
    /// 403 "OTP testing quota is insufficient".
    pub const QUOTA_INSUFFICIENT: u64 = 6282123060004;
    /// 409 "Msisdn invalid: msisdn has been blocked".
    pub const BLOCKED: u64 = 6282123060005;
    /// 429 "Too many request in the allowed time frame".
    pub const TOO_MANY_REQUESTS: u64 = 6282123060006;
}

/// Configures a [`VerihubsProvider`]; from [`VerihubsProvider::builder`].
#[must_use]
pub struct VerihubsBuilder {
    app_id: SecretString,
    api_key: SecretString,
    base_url: String,
    sandbox: bool,
    channel: VerihubsChannel,
    template: Option<String>,
    callback_url: Option<String>,
    challenge: Option<String>,
    client_otp: bool,
    http: HttpOptions,
}

impl VerihubsBuilder {
    /// The base URL (default [`DEFAULT_BASE_URL`]); tests point it at a local mock. It must be
    /// `http(s)` without credentials, query or fragment, or [`VerihubsBuilder::build`] refuses
    /// it ([`VerihubsError::InvalidBaseUrl`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Uses the sandbox endpoints (`…/sandbox`): no message is sent, and the documented
    /// [`sandbox`] numbers answer with fixed statuses.
    pub fn sandbox(mut self, sandbox: bool) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// SMS (default) or WhatsApp.
    pub fn channel(mut self, channel: VerihubsChannel) -> Self {
        self.channel = channel;
        self
    }

    /// The SMS text; it must contain `$OTP` (checked by [`VerihubsBuilder::build`]). Without
    /// one, Verihubs uses the account's default template. Not used on WhatsApp.
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.template = Some(template.into());
        self
    }

    /// Where Verihubs reports delivery; see [`VerihubsCallback`].
    pub fn callback_url(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }

    /// The challenge (category) sent with every code and repeated on verify.
    pub fn challenge(mut self, challenge: impl Into<String>) -> Self {
        self.challenge = Some(challenge.into());
        self
    }

    /// Generates each code here (of the engine's length, from the OS CSPRNG) and sends it as
    /// `otp`, instead of letting Verihubs generate it. Verihubs still checks it. Default off.
    pub fn client_generated_otp(mut self, on: bool) -> Self {
        self.client_otp = on;
        self
    }

    /// Timeouts, pool and client.
    pub fn http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<VerihubsProvider, VerihubsError> {
        let base_url = base_url::check(&self.base_url).map_err(VerihubsError::InvalidBaseUrl)?;
        if let Some(template) = &self.template {
            request::check_template(template)?;
        }
        if let Some(challenge) = &self.challenge {
            request::check_challenge(challenge)?;
        }
        if let Some(url) = &self.callback_url {
            request::check_callback_url(url)?;
        }
        if let VerihubsChannel::WhatsApp {
            lang_code,
            template_name,
        } = &self.channel
        {
            request::check_lang_code(lang_code)?;
            if let Some(name) = template_name {
                request::check_template_name(name)?;
            }
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            HeaderName::from_static("app-id"),
            secret_header(VerihubsParameter::AppId, &self.app_id)?,
        );
        headers.insert(
            HeaderName::from_static("api-key"),
            secret_header(VerihubsParameter::ApiKey, &self.api_key)?,
        );
        let client = self
            .http
            .client()
            .map_err(|_| VerihubsError::InvalidParameter {
                parameter: VerihubsParameter::Http,
                reason: "the HTTP client could not be built".to_owned(),
            })?;
        Ok(VerihubsProvider {
            client,
            headers,
            app_id: self.app_id,
            api_key: self.api_key,
            base_url,
            sandbox: self.sandbox,
            channel: self.channel,
            template: self.template,
            callback_url: self.callback_url,
            challenge: self.challenge,
            client_otp: self.client_otp,
        })
    }
}

impl fmt::Debug for VerihubsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerihubsBuilder")
            .field("app_id", &"[REDACTED]")
            .field("api_key", &"[REDACTED]")
            .field("base_url", &base_url::redacted(&self.base_url))
            .field("sandbox", &self.sandbox)
            .field("channel", &self.channel)
            .field("template", &self.template)
            .field("callback_url", &self.callback_url)
            .field("challenge", &self.challenge)
            .field("client_generated_otp", &self.client_otp)
            .field("http", &self.http)
            .finish()
    }
}

/// The Verihubs client; see the [module docs](self).
#[derive(Clone)]
pub struct VerihubsProvider {
    client: reqwest::Client,
    headers: HeaderMap,
    app_id: SecretString,
    api_key: SecretString,
    base_url: String,
    sandbox: bool,
    channel: VerihubsChannel,
    template: Option<String>,
    callback_url: Option<String>,
    challenge: Option<String>,
    client_otp: bool,
}

impl fmt::Debug for VerihubsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerihubsProvider")
            .field("app_id", &"[REDACTED]")
            .field("api_key", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .field("sandbox", &self.sandbox)
            .field("channel", &self.channel)
            .field("template", &self.template)
            .field("callback_url", &self.callback_url)
            .field("challenge", &self.challenge)
            .field("client_generated_otp", &self.client_otp)
            .finish_non_exhaustive()
    }
}

impl VerihubsProvider {
    /// Starts a configuration with the account's App-ID and API key.
    pub fn builder(
        app_id: impl Into<SecretString>,
        api_key: impl Into<SecretString>,
    ) -> VerihubsBuilder {
        VerihubsBuilder {
            app_id: app_id.into(),
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            sandbox: false,
            channel: VerihubsChannel::Sms,
            template: None,
            callback_url: None,
            challenge: None,
            client_otp: false,
            http: HttpOptions::default(),
        }
    }

    /// Sends a code as `request` describes. One request, never retried.
    pub async fn send_otp(
        &self,
        request: &VerihubsSendRequest,
    ) -> Result<VerihubsSendResponse, VerihubsError> {
        let body = request.to_json()?;
        let answer = self.post(request.channel.kind(), "send", &body).await?;
        self.read_send(&answer)
    }

    /// What a send's answer says.
    pub(crate) fn read_send(&self, answer: &Body) -> Result<VerihubsSendResponse, VerihubsError> {
        self.check(answer)?;
        Ok(VerihubsSendResponse {
            session_id: answer.str_field("session_id").map(|s| self.clean(s)),
            message: answer.str_field("message").map(|s| self.clean(s)),
            code: answer.code(),
        })
    }

    /// Checks a code. `Ok` only on an explicit match: a 2xx answer whose `code` says 2xx, or,
    /// without a `code`, whose `message` is Verihubs' "OTP has been verified". A wrong code is
    /// [`VerihubsError::OtpNotFound`] (Verihubs answers 404), an expired one
    /// [`VerihubsError::TimeLimitExceeded`] (422); any other 2xx answer (an empty body, `{}`,
    /// an unknown shape) is [`VerihubsError::UnexpectedResponse`], never a match.
    pub async fn verify_otp(
        &self,
        request: &VerihubsVerifyRequest,
    ) -> Result<VerihubsVerifyResponse, VerihubsError> {
        let body = request.to_json()?;
        let answer = self.post(request.channel, "verify", &body).await?;
        self.read_verify(&answer)
    }

    /// What a verify's answer says: a match only when it explicitly says so.
    pub(crate) fn read_verify(
        &self,
        answer: &Body,
    ) -> Result<VerihubsVerifyResponse, VerihubsError> {
        self.check(answer)?;
        if !says_verified(answer) {
            return Err(VerihubsError::UnexpectedResponse {
                status: answer.status,
                reason: "a success that does not say the code was verified".to_owned(),
            });
        }
        Ok(VerihubsVerifyResponse {
            message: answer.str_field("message").map(|s| self.clean(s)),
            code: answer.code(),
        })
    }

    async fn post(
        &self,
        channel: VerihubsChannelKind,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<Body, VerihubsError> {
        let sandbox = if self.sandbox { "/sandbox" } else { "" };
        let url = format!("{}{}/{action}{sandbox}", self.base_url, channel.path());
        let response = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .json(body)
            .send()
            .await
            .map_err(|e| VerihubsError::Transport(transport_error(NAME, e)))?;
        Body::read(response)
            .await
            .map_err(|e| VerihubsError::Transport(transport_error(NAME, e)))
    }

    /// The error a status (or a 2xx answer's error `code`) stands for.
    fn check(&self, answer: &Body) -> Result<(), VerihubsError> {
        let message = || {
            answer
                .str_field("message")
                .map(|m| self.clean(m))
                .unwrap_or_default()
        };
        if !answer.is_success() {
            return Err(VerihubsError::from_status(answer.status, message()));
        }
        if answer.json.is_none() {
            return Err(VerihubsError::UnexpectedResponse {
                status: answer.status,
                reason: "the body is not a JSON object".to_owned(),
            });
        }
        match answer.code().and_then(|c| c.as_i64()) {
            Some(code @ 400..=599) => Err(VerihubsError::from_status(code as u16, message())),
            _ => Ok(()),
        }
    }

    fn clean(&self, text: &str) -> String {
        clean_text(
            text,
            &[self.api_key.expose_secret(), self.app_id.expose_secret()],
        )
    }
}

#[async_trait]
impl OtpProvider for VerihubsProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        if options.channel != Channel::Sms {
            return Err(
                ProviderError::new(NAME, ProviderErrorKind::Unsupported).with_detail(format!(
                    "Verihubs cannot deliver codes by {}",
                    options.channel
                )),
            );
        }
        let mut request = VerihubsSendRequest::new(*phone)
            .with_channel(self.channel.clone())
            .with_time_limit(options.ttl.max(Duration::from_secs(1)));
        request.template = match self.channel {
            VerihubsChannel::Sms => self.template.clone(),
            VerihubsChannel::WhatsApp { .. } => None,
        };
        request.challenge = self.challenge.clone();
        request.callback_url = self.callback_url.clone();
        if self.client_otp {
            if !(1..=MAX_CODE_LEN).contains(&options.code_length) {
                return Err(VerihubsError::InvalidParameter {
                    parameter: VerihubsParameter::Otp,
                    reason: format!("cannot generate a code of {} digits", options.code_length),
                }
                .into());
            }
            request.otp = Some(OtpCode::generate(options.code_length));
        }
        self.send_otp(&request).await?;
        // Verihubs' session id is not logged: it names the code's message.
        tracing::debug!(
            provider = NAME,
            phone = %phone.masked(),
            channel = %self.channel.kind(),
            "code sent"
        );
        Ok(Ticket::new(format!(
            "{}:{}",
            self.channel.kind(),
            self.challenge.as_deref().unwrap_or_default()
        )))
    }

    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        let (channel, challenge) = ticket
            .expose()
            .split_once(':')
            .and_then(|(channel, challenge)| {
                let channel = match channel {
                    "sms" => VerihubsChannelKind::Sms,
                    "whatsapp" => VerihubsChannelKind::WhatsApp,
                    _ => return None,
                };
                Some((
                    channel,
                    (!challenge.is_empty()).then(|| challenge.to_owned()),
                ))
            })
            .ok_or_else(|| {
                ProviderError::new(NAME, ProviderErrorKind::UnexpectedResponse)
                    .with_delivery(Delivery::NotSent)
                    .with_detail("the ticket was not issued by this Verihubs provider")
            })?;
        let mut request = VerihubsVerifyRequest::new(*phone, code.clone()).with_channel(channel);
        request.challenge = challenge;
        verdict(self.verify_otp(&request).await)
    }
}

/// The engine's verdict from a verify's outcome.
pub(crate) fn verdict(
    outcome: Result<VerihubsVerifyResponse, VerihubsError>,
) -> Result<Verdict, ProviderError> {
    match outcome {
        Ok(_) => Ok(Verdict::Matched),
        Err(VerihubsError::OtpNotFound { .. }) => Ok(Verdict::Mismatch),
        Err(VerihubsError::TimeLimitExceeded { .. }) => Ok(Verdict::Expired),
        Err(err) => Err(err.into()),
    }
}

/// Whether a 2xx answer to verify explicitly says the code matched: its `code` is 2xx, or it has
/// no `code` and its `message` is Verihubs' success text.
fn says_verified(answer: &Body) -> bool {
    match answer.code() {
        Some(code) => code.as_i64().is_some_and(|c| (200..300).contains(&c)),
        // A `code` that is there but no code (`null`, `250.5`, an object) says nothing.
        None if answer.json.as_ref().is_some_and(|j| j.contains_key("code")) => false,
        None => answer
            .str_field("message")
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(VERIFIED_MESSAGE)),
    }
}

/// Verihubs' message for a verified code.
const VERIFIED_MESSAGE: &str = "OTP has been verified";

fn secret_header(
    parameter: VerihubsParameter,
    secret: &SecretString,
) -> Result<HeaderValue, VerihubsError> {
    crate::secret::secret_header(secret).ok_or_else(|| VerihubsError::InvalidParameter {
        parameter,
        reason: "empty, or not a valid HTTP header value".to_owned(),
    })
}
