//! The Octopush client against a local mock built from Octopush's "Generate and Send an OTP" and
//! "Validate" documents: both endpoints with every parameter, return codes 194–199, HTTP
//! statuses, client-side validation with zero requests, and the secrets discipline.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::{assert_no_secret, refused_url, short_timeout};
use serde_json::json;
use twofactor_core::octopush::{
    DEFAULT_MAX_WRONG_ATTEMPTS, DEFAULT_TEXT, OctopushChannel, OctopushError,
    OctopushGenerateRequest, OctopushOtpOptions, OctopushParameter, OctopushProvider,
    OctopushValidateRequest, TEXT_CHARS, VoiceGender, VoiceLanguage,
};
use twofactor_core::transport::BaseUrlError;
use twofactor_core::{
    Channel, Delivery, OtpCode, OtpProvider, PhoneNumber, ProviderError, ProviderErrorKind,
    SendOptions, Ticket, Verdict,
};
use wiremock::matchers::{any, body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LOGIN: &str = "ops-SECRET@example.org";
const API_KEY: &str = "octo-SECRET-5d1e3a";
const SECRETS: &[&str] = &[LOGIN, API_KEY, "SECRET"];
const GENERATE: &str = "/service/otp/generate";
const VALIDATE: &str = "/service/otp/validate";

fn phone() -> PhoneNumber {
    PhoneNumber::from_digits(33611223344).unwrap()
}

fn provider(server: &MockServer) -> OctopushProvider {
    OctopushProvider::builder(LOGIN, API_KEY)
        .base_url(server.uri())
        .build()
        .unwrap()
}

fn answer(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn generated(token: &str) -> ResponseTemplate {
    answer(
        201,
        json!({"code": 0, "message": "ok", "ticket_number": "T-42", "otp_request_token": token}),
    )
}

#[tokio::test]
async fn generate_sends_every_documented_parameter() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(header("api-login", LOGIN))
        .and(header("api-key", API_KEY))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "phone_number": "+33611223344",
            "text": "Votre code : {code}",
            "channel": "voice_sms",
            "sender": "MyShop",
            "code_length": 8,
            "allow_digits": true,
            "allow_upper_case": true,
            "allow_lower_case": false,
            "allow_special_chars": true,
            "remove_confusing_characters": true,
            "validity_period": 120,
            "max_wrong_attempts": 3,
            "recipient_ip": "2001:db8::1",
            "voice_language": "fr-FR",
            "voice_gender": "female",
        })))
        .respond_with(generated("otp_111111dab2222222aaa33333"))
        .expect(1)
        .mount(&server)
        .await;

    let options = OctopushOtpOptions::default()
        .with_text("Votre code : {code}")
        .with_channel(OctopushChannel::VoiceSms)
        .with_sender("MyShop")
        .with_code_length(8)
        .with_alphabet(true, true, false, true)
        .with_remove_confusing_characters(true)
        .with_validity_period(120)
        .with_max_wrong_attempts(3)
        .with_recipient_ip(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)))
        .with_voice_language(VoiceLanguage::FrFr)
        .with_voice_gender(VoiceGender::Female);
    let sent = provider(&server)
        .generate(&OctopushGenerateRequest::new(phone(), options))
        .await
        .unwrap();
    assert_eq!(
        sent.otp_request_token.expose(),
        "otp_111111dab2222222aaa33333"
    );
    assert_eq!(sent.ticket_number.as_deref(), Some("T-42"));
    assert!(!format!("{sent:?}").contains("otp_111111"));
}

#[tokio::test]
async fn the_engine_send_uses_its_length_lifetime_channel_and_digits_only() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(body_json(json!({
            "phone_number": "+33611223344",
            "text": "Code: {code}",
            "channel": "sms",
            "sender": "MyShop",
            "code_length": 8,
            "allow_digits": true,
            "allow_upper_case": false,
            "allow_lower_case": false,
            "allow_special_chars": false,
            "validity_period": 300,
            "max_wrong_attempts": DEFAULT_MAX_WRONG_ATTEMPTS,
        })))
        .respond_with(generated("otp_sms"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(body_partial_json(json!({
            "channel": "voice_sms",
            "code_length": 6,
            "validity_period": 600,
            "max_wrong_attempts": 20,
            "voice_language": "en-GB",
        })))
        .respond_with(generated("otp_voice"))
        .expect(1)
        .mount(&server)
        .await;

    let configured = OctopushOtpOptions::default()
        .with_text("Code: {code}")
        .with_sender("MyShop");
    let octopush = OctopushProvider::builder(LOGIN, API_KEY)
        .base_url(server.uri())
        .options(configured)
        .build()
        .unwrap();
    assert_eq!(octopush.name(), "octopush");
    assert!(octopush.supports(Channel::Sms) && octopush.supports(Channel::Voice));
    let sms = SendOptions::default()
        .with_code_length(8)
        .with_ttl(Duration::from_secs(300));
    let ticket = octopush.send(&phone(), &sms).await.unwrap();
    assert_eq!(ticket.expose(), "otp_sms");

    let voice_config = OctopushOtpOptions::default()
        .with_max_wrong_attempts(20)
        .with_voice_language("en-GB".parse().unwrap());
    let octopush = OctopushProvider::builder(LOGIN, API_KEY)
        .base_url(server.uri())
        .options(voice_config)
        .build()
        .unwrap();
    let ticket = octopush
        .send(&phone(), &SendOptions::new(Channel::Voice))
        .await
        .unwrap();
    assert_eq!(ticket.expose(), "otp_voice");
}

#[tokio::test]
async fn validate_by_token_or_by_phone() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(VALIDATE))
        .and(header("api-login", LOGIN))
        .and(header("api-key", API_KEY))
        .and(body_json(json!({
            "code": "123456", "otp_request_token": "otp_111111dab2222222aaa33333"
        })))
        .respond_with(answer(200, json!({"code": 0, "message": "success"})))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(VALIDATE))
        .and(body_json(
            json!({"code": "TRQXSDYNJY", "phone_number": "+33611223344"}),
        ))
        .respond_with(answer(200, json!({"code": "0", "message": "success"})))
        .expect(1)
        .mount(&server)
        .await;

    let octopush = provider(&server);
    octopush
        .validate(&OctopushValidateRequest::by_token(
            "otp_111111dab2222222aaa33333",
            "123456",
        ))
        .await
        .unwrap();
    octopush
        .validate(&OctopushValidateRequest::by_phone(phone(), "TRQXSDYNJY"))
        .await
        .unwrap();
    let verdict = octopush
        .verify(
            &phone(),
            &Ticket::new("otp_111111dab2222222aaa33333"),
            &OtpCode::parse("123456", 6..=6).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Matched);
}

#[tokio::test]
async fn return_codes_194_to_199_are_typed_and_become_verdicts() {
    let server = MockServer::start().await;
    let table = [
        (
            "1940",
            194,
            "At least phone number or request token is mandatory.",
        ),
        ("1950", 195, "The code field is mandatory."),
        (
            "1960",
            196,
            "Maximum amount of wrong attempts has been reached.",
        ),
        ("1970", 197, "OTP Request expired."),
        ("1980", 198, "OTP Request not found."),
    ];
    for (code, rc, message) in table {
        Mock::given(method("PUT"))
            .and(path(VALIDATE))
            .and(body_partial_json(json!({"code": code})))
            .respond_with(answer(400, json!({"code": rc, "message": message})))
            .mount(&server)
            .await;
    }
    Mock::given(method("PUT"))
        .and(path(VALIDATE))
        .and(body_partial_json(json!({"code": "1990"})))
        .respond_with(answer(
            400,
            json!({"code": 199, "message": "Wrong OTP code.", "remaining_number_of_attempts": 3}),
        ))
        .mount(&server)
        .await;

    let octopush = provider(&server);
    let validate = |code: &'static str| {
        let octopush = octopush.clone();
        async move {
            octopush
                .validate(&OctopushValidateRequest::by_token("otp_1", code))
                .await
                .unwrap_err()
        }
    };
    assert!(matches!(
        validate("1940").await,
        OctopushError::TargetMissing { .. }
    ));
    assert!(matches!(
        validate("1950").await,
        OctopushError::CodeMissing { .. }
    ));
    assert!(matches!(
        validate("1960").await,
        OctopushError::MaxAttemptsReached { .. }
    ));
    assert!(matches!(
        validate("1970").await,
        OctopushError::OtpExpired { .. }
    ));
    assert!(matches!(
        validate("1980").await,
        OctopushError::OtpNotFound { .. }
    ));
    let wrong = validate("1990").await;
    assert!(
        matches!(
            wrong,
            OctopushError::WrongCode {
                remaining_attempts: Some(3),
                ..
            }
        ),
        "{wrong:?}"
    );
    assert!(wrong.to_string().contains("3 attempts left"));

    let ticket = Ticket::new("otp_1");
    let verdict = |code: &'static str| {
        let octopush = octopush.clone();
        let ticket = ticket.clone();
        async move {
            octopush
                .verify(&phone(), &ticket, &OtpCode::parse(code, 4..=4).unwrap())
                .await
        }
    };
    assert_eq!(verdict("1990").await.unwrap(), Verdict::Mismatch);
    assert_eq!(verdict("1960").await.unwrap(), Verdict::Expired);
    assert_eq!(verdict("1970").await.unwrap(), Verdict::Expired);
    assert_eq!(verdict("1980").await.unwrap(), Verdict::Expired);
    assert_eq!(
        verdict("1940").await.unwrap_err().kind(),
        ProviderErrorKind::Rejected
    );
    assert_eq!(
        verdict("1950").await.unwrap_err().kind(),
        ProviderErrorKind::Rejected
    );
}

#[tokio::test]
async fn http_statuses_and_account_codes_map_to_kinds() {
    let server = MockServer::start().await;
    let cases: [(u64, ResponseTemplate); 9] = [
        (
            33600000001,
            answer(401, json!({"message": "Unauthorized."})),
        ),
        (33600000002, answer(403, json!({"message": "Forbidden."}))),
        (33600000003, answer(429, json!({"message": "Slow down"}))),
        (33600000004, ResponseTemplate::new(502)),
        (
            33600000005,
            answer(
                400,
                json!({"code": "104", "message": "You have run out of credit."}),
            ),
        ),
        (
            33600000006,
            answer(400, json!({"code": 117, "message": "No correct numbers."})),
        ),
        (
            33600000007,
            ResponseTemplate::new(201).set_body_string("<html>ok</html>"),
        ),
        (
            33600000008,
            answer(201, json!({"code": 0, "message": "ok"})),
        ),
        (
            33600000009,
            answer(400, json!({"code": 123, "message": "Other."})),
        ),
    ];
    for (digits, response) in cases {
        Mock::given(method("POST"))
            .and(path(GENERATE))
            .and(body_partial_json(
                json!({"phone_number": format!("+{digits}")}),
            ))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    let octopush = provider(&server);
    let expected = [
        (ProviderErrorKind::Unauthorized, Delivery::NotSent),
        (ProviderErrorKind::Unauthorized, Delivery::NotSent),
        (ProviderErrorKind::RateLimited, Delivery::NotSent),
        // A 5xx may have sent the code.
        (ProviderErrorKind::ServerError, Delivery::MaybeSent),
        (ProviderErrorKind::QuotaExhausted, Delivery::NotSent),
        (ProviderErrorKind::InvalidPhone, Delivery::NotSent),
        (ProviderErrorKind::UnexpectedResponse, Delivery::MaybeSent),
        (ProviderErrorKind::UnexpectedResponse, Delivery::MaybeSent),
        (ProviderErrorKind::Rejected, Delivery::NotSent),
    ];
    for (i, (kind, delivery)) in expected.into_iter().enumerate() {
        let to = PhoneNumber::from_digits(33600000001 + i as u64).unwrap();
        let err = octopush
            .send(&to, &SendOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.delivery()),
            (kind, delivery),
            "case {i}: {err}"
        );
        assert_eq!(err.provider(), "octopush");
    }

    let low = |digits: u64| {
        let octopush = octopush.clone();
        async move {
            let request = OctopushGenerateRequest::new(
                PhoneNumber::from_digits(digits).unwrap(),
                OctopushOtpOptions::default(),
            );
            octopush.generate(&request).await.unwrap_err()
        }
    };
    assert!(matches!(
        low(33600000002).await,
        OctopushError::Forbidden { .. }
    ));
    assert!(matches!(
        low(33600000005).await,
        OctopushError::InsufficientCredit { code: 104, .. }
    ));
    assert!(matches!(
        low(33600000006).await,
        OctopushError::InvalidRecipient { code: 117, .. }
    ));
    assert!(matches!(
        low(33600000009).await,
        OctopushError::Api {
            status: 400,
            code: Some(123),
            ..
        }
    ));
}

#[tokio::test]
async fn a_validation_success_needs_an_explicit_code_zero() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(VALIDATE))
        .respond_with(answer(200, json!({"message": "success"})))
        .mount(&server)
        .await;
    let err = provider(&server)
        .verify(
            &phone(),
            &Ticket::new("otp_1"),
            &OtpCode::parse("123456", 6..=6).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::UnexpectedResponse);
}

#[tokio::test]
async fn every_bad_parameter_is_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let octopush = provider(&server);
    let base = OctopushOtpOptions::default;
    let cases: Vec<(OctopushParameter, OctopushOtpOptions)> = vec![
        (OctopushParameter::Text, base().with_text("")),
        (
            OctopushParameter::Text,
            base().with_text(format!("{{code}}{}", "x".repeat(1219))),
        ),
        (
            OctopushParameter::Text,
            base().with_text("Your code, without the placeholder"),
        ),
        (
            OctopushParameter::Text,
            base().with_text("Code {code}\u{7}"),
        ),
        (OctopushParameter::Sender, base().with_sender("ab")),
        (
            OctopushParameter::Sender,
            base().with_sender("ABCDEFGHIJKL"),
        ),
        (OctopushParameter::Sender, base().with_sender("My-Shop")),
        (OctopushParameter::Sender, base().with_sender("Mäshop")),
        (OctopushParameter::Sender, base().with_sender("My Shop")),
        (OctopushParameter::CodeLength, base().with_code_length(3)),
        (OctopushParameter::CodeLength, base().with_code_length(33)),
        (
            OctopushParameter::AllowDigits,
            base().with_alphabet(false, false, false, false),
        ),
        (
            OctopushParameter::ValidityPeriod,
            base().with_validity_period(2),
        ),
        (
            OctopushParameter::ValidityPeriod,
            base().with_validity_period(10_000_001),
        ),
        (
            OctopushParameter::MaxWrongAttempts,
            base().with_max_wrong_attempts(0),
        ),
        (
            OctopushParameter::MaxWrongAttempts,
            base().with_max_wrong_attempts(1001),
        ),
        (
            OctopushParameter::RecipientIp,
            base().with_recipient_ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ),
        (
            OctopushParameter::RecipientIp,
            base().with_recipient_ip(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 1))),
        ),
    ];
    for (expected, options) in cases {
        let err = octopush
            .generate(&OctopushGenerateRequest::new(phone(), options.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, OctopushError::InvalidParameter { parameter, .. } if *parameter == expected),
            "{expected}: {err:?}"
        );
        assert!(err.to_string().contains(expected.as_str()), "{err}");
        // The same options are refused when configuring the provider.
        let built = OctopushProvider::builder(LOGIN, API_KEY)
            .base_url(server.uri())
            .options(options)
            .build();
        assert!(
            matches!(built, Err(OctopushError::InvalidParameter { parameter, .. }) if parameter == expected)
        );
    }
    // Limits themselves are accepted.
    for ok in [
        base().with_text(format!("{{code}}{}", "é".repeat(1218))),
        base().with_sender("abc").with_code_length(4),
        base().with_sender("ABCDEFGHIJK").with_code_length(32),
        base().with_validity_period(3).with_max_wrong_attempts(1),
        base().with_validity_period(10_000_000),
        base().with_alphabet(false, false, false, true),
    ] {
        assert!(ok.validate().is_ok(), "{ok:?}");
    }

    // The closed lists are parsed strictly, naming the parameter.
    for (text, parameter) in [
        ("fr-CA", OctopushParameter::VoiceLanguage),
        ("fr_FR", OctopushParameter::VoiceLanguage),
        ("FR-FR", OctopushParameter::VoiceLanguage),
        ("", OctopushParameter::VoiceLanguage),
    ] {
        let err = text.parse::<VoiceLanguage>().unwrap_err();
        assert!(
            matches!(err, OctopushError::InvalidParameter { parameter: p, .. } if p == parameter)
        );
    }
    for text in ["Male", "other", ""] {
        let err = text.parse::<VoiceGender>().unwrap_err();
        assert!(matches!(
            err,
            OctopushError::InvalidParameter {
                parameter: OctopushParameter::VoiceGender,
                ..
            }
        ));
    }
    for text in ["text_sms", "whatsapp", "voice"] {
        let err = text.parse::<OctopushChannel>().unwrap_err();
        assert!(matches!(
            err,
            OctopushError::InvalidParameter {
                parameter: OctopushParameter::Channel,
                ..
            }
        ));
    }

    // The phone number: at least 7 characters with the `+`.
    let short = PhoneNumber::from_digits(12345).unwrap();
    let err = octopush
        .generate(&OctopushGenerateRequest::new(short, base()))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        OctopushError::InvalidParameter {
            parameter: OctopushParameter::PhoneNumber,
            ..
        }
    ));
    let err = octopush
        .send(&short, &SendOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::InvalidPhone);

    // What the engine asks for is checked the same way.
    for (options, parameter) in [
        (
            SendOptions::default().with_code_length(3),
            OctopushParameter::CodeLength,
        ),
        (
            SendOptions::default().with_code_length(40),
            OctopushParameter::CodeLength,
        ),
        (
            SendOptions::default().with_ttl(Duration::from_secs(2)),
            OctopushParameter::ValidityPeriod,
        ),
    ] {
        let err = octopush.send(&phone(), &options).await.unwrap_err();
        assert_eq!(err.kind(), ProviderErrorKind::Rejected);
        assert_eq!(err.delivery(), Delivery::NotSent);
        assert!(
            err.detail()
                .unwrap_or_default()
                .contains(parameter.as_str()),
            "{err}"
        );
    }

    // Validation requests.
    for (request, parameter) in [
        (
            OctopushValidateRequest::by_token("otp_1", ""),
            OctopushParameter::Code,
        ),
        (
            OctopushValidateRequest::by_token("otp_1", "12 34"),
            OctopushParameter::Code,
        ),
        (
            OctopushValidateRequest::by_token("otp_1", "1".repeat(33)),
            OctopushParameter::Code,
        ),
        (
            OctopushValidateRequest::by_token("", "1234"),
            OctopushParameter::OtpRequestToken,
        ),
        (
            OctopushValidateRequest::by_token("otp 1", "1234"),
            OctopushParameter::OtpRequestToken,
        ),
        (
            OctopushValidateRequest::by_phone(short, "1234"),
            OctopushParameter::PhoneNumber,
        ),
    ] {
        let err = octopush.validate(&request).await.unwrap_err();
        assert!(
            matches!(&err, OctopushError::InvalidParameter { parameter: p, .. } if *p == parameter),
            "{parameter}: {err:?}"
        );
    }

    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn keys_never_appear_in_errors_or_debug() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(body_partial_json(json!({"phone_number": "+33600000001"})))
        .respond_with(answer(
            401,
            json!({"code": 101, "message": format!("Bad login {LOGIN} with key {API_KEY}")}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(body_partial_json(json!({"phone_number": "+33600000002"})))
        .respond_with(answer(500, json!({"message": API_KEY})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(body_partial_json(json!({"phone_number": "+33600000003"})))
        .respond_with(generated("otp_slow").set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .and(body_partial_json(json!({"phone_number": "+33600000004"})))
        .respond_with(ResponseTemplate::new(200).set_body_string(LOGIN))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(VALIDATE))
        .respond_with(answer(
            400,
            json!({"code": 199, "message": API_KEY, "remaining_number_of_attempts": "2"}),
        ))
        .mount(&server)
        .await;

    let octopush = OctopushProvider::builder(LOGIN, API_KEY)
        .base_url(server.uri())
        .http(short_timeout())
        .build()
        .unwrap();
    let refused = OctopushProvider::builder(LOGIN, API_KEY)
        .base_url(refused_url())
        .build()
        .unwrap();
    for text in [
        format!("{octopush:?}"),
        format!("{refused:?}"),
        format!("{:?}", OctopushProvider::builder(LOGIN, API_KEY)),
        format!(
            "{:?}",
            OctopushValidateRequest::by_token("otp_tok", "123456")
        ),
    ] {
        assert!(!text.contains("SECRET"), "{text}");
        assert!(
            !text.contains("otp_tok") && !text.contains("123456"),
            "{text}"
        );
    }

    let mut kinds = Vec::new();
    for digits in [33600000001u64, 33600000002, 33600000003, 33600000004] {
        let to = PhoneNumber::from_digits(digits).unwrap();
        let low = octopush
            .generate(&OctopushGenerateRequest::new(
                to,
                OctopushOtpOptions::default(),
            ))
            .await
            .unwrap_err();
        assert_no_secret(&low, SECRETS);
        let err = octopush
            .send(&to, &SendOptions::default())
            .await
            .unwrap_err();
        assert_no_secret(&err, SECRETS);
        kinds.push((err.kind(), err.delivery()));
    }
    let err = refused
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap_err();
    assert_no_secret(&err, SECRETS);
    kinds.push((err.kind(), err.delivery()));
    assert_eq!(
        kinds,
        [
            (ProviderErrorKind::Unauthorized, Delivery::NotSent),
            (ProviderErrorKind::ServerError, Delivery::MaybeSent),
            (ProviderErrorKind::Timeout, Delivery::MaybeSent),
            (ProviderErrorKind::UnexpectedResponse, Delivery::MaybeSent),
            (ProviderErrorKind::Unreachable, Delivery::NotSent),
        ]
    );

    let wrong = octopush
        .validate(&OctopushValidateRequest::by_token("otp_1", "1234"))
        .await
        .unwrap_err();
    assert!(matches!(
        wrong,
        OctopushError::WrongCode {
            remaining_attempts: Some(2),
            ..
        }
    ));
    assert_no_secret(&wrong, SECRETS);
    for bad in [
        OctopushProvider::builder(LOGIN, format!("{API_KEY}\n")).build(),
        OctopushProvider::builder(format!("{LOGIN}\r"), API_KEY).build(),
        OctopushProvider::builder(LOGIN, " ").build(),
    ] {
        assert_no_secret(&bad.unwrap_err(), SECRETS);
    }
}

#[tokio::test]
async fn only_an_explicit_match_verifies() {
    let server = MockServer::start().await;
    let unclear: [(&str, ResponseTemplate); 6] = [
        ("100001", answer(200, json!({}))),
        ("100002", ResponseTemplate::new(200)),
        ("100003", answer(200, json!({"message": "success"}))),
        ("100004", answer(200, json!({"code": 7, "message": "?"}))),
        ("100005", answer(200, json!({"code": "zero"}))),
        ("100006", answer(204, json!({"valid": true}))),
    ];
    for (code, response) in unclear {
        Mock::given(method("PUT"))
            .and(path(VALIDATE))
            .and(body_partial_json(json!({"code": code})))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    let octopush = provider(&server);
    for code in ["100001", "100002", "100003", "100004", "100005", "100006"] {
        let err = octopush
            .verify(
                &phone(),
                &Ticket::new("otp_1"),
                &OtpCode::parse(code, 6..=6).unwrap(),
            )
            .await
            .expect_err("an unclear answer is not a verdict");
        assert_eq!(
            err.kind(),
            ProviderErrorKind::UnexpectedResponse,
            "{code}: {err}"
        );
        let low = octopush
            .validate(&OctopushValidateRequest::by_token("otp_1", code))
            .await
            .unwrap_err();
        assert!(
            matches!(low, OctopushError::UnexpectedResponse { .. }),
            "{code}: {low:?}"
        );
    }
}

#[tokio::test]
async fn a_send_whose_outcome_is_unknown_may_have_sent() {
    let options = SendOptions::default();
    for (what, response) in common::server_failures() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(GENERATE))
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
        let err = provider(&server)
            .send(&phone(), &options)
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.delivery()),
            (ProviderErrorKind::ServerError, Delivery::MaybeSent),
            "{what}: {err}"
        );
        assert_no_secret(&err, SECRETS);
    }
    // A 2xx with a return code Octopush does not document says neither "sent" nor "refused".
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(answer(200, json!({"code": 777, "message": "queued?"})))
        .mount(&server)
        .await;
    let err = provider(&server)
        .send(&phone(), &options)
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.delivery()),
        (ProviderErrorKind::UnexpectedResponse, Delivery::MaybeSent),
        "{err}"
    );

    for how in [common::Hangup::Close, common::Hangup::Reset] {
        let (url, seen) = common::dropping_server(how).await;
        let octopush = OctopushProvider::builder(LOGIN, API_KEY)
            .base_url(url)
            .build()
            .unwrap();
        let err = octopush.send(&phone(), &options).await.unwrap_err();
        assert_eq!(err.delivery(), Delivery::MaybeSent, "{how:?}: {err}");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1, "{how:?}");
        assert_no_secret(&err, SECRETS);
    }

    for url in [refused_url(), common::tls_failing_url().await] {
        let octopush = OctopushProvider::builder(LOGIN, API_KEY)
            .base_url(url.clone())
            .build()
            .unwrap();
        let err = octopush.send(&phone(), &options).await.unwrap_err();
        assert_eq!(
            (err.kind(), err.delivery()),
            (ProviderErrorKind::Unreachable, Delivery::NotSent),
            "{url}: {err}"
        );
    }
}

#[tokio::test]
async fn every_send_carries_a_text_with_the_code_placeholder() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(generated("otp_t"))
        .mount(&server)
        .await;
    // No text configured: the default, through the engine's send and the low-level call.
    let octopush = provider(&server);
    octopush
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap();
    octopush
        .send(&phone(), &SendOptions::new(Channel::Voice))
        .await
        .unwrap();
    octopush
        .generate(&OctopushGenerateRequest::new(
            phone(),
            OctopushOtpOptions::default(),
        ))
        .await
        .unwrap();
    // A configured text is sent as it is.
    OctopushProvider::builder(LOGIN, API_KEY)
        .base_url(server.uri())
        .options(OctopushOtpOptions::default().with_text("Code {code} for MyShop"))
        .build()
        .unwrap()
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap();

    let texts: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["text"]
                .as_str()
                .expect("a text in every request")
                .to_owned()
        })
        .collect();
    assert_eq!(
        texts,
        [
            DEFAULT_TEXT,
            DEFAULT_TEXT,
            DEFAULT_TEXT,
            "Code {code} for MyShop"
        ]
    );
    assert_eq!(DEFAULT_TEXT, "Your verification code is {code}");
    assert!(TEXT_CHARS.contains(&DEFAULT_TEXT.chars().count()));
}

#[tokio::test]
async fn settings_the_engine_decides_are_refused_at_build_not_ignored() {
    let base = OctopushOtpOptions::default;
    for (options, parameter) in [
        (
            base().with_alphabet(false, true, true, true),
            OctopushParameter::AllowDigits,
        ),
        (
            base().with_alphabet(true, true, false, false),
            OctopushParameter::AllowUpperCase,
        ),
        (
            base().with_alphabet(true, false, true, false),
            OctopushParameter::AllowLowerCase,
        ),
        (
            base().with_alphabet(true, false, false, true),
            OctopushParameter::AllowSpecialChars,
        ),
        (
            base().with_channel(OctopushChannel::VoiceSms),
            OctopushParameter::Channel,
        ),
        (base().with_code_length(8), OctopushParameter::CodeLength),
        (
            base().with_validity_period(120),
            OctopushParameter::ValidityPeriod,
        ),
    ] {
        // Valid for Octopush, and usable with `generate` directly.
        assert!(options.validate().is_ok(), "{parameter}");
        let err = OctopushProvider::builder(LOGIN, API_KEY)
            .options(options)
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, OctopushError::InvalidParameter { parameter: p, .. } if *p == parameter),
            "{parameter}: {err:?}"
        );
        assert!(err.to_string().contains("engine"), "{err}");
    }
    // What the engine does not decide stays configurable.
    OctopushProvider::builder(LOGIN, API_KEY)
        .options(
            base()
                .with_text("Code: {code}")
                .with_sender("MyShop")
                .with_max_wrong_attempts(5)
                .with_voice_language(VoiceLanguage::FrFr)
                .with_remove_confusing_characters(true),
        )
        .build()
        .unwrap();
}

#[tokio::test]
async fn a_base_url_with_credentials_is_refused_and_never_shown() {
    for url in [
        "https://user:pw-SECRET@api.octopush.com/v1/public",
        "https://pw-SECRET@api.octopush.com",
    ] {
        let builder = OctopushProvider::builder(LOGIN, API_KEY).base_url(url);
        let debug = format!("{builder:?}");
        assert!(!debug.contains("pw-SECRET"), "{debug}");
        let err = builder.build().unwrap_err();
        assert!(
            matches!(
                err,
                OctopushError::InvalidBaseUrl(BaseUrlError::Credentials)
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("credentials"), "{err}");
        assert_no_secret(&err, &["pw-SECRET"]);
        assert_no_secret(&ProviderError::from(err), &["pw-SECRET"]);
    }
}
