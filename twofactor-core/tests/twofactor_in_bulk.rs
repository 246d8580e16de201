//! Bulk SMS (`POST /API/R1/Bulk/`): shape, chunking, index mapping, failures.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use serde_json::{Value, json};
use twofactor_core::Delivery;
use twofactor_core::twofactor_in::{
    BulkChunkFailure, BulkFailure, BulkMessage, CallbackFormat, TwoFactorInError,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers like 2Factor: messages whose text starts with `reject` are rejected (with their
/// index in the request), the others accepted with `messageId` = `id-<text>`. The request
/// numbered `fail_at` gets a 502 instead.
struct FakeBulk {
    calls: AtomicUsize,
    fail_at: Option<usize>,
}

impl FakeBulk {
    fn new(fail_at: Option<usize>) -> Self {
        Self {
            calls: AtomicUsize::new(0),
            fail_at,
        }
    }
}

impl Respond for FakeBulk {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if Some(n) == self.fail_at {
            return raw(502, "<html>Bad Gateway</html>", "text/html");
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let messages = body["messages"].as_array().unwrap();
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let text = m["smsText"].as_str().unwrap();
            if text.starts_with("reject") {
                rejected.push(json!({"index": i, "phone": m["smsTo"], "reason": "Phone number must match the required format"}));
            } else {
                accepted.push(json!({"messageId": format!("id-{text}"), "smsFrom": m["smsFrom"], "smsTo": m["smsTo"]}));
            }
        }
        json(
            200,
            json!({
                "success": true,
                "requestId": format!("req-{n}"),
                "messageCount": messages.len(),
                "timestamp": "2024-12-16T10:59:17.311Z",
                "processingTime": 1224,
                "queueStats": {"success": true, "totalChunks": 1, "successfulChunks": 1, "failedChunks": 0},
                "messages": accepted,
                "rejectedSamples": rejected,
            }),
        )
    }
}

async fn mount_fake(server: &MockServer, fake: FakeBulk) {
    Mock::given(method("POST"))
        .and(path("/API/R1/Bulk/"))
        .and(header("content-type", "application/json"))
        .respond_with(fake)
        .mount(server)
        .await;
}

const REJECTED: [usize; 5] = [5, 999, 1000, 1003, 2499];

fn messages(n: usize) -> Vec<BulkMessage> {
    (0..n)
        .map(|i| {
            let text = if REJECTED.contains(&i) {
                format!("reject {i}")
            } else {
                format!("msg {i}")
            };
            BulkMessage::new(phone(), text)
        })
        .collect()
}

#[tokio::test]
async fn the_request_has_the_documented_shape() {
    let server = MockServer::start().await;
    mount_fake(&server, FakeBulk::new(None)).await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let batch = [
        BulkMessage::new(phone(), "Welcome! Your verification code is 483920").with_callback(
            Some("order_98765".into()),
            Some("cust_1122".into()),
            CallbackFormat::Json,
        ),
        BulkMessage::new(other_phone(), "Payment received. Thank you!")
            .with_sender("OTHERS")
            .with_callback(
                Some("txn_554433".into()),
                None,
                CallbackFormat::RawUrlEncoded,
            ),
    ];
    let report = client.send_bulk(&batch).await.unwrap();
    assert_eq!(report.accepted.len(), 2);

    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "module": "TRANS_SMS",
            "apikey": KEY,
            "messages": [
                {
                    "smsFrom": "TFACTR",
                    "smsTo": "+919812345678",
                    "smsText": "Welcome! Your verification code is 483920",
                    "callback_value1": "order_98765",
                    "callback_value2": "cust_1122",
                    "callback_format": "json"
                },
                {
                    "smsFrom": "OTHERS",
                    "smsTo": "+919876543210",
                    "smsText": "Payment received. Thank you!",
                    "callback_value1": "txn_554433",
                    "callback_format": "raw-url-encoded"
                }
            ]
        })
    );
}

#[tokio::test]
async fn a_2500_message_send_is_three_requests_with_indices_into_the_input() {
    let server = MockServer::start().await;
    mount_fake(&server, FakeBulk::new(None)).await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let input = messages(2500);
    let report = client.send_bulk(&input).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let sizes: Vec<usize> = requests
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["messages"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    assert_eq!(report.request_ids, ["req-0", "req-1", "req-2"]);

    let rejected: Vec<usize> = report.rejected.iter().map(|r| r.index.unwrap()).collect();
    assert_eq!(rejected, REJECTED);
    for r in &report.rejected {
        assert_eq!(
            input[r.index.unwrap()].text,
            format!("reject {}", r.index.unwrap())
        );
    }
    assert_eq!(report.accepted.len(), 2500 - REJECTED.len());
    for a in &report.accepted {
        let i = a.index.expect("every message accounted for");
        assert_eq!(a.message_id, format!("id-{}", input[i].text));
    }
}

#[tokio::test]
async fn the_documented_answer_maps_accepted_messages_between_rejected_ones() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/API/R1/Bulk/"))
        .respond_with(json(
            200,
            json!({
                "success": true,
                "requestId": "f4bda732-XXXX-XXXX-XXXX-518b4ea82708",
                "messageCount": 2,
                "messages": [
                    {"messageId": "f4bda732-XXXX-XXXX-XXXX-518b4ea82708-1", "smsFrom": "TFACTR", "smsTo": "+91XXXXXXXXXX"},
                    {"messageId": "f4bda732-XXXX-XXXX-XXXX-518b4ea82708-2", "smsFrom": "TFACTR", "smsTo": "+91XXXXXXXXXX"}
                ],
                "rejectedSamples": [
                    {"index": 0, "phone": "+91abcg", "reason": "Phone number should only contain digits (with optional leading + sign)"},
                    {"index": 2, "phone": "+911", "reason": "Phone number must match the required format"},
                    {"index": 4, "phone": "+911", "reason": "Phone number must match the required format"}
                ]
            }),
        ))
        .mount(&server)
        .await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let report = client.send_bulk(&messages(5)).await.unwrap();
    let accepted: Vec<_> = report.accepted.iter().map(|a| a.index).collect();
    assert_eq!(accepted, [Some(1), Some(3)]);
    assert_eq!(
        report.accepted[0].message_id,
        "f4bda732-XXXX-XXXX-XXXX-518b4ea82708-1"
    );
    let rejected: Vec<_> = report.rejected.iter().map(|r| r.index).collect();
    assert_eq!(rejected, [Some(0), Some(2), Some(4)]);
    assert_eq!(report.rejected[0].phone.as_deref(), Some("+91abcg"));
}

#[tokio::test]
async fn a_failure_after_the_first_request_reports_what_was_sent_and_stops() {
    let server = MockServer::start().await;
    mount_fake(&server, FakeBulk::new(Some(1))).await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let err = client.send_bulk(&messages(2500)).await.unwrap_err();
    match &err {
        TwoFactorInError::BulkIncomplete {
            report,
            failed_from,
            total,
            source,
        } => {
            assert_eq!((*failed_from, *total), (1000, 2500));
            assert_eq!(report.accepted.len() + report.rejected.len(), 1000);
            assert!(matches!(
                **source,
                TwoFactorInError::ServerError { status: 502, .. }
            ));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_no_key(&err);
    // No retry, and the third request was never attempted.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_failure_of_the_first_request_is_the_plain_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/API/R1/Bulk/"))
        .respond_with(json(
            400,
            json!({
                "success": false,
                "requestId": "e3de200f-XXXX-XXXX-XXXX-2a9255bb7c51",
                "error": "Validation failed",
                "errorType": "ValidationError",
                "details": [{"field": "apikey", "error": "Invalid API Key Or TRANSACTIONAL_SMS Service Is Inactive"}],
                "timestamp": "2024-12-16T10:59:47.062Z"
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let err = client.send_bulk(&messages(1500)).await.unwrap_err();
    assert!(
        matches!(err, TwoFactorInError::InvalidApiKey { .. }),
        "{err:?}"
    );
    assert_no_key(&err);
}

#[tokio::test]
async fn unusable_messages_are_refused_before_any_request() {
    let server = MockServer::start().await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let mut batch = messages(1200);
    batch[1100] = BulkMessage::new(phone(), "x".repeat(1001));
    let err = client.send_bulk(&batch).await.unwrap_err();
    assert!(
        matches!(&err, TwoFactorInError::InvalidRequest { reason } if reason.contains("message 1100")),
        "{err}"
    );
    let no_sender = client_without_sender(&server)
        .send_bulk(&messages(2))
        .await
        .unwrap_err();
    assert!(matches!(no_sender, TwoFactorInError::InvalidRequest { .. }));
    let empty = client.send_bulk(&[]).await.unwrap();
    assert!(empty.accepted.is_empty() && empty.request_ids.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

fn client_without_sender(server: &MockServer) -> twofactor_core::TwoFactorInClient {
    client(server)
}

#[tokio::test]
async fn the_documented_invalid_json_error_is_a_rejection_with_its_words() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/API/R1/Bulk/"))
        .respond_with(json(
            400,
            json!({
                "success": false,
                "requestId": "147dbbef-XXXX-XXXX-XXXX-6271da57cdca",
                "error": "Validation failed",
                "errorType": "ValidationError",
                "details": [{
                    "error": "Failed to parse request body as JSON",
                    "details": "Expected ',' or ']' after array element in JSON at position 294 (line 15 column 5)"
                }],
                "timestamp": "2024-12-16T11:00:22.700Z"
            }),
        ))
        .mount(&server)
        .await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let err = client.send_bulk(&messages(2)).await.unwrap_err();
    assert!(
        matches!(&err, TwoFactorInError::Rejected { status: 400, details }
            if details.contains("Failed to parse request body as JSON") && details.contains("Validation failed")),
        "{err:?}"
    );
    assert_no_key(&err);
}

#[tokio::test]
async fn a_complete_send_says_so() {
    let server = MockServer::start().await;
    mount_fake(&server, FakeBulk::new(None)).await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let input: Vec<BulkMessage> = (0..1500)
        .map(|i| BulkMessage::new(phone(), format!("msg {i}")))
        .collect();
    let report = client.send_bulk(&input).await.unwrap();
    assert!(report.is_complete());
    assert_eq!(report.failed().count(), 0);
    assert_eq!((report.total, report.unconfirmed()), (1500, 0));
}

#[tokio::test]
async fn rejected_messages_are_a_partial_success() {
    let server = MockServer::start().await;
    mount_fake(&server, FakeBulk::new(None)).await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let report = client.send_bulk(&messages(1200)).await.unwrap();
    assert!(!report.is_complete());
    let rejected: Vec<usize> = report
        .failed()
        .filter_map(|f| match f {
            BulkFailure::Rejected(r) => r.index,
            _ => None,
        })
        .collect();
    assert_eq!(rejected, [5, 999, 1000, 1003]);
    assert_eq!(report.unconfirmed(), 4);
}

/// 2Factor's answer to a request of `n` messages, all listed as accepted, with `queueStats`.
fn answer_with_queue(id: &str, n: usize, listed: usize, queue: Value) -> ResponseTemplate {
    let accepted: Vec<Value> = (0..listed)
        .map(|i| json!({"messageId": format!("{id}-{i}"), "smsFrom": "TFACTR", "smsTo": "+919812345678"}))
        .collect();
    json(
        200,
        json!({
            "success": true,
            "requestId": id,
            "messageCount": n,
            "queueStats": queue,
            "messages": accepted,
        }),
    )
}

/// Answers the requests in turn with `answers`.
struct Sequence(AtomicUsize, Vec<ResponseTemplate>);

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        self.1[n.min(self.1.len() - 1)].clone()
    }
}

#[tokio::test]
async fn failed_queue_chunks_and_unaccounted_messages_are_surfaced() {
    let server = MockServer::start().await;
    let ok = json!({"success": true, "totalChunks": 1, "successfulChunks": 1, "failedChunks": 0});
    let answers = vec![
        // Request 0: every message listed, but 2Factor's queue lost a chunk.
        answer_with_queue(
            "req-0",
            1000,
            1000,
            json!({"success": false, "totalChunks": 4, "successfulChunks": 3, "failedChunks": 1}),
        ),
        // Request 1: a clean queue, but 7 messages neither accepted nor rejected.
        answer_with_queue("req-1", 1000, 993, ok.clone()),
        // Request 2: complete.
        answer_with_queue("req-2", 500, 500, ok),
    ];
    Mock::given(method("POST"))
        .and(path("/API/R1/Bulk/"))
        .respond_with(Sequence(AtomicUsize::new(0), answers))
        .expect(3)
        .mount(&server)
        .await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let input: Vec<BulkMessage> = (0..2500)
        .map(|i| BulkMessage::new(phone(), format!("msg {i}")))
        .collect();
    let report = client.send_bulk(&input).await.unwrap();

    assert!(!report.is_complete(), "{report:?}");
    assert_eq!(report.total, 2500);
    assert_eq!(report.unconfirmed(), 7);
    let chunks: Vec<&BulkChunkFailure> = report
        .failed()
        .filter_map(|f| match f {
            BulkFailure::Chunk(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(chunks.len(), 2, "{chunks:?}");
    assert_eq!(
        (
            chunks[0].chunk,
            chunks[0].messages.clone(),
            chunks[0].unaccounted
        ),
        (0, 0..1000, 0)
    );
    assert!(
        chunks[0].reason.contains("1 of 4 chunks failed"),
        "{}",
        chunks[0].reason
    );
    assert_eq!(
        (
            chunks[1].chunk,
            chunks[1].messages.clone(),
            chunks[1].unaccounted
        ),
        (1, 1000..2000, 7)
    );
    assert!(
        chunks[1].reason.contains("7 of 1000 messages"),
        "{}",
        chunks[1].reason
    );
    // Unaccounted messages cannot be matched to the input in order.
    assert!(
        report.accepted[1000..1993]
            .iter()
            .all(|a| a.index.is_none())
    );
}

#[tokio::test]
async fn an_incomplete_send_names_the_request_that_failed() {
    let server = MockServer::start().await;
    mount_fake(&server, FakeBulk::new(Some(1))).await;
    let client = builder(&server).sender_id("TFACTR").build().unwrap();
    let err = client.send_bulk(&messages(2500)).await.unwrap_err();
    let TwoFactorInError::BulkIncomplete { report, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(!report.is_complete());
    assert_eq!(report.total, 2500);
    let failed = &report.failed_chunks[..];
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        (
            failed[0].chunk,
            failed[0].messages.clone(),
            failed[0].unaccounted
        ),
        (1, 1000..2000, 1000)
    );
    assert!(failed[0].reason.contains("502"), "{}", failed[0].reason);
    assert!(!failed[0].reason.contains(KEY));
}
