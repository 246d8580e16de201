//! Phone numbers: the only way a user's number reaches a provider.
//!
//! [`PhoneParser`] turns user input into a [`PhoneNumber`]: it first refuses any character a
//! human would not type into a phone field (the `phonenumber` crate alone accepts
//! `+91 98765/12345`), then parses with the `phonenumber` crate in a default region, checks the
//! number is valid, and checks its country against an allow-list.
//!
//! ```
//! use twofactor_core::{PhoneParser, PhoneError};
//!
//! let parser = PhoneParser::new("IN".parse().unwrap());
//! let phone = parser.parse("098123 45678").unwrap();
//! assert_eq!(phone.to_string(), "+919812345678");
//! assert_eq!(phone.masked().to_string(), "+91******5678");
//! assert!(matches!(parser.parse("+91 98765/43210"), Err(PhoneError::Invalid)));
//! assert!(matches!(parser.parse("+14155552671"), Err(PhoneError::NotAllowed { .. })));
//! ```

use std::collections::HashSet;
use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use phonenumber::country::Id as CountryId;

/// Longest input we look at; anything longer is refused before parsing.
const MAX_INPUT_LEN: usize = 32;
/// E.164 allows at most 15 digits.
const MAX_E164_DIGITS: u32 = 15;

/// A validated phone number in E.164 form (`+919812345678`).
///
/// Stored as the E.164 digits in a `u64` (E.164 has at most 15 digits and never starts with a
/// zero), so it is `Copy`, eight bytes, and cheap to hash and compare. `Display` gives the E.164
/// string; [`PhoneNumber::masked`] gives the form fit for logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(NonZeroU64);

impl PhoneNumber {
    /// Rebuilds a number from its E.164 digits, as stored by [`PhoneNumber::digits`].
    ///
    /// This does not run the validity and allow-list checks of [`PhoneParser`]: use it only for
    /// numbers that were parsed before (from a store or a signed token).
    pub fn from_digits(digits: u64) -> Option<Self> {
        if digits >= 10u64.pow(MAX_E164_DIGITS) {
            return None;
        }
        NonZeroU64::new(digits).map(Self)
    }

    /// The E.164 digits without the `+`, as a number.
    pub fn digits(&self) -> u64 {
        self.0.get()
    }

    /// The E.164 form, `+` and digits: `+919812345678`.
    pub fn e164(&self) -> String {
        let (buf, start) = self.e164_ascii();
        String::from(std::str::from_utf8(&buf[start..]).unwrap_or_default())
    }

    /// The E.164 text at the end of a stack buffer, and where it starts: `+` and the digits,
    /// written directly (responses and the guard's handlers format a number on every request,
    /// and the formatting machinery costs several times more).
    fn e164_ascii(&self) -> ([u8; 21], usize) {
        let mut buf = [0u8; 21];
        let mut at = buf.len();
        let mut rest = self.0.get();
        loop {
            at -= 1;
            buf[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        at -= 1;
        buf[at] = b'+';
        (buf, at)
    }

    /// The digits without the `+` (`919812345678`), as Verihubs' `msisdn` or 2Factor's `to` want.
    pub fn digits_string(&self) -> String {
        self.0.get().to_string()
    }

    /// The region the number belongs to by its numbering plan (`IN` for `+91…`; the leading
    /// digits decide for shared calling codes such as `+1`), `None` for non-geographic
    /// numbers (`+800…`).
    pub fn region(&self) -> Option<CountryId> {
        crate::phone_rules::region_of(self.0.get())
    }

    /// The number's type by its numbering plan (mobile, fixed line, toll-free…), as the
    /// `phonenumber` metadata says; [`NumberType::Unknown`] for a number no pattern matches.
    ///
    /// ```
    /// use twofactor_core::PhoneParser;
    /// use twofactor_core::phone::NumberType;
    ///
    /// let parser = PhoneParser::default();
    /// assert_eq!(parser.parse("+919812345678").unwrap().number_type(), NumberType::Mobile);
    /// assert_eq!(parser.parse("+911123456789").unwrap().number_type(), NumberType::FixedLine);
    /// assert_eq!(parser.parse("+91 1800 123 456").unwrap().number_type(), NumberType::TollFree);
    /// ```
    pub fn number_type(&self) -> NumberType {
        crate::phone_rules::number_type(self.0.get())
    }

    /// A form safe for logs: the `+`, two leading digits, stars, and the last four digits
    /// (`+91******5678`).
    pub fn masked(&self) -> MaskedPhone {
        MaskedPhone(*self)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (buf, start) = self.e164_ascii();
        f.write_str(std::str::from_utf8(&buf[start..]).unwrap_or_default())
    }
}

/// `Debug` is masked too: a `PhoneNumber` inside any struct's `Debug` never shows the number.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl serde::Serialize for PhoneNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads the E.164 form (`"+919812345678"`) that `Serialize` writes. Like
/// [`PhoneNumber::from_digits`] it checks the form only, not the allow-list: it is for numbers
/// that were parsed before (kept in a session, say), not for user input.
impl<'de> serde::Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.strip_prefix('+')
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u64>().ok())
            .and_then(Self::from_digits)
            .ok_or_else(|| serde::de::Error::custom("expected an E.164 phone number"))
    }
}

/// What kind of line a number is, by its numbering plan ([`PhoneNumber::number_type`]).
///
/// SMS codes go only to [`Mobile`](Self::Mobile) and
/// [`FixedLineOrMobile`](Self::FixedLineOrMobile) numbers, voice calls also to
/// [`FixedLine`](Self::FixedLine) ones, [`Voip`](Self::Voip) only when the policy allows it;
/// every other type bills the caller or cannot receive a code, and is refused as an invalid
/// phone before any provider is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NumberType {
    /// A mobile number.
    Mobile,
    /// A fixed (landline) number.
    FixedLine,
    /// Mobile or fixed: the numbering plan cannot tell (`+1`, for one).
    FixedLineOrMobile,
    /// A freephone number: the called party pays.
    TollFree,
    /// A premium-rate number: the caller pays extra, to the number's owner.
    PremiumRate,
    /// A shared-cost number.
    SharedCost,
    /// A personal number, routed on to another line.
    PersonalNumber,
    /// A VoIP number.
    Voip,
    /// A pager.
    Pager,
    /// A universal access (company) number.
    Uan,
    /// A voicemail access number.
    Voicemail,
    /// No pattern of the numbering plan matches.
    Unknown,
}

impl NumberType {
    /// A stable snake_case name for logs (`mobile`, `premium_rate`…).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Mobile => "mobile",
            Self::FixedLine => "fixed_line",
            Self::FixedLineOrMobile => "fixed_line_or_mobile",
            Self::TollFree => "toll_free",
            Self::PremiumRate => "premium_rate",
            Self::SharedCost => "shared_cost",
            Self::PersonalNumber => "personal_number",
            Self::Voip => "voip",
            Self::Pager => "pager",
            Self::Uan => "uan",
            Self::Voicemail => "voicemail",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for NumberType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phone number's log-safe form, see [`PhoneNumber::masked`].
#[derive(Clone, Copy)]
pub struct MaskedPhone(PhoneNumber);

impl fmt::Display for MaskedPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.digits_string();
        let n = digits.len();
        // Short numbers keep fewer digits so that most of the number stays hidden.
        let (head, tail) = if n >= 10 {
            (2, 4)
        } else {
            (1, 2.min(n.saturating_sub(2)))
        };
        f.write_str("+")?;
        f.write_str(&digits[..head])?;
        for _ in head..n - tail {
            f.write_str("*")?;
        }
        f.write_str(&digits[n - tail..])
    }
}

impl fmt::Debug for MaskedPhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// Not a phone number: a forbidden character, too long, or not valid for its country.
    #[error("not a valid phone number")]
    Invalid,
    /// A valid number whose country is not on the allow-list.
    #[error("phone numbers from {country} are not allowed")]
    NotAllowed {
        /// The number's country (ISO 3166 alpha-2), or `"international"` for non-geographic
        /// numbers.
        country: String,
    },
}

/// Which countries' numbers are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    Any,
    Only(HashSet<CountryId>),
}

/// Parses user input into a [`PhoneNumber`]: national input in a default region, an allow-list
/// of countries (by default only the default region's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneParser {
    default_region: CountryId,
    /// The default region's calling code, for the fast path of international input.
    default_code: Option<u16>,
    allowed: Allowed,
}

impl Default for PhoneParser {
    /// Region `IN`, only Indian numbers allowed.
    fn default() -> Self {
        Self::new(CountryId::IN)
    }
}

impl PhoneParser {
    /// A parser for national input in `default_region`, allowing only that region's numbers.
    pub fn new(default_region: CountryId) -> Self {
        Self {
            default_region,
            default_code: crate::phone_rules::calling_code(default_region),
            allowed: Allowed::Only(HashSet::from([default_region])),
        }
    }

    /// Parses a region code such as `"IN"`, for configuration.
    pub fn region(code: &str) -> Result<CountryId, PhoneError> {
        CountryId::from_str(code.trim().to_ascii_uppercase().as_str())
            .map_err(|_| PhoneError::Invalid)
    }

    /// Allows exactly these countries (replacing the default).
    #[must_use]
    pub fn with_allowed_countries(
        mut self,
        countries: impl IntoIterator<Item = CountryId>,
    ) -> Self {
        self.allowed = Allowed::Only(countries.into_iter().collect());
        self
    }

    /// Allows numbers from every country. Think of SMS pumping before you do this.
    #[must_use]
    pub fn with_any_country(mut self) -> Self {
        self.allowed = Allowed::Any;
        self
    }

    /// The region used for national input.
    pub fn default_region(&self) -> CountryId {
        self.default_region
    }

    /// Parses, validates and checks `input` against the allow-list.
    pub fn parse(&self, input: &str) -> Result<PhoneNumber, PhoneError> {
        let input = input.trim_matches(' ');
        if !is_plausible(input) {
            return Err(PhoneError::Invalid);
        }
        self.parse_fast(input)
            .map_or_else(|| self.parse_slow(input), Ok)
    }

    /// International input in the common forms (`+919812345678`, `+91 98123 45678`,
    /// `+91-98123-45678`) that compiled rules can settle on their own: valid and allowed, with
    /// the answer `phonenumber` would give (a test compares them). `None`: ask `phonenumber`.
    pub(crate) fn parse_fast(&self, input: &str) -> Option<PhoneNumber> {
        let rest = input.strip_prefix('+')?;
        let mut digits = [0u8; MAX_INPUT_LEN];
        let mut n = 0;
        for b in rest.bytes() {
            match b {
                b'0'..=b'9' => {
                    *digits.get_mut(n)? = b;
                    n += 1;
                }
                b' ' | b'-' => {}
                _ => return None,
            }
        }
        let digits = std::str::from_utf8(&digits[..n]).ok()?;
        let (e164, region) =
            crate::phone_rules::parse_international(digits, self.default_code?, |r| {
                self.compiles(r)
            })?;
        let allowed = match &self.allowed {
            Allowed::Any => true,
            Allowed::Only(allowed) => allowed.contains(&region),
        };
        allowed.then(|| PhoneNumber::from_digits(e164)).flatten()
    }

    pub(crate) fn parse_slow(&self, input: &str) -> Result<PhoneNumber, PhoneError> {
        let phone = self.parse_phonenumber(input)?;
        // `phonenumber` applies the default region's national-prefix rules even after the `+`
        // of another country (in `CX`, `+49 0526…` became `+49526…`, which is no valid number):
        // a number counts only if its own E.164 form reads back to it (found by the `phone`
        // fuzz target).
        let e164 = phone.e164();
        let again = self
            .parse_fast(&e164)
            .map_or_else(|| self.parse_phonenumber(&e164), Ok);
        if again != Ok(phone) {
            return Err(PhoneError::Invalid);
        }
        Ok(phone)
    }

    fn parse_phonenumber(&self, input: &str) -> Result<PhoneNumber, PhoneError> {
        let parsed = phonenumber::parse(Some(self.default_region), input)
            .map_err(|_| PhoneError::Invalid)?;
        if !crate::phone_rules::is_valid(&parsed, |region| self.compiles(region)) {
            return Err(PhoneError::Invalid);
        }
        let country = parsed.country().id();
        if let Allowed::Only(allowed) = &self.allowed
            && !country.is_some_and(|c| allowed.contains(&c))
        {
            let country = country.map_or_else(|| "international".to_owned(), |c| format!("{c:?}"));
            return Err(PhoneError::NotAllowed { country });
        }
        e164_digits(&parsed)
            .and_then(PhoneNumber::from_digits)
            .ok_or(PhoneError::Invalid)
    }

    /// Whether numbers of `region` are worth compiled validity rules: the regions this parser
    /// accepts (only the default one when it accepts any).
    fn compiles(&self, region: &str) -> bool {
        let Ok(region) = CountryId::from_str(region) else {
            return false;
        };
        match &self.allowed {
            Allowed::Any => region == self.default_region,
            Allowed::Only(allowed) => allowed.contains(&region),
        }
    }
}

/// The E.164 digits of a parsed number as a `u64`: the calling code, the national number's
/// leading zeros (Italy keeps them), then its value — what `phonenumber`'s E.164 formatting
/// writes, without the string (that formatting also ran the national format patterns, for
/// nothing: ~3 µs).
fn e164_digits(parsed: &phonenumber::PhoneNumber) -> Option<u64> {
    let national = parsed.national();
    let value = national.value();
    let value_digits = value.checked_ilog10().map_or(1, |d| d + 1);
    let shift = 10u64.checked_pow(value_digits + u32::from(national.zeros()))?;
    u64::from(parsed.code().value())
        .checked_mul(shift)?
        .checked_add(value)
}

/// ASCII digits, one leading `+`, and the separators space, `-`, `(` and `)`; at least one digit.
pub(crate) fn is_plausible(input: &str) -> bool {
    if input.is_empty() || input.len() > MAX_INPUT_LEN {
        return false;
    }
    let body = input.strip_prefix('+').unwrap_or(input);
    body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'(' | b')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn india() -> PhoneParser {
        PhoneParser::default()
    }

    #[test]
    fn parses_national_and_international_forms_to_the_same_number() {
        for input in [
            "+919812345678",
            "9812345678",
            "098123 45678",
            "+91 (98123) 45-678",
            " +919812345678 ",
        ] {
            assert_eq!(
                india().parse(input).unwrap().to_string(),
                "+919812345678",
                "{input}"
            );
        }
    }

    #[test]
    fn refuses_characters_a_phone_field_never_needs() {
        let long = "9".repeat(10_000);
        for input in [
            "",
            "+",
            "..",
            "../BAL/SMS",
            "1/2",
            "%2e%2e",
            "+91 98765/43210",
            "+91.9812345678",
            "+91#9812345678",
            "٩٨١٢٣٤٥٦٧٨",
            "１２３４５６７８９０",
            "98123x45678",
            "++919812345678",
            "91+9812345678",
            "9812345678\n",
            long.as_str(),
        ] {
            assert_eq!(india().parse(input), Err(PhoneError::Invalid), "{input:?}");
        }
    }

    #[test]
    fn refuses_invalid_numbers() {
        assert_eq!(india().parse("+91123"), Err(PhoneError::Invalid));
        assert_eq!(india().parse("+9100000000000"), Err(PhoneError::Invalid));
    }

    #[test]
    fn applies_the_country_allow_list() {
        let us = "+14155552671";
        assert!(
            matches!(india().parse(us), Err(PhoneError::NotAllowed { country }) if country == "US")
        );
        let both = india().with_allowed_countries([CountryId::IN, CountryId::US]);
        assert_eq!(both.parse(us).unwrap().to_string(), us);
        assert_eq!(
            india().with_any_country().parse(us).unwrap().to_string(),
            us
        );
    }

    #[test]
    fn masks_for_logs_and_debug() {
        let p = india().parse("+919812345678").unwrap();
        assert_eq!(p.masked().to_string(), "+91******5678");
        assert_eq!(format!("{p:?}"), "PhoneNumber(+91******5678)");
        assert!(!format!("{p:?}").contains("9812345678"));
    }

    #[test]
    fn round_trips_through_digits() {
        let p = india().parse("+919812345678").unwrap();
        assert_eq!(PhoneNumber::from_digits(p.digits()), Some(p));
        assert_eq!(PhoneNumber::from_digits(0), None);
        assert_eq!(PhoneNumber::from_digits(10u64.pow(15)), None);
    }

    /// The fast path for international input never answers differently from `phonenumber`:
    /// for parsers of many default regions, allowing every country, over example numbers of
    /// every region, numbers one digit off them, and pseudo-random digits.
    #[test]
    fn the_fast_path_agrees_with_phonenumber() {
        use phonenumber::metadata::DATABASE;
        let every: Vec<CountryId> = DATABASE
            .iter()
            .filter_map(|m| m.id().parse().ok())
            .collect();
        let mut nationals: Vec<(u16, String)> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for meta in DATABASE.iter() {
            let d = meta.descriptors();
            for desc in [d.fixed_line(), d.mobile(), d.toll_free(), d.voip()]
                .into_iter()
                .flatten()
            {
                let Some(example) = desc.example() else {
                    continue;
                };
                nationals.push((meta.country_code(), example.to_owned()));
                let mut v = example.as_bytes().to_vec();
                let last = v.len() - 1;
                v[last] = if v[last] == b'9' { b'0' } else { v[last] + 1 };
                nationals.push((meta.country_code(), String::from_utf8(v).unwrap()));
                nationals.push((meta.country_code(), format!("0{example}")));
            }
            for len in 6..=12 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let digits = format!("{seed:020}");
                nationals.push((meta.country_code(), digits[..len].to_owned()));
            }
        }
        let (mut fast, mut total) = (0, 0);
        for region in [
            "IN", "DE", "FR", "BR", "AR", "IT", "MX", "NG", "ID", "NZ", "GB", "US", "JP", "BY",
            "MN",
        ] {
            let parser = PhoneParser::new(region.parse().unwrap())
                .with_allowed_countries(every.iter().copied());
            for (code, national) in &nationals {
                for input in [format!("+{code}{national}"), format!("+{code} {national}")] {
                    total += 1;
                    if let Some(got) = parser.parse_fast(&input) {
                        fast += 1;
                        assert_eq!(Ok(got), parser.parse_slow(&input), "{input} in {region}");
                    }
                }
            }
        }
        assert!(
            fast > total / 10,
            "the fast path answered {fast} of {total}"
        );
    }

    #[test]
    fn e164_digits_match_phonenumbers_formatting() {
        for input in [
            "+919812345678",
            "+390236618300",
            "+14155552671",
            "+442079460958",
            "+80012345678",
            "+3906698",
        ] {
            let parsed = phonenumber::parse(None, input).unwrap();
            let text = parsed.format().mode(phonenumber::Mode::E164).to_string();
            assert_eq!(
                e164_digits(&parsed).map(|d| format!("+{d}")),
                Some(text),
                "{input}"
            );
        }
    }

    #[test]
    fn region_codes_parse_case_insensitively() {
        assert_eq!(PhoneParser::region("in"), Ok(CountryId::IN));
        assert_eq!(PhoneParser::region("XX"), Err(PhoneError::Invalid));
    }
}
