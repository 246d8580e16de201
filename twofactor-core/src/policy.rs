//! The verification policy: code shape and lifetime, the attempt budget, send caps, token
//! lifetime. Every default is the README's, and every value is checked when the policy is built.
//!
//! ```
//! use std::time::Duration;
//! use twofactor_core::Policy;
//!
//! let policy = Policy::builder()
//!     .max_attempts(3)
//!     .resend_cooldown(Duration::from_secs(60))
//!     .build()
//!     .unwrap();
//! assert_eq!(policy.max_attempts(), 3);
//! assert_eq!(policy.code_ttl(), Duration::from_secs(600));
//!
//! let err = Policy::builder().max_attempts(0).build().unwrap_err();
//! assert_eq!(err.to_string(), "max_attempts must be at least 1");
//! ```

use std::time::Duration;

use crate::code::MAX_CODE_LEN;

/// The window of the per-hour send caps.
pub const SEND_WINDOW: Duration = Duration::from_secs(3600);

/// A validated verification policy. Build one with [`Policy::builder`]; `Policy::default()` is
/// the defaults of the README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    code_length: usize,
    code_ttl: Duration,
    max_attempts: u32,
    lockout: Duration,
    resend_cooldown: Duration,
    sends_per_phone_per_hour: u32,
    sends_per_ip_per_hour: u32,
    sends_per_hour: u32,
    token_ttl: Duration,
    provider_timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            code_length: 6,
            code_ttl: Duration::from_secs(600),
            max_attempts: 5,
            lockout: Duration::from_secs(900),
            resend_cooldown: Duration::from_secs(30),
            sends_per_phone_per_hour: 5,
            sends_per_ip_per_hour: 20,
            sends_per_hour: 1000,
            token_ttl: Duration::from_secs(86_400),
            provider_timeout: Duration::from_secs(10),
        }
    }
}

impl Policy {
    /// Starts from the defaults.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder(Self::default())
    }

    /// Digits per code (default 6: NIST 800-63B, ASVS 6.5).
    pub fn code_length(&self) -> usize {
        self.code_length
    }
    /// How long a code stays valid (default 600 s).
    pub fn code_ttl(&self) -> Duration {
        self.code_ttl
    }
    /// Wrong attempts allowed per phone before the lock (default 5).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
    /// How long a phone stays locked once its budget is spent (default 900 s).
    pub fn lockout(&self) -> Duration {
        self.lockout
    }
    /// Minimum time between two sends to one phone (default 30 s).
    pub fn resend_cooldown(&self) -> Duration {
        self.resend_cooldown
    }
    /// Sends per phone per hour (default 5).
    pub fn sends_per_phone_per_hour(&self) -> u32 {
        self.sends_per_phone_per_hour
    }
    /// Sends per client IP per hour (default 20).
    pub fn sends_per_ip_per_hour(&self) -> u32 {
        self.sends_per_ip_per_hour
    }
    /// Sends overall per hour, the spend guard against SMS pumping (default 1000).
    pub fn sends_per_hour(&self) -> u32 {
        self.sends_per_hour
    }
    /// Lifetime of a verification token (default 86 400 s).
    pub fn token_ttl(&self) -> Duration {
        self.token_ttl
    }
    /// Longest wait for one provider request (default 10 s).
    pub fn provider_timeout(&self) -> Duration {
        self.provider_timeout
    }

    /// How long a run of wrong attempts is remembered: an attacker who waits this long between
    /// guesses starts a fresh count, so it is at least the lockout and the code lifetime.
    pub fn attempt_memory(&self) -> Duration {
        self.lockout.max(self.code_ttl)
    }
}

/// What is wrong with a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A duration that must be positive is zero.
    #[error("{0} must be longer than zero")]
    ZeroDuration(&'static str),
    /// A count that must be at least one is zero.
    #[error("{0} must be at least 1")]
    ZeroCount(&'static str),
    /// The code length is outside 4..=[`MAX_CODE_LEN`].
    #[error("code_length must be between 4 and {MAX_CODE_LEN}, not {0}")]
    CodeLength(usize),
    /// The resend cooldown is not shorter than the one-hour send window.
    #[error("resend_cooldown must be shorter than one hour")]
    CooldownTooLong,
}

impl PolicyError {
    /// The refused knob, as named by its [`PolicyBuilder`] method (`"max_attempts"`).
    pub fn knob(&self) -> &'static str {
        match self {
            Self::ZeroDuration(knob) | Self::ZeroCount(knob) => knob,
            Self::CodeLength(_) => "code_length",
            Self::CooldownTooLong => "resend_cooldown",
        }
    }
}

/// Builds a [`Policy`]; see the module docs.
#[derive(Debug, Clone)]
#[must_use]
pub struct PolicyBuilder(Policy);

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $($(#[$doc])* pub fn $name(mut self, value: $ty) -> Self {
            self.0.$name = value;
            self
        })*
    };
}

impl PolicyBuilder {
    setters! {
        /// Digits per code, 4 to 32.
        code_length: usize;
        /// How long a code stays valid.
        code_ttl: Duration;
        /// Wrong attempts per phone before the lock.
        max_attempts: u32;
        /// How long the lock lasts.
        lockout: Duration;
        /// Minimum time between two sends to one phone (zero allowed: no cooldown).
        resend_cooldown: Duration;
        /// Sends per phone per hour.
        sends_per_phone_per_hour: u32;
        /// Sends per client IP per hour.
        sends_per_ip_per_hour: u32;
        /// Sends overall per hour.
        sends_per_hour: u32;
        /// Token lifetime.
        token_ttl: Duration;
        /// Longest wait for one provider request.
        provider_timeout: Duration;
    }

    /// Checks every value and returns the policy.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let p = self.0;
        if !(4..=MAX_CODE_LEN).contains(&p.code_length) {
            return Err(PolicyError::CodeLength(p.code_length));
        }
        for (name, d) in [
            ("code_ttl", p.code_ttl),
            ("lockout", p.lockout),
            ("token_ttl", p.token_ttl),
            ("provider_timeout", p.provider_timeout),
        ] {
            // Stores keep whole milliseconds and tokens whole seconds.
            let too_small = if name == "token_ttl" {
                d.as_secs() == 0
            } else {
                d.as_millis() == 0
            };
            if too_small {
                return Err(PolicyError::ZeroDuration(name));
            }
        }
        for (name, n) in [
            ("max_attempts", p.max_attempts),
            ("sends_per_phone_per_hour", p.sends_per_phone_per_hour),
            ("sends_per_ip_per_hour", p.sends_per_ip_per_hour),
            ("sends_per_hour", p.sends_per_hour),
        ] {
            if n == 0 {
                return Err(PolicyError::ZeroCount(name));
            }
        }
        if p.resend_cooldown >= SEND_WINDOW {
            return Err(PolicyError::CooldownTooLong);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_design_section_4() {
        let p = Policy::default();
        assert_eq!(Policy::builder().build().unwrap(), p);
        assert_eq!(p.code_length(), 6);
        assert_eq!(p.code_ttl().as_secs(), 600);
        assert_eq!(p.max_attempts(), 5);
        assert_eq!(p.lockout().as_secs(), 900);
        assert_eq!(p.resend_cooldown().as_secs(), 30);
        assert_eq!(p.sends_per_phone_per_hour(), 5);
        assert_eq!(p.sends_per_ip_per_hour(), 20);
        assert_eq!(p.sends_per_hour(), 1000);
        assert_eq!(p.token_ttl().as_secs(), 86_400);
        assert_eq!(p.provider_timeout().as_secs(), 10);
    }

    #[test]
    fn refuses_unusable_values_with_a_named_error() {
        let zero = Duration::ZERO;
        let cases = [
            (
                Policy::builder().code_ttl(zero),
                PolicyError::ZeroDuration("code_ttl"),
            ),
            (
                Policy::builder().lockout(zero),
                PolicyError::ZeroDuration("lockout"),
            ),
            (
                Policy::builder().token_ttl(Duration::from_millis(500)),
                PolicyError::ZeroDuration("token_ttl"),
            ),
            (
                Policy::builder().provider_timeout(zero),
                PolicyError::ZeroDuration("provider_timeout"),
            ),
            (
                Policy::builder().max_attempts(0),
                PolicyError::ZeroCount("max_attempts"),
            ),
            (
                Policy::builder().sends_per_phone_per_hour(0),
                PolicyError::ZeroCount("sends_per_phone_per_hour"),
            ),
            (
                Policy::builder().sends_per_ip_per_hour(0),
                PolicyError::ZeroCount("sends_per_ip_per_hour"),
            ),
            (
                Policy::builder().sends_per_hour(0),
                PolicyError::ZeroCount("sends_per_hour"),
            ),
            (Policy::builder().code_length(3), PolicyError::CodeLength(3)),
            (
                Policy::builder().code_length(33),
                PolicyError::CodeLength(33),
            ),
            (
                Policy::builder().resend_cooldown(SEND_WINDOW),
                PolicyError::CooldownTooLong,
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(builder.build().unwrap_err(), expected);
        }
        assert!(Policy::builder().resend_cooldown(zero).build().is_ok());
    }
}
