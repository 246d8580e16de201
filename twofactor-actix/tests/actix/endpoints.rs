//! `POST /send`, `POST /verify`, `GET /status`, `POST /logout`: every row of the HTTP contract.

use std::sync::Arc;
use std::time::Duration;
use twofactor_actix::store::UnavailableStore;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::Method;
use actix_web::test::TestRequest;
use actix_web::{App, test, web};
use bytes::Bytes;
use futures_util::stream;
use twofactor_actix::provider::{Channel, ProviderErrorKind};
use twofactor_actix::token::TOKEN_LEN;
use twofactor_actix::{Policy, WebConfig};

use crate::support::*;

const SEND_OK: &str =
    r#"{"status":"pending","phone":"+919812345678","expires_in":600,"resend_in":30}"#;

fn send_body(phone: &str) -> String {
    format!(r#"{{"phone":"{phone}"}}"#)
}

fn verify_body(phone: &str, code: &str) -> String {
    format!(r#"{{"phone":"{phone}","code":"{code}"}}"#)
}

// ---- POST /send ----

#[actix_web::test]
async fn send_answers_pending_with_the_normalised_phone() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    // National input in the default region, echoed in E.164.
    let reply = call(
        &app,
        post_json("/phone/send", send_body("98123 45678")).to_request(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body, SEND_OK);
    assert_eq!(kit.mock.send_count(), 1);
    assert_eq!(kit.mock.sent()[0].channel, Channel::Sms);
    // Nothing secret comes back.
    assert!(!reply.text().contains(&kit.code(PHONE)));
}

#[actix_web::test]
async fn send_by_voice() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    let body = format!(r#"{{"phone":"{PHONE}","channel":"voice"}}"#);
    let reply = call(&app, post_json("/phone/send", body).to_request()).await;
    assert_eq!(reply.body, SEND_OK);
    assert_eq!(kit.mock.sent()[0].channel, Channel::Voice);
}

#[actix_web::test]
async fn send_accepts_json_content_types_with_parameters() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    let req = TestRequest::post()
        .uri("/phone/send")
        .insert_header(("content-type", "application/json; charset=utf-8"))
        .set_payload(send_body(PHONE))
        .to_request();
    assert_eq!(call(&app, req).await.body, SEND_OK);
}

#[actix_web::test]
async fn malformed_requests_are_invalid_request() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    let no_content_type = TestRequest::post()
        .uri("/phone/send")
        .set_payload(send_body(PHONE))
        .to_request();
    let text_plain = TestRequest::post()
        .uri("/phone/send")
        .insert_header(("content-type", "text/plain"))
        .set_payload(send_body(PHONE))
        .to_request();
    let form = TestRequest::post()
        .uri("/phone/send")
        .set_form([("phone", PHONE)])
        .to_request();
    for (name, req) in [
        ("no content type", no_content_type),
        ("text/plain", text_plain),
        ("form", form),
    ] {
        let reply = call(&app, req).await;
        let json = reply.assert_error(400, "invalid_request");
        assert_eq!(
            json["message"], "Content-Type must be application/json",
            "{name}"
        );
    }
    for (body, message) in [
        (r#"{"phone":"#, Some("malformed JSON")),
        ("", Some("malformed JSON")),
        (
            r#"{"phone":919812345678}"#,
            Some("a field has the wrong type or value"),
        ),
        (r#"{}"#, Some("missing field `phone`")),
        (
            r#"{"phone":"+919812345678","channel":"fax"}"#,
            Some("a field has the wrong type or value"),
        ),
        // serde_json reports a number where an enum is expected as a syntax error; the
        // message is core's business, the code is the contract's.
        (r#"{"phone":"+919812345678","channel":7}"#, None),
    ] {
        let reply = call(&app, post_json("/phone/send", body).to_request()).await;
        let json = reply.assert_error(400, "invalid_request");
        if let Some(message) = message {
            assert_eq!(json["message"], message, "{body}");
        }
        // Never actix's own text, never the input echoed back.
        assert!(!reply.text().contains("919812345678"), "{body}");
    }
    assert_eq!(kit.mock.send_count(), 0);
}

#[actix_web::test]
async fn bad_and_foreign_phones() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    for phone in ["+91 98765/12345", "98123.45678", "call me", "+91981234567%"] {
        let reply = call(
            &app,
            post_json("/phone/send", send_body(phone)).to_request(),
        )
        .await;
        reply.assert_error(400, "invalid_phone");
    }
    let reply = call(
        &app,
        post_json("/phone/send", send_body("+14155552671")).to_request(),
    )
    .await;
    reply.assert_error(403, "phone_not_allowed");
    assert_eq!(kit.mock.send_count(), 0);
}

#[actix_web::test]
async fn a_second_send_inside_the_cooldown_is_rate_limited() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    call(
        &app,
        post_json("/phone/send", send_body(PHONE)).to_request(),
    )
    .await;
    kit.clock.advance(Duration::from_millis(10_500));
    let reply = call(
        &app,
        post_json("/phone/send", send_body(PHONE)).to_request(),
    )
    .await;
    let json = reply.assert_error(429, "rate_limited");
    // 19.5 s left, rounded up.
    assert_eq!(json["retry_after"], 20);
    assert_eq!(reply.header("retry-after"), Some("20"));
    assert_eq!(kit.mock.send_count(), 1, "no second SMS");
}

#[actix_web::test]
async fn provider_failures() {
    let kit = Kit::with(
        |b| {
            b.policy(
                Policy::builder()
                    .resend_cooldown(Duration::ZERO)
                    .build()
                    .unwrap(),
            )
        },
        |tf| tf,
    );
    let app = phone_app!(kit.tf);
    kit.mock.fail_next_send(ProviderErrorKind::Unreachable);
    let reply = call(
        &app,
        post_json("/phone/send", send_body(PHONE)).to_request(),
    )
    .await;
    reply.assert_error(502, "provider_error");
    kit.mock.fail_next_send(ProviderErrorKind::Timeout);
    let reply = call(
        &app,
        post_json("/phone/send", send_body(PHONE)).to_request(),
    )
    .await;
    reply.assert_error(504, "provider_timeout");
    kit.mock.fail_next_send(ProviderErrorKind::InvalidPhone);
    let reply = call(
        &app,
        post_json("/phone/send", send_body(PHONE)).to_request(),
    )
    .await;
    reply.assert_error(400, "invalid_phone");
}

#[actix_web::test]
async fn a_store_outage_is_503_with_retry_after() {
    let kit = Kit::with(|b| b.shared_store(Arc::new(UnavailableStore)), |tf| tf);
    let app = phone_app!(kit.tf);
    let reply = call(
        &app,
        post_json("/phone/send", send_body(PHONE)).to_request(),
    )
    .await;
    reply.assert_error(503, "service_unavailable");
    assert_eq!(reply.header("retry-after"), Some("5"));
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, "123456")).to_request(),
    )
    .await;
    reply.assert_error(503, "service_unavailable");
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert_eq!(kit.mock.send_count(), 0);
}

// ---- the client address ----

fn one_send_per_ip() -> Kit {
    Kit::with(
        |b| b.policy(Policy::builder().sends_per_ip_per_hour(1).build().unwrap()),
        |tf| tf,
    )
}

#[actix_web::test]
async fn the_peer_address_is_the_client_and_x_forwarded_for_is_ignored_by_default() {
    let kit = one_send_per_ip();
    let app = phone_app!(kit.tf);
    let peer = "10.1.2.3:40000".parse().unwrap();
    let send = |phone: &str, forwarded: &str| {
        post_json("/phone/send", send_body(phone))
            .peer_addr(peer)
            .insert_header(("x-forwarded-for", forwarded.to_owned()))
            .to_request()
    };
    assert_eq!(call(&app, send(PHONE, "203.0.113.1")).await.status, 200);
    let reply = call(&app, send(OTHER_PHONE, "203.0.113.2")).await;
    reply.assert_error(429, "rate_limited");
}

#[actix_web::test]
async fn x_forwarded_for_is_the_client_when_trusted() {
    let kit = Kit::with(
        |b| b.policy(Policy::builder().sends_per_ip_per_hour(1).build().unwrap()),
        |tf| tf.web_config(WebConfig::builder().trust_forwarded_for(1).build().unwrap()),
    );
    let app = phone_app!(kit.tf);
    let peer = "10.1.2.3:40000".parse().unwrap();
    let send = |phone: &str, forwarded: &str| {
        post_json("/phone/send", send_body(phone))
            .peer_addr(peer)
            .insert_header(("x-forwarded-for", forwarded.to_owned()))
            .to_request()
    };
    assert_eq!(call(&app, send(PHONE, "203.0.113.1")).await.status, 200);
    assert_eq!(
        call(&app, send(OTHER_PHONE, "203.0.113.2")).await.status,
        200
    );
    // The right-most address is the one the proxy appended.
    let reply = call(&app, send("+919812345670", "203.0.113.9, 203.0.113.2")).await;
    reply.assert_error(429, "rate_limited");
}

// ---- body size ----

fn padded(len: usize) -> Vec<u8> {
    let mut body = send_body(PHONE).into_bytes();
    body.resize(len, b' ');
    body
}

#[actix_web::test]
async fn bodies_up_to_4_kib_are_read_and_larger_ones_refused_by_content_length() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    let reply = call(&app, post_json("/phone/send", padded(4096)).to_request()).await;
    assert_eq!(reply.body, SEND_OK);
    for uri in ["/phone/send", "/phone/verify", "/phone/logout"] {
        let reply = call(&app, post_json(uri, padded(4097)).to_request()).await;
        let json = reply.assert_error(413, "payload_too_large");
        assert_eq!(json["message"], "request bodies are limited to 4096 bytes");
    }
    assert_eq!(kit.mock.send_count(), 1);
}

/// A request without `Content-Length`, its body arriving from `stream` (as with chunked
/// transfer encoding).
macro_rules! streamed {
    ($uri:expr, $stream:expr) => {{
        let mut req = post_json($uri, "").to_request();
        req.headers_mut().remove("content-length");
        let stream: std::pin::Pin<
            Box<dyn futures_util::Stream<Item = Result<Bytes, PayloadError>>>,
        > = Box::pin($stream);
        let payload = Payload::Stream { payload: stream };
        req.replace_payload(payload).0
    }};
}

fn chunks_of(
    body: Vec<u8>,
    size: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, PayloadError>> {
    let chunks: Vec<_> = body
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(chunks)
}

#[actix_web::test]
async fn streamed_bodies_are_counted_while_read() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    let reply = call(&app, streamed!("/phone/send", chunks_of(padded(4096), 100))).await;
    assert_eq!(reply.body, SEND_OK);
    let reply = call(
        &app,
        streamed!("/phone/verify", chunks_of(padded(5000), 100)),
    )
    .await;
    reply.assert_error(413, "payload_too_large");
    // A body that would never end is cut off at the limit.
    let endless = stream::repeat_with(|| Ok(Bytes::from_static(&[b' '; 512])));
    let reply = call(&app, streamed!("/phone/send", endless)).await;
    reply.assert_error(413, "payload_too_large");
    assert_eq!(kit.mock.send_count(), 1);
}

#[actix_web::test]
async fn a_body_that_breaks_off_is_invalid_request() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    let chunks = stream::iter([
        Ok(Bytes::from_static(br#"{"phone":"#)),
        Err(PayloadError::Incomplete(None)),
    ]);
    let reply = call(&app, streamed!("/phone/send", chunks)).await;
    let json = reply.assert_error(400, "invalid_request");
    assert_eq!(json["message"], "the request body could not be read");
    let reply = call(
        &app,
        streamed!(
            "/phone/send",
            stream::iter([Err::<Bytes, _>(PayloadError::Overflow)])
        ),
    )
    .await;
    reply.assert_error(413, "payload_too_large");
}

// ---- POST /verify ----

/// Sends a code to `phone` through `app`.
macro_rules! send_code {
    ($app:expr, $phone:expr) => {
        assert_eq!(
            call(
                &$app,
                post_json("/phone/send", send_body($phone)).to_request()
            )
            .await
            .status,
            200
        )
    };
}

#[actix_web::test]
async fn verify_answers_the_token_and_sets_the_cookie() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    send_code!(app, PHONE);
    let code = kit.code(PHONE);
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body("98123-45678", &code)).to_request(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    let token = json["token"].as_str().unwrap();
    assert_eq!(token.len(), TOKEN_LEN);
    assert_eq!(
        reply.text(),
        format!(
            r#"{{"status":"verified","phone":"+919812345678","token":"{token}","expires_in":86400}}"#
        )
    );
    assert_eq!(
        reply.header("set-cookie").unwrap(),
        format!("twofactor_phone={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=86400; Secure")
    );
    assert_eq!(reply.headers.get_all("set-cookie").count(), 1);
    // The code is consumed.
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, &code)).to_request(),
    )
    .await;
    reply.assert_error(410, "code_expired");
}

#[actix_web::test]
async fn the_cookie_follows_the_configuration() {
    let kit = Kit::with(
        |b| {
            b.policy(
                Policy::builder()
                    .token_ttl(Duration::from_secs(3600))
                    .build()
                    .unwrap(),
            )
        },
        |tf| {
            tf.web_config(
                WebConfig::builder()
                    .cookie_name("phone_proof")
                    .cookie_secure(false)
                    .build()
                    .unwrap(),
            )
        },
    );
    let app = phone_app!(kit.tf);
    send_code!(app, PHONE);
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, &kit.code(PHONE))).to_request(),
    )
    .await;
    let json = reply.json();
    assert_eq!(json["expires_in"], 3600);
    let token = json["token"].as_str().unwrap();
    assert_eq!(
        reply.header("set-cookie").unwrap(),
        format!("phone_proof={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=3600")
    );
    // The configured cookie is the one status reads.
    let req = TestRequest::get()
        .uri("/phone/status")
        .insert_header(("cookie", format!("twofactor_phone=x; phone_proof={token}")))
        .to_request();
    assert_eq!(call(&app, req).await.json()["verified"], true);
    let reply = call(&app, TestRequest::post().uri("/phone/logout").to_request()).await;
    assert_eq!(
        reply.header("set-cookie"),
        Some("phone_proof=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0")
    );
}

#[actix_web::test]
async fn verify_error_rows() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    // No code was ever sent.
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, "123456")).to_request(),
    )
    .await;
    reply.assert_error(410, "code_expired");

    send_code!(app, PHONE);
    let code = kit.code(PHONE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // Not the configured shape: refused before the provider, no attempt spent.
    for bad in ["12345", "1234567", "12a456", "١٢٣٤٥٦"] {
        let reply = call(
            &app,
            post_json("/phone/verify", verify_body(PHONE, bad)).to_request(),
        )
        .await;
        reply.assert_error(400, "invalid_code");
    }
    assert_eq!(kit.mock.verify_count(), 0);
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body("+91 98765/12345", wrong)).to_request(),
    )
    .await;
    reply.assert_error(400, "invalid_phone");
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body("+14155552671", wrong)).to_request(),
    )
    .await;
    reply.assert_error(403, "phone_not_allowed");
    for (body, message) in [
        (format!(r#"{{"phone":"{PHONE}"}}"#), "missing field `code`"),
        (
            format!(r#"{{"phone":"{PHONE}","code":123456}}"#),
            "a field has the wrong type or value",
        ),
        ("{\"phone\"".to_owned(), "malformed JSON"),
    ] {
        let reply = call(&app, post_json("/phone/verify", body.clone()).to_request()).await;
        assert_eq!(
            reply.assert_error(400, "invalid_request")["message"],
            message,
            "{body}"
        );
    }

    // Four wrong guesses are 422 with the attempts left, the fifth spends the budget.
    for left in (1..=4).rev() {
        let reply = call(
            &app,
            post_json("/phone/verify", verify_body(PHONE, wrong)).to_request(),
        )
        .await;
        let json = reply.assert_error(422, "incorrect_code");
        assert_eq!(json["attempts_left"], left);
        assert!(reply.header("retry-after").is_none());
    }
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, wrong)).to_request(),
    )
    .await;
    let json = reply.assert_error(429, "too_many_attempts");
    assert_eq!(json["retry_after"], 900);
    assert_eq!(reply.header("retry-after"), Some("900"));
    // The right code is refused too.
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, &code)).to_request(),
    )
    .await;
    reply.assert_error(429, "too_many_attempts");
}

#[actix_web::test]
async fn an_expired_code_is_gone() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    send_code!(app, PHONE);
    kit.clock.advance(Duration::from_secs(601));
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, &kit.code(PHONE))).to_request(),
    )
    .await;
    reply.assert_error(410, "code_expired");
}

#[actix_web::test]
async fn verify_provider_failures() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    send_code!(app, PHONE);
    kit.mock.fail_next_verify(ProviderErrorKind::ServerError);
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, &kit.code(PHONE))).to_request(),
    )
    .await;
    reply.assert_error(502, "provider_error");
    kit.mock.fail_next_verify(ProviderErrorKind::Timeout);
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, &kit.code(PHONE))).to_request(),
    )
    .await;
    reply.assert_error(504, "provider_timeout");
}

// ---- GET /status, POST /logout ----

#[actix_web::test]
async fn status_with_and_without_a_valid_token() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    send_code!(app, PHONE);
    let reply = call(
        &app,
        post_json("/phone/verify", verify_body(PHONE, &kit.code(PHONE))).to_request(),
    )
    .await;
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    let verified_at = kit.now_unix();
    kit.clock.advance(Duration::from_secs(100));

    let expected = format!(
        r#"{{"verified":true,"phone":"+919812345678","verified_at":{verified_at},"expires_in":86300}}"#
    );
    let by_bearer = TestRequest::get()
        .uri("/phone/status")
        .insert_header(bearer(&token))
        .to_request();
    let reply = call(&app, by_bearer).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text(), expected);
    let by_cookie = TestRequest::get()
        .uri("/phone/status")
        .insert_header(("cookie", format!("a=b; twofactor_phone={token}")))
        .to_request();
    assert_eq!(call(&app, by_cookie).await.text(), expected);

    for header in [
        None,
        Some(bearer(&tamper(&token))),
        Some(bearer(&foreign_token())),
        Some(("cookie", "twofactor_phone=garbage".to_owned())),
    ] {
        let mut req = TestRequest::get().uri("/phone/status");
        if let Some(header) = header {
            req = req.insert_header(header);
        }
        let reply = call(&app, req.to_request()).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, r#"{"verified":false}"#);
    }
    kit.clock.advance(Duration::from_secs(86_300));
    let expired = TestRequest::get()
        .uri("/phone/status")
        .insert_header(bearer(&token))
        .to_request();
    assert_eq!(call(&app, expired).await.body, r#"{"verified":false}"#);
}

#[actix_web::test]
async fn logout_clears_the_cookie_with_an_empty_204() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    // No body and no content type needed; a body is ignored.
    for req in [
        TestRequest::post().uri("/phone/logout").to_request(),
        post_json("/phone/logout", "not json at all").to_request(),
    ] {
        let reply = call(&app, req).await;
        assert_eq!(reply.status, 204);
        assert!(reply.body.is_empty());
        assert_eq!(
            reply.header("set-cookie"),
            Some("twofactor_phone=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure")
        );
        assert!(reply.header("content-type").is_none());
    }
}

// ---- routing ----

#[actix_web::test]
async fn wrong_methods_are_405_json_with_allow() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    for (method, uri, allow) in [
        ("GET", "/phone/send", "POST"),
        ("PUT", "/phone/verify", "POST"),
        ("DELETE", "/phone/logout", "POST"),
        ("GET", "/phone/logout", "POST"),
        ("POST", "/phone/status", "GET, HEAD"),
    ] {
        let req = TestRequest::default()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(uri)
            .to_request();
        let reply = call(&app, req).await;
        reply.assert_error(405, "method_not_allowed");
        assert_eq!(reply.header("allow"), Some(allow), "{method} {uri}");
        assert_eq!(
            reply.body,
            r#"{"error":"method_not_allowed","message":"method not allowed"}"#
        );
    }
}

#[actix_web::test]
async fn unknown_paths_under_the_prefix_are_404_json() {
    let kit = Kit::new();
    let app = phone_app!(kit.tf);
    for uri in ["/phone/nope", "/phone/send/extra", "/phone/", "/phone"] {
        let reply = call(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(reply.status, 404, "{uri}");
        assert_eq!(
            reply.body, r#"{"error":"not_found","message":"no such endpoint"}"#,
            "{uri}"
        );
    }
}

#[actix_web::test]
async fn configure_mounts_the_same_endpoints_in_a_scope_of_your_own() {
    let kit = Kit::new();
    let app = test::init_service(
        App::new()
            .wrap(kit.tf.middleware())
            .service(web::scope("/auth/phone").configure(twofactor_actix::configure))
            .route("/other", web::get().to(|| async { "other" })),
    )
    .await;
    let reply = call(
        &app,
        post_json("/auth/phone/send", send_body(PHONE)).to_request(),
    )
    .await;
    assert_eq!(reply.body, SEND_OK);
    let reply = call(
        &app,
        TestRequest::get().uri("/auth/phone/status").to_request(),
    )
    .await;
    assert_eq!(reply.body, r#"{"verified":false}"#);
    let reply = call(
        &app,
        TestRequest::get().uri("/auth/phone/what").to_request(),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"], "not_found");
    // The rest of the app is untouched.
    assert_eq!(
        call(&app, TestRequest::get().uri("/other").to_request())
            .await
            .body,
        "other"
    );
}
