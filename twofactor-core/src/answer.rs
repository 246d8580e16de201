//! Reading provider answers defensively, one way for all three providers (2Factor, Verihubs,
//! Octopush): a body read up to one limit, a `code` field that arrives as a number or as a
//! string (the JSON providers), and provider text made fit to keep inside an error by one
//! cleaner.
//!
//! Provider text ends up in `Display` and logs, so it is scrubbed of our own credentials (a
//! provider that echoes a header or a URL back must not leak it), its control characters are
//! replaced (no log injection) and it is shortened. One cleaner and one limit for every
//! provider, so that what an operator reads in a log is the same shape whichever provider said
//! it, and a fix to one is a fix to all.

#[cfg(any(feature = "verihubs", feature = "octopush"))]
use std::fmt;

use crate::secret::scrub;

/// The most of a provider's answer we read. The largest answer we expect is 2Factor's to a
/// bulk send of 1000 messages, about 120 KiB; the others are a few hundred bytes.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The most characters of provider text kept in an error.
pub(crate) const MAX_TEXT_CHARS: usize = 200;

/// The bytes of an answer, read up to [`MAX_BODY_BYTES`].
pub(crate) struct Bounded {
    /// What was read: the whole body, or its first [`MAX_BODY_BYTES`] at most.
    pub(crate) bytes: Vec<u8>,
    /// Whether that is the whole body.
    pub(crate) complete: bool,
}

/// Reads `response`'s body, stopping before [`MAX_BODY_BYTES`]: a provider (or whatever answers
/// in its place) cannot make us hold more.
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
) -> Result<Bounded, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Ok(Bounded {
                bytes,
                complete: false,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Bounded {
        bytes,
        complete: true,
    })
}

/// A JSON provider's answer (Verihubs, Octopush), read up to [`MAX_BODY_BYTES`].
#[cfg(any(feature = "verihubs", feature = "octopush"))]
pub(crate) struct Body {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The body parsed as a JSON object, if it was one (and not cut short).
    pub(crate) json: Option<serde_json::Map<String, serde_json::Value>>,
}

#[cfg(any(feature = "verihubs", feature = "octopush"))]
impl Body {
    /// Reads `response` (at most [`MAX_BODY_BYTES`]; a longer body counts as unreadable).
    pub(crate) async fn read(response: reqwest::Response) -> Result<Self, reqwest::Error> {
        let status = response.status().as_u16();
        let body = read_bounded(response).await?;
        Ok(if body.complete {
            Self::from_bytes(status, &body.bytes)
        } else {
            Self { status, json: None }
        })
    }

    /// An answer read in full: `bytes` parsed as a JSON object, if it is one.
    pub(crate) fn from_bytes(status: u16, bytes: &[u8]) -> Self {
        let json = match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => None,
        };
        Self { status, json }
    }

    /// Whether the status is 2xx.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A string field, if present and a string.
    pub(crate) fn str_field(&self, name: &str) -> Option<&str> {
        self.json.as_ref()?.get(name)?.as_str()
    }

    /// The `code` field, as a number or a string.
    pub(crate) fn code(&self) -> Option<ResponseCode> {
        ResponseCode::from_json(self.json.as_ref()?.get("code")?)
    }

    /// A non-negative integer field, given as a number or as a string of digits.
    #[cfg(feature = "octopush")]
    pub(crate) fn u32_field(&self, name: &str) -> Option<u32> {
        let value = self.json.as_ref()?.get(name)?;
        ResponseCode::from_json(value)?
            .as_i64()
            .and_then(|n| u32::try_from(n).ok())
    }
}

/// A `code` field of a provider's JSON answer, which some providers send as a number (`201`)
/// and others, or the same one on another day, as a string (`"201"`).
#[cfg(any(feature = "verihubs", feature = "octopush"))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResponseCode {
    /// Sent as a JSON number.
    Number(i64),
    /// Sent as a JSON string.
    Text(String),
}

#[cfg(any(feature = "verihubs", feature = "octopush"))]
impl ResponseCode {
    /// The code as a number: the number itself, or the string parsed as an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Text(text) => text.trim().parse().ok(),
        }
    }

    fn from_json(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Number(n) => n
                .as_i64()
                // `201.0` is still 201; anything fractional is not a code.
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(Self::Number),
            // Control characters are marked, not dropped: `"\u007f246"` is no code 246 (found
            // by the `verihubs_answer` fuzz target, where it read as a match).
            serde_json::Value::String(s) => Some(Self::Text(clean_text(
                &s.replace(char::is_control, "\u{fffd}"),
                &[],
            ))),
            _ => None,
        }
    }
}

#[cfg(any(feature = "verihubs", feature = "octopush"))]
impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// Provider text made fit for an error: trimmed, every `secret` replaced, control characters
/// replaced by spaces, at most [`MAX_TEXT_CHARS`] characters (and `…` when cut).
///
/// Control characters become spaces rather than disappear: dropping them after the scrub could
/// join the two halves of a secret that a control character had split.
pub(crate) fn clean_text(text: &str, secrets: &[&str]) -> String {
    let mut text = text.trim().to_owned();
    for secret in secrets {
        text = scrub(&text, secret);
    }
    let mut chars = text.chars().map(|c| if c.is_control() { ' ' } else { c });
    let mut out: String = chars.by_ref().take(MAX_TEXT_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(feature = "verihubs", feature = "octopush"))]
    #[test]
    fn codes_come_as_numbers_or_strings() {
        let n = ResponseCode::from_json(&serde_json::json!(201));
        let s = ResponseCode::from_json(&serde_json::json!("201"));
        let f = ResponseCode::from_json(&serde_json::json!(201.0));
        assert_eq!(n.and_then(|c| c.as_i64()), Some(201));
        assert_eq!(s.and_then(|c| c.as_i64()), Some(201));
        assert_eq!(f.and_then(|c| c.as_i64()), Some(201));
        assert_eq!(ResponseCode::from_json(&serde_json::json!(null)), None);
        assert_eq!(
            ResponseCode::from_json(&serde_json::json!("OK")).and_then(|c| c.as_i64()),
            None
        );
    }

    #[test]
    fn provider_text_is_scrubbed_flattened_and_bounded() {
        let text = format!("bad key k3y-SECRET\r\nInjected: yes {}", "x".repeat(500));
        let clean = clean_text(&text, &["k3y-SECRET"]);
        assert!(!clean.contains("k3y-SECRET"));
        assert!(!clean.contains('\n'));
        assert!(clean.chars().count() <= MAX_TEXT_CHARS + 1);
        assert!(clean.ends_with('…'));
        assert_eq!(clean_text(" short\tline ", &[]), "short line");
        assert_eq!(
            clean_text(&"x".repeat(MAX_TEXT_CHARS), &[]).chars().count(),
            MAX_TEXT_CHARS
        );
        // A secret split by a control character is not put back together.
        assert!(!clean_text("k3y\u{0}-SECRET", &["k3y-SECRET"]).contains("k3y-SECRET"));
    }
}
