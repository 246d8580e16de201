//! `VerifiedPhone` and `Option<VerifiedPhone>` as handler arguments, with and without the guard.

use std::time::Duration;

use actix_web::test::TestRequest;
use actix_web::{App, HttpResponse, test, web};
use twofactor_actix::{RequireVerifiedPhone, VerifiedPhone};

use crate::support::*;

async fn me(phone: VerifiedPhone) -> HttpResponse {
    // Deref to the proof, and into_proof.
    let at = phone.verified_at_unix();
    let proof = phone.into_proof();
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
async fn without_the_guard_the_extractor_checks_the_token_with_the_middlewares_handle() {
    let kit = Kit::new();
    let app = test::init_service(
        App::new()
            .wrap(kit.tf.middleware())
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
async fn a_route_added_to_the_endpoints_scope_works_too() {
    let kit = Kit::new();
    let app = test::init_service(
        App::new()
            .wrap(kit.tf.middleware())
            .service(twofactor_actix::scope("/phone").route("/me", web::get().to(me))),
    )
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
    let app = test::init_service(
        App::new().wrap(kit.tf.middleware()).service(
            web::resource("/me")
                .wrap(RequireVerifiedPhone::new())
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
        App::new().wrap(kit.tf.middleware()).service(
            web::resource("/me")
                .wrap(RequireVerifiedPhone::new().max_age(Duration::from_secs(60)))
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
            .wrap(kit.tf.middleware())
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

#[actix_web::test]
async fn rejections_answer_the_contract() {
    use actix_web::ResponseError;
    use twofactor_actix::{GuardRejection, VerifiedPhoneRejection};

    let stale = VerifiedPhoneRejection::from(GuardRejection::Stale);
    assert_eq!(stale.reason(), GuardRejection::Stale);
    assert_eq!(stale.status_code().as_u16(), 401);
    assert_eq!(stale.error_response().status().as_u16(), 401);
    assert_eq!(stale.to_string(), GuardRejection::Stale.to_string());
    let missing = VerifiedPhoneRejection::from(GuardRejection::Misconfigured);
    assert_eq!(missing.status_code().as_u16(), 500);
    let response = missing.error_response();
    assert_eq!(response.status().as_u16(), 500);
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap();
    assert_eq!(
        body,
        r#"{"error":"internal_error","message":"internal server error"}"#
    );
    let _: fn() -> RequireVerifiedPhone = RequireVerifiedPhone::new;
}
