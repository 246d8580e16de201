//! Inputs the fuzz targets in `fuzz/` found, kept as plain tests so that `cargo test` covers
//! them on the stable toolchain. Each names its target and what went wrong.

use twofactor_core::{CountryId, PhoneParser};

/// `phone`: an accepted number of a shared calling code whose national number starts like a
/// national prefix (`+7 8…`, Russia's prefix is `8`) had no region, so per-country limits
/// counted it as non-geographic.
#[test]
fn phone_a_russian_number_starting_with_8_is_russian() {
    let parser = PhoneParser::new(CountryId::NZ).with_allowed_countries([
        CountryId::NZ,
        CountryId::PR,
        CountryId::RU,
    ]);
    let phone = parser.parse("+7 814 324 5678").unwrap();
    assert_eq!(phone.e164(), "+78143245678");
    assert_eq!(phone.region(), Some(CountryId::RU));
}
