//! The demo surface on actix-web.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::http::header::ContentType;
use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::PrometheusHandle;
use twofactor_actix::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};

use crate::{INDEX_HTML, Protected, RECENT};

/// Registers the demo's routes on `cfg`: the page, `/health`, `/openapi.json`, the guarded `/protected` (and
/// `/protected/recent`, which also demands a verification at most [`RECENT`] old), and the
/// endpoints under `/phone`. The app wraps them in `tf.middleware()` (see [`server`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_with_metrics(cfg, None);
}

/// [`configure`], and `GET /metrics` rendering `metrics` if given (the recorder is the
/// process's, installed once with [`install_metrics`](crate::install_metrics); apps without a
/// handle have no `/metrics`, so that several apps can live in one process).
pub fn configure_with_metrics(cfg: &mut web::ServiceConfig, metrics: Option<PrometheusHandle>) {
    let documented = metrics.is_some();
    // actix tries resources in the order they were registered, and each one passed over costs
    // a pattern match: the routes hit most come first. Resources, not bare routes: another
    // method on a known path is then actix's 405 with `Allow`, as on axum, rather than a 404.
    //
    // The handler's `VerifiedPhone` argument is the guard: a request without a valid proof gets
    // the contract's 401 before the handler runs. A resource whose handler does not take the
    // proof, or that demands a recent verification, is wrapped in the guard middleware.
    cfg.service(web::resource("/protected").route(web::get().to(protected)))
        .service(
            web::resource("/protected/recent")
                .wrap(RequireVerifiedPhone::new().max_age(RECENT))
                .route(web::get().to(protected)),
        )
        .service(twofactor_actix::scope("/phone"));
    if let Some(handle) = metrics {
        cfg.service(web::resource("/metrics").route(web::get().to(move || {
            let text = handle.render();
            async move {
                HttpResponse::Ok()
                    .content_type(crate::METRICS_CONTENT_TYPE)
                    .body(text)
            }
        })));
    }
    cfg.service(web::resource("/").route(web::get().to(|| async {
        HttpResponse::Ok()
            .content_type(ContentType::html())
            .body(INDEX_HTML)
    })))
    .service(web::resource("/health").route(web::get().to(health)))
    .service(
        web::resource("/openapi.json")
            .route(web::get().to(move |tf: TwoFactor| openapi_json(tf, documented))),
    );
}

async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(r#"{"ok":true}"#)
}

async fn openapi_json(tf: TwoFactor, metrics: bool) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(crate::openapi::json_with_metrics(
            tf.openapi("/phone"),
            metrics,
        ))
}

async fn protected(phone: VerifiedPhone) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(Protected::from(phone.proof()).to_json())
}

/// The demo server on `listener` with `workers` worker threads sharing one engine. Await the
/// returned [`Server`] inside an actix system (`#[actix_web::main]`).
pub fn server(listener: TcpListener, tf: TwoFactor, workers: usize) -> std::io::Result<Server> {
    server_with_metrics(listener, tf, workers, None)
}

/// [`server`], with `GET /metrics` when `metrics` is given (see [`configure_with_metrics`]).
pub fn server_with_metrics(
    listener: TcpListener,
    tf: TwoFactor,
    workers: usize,
    metrics: Option<PrometheusHandle>,
) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || {
        let metrics = metrics.clone();
        App::new()
            .wrap(tf.middleware())
            .configure(move |cfg| configure_with_metrics(cfg, metrics))
    })
    .workers(workers.max(1))
    .listen(listener)?
    .run())
}
