//! Tolerant decoding of 2Factor's answers.
//!
//! 2Factor answers JSON `{"Status": ..., "Details": ...}` (the bulk endpoint uses
//! `{"success": ..., ...}`), but not always consistently: a match is documented both as
//! `{"Status":"Error","Details":"OTP Matched"}` with HTTP 200 and as
//! `{"Status":"Success","Details":"OTP Matched"}`, the sandbox answers HTTP 200 even for errors,
//! and a proxy in front of it may answer HTML. So the HTTP status and the body are both read,
//! field names are matched case-insensitively, and the outcome is decided by `Details`:
//!
//! - 5xx is a server error and 429 is rate limiting, whatever the body says;
//! - a verify answer is decided by `Details` (`OTP Matched` must come with a 2xx status and a
//!   documented `Status`, as a match is the one answer a mistake must not invent); a 2xx answer
//!   that is neither a verdict nor a recognisable error is unexpected, never a match;
//! - a send succeeds only with `Status: Success`, a non-empty `Details` and a 2xx status; a 2xx
//!   answer with an empty `Details` or a `Status` that is neither `Success` nor `Error` is
//!   unexpected (and may have sent the message);
//! - every other answer is mapped by the words in `Details` (invalid API key, invalid phone,
//!   invalid code, no session, quota, limit), else it is "rejected" with the words kept;
//! - anything that is not a JSON object is an unexpected response carrying the status and a
//!   scrubbed snippet of the body.

use serde_json::{Map, Value};

use super::client::{Reply, TwoFactorInClient};
use super::error::TwoFactorInError;
use crate::provider::Verdict;

/// A successful V1/R1 answer: its `Details` and the whole object.
pub(crate) struct Answer {
    pub(crate) details: String,
    pub(crate) object: Map<String, Value>,
}

/// What a `Details` text says, as far as this client understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    Matched,
    Mismatch,
    Expired,
    NoSession,
    InvalidKey,
    InvalidPhone,
    InvalidCode,
    Quota,
    RateLimit,
}

/// Recognises 2Factor's documented `Details` texts, and limit- or quota-sounding ones.
pub(crate) fn recognise(details: &str) -> Option<Known> {
    let trimmed = details.trim();
    // Exact match only: a "match" must never be read into a text that merely contains it.
    if trimmed.eq_ignore_ascii_case("otp matched") {
        return Some(Known::Matched);
    }
    let d = trimmed.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| d.contains(w));
    Some(if has(&["otp mismatch"]) {
        Known::Mismatch
    } else if has(&["otp expired"]) {
        Known::Expired
    } else if has(&["no entry exists", "sessionid combination"]) {
        Known::NoSession
    } else if has(&["invalid api key", "api key is invalid"])
        || (d.contains("api key") && d.contains("inactive"))
    {
        Known::InvalidKey
    } else if has(&["invalid phone", "phone number"]) {
        Known::InvalidPhone
    } else if has(&["invalid otp", "otp code", "otp value"]) {
        Known::InvalidCode
    } else if has(&["insufficient", "balance", "credit", "quota"]) {
        Known::Quota
    } else if has(&[
        "rate limit",
        "too many",
        "limit exceeded",
        "exceeded",
        "throttl",
    ]) {
        Known::RateLimit
    } else {
        return None;
    })
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The value of `name` in `object`, matched case-insensitively, as text (strings as they are,
/// numbers and booleans printed).
pub(crate) fn field_text(object: &Map<String, Value>, name: &str) -> Option<String> {
    match field(object, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The raw value of `name` in `object`, matched case-insensitively.
pub(crate) fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

impl TwoFactorInClient {
    pub(crate) fn unexpected(&self, reply: &Reply, reason: &'static str) -> TwoFactorInError {
        TwoFactorInError::UnexpectedResponse {
            status: reply.status,
            reason,
            snippet: self.clean(&reply.body),
        }
    }

    /// The body as a JSON object. 5xx and 429 answers become errors first, whatever their body.
    pub(crate) fn decode_object(
        &self,
        reply: &Reply,
    ) -> Result<Map<String, Value>, TwoFactorInError> {
        let parsed = serde_json::from_str::<Value>(reply.body.trim());
        if reply.status >= 500 || reply.status == 429 {
            let details = match &parsed {
                Ok(Value::Object(obj)) => error_words(obj),
                _ => None,
            };
            return Err(self.failure(reply, details.as_deref()));
        }
        match parsed {
            Ok(Value::Object(obj)) => Ok(obj),
            Ok(_) => Err(self.unexpected(reply, "JSON that is not an object")),
            Err(_) if reply.body.trim().is_empty() => Err(self.unexpected(reply, "empty body")),
            Err(_) if reply.body.trim_start().starts_with('<') => {
                Err(self.unexpected(reply, "HTML instead of JSON"))
            }
            Err(_) => Err(self.unexpected(reply, "not JSON")),
        }
    }

    /// Decodes an answer that must be a success (`Status: Success` with a 2xx status).
    pub(crate) fn decode_success(&self, reply: &Reply) -> Result<Answer, TwoFactorInError> {
        let object = self.decode_object(reply)?;
        self.success_from_object(reply, object)
    }

    pub(crate) fn success_from_object(
        &self,
        reply: &Reply,
        object: Map<String, Value>,
    ) -> Result<Answer, TwoFactorInError> {
        let status = field_text(&object, "Status");
        let details = field_text(&object, "Details");
        let status_is = |word: &str| {
            status
                .as_deref()
                .is_some_and(|s| s.trim().eq_ignore_ascii_case(word))
        };
        if is_success(reply.status) {
            if status_is("success") {
                // The request id (or session id) is what a success is for: without it the
                // answer says nothing usable, and a message may still have gone out.
                return match details {
                    Some(details) if !details.trim().is_empty() => Ok(Answer { details, object }),
                    Some(_) => Err(self.unexpected(reply, "a success with an empty Details")),
                    None => Err(self.unexpected(reply, "a success without Details")),
                };
            }
            if status.is_none() && details.is_none() {
                return Err(self.unexpected(reply, "JSON without Status or Details"));
            }
            if !status_is("error") && details.as_deref().and_then(recognise).is_none() {
                // Neither of the two documented outcomes, nor a refusal this client knows:
                // nobody can tell whether it sent.
                return Err(
                    self.unexpected(reply, "an answer whose Status is neither Success nor Error")
                );
            }
        }
        Err(self.failure(reply, error_words(&object).as_deref()))
    }

    /// Decodes a VERIFY answer into a [`Verdict`], by `Details`.
    ///
    /// Only an explicit match verifies: `Details` exactly `OTP Matched`, under a documented
    /// `Status` (`Success`, or `Error` as 2Factor documents it) and a 2xx status. A 2xx answer
    /// that is neither a verdict nor a recognisable error (no `Status`, no `Details`, an empty
    /// one, an unknown shape) is [`TwoFactorInError::UnexpectedResponse`], never a verdict.
    pub(crate) fn decode_verdict(&self, reply: &Reply) -> Result<Verdict, TwoFactorInError> {
        let object = self.decode_object(reply)?;
        let details = field_text(&object, "Details").filter(|d| !d.trim().is_empty());
        let status = field_text(&object, "Status");
        let documented_status = status.as_deref().is_some_and(|s| {
            let s = s.trim();
            s.eq_ignore_ascii_case("success") || s.eq_ignore_ascii_case("error")
        });
        match details.as_deref().and_then(recognise) {
            Some(Known::Matched) if is_success(reply.status) && documented_status => {
                Ok(Verdict::Matched)
            }
            Some(Known::Matched) if is_success(reply.status) => {
                Err(self.unexpected(reply, "a match without a documented Status"))
            }
            Some(Known::Matched) => Err(self.unexpected(reply, "a match with an error status")),
            Some(Known::Mismatch) => Ok(Verdict::Mismatch),
            Some(Known::Expired) => Ok(Verdict::Expired),
            Some(Known::NoSession) => Err(TwoFactorInError::SessionNotFound),
            known => {
                if is_success(reply.status) {
                    let says_error = status
                        .as_deref()
                        .is_some_and(|s| s.trim().eq_ignore_ascii_case("error"));
                    if details.is_none() {
                        return Err(self.unexpected(reply, "a verify answer without Details"));
                    }
                    // A recognised error (the sandbox answers errors with HTTP 200) stays that
                    // error; anything else is an answer this client cannot read.
                    if !(says_error || known.is_some()) {
                        return Err(self.unexpected(reply, "an unknown verify answer"));
                    }
                }
                Err(self.failure(reply, details.as_deref()))
            }
        }
    }

    /// The typed error for a failed answer with these `details` (2Factor's words, if any).
    pub(crate) fn failure(&self, reply: &Reply, details: Option<&str>) -> TwoFactorInError {
        let status = reply.status;
        let words = details.map(|d| self.clean(d)).unwrap_or_default();
        if status == 429 {
            return TwoFactorInError::RateLimited {
                status,
                details: words,
                retry_after: reply.retry_after,
            };
        }
        if status >= 500 {
            return TwoFactorInError::ServerError {
                status,
                details: (!words.is_empty()).then_some(words),
            };
        }
        match details.and_then(recognise) {
            Some(Known::InvalidKey) => TwoFactorInError::InvalidApiKey { details: words },
            Some(Known::InvalidPhone) => TwoFactorInError::InvalidPhone { details: words },
            Some(Known::InvalidCode) => TwoFactorInError::InvalidCode { details: words },
            Some(Known::NoSession) => TwoFactorInError::SessionNotFound,
            Some(Known::Quota) => TwoFactorInError::QuotaExhausted {
                status,
                details: words,
            },
            Some(Known::RateLimit) => TwoFactorInError::RateLimited {
                status,
                details: words,
                retry_after: reply.retry_after,
            },
            _ if status == 401 || status == 403 => TwoFactorInError::Forbidden {
                status,
                details: words,
            },
            _ => TwoFactorInError::Rejected {
                status,
                details: words,
            },
        }
    }
}

/// The words of an error answer, in either of 2Factor's shapes: `Details` (V1/R1), or `error`
/// with a `details` list of `{error, details}` (bulk). Specific reasons come first, as they are
/// what the classification needs.
pub(crate) fn error_words(object: &Map<String, Value>) -> Option<String> {
    if let Some(Value::Array(items)) = field(object, "details") {
        let mut parts: Vec<String> = items
            .iter()
            .filter_map(|item| match item {
                Value::Object(o) => {
                    let e = field_text(o, "error");
                    let d = field_text(o, "details");
                    match (e, d) {
                        (Some(e), Some(d)) => Some(format!("{e} ({d})")),
                        (e, d) => e.or(d),
                    }
                }
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        if let Some(e) = field_text(object, "error") {
            parts.push(e);
        }
        if !parts.is_empty() {
            return Some(parts.join("; "));
        }
    }
    field_text(object, "Details").or_else(|| field_text(object, "error"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_documented_texts() {
        assert_eq!(recognise("OTP Matched"), Some(Known::Matched));
        assert_eq!(recognise(" otp matched "), Some(Known::Matched));
        assert_eq!(recognise("OTP Matched?? not really"), None);
        assert_eq!(recognise("OTP Mismatch"), Some(Known::Mismatch));
        assert_eq!(recognise("OTP Expired"), Some(Known::Expired));
        assert_eq!(
            recognise("Invalid API / SessionId Combination - No Entry Exists"),
            Some(Known::NoSession)
        );
        assert_eq!(recognise("Invalid API Key"), Some(Known::InvalidKey));
        assert_eq!(
            recognise("Invalid API Key Or TRANSACTIONAL_SMS Service Is Inactive"),
            Some(Known::InvalidKey)
        );
        assert_eq!(
            recognise("Invalid Phone Number - Length Mismatch(Expected: 10)"),
            Some(Known::InvalidPhone)
        );
        assert_eq!(
            recognise("Invalid OTP Code - Length Mismatch(Expected: 4-6)"),
            Some(Known::InvalidCode)
        );
        assert_eq!(recognise("Insufficient Balance"), Some(Known::Quota));
        assert_eq!(recognise("Rate limit exceeded"), Some(Known::RateLimit));
        assert_eq!(recognise("ERR_DETAILS_GO_HERE"), None);
    }
}
