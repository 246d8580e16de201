//! Phone parsing: `PhoneParser::parse` with a default region and an allow-list, and the input
//! shape check before it. Never panics; a number it accepts has the shape the check demands,
//! re-parses from its E.164 form to itself, round-trips through its digits and serde, belongs
//! to an allowed country; the compiled fast path never disagrees with the slow path (which
//! checks with `phonenumber`'s own patterns); and international input (`+…`) gets the same
//! answer in every default region.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofactor_core::fuzzing::{phone_fast_and_slow, phone_is_plausible};
use twofactor_core::{CountryId, PhoneNumber, PhoneParser};

/// Regions with their own plan, shared calling codes (+1, +7, +39, +44, +47, +61, +262, +590),
/// a few that the fast path compiles rules for, and (at the end, so that the seeds keep their
/// regions) national prefixes that can start a number (`LT`, `RW`) or differ (`UY`, `HU`, `KG`).
const REGIONS: &[&str] = &[
    "IN", "US", "CA", "GB", "GG", "JE", "IM", "DE", "FR", "IT", "VA", "SM", "BR", "AR", "MX", "NG",
    "ID", "NZ", "JP", "RU", "KZ", "AU", "CX", "CC", "NO", "SJ", "RE", "YT", "GP", "BL", "MF", "BY",
    "MN", "SG", "AE", "ZA", "CN", "FI", "AX", "PR", "DO", "LT", "RW", "UY", "HU", "KG",
];

/// The input's layout: the default region, the allow-list mode (0: the default region only;
/// 1: every country; 2: the regions of the next byte's low bits' count of bytes), then the text.
struct Input<'a> {
    region: u8,
    mode: u8,
    allowed: &'a [u8],
    text: &'a str,
}

impl<'a> Input<'a> {
    fn read(data: &'a [u8]) -> Option<Self> {
        let (&region, rest) = data.split_first()?;
        let (&mode, rest) = rest.split_first()?;
        let (allowed, rest) = if mode % 3 == 2 {
            let (&n, rest) = rest.split_first()?;
            rest.split_at_checked(usize::from(n % 8))?
        } else {
            (&[][..], rest)
        };
        let text = std::str::from_utf8(rest).ok()?;
        Some(Self {
            region,
            mode,
            allowed,
            text,
        })
    }
}

fn region(i: u8) -> CountryId {
    REGIONS[usize::from(i) % REGIONS.len()].parse().unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::read(data) else {
        return;
    };
    let default = region(input.region);
    let allowed: Option<Vec<CountryId>> = match input.mode % 3 {
        0 => Some(vec![default]),
        1 => None,
        _ => Some(input.allowed.iter().map(|i| region(*i)).collect()),
    };
    let parser = match &allowed {
        Some(list) => PhoneParser::new(default).with_allowed_countries(list.iter().copied()),
        None => PhoneParser::new(default).with_any_country(),
    };
    let result = parser.parse(input.text);
    let trimmed = input.text.trim_matches(' ');
    let plausible = phone_is_plausible(trimmed);
    if plausible {
        let (fast, slow) = phone_fast_and_slow(&parser, trimmed);
        if let Some(fast) = fast {
            assert_eq!(Ok(fast), slow, "the fast path disagrees on {trimmed:?}");
        }
    }
    // After a `+` the digits are the number: the default region's national prefix plays no
    // part, so two default regions that allow every country answer alike.
    if input.text.trim_start_matches(' ').starts_with('+') {
        let here = PhoneParser::new(default).with_any_country();
        let elsewhere = PhoneParser::new(region(input.region.wrapping_add(1))).with_any_country();
        assert_eq!(
            here.parse(input.text),
            elsewhere.parse(input.text),
            "{trimmed:?} depends on the default region"
        );
    }
    let Ok(phone) = result else {
        return;
    };
    assert!(plausible, "accepted an implausible input {:?}", input.text);
    let e164 = phone.e164();
    assert_eq!(
        parser.parse(&e164),
        Ok(phone),
        "{e164} does not re-parse to itself"
    );
    assert_eq!(PhoneNumber::from_digits(phone.digits()), Some(phone));
    assert_eq!(format!("+{}", phone.digits_string()), e164);
    let json = serde_json::to_string(&phone).unwrap();
    assert_eq!(serde_json::from_str::<PhoneNumber>(&json).unwrap(), phone);
    let masked = phone.masked().to_string();
    assert_eq!(masked.len(), e164.len());
    if let Some(list) = &allowed {
        let region = phone.region();
        assert!(
            region.is_some_and(|r| list.contains(&r)),
            "{} is of {region:?}, not of {list:?}",
            phone.masked()
        );
    }
});
