//! Who may get a code, how often, and how long it lives: the `TWOFACTOR_*` policy variables
//! read into a checked [`Policy`], the phone parser of `TWOFACTOR_DEFAULT_REGION` and
//! `TWOFACTOR_ALLOWED_COUNTRIES`, and the fixed codes of `TWOFACTOR_TEST_NUMBERS`.
//!
//! The bounds themselves are the policy's ([`PolicyBuilder::build`]); this file only knows
//! which variable sets which knob, so that a value past its bound is refused naming the
//! variable the operator typed, not the knob's name in the code.

use phonenumber::country::Id as CountryId;

use super::env::{Env, invalid};
use super::error::ConfigError;
use crate::phone::PhoneParser;
use crate::policy::{Policy, PolicyBuilder, PolicyKnob};

/// The [`Policy`] of the policy variables and `TWOFACTOR_PROVIDER_TIMEOUT`.
pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Policy, ConfigError> {
    let mut b: PolicyBuilder = Policy::builder();
    // (the policy knob, the variable that set it), to name the variable behind a refusal.
    let mut set: Vec<(PolicyKnob, &'static str)> = Vec::new();
    macro_rules! knob {
        ($var:literal, $get:ident, $set:ident, $knob:ident) => {
            if let Some(v) = env.$get($var)? {
                b = b.$set(v);
                set.push((PolicyKnob::$knob, $var));
            }
        };
    }
    knob!("TWOFACTOR_CODE_TTL", secs, code_ttl, CodeTtl);
    knob!("TWOFACTOR_MAX_ATTEMPTS", count, max_attempts, MaxAttempts);
    knob!("TWOFACTOR_LOCKOUT", secs, lockout, Lockout);
    knob!(
        "TWOFACTOR_RESEND_COOLDOWN",
        secs,
        resend_cooldown,
        ResendCooldown
    );
    knob!(
        "TWOFACTOR_SENDS_PER_PHONE_HOUR",
        count,
        sends_per_phone_per_hour,
        SendsPerPhonePerHour
    );
    knob!(
        "TWOFACTOR_SENDS_PER_IP_HOUR",
        count,
        sends_per_ip_per_hour,
        SendsPerIpPerHour
    );
    knob!(
        "TWOFACTOR_SENDS_PER_HOUR",
        count,
        sends_per_hour,
        SendsPerHour
    );
    knob!(
        "TWOFACTOR_SENDS_PER_RANGE_HOUR",
        count,
        sends_per_range_per_hour,
        SendsPerRangePerHour
    );
    knob!("TWOFACTOR_RANGE_DIGITS", digits, range_digits, RangeDigits);
    knob!(
        "TWOFACTOR_VOICE_SENDS_PER_HOUR",
        count,
        voice_sends_per_hour,
        VoiceSendsPerHour
    );
    knob!(
        "TWOFACTOR_VERIFIES_PER_IP_HOUR",
        count,
        verifies_per_ip_per_hour,
        VerifiesPerIpPerHour
    );
    knob!(
        "TWOFACTOR_CONVERSION_MIN_SENDS",
        count,
        conversion_min_sends,
        ConversionMinSends
    );
    knob!(
        "TWOFACTOR_CONVERSION_MIN_RATE",
        rate,
        conversion_min_rate,
        ConversionMinRate
    );
    knob!("TWOFACTOR_TOKEN_TTL", secs, token_ttl, TokenTtl);
    knob!(
        "TWOFACTOR_PROVIDER_TIMEOUT",
        secs,
        provider_timeout,
        ProviderTimeout
    );
    knob!("TWOFACTOR_ALLOW_VOIP", flag, allow_voip, AllowVoip);
    knob!("TWOFACTOR_CHANNELS", channels, channels, Channels);
    b.build().map_err(|e| {
        let var = set
            .iter()
            .find(|(knob, _)| *knob == e.knob())
            .map_or("TWOFACTOR_* policy", |(_, var)| var);
        invalid(var, e.to_string())
    })
}

/// The parser of `TWOFACTOR_DEFAULT_REGION` (default India) and `TWOFACTOR_ALLOWED_COUNTRIES`
/// (default the default region alone; `*` for every country).
pub(super) fn phone_parser<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<PhoneParser, ConfigError> {
    let default_region = match env.get("TWOFACTOR_DEFAULT_REGION") {
        Some(code) => region("TWOFACTOR_DEFAULT_REGION", &code)?,
        None => CountryId::IN,
    };
    let mut parser = PhoneParser::new(default_region);
    if let Some(list) = env.get("TWOFACTOR_ALLOWED_COUNTRIES") {
        if list == "*" {
            parser = parser.with_any_country();
        } else {
            let countries = list
                .split(',')
                .map(|c| region("TWOFACTOR_ALLOWED_COUNTRIES", c))
                .collect::<Result<Vec<_>, _>>()?;
            parser = parser.with_allowed_countries(countries);
        }
    }
    Ok(parser)
}

fn region(var: &'static str, code: &str) -> Result<CountryId, ConfigError> {
    PhoneParser::region(code)
        .map_err(|_| invalid(var, format!("{code:?} is not an ISO 3166 region code")))
}

/// `TWOFACTOR_TEST_NUMBERS`: `number=code` pairs, comma-separated (the engine refuses them
/// unless `TWOFACTOR_ENABLE_TEST_NUMBERS` is on, and checks each number and code).
pub(super) fn test_numbers<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<Vec<(String, String)>, ConfigError> {
    Ok(env
        .get("TWOFACTOR_TEST_NUMBERS")
        .map(|list| {
            list.split(',')
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(n, c)| (n.trim().to_owned(), c.trim().to_owned()))
                        .ok_or_else(|| {
                            invalid(
                                "TWOFACTOR_TEST_NUMBERS",
                                "expected number=code pairs separated by commas",
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default())
}
