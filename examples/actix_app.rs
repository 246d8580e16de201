//! The demo surface on actix-web.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::http::header::ContentType;
use actix_web::{App, HttpResponse, HttpServer, web};
use twofactor_actix::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};

use crate::{INDEX_HTML, Protected, RECENT};

/// Registers the demo app on `cfg`: the page, `/health`, the guarded `/protected` (and
/// `/protected/recent`, which also demands a verification at most [`RECENT`] old), and the
/// endpoints under `/phone`.
pub fn configure(tf: TwoFactor) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(tf.clone())
            .route(
                "/",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type(ContentType::html())
                        .body(INDEX_HTML)
                }),
            )
            .route("/health", web::get().to(health))
            .service(
                web::resource("/protected")
                    .wrap(RequireVerifiedPhone::new(tf.clone()))
                    .route(web::get().to(protected)),
            )
            .service(
                web::resource("/protected/recent")
                    .wrap(RequireVerifiedPhone::new(tf.clone()).max_age(RECENT))
                    .route(web::get().to(protected)),
            )
            .service(twofactor_actix::scope("/phone", tf));
    }
}

async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(r#"{"ok":true}"#)
}

async fn protected(phone: VerifiedPhone) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(Protected::from(&*phone).to_json())
}

/// The demo server on `listener` with `workers` worker threads sharing one engine. Await the
/// returned [`Server`] inside an actix system (`#[actix_web::main]`).
pub fn server(listener: TcpListener, tf: TwoFactor, workers: usize) -> std::io::Result<Server> {
    Ok(
        HttpServer::new(move || App::new().configure(configure(tf.clone())))
            .workers(workers.max(1))
            .listen(listener)?
            .run(),
    )
}
