//! The sessions examples (`axum_sessions`, `actix_sessions`) over real HTTP: a verified phone
//! is bound to the logged-in user in the verify request itself, lives in the app's session,
//! and never passes as another user's. Each case runs for both examples (the `both!` list at
//! the bottom).
//!
//! The client keeps no cookie jar: every case reads the `Set-Cookie` answers and sends the
//! cookies it means to, as a browser would — including the stale ones a browser would not.

use serde_json::json;
use twofactor_examples::sessions::Setup;
use twofactor_tests::{Adapter, Options, Reply, SESSION_COOKIE, TestApp};

const PHONE: &str = "+919812345678";
const OTHER: &str = "+919812345679";

async fn app(adapter: Adapter) -> TestApp {
    TestApp::spawn(adapter, Options::default()).await
}

/// `POST /phone/send` with the session cookie `cookie`.
async fn send_as(app: &TestApp, cookie: Option<&str>, phone: &str) -> Reply {
    app.post_json_as("/phone/send", cookie, json!({ "phone": phone }))
        .await
}

/// Sends a code with `cookie` and verifies it with `cookie`; the verify answer.
async fn verify_flow(app: &TestApp, cookie: Option<&str>, phone: &str) -> Reply {
    let sent = send_as(app, cookie, phone).await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let reply = app.verify_as(cookie, phone, &app.code(phone)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
}

fn session_of(reply: &Reply) -> String {
    reply
        .cookie(SESSION_COOKIE)
        .unwrap_or_else(|| panic!("no session cookie set: {:?}", reply.headers))
}

fn token_of(reply: &Reply) -> String {
    reply.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn verify_binds_the_phone_in_the_same_request(adapter: Adapter) {
    let app = app(adapter).await;
    let login = app.login("alice").await;
    assert_eq!(app.users.get("alice").and_then(|u| u.phone), None);
    let reply = verify_flow(&app, Some(&login), PHONE).await;
    // No other request since: the verify request itself bound the phone and recorded it.
    let user = app.users.get("alice").unwrap_or_default();
    assert_eq!(user.phone.as_deref(), Some(PHONE));
    let verified_at = user.phone_verified_at.unwrap_or_default();
    assert!(verified_at > 0);
    let session = session_of(&reply);
    let me = app.get_as("/me", Some(&session), None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        me.text,
        format!(r#"{{"user":"alice","phone":"{PHONE}","phone_verified_at":{verified_at}}}"#)
    );
    let protected = app.get_as("/protected", Some(&session), None).await;
    assert_eq!(
        protected.text,
        format!(r#"{{"phone":"{PHONE}","verified_at":{verified_at}}}"#)
    );
    // The token of the answer is bound too: with a fresh login of alice, it opens /protected.
    let fresh = app.login("alice").await;
    let with_token = app
        .get_as("/protected", Some(&fresh), Some(&token_of(&reply)))
        .await;
    assert_eq!(with_token.status, 200, "{}", with_token.text);
}

async fn me_works_with_only_the_session_cookie(adapter: Adapter) {
    let app = app(adapter).await;
    let login = app.login("alice").await;
    let before = app.get_as("/me", Some(&login), None).await;
    assert_eq!(
        (before.status, before.text.as_str()),
        (200, r#"{"user":"alice","phone":null}"#)
    );
    let reply = verify_flow(&app, Some(&login), PHONE).await;
    assert_eq!(
        reply.set_cookie("twofactor_phone"),
        None,
        "session mode sets no token cookie"
    );
    let session = session_of(&reply);
    // Only the session cookie: no bearer token, no twofactor cookie.
    let me = app
        .request("GET", "/me", |b| b.header("cookie", session.clone()))
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["phone"], PHONE);
    assert_eq!(me.header("content-type"), Some("application/json"));
    // Without the session, /me is refused, a token notwithstanding.
    for (what, cookie, bearer) in [
        ("nothing", None, None),
        ("a bearer token only", None, Some(token_of(&reply))),
        ("a garbage session cookie", Some("app_session=forged"), None),
    ] {
        let me = app.get_as("/me", cookie, bearer.as_deref()).await;
        assert_eq!(me.status, 401, "{what}");
        assert_eq!(
            me.text, r#"{"error":"login_required","message":"log in first"}"#,
            "{what}"
        );
    }
}

async fn a_verify_without_a_login_binds_nothing(adapter: Adapter) {
    let app = app(adapter).await;
    // The contract holds without a session: 200, a token, and the proof in a new session.
    let reply = verify_flow(&app, None, PHONE).await;
    assert_eq!(reply.json()["status"], "verified");
    let anonymous = session_of(&reply);
    let token = token_of(&reply);
    let status = app.get_as("/phone/status", Some(&anonymous), None).await;
    assert_eq!(status.json()["verified"], true, "a valid proof…");
    // …that belongs to nobody: logging in afterwards (same browser) does not make it alice's.
    let login = app
        .request("POST", "/login", |b| {
            b.header("content-type", "application/json")
                .header("cookie", anonymous.clone())
                .body(r#"{"user":"alice"}"#)
        })
        .await;
    assert_eq!(login.status, 204);
    let login = session_of(&login);
    assert_eq!(
        app.get_as("/me", Some(&login), None).await.text,
        r#"{"user":"alice","phone":null}"#
    );
    for (what, bearer) in [("the session", None), ("the unbound token", Some(&token))] {
        let protected = app
            .get_as("/protected", Some(&login), bearer.map(String::as_str))
            .await;
        assert_eq!(
            (protected.status, protected.error().as_str()),
            (401, "phone_verification_required"),
            "{what}"
        );
    }
    assert_eq!(app.users.get("alice").and_then(|u| u.phone), None);
}

async fn a_proof_of_one_user_never_passes_as_another(adapter: Adapter) {
    let app = app(adapter).await;
    let alice = app.login("alice").await;
    let reply = verify_flow(&app, Some(&alice), PHONE).await;
    let alice = session_of(&reply);
    let alice_token = token_of(&reply);
    assert_eq!(
        app.get_as("/me", Some(&alice), None).await.json()["phone"],
        PHONE
    );
    // Bob logs in in the same browser (Alice's session cookie sent along).
    let bob = app
        .request("POST", "/login", |b| {
            b.header("content-type", "application/json")
                .header("cookie", alice.clone())
                .body(r#"{"user":"bob"}"#)
        })
        .await;
    assert_eq!(bob.status, 204);
    let bob = session_of(&bob);
    assert_eq!(
        app.get_as("/me", Some(&bob), None).await.text,
        r#"{"user":"bob","phone":null}"#
    );
    assert_eq!(
        app.get_as("/phone/status", Some(&bob), None).await.text,
        r#"{"verified":false}"#,
        "Alice's phone does not show in Bob's session"
    );
    let refused = |reply: Reply, what: &str| {
        assert_eq!(
            (reply.status, reply.error().as_str()),
            (401, "phone_verification_required"),
            "{what}: {}",
            reply.text
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"phone\""),
            "{what}"
        );
    };
    refused(
        app.get_as("/protected", Some(&bob), None).await,
        "Bob's session",
    );
    refused(
        app.get_as("/protected", Some(&bob), Some(&alice_token))
            .await,
        "Alice's bearer token in Bob's session",
    );
    let with_cookie = format!("{bob}; twofactor_phone={alice_token}");
    refused(
        app.get_as("/protected", Some(&with_cookie), None).await,
        "Alice's token as a cookie in Bob's session",
    );
    let me = app.get_as("/me", Some(&bob), Some(&alice_token)).await;
    assert_eq!(me.json()["phone"], serde_json::Value::Null, "{}", me.text);
    assert_eq!(app.users.get("bob").and_then(|u| u.phone), None);
    // The same token in Alice's own (fresh) login: the refusals above are about whose it is.
    let alice_again = app.login("alice").await;
    let protected = app
        .get_as("/protected", Some(&alice_again), Some(&alice_token))
        .await;
    assert_eq!(protected.status, 200, "{}", protected.text);
}

async fn the_pre_send_hook_can_refuse_a_send_without_a_login(adapter: Adapter) {
    // By default a send needs no login (the contract holds without a session)…
    let open = app(adapter).await;
    assert_eq!(send_as(&open, None, PHONE).await.status, 200);
    // …but an app can demand one (TWOFACTOR_EXAMPLE_REQUIRE_LOGIN=true in the examples).
    let app = TestApp::spawn(
        adapter,
        Options {
            setup: Setup {
                require_login: true,
                ..Setup::default()
            },
            ..Options::default()
        },
    )
    .await;
    let refused = send_as(&app, None, PHONE).await;
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.text,
        r#"{"error":"login_required","message":"log in first"}"#
    );
    assert_eq!(refused.header("content-type"), Some("application/json"));
    let forged = send_as(&app, Some("app_session=forged"), PHONE).await;
    assert_eq!(forged.status, 401, "a session cookie that is not a login");
    assert!(app.fake.paths().await.is_empty(), "no SMS was sent");
    let login = app.login("alice").await;
    let sent = send_as(&app, Some(&login), PHONE).await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(app.fake.paths().await.len(), 1);
}

async fn logout_ends_the_proof(adapter: Adapter) {
    let app = app(adapter).await;
    let login = app.login("alice").await;
    let reply = verify_flow(&app, Some(&login), PHONE).await;
    let session = session_of(&reply);
    let token = token_of(&reply);
    assert_eq!(
        app.get_as("/phone/status", Some(&session), None)
            .await
            .json()["verified"],
        true
    );
    let logout = app
        .request("POST", "/logout", |b| {
            b.header("cookie", session.clone()).bearer_auth(&token)
        })
        .await;
    assert_eq!((logout.status, logout.text.as_str()), (204, ""));
    let cleared = logout.set_cookie(SESSION_COOKIE).unwrap_or_default();
    assert!(
        cleared.contains("Max-Age=0"),
        "the session cookie is cleared: {cleared}"
    );
    assert!(
        logout
            .set_cookie("twofactor_phone")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "and the library's cookie"
    );
    let me = app.get_as("/me", Some(&session), None).await;
    assert_eq!((me.status, me.error().as_str()), (401, "login_required"));
    assert_eq!(
        app.get_as("/phone/status", Some(&session), None).await.text,
        r#"{"verified":false}"#,
        "the old session cookie carries no proof"
    );
    assert_eq!(
        app.get("/phone/status", Some(&token)).await.text,
        r#"{"verified":false}"#,
        "the bearer token sent to /logout is revoked"
    );
    let protected = app.get_as("/protected", Some(&session), None).await;
    assert_eq!(
        (protected.status, protected.error().as_str()),
        (401, "login_required")
    );
    // Logging out again, or without a session, is harmless.
    let again = app.request("POST", "/logout", |b| b).await;
    assert_eq!(again.status, 204);
}

async fn the_session_id_rotates_at_login_and_when_the_proof_is_added(adapter: Adapter) {
    let app = app(adapter).await;
    let login = app.login("alice").await;
    let reply = verify_flow(&app, Some(&login), PHONE).await;
    let session = session_of(&reply);
    assert_ne!(session, login, "a new session id once the proof is in");
    let old = app.get_as("/me", Some(&login), None).await;
    assert_eq!(
        (old.status, old.error().as_str()),
        (401, "login_required"),
        "the id from before the verification is dead"
    );
    assert_eq!(
        app.get_as("/me", Some(&session), None).await.json()["phone"],
        PHONE
    );
    // At login too: an id from before the login (planted, or an anonymous visit) is worth
    // nothing afterwards.
    let anonymous = session_of(&verify_flow(&app, None, OTHER).await);
    let relogin = app
        .request("POST", "/login", |b| {
            b.header("content-type", "application/json")
                .header("cookie", anonymous.clone())
                .body(r#"{"user":"mallory"}"#)
        })
        .await;
    let relogin = session_of(&relogin);
    assert_ne!(relogin, anonymous);
    assert_eq!(
        app.get_as("/phone/status", Some(&anonymous), None)
            .await
            .text,
        r#"{"verified":false}"#
    );
    assert_eq!(
        app.get_as("/me", Some(&relogin), None).await.text,
        r#"{"user":"mallory","phone":null}"#
    );
}

async fn login_refuses_bad_bodies_in_the_contract_shape(adapter: Adapter) {
    let app = app(adapter).await;
    for (what, content_type, body) in [
        ("not JSON", "text/plain", r#"{"user":"alice"}"#),
        ("malformed", "application/json", r#"{"user":"#),
        ("no user", "application/json", r#"{"name":"alice"}"#),
        ("empty name", "application/json", r#"{"user":""}"#),
        (
            "a name with a space",
            "application/json",
            r#"{"user":"a b"}"#,
        ),
    ] {
        let reply = app
            .request("POST", "/login", |b| {
                b.header("content-type", content_type).body(body)
            })
            .await;
        assert_eq!(
            (reply.status, reply.error().as_str()),
            (400, "invalid_request"),
            "{what}"
        );
        assert!(reply.json()["message"].is_string(), "{what}");
        assert_eq!(reply.set_cookie(SESSION_COOKIE), None, "{what}: no session");
    }
    let big = json!({ "user": "alice", "pad": "x".repeat(5000) });
    let reply = app.post_json("/login", big).await;
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (413, "payload_too_large")
    );
}

macro_rules! both {
    ($($case:ident),* $(,)?) => {
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

both!(
    verify_binds_the_phone_in_the_same_request,
    me_works_with_only_the_session_cookie,
    a_verify_without_a_login_binds_nothing,
    a_proof_of_one_user_never_passes_as_another,
    the_pre_send_hook_can_refuse_a_send_without_a_login,
    logout_ends_the_proof,
    the_session_id_rotates_at_login_and_when_the_proof_is_added,
    login_refuses_bad_bodies_in_the_contract_shape,
);
