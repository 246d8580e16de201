//! Inputs the fuzz targets in `fuzz/` found, kept as plain tests so that `cargo test` covers
//! them on the stable toolchain. Each names its target and what went wrong.

use std::time::{Duration, SystemTime};

use serde_json::json;
use twofactor_core::token::{KeyRing, PhoneProof, SigningKey};
use twofactor_core::{
    CountryId, Delivery, OctopushProvider, OtpCode, OtpProvider, PhoneNumber, PhoneParser,
    SendOptions, Ticket, Verdict, VerihubsProvider,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

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

async fn answering(status: u16, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

/// `verihubs_answer`: a `code` that is no code once its control characters are dropped
/// (`"\u007f246"` read as 246) or that is not an integer (`250.5`, read as absent so that the
/// message decided) verified.
#[tokio::test]
async fn verihubs_an_unreadable_code_is_no_match() {
    let to = PhoneNumber::from_digits(6281234567890).unwrap();
    let code = OtpCode::parse("1234", 4..=4).unwrap();
    for body in [
        json!({"code": "\u{7f}246"}),
        json!({"code": "246\n"}),
        json!({"code": 250.5, "message": "OTP has been verified"}),
        json!({"code": null, "message": "OTP has been verified"}),
    ] {
        let server = answering(200, body.clone()).await;
        let verihubs = VerihubsProvider::builder("app", "key")
            .base_url(server.uri())
            .build()
            .unwrap();
        let verdict = verihubs.verify(&to, &Ticket::new("sms:"), &code).await;
        assert!(!matches!(verdict, Ok(Verdict::Matched)), "{body}");
    }
}

/// `octopush_answer`: a 5xx whose body carries a documented return code was an explicit
/// refusal ("not sent"), so the engine gave the cooldown back and failover sent another SMS.
#[tokio::test]
async fn octopush_a_server_error_with_a_return_code_may_have_sent() {
    let server = answering(503, json!({"code": 199, "message": "wrong code"})).await;
    let octopush = OctopushProvider::builder("login", "key")
        .base_url(server.uri())
        .build()
        .unwrap();
    let to = PhoneNumber::from_digits(33600000001).unwrap();
    let err = octopush
        .send(&to, &SendOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.delivery(), Delivery::MaybeSent);
}

/// `phone`: with a default region whose national-prefix rules rewrite numbers (`CX`), an
/// international input was accepted as a number whose own E.164 form is invalid.
#[test]
fn phone_an_accepted_number_reparses_to_itself() {
    let parser = PhoneParser::new("CX".parse().unwrap()).with_any_country();
    let accepted = parser.parse("+49052685287");
    if let Ok(phone) = accepted {
        assert_eq!(parser.parse(&phone.e164()), Ok(phone));
    }
    assert_eq!(
        PhoneParser::default()
            .parse("+919812345678")
            .unwrap()
            .e164(),
        "+919812345678"
    );
}

/// `phone`: a separator inside the calling code split it for `phonenumber` when the input had
/// no space (its RFC 3966 reading takes `+4-9…` as calling code 4), but not for the fast path
/// or with a space (`+4-9 49…` was `+49`): the same digits got different answers. Separators
/// mean nothing, wherever they stand.
#[test]
fn phone_a_separator_inside_the_calling_code_is_only_a_separator() {
    let germany = PhoneParser::new(CountryId::DE);
    for input in [
        "+4949390179807",
        "+4--949390179807",
        "+4-949390179807",
        "+4-9 49390179807",
        "+4-(9)49390179807",
        "+(49)49390179807",
        "+49-49390179807",
    ] {
        assert_eq!(
            germany.parse(input).map(|p| p.e164()).as_deref(),
            Ok("+4949390179807"),
            "{input}"
        );
    }
    // A shared calling code, which only the slow path reads.
    let uk = PhoneParser::new(CountryId::GB);
    for input in ["+4-42079460958", "+(44)2079460958", "+4 4 20 7946 0958"] {
        assert_eq!(
            uk.parse(input).map(|p| p.e164()).as_deref(),
            Ok("+442079460958"),
            "{input}"
        );
    }
}

/// `phone`: with the default region `RU`, `phonenumber` stripped Russia's national prefix `8`
/// after `+7`, so St Petersburg (`+7 812…`) and Karelia (`+7 814…`) numbers became invalid ones
/// and were refused. After a `+` no national prefix applies.
#[test]
fn phone_a_russian_area_code_starting_with_8_is_kept_after_plus_7() {
    for region in [CountryId::RU, CountryId::KZ, CountryId::IN] {
        let parser = PhoneParser::new(region).with_allowed_countries([CountryId::RU]);
        for (input, e164) in [
            ("+7 812 123-45-67", "+78121234567"),
            ("+78121234567", "+78121234567"),
            ("+7 (814) 324-56-78", "+78143245678"),
            ("+7 800 123 45 67", "+78001234567"),
        ] {
            let phone = parser
                .parse(input)
                .unwrap_or_else(|e| panic!("{input} in {region:?}: {e}"));
            assert_eq!(phone.e164(), e164, "{input} in {region:?}");
            assert_eq!(phone.region(), Some(CountryId::RU), "{input}");
        }
    }
}

/// `phone`: the default region's national prefix was stripped from other countries' numbers
/// after a `+` or the international call prefix, turning them into other valid numbers that
/// read back to themselves: with `RU` (prefix `8`) Munich's `+49 89 1234567` was accepted as
/// `+49 9 1234567`, with `US` (prefix `1`) the German mobile `+49 151 23456789` as
/// `+49 5123456789`. The digits after the calling code are the number.
#[test]
fn phone_the_default_regions_national_prefix_never_rewrites_another_countrys_number() {
    let cases = [
        (CountryId::RU, "+49 89 1234567", "+49891234567"),
        (CountryId::RU, "8 10 49 89 1234567", "+49891234567"),
        (CountryId::KZ, "+49 89 1234567", "+49891234567"),
        (CountryId::US, "+49 151 23456789", "+4915123456789"),
        (CountryId::US, "011 49 151 23456789", "+4915123456789"),
        (CountryId::GB, "+241 06 03 12 34", "+24106031234"),
        (CountryId::DE, "00 241 06 03 12 34", "+24106031234"),
        (CountryId::IN, "+7 812 123 45 67", "+78121234567"),
    ];
    for (region, input, e164) in cases {
        let parser = PhoneParser::new(region).with_any_country();
        assert_eq!(
            parser.parse(input).map(|p| p.e164()).as_deref(),
            Ok(e164),
            "{input} in {region:?}"
        );
    }
}
