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
//! `+44`, non-geographic codes) it defers to `phonenumber::is_valid`. A test checks both agree
//! on every example number of the metadata and on neighbours of them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use phonenumber::country::Id as CountryId;
use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

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

/// What makes a number of one region valid (the general pattern, and at least one type), and
/// what `phonenumber` strips from numbers parsed with this region as the default one.
struct RegionRules {
    region: CountryId,
    general: Rule,
    types: RegexSet,
    type_lengths: Vec<Vec<u16>>,
    national_prefix: Option<String>,
    national_prefix_for_parsing: Option<Regex>,
    international_prefix: Option<Regex>,
}

/// `phonenumber` compiles its patterns with whitespace ignored; the newline keeps a trailing
/// comment, were there one, from swallowing the closing parenthesis.
fn anchored(source: &str) -> String {
    format!("^(?:{source}\n)")
}

impl RegionRules {
    fn compile(meta: &Metadata) -> Option<Self> {
        let region = meta.id().parse().ok()?;
        let compile = |re: Option<&str>| match re {
            Some(re) => RegexBuilder::new(&anchored(re))
                .ignore_whitespace(true)
                .build()
                .ok()
                .map(Some),
            None => Some(None),
        };
        let national_prefix_for_parsing =
            compile(meta.national_prefix_for_parsing().map(|re| re.as_str()))?;
        let international_prefix = compile(meta.international_prefix().map(|re| re.as_str()))?;
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
        // valid (their order only decides which type it reports).
        let types: Vec<&Descriptor> = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let set =
            RegexSetBuilder::new(types.iter().map(|t| anchored(t.national_number().as_str())))
                .ignore_whitespace(true)
                .build()
                .ok()?;
        Some(Self {
            region,
            national_prefix: meta.national_prefix().map(str::to_owned),
            national_prefix_for_parsing,
            international_prefix,
            general,
            types: set,
            type_lengths: types.iter().map(|t| t.possible_length().to_vec()).collect(),
        })
    }

    /// Whether `phonenumber`, parsing with this region as the default, might strip something
    /// from the start of `national` (a national prefix, a carrier code).
    fn may_strip(&self, national: &str) -> bool {
        self.national_prefix
            .as_deref()
            .is_some_and(|p| national.starts_with(p))
            || self
                .national_prefix_for_parsing
                .as_ref()
                .is_some_and(|re| re.is_match(national))
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
/// so `phonenumber` decides.
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

/// Whether `number` is valid, as `phonenumber::is_valid` says. `wanted` is asked, once per
/// calling code, whether that code's region deserves compiled rules (the regions a parser
/// accepts); others are checked by `phonenumber` itself.
pub(crate) fn is_valid(
    number: &phonenumber::PhoneNumber,
    wanted: impl FnOnce(&str) -> bool,
) -> bool {
    match rules(number.code().value(), wanted) {
        Some(rules) => rules.is_valid(&number.national().to_string()),
        None => phonenumber::is_valid(number),
    }
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

/// The calling code of `region`.
pub(crate) fn calling_code(region: CountryId) -> Option<u16> {
    DATABASE.by_id(region.as_ref()).map(Metadata::country_code)
}

/// The region of the E.164 number `digits`: the calling code's region when the code has one,
/// else (shared codes) the region `phonenumber` picks by the leading digits; `None` for
/// non-geographic codes and unknown ones.
pub(crate) fn region_of(digits: u64) -> Option<CountryId> {
    let text = digits.to_string();
    let (code, national) = (1..=3).find_map(|len| {
        let code: u16 = text.get(..len)?.parse().ok()?;
        CODES[usize::from(code)].then(|| (code, &text[len..]))
    })?;
    let regions = DATABASE.region(&code)?;
    match regions[..] {
        ["001"] => None,
        [region] => region.parse().ok(),
        // What `phonenumber`'s `Country::id` answers for this national number. Re-parsing the
        // E.164 text would not do: `phonenumber` strips a national prefix even after a `+`
        // (`+7 8…` loses its `8` as Russia's), and the shortened number belongs to no region,
        // so an accepted Russian number counted as non-geographic (found by fuzzing).
        _ => {
            let national = national.trim_start_matches('0');
            regions.iter().find_map(|&region| {
                let meta = DATABASE.by_id(region)?;
                let found = match meta.leading_digits() {
                    Some(pattern) => pattern.find(national).is_some_and(|m| m.start() == 0),
                    None => has_a_type(meta, national),
                };
                found.then(|| region.parse().ok()).flatten()
            })
        }
    }
}

/// Whether `national` is of any number type of `meta` (`phonenumber`'s `number_type` is not
/// `Unknown`).
fn has_a_type(meta: &Metadata, national: &str) -> bool {
    let d = meta.descriptors();
    d.general().is_match(national)
        && [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ]
        .into_iter()
        .flatten()
        .any(|t| t.is_match(national))
}

/// The fast path for international input, `+` and `digits` (ASCII digits only): the E.164
/// digits and the region, when the number is certainly valid and `phonenumber` would parse it
/// to exactly that (its calling code belongs to one region with compiled rules, the national
/// number has no leading zero, and the default region, of calling code `default_code`, strips
/// nothing from it). `None` when any of that is not certain: the caller then asks
/// `phonenumber`, which decides every other case (and every error).
pub(crate) fn parse_international(
    digits: &str,
    default_code: u16,
    wanted: impl Fn(&str) -> bool,
) -> Option<(u64, CountryId)> {
    if digits.len() > 17 || digits.starts_with('0') {
        return None;
    }
    let (code, national) = (1..=3).find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        CODES[usize::from(code)].then(|| (code, &digits[len..]))
    })?;
    if national.len() < 3 || national.starts_with('0') {
        return None;
    }
    let default = rules(default_code, &wanted)?;
    // After a `+`, `phonenumber` still strips the default region's international call prefix.
    if default.may_strip(national)
        || default
            .international_prefix
            .as_ref()
            .is_some_and(|re| re.is_match(digits))
    {
        return None;
    }
    let rules = rules(code, &wanted)?;
    if !rules.is_valid(national) {
        return None;
    }
    Some((digits.parse().ok()?, rules.region))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every region's example numbers, and numbers one digit off them, get the same answer.
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
                    assert_eq!(
                        is_valid(&parsed, |_| true),
                        phonenumber::is_valid(&parsed),
                        "{input}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "only {checked} numbers checked");
    }
}
