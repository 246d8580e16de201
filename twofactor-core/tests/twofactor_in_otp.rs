//! SMS OTP, voice OTP and balance endpoints, built from 2Factor's documented examples.

mod common;

use common::*;
use serde_json::json;
use twofactor_core::Verdict;
use twofactor_core::twofactor_in::{
    BalanceKind, OtpKind, SessionId, TemplateName, TwoFactorInError,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

const SESSION: &str = "ab88279e-0105-415f-912e-2f24162b8cbb";

async fn mount_get(server: &MockServer, tail: &str, status: u16, body: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(v1(tail)))
        .respond_with(json(status, body))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn autogen_without_template() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN",
        200,
        json!({"Status": "Success", "Details": SESSION}),
    )
    .await;
    let sent = client(&server)
        .send_otp(&phone(), OtpKind::Autogen, None)
        .await
        .unwrap();
    assert_eq!(sent.session_id.expose(), SESSION);
    assert_eq!(sent.code, None);
}

#[tokio::test]
async fn autogen_with_explicit_and_default_template() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN/OTPTest",
        200,
        json!({"Status": "Success", "Details": "mf2djpsmqnrwmwob7z-978c24505cf48a13"}),
    )
    .await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN/Default",
        200,
        json!({"Status": "Success", "Details": "second"}),
    )
    .await;
    let client = builder(&server).otp_template("Default").build().unwrap();
    assert_eq!(client.otp_template().unwrap().as_str(), "Default");

    let template = TemplateName::new("OTPTest").unwrap();
    let sent = client
        .send_otp(&phone(), OtpKind::Autogen, Some(&template))
        .await
        .unwrap();
    assert_eq!(
        sent.session_id.expose(),
        "mf2djpsmqnrwmwob7z-978c24505cf48a13"
    );
    let sent = client
        .send_otp(&phone(), OtpKind::Autogen, None)
        .await
        .unwrap();
    assert_eq!(sent.session_id.expose(), "second");
}

#[tokio::test]
async fn autogen2_returns_the_code() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN2/OTPTest",
        200,
        json!({"Status": "Success", "Details": "l60gaseavbemjvlgw7o-7303503698702e11", "OTP": "565059"}),
    )
    .await;
    let template = TemplateName::new("OTPTest").unwrap();
    let sent = client(&server)
        .send_otp(&phone(), OtpKind::Autogen2, Some(&template))
        .await
        .unwrap();
    assert_eq!(
        sent.session_id.expose(),
        "l60gaseavbemjvlgw7o-7303503698702e11"
    );
    assert_eq!(sent.code.unwrap().expose(), "565059");
}

#[tokio::test]
async fn autogen2_without_a_code_is_an_unexpected_answer() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN2",
        200,
        json!({"Status": "Success", "Details": "s"}),
    )
    .await;
    let err = client(&server)
        .send_otp(&phone(), OtpKind::Autogen2, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        TwoFactorInError::UnexpectedResponse { status: 200, .. }
    ));
}

#[tokio::test]
async fn autogen3_sends_four_digits() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN3/OTPTest",
        200,
        json!({"Status": "Success", "Details": SESSION}),
    )
    .await;
    let template = TemplateName::new("OTPTest").unwrap();
    let sent = client(&server)
        .send_otp(&phone(), OtpKind::Autogen3, Some(&template))
        .await
        .unwrap();
    assert_eq!(sent.session_id.expose(), SESSION);
}

#[tokio::test]
async fn custom_code_with_and_without_template() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/4321/MyTemplate",
        200,
        json!({"Status": "Success", "Details": SESSION}),
    )
    .await;
    mount_get(
        &server,
        "/SMS/+919812345678/123456",
        200,
        json!({"Status": "Success", "Details": "plain"}),
    )
    .await;
    let client = client(&server);
    let template = TemplateName::new("MyTemplate").unwrap();
    let sent = client
        .send_custom_otp(&phone(), &code("4321"), Some(&template))
        .await
        .unwrap();
    assert_eq!(sent.session_id.expose(), SESSION);
    let sent = client
        .send_custom_otp(&phone(), &code("123456"), None)
        .await
        .unwrap();
    assert_eq!(sent.session_id.expose(), "plain");
}

#[tokio::test]
async fn custom_codes_outside_four_to_six_digits_are_refused_before_any_request() {
    let server = MockServer::start().await;
    let client = client(&server);
    for digits in ["123", "1234567", "12345678901234567890"] {
        let err = client
            .send_custom_otp(&phone(), &code(digits), None)
            .await
            .unwrap_err();
        assert!(matches!(err, TwoFactorInError::InvalidCode { .. }), "{err}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn template_names_with_spaces_and_slashes_are_one_encoded_segment() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN/My%20Template%2Fv2%3F%23%25",
        200,
        json!({"Status": "Success", "Details": SESSION}),
    )
    .await;
    mount_get(
        &server,
        "/SMS/+919812345678/123456/%2E%2E%2F%2E%2E%2FBAL%2FSMS",
        200,
        json!({"Status": "Success", "Details": SESSION}),
    )
    .await;
    let client = client(&server);
    let template = TemplateName::new("My Template/v2?#%").unwrap();
    client
        .send_otp(&phone(), OtpKind::Autogen, Some(&template))
        .await
        .unwrap();
    let sneaky = TemplateName::new("../../BAL/SMS").unwrap();
    client
        .send_custom_otp(&phone(), &code("123456"), Some(&sneaky))
        .await
        .unwrap();
    // The raw request line, as the server saw it: one segment each.
    for request in server.received_requests().await.unwrap() {
        let segments = request.url.path_segments().unwrap().count();
        assert_eq!(segments, 7, "{}", request.url.path());
    }
}

#[tokio::test]
async fn template_names_and_session_ids_made_of_dots_are_refused() {
    for bad in ["", ".", "..", "...", "a\u{0}b"] {
        assert!(TemplateName::new(bad).is_err(), "{bad:?}");
        assert!(SessionId::new(bad).is_err(), "{bad:?}");
    }
    assert!(matches!(
        twofactor_core::twofactor_in::TwoFactorInClient::builder(KEY)
            .otp_template("..")
            .build(),
        Err(TwoFactorInError::InvalidRequest { .. })
    ));
}

#[tokio::test]
async fn verify_by_session_reads_both_forms_of_a_match() {
    for status in ["Error", "Success"] {
        let server = MockServer::start().await;
        mount_get(
            &server,
            &format!("/SMS/VERIFY/{SESSION}/123456"),
            200,
            json!({"Status": status, "Details": "OTP Matched"}),
        )
        .await;
        let session = SessionId::new(SESSION).unwrap();
        let verdict = client(&server)
            .verify_otp(&session, &code("123456"))
            .await
            .unwrap();
        assert_eq!(verdict, Verdict::Matched, "Status {status}");
    }
}

#[tokio::test]
async fn verify_by_session_mismatch_expired_and_unknown_session() {
    let cases = [
        (400, "OTP Mismatch", Ok(Verdict::Mismatch)),
        (200, "OTP Mismatch", Ok(Verdict::Mismatch)),
        (400, "OTP Expired", Ok(Verdict::Expired)),
        (
            400,
            "Invalid API / SessionId Combination - No Entry Exists",
            Err("session"),
        ),
    ];
    for (status, details, expected) in cases {
        let server = MockServer::start().await;
        mount_get(
            &server,
            &format!("/SMS/VERIFY/{SESSION}/123456"),
            status,
            json!({"Status": "Error", "Details": details}),
        )
        .await;
        let session = SessionId::new(SESSION).unwrap();
        let got = client(&server).verify_otp(&session, &code("123456")).await;
        match expected {
            Ok(verdict) => assert_eq!(got.unwrap(), verdict, "{details}"),
            Err(_) => assert!(
                matches!(got, Err(TwoFactorInError::SessionNotFound)),
                "{got:?}"
            ),
        }
    }
}

#[tokio::test]
async fn a_match_under_an_error_status_is_not_a_match() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        &format!("/SMS/VERIFY/{SESSION}/123456"),
        400,
        json!({"Status": "Error", "Details": "OTP Matched"}),
    )
    .await;
    let session = SessionId::new(SESSION).unwrap();
    let err = client(&server)
        .verify_otp(&session, &code("123456"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        TwoFactorInError::UnexpectedResponse { status: 400, .. }
    ));
}

#[tokio::test]
async fn a_text_that_merely_contains_matched_is_not_a_match() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        &format!("/SMS/VERIFY/{SESSION}/123456"),
        200,
        json!({"Status": "Success", "Details": "OTP Matched? No"}),
    )
    .await;
    let session = SessionId::new(SESSION).unwrap();
    let result = client(&server).verify_otp(&session, &code("123456")).await;
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test]
async fn session_ids_are_percent_encoded_as_one_segment() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/VERIFY/a%2Fb%20c%3F/123456",
        200,
        json!({"Status": "Success", "Details": "OTP Matched"}),
    )
    .await;
    let session = SessionId::new("a/b c?").unwrap();
    let verdict = client(&server)
        .verify_otp(&session, &code("123456"))
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Matched);
}

#[tokio::test]
async fn verify_by_phone() {
    let cases = [
        (200, "OTP Matched", Verdict::Matched),
        (400, "OTP Mismatch", Verdict::Mismatch),
        (400, "OTP Expired", Verdict::Expired),
    ];
    for (status, details, verdict) in cases {
        let server = MockServer::start().await;
        mount_get(
            &server,
            "/SMS/VERIFY3/+919812345678/123456",
            status,
            json!({"Status": "Error", "Details": details}),
        )
        .await;
        let got = client(&server)
            .verify_otp_by_phone(&phone(), &code("123456"))
            .await
            .unwrap();
        assert_eq!(got, verdict, "{details}");
    }
}

#[tokio::test]
async fn voice_autogen_custom_and_verify() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/VOICE/+919812345678/AUTOGEN",
        200,
        json!({"Status": "Success", "Details": "voice-1"}),
    )
    .await;
    mount_get(
        &server,
        "/VOICE/+919812345678/98765",
        200,
        json!({"Status": "Success", "Details": "voice-2"}),
    )
    .await;
    mount_get(
        &server,
        "/VOICE/VERIFY/voice-1/123456",
        200,
        json!({"Status": "Success", "Details": "OTP Matched"}),
    )
    .await;
    mount_get(
        &server,
        "/VOICE/VERIFY/voice-2/000000",
        400,
        json!({"Status": "Error", "Details": "OTP Mismatch"}),
    )
    .await;
    let client = client(&server);
    let first = client.send_voice_otp(&phone()).await.unwrap();
    assert_eq!(first.session_id.expose(), "voice-1");
    let second = client
        .send_voice_custom_otp(&phone(), &code("98765"))
        .await
        .unwrap();
    assert_eq!(second.session_id.expose(), "voice-2");
    assert_eq!(
        client
            .verify_voice_otp(&first.session_id, &code("123456"))
            .await
            .unwrap(),
        Verdict::Matched
    );
    assert_eq!(
        client
            .verify_voice_otp(&second.session_id, &code("000000"))
            .await
            .unwrap(),
        Verdict::Mismatch
    );
}

#[tokio::test]
async fn balances() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/BAL/SMS",
        200,
        json!({"Status": "Success", "Details": "250"}),
    )
    .await;
    mount_get(
        &server,
        "/BAL/VOICE",
        200,
        json!({"Status": "Success", "Details": "12.00"}),
    )
    .await;
    let client = client(&server);
    let sms = client.balance(BalanceKind::Sms).await.unwrap();
    assert_eq!((sms.details.as_str(), sms.credits), ("250", Some(250)));
    let voice = client.balance(BalanceKind::Voice).await.unwrap();
    assert_eq!(voice.credits, Some(12));
}

#[tokio::test]
async fn every_request_is_a_get_with_our_user_agent() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/BAL/SMS",
        200,
        json!({"Status": "Success", "Details": "1"}),
    )
    .await;
    client(&server).balance(BalanceKind::Sms).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let ua = requests[0]
        .headers
        .get("user-agent")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(ua.starts_with("twofactor-rs/"), "{ua}");
}

#[tokio::test]
async fn session_ids_and_sends_never_show_secrets_in_debug() {
    let session = SessionId::new(SESSION).unwrap();
    assert_eq!(format!("{session:?}"), "SessionId([REDACTED])");
    let server = MockServer::start().await;
    let client = builder(&server)
        .otp_template("T")
        .sender_id("TFACTR")
        .build()
        .unwrap();
    let debug = format!("{client:?}");
    assert!(!debug.contains(KEY), "{debug}");
    let builder_debug = format!("{:?}", builder(&server));
    assert!(!builder_debug.contains(KEY), "{builder_debug}");
    let clone = client.clone();
    assert_eq!(clone.base_url(), server.uri().trim_end_matches('/'));
}

#[tokio::test]
async fn a_trailing_slash_on_the_base_url_is_tolerated() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/BAL/SMS",
        200,
        json!({"Status": "Success", "Details": "1"}),
    )
    .await;
    let client = twofactor_core::twofactor_in::TwoFactorInClient::builder(KEY)
        .base_url(format!("{}/", server.uri()))
        .build()
        .unwrap();
    client.balance(BalanceKind::Sms).await.unwrap();
}

/// The answers that are not clearly a verdict: an empty body, `{}`, an unknown shape, a
/// missing or empty field.
fn unclear_verify_answers() -> Vec<(&'static str, wiremock::ResponseTemplate)> {
    vec![
        ("empty body", raw(200, "", "application/json")),
        ("{}", json(200, json!({}))),
        (
            "unknown shape",
            json(200, json!({"result": "ok", "valid": true})),
        ),
        ("no Details", json(200, json!({"Status": "Success"}))),
        (
            "empty Details",
            json(200, json!({"Status": "Error", "Details": ""})),
        ),
        ("no Status", json(200, json!({"Details": "OTP Matched"}))),
        (
            "unknown Status",
            json(200, json!({"Status": "Pending", "Details": "OTP Matched"})),
        ),
        (
            "unknown words",
            json(200, json!({"Details": "Verified OK"})),
        ),
    ]
}

#[tokio::test]
async fn only_an_explicit_match_verifies_on_every_verify_endpoint() {
    for (what, answer) in unclear_verify_answers() {
        for tail in [
            format!("/SMS/VERIFY/{SESSION}/123456"),
            "/SMS/VERIFY3/+919812345678/123456".to_owned(),
            format!("/VOICE/VERIFY/{SESSION}/123456"),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("GET"))
                .and(path(v1(&tail)))
                .respond_with(answer.clone())
                .expect(1)
                .mount(&server)
                .await;
            let client = client(&server);
            let session = SessionId::new(SESSION).unwrap();
            let result = if tail.contains("VERIFY3") {
                client.verify_otp_by_phone(&phone(), &code("123456")).await
            } else if tail.starts_with("/VOICE") {
                client.verify_voice_otp(&session, &code("123456")).await
            } else {
                client.verify_otp(&session, &code("123456")).await
            };
            assert!(
                matches!(
                    result,
                    Err(TwoFactorInError::UnexpectedResponse { status: 200, .. })
                ),
                "{what} on {tail}: {result:?}"
            );
        }
    }
}
