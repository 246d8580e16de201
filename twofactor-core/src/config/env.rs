//! The reader every part of the configuration reads its variables through.
//!
//! One reader, so that every variable follows the same rules: a value is trimmed, and a blank
//! one is unset; a flag is `true`/`false` (or `1`/`0`, `yes`/`no`, `on`/`off`, in any case); a
//! number is a whole number (or, for a rate, a decimal). A bad value is a start-up error naming
//! the variable and saying what was expected, never a silent default: an operator who typed
//! `TWOFACTOR_MAX_ATTEMPTS=five` must not get the default of 5 and believe it is theirs.

use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use super::error::ConfigError;
use crate::provider::Channel;

/// The variables, through a lookup (the process environment, or a test's table).
pub(super) struct Env<F>(pub(super) F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The trimmed value, `None` when unset or blank.
    pub(super) fn get(&self, var: &'static str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value parsed as `T`; `what` says what was expected when it does not parse.
    pub(super) fn parse<T>(&self, var: &'static str, what: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
    {
        self.get(var)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| invalid(var, format!("expected {what}, got {v:?}")))
            })
            .transpose()
    }

    /// Whole seconds.
    pub(super) fn secs(&self, var: &'static str) -> Result<Option<Duration>, ConfigError> {
        Ok(self
            .parse::<u64>(var, "a whole number of seconds")?
            .map(Duration::from_secs))
    }

    /// A count.
    pub(super) fn count(&self, var: &'static str) -> Result<Option<u32>, ConfigError> {
        self.parse::<u32>(var, "a whole number")
    }

    /// A number of digits.
    pub(super) fn digits(&self, var: &'static str) -> Result<Option<u8>, ConfigError> {
        self.parse::<u8>(var, "a whole number of digits")
    }

    /// A rate (its bounds are the policy's to check).
    pub(super) fn rate(&self, var: &'static str) -> Result<Option<f64>, ConfigError> {
        self.parse::<f64>(var, "a number between 0 and 1")
    }

    /// A flag.
    pub(super) fn flag(&self, var: &'static str) -> Result<Option<bool>, ConfigError> {
        self.get(var)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(invalid(var, format!("expected true or false, got {v:?}"))),
            })
            .transpose()
    }

    /// A comma-separated list of `sms` and `voice`.
    pub(super) fn channels(&self, var: &'static str) -> Result<Option<Vec<Channel>>, ConfigError> {
        self.get(var)
            .map(|v| {
                v.split(',')
                    .map(|c| match c.trim().to_ascii_lowercase().as_str() {
                        "sms" => Ok(Channel::Sms),
                        "voice" => Ok(Channel::Voice),
                        _ => Err(invalid(
                            var,
                            format!("expected a comma-separated list of sms and voice, got {v:?}"),
                        )),
                    })
                    .collect()
            })
            .transpose()
    }

    /// A secret: kept as a [`SecretString`], so that no `Debug` of the settings shows it.
    pub(super) fn secret(&self, var: &'static str) -> Option<SecretString> {
        self.get(var).map(SecretString::from)
    }
}

/// `var` has a value that cannot be used, for `reason` (never the value of a secret).
pub(super) fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}
