//! Every parameter of `POST /service/otp/generate`, and the checks each passes before a
//! request is made.
//!
//! Octopush "tries to interpret" a bad parameter: it casts it, strips characters, or drops it and
//! sends anyway. A sender of 2 characters, a code length of 40 or a voice language it does not
//! know would each produce a message other than the one configured, so here each is an error
//! naming the parameter, and nothing is sent.

use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::str::FromStr;

use super::error::{OctopushError, OctopushParameter};

/// The placeholder Octopush replaces with the generated code in `text`.
pub const CODE_PLACEHOLDER: &str = "{code}";
/// The `text` sent when none is configured: a message must say what the code is for, and
/// Octopush's own fallback (no text) is a bare code.
pub const DEFAULT_TEXT: &str = "Your verification code is {code}";
/// `text` length, in characters.
pub const TEXT_CHARS: RangeInclusive<usize> = 1..=1224;
/// `sender` length; only `a-z A-Z 0-9`.
pub const SENDER_CHARS: RangeInclusive<usize> = 3..=11;
/// `code_length`.
pub const CODE_LENGTH: RangeInclusive<u32> = 4..=32;
/// `validity_period`, in seconds.
pub const VALIDITY_PERIOD: RangeInclusive<u32> = 3..=10_000_000;
/// `max_wrong_attempts` (Octopush documents no bound; this is ours).
pub const MAX_WRONG_ATTEMPTS: RangeInclusive<u32> = 1..=1000;

/// The channel Octopush delivers the code on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OctopushChannel {
    /// `sms`.
    #[default]
    Sms,
    /// `voice_sms`: a call that reads the code out.
    VoiceSms,
}

impl OctopushChannel {
    /// The API's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::VoiceSms => "voice_sms",
        }
    }
}

/// The voice of a `voice_sms` code: Octopush's documented languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VoiceLanguage {
    /// `en-US`.
    EnUs,
    /// `en-GB`.
    EnGb,
    /// `el-GR`.
    ElGr,
    /// `pl-PL`.
    PlPl,
    /// `hu-HU`.
    HuHu,
    /// `sv-SE`.
    SvSe,
    /// `de-DE`.
    DeDe,
    /// `es-ES`.
    EsEs,
    /// `es-LA`.
    EsLa,
    /// `fr-FR`.
    FrFr,
    /// `it-IT`.
    ItIt,
    /// `pt-BR`.
    PtBr,
    /// `ru-RU`.
    RuRu,
}

impl VoiceLanguage {
    /// Every documented language.
    pub const ALL: [Self; 13] = [
        Self::EnUs,
        Self::EnGb,
        Self::ElGr,
        Self::PlPl,
        Self::HuHu,
        Self::SvSe,
        Self::DeDe,
        Self::EsEs,
        Self::EsLa,
        Self::FrFr,
        Self::ItIt,
        Self::PtBr,
        Self::RuRu,
    ];

    /// The API's spelling (`fr-FR`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::EnUs => "en-US",
            Self::EnGb => "en-GB",
            Self::ElGr => "el-GR",
            Self::PlPl => "pl-PL",
            Self::HuHu => "hu-HU",
            Self::SvSe => "sv-SE",
            Self::DeDe => "de-DE",
            Self::EsEs => "es-ES",
            Self::EsLa => "es-LA",
            Self::FrFr => "fr-FR",
            Self::ItIt => "it-IT",
            Self::PtBr => "pt-BR",
            Self::RuRu => "ru-RU",
        }
    }
}

/// The gender of a `voice_sms` voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VoiceGender {
    /// `male`.
    Male,
    /// `female`.
    Female,
}

impl VoiceGender {
    /// The API's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Male => "male",
            Self::Female => "female",
        }
    }
}

macro_rules! api_enum_text {
    ($ty:ty, $parameter:expr, [$($variant:expr),+ $(,)?]) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Parses the API's spelling exactly; anything else is
        /// [`OctopushError::InvalidParameter`] naming the parameter.
        impl FromStr for $ty {
            type Err = OctopushError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                [$($variant),+]
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| OctopushError::InvalidParameter {
                        parameter: $parameter,
                        reason: format!(
                            "must be one of {}",
                            [$($variant.as_str()),+].join(", ")
                        ),
                    })
            }
        }
    };
}

api_enum_text!(
    OctopushChannel,
    OctopushParameter::Channel,
    [OctopushChannel::Sms, OctopushChannel::VoiceSms]
);
api_enum_text!(
    VoiceLanguage,
    OctopushParameter::VoiceLanguage,
    [
        VoiceLanguage::EnUs,
        VoiceLanguage::EnGb,
        VoiceLanguage::ElGr,
        VoiceLanguage::PlPl,
        VoiceLanguage::HuHu,
        VoiceLanguage::SvSe,
        VoiceLanguage::DeDe,
        VoiceLanguage::EsEs,
        VoiceLanguage::EsLa,
        VoiceLanguage::FrFr,
        VoiceLanguage::ItIt,
        VoiceLanguage::PtBr,
        VoiceLanguage::RuRu,
    ]
);
api_enum_text!(
    VoiceGender,
    OctopushParameter::VoiceGender,
    [VoiceGender::Male, VoiceGender::Female]
);

/// The parameters of an OTP generation, besides the phone number. `None` leaves a parameter
/// out (Octopush then uses the account's default), except `text`: every request carries one,
/// [`DEFAULT_TEXT`] when none is set.
///
/// The default: SMS, 6 characters, digits only, everything else left out.
///
/// ```
/// use twofactor_core::octopush::{OctopushChannel, OctopushOtpOptions, VoiceLanguage};
///
/// let options = OctopushOtpOptions::default()
///     .with_channel(OctopushChannel::VoiceSms)
///     .with_voice_language("fr-FR".parse().unwrap())
///     .with_sender("MyShop")
///     .with_text("Your code: {code}");
/// assert!(options.validate().is_ok());
/// assert!(OctopushOtpOptions::default().with_sender("MyShop!").validate().is_err());
/// assert!("fr-CA".parse::<VoiceLanguage>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OctopushOtpOptions {
    /// The message, 1 to 1224 characters, containing `{code}`; `None` sends [`DEFAULT_TEXT`].
    pub text: Option<String>,
    /// `sms` or `voice_sms`.
    pub channel: OctopushChannel,
    /// The sender, 3 to 11 of `a-z A-Z 0-9` (if the account may set it).
    pub sender: Option<String>,
    /// The code's length, 4 to 32.
    pub code_length: u32,
    /// Digits in the code.
    pub allow_digits: bool,
    /// Upper-case letters in the code.
    pub allow_upper_case: bool,
    /// Lower-case letters in the code.
    pub allow_lower_case: bool,
    /// The special characters `! # $ % & ? @` in the code.
    pub allow_special_chars: bool,
    /// Leave out characters a reader may confuse.
    pub remove_confusing_characters: Option<bool>,
    /// Seconds until the code expires, 3 to 10 000 000.
    pub validity_period: Option<u32>,
    /// Wrong attempts before Octopush invalidates the code.
    pub max_wrong_attempts: Option<u32>,
    /// The recipient's IP; the validation must then come from the same IP.
    pub recipient_ip: Option<IpAddr>,
    /// The voice's language (`voice_sms`).
    pub voice_language: Option<VoiceLanguage>,
    /// The voice's gender (`voice_sms`).
    pub voice_gender: Option<VoiceGender>,
}

impl Default for OctopushOtpOptions {
    fn default() -> Self {
        Self {
            text: None,
            channel: OctopushChannel::Sms,
            sender: None,
            code_length: 6,
            allow_digits: true,
            allow_upper_case: false,
            allow_lower_case: false,
            allow_special_chars: false,
            remove_confusing_characters: None,
            validity_period: None,
            max_wrong_attempts: None,
            recipient_ip: None,
            voice_language: None,
            voice_gender: None,
        }
    }
}

impl OctopushOtpOptions {
    /// Sets the text (it must contain `{code}`).
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the channel.
    #[must_use]
    pub fn with_channel(mut self, channel: OctopushChannel) -> Self {
        self.channel = channel;
        self
    }

    /// Sets the sender.
    #[must_use]
    pub fn with_sender(mut self, sender: impl Into<String>) -> Self {
        self.sender = Some(sender.into());
        self
    }

    /// Sets the code length.
    #[must_use]
    pub fn with_code_length(mut self, length: u32) -> Self {
        self.code_length = length;
        self
    }

    /// Sets which characters the code may contain: digits, upper case, lower case, specials.
    #[must_use]
    pub fn with_alphabet(mut self, digits: bool, upper: bool, lower: bool, special: bool) -> Self {
        self.allow_digits = digits;
        self.allow_upper_case = upper;
        self.allow_lower_case = lower;
        self.allow_special_chars = special;
        self
    }

    /// Sets `remove_confusing_characters`.
    #[must_use]
    pub fn with_remove_confusing_characters(mut self, remove: bool) -> Self {
        self.remove_confusing_characters = Some(remove);
        self
    }

    /// Sets the validity period, in seconds.
    #[must_use]
    pub fn with_validity_period(mut self, seconds: u32) -> Self {
        self.validity_period = Some(seconds);
        self
    }

    /// Sets the number of wrong attempts Octopush allows.
    #[must_use]
    pub fn with_max_wrong_attempts(mut self, attempts: u32) -> Self {
        self.max_wrong_attempts = Some(attempts);
        self
    }

    /// Sets the recipient's IP.
    #[must_use]
    pub fn with_recipient_ip(mut self, ip: IpAddr) -> Self {
        self.recipient_ip = Some(ip);
        self
    }

    /// Sets the voice language.
    #[must_use]
    pub fn with_voice_language(mut self, language: VoiceLanguage) -> Self {
        self.voice_language = Some(language);
        self
    }

    /// Sets the voice gender.
    #[must_use]
    pub fn with_voice_gender(mut self, gender: VoiceGender) -> Self {
        self.voice_gender = Some(gender);
        self
    }

    /// Checks every parameter against Octopush's documented constraints; the error names the
    /// first parameter that fails.
    pub fn validate(&self) -> Result<(), OctopushError> {
        if let Some(text) = &self.text {
            let chars = text.chars().count();
            if !TEXT_CHARS.contains(&chars) {
                return Err(invalid(
                    OctopushParameter::Text,
                    format!("{chars} characters, not 1 to 1224"),
                ));
            }
            if !text.contains(CODE_PLACEHOLDER) {
                return Err(invalid(
                    OctopushParameter::Text,
                    "must contain {code}, or the code is not sent",
                ));
            }
            if text.chars().any(|c| c.is_control() && c != '\n') {
                return Err(invalid(
                    OctopushParameter::Text,
                    "must not contain control characters",
                ));
            }
        }
        if let Some(sender) = &self.sender
            && (!SENDER_CHARS.contains(&sender.len())
                || !sender.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(invalid(
                OctopushParameter::Sender,
                "must be 3 to 11 of a-z, A-Z, 0-9",
            ));
        }
        if !CODE_LENGTH.contains(&self.code_length) {
            return Err(invalid(
                OctopushParameter::CodeLength,
                format!("{} is not 4 to 32", self.code_length),
            ));
        }
        if !(self.allow_digits
            || self.allow_upper_case
            || self.allow_lower_case
            || self.allow_special_chars)
        {
            return Err(invalid(
                OctopushParameter::AllowDigits,
                "at least one of allow_digits, allow_upper_case, allow_lower_case, \
                 allow_special_chars must be true",
            ));
        }
        if let Some(period) = self.validity_period
            && !VALIDITY_PERIOD.contains(&period)
        {
            return Err(invalid(
                OctopushParameter::ValidityPeriod,
                format!("{period} s is not 3 to 10000000 s"),
            ));
        }
        if let Some(attempts) = self.max_wrong_attempts
            && !MAX_WRONG_ATTEMPTS.contains(&attempts)
        {
            return Err(invalid(
                OctopushParameter::MaxWrongAttempts,
                format!("{attempts} is not 1 to 1000"),
            ));
        }
        if let Some(ip) = self.recipient_ip
            && (ip.is_unspecified() || ip.is_multicast())
        {
            return Err(invalid(
                OctopushParameter::RecipientIp,
                "must be a host's address",
            ));
        }
        Ok(())
    }

    /// The body fields, after [`OctopushOtpOptions::validate`].
    pub(crate) fn to_json(
        &self,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OctopushError> {
        self.validate()?;
        let mut body = serde_json::Map::new();
        let mut put = |key: OctopushParameter, value: serde_json::Value| {
            body.insert(key.as_str().to_owned(), value);
        };
        put(
            OctopushParameter::Text,
            self.text.as_deref().unwrap_or(DEFAULT_TEXT).into(),
        );
        put(OctopushParameter::Channel, self.channel.as_str().into());
        if let Some(sender) = &self.sender {
            put(OctopushParameter::Sender, sender.clone().into());
        }
        put(OctopushParameter::CodeLength, self.code_length.into());
        put(OctopushParameter::AllowDigits, self.allow_digits.into());
        put(
            OctopushParameter::AllowUpperCase,
            self.allow_upper_case.into(),
        );
        put(
            OctopushParameter::AllowLowerCase,
            self.allow_lower_case.into(),
        );
        put(
            OctopushParameter::AllowSpecialChars,
            self.allow_special_chars.into(),
        );
        if let Some(remove) = self.remove_confusing_characters {
            put(OctopushParameter::RemoveConfusingCharacters, remove.into());
        }
        if let Some(period) = self.validity_period {
            put(OctopushParameter::ValidityPeriod, period.into());
        }
        if let Some(attempts) = self.max_wrong_attempts {
            put(OctopushParameter::MaxWrongAttempts, attempts.into());
        }
        if let Some(ip) = self.recipient_ip {
            put(OctopushParameter::RecipientIp, ip.to_string().into());
        }
        if let Some(language) = self.voice_language {
            put(OctopushParameter::VoiceLanguage, language.as_str().into());
        }
        if let Some(gender) = self.voice_gender {
            put(OctopushParameter::VoiceGender, gender.as_str().into());
        }
        Ok(body)
    }
}

pub(crate) fn invalid(parameter: OctopushParameter, reason: impl Into<String>) -> OctopushError {
    OctopushError::InvalidParameter {
        parameter,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_text_passes_the_checks_it_imposes() {
        let options = OctopushOtpOptions::default().with_text(DEFAULT_TEXT);
        assert!(options.validate().is_ok());
        assert!(DEFAULT_TEXT.contains(CODE_PLACEHOLDER));
    }

    #[test]
    fn api_spellings_round_trip() {
        for language in VoiceLanguage::ALL {
            assert_eq!(
                language.as_str().parse::<VoiceLanguage>().ok(),
                Some(language)
            );
        }
        assert_eq!("male".parse::<VoiceGender>().ok(), Some(VoiceGender::Male));
        assert_eq!(
            "voice_sms".parse::<OctopushChannel>().ok(),
            Some(OctopushChannel::VoiceSms)
        );
    }
}
