//! Phone numbers: the only way a user's number reaches a provider.
//!
//! [`PhoneParser`] turns user input into a [`PhoneNumber`]:
//!
//! - It first refuses any character a human would not type into a phone field: input is ASCII
//!   digits, one leading `+`, and the separators space, `-`, `(` and `)` (the `phonenumber`
//!   crate alone accepts `+91 98765/12345`).
//! - Separators mean nothing, wherever they stand, even inside the calling code:
//!   `+4-9 30 123456` is `+4930123456`.
//! - After the `+` (or after the default region's international call prefix: `00 49 30…` in
//!   Germany, `8 10 49 30…` in Russia) the digits are the E.164 number as written, the calling
//!   code and then the national number. The default region's national prefix never applies to
//!   them: `+7 812…` is St Petersburg and `+49 89…` Munich in every default region, Russia's
//!   (prefix `8`) included. Only when the national number is not valid as written but is
//!   without its own country's national prefix is that prefix dropped:
//!   `+44 (0)20 7946 0958` is `+442079460958`.
//! - Input without either is national to the default region, parsed by the `phonenumber`
//!   crate, which strips the region's national prefix (`098123 45678` in India).
//! - The number must be valid for its country (by the `phonenumber` metadata); its E.164 form,
//!   read back, is the same number. Then its country must be on the allow-list.
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
//!
//! let russia = PhoneParser::new("RU".parse().unwrap()).with_any_country();
//! assert_eq!(russia.parse("8 812 123-45-67").unwrap().to_string(), "+78121234567");
//! assert_eq!(russia.parse("+7 812 123-45-67").unwrap().to_string(), "+78121234567");
//! assert_eq!(russia.parse("+49 89 1234567").unwrap().to_string(), "+49891234567");
//! ```

use std::collections::HashSet;
use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use phonenumber::country::{Id as CountryId, Source};
use phonenumber::metadata::DATABASE;

mod number_type;
mod rules;

pub use number_type::NumberType;

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
        rules::region_of(self.0.get())
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
        rules::number_type(self.0.get())
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
/// of countries (by default only the default region's). How input is read: see the
/// [module docs](crate::phone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneParser {
    default_region: CountryId,
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

    /// International input (`+919812345678`, `+91 98123-45678`, `+91 (98123) 45678`) that
    /// compiled rules settle on their own: a calling code of one region, valid as written, and
    /// allowed, with the answer [`parse_slow`](Self::parse_slow) gives (a test and the `phone`
    /// fuzz target compare them). `None`: ask `parse_slow`.
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
                b' ' | b'-' | b'(' | b')' => {}
                _ => return None,
            }
        }
        self.fast_e164(std::str::from_utf8(&digits[..n]).ok()?)
    }

    /// The fast path for E.164 digits as written.
    fn fast_e164(&self, digits: &str) -> Option<PhoneNumber> {
        let (e164, region) = rules::parse_international(digits, |r| self.compiles(r))?;
        self.allows(Some(region))
            .then(|| PhoneNumber::from_digits(e164))
            .flatten()
    }

    /// Every input, without the compiled rules for international input (they are what
    /// `parse_fast` answers from).
    pub(crate) fn parse_slow(&self, input: &str) -> Result<PhoneNumber, PhoneError> {
        let digits: String = input
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(char::from)
            .collect();
        if input.starts_with('+') {
            return self.international(&digits);
        }
        let parsed = phonenumber::parse(Some(self.default_region), input);
        // After the international call prefix `phonenumber` applies the default region's
        // national-prefix rules to the other country's number, as it does after a `+` (with
        // `RU`, `8 10 49 89…` became `+49 9…`): the digits after the prefix are read as after
        // a `+`. It also refuses some numbers that way, so a refusal looks for the prefix too.
        let after_prefix = match &parsed {
            Ok(parsed) => parsed.code().source() == Source::Idd,
            Err(_) => true,
        };
        if after_prefix && let Some(rest) = self.after_international_prefix(&digits) {
            return self
                .fast_e164(rest)
                .map_or_else(|| self.international(rest), Ok);
        }
        // National input: the default region's own national prefix and carrier codes are
        // `phonenumber`'s to strip. Its E.164 digits are then checked as international input
        // is, without dropping a national prefix again, so that the number reads back to itself.
        let valid =
            |code: u16, national: &str| rules::is_valid(code, national, |r| self.compiles(r));
        let e164 = parsed
            .ok()
            .filter(|parsed| parsed.code().source() != Source::Idd)
            .as_ref()
            .and_then(e164_digits);
        if let Some(e164) = e164 {
            match self.exactly(&e164.to_string(), valid) {
                Err(PhoneError::Invalid) => {}
                answer => return answer,
            }
        }
        // `phonenumber` strips the national prefix a second time when the number itself starts
        // with it (Russia's `8 812 …` became `+7 12…`, and was refused), and strips it from a
        // number written without it (`812 …`): the prefix once and the rest as written, then
        // all the digits as written.
        let meta = DATABASE
            .by_id(self.default_region.as_ref())
            .ok_or(PhoneError::Invalid)?;
        let code = meta.country_code();
        if let Some(national) = meta
            .national_prefix()
            .and_then(|prefix| digits.strip_prefix(prefix))
        {
            match self.exactly(&format!("{code}{national}"), valid) {
                Err(PhoneError::Invalid) => {}
                answer => return answer,
            }
        }
        self.exactly(&format!("{code}{digits}"), valid)
    }

    /// International input from its E.164 digits, `digits` (calling code first): the number as
    /// written, or, if that is invalid, without its country's national prefix.
    fn international(&self, digits: &str) -> Result<PhoneNumber, PhoneError> {
        let valid = rules::is_valid_by_metadata;
        match self.exactly(digits, valid) {
            Err(PhoneError::Invalid) => {}
            written => return written,
        }
        let (code, national) = rules::split_code(digits).ok_or(PhoneError::Invalid)?;
        let national = rules::without_national_prefix(code, national).ok_or(PhoneError::Invalid)?;
        self.exactly(&format!("{code}{national}"), valid)
    }

    /// The number whose E.164 digits are exactly `digits`, if `valid` says so of its calling
    /// code and national number and the allow-list takes its country.
    fn exactly(
        &self,
        digits: &str,
        valid: impl FnOnce(u16, &str) -> bool,
    ) -> Result<PhoneNumber, PhoneError> {
        let (code, national) = rules::split_code(digits).ok_or(PhoneError::Invalid)?;
        if !valid(code, national) {
            return Err(PhoneError::Invalid);
        }
        let phone = digits
            .parse()
            .ok()
            .and_then(PhoneNumber::from_digits)
            .ok_or(PhoneError::Invalid)?;
        let region = phone.region();
        if !self.allows(region) {
            let country = region.map_or_else(|| "international".to_owned(), |c| format!("{c:?}"));
            return Err(PhoneError::NotAllowed { country });
        }
        Ok(phone)
    }

    /// `digits` without the default region's international call prefix, if they start with it,
    /// as `phonenumber` finds it (a match at the start, not followed by a zero).
    fn after_international_prefix<'a>(&self, digits: &'a str) -> Option<&'a str> {
        let prefix = DATABASE
            .by_id(self.default_region.as_ref())?
            .international_prefix()?
            .find(digits)?;
        let rest = &digits[prefix.end()..];
        (prefix.start() == 0 && !rest.starts_with('0')).then_some(rest)
    }

    /// Whether the allow-list takes numbers of `region` (`None`: non-geographic).
    fn allows(&self, region: Option<CountryId>) -> bool {
        match &self.allowed {
            Allowed::Any => true,
            Allowed::Only(allowed) => region.is_some_and(|r| allowed.contains(&r)),
        }
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
    use phonenumber::metadata::DATABASE;

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

    fn every_country() -> Vec<CountryId> {
        DATABASE
            .iter()
            .filter_map(|m| m.id().parse().ok())
            .collect()
    }

    /// `+` and the calling code, with separators inside the code when it has two digits or
    /// more (`+4-(9) …`).
    fn split_code_forms(code: u16, national: &str) -> Vec<String> {
        let code = code.to_string();
        let mut forms = vec![format!("+{code}{national}"), format!("+{code} {national}")];
        if code.len() > 1 {
            forms.push(format!("+{}-({}){national}", &code[..1], &code[1..]));
        }
        forms
    }

    /// The fast path for international input never answers differently from the slow path
    /// (which checks with `phonenumber`'s own patterns): for parsers of many default regions
    /// (among them those whose national prefix can start a number), allowing every country,
    /// over example numbers of every region, numbers one digit off them, and pseudo-random
    /// digits, with separators anywhere.
    #[test]
    fn the_fast_path_agrees_with_the_slow_path() {
        let every = every_country();
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
                if let Some(prefix) = meta.national_prefix() {
                    nationals.push((meta.country_code(), format!("{prefix}{example}")));
                }
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
            "MN", "RU", "KZ", "LT", "RW",
        ] {
            let parser = PhoneParser::new(region.parse().unwrap())
                .with_allowed_countries(every.iter().copied());
            for (code, national) in &nationals {
                for input in split_code_forms(*code, national) {
                    total += 1;
                    if let Some(got) = parser.parse_fast(&input) {
                        fast += 1;
                        assert_eq!(Ok(got), parser.parse_slow(&input), "{input} in {region}");
                        assert_eq!(got.e164(), format!("+{code}{national}"), "{input}");
                    }
                }
            }
        }
        assert!(
            fast > total / 10,
            "the fast path answered {fast} of {total}"
        );
    }

    /// After a `+` the digits are the number as written, whatever the default region: for a
    /// default region of every kind of national-prefix rule in the metadata (each distinct
    /// national prefix, prefix for parsing, and international prefix), every valid example
    /// number of every region reads as itself, with separators anywhere. (`phonenumber` read
    /// `+49 89…` as `+49 9…` with Russia's `8`, and `+49 151…` as `+49 51…` with the US `1`.)
    #[test]
    fn international_input_is_read_as_written_in_every_default_region() {
        let every = every_country();
        let mut numbers: Vec<(u16, String)> = Vec::new();
        for meta in DATABASE.iter() {
            let d = meta.descriptors();
            for desc in [d.fixed_line(), d.mobile(), d.toll_free(), d.voip()]
                .into_iter()
                .flatten()
            {
                let code = meta.country_code();
                if let Some(example) = desc.example()
                    && rules::is_valid_by_metadata(code, example)
                    && example.len() + code.to_string().len() <= 15
                {
                    numbers.push((code, example.to_owned()));
                }
            }
        }
        numbers.sort();
        numbers.dedup();
        let mut kinds = HashSet::new();
        for meta in DATABASE.iter() {
            let Ok(region) = meta.id().parse::<CountryId>() else {
                continue;
            };
            let kind = (
                meta.national_prefix().map(str::to_owned),
                meta.national_prefix_for_parsing()
                    .map(|re| re.as_str().to_owned()),
                meta.international_prefix().map(|re| re.as_str().to_owned()),
            );
            if !kinds.insert(kind) {
                continue;
            }
            let parser = PhoneParser::new(region).with_allowed_countries(every.iter().copied());
            for (code, national) in &numbers {
                for input in split_code_forms(*code, national) {
                    assert_eq!(
                        parser.parse(&input).map(|p| p.e164()),
                        Ok(format!("+{code}{national}")),
                        "{input} in {region:?}"
                    );
                }
            }
        }
        assert!(kinds.len() > 50, "only {} kinds of rules", kinds.len());
    }

    /// Numbers whose national number starts with their own country's national prefix, or with
    /// what `phonenumber` strips as one, found from the metadata (Russia's and Kazakhstan's
    /// `8 00…`, St Petersburg's `812`, Belarus's `80…`, Lithuania's `8 00…`, …): in their own
    /// country as the default region, read as themselves after `+` and the calling code, and,
    /// written nationally, with the prefix. (`phonenumber` strips the prefix after `+7`, and
    /// strips it twice from `8 812…`.)
    #[test]
    fn numbers_starting_like_their_national_prefix_are_kept() {
        let mut found: HashSet<String> = HashSet::new();
        for meta in DATABASE.iter() {
            let Ok(region) = meta.id().parse::<CountryId>() else {
                continue;
            };
            let code = meta.country_code();
            // The national prefix, and the starts of two digits that the prefix for parsing
            // strips (Lithuania's `[08]`, Belarus's `0|80?`).
            let mut starts: Vec<String> = meta
                .national_prefix()
                .map(str::to_owned)
                .into_iter()
                .collect();
            if let Some(parsing) = meta.national_prefix_for_parsing() {
                for head in 0..100 {
                    let head = format!("{head:02}");
                    if let Some(m) = parsing.find(&head)
                        && m.start() == 0
                        && m.end() > 0
                    {
                        starts.push(head[..m.end()].to_owned());
                    }
                }
            }
            starts.sort();
            starts.dedup();
            let d = meta.descriptors();
            let examples: Vec<&str> = [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.voip(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|d| d.example())
            .collect();
            let mut numbers: Vec<String> = Vec::new();
            for start in &starts {
                for example in &examples {
                    for head in 0..100 {
                        let mut n = format!("{start}{head:02}{example}");
                        n.truncate(example.len());
                        if n.len() > start.len() + 2
                            && n.len() + code.to_string().len() <= 15
                            && rules::is_valid(code, &n, |_| true)
                        {
                            numbers.push(n);
                        }
                    }
                }
            }
            numbers.sort();
            numbers.dedup();
            let parser = PhoneParser::new(region).with_any_country();
            for n in &numbers {
                found.insert(meta.id().to_owned());
                let e164 = format!("+{code}{n}");
                assert_eq!(
                    parser.parse(&e164).map(|p| p.e164()),
                    Ok(e164.clone()),
                    "in {region:?}"
                );
                let Some(prefix) = meta.national_prefix() else {
                    continue;
                };
                let national = format!("{prefix}{n}");
                // Where the national prefix and the number begin like the international call
                // prefix (Rwanda's `0 06…` dials `00 6…`), the input is international.
                if parser.after_international_prefix(&national).is_none() {
                    assert_eq!(
                        parser.parse(&national).map(|p| p.e164()),
                        Ok(e164.clone()),
                        "{national} in {region:?}"
                    );
                }
            }
        }
        for region in ["RU", "KZ", "BY", "LT"] {
            assert!(found.contains(region), "{region} not in {found:?}");
        }
    }

    /// A national prefix written after the calling code (`+44 (0)20…`, a common way to print
    /// a number) is dropped, but only when the number is not valid with it: a valid number is
    /// never shortened, and the default region plays no part.
    #[test]
    fn a_national_prefix_after_the_calling_code_is_dropped_only_when_needed() {
        for region in [CountryId::GB, CountryId::RU, CountryId::IN, CountryId::US] {
            let parser = PhoneParser::new(region).with_any_country();
            for (input, e164) in [
                ("+44 (0)20 7946 0958", "+442079460958"),
                ("+44 20 7946 0958", "+442079460958"),
                ("+49 (0)89 1234567", "+49891234567"),
                ("+7 (8) 812 123-45-67", "+78121234567"),
                ("+7 800 123-45-67", "+78001234567"),
                ("+39 02 3661 8300", "+390236618300"),
                ("+241 06 03 12 34", "+24106031234"),
            ] {
                assert_eq!(
                    parser.parse(input).map(|p| p.e164()).as_deref(),
                    Ok(e164),
                    "{input} in {region:?}"
                );
            }
            assert_eq!(parser.parse("+44 (0)0"), Err(PhoneError::Invalid));
        }
    }

    /// National input: the default region's national prefix once (also when the number starts
    /// with the same digit), the number without it, or the international call prefix.
    #[test]
    fn national_input_in_the_default_region() {
        let russia = PhoneParser::new(CountryId::RU).with_any_country();
        for input in [
            "8 812 123-45-67",
            "8 (812) 123-45-67",
            "812 123 45 67",
            "+7 812 123 45 67",
            "8 10 7 812 123 45 67",
        ] {
            assert_eq!(
                russia.parse(input).map(|p| p.e164()).as_deref(),
                Ok("+78121234567"),
                "{input}"
            );
        }
        assert_eq!(
            russia.parse("8 800 123 45 67").unwrap().e164(),
            "+78001234567"
        );
        assert_eq!(
            russia.parse("8 10 49 89 1234567").unwrap().e164(),
            "+49891234567"
        );
        let germany = PhoneParser::new(CountryId::DE).with_any_country();
        for input in ["089 1234567", "0049 89 1234567", "+49 89 1234567"] {
            assert_eq!(
                germany.parse(input).map(|p| p.e164()).as_deref(),
                Ok("+49891234567"),
                "{input}"
            );
        }
        assert_eq!(
            germany.parse("00 7 812 123 45 67").unwrap().e164(),
            "+78121234567"
        );
    }

    /// An Italian fixed line keeps its leading zero (`+39 02…`): `phonenumber`'s region lookup
    /// drops it and found no region, so an allow-list of `IT` refused Milan.
    #[test]
    fn an_italian_fixed_line_is_italian() {
        let italy = PhoneParser::new(CountryId::IT);
        for input in ["+39 02 3661 8300", "02 3661 8300"] {
            let phone = italy.parse(input).unwrap();
            assert_eq!(phone.e164(), "+390236618300", "{input}");
            assert_eq!(phone.region(), Some(CountryId::IT), "{input}");
            assert_eq!(phone.number_type(), NumberType::FixedLine, "{input}");
        }
        assert_eq!(
            italy.parse("+39 312 345 6789").unwrap().region(),
            Some(CountryId::IT)
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
