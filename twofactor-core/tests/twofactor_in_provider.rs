//! The engine's traits over the client: `TwoFactorInProvider` as `OtpProvider`, `TwoFactorInClient` as
//! `SmsSender`.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::json;
use twofactor_core::provider::CodeMessage;
use twofactor_core::twofactor_in::TwoFactorInProvider;
use twofactor_core::{
    Channel, Delivery, OtpProvider, ProviderErrorKind, SendOptions, SmsMessage, SmsSender, Ticket,
    Verdict,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

async fn mount_get(server: &MockServer, tail: &str, status: u16, body: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(v1(tail)))
        .respond_with(json(status, body))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn sms_send_and_verify_go_through_autogen_and_sms_verify() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN/Login",
        200,
        json!({"Status": "Success", "Details": "sess-sms"}),
    )
    .await;
    mount_get(
        &server,
        "/SMS/VERIFY/sess-sms/123456",
        200,
        json!({"Status": "Error", "Details": "OTP Matched"}),
    )
    .await;
    let client = builder(&server).otp_template("Login").build().unwrap();
    let provider: Arc<dyn OtpProvider> = Arc::new(TwoFactorInProvider::new(client));
    assert_eq!(provider.name(), "2factor");
    assert!(provider.supports(Channel::Sms) && provider.supports(Channel::Voice));

    let ticket = provider
        .send(&phone(), &SendOptions::new(Channel::Sms))
        .await
        .unwrap();
    assert_eq!(ticket.expose(), "sms:sess-sms");
    let verdict = provider
        .verify(&phone(), &ticket, &code("123456"))
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Matched);
}

#[tokio::test]
async fn voice_send_and_verify_go_through_the_voice_endpoints() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/VOICE/+919812345678/AUTOGEN",
        200,
        json!({"Status": "Success", "Details": "sess-voice"}),
    )
    .await;
    mount_get(
        &server,
        "/VOICE/VERIFY/sess-voice/654321",
        400,
        json!({"Status": "Error", "Details": "OTP Mismatch"}),
    )
    .await;
    let provider = TwoFactorInProvider::new(client(&server));
    let ticket = provider
        .send(&phone(), &SendOptions::new(Channel::Voice))
        .await
        .unwrap();
    assert_eq!(ticket.expose(), "voice:sess-voice");
    let verdict = provider
        .verify(&phone(), &ticket, &code("654321"))
        .await
        .unwrap();
    assert_eq!(verdict, Verdict::Mismatch);
}

#[tokio::test]
async fn four_digit_codes_use_autogen3_and_other_lengths_are_unsupported() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN3",
        200,
        json!({"Status": "Success", "Details": "four"}),
    )
    .await;
    let provider = TwoFactorInProvider::new(client(&server));
    let ticket = provider
        .send(
            &phone(),
            &SendOptions::new(Channel::Sms).with_code_length(4),
        )
        .await
        .unwrap();
    assert_eq!(ticket.expose(), "sms:four");
    let err = provider
        .send(
            &phone(),
            &SendOptions::new(Channel::Sms).with_code_length(8),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::Unsupported);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn expired_and_unknown_sessions_are_expired_verdicts() {
    for (details, session) in [
        ("OTP Expired", "old"),
        (
            "Invalid API / SessionId Combination - No Entry Exists",
            "gone",
        ),
    ] {
        let server = MockServer::start().await;
        mount_get(
            &server,
            &format!("/SMS/VERIFY/{session}/123456"),
            400,
            json!({"Status": "Error", "Details": details}),
        )
        .await;
        let provider = TwoFactorInProvider::new(client(&server));
        let ticket = Ticket::new(format!("sms:{session}"));
        let verdict = provider
            .verify(&phone(), &ticket, &code("123456"))
            .await
            .unwrap();
        assert_eq!(verdict, Verdict::Expired, "{details}");
    }
}

#[tokio::test]
async fn foreign_tickets_are_refused_without_a_request() {
    let server = MockServer::start().await;
    let provider = TwoFactorInProvider::new(client(&server));
    for ticket in ["sess-without-channel", "sms:", "voice:..", "email:x"] {
        let err = provider
            .verify(&phone(), &Ticket::new(ticket), &code("123456"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ProviderErrorKind::Rejected, "{ticket}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn provider_errors_keep_kind_delivery_and_no_key() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/AUTOGEN",
        400,
        json!({"Status": "Error", "Details": "Invalid Phone Number - Length Mismatch(Expected: 10)"}),
    )
    .await;
    let provider = TwoFactorInProvider::new(client(&server));
    let err = provider
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::InvalidPhone);
    assert!(err.is_user_error());
    assert_eq!(err.delivery(), Delivery::NotSent);
    assert_no_key(&err);
    assert!(!format!("{provider:?}").contains(KEY));
}

#[tokio::test]
async fn sms_sender_send_sms_uses_r1_transactional() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/API/R1/"))
        .respond_with(json(200, json!({"Status": "Success", "Details": "r1-id"})))
        .expect(1)
        .mount(&server)
        .await;
    let sender: Arc<dyn SmsSender> = Arc::new(client(&server));
    assert_eq!(sender.name(), "2factor");
    let receipt = sender
        .send_sms(
            &SmsMessage::new(phone(), "hello")
                .and_to(other_phone())
                .with_sender("HEADER"),
        )
        .await
        .unwrap();
    assert_eq!(receipt.message_id.as_deref(), Some("r1-id"));
    let requests = server.received_requests().await.unwrap();
    let f = form(&requests[0].body);
    assert_eq!(f["module"], "TRANS_SMS");
    assert_eq!(f["to"], "919812345678,919876543210");
}

#[tokio::test]
async fn sms_sender_send_code_uses_the_custom_code_endpoints() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        "/SMS/+919812345678/482913/Login",
        200,
        json!({"Status": "Success", "Details": "c1"}),
    )
    .await;
    mount_get(
        &server,
        "/VOICE/+919812345678/482913",
        200,
        json!({"Status": "Success", "Details": "c2"}),
    )
    .await;
    let client = builder(&server).otp_template("Login").build().unwrap();
    assert!(client.supports_code_channel(Channel::Sms));
    assert!(client.supports_code_channel(Channel::Voice));
    let (p, c) = (phone(), code("482913"));
    for channel in [Channel::Sms, Channel::Voice] {
        client
            .send_code(&CodeMessage::new(&p, &c, "Your code is 482913", channel))
            .await
            .unwrap();
    }
    let long = code("12345678");
    let err = client
        .send_code(&CodeMessage::new(&p, &long, "x", Channel::Sms))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::Unsupported);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn sms_sender_send_many_uses_bulk_and_returns_receipts_in_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/API/R1/Bulk/"))
        .respond_with(json(
            200,
            json!({
                "success": true,
                "requestId": "bulk-1",
                "messages": [
                    {"messageId": "bulk-1-1", "smsFrom": "TFACTR", "smsTo": "+919812345678"},
                    {"messageId": "bulk-1-2", "smsFrom": "TFACTR", "smsTo": "+919876543210"}
                ]
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let receipts = SmsSender::send_many(
        &client,
        &[
            SmsMessage::new(phone(), "one"),
            SmsMessage::new(other_phone(), "two"),
        ],
    )
    .await
    .unwrap();
    let ids: Vec<_> = receipts.iter().map(|r| r.message_id.as_deref()).collect();
    assert_eq!(ids, [Some("bulk-1-1"), Some("bulk-1-2")]);
}

#[tokio::test]
async fn sms_sender_send_many_reports_rejections() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/API/R1/Bulk/"))
        .respond_with(json(
            200,
            json!({
                "success": true,
                "requestId": "bulk-2",
                "messages": [{"messageId": "bulk-2-1", "smsFrom": "TFACTR", "smsTo": "+919812345678"}],
                "rejectedSamples": [{"index": 1, "phone": "+919876543210", "reason": "Phone number must match the required format"}]
            }),
        ))
        .mount(&server)
        .await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let err = SmsSender::send_many(
        &client,
        &[
            SmsMessage::new(phone(), "one"),
            SmsMessage::new(other_phone(), "two"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::Rejected);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
}

#[tokio::test]
async fn verify_needs_an_explicit_match_to_reach_the_engine_as_matched() {
    for (what, answer) in [
        ("empty body", raw(200, "", "text/plain")),
        ("{}", json(200, json!({}))),
        ("no Details", json(200, json!({"Status": "Success"}))),
        ("no Status", json(200, json!({"Details": "OTP Matched"}))),
    ] {
        for ticket in ["sms:sess-1", "voice:sess-1"] {
            let server = MockServer::start().await;
            Mock::given(method("GET"))
                .respond_with(answer.clone())
                .expect(1)
                .mount(&server)
                .await;
            let err = TwoFactorInProvider::new(client(&server))
                .verify(&phone(), &Ticket::new(ticket), &code("123456"))
                .await
                .expect_err("an unclear answer is not a verdict");
            assert_eq!(
                err.kind(),
                ProviderErrorKind::UnexpectedResponse,
                "{what} for {ticket}: {err}"
            );
            assert_no_key(&err);
        }
    }
}

#[tokio::test]
async fn sms_sender_send_many_refuses_a_partial_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/API/R1/Bulk/"))
        .respond_with(json(
            200,
            json!({
                "success": true,
                "requestId": "bulk-3",
                "queueStats": {"success": false, "totalChunks": 2, "successfulChunks": 1, "failedChunks": 1},
                "messages": [
                    {"messageId": "bulk-3-1", "smsFrom": "TFACTR", "smsTo": "+919812345678"},
                    {"messageId": "bulk-3-2", "smsFrom": "TFACTR", "smsTo": "+919876543210"}
                ]
            }),
        ))
        .mount(&server)
        .await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let err = SmsSender::send_many(
        &client,
        &[
            SmsMessage::new(phone(), "one"),
            SmsMessage::new(other_phone(), "two"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert!(
        err.detail()
            .unwrap_or_default()
            .contains("1 of 2 chunks failed"),
        "{err}"
    );
}
