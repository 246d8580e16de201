//! The generate and validate requests and their answers.

use std::fmt;

use crate::code::MAX_CODE_LEN;
use crate::phone::PhoneNumber;
use crate::provider::Ticket;

use super::error::{OctopushError, OctopushParameter};
use super::options::OctopushOtpOptions;
use super::options::invalid;

/// The shortest `phone_number` Octopush accepts, `+` included.
const MIN_PHONE_CHARS: usize = 7;
/// Our bound on a request token's length (Octopush's look like `otp_` and 24 hex digits).
const MAX_TOKEN_LEN: usize = 256;

/// A generation request (`POST /service/otp/generate`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OctopushGenerateRequest {
    /// The recipient; sent in E.164 form (`+33611223344`).
    pub phone_number: PhoneNumber,
    /// Every other parameter.
    pub options: OctopushOtpOptions,
}

impl OctopushGenerateRequest {
    /// A request for `phone_number` with `options`.
    pub fn new(phone_number: PhoneNumber, options: OctopushOtpOptions) -> Self {
        Self {
            phone_number,
            options,
        }
    }

    pub(crate) fn to_json(&self) -> Result<serde_json::Value, OctopushError> {
        let phone = self.phone_number.e164();
        if phone.len() < MIN_PHONE_CHARS {
            return Err(invalid(
                OctopushParameter::PhoneNumber,
                "shorter than 7 characters",
            ));
        }
        let mut body = self.options.to_json()?;
        body.insert(OctopushParameter::PhoneNumber.as_str().into(), phone.into());
        Ok(body.into())
    }
}

/// Octopush's answer to an accepted generation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OctopushGenerateResponse {
    /// The token that names this code for validation; a secret (redacted in `Debug`).
    pub otp_request_token: Ticket,
    /// Octopush's ticket number for the message.
    pub ticket_number: Option<String>,
    /// Octopush's message.
    pub message: Option<String>,
}

/// What a validation names: the request token, or the last code sent to a phone.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OctopushValidateTarget {
    /// `otp_request_token` (redacted in `Debug`).
    Token(Ticket),
    /// `phone_number`: Octopush checks the last code sent to it.
    Phone(PhoneNumber),
}

impl fmt::Debug for OctopushValidateTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(token) => f.debug_tuple("Token").field(token).finish(),
            Self::Phone(phone) => f.debug_tuple("Phone").field(phone).finish(),
        }
    }
}

/// A validation request (`PUT /service/otp/validate`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OctopushValidateRequest {
    /// The code the user typed: 1 to 32 of `0-9 a-z A-Z ! # $ % & ? @` (redacted in `Debug`).
    pub code: String,
    /// Which code to check.
    pub target: OctopushValidateTarget,
}

impl OctopushValidateRequest {
    /// Checks `code` against the code of `otp_request_token`.
    pub fn by_token(otp_request_token: impl Into<String>, code: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            target: OctopushValidateTarget::Token(Ticket::new(otp_request_token)),
        }
    }

    /// Checks `code` against the last code sent to `phone_number`.
    pub fn by_phone(phone_number: PhoneNumber, code: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            target: OctopushValidateTarget::Phone(phone_number),
        }
    }

    pub(crate) fn to_json(&self) -> Result<serde_json::Value, OctopushError> {
        let code_ok = (1..=MAX_CODE_LEN).contains(&self.code.len())
            && self.code.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'?' | b'@')
            });
        if !code_ok {
            return Err(invalid(
                OctopushParameter::Code,
                "must be 1 to 32 of 0-9, a-z, A-Z and ! # $ % & ? @",
            ));
        }
        let mut body = serde_json::Map::new();
        body.insert(
            OctopushParameter::Code.as_str().into(),
            self.code.clone().into(),
        );
        match &self.target {
            OctopushValidateTarget::Token(token) => {
                let token = token.expose();
                if token.is_empty()
                    || token.len() > MAX_TOKEN_LEN
                    || !token.bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err(invalid(
                        OctopushParameter::OtpRequestToken,
                        "must be 1 to 256 visible ASCII characters",
                    ));
                }
                body.insert(
                    OctopushParameter::OtpRequestToken.as_str().into(),
                    token.into(),
                );
            }
            OctopushValidateTarget::Phone(phone) => {
                let phone = phone.e164();
                if phone.len() < MIN_PHONE_CHARS {
                    return Err(invalid(
                        OctopushParameter::PhoneNumber,
                        "shorter than 7 characters",
                    ));
                }
                body.insert(OctopushParameter::PhoneNumber.as_str().into(), phone.into());
            }
        }
        Ok(body.into())
    }
}

impl fmt::Debug for OctopushValidateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OctopushValidateRequest")
            .field("code", &"[REDACTED]")
            .field("target", &self.target)
            .finish()
    }
}
