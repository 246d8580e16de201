//! `VerifiedPhone` and `Option<VerifiedPhone>` as handler arguments, with and without the guard.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::test::TestRequest;
use actix_web::{App, HttpResponse, test, web};
use twofactor_actix::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};

use crate::support::*;

async fn me(phone: VerifiedPhone) -> HttpResponse {
    // Deref to the core proof, and into_inner.
    let at = phone.verified_at_unix();
    let proof = phone.into_inner();
    HttpResponse::Ok().body(format!("{} {at}", proof.phone()))
}

async fn maybe(phone: Option<VerifiedPhone>) -> String {
    match phone {
        Some(phone) => phone.phone().to_string(),
        None => "anonymous".to_owned(),
    }
}

const REQUIRED: &str =
    r#"{"error":"phone_verification_required","message":"verify your phone number first"}"#;

#[actix_web::test]
async fn without_the_guard_the_extractor_checks_the_token_with_the_app_data() {
    let kit = Kit::new();
    let app = test::init_service(
        App::new()
            .app_data(kit.tf.clone())
            .route("/me", web::get().to(me)),
    )
    .await;
    let token = kit.token();
    let expected = format!("{PHONE} {}", kit.now_unix());
    for header in [
        bearer(&token),
        ("cookie", format!("twofactor_phone={token}")),
    ] {
        let req = TestRequest::get()
            .uri("/me")
            .insert_header(header)
            .to_request();
        assert_eq!(call(&app, req).await.text(), expected);
    }
    for header in [
        None,
        Some(bearer(&tamper(&token))),
        Some(bearer(&foreign_token())),
    ] {
        let mut req = TestRequest::get().uri("/me");
        if let Some(header) = header {
            req = req.insert_header(header);
        }
        let reply = call(&app, req.to_request()).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.text(), REQUIRED);
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Bearer realm="phone""#)
        );
    }
    kit.clock.advance(Duration::from_secs(86_401));
    let req = TestRequest::get()
        .uri("/me")
        .insert_header(bearer(&token))
        .to_request();
    assert_eq!(call(&app, req).await.status, 401);
}

#[actix_web::test]
async fn web_data_is_found_too() {
    let kit = Kit::new();
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(kit.tf.clone()))
            .route("/me", web::get().to(me)),
    )
    .await;
    let req = TestRequest::get()
        .uri("/me")
        .insert_header(bearer(&kit.token()))
        .to_request();
    let reply = call(&app, req).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[actix_web::test]
async fn inside_the_scope_its_app_data_is_enough() {
    let kit = Kit::new();
    let app =
        test::init_service(App::new().service(
            twofactor_actix::scope("/phone", kit.tf.clone()).route("/me", web::get().to(me)),
        ))
        .await;
    let req = TestRequest::get()
        .uri("/phone/me")
        .insert_header(bearer(&kit.token()))
        .to_request();
    let reply = call(&app, req).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[actix_web::test]
async fn behind_the_guard_the_extractor_reuses_its_proof() {
    let kit = Kit::new();
    // No app data at all: only the guard's proof can satisfy the extractor.
    let app = test::init_service(
        App::new().service(
            web::resource("/me")
                .wrap(RequireVerifiedPhone::new(kit.tf.clone()))
                .to(me),
        ),
    )
    .await;
    let req = TestRequest::get()
        .uri("/me")
        .insert_header(bearer(&kit.token()))
        .to_request();
    let reply = call(&app, req).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), format!("{PHONE} {}", kit.now_unix()));
}

#[actix_web::test]
async fn behind_a_fresh_guard_the_extractor_does_not_undo_the_freshness_check() {
    let kit = Kit::new();
    let app = test::init_service(
        App::new().app_data(kit.tf.clone()).service(
            web::resource("/me")
                .wrap(RequireVerifiedPhone::new(kit.tf.clone()).max_age(Duration::from_secs(60)))
                .to(me),
        ),
    )
    .await;
    let token = kit.token();
    kit.clock.advance(Duration::from_secs(61));
    let req = TestRequest::get()
        .uri("/me")
        .insert_header(bearer(&token))
        .to_request();
    let reply = call(&app, req).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "phone_verification_stale");
}

#[actix_web::test]
async fn option_verified_phone_is_none_without_a_valid_token() {
    let kit = Kit::new();
    let app = test::init_service(
        App::new()
            .app_data(kit.tf.clone())
            .route("/maybe", web::get().to(maybe)),
    )
    .await;
    let token = kit.token();
    let get = |header: Option<(&'static str, String)>| {
        let mut req = TestRequest::get().uri("/maybe");
        if let Some(header) = header {
            req = req.insert_header(header);
        }
        req.to_request()
    };
    assert_eq!(call(&app, get(Some(bearer(&token)))).await.text(), PHONE);
    assert_eq!(
        call(
            &app,
            get(Some(("cookie", format!("twofactor_phone={token}"))))
        )
        .await
        .text(),
        PHONE
    );
    for header in [None, Some(bearer(&tamper(&token))), Some(bearer("nope"))] {
        let reply = call(&app, get(header)).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), "anonymous");
    }
    kit.clock.advance(Duration::from_secs(86_401));
    assert_eq!(
        call(&app, get(Some(bearer(&token)))).await.text(),
        "anonymous"
    );
}

/// Log lines, captured.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[actix_web::test]
async fn missing_app_data_is_an_opaque_500_and_a_clear_log_line() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let kit = Kit::new();
    let app = test::init_service(
        App::new()
            .route("/me", web::get().to(me))
            .route("/maybe", web::get().to(maybe)),
    )
    .await;
    let req = TestRequest::get()
        .uri("/me")
        .insert_header(bearer(&kit.token()))
        .to_request();
    let reply = call(&app, req).await;
    assert_eq!(reply.status, 500);
    assert_eq!(
        reply.text(),
        r#"{"error":"internal_error","message":"internal server error"}"#
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let log = logs.text();
    assert!(log.contains("ERROR"), "{log}");
    assert!(
        log.contains("register TwoFactor with App::app_data"),
        "{log}"
    );
    assert!(log.contains("/me"), "{log}");
    // The token is not logged.
    assert!(!log.contains(&kit.token()), "{log}");

    // `Option` turns the misconfiguration into None, but it is still logged.
    let req = TestRequest::get().uri("/maybe").to_request();
    assert_eq!(call(&app, req).await.text(), "anonymous");
    assert_eq!(
        logs.text()
            .matches("register TwoFactor with App::app_data")
            .count(),
        2
    );
}

#[actix_web::test]
async fn rejections_answer_the_contract() {
    use actix_web::ResponseError;
    use twofactor_actix::VerifiedPhoneRejection;
    use twofactor_actix::core::web::GuardRejection;

    let stale = VerifiedPhoneRejection::Rejected(GuardRejection::Stale);
    assert_eq!(stale.status_code().as_u16(), 401);
    assert_eq!(stale.error_response().status().as_u16(), 401);
    assert_eq!(stale.to_string(), GuardRejection::Stale.to_string());
    let missing = VerifiedPhoneRejection::NotConfigured;
    assert_eq!(missing.status_code().as_u16(), 500);
    assert!(missing.to_string().contains("App::app_data"));
    let _: fn(TwoFactor) -> RequireVerifiedPhone = RequireVerifiedPhone::new;
}
