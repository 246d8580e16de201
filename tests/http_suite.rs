//! The HTTP suite: the HTTP contract over real HTTP, written once and run against every adapter's demo
//! app and sessions example (see the `suite!` list at the bottom). The app runs on port 0
//! against a fake 2Factor on loopback; the app's clock is injected, so expiry is tested without
//! sleeping.
//!
//! The sessions examples differ by design in two ways, and the cases say so where it matters:
//! they keep the proof in the app's session (`Adapter::proofs`: the session cookie is set
//! instead of the token cookie), and their `/protected` also needs the app's login and a proof
//! bound to that user (`Adapter::has_login`: see [`protected_token`]).

use std::sync::Arc;
use std::time::Duration;
use twofactor_core::store::UnavailableStore;

use serde_json::json;
use twofactor_core::Policy;
use twofactor_core::config::OtpMode;
use twofactor_core::web::ProofStorage;
use twofactor_tests::{API_KEY, Adapter, Options, Reply, SESSION_COOKIE, TestApp, other_keys};
use wiremock::ResponseTemplate;

const PHONE: &str = "+919812345678";
const OTHER: &str = "+919812345679";

async fn app(adapter: Adapter) -> TestApp {
    TestApp::spawn(adapter, Options::default()).await
}

/// The token cookie this reply set (or cleared), whole.
fn cookie_of(reply: &Reply) -> String {
    reply
        .set_cookie("twofactor_phone")
        .unwrap_or_default()
        .to_owned()
}

/// The attributes of a `Set-Cookie` header, sorted (frameworks write them in their own order).
fn attributes(set_cookie: &str) -> Vec<String> {
    let mut attributes: Vec<String> = set_cookie.split("; ").skip(1).map(str::to_owned).collect();
    attributes.sort();
    attributes
}

fn sorted(attributes: &[&str]) -> Vec<String> {
    let mut attributes: Vec<String> = attributes.iter().map(|a| (*a).to_owned()).collect();
    attributes.sort();
    attributes
}

/// A verified token for `phone` that opens `/protected`, and the `Cookie` header to send along
/// with it. On the demos: the token alone. On the sessions examples `/protected` also needs the
/// app's login and a proof bound to that user: the code is verified while logged in (so the
/// token is bound), and the cookie returned is a fresh login of the same user, which carries no
/// proof of its own — so that what the route checks is still the token.
async fn protected_token(app: &TestApp, phone: &str) -> (String, Option<String>) {
    if !app.adapter.has_login() {
        return (app.verified_token(phone).await, None);
    }
    let login = app.login("suite-user").await;
    let sent = app
        .post_json_as("/phone/send", Some(&login), json!({ "phone": phone }))
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let reply = app.verify_as(Some(&login), phone, &app.code(phone)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let token = reply.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (token, Some(app.login("suite-user").await))
}

/// The `Cookie` header of `login` (if any) and `more`.
fn cookies(login: Option<&str>, more: &str) -> String {
    match login {
        Some(login) => format!("{login}; {more}"),
        None => more.to_owned(),
    }
}

async fn send_returns_pending_with_the_normalised_phone(adapter: Adapter) {
    let app = app(adapter).await;
    let reply = app.send("098123 45678").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.text,
        r#"{"status":"pending","phone":"+919812345678","expires_in":600,"resend_in":30}"#
    );
    let voice = app
        .post_json("/phone/send", json!({"phone": OTHER, "channel": "voice"}))
        .await;
    assert_eq!(voice.status, 200, "{}", voice.text);
    assert!(
        app.fake
            .paths()
            .await
            .iter()
            .any(|p| p.contains("/VOICE/+919812345679/AUTOGEN"))
    );
}

async fn malformed_requests_are_invalid_request(adapter: Adapter) {
    let app = app(adapter).await;
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        (
            "malformed JSON",
            Some("application/json"),
            r#"{"phone": "+91"#,
        ),
        (
            "not an object",
            Some("application/json"),
            r#"["+919812345678"]"#,
        ),
        (
            "missing field",
            Some("application/json"),
            r#"{"channel": "sms"}"#,
        ),
        (
            "ill-typed phone",
            Some("application/json"),
            r#"{"phone": 919812345678}"#,
        ),
        (
            "unknown channel",
            Some("application/json"),
            r#"{"phone": "+919812345678", "channel": "fax"}"#,
        ),
        ("null phone", Some("application/json"), r#"{"phone": null}"#),
        (
            "text/plain",
            Some("text/plain"),
            r#"{"phone": "+919812345678"}"#,
        ),
        (
            "form",
            Some("application/x-www-form-urlencoded"),
            "phone=%2B919812345678",
        ),
        ("no content type", None, r#"{"phone": "+919812345678"}"#),
        ("empty body", Some("application/json"), ""),
    ];
    for (what, content_type, body) in cases {
        let reply = app
            .request("POST", "/phone/send", |b| {
                let b = b.body(body.to_owned());
                match content_type {
                    Some(ct) => b.header("content-type", ct),
                    None => b,
                }
            })
            .await;
        assert_eq!(
            (reply.status, reply.error().as_str()),
            (400, "invalid_request"),
            "{what}: {}",
            reply.text
        );
        assert!(
            reply.json()["message"].is_string(),
            "{what}: a human message"
        );
    }
    let verify_cases = [
        r#"{"phone": "+919812345678"}"#,
        r#"{"phone": "+919812345678", "code": 123456}"#,
    ];
    for body in verify_cases {
        let reply = app
            .request("POST", "/phone/verify", |b| {
                b.header("content-type", "application/json").body(body)
            })
            .await;
        assert_eq!(
            (reply.status, reply.error().as_str()),
            (400, "invalid_request"),
            "{body}"
        );
        assert!(
            !reply.text.contains("123456"),
            "the response does not echo the code"
        );
    }
    assert!(
        app.fake.paths().await.is_empty(),
        "nothing reached the provider"
    );
}

async fn oversized_bodies_get_413(adapter: Adapter) {
    let app = app(adapter).await;
    let big = json!({"phone": PHONE, "pad": "x".repeat(5000)}).to_string();
    for path in ["/phone/send", "/phone/verify", "/phone/logout"] {
        let reply = app
            .request("POST", path, |b| {
                b.header("content-type", "application/json")
                    .body(big.clone())
            })
            .await;
        assert_eq!(
            (reply.status, reply.error().as_str()),
            (413, "payload_too_large"),
            "{path}"
        );
    }
    // Chunked, with no Content-Length: the limit is enforced while reading.
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..10).map(|_| Ok("y".repeat(1000))).collect();
    let reply = app
        .request("POST", "/phone/send", |b| {
            b.header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                    chunks,
                )))
        })
        .await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (413, "payload_too_large")
    );
    let exactly = format!(r#"{{"phone":"{PHONE}","pad":"{}"}}"#, "x".repeat(4096 - 34));
    assert_eq!(exactly.len(), 4096);
    assert_eq!(
        app.request("POST", "/phone/send", |b| b
            .header("content-type", "application/json")
            .body(exactly))
            .await
            .status,
        200
    );
}

async fn bad_and_foreign_phones(adapter: Adapter) {
    let app = app(adapter).await;
    for phone in [
        "",
        "12",
        "+91 98765/43210",
        "+91.9812345678",
        "abc",
        "٩٨١٢٣٤٥٦٧٨",
        "../BAL/SMS",
    ] {
        let reply = app.send(phone).await;
        assert_eq!(
            (reply.status, reply.error().as_str()),
            (400, "invalid_phone"),
            "{phone:?}"
        );
    }
    let reply = app.send("+14155552671").await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (403, "phone_not_allowed")
    );
    assert!(app.fake.paths().await.is_empty());
}

async fn cooldown_and_caps_answer_429_with_retry_after(adapter: Adapter) {
    let app = TestApp::spawn(
        adapter,
        Options {
            trust_forwarded_for: true,
            ..Options::default()
        },
    )
    .await;
    assert_eq!(app.send(PHONE).await.status, 200);
    app.clock.advance(Duration::from_millis(10_500));
    let reply = app.send(PHONE).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (429, "rate_limited")
    );
    assert_eq!(reply.json()["retry_after"], 20);
    assert_eq!(reply.header("retry-after"), Some("20"));
    assert_eq!(
        app.fake.paths().await.len(),
        1,
        "a second send inside the cooldown sends no SMS"
    );

    // Per client IP (from X-Forwarded-For, trusted here); each phone in its own number block
    // (the per-range cap is 10).
    for i in 0..20 {
        let reply = app
            .request("POST", "/phone/send", |b| {
                b.header("content-type", "application/json")
                    .header("x-forwarded-for", "203.0.113.50")
                    .body(json!({"phone": format!("+9198{i:02}543210")}).to_string())
            })
            .await;
        assert_eq!(reply.status, 200, "{i}: {}", reply.text);
    }
    let reply = app
        .request("POST", "/phone/send", |b| {
            b.header("content-type", "application/json")
                .header("x-forwarded-for", "203.0.113.50")
                .body(json!({"phone": "+919876543299"}).to_string())
        })
        .await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (429, "rate_limited")
    );
    assert!(reply.json()["retry_after"].as_u64().unwrap_or(0) >= 1);
}

async fn per_phone_and_overall_caps(adapter: Adapter) {
    let policy = Policy::builder()
        .resend_cooldown(Duration::ZERO)
        .sends_per_hour(7)
        .build()
        .unwrap();
    let app = TestApp::spawn(
        adapter,
        Options {
            policy,
            ..Options::default()
        },
    )
    .await;
    for _ in 0..5 {
        assert_eq!(app.send(PHONE).await.status, 200);
    }
    let reply = app.send(PHONE).await;
    assert_eq!(
        (reply.status, reply.json()["retry_after"].as_u64()),
        (429, Some(3600))
    );
    assert_eq!(app.send(OTHER).await.status, 200);
    assert_eq!(app.send("+919812345670").await.status, 200);
    let reply = app.send("+919812345671").await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (429, "rate_limited"),
        "the overall cap"
    );
    assert_eq!(reply.header("retry-after"), Some("3600"));
}

async fn provider_failures_map_to_502_504_and_400(adapter: Adapter) {
    let app = TestApp::spawn(
        adapter,
        Options {
            provider_timeout: Duration::from_millis(300),
            ..Options::default()
        },
    )
    .await;
    app.fake
        .answer_everything_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"Status": "Error", "Details": "Invalid API Key"})),
        )
        .await;
    let reply = app.send(PHONE).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (502, "provider_error")
    );

    let app = TestApp::spawn(
        adapter,
        Options {
            provider_timeout: Duration::from_millis(300),
            ..Options::default()
        },
    )
    .await;
    app.fake
        .answer_everything_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"Status": "Success", "Details": "x"}))
                .set_delay(Duration::from_secs(3)),
        )
        .await;
    let reply = app.send(PHONE).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (504, "provider_timeout")
    );

    let app = app_with_fake_answer(
        adapter,
        400,
        "Invalid Phone Number - Length Mismatch(Expected: 10)",
    )
    .await;
    let reply = app.send(PHONE).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (400, "invalid_phone"),
        "the provider's verdict on the phone"
    );

    let app = app_with_fake_answer(adapter, 200, "").await;
    app.fake
        .answer_everything_with(ResponseTemplate::new(200).set_body_string("<html>oops</html>"))
        .await;
    let reply = app.send(PHONE).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (502, "provider_error"),
        "an unusable answer"
    );
}

async fn app_with_fake_answer(adapter: Adapter, status: u16, details: &str) -> TestApp {
    let app = app(adapter).await;
    if !details.is_empty() {
        app.fake
            .answer_everything_with(
                ResponseTemplate::new(status)
                    .set_body_json(json!({"Status": "Error", "Details": details})),
            )
            .await;
    }
    app
}

async fn store_failure_is_503_with_retry_after(adapter: Adapter) {
    let store: Arc<dyn twofactor_core::VerificationStore> = Arc::new(UnavailableStore);
    let app = TestApp::spawn(
        adapter,
        Options {
            store: Some(store),
            ..Options::default()
        },
    )
    .await;
    for reply in [app.send(PHONE).await, app.verify(PHONE, "123456").await] {
        assert_eq!(
            (reply.status, reply.error().as_str()),
            (503, "service_unavailable")
        );
        assert_eq!(reply.header("retry-after"), Some("5"));
    }
    assert!(
        app.fake.paths().await.is_empty(),
        "fail closed: nothing sent, nothing verified"
    );
}

async fn verify_returns_a_token_and_the_cookie(adapter: Adapter) {
    let app = app(adapter).await;
    app.send(PHONE).await;
    let code = app.code(PHONE);
    let reply = app.verify("9812345678", &code).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        (
            body["status"].as_str(),
            body["phone"].as_str(),
            body["expires_in"].as_u64()
        ),
        (Some("verified"), Some(PHONE), Some(86_400))
    );
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    assert!(!token.is_empty());
    if adapter.proofs() == ProofStorage::Session {
        return the_proof_went_into_the_session(&app, &reply, &token).await;
    }
    assert_eq!(
        cookie_of(&reply),
        format!("twofactor_phone={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=86400; Secure")
    );
    // The token works as bearer and as cookie.
    let protected = app.get("/protected", Some(&token)).await;
    assert_eq!(protected.status, 200);
    assert_eq!(protected.json()["phone"], PHONE);
    assert!(protected.json()["verified_at"].as_u64().is_some());
    let with_cookie = app
        .request("GET", "/protected", |b| {
            b.header("cookie", format!("twofactor_phone={token}"))
        })
        .await;
    assert_eq!(with_cookie.status, 200);
    assert_eq!(with_cookie.text, protected.text);
}

/// Session mode: the verify answer set the app's session cookie, not the token cookie; that
/// cookie alone carries the proof, and the token in the body works as a bearer token.
async fn the_proof_went_into_the_session(app: &TestApp, reply: &Reply, token: &str) {
    assert_eq!(reply.set_cookie("twofactor_phone"), None, "no token cookie");
    let set = reply
        .set_cookie(SESSION_COOKIE)
        .unwrap_or_else(|| panic!("no session cookie: {:?}", reply.headers));
    assert_eq!(
        attributes(set),
        sorted(&[
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=86400",
            "Secure"
        ])
    );
    assert!(!set.contains(token), "the session cookie is not the token");
    let session = reply.cookie(SESSION_COOKIE).unwrap_or_default();
    let status = app.get_as("/phone/status", Some(&session), None).await;
    assert_eq!(
        (
            status.json()["verified"].as_bool(),
            status.json()["phone"].as_str()
        ),
        (Some(true), Some(PHONE)),
        "the session cookie alone: {}",
        status.text
    );
    let bearer = app.get("/phone/status", Some(token)).await;
    assert_eq!(bearer.json()["phone"], PHONE, "the token as bearer");
    // And /protected, logged in: the bound token as bearer, and the session cookie alone.
    let (token, login) = protected_token(app, OTHER).await;
    let protected = app
        .get_as("/protected", login.as_deref(), Some(&token))
        .await;
    assert_eq!(protected.status, 200, "{}", protected.text);
    assert_eq!(protected.json()["phone"], OTHER);
    assert!(protected.json()["verified_at"].as_u64().is_some());
}

async fn the_cookie_drops_secure_when_configured_off(adapter: Adapter) {
    let app = TestApp::spawn(
        adapter,
        Options {
            cookie_secure: false,
            ..Options::default()
        },
    )
    .await;
    app.send(PHONE).await;
    let reply = app.verify(PHONE, &app.code(PHONE)).await;
    if adapter.proofs() == ProofStorage::Session {
        // The app's session cookie follows the same setting.
        let set = reply.set_cookie(SESSION_COOKIE).unwrap_or_default();
        assert_eq!(
            attributes(set),
            sorted(&["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=86400"]),
            "{set}"
        );
        return;
    }
    let cookie = cookie_of(&reply);
    assert!(
        cookie.ends_with("; HttpOnly; SameSite=Lax; Path=/; Max-Age=86400"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"));
}

async fn malformed_codes_are_invalid_code_and_free(adapter: Adapter) {
    let app = app(adapter).await;
    app.send(PHONE).await;
    for code in [
        "12345",
        "1234567",
        "12 456",
        "١٢٣٤٥٦",
        "../BAL",
        "%2e%2e12",
        "12345a",
        "",
    ] {
        let reply = app.verify(PHONE, code).await;
        assert_eq!(
            (reply.status, reply.error().as_str()),
            (400, "invalid_code"),
            "{code:?}"
        );
    }
    assert_eq!(
        app.fake.verify_calls().await,
        0,
        "never reaches the provider"
    );
    let reply = app.verify(PHONE, &app.wrong_code(PHONE)).await;
    assert_eq!(reply.json()["attempts_left"], 4, "and costs no attempt");
}

async fn expired_used_and_never_sent_codes_are_410(adapter: Adapter) {
    let app = app(adapter).await;
    let reply = app.verify(PHONE, "123456").await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (410, "code_expired"),
        "never sent"
    );
    app.send(PHONE).await;
    let code = app.code(PHONE);
    assert_eq!(app.verify(PHONE, &code).await.status, 200);
    assert_eq!(app.verify(PHONE, &code).await.status, 410, "already used");
    app.clock.advance(Duration::from_secs(30));
    app.send(PHONE).await;
    let code = app.code(PHONE);
    app.clock.advance(Duration::from_secs(600));
    let reply = app.verify(PHONE, &code).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (410, "code_expired"),
        "expired"
    );
}

async fn wrong_codes_count_down_then_lock(adapter: Adapter) {
    let app = app(adapter).await;
    app.send(PHONE).await;
    let (right, wrong) = (app.code(PHONE), app.wrong_code(PHONE));
    for left in [4, 3, 2, 1] {
        let reply = app.verify(PHONE, &wrong).await;
        assert_eq!(
            (reply.status, reply.error().as_str()),
            (422, "incorrect_code")
        );
        assert_eq!(reply.json()["attempts_left"], left);
    }
    let reply = app.verify(PHONE, &wrong).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (429, "too_many_attempts"),
        "the last allowed wrong guess"
    );
    assert_eq!(reply.json()["retry_after"], 900);
    assert_eq!(reply.header("retry-after"), Some("900"));
    let reply = app.verify(PHONE, &right).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (429, "too_many_attempts"),
        "the right code is refused too"
    );
    assert_eq!(app.fake.verify_calls().await, 5);
}

async fn a_resend_does_not_reset_attempts(adapter: Adapter) {
    let app = app(adapter).await;
    app.send(PHONE).await;
    for _ in 0..2 {
        app.verify(PHONE, &app.wrong_code(PHONE)).await;
    }
    app.clock.advance(Duration::from_secs(30));
    assert_eq!(app.send(PHONE).await.status, 200);
    let reply = app.verify(PHONE, &app.wrong_code(PHONE)).await;
    assert_eq!(reply.json()["attempts_left"], 2);
    let reply = app.verify(PHONE, &app.code(PHONE)).await;
    assert_eq!(reply.status, 200, "success resets the count");
}

async fn status_reports_the_token(adapter: Adapter) {
    let app = app(adapter).await;
    assert_eq!(
        app.get("/phone/status", None).await.text,
        r#"{"verified":false}"#
    );
    let token = app.verified_token(PHONE).await;
    let reply = app.get("/phone/status", Some(&token)).await;
    let body = reply.json();
    assert_eq!(
        (
            reply.status,
            body["verified"].as_bool(),
            body["phone"].as_str()
        ),
        (200, Some(true), Some(PHONE))
    );
    assert!(body["verified_at"].as_u64().is_some());
    assert_eq!(body["expires_in"], 86_400);
    let tampered = flip(&token, 10);
    assert_eq!(
        app.get("/phone/status", Some(&tampered)).await.text,
        r#"{"verified":false}"#
    );
    app.clock.advance(Duration::from_secs(86_400));
    assert_eq!(
        app.get("/phone/status", Some(&token)).await.text,
        r#"{"verified":false}"#,
        "expired"
    );
}

fn flip(token: &str, at: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap_or_default()
}

async fn logout_clears_the_cookie(adapter: Adapter) {
    let app = app(adapter).await;
    let reply = app.request("POST", "/phone/logout", |b| b).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.text, "");
    assert_eq!(
        cookie_of(&reply),
        "twofactor_phone=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure"
    );
    if adapter.proofs() == ProofStorage::Session {
        // The proof in the app's session goes too; the app's login is the app's to end.
        let login = app.login("suite-user").await;
        app.post_json_as("/phone/send", Some(&login), json!({ "phone": PHONE }))
            .await;
        let verified = app.verify_as(Some(&login), PHONE, &app.code(PHONE)).await;
        let session = verified.cookie(SESSION_COOKIE).unwrap_or_default();
        let reply = app.request("POST", "/phone/logout", |b| {
            b.header("cookie", session.clone())
        });
        assert_eq!(reply.await.status, 204);
        assert_eq!(
            app.get_as("/phone/status", Some(&session), None).await.text,
            r#"{"verified":false}"#
        );
        assert_eq!(
            app.get_as("/me", Some(&session), None).await.text,
            r#"{"user":"suite-user","phone":null}"#
        );
    }
}

async fn the_guard_refuses_everything_but_a_valid_token(adapter: Adapter) {
    let app = app(adapter).await;
    // On the sessions examples, every request below also carries the app's login.
    let (token, login) = protected_token(&app, PHONE).await;
    let login = login.as_deref();
    let foreign = other_keys().sign(&twofactor_core::PhoneProof::new(
        twofactor_core::PhoneParser::default().parse(PHONE).unwrap(),
        std::time::SystemTime::now(),
        Duration::from_secs(3600),
    ));
    let expected =
        r#"{"error":"phone_verification_required","message":"verify your phone number first"}"#;
    for (what, auth) in [
        ("no token", None),
        ("tampered", Some(flip(&token, 40))),
        ("garbage", Some("not-a-token".to_owned())),
        ("signed with an unknown key", Some(foreign)),
    ] {
        let reply = app.get_as("/protected", login, auth.as_deref()).await;
        assert_eq!(reply.status, 401, "{what}");
        assert_eq!(reply.text, expected, "{what}");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"phone\""),
            "{what}"
        );
    }
    let tampered = cookies(login, &format!("twofactor_phone={}", flip(&token, 5)));
    let cookie = app.get_as("/protected", Some(&tampered), None).await;
    assert_eq!(cookie.status, 401, "tampered cookie");
    assert_eq!(
        app.get_as("/protected/recent", login, Some(&token))
            .await
            .status,
        200,
        "fresh"
    );
    app.clock.advance(Duration::from_secs(301));
    let stale = app.get_as("/protected/recent", login, Some(&token)).await;
    assert_eq!(
        (stale.status, stale.error().as_str()),
        (401, "phone_verification_stale")
    );
    assert_eq!(
        app.get_as("/protected", login, Some(&token)).await.status,
        200,
        "still valid where freshness is not demanded"
    );
    app.clock.advance(Duration::from_secs(86_400));
    assert_eq!(
        app.get_as("/protected", login, Some(&token)).await.status,
        401,
        "expired"
    );
}

async fn parallel_wrong_guesses_compare_exactly_max_attempts(adapter: Adapter) {
    let app = app(adapter).await;
    app.send(PHONE).await;
    let wrong = app.wrong_code(PHONE);
    let statuses = app.verify_together(&[&app.base], 100, PHONE, &wrong).await;
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    assert_eq!((count(422), count(429)), (4, 96), "{statuses:?}");
    assert_eq!(
        app.fake.verify_calls().await,
        5,
        "exactly max_attempts reached the provider"
    );
}

async fn parallel_replays_of_the_right_code_verify_once(adapter: Adapter) {
    for mode in [OtpMode::Provider, OtpMode::Local] {
        let app = TestApp::spawn(
            adapter,
            Options {
                mode,
                ..Options::default()
            },
        )
        .await;
        app.send(PHONE).await;
        let code = app.code(PHONE);
        let statuses = app.verify_together(&[&app.base], 20, PHONE, &code).await;
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(ok, 1, "{mode:?}: exactly one request is verified");
    }
}

async fn path_injection_reaches_no_provider_request(adapter: Adapter) {
    let app = app(adapter).await;
    let nasty = [
        "..",
        "../BAL/SMS",
        "1/2",
        "%2e%2e",
        "+91 98765/43210",
        "١٢٣٤٥٦",
        "+919812345678/../../BAL/SMS",
        "+919812345678%2F..",
        "+919812345678?x=1",
        "+919812345678#",
    ];
    for input in nasty {
        assert_eq!(app.send(input).await.status, 400, "{input:?}");
        assert_eq!(app.verify(input, "123456").await.status, 400, "{input:?}");
    }
    let long = "9".repeat(10_000);
    assert_eq!(app.send(&long).await.status, 413);
    app.send(PHONE).await;
    for code in nasty
        .iter()
        .copied()
        .chain(["12345/", "1234%2F", "123456/../../BAL"])
    {
        assert_eq!(app.verify(PHONE, code).await.status, 400, "{code:?}");
    }
    let paths = app.fake.paths().await;
    assert_eq!(paths.len(), 1, "only the legitimate send: {paths:?}");
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("BAL") && !p.contains("..") && !p.contains('%')),
        "{paths:?}"
    );
}

async fn no_response_carries_a_code_a_session_id_or_the_key(adapter: Adapter) {
    for mode in [OtpMode::Provider, OtpMode::Local] {
        let app = TestApp::spawn(
            adapter,
            Options {
                mode,
                ..Options::default()
            },
        )
        .await;
        let token = app.verified_token(PHONE).await;
        app.send(OTHER).await;
        app.verify(OTHER, &app.wrong_code(OTHER)).await;
        let mut secrets: Vec<String> = Vec::new();
        app.get("/phone/status", Some(&token)).await;
        app.get("/protected", Some(&token)).await;
        app.request("POST", "/phone/logout", |b| b).await;
        if adapter.has_login() {
            // The app's own routes too, with a proof in the session.
            let (token, login) = protected_token(&app, "+919812345670").await;
            app.get_as("/me", login.as_deref(), None).await;
            app.get_as("/protected", login.as_deref(), Some(&token))
                .await;
            app.request("POST", "/logout", |b| b.bearer_auth(&token))
                .await;
            secrets.push(app.code("+919812345670"));
        }
        secrets.extend([API_KEY.to_owned(), app.code(PHONE), app.code(OTHER)]);
        secrets.extend(app.fake.session_ids());
        for reply in app.replies() {
            let all = format!("{:?} {}", reply.headers, reply.text);
            for secret in &secrets {
                assert!(
                    !all.contains(secret.as_str()),
                    "{mode:?}: {secret} leaked in {all}"
                );
            }
        }
    }
}

async fn unknown_routes_and_methods_answer_json(adapter: Adapter) {
    let app = app(adapter).await;
    let reply = app.get("/phone/send", None).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (405, "method_not_allowed")
    );
    let reply = app.request("DELETE", "/phone/status", |b| b).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (405, "method_not_allowed")
    );
    let reply = app.get("/phone/nope", None).await;
    assert_eq!((reply.status, reply.error().as_str()), (404, "not_found"));
}

async fn demo_surface(adapter: Adapter) {
    let app = app(adapter).await;
    let health = app.get("/health", None).await;
    assert_eq!(
        (health.status, health.text.as_str()),
        (200, r#"{"ok":true}"#)
    );
    assert_eq!(health.header("content-type"), Some("application/json"));
    if adapter.has_login() {
        // No page on the sessions examples; their own routes answer in the contract's shape.
        let me = app.get("/me", None).await;
        assert_eq!((me.status, me.error().as_str()), (401, "login_required"));
        assert!(me.json()["message"].is_string());
        assert_eq!(me.header("content-type"), Some("application/json"));
        return;
    }
    let page = app.get("/", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    assert!(
        page.text.contains("/phone/send")
            && !page.text.contains("http://")
            && !page.text.contains("https://"),
        "self-contained"
    );
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod axum {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(twofactor_tests::Adapter::Axum).await
                }
            )*
        }
        mod actix {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(twofactor_tests::Adapter::Actix).await
                }
            )*
        }
        mod axum_sessions {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(twofactor_tests::Adapter::AxumSessions).await
                }
            )*
        }
        mod actix_sessions {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(twofactor_tests::Adapter::ActixSessions).await
                }
            )*
        }
    };
}

suite!(
    send_returns_pending_with_the_normalised_phone,
    malformed_requests_are_invalid_request,
    oversized_bodies_get_413,
    bad_and_foreign_phones,
    cooldown_and_caps_answer_429_with_retry_after,
    per_phone_and_overall_caps,
    provider_failures_map_to_502_504_and_400,
    store_failure_is_503_with_retry_after,
    verify_returns_a_token_and_the_cookie,
    the_cookie_drops_secure_when_configured_off,
    malformed_codes_are_invalid_code_and_free,
    expired_used_and_never_sent_codes_are_410,
    wrong_codes_count_down_then_lock,
    a_resend_does_not_reset_attempts,
    status_reports_the_token,
    logout_clears_the_cookie,
    the_guard_refuses_everything_but_a_valid_token,
    parallel_wrong_guesses_compare_exactly_max_attempts,
    parallel_replays_of_the_right_code_verify_once,
    path_injection_reaches_no_provider_request,
    no_response_carries_a_code_a_session_id_or_the_key,
    unknown_routes_and_methods_answer_json,
    demo_surface,
    the_happy_path_runs_with_every_provider,
);

async fn the_happy_path_runs_with_every_provider(adapter: Adapter) {
    use twofactor_core::{OctopushProvider, VerihubsProvider};
    let verihubs = twofactor_tests::FakeOtpServer::verihubs().await;
    let octopush = twofactor_tests::FakeOtpServer::octopush().await;
    // (name, provider other than 2Factor, its fake, 2Factor's mode)
    type Case<'a> = (
        &'a str,
        Option<Arc<dyn twofactor_core::OtpProvider>>,
        Option<&'a twofactor_tests::FakeOtpServer>,
        OtpMode,
    );
    let providers: Vec<Case<'_>> = vec![
        ("2factor provider mode", None, None, OtpMode::Provider),
        ("2factor local mode", None, None, OtpMode::Local),
        (
            "verihubs",
            Some(Arc::new(
                VerihubsProvider::builder("app-id", "vh-secret")
                    .base_url(verihubs.uri())
                    .build()
                    .unwrap(),
            )),
            Some(&verihubs),
            OtpMode::Provider,
        ),
        (
            "octopush",
            Some(Arc::new(
                OctopushProvider::builder("login@example.com", "octo-secret")
                    .base_url(octopush.uri())
                    .build()
                    .unwrap(),
            )),
            Some(&octopush),
            OtpMode::Provider,
        ),
    ];
    for (name, provider, fake, mode) in providers {
        let app = TestApp::spawn(
            adapter,
            Options {
                provider,
                mode,
                ..Options::default()
            },
        )
        .await;
        // On the sessions examples: logged in, so that the proof opens /protected.
        let login = match adapter.has_login() {
            true => Some(app.login("suite-user").await),
            false => None,
        };
        let login = login.as_deref();
        let sent = app
            .post_json_as("/phone/send", login, json!({ "phone": PHONE }))
            .await;
        assert_eq!(sent.status, 200, "{name}: {}", sent.text);
        let code = match fake {
            Some(f) => f
                .code(PHONE)
                .unwrap_or_else(|| panic!("{name}: no code sent")),
            None => app.code(PHONE),
        };
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let reply = app.verify_as(login, PHONE, wrong).await;
        assert_eq!(
            (reply.status, reply.json()["attempts_left"].as_u64()),
            (422, Some(4)),
            "{name}: {}",
            reply.text
        );
        let reply = app.verify_as(login, PHONE, &code).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text);
        let token = reply.json()["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let fresh = match adapter.has_login() {
            true => Some(app.login("suite-user").await),
            false => None,
        };
        assert_eq!(
            app.get_as("/protected", fresh.as_deref(), Some(&token))
                .await
                .status,
            200,
            "{name}"
        );
        for reply in app.replies() {
            assert!(
                !reply.text.contains(&code) && !reply.text.contains("secret"),
                "{name}: {}",
                reply.text
            );
        }
    }
}
