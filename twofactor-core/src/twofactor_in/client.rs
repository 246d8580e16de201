//! The client itself: configuration, URL building, and one HTTP exchange.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

#[cfg(feature = "encrypted-sms")]
use super::encryption::EncryptionConfig;
use super::error::{TwoFactorInError, TwoFactorInSetting};
use super::names::TemplateName;
use crate::answer::{clean_text, read_bounded};
use crate::clock::{Clock, SystemClock};
use crate::code::OtpCode;
use crate::phone::PhoneNumber;
use crate::transport::HttpOptions;

/// 2Factor's production base URL.
pub const DEFAULT_BASE_URL: &str = "https://2factor.in";

/// The characters left alone when a free-text value becomes one path segment: RFC 3986's
/// unreserved set minus `.`, which is encoded too so that no value can form a `.` or `..`
/// segment (names made only of dots are refused outright, because URL parsers treat `%2e%2e`
/// as `..` as well).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// A client for the 2Factor.in HTTP API.
///
/// Cheap to clone (an [`Arc`] inside): clones share one pooled HTTP client. Build it with
/// [`TwoFactorInClient::builder`]. `Debug` never shows the API key.
#[derive(Clone)]
pub struct TwoFactorInClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: crate::transport::Clients,
    /// The base URL without a trailing slash.
    pub(crate) base: String,
    pub(crate) api_key: SecretString,
    /// The key as it appears in URL paths, for building them and for scrubbing.
    pub(crate) encoded_key: SecretString,
    pub(crate) otp_template: Option<TemplateName>,
    pub(crate) sender_id: Option<String>,
    pub(crate) clock: Arc<dyn Clock>,
    #[cfg(feature = "encrypted-sms")]
    pub(crate) encryption: Option<EncryptionConfig>,
}

/// Builds a [`TwoFactorInClient`]; see [`TwoFactorInClient::builder`].
pub struct TwoFactorInClientBuilder {
    api_key: SecretString,
    base_url: String,
    http: HttpOptions,
    otp_template: Option<String>,
    sender_id: Option<String>,
    clock: Arc<dyn Clock>,
    #[cfg(feature = "encrypted-sms")]
    encryption: Option<EncryptionConfig>,
}

impl TwoFactorInClient {
    /// Starts building a client for the account with `api_key` (a `&str`, a `String` or a
    /// [`SecretString`]).
    ///
    /// Defaults: base URL [`DEFAULT_BASE_URL`], [`HttpOptions::default`] (10 s in total, 5 s to
    /// connect), no OTP template, no default sender id, the system clock, no encryption.
    pub fn builder(api_key: impl Into<SecretString>) -> TwoFactorInClientBuilder {
        TwoFactorInClientBuilder {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            http: HttpOptions::default(),
            otp_template: None,
            sender_id: None,
            clock: Arc::new(SystemClock),
            #[cfg(feature = "encrypted-sms")]
            encryption: None,
        }
    }

    /// The base URL requests go to (without a trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The template used for OTP sends that name none.
    pub fn otp_template(&self) -> Option<&TemplateName> {
        self.inner.otp_template.as_ref()
    }

    /// The sender id used for SMS that name none.
    pub fn sender_id(&self) -> Option<&str> {
        self.inner.sender_id.as_deref()
    }

    /// A `{base}/API/V1/{api_key}/...` URL.
    pub(crate) fn v1_url(&self, path: V1Path) -> Result<Url, TwoFactorInError> {
        let mut url = String::with_capacity(self.inner.base.len() + 64 + path.0.len());
        url.push_str(&self.inner.base);
        url.push_str("/API/V1/");
        url.push_str(self.inner.encoded_key.expose_secret());
        url.push_str(&path.0);
        parse_built_url(&url)
    }

    /// A URL under the base URL (`tail` is a constant such as `/API/R1/`).
    pub(crate) fn url(&self, tail: &'static str) -> Result<Url, TwoFactorInError> {
        parse_built_url(&format!("{}{tail}", self.inner.base))
    }

    /// Sends a request (once: nothing here retries) and reads the answer.
    pub(crate) async fn execute(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Reply, TwoFactorInError> {
        let response = request
            .send()
            .await
            .map_err(|e| TwoFactorInError::transport(e, false))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let read = read_bounded(response)
            .await
            .map_err(|e| TwoFactorInError::transport(e, true))?;
        let body = String::from_utf8_lossy(&read.bytes).into_owned();
        if !read.complete {
            return Err(TwoFactorInError::UnexpectedResponse {
                status,
                reason: "body too large",
                snippet: self.clean(&body),
            });
        }
        Ok(Reply {
            status,
            body,
            retry_after,
        })
    }

    /// 2Factor's text (its words, or a body it should not have sent), fit to keep in an error:
    /// the crate's one cleaner, with every secret this client holds.
    pub(crate) fn clean(&self, text: &str) -> String {
        let key = self.inner.api_key.expose_secret();
        let encoded = self.inner.encoded_key.expose_secret();
        #[cfg(feature = "encrypted-sms")]
        if let Some(enc) = &self.inner.encryption {
            return clean_text(text, &[key, encoded, enc.secret_key.expose_secret().trim()]);
        }
        clean_text(text, &[key, encoded])
    }
}

fn parse_built_url(url: &str) -> Result<Url, TwoFactorInError> {
    // Cannot fail for a validated base and encoded segments; the error deliberately carries
    // neither the URL nor the parser's error, as the URL holds the key.
    Url::parse(url)
        .map_err(|_| TwoFactorInError::invalid_request("could not build the request URL"))
}

impl TwoFactorInClientBuilder {
    /// Sets the base URL (2Factor's sandbox uses the production URL; tests use a mock server).
    /// A trailing slash is tolerated; the URL must be `http` or `https`, without credentials,
    /// query or fragment ([`Self::build`] refuses it with [`TwoFactorInError::InvalidBaseUrl`]).
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Sets the HTTP options: timeouts, pool size, or a shared `reqwest::Client`.
    #[must_use]
    pub fn http(mut self, options: HttpOptions) -> Self {
        self.http = options;
        self
    }

    /// Sets the OTP template used when a send names none (checked by [`Self::build`], see
    /// [`TemplateName::new`]).
    #[must_use]
    pub fn otp_template(mut self, name: impl Into<String>) -> Self {
        self.otp_template = Some(name.into());
        self
    }

    /// Sets the sender id (`from`, the DLT header such as `TFACTR`) used when an SMS names none.
    #[must_use]
    pub fn sender_id(mut self, sender_id: impl Into<String>) -> Self {
        self.sender_id = Some(sender_id.into());
        self
    }

    /// Sets the clock used to check that scheduled SMS lie at least five minutes ahead.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    #[cfg(feature = "encrypted-sms")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encrypted-sms")))]
    /// Enables the premium encrypted SMS module with this configuration.
    #[must_use]
    pub fn encryption(mut self, config: EncryptionConfig) -> Self {
        self.encryption = Some(config);
        self
    }

    /// Builds the client. Fails (never panics) on an unusable base URL
    /// ([`TwoFactorInError::InvalidBaseUrl`]: not absolute `http(s)`, credentials such as
    /// `https://user:password@host`, a query or a fragment), an empty API key, an unusable
    /// template name or sender id, or an encryption key of the wrong size.
    pub fn build(self) -> Result<TwoFactorInClient, TwoFactorInError> {
        let base = validate_base_url(&self.base_url)?;
        let key = self.api_key.expose_secret();
        if key.trim().is_empty() {
            return Err(TwoFactorInError::config(
                TwoFactorInSetting::ApiKey,
                "the API key is empty",
            ));
        }
        if key.chars().all(|c| c == '.') || key.chars().any(char::is_control) {
            return Err(TwoFactorInError::config(
                TwoFactorInSetting::ApiKey,
                "the API key has an unusable form",
            ));
        }
        let encoded_key = SecretString::from(utf8_percent_encode(key, SEGMENT).to_string());
        let otp_template = self.otp_template.map(TemplateName::new).transpose()?;
        let sender_id = match self.sender_id {
            Some(s) if s.trim().is_empty() => {
                return Err(TwoFactorInError::config(
                    TwoFactorInSetting::SenderId,
                    "the sender id is empty",
                ));
            }
            other => other,
        };
        #[cfg(feature = "encrypted-sms")]
        if let Some(enc) = &self.encryption {
            enc.validate()?;
        }
        let http =
            crate::transport::Clients::new(&self.http).map_err(TwoFactorInError::HttpClient)?;
        Ok(TwoFactorInClient {
            inner: Arc::new(Inner {
                http,
                base,
                api_key: self.api_key,
                encoded_key,
                otp_template,
                sender_id,
                clock: self.clock,
                #[cfg(feature = "encrypted-sms")]
                encryption: self.encryption,
            }),
        })
    }
}

fn validate_base_url(base: &str) -> Result<String, TwoFactorInError> {
    // The error never repeats the URL: it may carry credentials.
    crate::base_url::check(base).map_err(TwoFactorInError::InvalidBaseUrl)
}

/// The path after `/API/V1/{api_key}`, built only from constants, validated phones and codes,
/// and percent-encoded segments.
#[derive(Default)]
pub(crate) struct V1Path(String);

impl V1Path {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A constant segment such as `SMS` or `AUTOGEN`.
    pub(crate) fn lit(mut self, segment: &'static str) -> Self {
        self.0.push('/');
        self.0.push_str(segment);
        self
    }

    /// A phone in E.164 form with its `+` (a legal path character, left unencoded as 2Factor's
    /// examples show).
    pub(crate) fn phone(mut self, phone: &PhoneNumber) -> Self {
        self.0.push('/');
        self.0.push_str(&phone.to_string());
        self
    }

    /// A code: ASCII digits only, by construction.
    pub(crate) fn code(mut self, code: &OtpCode) -> Self {
        self.0.push('/');
        self.0.push_str(code.expose());
        self
    }

    /// Any other value, percent-encoded as exactly one segment.
    pub(crate) fn segment(mut self, value: &str) -> Self {
        self.0.push('/');
        self.0.extend(utf8_percent_encode(value, SEGMENT));
        self
    }
}

/// What came back: the HTTP status and the body text.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) retry_after: Option<Duration>,
}

impl fmt::Debug for TwoFactorInClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let f = &mut f.debug_struct("TwoFactorInClient");
        let f = f
            .field("base_url", &self.inner.base)
            .field("api_key", &"[REDACTED]")
            .field("otp_template", &self.inner.otp_template)
            .field("sender_id", &self.inner.sender_id);
        #[cfg(feature = "encrypted-sms")]
        let f = f.field("encryption", &self.inner.encryption);
        f.finish_non_exhaustive()
    }
}

impl fmt::Debug for TwoFactorInClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let f = &mut f.debug_struct("TwoFactorInClientBuilder");
        let f = f
            .field("base_url", &crate::base_url::redacted(&self.base_url))
            .field("api_key", &"[REDACTED]")
            .field("http", &self.http)
            .field("otp_template", &self.otp_template)
            .field("sender_id", &self.sender_id);
        #[cfg(feature = "encrypted-sms")]
        let f = f.field("encryption", &self.encryption);
        f.finish_non_exhaustive()
    }
}
