//! Phone validity rules, compiled once per calling code.
//!
//! `phonenumber::is_valid` answers the right question but slowly: each of the up to eleven
//! patterns it tries goes through a global, mutex-guarded LRU of compiled regexes keyed by the
//! pattern's text, and hashing those kilobyte-long patterns is most of the ~5 µs a check
//! costs (a profile of `PhoneParser::parse` showed SipHash at 46 %). The same mutex makes all
//! threads queue on every parse.
//!
//! [`is_valid`] gives the same answer from the same metadata, with the patterns compiled once
//! into plain `regex` values: the general pattern, and one [`RegexSet`] over the number types.
//! It covers calling codes that belong to a single region (`+91`, `+49`, …), compiled lazily
//! and only for the regions a parser accepts; for anything else (shared codes such as `+1` or
//! `+44`, non-geographic codes) it asks [`is_valid_by_metadata`], which decides as
//! `phonenumber::is_valid` does, with `phonenumber`'s own patterns. Tests check all three agree
//! on every example number of the metadata and on neighbours of them.
//!
//! Numbers are read as E.164 digits, split into a calling code and a national number as
//! written ([`split_code`]): `phonenumber`'s parser is not used for them, as it applies the
//! default region's national-prefix rules even after a `+` (see `crate::phone`).
//!
//! [`number_type`] answers which type a valid number is (mobile, fixed line, premium rate…),
//! in the order `phonenumber` decides it, from the same compiled set; the engine refuses the
//! types that bill the caller or cannot take the channel before any provider is called.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use phonenumber::country::Id as CountryId;
use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::number_type::NumberType;

/// One descriptor: the lengths it allows (empty: any) and its pattern, anchored at the start
/// as `phonenumber` matches it (`find` starting at 0).
struct Rule {
    lengths: Vec<u16>,
    pattern: Regex,
}

impl Rule {
    fn is_match(&self, national: &str) -> bool {
        length_ok(&self.lengths, national) && self.pattern.is_match(national)
    }
}

fn length_ok(lengths: &[u16], national: &str) -> bool {
    lengths.is_empty() || lengths.contains(&(national.len() as u16))
}

/// What makes a number of one region valid: the general pattern, and at least one type.
struct RegionRules {
    region: CountryId,
    general: Rule,
    types: RegexSet,
    type_lengths: Vec<Vec<u16>>,
    /// The type of each pattern of `types`, in `phonenumber`'s order of precedence.
    type_kinds: Vec<NumberType>,
    /// The region's fixed-line and mobile patterns are the same text: its plan cannot tell
    /// them apart (`phonenumber` then says fixed-line-or-mobile).
    fixed_is_mobile: bool,
}

/// `phonenumber` compiles its patterns with whitespace ignored; the newline keeps a trailing
/// comment, were there one, from swallowing the closing parenthesis.
fn anchored(source: &str) -> String {
    format!("^(?:{source}\n)")
}

impl RegionRules {
    fn compile(meta: &Metadata) -> Option<Self> {
        let region = meta.id().parse().ok()?;
        let d = meta.descriptors();
        let general = d.general();
        let general = Rule {
            lengths: general.possible_length().to_vec(),
            pattern: RegexBuilder::new(&anchored(general.national_number().as_str()))
                .ignore_whitespace(true)
                .build()
                .ok()?,
        };
        // The types `phonenumber::validator::number_type` tries; any match makes the number
        // valid, and the first that matches, in this order, is the number's type.
        let (type_kinds, types): (Vec<NumberType>, Vec<&Descriptor>) = [
            (NumberType::PremiumRate, d.premium_rate()),
            (NumberType::TollFree, d.toll_free()),
            (NumberType::SharedCost, d.shared_cost()),
            (NumberType::Voip, d.voip()),
            (NumberType::PersonalNumber, d.personal_number()),
            (NumberType::Pager, d.pager()),
            (NumberType::Uan, d.uan()),
            (NumberType::Voicemail, d.voicemail()),
            (NumberType::FixedLine, d.fixed_line()),
            (NumberType::Mobile, d.mobile()),
        ]
        .into_iter()
        .filter_map(|(kind, d)| Some((kind, d?)))
        .unzip();
        let fixed_is_mobile = same_pattern(d.fixed_line(), d.mobile());
        let set =
            RegexSetBuilder::new(types.iter().map(|t| anchored(t.national_number().as_str())))
                .ignore_whitespace(true)
                .build()
                .ok()?;
        Some(Self {
            region,
            general,
            types: set,
            type_lengths: types.iter().map(|t| t.possible_length().to_vec()).collect(),
            type_kinds,
            fixed_is_mobile,
        })
    }

    /// The type of `national`, as `phonenumber::validator::number_type` decides it.
    fn number_type(&self, national: &str) -> NumberType {
        if !self.general.is_match(national) {
            return NumberType::Unknown;
        }
        let matched: Vec<NumberType> = self
            .types
            .matches(national)
            .iter()
            .filter(|i| length_ok(&self.type_lengths[*i], national))
            .map(|i| self.type_kinds[i])
            .collect();
        // `matches` yields indices in ascending order, which is the order of precedence.
        match matched.first() {
            None => NumberType::Unknown,
            Some(NumberType::FixedLine)
                if self.fixed_is_mobile || matched.contains(&NumberType::Mobile) =>
            {
                NumberType::FixedLineOrMobile
            }
            Some(kind) => *kind,
        }
    }

    fn is_valid(&self, national: &str) -> bool {
        if !self.general.is_match(national) {
            return false;
        }
        self.types
            .matches(national)
            .iter()
            .any(|i| length_ok(&self.type_lengths[i], national))
    }
}

/// Compiled rules by calling code; `None`: the code is shared or its patterns did not compile,
/// so the metadata decides.
type Compiled = HashMap<u16, Option<Arc<RegionRules>>>;

static COMPILED: LazyLock<RwLock<Compiled>> = LazyLock::new(Default::default);

/// The compiled rules for `code`, if it belongs to exactly one region and `wanted` says that
/// region is worth compiling.
fn rules(code: u16, wanted: impl FnOnce(&str) -> bool) -> Option<Arc<RegionRules>> {
    if let Some(found) = COMPILED
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&code)
    {
        return found.clone();
    }
    let regions = DATABASE.region(&code)?;
    let [region] = regions[..] else {
        return None;
    };
    // "001" stands for non-geographic codes (+800, +979…), which `phonenumber` looks up by code.
    if region == "001" || !wanted(region) {
        return None;
    }
    let compiled = DATABASE
        .by_id(region)
        .and_then(RegionRules::compile)
        .map(Arc::new);
    COMPILED
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(code, compiled.clone());
    compiled
}

fn same_pattern(a: Option<&Descriptor>, b: Option<&Descriptor>) -> bool {
    a.map(|d| d.national_number().as_str()) == b.map(|d| d.national_number().as_str())
}

/// The type of `national` under `meta`, with `phonenumber`'s own (slower) pattern checks: for
/// calling codes without compiled rules.
fn number_type_with(meta: &Metadata, national: &str) -> NumberType {
    let d = meta.descriptors();
    if !d.general().is_match(national) {
        return NumberType::Unknown;
    }
    let is = |d: Option<&Descriptor>| d.is_some_and(|d| d.is_match(national));
    for (kind, desc) in [
        (NumberType::PremiumRate, d.premium_rate()),
        (NumberType::TollFree, d.toll_free()),
        (NumberType::SharedCost, d.shared_cost()),
        (NumberType::Voip, d.voip()),
        (NumberType::PersonalNumber, d.personal_number()),
        (NumberType::Pager, d.pager()),
        (NumberType::Uan, d.uan()),
        (NumberType::Voicemail, d.voicemail()),
    ] {
        if is(desc) {
            return kind;
        }
    }
    if is(d.fixed_line()) {
        return if same_pattern(d.fixed_line(), d.mobile()) || is(d.mobile()) {
            NumberType::FixedLineOrMobile
        } else {
            NumberType::FixedLine
        };
    }
    if is(d.mobile()) {
        return NumberType::Mobile;
    }
    NumberType::Unknown
}

/// The metadata `phonenumber`'s validity check reads `national` (as written, leading zeros
/// included) with under calling code `code`: the code's only region, or for a shared code the
/// first region whose leading digits match, or, of those without leading digits, whose
/// patterns know the number.
fn metadata_for(code: u16, national: &str) -> Option<&'static Metadata> {
    let regions = DATABASE.by_code(&code)?;
    if let [meta] = regions[..] {
        return Some(meta);
    }
    regions
        .into_iter()
        .find(|meta| match meta.leading_digits() {
            Some(pattern) => pattern.find(national).is_some_and(|m| m.start() == 0),
            None => number_type_with(meta, national) != NumberType::Unknown,
        })
}

/// The type of `national` (as written, leading zeros included) under calling code `code`, with
/// `phonenumber`'s own patterns, as its validity check decides.
fn number_type_by_metadata(code: u16, national: &str) -> NumberType {
    metadata_for(code, national)
        .map_or(NumberType::Unknown, |meta| number_type_with(meta, national))
}

/// The type of the E.164 number `digits` (a number the parser accepted before).
pub(crate) fn number_type(digits: u64) -> NumberType {
    let text = digits.to_string();
    let Some((code, national)) = split_code(&text) else {
        return NumberType::Unknown;
    };
    // Any single-region code is worth compiling here: only numbers that passed a parser's
    // allow-list get this far, so at most every region once.
    if let Some(rules) = rules(code, |_| true) {
        return rules.number_type(national);
    }
    // On the national number with its leading zeros, as the validity check reads it
    // (`PhoneNumber::metadata` drops them, and finds no region for an Italian fixed line).
    number_type_by_metadata(code, national)
}

/// Whether `national` (as written: a leading zero is a digit of the number) is a valid number
/// of calling code `code`, as `phonenumber::is_valid` says. `wanted` is asked, once per calling
/// code, whether that code's region deserves compiled rules (the regions a parser accepts);
/// others are checked with `phonenumber`'s own patterns.
pub(crate) fn is_valid(code: u16, national: &str, wanted: impl FnOnce(&str) -> bool) -> bool {
    match rules(code, wanted) {
        Some(rules) => rules.is_valid(national),
        None => is_valid_by_metadata(code, national),
    }
}

/// [`is_valid`] without compiled rules: `phonenumber`'s own patterns, picked as its validity
/// check picks them. The reference the compiled rules are checked against.
pub(crate) fn is_valid_by_metadata(code: u16, national: &str) -> bool {
    number_type_by_metadata(code, national) != NumberType::Unknown
}

/// The national number `national` of calling code `code`, which is not valid as written,
/// without its country's national prefix (`0` in `+44 020…`, `8` in `+7 8 812…`), when it is
/// written with one and the shorter number is valid (with `phonenumber`'s own patterns).
pub(crate) fn without_national_prefix(code: u16, national: &str) -> Option<&str> {
    // The regions of a shared code have one national prefix (`8` for +7, `0` for +44) but the
    // metadata says it per region.
    DATABASE
        .by_code(&code)?
        .into_iter()
        .filter_map(Metadata::national_prefix)
        .filter_map(|prefix| national.strip_prefix(prefix))
        .find(|rest| !rest.is_empty() && is_valid_by_metadata(code, rest))
}

/// Which calling codes exist (by value, below 1000).
static CODES: LazyLock<Vec<bool>> = LazyLock::new(|| {
    let mut codes = vec![false; 1000];
    for meta in DATABASE.iter() {
        if let Some(c) = codes.get_mut(usize::from(meta.country_code())) {
            *c = true;
        }
    }
    codes
});

/// E.164 `digits` (ASCII digits) split into the calling code and the national number as
/// written; `None` when they start with no calling code. Calling codes are prefix-free, so the
/// first one to three digits that are one are the code.
pub(crate) fn split_code(digits: &str) -> Option<(u16, &str)> {
    // No code starts with a zero: "001…" is no `+1`.
    if digits.starts_with('0') {
        return None;
    }
    (1..=3).find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        CODES
            .get(usize::from(code))
            .is_some_and(|known| *known)
            .then(|| (code, &digits[len..]))
    })
}

/// The region of the E.164 number `digits`: the calling code's region when the code has one,
/// else (shared codes) the region whose metadata the validity check reads the number with;
/// `None` for non-geographic codes and unknown ones.
pub(crate) fn region_of(digits: u64) -> Option<CountryId> {
    let text = digits.to_string();
    let (code, national) = split_code(&text)?;
    // Not `phonenumber`'s `Country::id`, which reads the national number without its leading
    // zeros and finds no region for an Italian fixed line (`+39 02…`): an allow-list of `IT`
    // refused Milan. Nor a re-parse of the E.164 text: `phonenumber` strips a national prefix
    // even after a `+` (`+7 8…` loses its `8` as Russia's), and the shortened number belongs to
    // no region, so an accepted Russian number counted as non-geographic (found by fuzzing).
    let meta = metadata_for(code, national)?;
    match meta.id() {
        "001" => None,
        id => id.parse().ok(),
    }
}

/// The fast path for E.164 `digits` (ASCII digits only, read as written): the E.164 digits and
/// the region, when the calling code belongs to one region with compiled rules and the number
/// is valid. `None` otherwise: the caller then asks the slower checks, which decide every
/// other case (and every error).
pub(crate) fn parse_international(
    digits: &str,
    wanted: impl FnOnce(&str) -> bool,
) -> Option<(u64, CountryId)> {
    // Longer is no E.164 number (at most 15 digits), nor a `u64`.
    if digits.len() > 15 {
        return None;
    }
    let (code, national) = split_code(digits)?;
    let rules = rules(code, wanted)?;
    if !rules.is_valid(national) {
        return None;
    }
    Some((digits.parse().ok()?, rules.region))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every region's example numbers, and numbers one digit off them, get the same answer from
    /// the compiled rules, from the metadata, and from `phonenumber::is_valid`.
    #[test]
    fn agrees_with_phonenumber() {
        let mut checked = 0;
        for meta in DATABASE.iter() {
            let d = meta.descriptors();
            let examples = [
                Some(d.general()),
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.voip(),
                d.personal_number(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            .filter_map(Descriptor::example);
            for example in examples {
                let mut variants = vec![example.to_owned(), format!("{example}0")];
                variants.push(example[..example.len().saturating_sub(1)].to_owned());
                for i in 0..example.len() {
                    let mut v = example.as_bytes().to_vec();
                    v[i] = if v[i] == b'9' { b'0' } else { v[i] + 1 };
                    variants.push(String::from_utf8(v).unwrap());
                }
                for national in variants {
                    let input = format!("+{}{national}", meta.country_code());
                    let Ok(parsed) = phonenumber::parse(None, &input) else {
                        continue;
                    };
                    // What `phonenumber` parsed, which is not always what was written: it
                    // strips a national prefix even after the `+`.
                    let code = parsed.code().value();
                    let parsed_national = parsed.national().to_string();
                    let theirs = phonenumber::is_valid(&parsed);
                    assert_eq!(
                        is_valid(code, &parsed_national, |_| true),
                        theirs,
                        "{input}"
                    );
                    assert_eq!(
                        is_valid_by_metadata(code, &parsed_national),
                        theirs,
                        "{input}"
                    );
                    assert_eq!(
                        is_valid(meta.country_code(), &national, |_| true),
                        is_valid_by_metadata(meta.country_code(), &national),
                        "{input}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "only {checked} numbers checked");
    }

    fn from_phonenumber(t: phonenumber::Type) -> NumberType {
        use phonenumber::Type as T;
        match t {
            T::FixedLine => NumberType::FixedLine,
            T::Mobile => NumberType::Mobile,
            T::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            T::TollFree => NumberType::TollFree,
            T::PremiumRate => NumberType::PremiumRate,
            T::SharedCost => NumberType::SharedCost,
            T::PersonalNumber => NumberType::PersonalNumber,
            T::Voip => NumberType::Voip,
            T::Pager => NumberType::Pager,
            T::Uan => NumberType::Uan,
            T::Voicemail => NumberType::Voicemail,
            _ => NumberType::Unknown,
        }
    }

    /// The compiled type answers agree with `phonenumber`'s own order of checks, on every
    /// example number of every region and on neighbours of them.
    #[test]
    fn number_types_agree_with_phonenumber() {
        let mut checked = 0;
        for meta in DATABASE.iter() {
            let Some(rules) = RegionRules::compile(meta) else {
                continue;
            };
            let d = meta.descriptors();
            for desc in [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.voip(),
                d.personal_number(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            {
                let Some(example) = desc.example() else {
                    continue;
                };
                let mut variants = vec![example.to_owned()];
                for i in 0..example.len() {
                    let mut v = example.as_bytes().to_vec();
                    v[i] = if v[i] == b'9' { b'0' } else { v[i] + 1 };
                    variants.push(String::from_utf8(v).unwrap());
                }
                for national in variants {
                    // Where regions share a code `phonenumber` picks one by leading digits.
                    let single = DATABASE
                        .region(&meta.country_code())
                        .is_some_and(|r| r.len() == 1);
                    let ours = rules.number_type(&national);
                    let e164: u64 = format!("{}{national}", meta.country_code())
                        .parse()
                        .unwrap();
                    if single {
                        assert_eq!(number_type(e164), ours, "+{e164}");
                    }
                    assert_eq!(
                        ours,
                        number_type_with(meta, &national),
                        "{national} in {}",
                        meta.id()
                    );
                    // `phonenumber`'s own answer reads the national number without its leading
                    // zeros, so it is comparable only for numbers that have none.
                    let input = format!("+{}{national}", meta.country_code());
                    if let Ok(parsed) = phonenumber::parse(None, &input)
                        && single
                        && !national.starts_with('0')
                        && parsed.national().to_string() == national
                    {
                        let theirs = parsed.number_type(&DATABASE);
                        assert_eq!(ours, from_phonenumber(theirs), "{input}");
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "only {checked} numbers checked");
    }

    #[test]
    fn reports_the_types_that_bill_or_cannot_take_sms() {
        // The metadata's own example numbers: single-region codes (compiled) and shared ones.
        for (number, kind) in [
            (919812345678, NumberType::Mobile),
            (918123456789, NumberType::Mobile),
            (911123456789, NumberType::FixedLine),
            (911800123456, NumberType::TollFree),
            (911861123456789, NumberType::PremiumRate),
            (9118603451234, NumberType::SharedCost),
            (911409305260, NumberType::Uan),
            (4915123456789, NumberType::Mobile),
            (4930123456, NumberType::FixedLine),
            (499001234567, NumberType::PremiumRate),
            (498001234567890, NumberType::TollFree),
            (4918012345, NumberType::SharedCost),
            (4970012345678, NumberType::PersonalNumber),
            (4916412345, NumberType::Pager),
            (49177991234567, NumberType::Voicemail),
            (33912345678, NumberType::Voip),
            (12015550123, NumberType::FixedLineOrMobile),
            (18002345678, NumberType::TollFree),
            (19002345678, NumberType::PremiumRate),
            (447400123456, NumberType::Mobile),
            (447640123456, NumberType::Pager),
            (445612345678, NumberType::Voip),
            (445512345678, NumberType::Uan),
            (390212345678, NumberType::FixedLine),
        ] {
            assert_eq!(number_type(number), kind, "+{number}");
        }
    }
}
