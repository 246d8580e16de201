//! Transactional and promotional SMS (`POST /API/R1/`), scheduling included.

mod common;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use serde_json::json;
use twofactor_core::clock::ManualClock;
use twofactor_core::twofactor_in::{SmsRequest, TwoFactorInError};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer};

async fn mount_r1(server: &MockServer, status: u16, body: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path("/API/R1/"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(json(status, body))
        .mount(server)
        .await;
}

async fn only_form(server: &MockServer) -> std::collections::HashMap<String, String> {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    form(&requests[0].body)
}

#[tokio::test]
async fn transactional_sms_sends_every_documented_field() {
    let server = MockServer::start().await;
    mount_r1(
        &server,
        200,
        json!({"Status": "Success", "Details": "09cfe5b29d000018a3acb36000000001"}),
    )
    .await;
    let sms = SmsRequest::new(
        phone(),
        "Your order 42 has shipped: https://example.com/o/42",
    )
    .and_to(other_phone())
    .with_sender("HEADER")
    .with_dlt_ids("1201159222222222222", "1207161111111111111")
    .with_campaign(
        "PromoCampaign",
        Some("https://example.com/clicks?a=1&b=2".into()),
    )
    .with_shortened_urls(
        Some("https://example.com/short".into()),
        Some("cb value".into()),
    );
    let sent = client(&server).send_transactional_sms(&sms).await.unwrap();
    assert_eq!(sent.message_id, "09cfe5b29d000018a3acb36000000001");

    let f = only_form(&server).await;
    assert_eq!(f["module"], "TRANS_SMS");
    assert_eq!(f["apikey"], KEY);
    assert_eq!(f["to"], "919812345678,919876543210");
    assert_eq!(f["from"], "HEADER");
    assert_eq!(
        f["msg"],
        "Your order 42 has shipped: https://example.com/o/42"
    );
    assert_eq!(f["peid"], "1201159222222222222");
    assert_eq!(f["ctid"], "1207161111111111111");
    assert_eq!(f["campaignname"], "PromoCampaign");
    assert_eq!(f["campaignwebhook"], "https://example.com/clicks?a=1&b=2");
    assert_eq!(f["shortenurl"], "1");
    assert_eq!(f["shortenurlwebhook"], "https://example.com/short");
    assert_eq!(f["shortenurlcallback"], "cb value");
    assert!(!f.contains_key("scheduletime"));
}

#[tokio::test]
async fn promotional_sms_uses_its_module_and_the_default_sender() {
    let server = MockServer::start().await;
    mount_r1(
        &server,
        200,
        json!({"Status": "Success", "Details": "promo-1"}),
    )
    .await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let sent = client
        .send_promotional_sms(&SmsRequest::new(phone(), "50% off today"))
        .await
        .unwrap();
    assert_eq!(sent.message_id, "promo-1");
    let f = only_form(&server).await;
    assert_eq!(f["module"], "PROMO_SMS");
    assert_eq!(f["from"], "TFACTR");
    assert_eq!(f["to"], "919812345678");
    assert!(!f.contains_key("shortenurl"));
}

#[tokio::test]
async fn an_error_answer_keeps_2factor_words() {
    let server = MockServer::start().await;
    mount_r1(
        &server,
        400,
        json!({"Status": "Error", "Details": "ERR_DETAILS_GO_HERE"}),
    )
    .await;
    let err = client(&server)
        .send_transactional_sms(&SmsRequest::new(phone(), "hi").with_sender("HEADER"))
        .await
        .unwrap_err();
    match &err {
        TwoFactorInError::Rejected { status, details } => {
            assert_eq!((*status, details.as_str()), (400, "ERR_DETAILS_GO_HERE"));
        }
        other => panic!("{other:?}"),
    }
    assert_no_key(&err);
}

#[tokio::test]
async fn unusable_messages_are_refused_before_any_request() {
    let server = MockServer::start().await;
    let client = client(&server);
    let no_sender = SmsRequest::new(phone(), "hi");
    let empty = SmsRequest::new(phone(), "  ").with_sender("HEADER");
    let nobody = SmsRequest::to_many(vec![], "hi").with_sender("HEADER");
    for sms in [no_sender, empty, nobody] {
        let err = client.send_transactional_sms(&sms).await.unwrap_err();
        assert!(
            matches!(err, TwoFactorInError::InvalidRequest { .. }),
            "{err}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn schedule_is_sent_in_india_time_when_at_least_five_minutes_ahead() {
    let server = MockServer::start().await;
    mount_r1(
        &server,
        200,
        json!({"Status": "Success", "Details": "scheduled"}),
    )
    .await;
    // 2022-01-01 07:52:00 UTC.
    let now = UNIX_EPOCH + Duration::from_secs(1_641_023_520);
    let clock = ManualClock::at(now);
    let client = builder(&server)
        .sender_id("HEADER")
        .clock(Arc::new(clock))
        .build()
        .unwrap();
    // Exactly five minutes ahead: 07:57:00 UTC is 13:27:00 in India.
    let sms = SmsRequest::new(phone(), "later").with_schedule(now + Duration::from_secs(300));
    client.send_transactional_sms(&sms).await.unwrap();
    let f = only_form(&server).await;
    assert_eq!(f["scheduletime"], "2022-01-01 13:27:00");
}

#[tokio::test]
async fn schedule_less_than_five_minutes_ahead_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let clock = ManualClock::new();
    let now = {
        use twofactor_core::clock::Clock;
        clock.now()
    };
    let client = builder(&server)
        .sender_id("HEADER")
        .clock(Arc::new(clock))
        .build()
        .unwrap();
    for at in [
        now + Duration::from_secs(299),
        now,
        now - Duration::from_secs(3600),
    ] {
        let sms = SmsRequest::new(phone(), "too soon").with_schedule(at);
        let err = client.send_transactional_sms(&sms).await.unwrap_err();
        assert!(
            matches!(err, TwoFactorInError::InvalidRequest { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("5 minutes"), "{err}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn sms_request_debug_hides_the_text() {
    let sms = SmsRequest::new(phone(), "Your code is 123456");
    let debug = format!("{sms:?}");
    assert!(!debug.contains("123456"), "{debug}");
    assert!(!debug.contains("9812345678"), "{debug}");
}

#[tokio::test]
async fn a_success_with_an_empty_or_missing_details_is_not_a_success() {
    for (what, body) in [
        ("empty", json!({"Status": "Success", "Details": ""})),
        ("blank", json!({"Status": "Success", "Details": " \n"})),
        ("missing", json!({"Status": "Success"})),
        (
            "unknown Status",
            json!({"Status": "Queued", "Details": "09cf"}),
        ),
    ] {
        for promotional in [false, true] {
            let server = MockServer::start().await;
            mount_r1(&server, 200, body.clone()).await;
            let client = builder(&server).sender_id("TFACTR").build().unwrap();
            let sms = SmsRequest::new(phone(), "Your order has shipped");
            let result = if promotional {
                client.send_promotional_sms(&sms).await
            } else {
                client.send_transactional_sms(&sms).await
            };
            let err = result.expect_err("no request id, no success");
            assert!(
                matches!(
                    err,
                    TwoFactorInError::UnexpectedResponse { status: 200, .. }
                ),
                "{what}: {err:?}"
            );
            assert_eq!(
                err.delivery(),
                twofactor_core::Delivery::MaybeSent,
                "{what}"
            );
            let p = twofactor_core::ProviderError::from(err);
            assert_eq!(
                p.kind(),
                twofactor_core::ProviderErrorKind::UnexpectedResponse
            );
        }
    }
}
