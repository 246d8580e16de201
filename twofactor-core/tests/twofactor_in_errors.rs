//! Every documented error string, unusable answers, timeouts and refused connections: each
//! gives a clear typed error, maps onto the right `ProviderError`, and never shows the API key.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use twofactor_core::transport::{BaseUrlError, HttpOptions};
use twofactor_core::twofactor_in::{
    OtpKind, SessionId, SmsRequest, TransportFailure, TwoFactorInClient, TwoFactorInError,
    TwoFactorInProvider,
};
use twofactor_core::{Delivery, OtpProvider, ProviderError, ProviderErrorKind, SendOptions};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Clone, Copy, Debug)]
enum Call {
    SendOtp,
    CustomOtp,
    Verify,
    Sms,
}

async fn call(client: &TwoFactorInClient, which: Call) -> TwoFactorInError {
    let result = match which {
        Call::SendOtp => client
            .send_otp(&phone(), OtpKind::Autogen, None)
            .await
            .map(|_| ()),
        Call::CustomOtp => client
            .send_custom_otp(&phone(), &code("123456"), None)
            .await
            .map(|_| ()),
        Call::Verify => client
            .verify_otp(&SessionId::new("session-1").unwrap(), &code("123456"))
            .await
            .map(|_| ()),
        Call::Sms => client
            .send_transactional_sms(&SmsRequest::new(phone(), "hi").with_sender("HEADER"))
            .await
            .map(|_| ()),
    };
    result.expect_err("an error")
}

/// Answers every request with `answer`, makes one `which` call, checks the key never shows
/// (in the error and in the `ProviderError` made from it), and returns both.
async fn error_for(answer: ResponseTemplate, which: Call) -> (String, TwoFactorInError) {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(answer).mount(&server).await;
    let err = call(&client(&server), which).await;
    assert_no_key(&err);
    let described = format!("{err:?}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "exactly one request, never a retry"
    );
    (described, err)
}

fn provider(err: TwoFactorInError) -> ProviderError {
    let p = ProviderError::from(err);
    assert_no_key(&p);
    assert_eq!(p.provider(), "2factor");
    assert!(
        p.source()
            .and_then(|s| s.downcast_ref::<TwoFactorInError>())
            .is_some(),
        "the TwoFactorInError is kept as source"
    );
    p
}

use std::error::Error as _;

/// An answer, the call that gets it, the expected error, and its `ProviderErrorKind`.
type Case = (
    ResponseTemplate,
    Call,
    fn(&TwoFactorInError) -> bool,
    ProviderErrorKind,
);

#[tokio::test]
async fn documented_error_strings_map_to_typed_errors() {
    let error =
        |status: u16, details: &str| json(status, json!({"Status": "Error", "Details": details}));
    let cases: Vec<Case> = vec![
        (
            error(400, "Invalid Phone Number - Length Mismatch(Expected: 10)"),
            Call::SendOtp,
            |e| matches!(e, TwoFactorInError::InvalidPhone { details } if details.contains("Expected: 10")),
            ProviderErrorKind::InvalidPhone,
        ),
        (
            error(400, "Invalid API Key"),
            Call::SendOtp,
            |e| matches!(e, TwoFactorInError::InvalidApiKey { .. }),
            ProviderErrorKind::Unauthorized,
        ),
        (
            error(400, "Invalid OTP Code - Length Mismatch(Expected: 4-6)"),
            Call::CustomOtp,
            |e| matches!(e, TwoFactorInError::InvalidCode { .. }),
            ProviderErrorKind::InvalidCode,
        ),
        (
            error(400, "Invalid API / SessionId Combination - No Entry Exists"),
            Call::Verify,
            |e| matches!(e, TwoFactorInError::SessionNotFound),
            ProviderErrorKind::Rejected,
        ),
        (
            error(400, "ERR_DETAILS_GO_HERE"),
            Call::Sms,
            |e| matches!(e, TwoFactorInError::Rejected { status: 400, details } if details == "ERR_DETAILS_GO_HERE"),
            ProviderErrorKind::Rejected,
        ),
        // The sandbox answers errors with HTTP 200.
        (
            error(200, "Invalid API Key"),
            Call::SendOtp,
            |e| matches!(e, TwoFactorInError::InvalidApiKey { .. }),
            ProviderErrorKind::Unauthorized,
        ),
        (
            error(429, "Too many requests").insert_header("Retry-After", "30"),
            Call::SendOtp,
            |e| {
                matches!(e, TwoFactorInError::RateLimited { status: 429, retry_after: Some(d), .. }
                    if *d == Duration::from_secs(30))
            },
            ProviderErrorKind::RateLimited,
        ),
        (
            raw(429, "<html>slow down</html>", "text/html"),
            Call::Sms,
            |e| matches!(e, TwoFactorInError::RateLimited { status: 429, .. }),
            ProviderErrorKind::RateLimited,
        ),
        (
            error(400, "Insufficient Balance In Your Account"),
            Call::Sms,
            |e| matches!(e, TwoFactorInError::QuotaExhausted { .. }),
            ProviderErrorKind::QuotaExhausted,
        ),
        (
            error(400, "Daily SMS limit exceeded"),
            Call::SendOtp,
            |e| matches!(e, TwoFactorInError::RateLimited { status: 400, .. }),
            ProviderErrorKind::RateLimited,
        ),
        (
            error(403, "Access denied from this IP"),
            Call::SendOtp,
            |e| matches!(e, TwoFactorInError::Forbidden { status: 403, .. }),
            ProviderErrorKind::Unauthorized,
        ),
    ];
    for (answer, which, expected, kind) in cases {
        let (described, err) = error_for(answer, which).await;
        assert!(expected(&err), "{which:?}: {described}");
        assert_eq!(err.delivery(), Delivery::NotSent, "{described}");
        let p = provider(err);
        assert_eq!(p.kind(), kind, "{described}");
        assert_eq!(p.delivery(), Delivery::NotSent, "{described}");
    }
}

#[tokio::test]
async fn unusable_answers_are_unexpected_responses() {
    let cases = [
        (
            raw(
                200,
                "<!DOCTYPE html><html><body>Welcome</body></html>",
                "text/html",
            ),
            "HTML",
        ),
        (
            raw(200, "garbage \u{1}\u{2} garbage", "text/plain"),
            "not JSON",
        ),
        (raw(200, "", "text/plain"), "empty body"),
        (raw(200, "[1, 2, 3]", "application/json"), "not an object"),
        (json(200, json!({"hello": "world"})), "without Status"),
        (json(200, json!({"Status": "Success"})), "without Details"),
    ];
    for (answer, reason) in cases {
        let (described, err) = error_for(answer, Call::SendOtp).await;
        assert!(
            matches!(&err, TwoFactorInError::UnexpectedResponse { status: 200, reason: r, .. } if r.contains(reason)),
            "{described}"
        );
        assert!(err.to_string().contains("HTTP 200"), "{err}");
        // A 2xx that cannot be read may have sent the code.
        assert_eq!(err.delivery(), Delivery::MaybeSent);
        let p = provider(err);
        assert_eq!(p.kind(), ProviderErrorKind::UnexpectedResponse);
        assert_eq!(p.delivery(), Delivery::MaybeSent);
    }
    // An unreadable refusal sent nothing.
    let (_, err) = error_for(raw(404, "<html>Not Found</html>", "text/html"), Call::Sms).await;
    assert!(matches!(
        err,
        TwoFactorInError::UnexpectedResponse { status: 404, .. }
    ));
    assert_eq!(provider(err).delivery(), Delivery::NotSent);
}

#[tokio::test]
async fn a_timeout_is_clear_and_may_have_reached_2factor() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            json(200, json!({"Status": "Success", "Details": "late"}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let client = TwoFactorInClient::builder(KEY)
        .base_url(server.uri())
        .http(HttpOptions::default().with_timeout(Duration::from_millis(200)))
        .build()
        .unwrap();
    let err = call(&client, Call::SendOtp).await;
    assert!(
        matches!(
            err,
            TwoFactorInError::Transport {
                failure: TransportFailure::Timeout,
                may_have_reached: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("did not answer in time"), "{err}");
    assert!(err.to_string().contains("may have reached"), "{err}");
    assert_no_key(&err);
    let p = provider(err);
    assert_eq!(p.kind(), ProviderErrorKind::Timeout);
    assert_eq!(p.delivery(), Delivery::MaybeSent);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_clear_and_sent_nothing() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = TwoFactorInClient::builder(KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    for which in [Call::SendOtp, Call::Verify, Call::Sms] {
        let err = call(&client, which).await;
        assert!(
            matches!(
                err,
                TwoFactorInError::Transport {
                    failure: TransportFailure::Connect,
                    may_have_reached: false,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("did not reach"), "{err}");
        assert!(err.source().is_some());
        assert_no_key(&err);
        let p = provider(err);
        assert_eq!(p.kind(), ProviderErrorKind::Unreachable);
        assert_eq!(p.delivery(), Delivery::NotSent);
    }
}

#[tokio::test]
async fn a_key_echoed_by_2factor_is_scrubbed() {
    let echo = format!("Key {KEY} is not valid for /API/V1/{KEY}/SMS");
    let cases = [
        json(400, json!({"Status": "Error", "Details": echo})),
        json(500, json!({"Status": "Error", "Details": echo})),
        raw(200, &format!("<html>{echo}</html>"), "text/html"),
        raw(400, &format!("plain {echo}"), "text/plain"),
    ];
    for answer in cases {
        let (described, _) = error_for(answer, Call::SendOtp).await;
        assert!(described.contains("[REDACTED]"), "{described}");
    }
}

#[tokio::test]
async fn client_side_refusals_send_nothing_and_map_to_rejected() {
    let server = MockServer::start().await;
    let err = client(&server)
        .send_transactional_sms(&SmsRequest::new(phone(), "no sender"))
        .await
        .unwrap_err();
    assert_no_key(&err);
    let p = provider(err);
    assert_eq!(
        (p.kind(), p.delivery()),
        (ProviderErrorKind::Rejected, Delivery::NotSent)
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_configuration_is_an_error_not_a_panic() {
    for base in [
        "",
        "not a url",
        "ftp://2factor.in",
        "mailto:someone@2factor.in",
        "http://2factor.in/?a=1",
        "http://2factor.in/#f",
        "http://",
    ] {
        let result = TwoFactorInClient::builder(KEY).base_url(base).build();
        match result {
            Err(err @ TwoFactorInError::InvalidBaseUrl(_)) => assert_no_key(&err),
            other => panic!("{base:?}: {other:?}"),
        }
    }
    for key in ["", "   ", "..", "a\nb"] {
        assert!(matches!(
            TwoFactorInClient::builder(key).build(),
            Err(TwoFactorInError::Config { .. })
        ));
    }
    assert!(matches!(
        TwoFactorInClient::builder(KEY).sender_id(" ").build(),
        Err(TwoFactorInError::Config { .. })
    ));
    let ok = TwoFactorInClient::builder(KEY).build().unwrap();
    assert_eq!(ok.base_url(), "https://2factor.in");
}

#[tokio::test]
async fn a_key_with_reserved_characters_is_one_encoded_segment() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(json(200, json!({"Status": "Success", "Details": "s"})))
        .mount(&server)
        .await;
    let client = TwoFactorInClient::builder("k/e y?#")
        .base_url(server.uri())
        .build()
        .unwrap();
    client
        .send_otp(&phone(), OtpKind::Autogen, None)
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests[0].url.path(),
        "/API/V1/k%2Fe%20y%3F%23/SMS/+919812345678/AUTOGEN"
    );
}

#[tokio::test]
async fn a_5xx_from_2factor_or_a_gateway_may_have_sent() {
    // The typed errors keep the status and 2Factor's words, if the body had any.
    let (_, err) = error_for(
        json(500, json!({"Status": "Error", "Details": "Internal error"})),
        Call::SendOtp,
    )
    .await;
    assert!(
        matches!(&err, TwoFactorInError::ServerError { status: 500, details: Some(d) } if d == "Internal error"),
        "{err:?}"
    );
    let (_, err) = error_for(
        raw(
            503,
            "<html><body>Service Unavailable</body></html>",
            "text/html",
        ),
        Call::Verify,
    )
    .await;
    assert!(
        matches!(
            err,
            TwoFactorInError::ServerError {
                status: 503,
                details: None
            }
        ),
        "{err:?}"
    );
    for (what, answer) in server_failures() {
        for which in [Call::SendOtp, Call::CustomOtp, Call::Sms] {
            let (described, err) = error_for(answer.clone(), which).await;
            assert!(
                matches!(err, TwoFactorInError::ServerError { .. }),
                "{what} {which:?}: {described}"
            );
            assert_eq!(err.delivery(), Delivery::MaybeSent, "{what} {which:?}");
            let p = provider(err);
            assert_eq!(
                (p.kind(), p.delivery()),
                (ProviderErrorKind::ServerError, Delivery::MaybeSent),
                "{what} {which:?}"
            );
        }
        // And as the engine's provider sees it.
        let server = MockServer::start().await;
        Mock::given(any()).respond_with(answer).mount(&server).await;
        let err = TwoFactorInProvider::new(client(&server))
            .send(&phone(), &SendOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.delivery()),
            (ProviderErrorKind::ServerError, Delivery::MaybeSent),
            "{what}"
        );
    }
    // An oversized 5xx body is unreadable, and still may have sent.
    let (_, err) = error_for(
        raw(502, &"x".repeat(2 * 1024 * 1024), "text/html"),
        Call::Sms,
    )
    .await;
    assert_eq!(err.delivery(), Delivery::MaybeSent, "{err:?}");
}

#[tokio::test]
async fn a_connection_dropped_after_the_request_may_have_sent() {
    for how in [Hangup::Close, Hangup::Reset] {
        let (url, seen) = dropping_server(how).await;
        let client = TwoFactorInClient::builder(KEY)
            .base_url(url)
            .build()
            .unwrap();
        for which in [Call::SendOtp, Call::Sms] {
            let err = call(&client, which).await;
            assert!(
                matches!(
                    err,
                    TwoFactorInError::Transport {
                        may_have_reached: true,
                        ..
                    }
                ),
                "{how:?} {which:?}: {err:?}"
            );
            assert_no_key(&err);
            let p = provider(err);
            assert_eq!(p.delivery(), Delivery::MaybeSent, "{how:?} {which:?}");
        }
        let err = TwoFactorInProvider::new(client)
            .send(&phone(), &SendOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.delivery(), Delivery::MaybeSent, "{how:?}: {err}");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3, "{how:?}");
    }
}

#[tokio::test]
async fn a_failed_tls_handshake_sent_nothing() {
    let client = TwoFactorInClient::builder(KEY)
        .base_url(tls_failing_url().await)
        .build()
        .unwrap();
    let err = call(&client, Call::SendOtp).await;
    assert!(
        matches!(
            err,
            TwoFactorInError::Transport {
                failure: TransportFailure::Connect,
                may_have_reached: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(provider(err).delivery(), Delivery::NotSent);
}

#[tokio::test]
async fn a_base_url_with_credentials_is_refused_and_never_shown() {
    for url in [
        "https://user:pw-SECRET@2factor.in",
        "https://pw-SECRET@2factor.in/",
        "http://user:pw-SECRET@127.0.0.1:9",
    ] {
        let builder = TwoFactorInClient::builder(KEY).base_url(url);
        let debug = format!("{builder:?}");
        assert!(!debug.contains("pw-SECRET"), "{debug}");
        let err = builder.build().unwrap_err();
        assert!(
            matches!(
                err,
                TwoFactorInError::InvalidBaseUrl(BaseUrlError::Credentials)
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("credentials"), "{err}");
        assert_no_key(&err);
        for text in chain_texts(&err) {
            assert!(!text.contains("pw-SECRET"), "{text}");
        }
    }
}
