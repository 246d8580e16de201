//! The demo surface on actix-web.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::http::header::ContentType;
use actix_web::{App, HttpResponse, HttpServer, web};
use twofactor_actix::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};

use crate::{INDEX_HTML, Protected, RECENT};

/// Registers the demo's routes on `cfg`: the page, `/health`, `/openapi.json`, the guarded `/protected` (and
/// `/protected/recent`, which also demands a verification at most [`RECENT`] old), and the
/// endpoints under `/phone`. The app wraps them in `tf.middleware()` (see [`server`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Resources, not bare routes: another method on a known path is then actix's 405 with
    // `Allow`, as on axum, rather than a 404.
    cfg.service(web::resource("/").route(web::get().to(|| async {
        HttpResponse::Ok()
            .content_type(ContentType::html())
            .body(INDEX_HTML)
    })))
    .service(web::resource("/health").route(web::get().to(health)))
    .service(web::resource("/openapi.json").route(web::get().to(openapi_json)))
    .service(
        web::resource("/protected")
            .wrap(RequireVerifiedPhone::new())
            .route(web::get().to(protected)),
    )
    .service(
        web::resource("/protected/recent")
            .wrap(RequireVerifiedPhone::new().max_age(RECENT))
            .route(web::get().to(protected)),
    )
    .service(twofactor_actix::scope("/phone"));
}

async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(r#"{"ok":true}"#)
}

async fn openapi_json(tf: TwoFactor) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(crate::openapi::json(tf.openapi("/phone")))
}

async fn protected(phone: VerifiedPhone) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(Protected::from(phone.proof()).to_json())
}

/// The demo server on `listener` with `workers` worker threads sharing one engine. Await the
/// returned [`Server`] inside an actix system (`#[actix_web::main]`).
pub fn server(listener: TcpListener, tf: TwoFactor, workers: usize) -> std::io::Result<Server> {
    Ok(
        HttpServer::new(move || App::new().wrap(tf.middleware()).configure(configure))
            .workers(workers.max(1))
            .listen(listener)?
            .run(),
    )
}
