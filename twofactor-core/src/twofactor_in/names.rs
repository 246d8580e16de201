//! The free-text values 2Factor puts in a URL path: template names and session ids, each
//! checked to be exactly one path segment.
//!
//! Apart from the client so that the client (which keeps a template) and the OTP endpoints
//! (which take both) import them from below rather than from each other.

use std::fmt;

use super::error::TwoFactorInError;

/// Longest template name accepted.
const MAX_TEMPLATE_CHARS: usize = 100;
/// Longest session id accepted (2Factor's are about 40 characters).
const MAX_SESSION_CHARS: usize = 256;

/// The name of an OTP template approved in the 2Factor dashboard (`SMS OTP > OTP Templates`).
///
/// Any text works except an empty one, one made only of dots, or one with control characters;
/// it is percent-encoded into exactly one path segment, so `My Template/v2` is sent as
/// `My%20Template%2Fv2`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateName(String);

impl TemplateName {
    /// Checks `name` (at most 100 characters).
    pub fn new(name: impl Into<String>) -> Result<Self, TwoFactorInError> {
        let name = name.into();
        check_segment(&name, MAX_TEMPLATE_CHARS, "the template name")
            .map_err(TwoFactorInError::invalid_request)?;
        Ok(Self(name))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TemplateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 2Factor's id for one OTP send, needed to verify it.
///
/// A secret for the verification engine: whoever holds it can check guesses against the code.
/// `Debug` is redacted and there is no `Display`; [`SessionId::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(Box<str>);

impl SessionId {
    /// Wraps a session id (at most 256 characters, not only dots, no control characters).
    pub fn new(id: impl Into<String>) -> Result<Self, TwoFactorInError> {
        let id = id.into();
        check_segment(&id, MAX_SESSION_CHARS, "the session id")
            .map_err(TwoFactorInError::invalid_request)?;
        Ok(Self(id.into_boxed_str()))
    }

    /// The id's text, for storing it. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId([REDACTED])")
    }
}

/// Checks that `value` can be one path segment: not empty, not made only of dots, no control
/// characters, at most `max` characters. `what` names it in the error.
fn check_segment(value: &str, max: usize, what: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.chars().count() > max {
        return Err(format!("{what} is longer than {max} characters"));
    }
    if value.chars().all(|c| c == '.') {
        return Err(format!("{what} cannot be made only of dots"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{what} contains control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_refuse_dot_segments_and_controls() {
        assert!(TemplateName::new("My Template/v2").is_ok());
        for bad in ["", ".", "..", "a\nb", &"x".repeat(101)] {
            assert!(TemplateName::new(bad).is_err(), "{bad:?}");
        }
    }
}
