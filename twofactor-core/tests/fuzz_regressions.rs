//! Inputs the fuzz targets in `fuzz/` found, kept as plain tests so that `cargo test` covers
//! them on the stable toolchain. Each names its target and what went wrong.

use std::time::{Duration, SystemTime};

use twofactor_core::token::{KeyRing, PhoneProof, SigningKey};
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

/// `token`: a proof read back from a session (or made with a huge lifetime) whose expiry or
/// verification time lies beyond what `SystemTime` holds panicked when asked for it.
#[test]
fn token_times_beyond_system_time_do_not_panic() {
    let proof: PhoneProof = serde_json::from_str(&format!(
        r#"{{"phone":"+919812345678","verified_at_ms":{},"expires_at":{}}}"#,
        u64::MAX,
        u64::MAX
    ))
    .unwrap();
    assert!(proof.expires_at() > SystemTime::now());
    assert!(proof.verified_at() > SystemTime::now());
    assert!(!proof.is_expired(SystemTime::now()));

    let phone = PhoneParser::default().parse("+919812345678").unwrap();
    let forever = PhoneProof::new(phone, SystemTime::now(), Duration::MAX);
    assert_eq!(forever.expires_at_unix(), u64::MAX);
    assert!(forever.expires_at() > SystemTime::now() + Duration::from_secs(1 << 32));
    let ring = KeyRing::new(SigningKey::from_bytes(&[7; 32]).unwrap());
    let back = ring
        .verify(&ring.sign(&forever), SystemTime::now())
        .unwrap();
    assert_eq!(back.expires_at(), forever.expires_at());
}
