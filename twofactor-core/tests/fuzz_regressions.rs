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

/// `verihubs_response`: a `code` that is no code once its control characters are dropped
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

/// `octopush_response`: a 5xx whose body carries a documented return code was an explicit
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
