//! `GET /openapi.json` of each demo, over real HTTP: a valid OpenAPI 3.1 document of the whole
//! app (`/phone/*`, `/health`, `/protected`, `/protected/recent`, `/`, itself), and every
//! response the demo gives — each status the demo can be brought to over HTTP, on every route —
//! validates against it (strictly: the checker is the contract's own, shared with
//! `twofactor-core/tests/openapi.rs`). The demo runs against the fake 2Factor with an injected
//! clock (see `lib.rs`).

#[path = "../twofactor-core/tests/openapi_support/mod.rs"]
mod openapi_support;

use std::time::Duration;

use openapi_support::{Document, Seen, assert_valid_openapi_31};
use serde_json::json;
use twofactor_tests::{Adapter, Options, Reply, TestApp};
use wiremock::ResponseTemplate;

const PHONE: &str = "+919812345678";

fn seen(reply: &Reply) -> Seen {
    Seen {
        status: reply.status,
        headers: reply.headers.clone(),
        body: reply.text.as_bytes().to_vec(),
    }
}

/// The demo's document, fetched as a client would.
async fn document(app: &TestApp) -> Document {
    let reply = app.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let doc = Document::new(reply.json());
    assert_valid_openapi_31(doc.json());
    doc.check("get", "/openapi.json", &seen(&reply))
        .unwrap_or_else(|e| panic!("{e}"));
    doc
}

/// What one demo answered, by the documented operation it answered for.
struct Checked<'a> {
    doc: &'a Document,
    seen: Vec<(String, String, u16)>,
}

impl Checked<'_> {
    fn check(&mut self, method: &str, path: &str, reply: &Reply) -> Reply {
        if let Err(e) = self.doc.check(method, path, &seen(reply)) {
            panic!("{e}");
        }
        self.seen
            .push((method.to_owned(), path.to_owned(), reply.status));
        reply.clone()
    }
}

async fn the_demo_serves_its_document_and_keeps_to_it(adapter: Adapter) {
    let app = TestApp::spawn(
        adapter,
        Options {
            provider_timeout: Duration::from_millis(300),
            ..Options::default()
        },
    )
    .await;
    let doc = document(&app).await;
    let mut paths: Vec<&str> = doc.json()["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/",
            "/health",
            "/openapi.json",
            "/phone/logout",
            "/phone/send",
            "/phone/status",
            "/phone/verify",
            "/protected",
            "/protected/recent",
        ]
    );
    for path in ["/protected", "/protected/recent"] {
        assert_eq!(
            doc.statuses("get", path),
            ["200", "401", "503"],
            "{path}: the guard's answers"
        );
    }
    let mut c = Checked {
        doc: &doc,
        seen: Vec::new(),
    };

    // The demo's own routes.
    let page = c.check("get", "/", &app.get("/", None).await);
    assert_eq!(page.status, 200);
    c.check("get", "/health", &app.get("/health", None).await);
    let r = c.check("get", "/protected", &app.get("/protected", None).await);
    assert_eq!(r.error(), "phone_verification_required");
    let r = c.check(
        "get",
        "/protected",
        &app.get("/protected", Some("nonsense")).await,
    );
    assert_eq!(r.status, 401);

    // send
    let r = c.check("post", "/phone/send", &app.send(PHONE).await);
    assert_eq!(r.status, 200);
    let r = c.check("post", "/phone/send", &app.send(PHONE).await);
    assert_eq!(r.error(), "rate_limited");
    let r = c.check("post", "/phone/send", &app.send("12ab").await);
    assert_eq!(r.error(), "invalid_phone");
    let r = c.check(
        "post",
        "/phone/send",
        &app.request("POST", "/phone/send", |b| b.body("{\"phone\":1}"))
            .await,
    );
    assert_eq!(r.error(), "invalid_request");
    let r = c.check("post", "/phone/send", &app.send("+12025550123").await);
    assert_eq!(
        r.error(),
        "phone_not_allowed",
        "the demo allows Indian numbers only"
    );
    let big = json!({ "phone": "1".repeat(5000) });
    let r = c.check(
        "post",
        "/phone/send",
        &app.post_json("/phone/send", big.clone()).await,
    );
    assert_eq!(r.status, 413);

    // verify
    let wrong = app.wrong_code(PHONE);
    let r = c.check("post", "/phone/verify", &app.verify(PHONE, &wrong).await);
    assert_eq!(r.error(), "incorrect_code");
    let r = c.check("post", "/phone/verify", &app.verify(PHONE, "12").await);
    assert_eq!(r.error(), "invalid_code");
    let r = c.check(
        "post",
        "/phone/verify",
        &app.verify("+919812345600", "123456").await,
    );
    assert_eq!(r.error(), "code_expired");
    let r = c.check(
        "post",
        "/phone/verify",
        &app.verify("+12025550123", "123456").await,
    );
    assert_eq!(r.error(), "phone_not_allowed");
    let r = c.check(
        "post",
        "/phone/verify",
        &app.post_json("/phone/verify", big).await,
    );
    assert_eq!(r.status, 413);
    let code = app.code(PHONE);
    let r = c.check("post", "/phone/verify", &app.verify(PHONE, &code).await);
    assert_eq!(r.status, 200);
    let token = r.json()["token"].as_str().unwrap_or_default().to_owned();
    let locked = "+919812345601";
    assert_eq!(app.send(locked).await.status, 200);
    let wrong = app.wrong_code(locked);
    let mut last = None;
    for _ in 0..app.verifier.policy().max_attempts() {
        last = Some(app.verify(locked, &wrong).await);
    }
    let r = c.check("post", "/phone/verify", &last.unwrap());
    assert_eq!(r.error(), "too_many_attempts");

    // status, the guarded routes, with and without the proof
    let r = c.check(
        "get",
        "/phone/status",
        &app.get("/phone/status", Some(&token)).await,
    );
    assert_eq!(r.json()["verified"], true);
    let r = c.check(
        "get",
        "/phone/status",
        &app.get("/phone/status", None).await,
    );
    assert_eq!(r.json(), json!({"verified": false}));
    let cookie = format!("twofactor_phone={token}");
    let r = c.check(
        "get",
        "/phone/status",
        &app.get_as("/phone/status", Some(&cookie), None).await,
    );
    assert_eq!(r.json()["verified"], true);
    let r = c.check(
        "get",
        "/protected",
        &app.get("/protected", Some(&token)).await,
    );
    assert_eq!(r.status, 200);
    let r = c.check(
        "get",
        "/protected/recent",
        &app.get("/protected/recent", Some(&token)).await,
    );
    assert_eq!(r.status, 200);
    app.clock.advance(Duration::from_secs(600));
    let r = c.check(
        "get",
        "/protected/recent",
        &app.get("/protected/recent", Some(&token)).await,
    );
    assert_eq!(r.error(), "phone_verification_stale");

    // logout
    let r = c.check(
        "post",
        "/phone/logout",
        &app.request("POST", "/phone/logout", |b| {
            b.header("content-length", "5000").body("x".repeat(5000))
        })
        .await,
    );
    assert_eq!(r.status, 413);
    let r = c.check(
        "post",
        "/phone/logout",
        &app.request("POST", "/phone/logout", |b| b.bearer_auth(&token))
            .await,
    );
    assert_eq!(r.status, 204);
    let r = c.check(
        "get",
        "/protected",
        &app.get("/protected", Some(&token)).await,
    );
    assert_eq!(r.status, 401, "revoked");

    // The provider failing and timing out, on a send and on a verify of a live code.
    let pending = "+919812345603";
    assert_eq!(app.send(pending).await.status, 200);
    app.fake
        .answer_everything_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"Status": "Error", "Details": "Invalid API Key"})),
        )
        .await;
    let r = c.check("post", "/phone/send", &app.send("+919812345602").await);
    assert_eq!(r.error(), "provider_error");
    let r = c.check(
        "post",
        "/phone/verify",
        &app.verify(pending, "123456").await,
    );
    assert_eq!(r.error(), "provider_error");
    let slow = TestApp::spawn(
        adapter,
        Options {
            provider_timeout: Duration::from_millis(300),
            ..Options::default()
        },
    )
    .await;
    assert_eq!(slow.send(pending).await.status, 200);
    slow.fake
        .answer_everything_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"Status": "Success", "Details": "x"}))
                .set_delay(Duration::from_secs(3)),
        )
        .await;
    let r = c.check("post", "/phone/send", &slow.send(PHONE).await);
    assert_eq!(r.error(), "provider_timeout");
    let r = c.check(
        "post",
        "/phone/verify",
        &slow.verify(pending, "123456").await,
    );
    assert_eq!(r.error(), "provider_timeout");

    // Every documented status was seen but a store failure's 503, which the contract's test
    // drives through `Contract`.
    let seen_statuses = |method: &str, path: &str| {
        let mut s: Vec<String> = c
            .seen
            .iter()
            .filter(|(m, p, _)| m == method && p == path)
            .map(|(_, _, s)| s.to_string())
            .collect();
        s.sort();
        s.dedup();
        s
    };
    let not_seen = ["503"];
    for (method, path) in [
        ("get", "/"),
        ("get", "/health"),
        ("get", "/protected"),
        ("get", "/protected/recent"),
        ("post", "/phone/send"),
        ("post", "/phone/verify"),
        ("get", "/phone/status"),
        ("post", "/phone/logout"),
    ] {
        let expected: Vec<String> = doc
            .statuses(method, path)
            .into_iter()
            .filter(|s| !not_seen.contains(&s.as_str()))
            .collect();
        assert_eq!(seen_statuses(method, path), expected, "{method} {path}");
    }

    // 404 and 405 under the prefix, as the document's component responses.
    let components = &doc.json()["components"]["responses"];
    for (reply, name) in [
        (app.get("/phone/nope", None).await, "twofactor.NotFound"),
        (
            app.get("/phone/send", None).await,
            "twofactor.MethodNotAllowed",
        ),
    ] {
        let mut responses = serde_json::Map::new();
        responses.insert(reply.status.to_string(), components[name].clone());
        let mut one = doc.json().clone();
        one["paths"] = json!({ "/x": { "get": { "responses": responses } } });
        if let Err(e) = Document::new(one).check("get", "/x", &seen(&reply)) {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_demo_serves_its_document_and_keeps_to_it() {
    the_demo_serves_its_document_and_keeps_to_it(Adapter::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_demo_serves_its_document_and_keeps_to_it() {
    the_demo_serves_its_document_and_keeps_to_it(Adapter::Actix).await;
}
