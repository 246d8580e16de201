//! The send and verify requests and their answers, and the checks every value passes before it
//! is sent.

use std::time::Duration;

use crate::answer::ResponseCode;
use crate::code::OtpCode;
use crate::phone::PhoneNumber;

use super::channel::{VerihubsChannel, VerihubsChannelKind};
use super::error::{VerihubsError, VerihubsParameter};

/// The placeholder Verihubs replaces with the code in an SMS template.
pub const OTP_PLACEHOLDER: &str = "$OTP";

/// A send request (`POST /v2/otp/send`, or `/v2/whatsapp/otp/send` on WhatsApp).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerihubsSendRequest {
    /// The destination; sent as its digits with the country code and no `+`.
    pub msisdn: PhoneNumber,
    /// SMS, or WhatsApp with its language and template name.
    pub channel: VerihubsChannel,
    /// The SMS text, containing `$OTP` (SMS only); `None` for the account's default.
    pub template: Option<String>,
    /// A code we generated; `None` lets Verihubs generate it.
    pub otp: Option<OtpCode>,
    /// How long the code can be verified.
    pub time_limit: Option<Duration>,
    /// The category; verify must name the same one.
    pub challenge: Option<String>,
    /// Where Verihubs reports delivery (see [`super::VerihubsCallback`]).
    pub callback_url: Option<String>,
}

impl VerihubsSendRequest {
    /// An SMS to `msisdn` with Verihubs' defaults for everything else.
    pub fn new(msisdn: PhoneNumber) -> Self {
        Self {
            msisdn,
            channel: VerihubsChannel::Sms,
            template: None,
            otp: None,
            time_limit: None,
            challenge: None,
            callback_url: None,
        }
    }

    /// Sets the channel.
    #[must_use]
    pub fn with_channel(mut self, channel: VerihubsChannel) -> Self {
        self.channel = channel;
        self
    }

    /// Sets the SMS template (it must contain `$OTP`).
    #[must_use]
    pub fn with_template(mut self, template: impl Into<String>) -> Self {
        self.template = Some(template.into());
        self
    }

    /// Sends our own code instead of letting Verihubs generate one.
    #[must_use]
    pub fn with_otp(mut self, otp: OtpCode) -> Self {
        self.otp = Some(otp);
        self
    }

    /// Sets the time limit (whole seconds, at least one).
    #[must_use]
    pub fn with_time_limit(mut self, time_limit: Duration) -> Self {
        self.time_limit = Some(time_limit);
        self
    }

    /// Sets the challenge.
    #[must_use]
    pub fn with_challenge(mut self, challenge: impl Into<String>) -> Self {
        self.challenge = Some(challenge.into());
        self
    }

    /// Sets the delivery callback URL.
    #[must_use]
    pub fn with_callback_url(mut self, url: impl Into<String>) -> Self {
        self.callback_url = Some(url.into());
        self
    }

    /// The JSON body, after checking every value.
    pub(crate) fn to_json(&self) -> Result<serde_json::Value, VerihubsError> {
        let mut body = serde_json::Map::new();
        body.insert(
            VerihubsParameter::Msisdn.as_str().into(),
            self.msisdn.digits_string().into(),
        );
        match &self.channel {
            VerihubsChannel::Sms => {
                if let Some(template) = &self.template {
                    check_template(template)?;
                    body.insert(
                        VerihubsParameter::Template.as_str().into(),
                        template.clone().into(),
                    );
                }
            }
            VerihubsChannel::WhatsApp {
                lang_code,
                template_name,
            } => {
                if self.template.is_some() {
                    return Err(invalid(
                        VerihubsParameter::Template,
                        "WhatsApp messages use an approved template_name, not a template text",
                    ));
                }
                check_lang_code(lang_code)?;
                body.insert(
                    VerihubsParameter::LangCode.as_str().into(),
                    lang_code.clone().into(),
                );
                if let Some(name) = template_name {
                    check_template_name(name)?;
                    body.insert(
                        VerihubsParameter::TemplateName.as_str().into(),
                        name.clone().into(),
                    );
                }
            }
        }
        if let Some(otp) = &self.otp {
            body.insert(VerihubsParameter::Otp.as_str().into(), otp.expose().into());
        }
        if let Some(limit) = self.time_limit {
            // The API documents every body field as a string.
            body.insert(
                VerihubsParameter::TimeLimit.as_str().into(),
                time_limit_secs(limit)?.to_string().into(),
            );
        }
        if let Some(challenge) = &self.challenge {
            check_challenge(challenge)?;
            body.insert(
                VerihubsParameter::Challenge.as_str().into(),
                challenge.clone().into(),
            );
        }
        if let Some(url) = &self.callback_url {
            check_callback_url(url)?;
            body.insert(
                VerihubsParameter::CallbackUrl.as_str().into(),
                url.clone().into(),
            );
        }
        Ok(body.into())
    }
}

/// Verihubs' answer to an accepted send. `Debug` hides the session id.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerihubsSendResponse {
    /// Verihubs' id of the message, as delivery callbacks name it.
    pub session_id: Option<String>,
    /// Verihubs' message (`"OTP sent successfully"`).
    pub message: Option<String>,
    /// The `code` field, which arrives as a number or as a string.
    pub code: Option<ResponseCode>,
}

impl std::fmt::Debug for VerihubsSendResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerihubsSendResponse")
            .field(
                "session_id",
                &self.session_id.as_ref().map(|_| "[REDACTED]"),
            )
            .field("message", &self.message)
            .field("code", &self.code)
            .finish()
    }
}

/// A verify request (`POST /v2/otp/verify`, or `/v2/whatsapp/otp/verify`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerihubsVerifyRequest {
    /// The number the code was sent to.
    pub msisdn: PhoneNumber,
    /// The code the user typed.
    pub otp: OtpCode,
    /// The challenge the code was sent with, if any.
    pub challenge: Option<String>,
    /// The channel the code was sent on.
    pub channel: VerihubsChannelKind,
}

impl VerihubsVerifyRequest {
    /// Checks `otp` for `msisdn` on SMS with no challenge.
    pub fn new(msisdn: PhoneNumber, otp: OtpCode) -> Self {
        Self {
            msisdn,
            otp,
            challenge: None,
            channel: VerihubsChannelKind::Sms,
        }
    }

    /// Sets the challenge.
    #[must_use]
    pub fn with_challenge(mut self, challenge: impl Into<String>) -> Self {
        self.challenge = Some(challenge.into());
        self
    }

    /// Sets the channel.
    #[must_use]
    pub fn with_channel(mut self, channel: VerihubsChannelKind) -> Self {
        self.channel = channel;
        self
    }

    pub(crate) fn to_json(&self) -> Result<serde_json::Value, VerihubsError> {
        let mut body = serde_json::Map::new();
        body.insert(
            VerihubsParameter::Msisdn.as_str().into(),
            self.msisdn.digits_string().into(),
        );
        body.insert(
            VerihubsParameter::Otp.as_str().into(),
            self.otp.expose().into(),
        );
        if let Some(challenge) = &self.challenge {
            check_challenge(challenge)?;
            body.insert(
                VerihubsParameter::Challenge.as_str().into(),
                challenge.clone().into(),
            );
        }
        Ok(body.into())
    }
}

/// Verihubs' answer to a verified code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerihubsVerifyResponse {
    /// Verihubs' message (`"OTP has been verified"`).
    pub message: Option<String>,
    /// The `code` field, which arrives as a number or as a string.
    pub code: Option<ResponseCode>,
}

fn invalid(parameter: VerihubsParameter, reason: &str) -> VerihubsError {
    VerihubsError::InvalidParameter {
        parameter,
        reason: reason.to_owned(),
    }
}

/// An SMS template must carry `$OTP`, or the user gets a message without the code.
pub(crate) fn check_template(template: &str) -> Result<(), VerihubsError> {
    if !template.contains(OTP_PLACEHOLDER) {
        return Err(invalid(VerihubsParameter::Template, "must contain $OTP"));
    }
    if template.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(
            VerihubsParameter::Template,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// 1 to 64 of `A-Z a-z 0-9 _ . -`: a category name, also kept inside our tickets.
pub(crate) fn check_challenge(challenge: &str) -> Result<(), VerihubsError> {
    if challenge.is_empty()
        || challenge.len() > 64
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(invalid(
            VerihubsParameter::Challenge,
            "must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', '-'",
        ));
    }
    Ok(())
}

/// An absolute `http`/`https` URL without credentials in it.
pub(crate) fn check_callback_url(url: &str) -> Result<(), VerihubsError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| invalid(VerihubsParameter::CallbackUrl, "not an absolute URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(
            VerihubsParameter::CallbackUrl,
            "must be an http or https URL",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            VerihubsParameter::CallbackUrl,
            "must not carry credentials",
        ));
    }
    Ok(())
}

/// A WhatsApp language code such as `id` or `en_US`.
pub(crate) fn check_lang_code(code: &str) -> Result<(), VerihubsError> {
    let ok = (2..=16).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || matches!(b, b'_' | b'-'));
    if !ok {
        return Err(invalid(
            VerihubsParameter::LangCode,
            "must be a language code such as 'id' or 'en_US'",
        ));
    }
    Ok(())
}

/// A WhatsApp template name: 1 to 512 of `A-Z a-z 0-9 _`.
pub(crate) fn check_template_name(name: &str) -> Result<(), VerihubsError> {
    let ok = (1..=512).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(invalid(
            VerihubsParameter::TemplateName,
            "must be 1 to 512 characters of A-Z, a-z, 0-9 and '_'",
        ));
    }
    Ok(())
}

/// Whole seconds, at least one.
pub(crate) fn time_limit_secs(limit: Duration) -> Result<u64, VerihubsError> {
    match limit.as_secs() {
        0 => Err(invalid(
            VerihubsParameter::TimeLimit,
            "must be at least one second",
        )),
        secs => Ok(secs),
    }
}
