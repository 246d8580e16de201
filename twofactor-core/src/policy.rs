//! The verification policy: code shape and lifetime, the attempt budget, send caps, the fraud
//! guards, token lifetime. Every default is the README's, and every value is checked when the
//! policy is built, against a lower and an upper bound (the error names the knob).
//!
//! ```
//! use std::time::Duration;
//! use twofactor_core::Policy;
//!
//! let policy = Policy::builder()
//!     .max_attempts(3)
//!     .resend_cooldown(Duration::from_secs(60))
//!     .conversion_min_rate(0.25)
//!     .build()
//!     .unwrap();
//! assert_eq!(policy.max_attempts(), 3);
//! assert_eq!(policy.code_ttl(), Duration::from_secs(600));
//! assert_eq!(policy.conversion_min_rate(), 0.25);
//!
//! let err = Policy::builder().max_attempts(0).build().unwrap_err();
//! assert_eq!(err.to_string(), "max_attempts must be at least 1");
//! let err = Policy::builder().max_attempts(50).build().unwrap_err();
//! assert_eq!(err.to_string(), "max_attempts must be at most 20");
//! ```
//!
//! # Bounds
//! | knob | bounds |
//! |---|---|
//! | `code_length` | 4 to 32 digits |
//! | `code_ttl` | 1 ms to 1 hour (NIST: at most 10 minutes is the default) |
//! | `max_attempts` | 1 to 20 |
//! | `lockout` | 1 ms to 24 hours (a longer lock only helps whoever locks victims out) |
//! | `resend_cooldown` | 0 to under 1 hour (the send window) |
//! | every send and verify cap | 1 to 10 000 000 per hour |
//! | `range_digits` | 1 to 6 |
//! | `conversion_min_sends` | 0 (guard off) to 10 000 000 |
//! | `conversion_min_rate` | 0.0 to 1.0, kept in thousandths (0.2 → 200 ‰; finer is rounded) |
//! | `token_ttl` | 1 s to 30 days |
//! | `provider_timeout` | 1 ms to 5 minutes |
//! | `channels` | at least one of SMS and voice (default both) |
//!
//! # Channels and number types
//! A send over a channel the policy leaves out is refused
//! ([`SendError::ChannelNotAllowed`](crate::verifier::SendError::ChannelNotAllowed)). SMS goes
//! only to mobile numbers (and to numbers the plan cannot tell from mobile), voice also to
//! fixed lines, VoIP numbers only with [`PolicyBuilder::allow_voip`]; every other number type
//! is refused as an invalid phone before any cap is spent or any provider called:
//!
//! ```
//! use twofactor_core::provider::Channel;
//! use twofactor_core::Policy;
//! use twofactor_core::phone::NumberType;
//!
//! let policy = Policy::builder().channels([Channel::Sms]).build().unwrap();
//! assert!(policy.allows_channel(Channel::Sms));
//! assert!(!policy.allows_channel(Channel::Voice));
//! assert!(policy.allows_number(NumberType::Mobile, Channel::Sms));
//! assert!(!policy.allows_number(NumberType::FixedLine, Channel::Sms));
//! assert!(policy.allows_number(NumberType::FixedLine, Channel::Voice));
//! assert!(!policy.allows_number(NumberType::PremiumRate, Channel::Voice));
//! assert!(!policy.allows_number(NumberType::Voip, Channel::Sms));
//! let voip = Policy::builder().allow_voip(true).build().unwrap();
//! assert!(voip.allows_number(NumberType::Voip, Channel::Sms));
//!
//! let err = Policy::builder().channels([]).build().unwrap_err();
//! assert_eq!(err.to_string(), "channels must name at least one channel");
//! ```

use std::fmt;
use std::time::Duration;

use crate::code::MAX_CODE_LEN;
use crate::phone::NumberType;
use crate::provider::Channel;

/// The window of the per-hour send caps.
pub const SEND_WINDOW: Duration = Duration::from_secs(3600);

/// The largest send or verify cap (per hour).
pub const MAX_CAP: u32 = 10_000_000;

/// A validated verification policy. Build one with [`Policy::builder`]; `Policy::default()` is
/// the README's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    code_length: usize,
    code_ttl: Duration,
    max_attempts: u32,
    lockout: Duration,
    resend_cooldown: Duration,
    sends_per_phone_per_hour: u32,
    sends_per_ip_per_hour: u32,
    sends_per_range_per_hour: u32,
    range_digits: u8,
    voice_sends_per_hour: u32,
    sends_per_hour: u32,
    conversion_min_sends: u32,
    conversion_min_permille: u16,
    verifies_per_ip_per_hour: u32,
    token_ttl: Duration,
    provider_timeout: Duration,
    sms: bool,
    voice: bool,
    allow_voip: bool,
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
            sends_per_range_per_hour: 10,
            range_digits: 3,
            voice_sends_per_hour: 100,
            sends_per_hour: 1000,
            conversion_min_sends: 100,
            conversion_min_permille: 200,
            verifies_per_ip_per_hour: 100,
            token_ttl: Duration::from_secs(86_400),
            provider_timeout: Duration::from_secs(10),
            sms: true,
            voice: true,
            allow_voip: false,
        }
    }
}

impl Policy {
    /// Starts from the defaults.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder {
            policy: Self::default(),
            conversion_min_rate: None,
        }
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
    /// Sends per client address per hour (default 20).
    pub fn sends_per_ip_per_hour(&self) -> u32 {
        self.sends_per_ip_per_hour
    }
    /// Sends per hour into one block of numbers (default 10): SMS pumping walks consecutive
    /// numbers. A block is the E.164 number without its last [`range_digits`](Self::range_digits).
    pub fn sends_per_range_per_hour(&self) -> u32 {
        self.sends_per_range_per_hour
    }
    /// How many trailing digits a number block spans (default 3: `+919812345000` to
    /// `+919812345999` are one block).
    pub fn range_digits(&self) -> u8 {
        self.range_digits
    }
    /// Voice sends overall per hour (default 100): voice costs more.
    pub fn voice_sends_per_hour(&self) -> u32 {
        self.voice_sends_per_hour
    }
    /// Sends overall per hour, the spend guard against SMS pumping (default 1000).
    pub fn sends_per_hour(&self) -> u32 {
        self.sends_per_hour
    }
    /// The country conversion guard looks at a country once this many sends to it were let
    /// through in the last hour (default 100; 0 turns the guard off).
    pub fn conversion_min_sends(&self) -> u32 {
        self.conversion_min_sends
    }
    /// The least share of a country's sends in the last hour that must be verified, or
    /// further sends to it are refused until the figures recover (default 0.2).
    pub fn conversion_min_rate(&self) -> f64 {
        f64::from(self.conversion_min_permille) / 1000.0
    }
    /// [`conversion_min_rate`](Self::conversion_min_rate) in thousandths, as stores compare
    /// it (default 200).
    pub fn conversion_min_permille(&self) -> u16 {
        self.conversion_min_permille
    }
    /// Verifies per client address per hour, whatever their outcome (default 100).
    pub fn verifies_per_ip_per_hour(&self) -> u32 {
        self.verifies_per_ip_per_hour
    }
    /// Lifetime of a verification token (default 86 400 s).
    pub fn token_ttl(&self) -> Duration {
        self.token_ttl
    }
    /// Longest wait for one provider request (default 10 s).
    pub fn provider_timeout(&self) -> Duration {
        self.provider_timeout
    }

    /// The channels codes may be sent over (default SMS and voice).
    pub fn channels(&self) -> Vec<Channel> {
        [(self.sms, Channel::Sms), (self.voice, Channel::Voice)]
            .into_iter()
            .filter_map(|(on, c)| on.then_some(c))
            .collect()
    }

    /// Whether codes may be sent over `channel`.
    pub fn allows_channel(&self, channel: Channel) -> bool {
        match channel {
            Channel::Sms => self.sms,
            Channel::Voice => self.voice,
        }
    }

    /// Whether VoIP numbers may receive codes (default false: they are cheap to get in bulk).
    pub fn allow_voip(&self) -> bool {
        self.allow_voip
    }

    /// Whether a number of type `kind` may receive a code over `channel` (see the module docs).
    pub fn allows_number(&self, kind: NumberType, channel: Channel) -> bool {
        match kind {
            NumberType::Mobile | NumberType::FixedLineOrMobile => true,
            NumberType::FixedLine => channel == Channel::Voice,
            NumberType::Voip => self.allow_voip,
            _ => false,
        }
    }

    /// How long a run of wrong attempts is remembered: an attacker who waits this long between
    /// guesses starts a fresh count, so it is at least the lockout and the code lifetime.
    pub fn attempt_memory(&self) -> Duration {
        self.lockout.max(self.code_ttl)
    }
}

/// A knob of the policy, as a [`PolicyError`] names it: typed, so that a caller
/// (configuration) maps it to its own name for the knob without comparing strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyKnob {
    /// `code_length`.
    CodeLength,
    /// `code_ttl`.
    CodeTtl,
    /// `max_attempts`.
    MaxAttempts,
    /// `lockout`.
    Lockout,
    /// `resend_cooldown`.
    ResendCooldown,
    /// `sends_per_phone_per_hour`.
    SendsPerPhonePerHour,
    /// `sends_per_ip_per_hour`.
    SendsPerIpPerHour,
    /// `sends_per_hour`.
    SendsPerHour,
    /// `sends_per_range_per_hour`.
    SendsPerRangePerHour,
    /// `range_digits`.
    RangeDigits,
    /// `voice_sends_per_hour`.
    VoiceSendsPerHour,
    /// `verifies_per_ip_per_hour`.
    VerifiesPerIpPerHour,
    /// `conversion_min_sends`.
    ConversionMinSends,
    /// `conversion_min_rate`.
    ConversionMinRate,
    /// `token_ttl`.
    TokenTtl,
    /// `provider_timeout`.
    ProviderTimeout,
    /// `allow_voip`.
    AllowVoip,
    /// `channels`.
    Channels,
}

impl PolicyKnob {
    /// The knob's name: its [`PolicyBuilder`] method's.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::CodeLength => "code_length",
            Self::CodeTtl => "code_ttl",
            Self::MaxAttempts => "max_attempts",
            Self::Lockout => "lockout",
            Self::ResendCooldown => "resend_cooldown",
            Self::SendsPerPhonePerHour => "sends_per_phone_per_hour",
            Self::SendsPerIpPerHour => "sends_per_ip_per_hour",
            Self::SendsPerHour => "sends_per_hour",
            Self::SendsPerRangePerHour => "sends_per_range_per_hour",
            Self::RangeDigits => "range_digits",
            Self::VoiceSendsPerHour => "voice_sends_per_hour",
            Self::VerifiesPerIpPerHour => "verifies_per_ip_per_hour",
            Self::ConversionMinSends => "conversion_min_sends",
            Self::ConversionMinRate => "conversion_min_rate",
            Self::TokenTtl => "token_ttl",
            Self::ProviderTimeout => "provider_timeout",
            Self::AllowVoip => "allow_voip",
            Self::Channels => "channels",
        }
    }
}

impl fmt::Display for PolicyKnob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A duration that must be positive is zero.
    #[error("{0} must be longer than zero")]
    ZeroDuration(PolicyKnob),
    /// A count that must be at least one is zero.
    #[error("{0} must be at least 1")]
    ZeroCount(PolicyKnob),
    /// The code length is outside 4..=[`MAX_CODE_LEN`].
    #[error("code_length must be between 4 and {MAX_CODE_LEN}, not {0}")]
    CodeLength(usize),
    /// The resend cooldown is not shorter than the one-hour send window.
    #[error("resend_cooldown must be shorter than one hour")]
    CooldownTooLong,
    /// No channel is left to send codes over.
    #[error("channels must name at least one channel")]
    NoChannel,
    /// A value is past its bound (see the module docs).
    #[error("{knob} must be {bound}")]
    OutOfRange {
        /// The knob.
        knob: PolicyKnob,
        /// The bound, in words (`"at most 20"`).
        bound: &'static str,
    },
}

impl PolicyError {
    /// The refused knob.
    pub fn knob(&self) -> PolicyKnob {
        match self {
            Self::ZeroDuration(knob) | Self::ZeroCount(knob) | Self::OutOfRange { knob, .. } => {
                *knob
            }
            Self::CodeLength(_) => PolicyKnob::CodeLength,
            Self::CooldownTooLong => PolicyKnob::ResendCooldown,
            Self::NoChannel => PolicyKnob::Channels,
        }
    }
}

/// Builds a [`Policy`]; see the module docs.
#[derive(Debug, Clone)]
#[must_use]
pub struct PolicyBuilder {
    policy: Policy,
    /// As given; checked and turned into thousandths by `build`.
    conversion_min_rate: Option<f64>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $($(#[$doc])* pub fn $name(mut self, value: $ty) -> Self {
            self.policy.$name = value;
            self
        })*
    };
}

const HOUR: Duration = Duration::from_secs(3600);

impl PolicyBuilder {
    setters! {
        /// Digits per code, 4 to 32.
        code_length: usize;
        /// How long a code stays valid (at most an hour).
        code_ttl: Duration;
        /// Wrong attempts per phone before the lock (1 to 20).
        max_attempts: u32;
        /// How long the lock lasts (at most 24 hours).
        lockout: Duration;
        /// Minimum time between two sends to one phone (zero allowed: no cooldown).
        resend_cooldown: Duration;
        /// Sends per phone per hour.
        sends_per_phone_per_hour: u32;
        /// Sends per client address per hour.
        sends_per_ip_per_hour: u32;
        /// Sends per number block per hour.
        sends_per_range_per_hour: u32;
        /// Trailing digits of a number block (1 to 6).
        range_digits: u8;
        /// Voice sends overall per hour.
        voice_sends_per_hour: u32;
        /// Sends overall per hour.
        sends_per_hour: u32;
        /// Sends to one country in the last hour before the conversion guard looks (0: off).
        conversion_min_sends: u32;
        /// Verifies per client address per hour.
        verifies_per_ip_per_hour: u32;
        /// Token lifetime (at most 30 days).
        token_ttl: Duration;
        /// Longest wait for one provider request (at most 5 minutes).
        provider_timeout: Duration;
        /// Whether VoIP numbers may receive codes (default false).
        allow_voip: bool;
    }

    /// The channels codes may be sent over (default SMS and voice; at least one).
    pub fn channels(mut self, channels: impl IntoIterator<Item = Channel>) -> Self {
        self.policy.sms = false;
        self.policy.voice = false;
        for channel in channels {
            match channel {
                Channel::Sms => self.policy.sms = true,
                Channel::Voice => self.policy.voice = true,
            }
        }
        self
    }

    /// The least verified share of a country's sends (0.0 to 1.0; kept in thousandths).
    pub fn conversion_min_rate(mut self, rate: f64) -> Self {
        self.conversion_min_rate = Some(rate);
        self
    }

    /// Checks every value and returns the policy.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let mut p = self.policy;
        if !(4..=MAX_CODE_LEN).contains(&p.code_length) {
            return Err(PolicyError::CodeLength(p.code_length));
        }
        for (name, d) in [
            (PolicyKnob::CodeTtl, p.code_ttl),
            (PolicyKnob::Lockout, p.lockout),
            (PolicyKnob::TokenTtl, p.token_ttl),
            (PolicyKnob::ProviderTimeout, p.provider_timeout),
        ] {
            // Stores keep whole milliseconds and tokens whole seconds.
            let too_small = if name == PolicyKnob::TokenTtl {
                d.as_secs() == 0
            } else {
                d.as_millis() == 0
            };
            if too_small {
                return Err(PolicyError::ZeroDuration(name));
            }
        }
        let out = |knob, bound| Err(PolicyError::OutOfRange { knob, bound });
        for (knob, d, max, bound) in [
            (PolicyKnob::CodeTtl, p.code_ttl, HOUR, "at most one hour"),
            (
                PolicyKnob::Lockout,
                p.lockout,
                24 * HOUR,
                "at most 24 hours",
            ),
            (
                PolicyKnob::TokenTtl,
                p.token_ttl,
                30 * 24 * HOUR,
                "at most 30 days",
            ),
            (
                PolicyKnob::ProviderTimeout,
                p.provider_timeout,
                Duration::from_secs(300),
                "at most 5 minutes",
            ),
        ] {
            if d > max {
                return out(knob, bound);
            }
        }
        if p.max_attempts == 0 {
            return Err(PolicyError::ZeroCount(PolicyKnob::MaxAttempts));
        }
        if p.max_attempts > 20 {
            return out(PolicyKnob::MaxAttempts, "at most 20");
        }
        for (name, n) in [
            (PolicyKnob::SendsPerPhonePerHour, p.sends_per_phone_per_hour),
            (PolicyKnob::SendsPerIpPerHour, p.sends_per_ip_per_hour),
            (PolicyKnob::SendsPerRangePerHour, p.sends_per_range_per_hour),
            (PolicyKnob::VoiceSendsPerHour, p.voice_sends_per_hour),
            (PolicyKnob::SendsPerHour, p.sends_per_hour),
            (PolicyKnob::VerifiesPerIpPerHour, p.verifies_per_ip_per_hour),
        ] {
            if n == 0 {
                return Err(PolicyError::ZeroCount(name));
            }
            if n > MAX_CAP {
                return out(name, "at most 10000000");
            }
        }
        if p.conversion_min_sends > MAX_CAP {
            return out(PolicyKnob::ConversionMinSends, "at most 10000000");
        }
        if !(1..=6).contains(&p.range_digits) {
            return out(PolicyKnob::RangeDigits, "between 1 and 6");
        }
        if let Some(rate) = self.conversion_min_rate {
            if !(0.0..=1.0).contains(&rate) {
                return out(PolicyKnob::ConversionMinRate, "between 0.0 and 1.0");
            }
            // In range, so the product is within 0..=1000.
            p.conversion_min_permille = (rate * 1000.0).round() as u16;
        }
        if p.resend_cooldown >= SEND_WINDOW {
            return Err(PolicyError::CooldownTooLong);
        }
        if !p.sms && !p.voice {
            return Err(PolicyError::NoChannel);
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
        assert_eq!(p.sends_per_range_per_hour(), 10);
        assert_eq!(p.range_digits(), 3);
        assert_eq!(p.voice_sends_per_hour(), 100);
        assert_eq!(p.conversion_min_sends(), 100);
        assert_eq!(p.conversion_min_rate(), 0.2);
        assert_eq!(p.conversion_min_permille(), 200);
        assert_eq!(p.verifies_per_ip_per_hour(), 100);
        assert_eq!(p.token_ttl().as_secs(), 86_400);
        assert_eq!(p.provider_timeout().as_secs(), 10);
        assert_eq!(p.channels(), [Channel::Sms, Channel::Voice]);
        assert!(!p.allow_voip());
    }

    #[test]
    fn refuses_unusable_values_with_a_named_error() {
        let zero = Duration::ZERO;
        let cases = [
            (
                Policy::builder().code_ttl(zero),
                PolicyError::ZeroDuration(PolicyKnob::CodeTtl),
            ),
            (
                Policy::builder().lockout(zero),
                PolicyError::ZeroDuration(PolicyKnob::Lockout),
            ),
            (
                Policy::builder().token_ttl(Duration::from_millis(500)),
                PolicyError::ZeroDuration(PolicyKnob::TokenTtl),
            ),
            (
                Policy::builder().provider_timeout(zero),
                PolicyError::ZeroDuration(PolicyKnob::ProviderTimeout),
            ),
            (
                Policy::builder().max_attempts(0),
                PolicyError::ZeroCount(PolicyKnob::MaxAttempts),
            ),
            (
                Policy::builder().sends_per_phone_per_hour(0),
                PolicyError::ZeroCount(PolicyKnob::SendsPerPhonePerHour),
            ),
            (
                Policy::builder().sends_per_ip_per_hour(0),
                PolicyError::ZeroCount(PolicyKnob::SendsPerIpPerHour),
            ),
            (
                Policy::builder().sends_per_hour(0),
                PolicyError::ZeroCount(PolicyKnob::SendsPerHour),
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

    #[test]
    fn refuses_values_past_their_upper_bounds_naming_the_knob() {
        let secs = Duration::from_secs;
        let out = |knob, bound| PolicyError::OutOfRange { knob, bound };
        let cases = [
            (
                Policy::builder().max_attempts(21),
                out(PolicyKnob::MaxAttempts, "at most 20"),
            ),
            (
                Policy::builder().code_ttl(secs(3601)),
                out(PolicyKnob::CodeTtl, "at most one hour"),
            ),
            (
                Policy::builder().lockout(secs(86_401)),
                out(PolicyKnob::Lockout, "at most 24 hours"),
            ),
            (
                Policy::builder().token_ttl(secs(30 * 86_400 + 1)),
                out(PolicyKnob::TokenTtl, "at most 30 days"),
            ),
            (
                Policy::builder().provider_timeout(secs(301)),
                out(PolicyKnob::ProviderTimeout, "at most 5 minutes"),
            ),
            (
                Policy::builder().range_digits(0),
                out(PolicyKnob::RangeDigits, "between 1 and 6"),
            ),
            (
                Policy::builder().range_digits(7),
                out(PolicyKnob::RangeDigits, "between 1 and 6"),
            ),
            (
                Policy::builder().conversion_min_rate(1.01),
                out(PolicyKnob::ConversionMinRate, "between 0.0 and 1.0"),
            ),
            (
                Policy::builder().conversion_min_rate(-0.1),
                out(PolicyKnob::ConversionMinRate, "between 0.0 and 1.0"),
            ),
            (
                Policy::builder().conversion_min_rate(f64::NAN),
                out(PolicyKnob::ConversionMinRate, "between 0.0 and 1.0"),
            ),
            (
                Policy::builder().conversion_min_sends(MAX_CAP + 1),
                out(PolicyKnob::ConversionMinSends, "at most 10000000"),
            ),
            (
                Policy::builder().sends_per_range_per_hour(0),
                PolicyError::ZeroCount(PolicyKnob::SendsPerRangePerHour),
            ),
            (
                Policy::builder().voice_sends_per_hour(0),
                PolicyError::ZeroCount(PolicyKnob::VoiceSendsPerHour),
            ),
            (
                Policy::builder().verifies_per_ip_per_hour(0),
                PolicyError::ZeroCount(PolicyKnob::VerifiesPerIpPerHour),
            ),
        ];
        for (builder, expected) in cases {
            let err = builder.build().unwrap_err();
            assert_eq!(err.knob(), expected.knob());
            assert_eq!(err, expected);
        }
        for knob in [
            PolicyKnob::SendsPerPhonePerHour,
            PolicyKnob::SendsPerIpPerHour,
            PolicyKnob::SendsPerRangePerHour,
            PolicyKnob::VoiceSendsPerHour,
            PolicyKnob::SendsPerHour,
            PolicyKnob::VerifiesPerIpPerHour,
        ] {
            let set = |n| {
                let b = Policy::builder();
                match knob {
                    PolicyKnob::SendsPerPhonePerHour => b.sends_per_phone_per_hour(n),
                    PolicyKnob::SendsPerIpPerHour => b.sends_per_ip_per_hour(n),
                    PolicyKnob::SendsPerRangePerHour => b.sends_per_range_per_hour(n),
                    PolicyKnob::VoiceSendsPerHour => b.voice_sends_per_hour(n),
                    PolicyKnob::SendsPerHour => b.sends_per_hour(n),
                    _ => b.verifies_per_ip_per_hour(n),
                }
            };
            assert!(set(1_000_000).build().is_ok(), "{knob}: a million is fine");
            assert!(set(MAX_CAP).build().is_ok(), "{knob}: the bound itself");
            assert_eq!(
                set(MAX_CAP + 1).build().unwrap_err(),
                out(knob, "at most 10000000")
            );
        }
        // The bounds themselves are accepted.
        let edge = Policy::builder()
            .max_attempts(20)
            .code_ttl(secs(3600))
            .lockout(secs(86_400))
            .token_ttl(secs(30 * 86_400))
            .provider_timeout(secs(300))
            .range_digits(6)
            .conversion_min_sends(0)
            .conversion_min_rate(1.0)
            .build()
            .unwrap();
        assert_eq!(edge.conversion_min_permille(), 1000);
        let p = Policy::builder()
            .conversion_min_rate(0.1234)
            .build()
            .unwrap();
        assert_eq!(p.conversion_min_permille(), 123, "kept in thousandths");
        assert!(
            Policy::builder()
                .range_digits(1)
                .conversion_min_rate(0.0)
                .build()
                .is_ok()
        );
    }
}
