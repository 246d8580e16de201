//! `RequireVerifiedPhone`: 401 per the contract without calling the wrapped service, and the
//! proof left in the request extensions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::test::TestRequest;
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, test, web};
use twofactor_actix::{RequireVerifiedPhone, VerifiedPhone, WebConfig};

use crate::support::*;

const REQUIRED: &str =
    r#"{"error":"phone_verification_required","message":"verify your phone number first"}"#;
const STALE: &str =
    r#"{"error":"phone_verification_stale","message":"verify your phone number again"}"#;

/// A handler that counts its calls and answers the phone the guard left in the extensions.
fn counting(
    calls: &Arc<AtomicUsize>,
) -> impl Fn(HttpRequest) -> std::future::Ready<HttpResponse> + Clone + use<> {
    let calls = calls.clone();
    move |req: HttpRequest| {
        calls.fetch_add(1, Ordering::SeqCst);
        let proof = req.extensions().get::<VerifiedPhone>().copied();
        std::future::ready(match proof {
            Some(proof) => HttpResponse::Ok().body(proof.phone().to_string()),
            None => HttpResponse::InternalServerError().body("no proof in the extensions"),
        })
    }
}

/// `/guarded` (any age) and `/fresh` (verified within 300 s), both counting into `calls`.
macro_rules! guarded_app {
    ($kit:expr, $calls:expr) => {
        test::init_service(
            App::new()
                .wrap($kit.tf.middleware())
                .service(
                    web::resource("/guarded")
                        .wrap(RequireVerifiedPhone::new())
                        .to(counting(&$calls)),
                )
                .service(
                    web::resource("/fresh")
                        .wrap(RequireVerifiedPhone::new().max_age(Duration::from_secs(300)))
                        .to(counting(&$calls)),
                ),
        )
        .await
    };
}

#[track_caller]
fn assert_refused(reply: &Reply, body: &str) {
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.text(), body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer realm="phone""#)
    );
}

#[actix_web::test]
async fn no_token_is_401_without_calling_the_handler() {
    let kit = Kit::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = guarded_app!(kit, calls);
    for uri in ["/guarded", "/fresh"] {
        let reply = call(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_refused(&reply, REQUIRED);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn bad_tokens_are_401_without_calling_the_handler() {
    let kit = Kit::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = guarded_app!(kit, calls);
    let token = kit.token();
    let headers = [
        bearer(&tamper(&token)),
        bearer(&foreign_token()),
        bearer("garbage"),
        ("authorization", "Bearer".to_owned()),
        // A non-bearer Authorization does not count, and there is no cookie.
        ("authorization", format!("Basic {token}")),
        ("cookie", format!("twofactor_phone={}", tamper(&token))),
        ("cookie", format!("other_cookie={token}")),
    ];
    for header in headers {
        let req = TestRequest::get()
            .uri("/guarded")
            .insert_header(header.clone())
            .to_request();
        let reply = call(&app, req).await;
        assert_refused(&reply, REQUIRED);
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{header:?}");
    }
}

#[actix_web::test]
async fn an_expired_token_is_401() {
    let kit = Kit::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = guarded_app!(kit, calls);
    let token = kit.token();
    kit.clock.advance(Duration::from_secs(86_401));
    let req = TestRequest::get()
        .uri("/guarded")
        .insert_header(bearer(&token))
        .to_request();
    assert_refused(&call(&app, req).await, REQUIRED);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn bearer_and_cookie_are_both_accepted_and_the_proof_is_left_in_the_extensions() {
    let kit = Kit::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = guarded_app!(kit, calls);
    let token = kit.token();
    let headers = [
        bearer(&token),
        ("authorization", format!("bearer   {token}  ")),
        ("cookie", format!("twofactor_phone={token}")),
        (
            "cookie",
            format!("theme=dark; twofactor_phone={token}; lang=en"),
        ),
    ];
    for header in headers {
        let req = TestRequest::get()
            .uri("/guarded")
            .insert_header(header.clone())
            .to_request();
        let reply = call(&app, req).await;
        assert_eq!(reply.status, 200, "{header:?}: {}", reply.text());
        assert_eq!(reply.text(), PHONE);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[actix_web::test]
async fn the_guard_reads_the_configured_cookie() {
    let kit = Kit::with(
        |b| b,
        |tf| tf.web_config(WebConfig::builder().cookie_name("sid").build().unwrap()),
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let app = guarded_app!(kit, calls);
    let token = kit.token();
    let req = |cookie: String| {
        TestRequest::get()
            .uri("/guarded")
            .insert_header(("cookie", cookie))
            .to_request()
    };
    assert_eq!(call(&app, req(format!("sid={token}"))).await.status, 200);
    assert_refused(
        &call(&app, req(format!("twofactor_phone={token}"))).await,
        REQUIRED,
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn a_stale_token_is_refused_where_freshness_is_required() {
    let kit = Kit::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = guarded_app!(kit, calls);
    let token = kit.token();
    let get = |uri: &str| {
        TestRequest::get()
            .uri(uri)
            .insert_header(bearer(&token))
            .to_request()
    };
    kit.clock.advance(Duration::from_secs(300));
    assert_eq!(call(&app, get("/fresh")).await.status, 200);
    kit.clock.advance(Duration::from_secs(1));
    assert_refused(&call(&app, get("/fresh")).await, STALE);
    // Routes without a freshness limit still accept it.
    assert_eq!(call(&app, get("/guarded")).await.status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn the_guard_can_wrap_a_whole_scope() {
    let kit = Kit::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = test::init_service(
        App::new()
            .wrap(kit.tf.middleware())
            .service(
                web::scope("/account")
                    .wrap(RequireVerifiedPhone::new())
                    .route("/a", web::get().to(counting(&calls)))
                    .route("/b", web::post().to(counting(&calls))),
            )
            .route("/open", web::get().to(|| async { "open" })),
    )
    .await;
    let token = kit.token();
    assert_refused(
        &call(&app, TestRequest::get().uri("/account/a").to_request()).await,
        REQUIRED,
    );
    let req = TestRequest::post()
        .uri("/account/b")
        .insert_header(bearer(&token))
        .to_request();
    assert_eq!(call(&app, req).await.text(), PHONE);
    assert_eq!(
        call(&app, TestRequest::get().uri("/open").to_request())
            .await
            .text(),
        "open"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
