//! Hostile phone and code values never reach 2Factor.
//!
//! The client's public entry points take only `PhoneNumber` and `OtpCode` (it does not compile
//! otherwise), and these values cannot become either, so nothing is sent: the mock server sees
//! zero requests.

mod common;

use common::*;
use twofactor_core::twofactor_in::{OtpKind, SessionId};
use twofactor_core::{OtpCode, PhoneNumber, PhoneParser};
use wiremock::MockServer;

fn hostile() -> Vec<String> {
    vec![
        "..".into(),
        "../BAL/SMS".into(),
        "1/2".into(),
        "%2e%2e".into(),
        "+91 98765/43210".into(),
        "١٢٣٤٥٦".into(),
        "9".repeat(10_000),
        "1".repeat(10_000),
    ]
}

/// Tries every OTP entry point with whatever parses; nothing does.
async fn try_everything(server: &MockServer, input: &str) {
    let client = client(server);
    let phone: Option<PhoneNumber> = PhoneParser::default().parse(input).ok();
    let code: Option<OtpCode> = OtpCode::parse(input, 4..=6).ok();
    assert!(phone.is_none(), "{input:?} parsed as a phone");
    assert!(code.is_none(), "{input:?} parsed as a code");
    let session = SessionId::new("s").unwrap();
    if let Some(phone) = &phone {
        let _ = client.send_otp(phone, OtpKind::Autogen, None).await;
        let _ = client.send_voice_otp(phone).await;
    }
    if let Some(code) = &code {
        let _ = client.verify_otp(&session, code).await;
        let _ = client.send_custom_otp(&common::phone(), code, None).await;
        let _ = client.verify_otp_by_phone(&common::phone(), code).await;
        let _ = client.verify_voice_otp(&session, code).await;
    }
}

#[tokio::test]
async fn hostile_phones_and_codes_are_rejected_before_any_request() {
    let server = MockServer::start().await;
    for input in hostile() {
        try_everything(&server, &input).await;
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_phone_parsed_from_national_input_goes_out_in_e164() {
    // The positive control: the same parser lets a real number through, so the test above
    // proves refusal, not a broken pipeline.
    let server = MockServer::start().await;
    let phone = PhoneParser::default().parse("098123 45678").unwrap();
    assert_eq!(phone.to_string(), "+919812345678");
    let _ = client(&server)
        .send_otp(&phone, OtpKind::Autogen, None)
        .await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].url.path(), v1("/SMS/+919812345678/AUTOGEN"));
}
