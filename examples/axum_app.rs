//! The demo surface on axum.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use twofactor_tower::{RequireVerifiedPhoneLayer, TwoFactor, VerifiedPhone};

use crate::{INDEX_HTML, Protected, RECENT};

/// The demo's routes: the page, `/health`, `/openapi.json`, the guarded `/protected` (and `/protected/recent`,
/// which also demands a verification at most [`RECENT`] old), and the endpoints under
/// `/phone`. Without the app-level layer: [`app`] adds it.
pub fn routes() -> Router {
    routes_with_metrics(None)
}

/// [`routes`], and `GET /metrics` rendering `metrics` if given (the recorder is the
/// process's, installed once with [`install_metrics`](crate::install_metrics); apps without a
/// handle have no `/metrics`, so that several apps can live in one process).
pub fn routes_with_metrics(metrics: Option<PrometheusHandle>) -> Router {
    let documented = metrics.is_some();
    let router = Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/health", get(health))
        .route(
            "/openapi.json",
            get(move |tf: TwoFactor| openapi_json(tf, documented)),
        );
    let router = match metrics {
        Some(handle) => router.route("/metrics", get(move || render_metrics(handle.clone()))),
        None => router,
    };
    router
        // The handler's `VerifiedPhone` argument is the guard: a request without a valid proof
        // gets the contract's 401 before the handler runs. A route whose handler does not take
        // the proof, or that demands a recent verification, is wrapped in the guard layer.
        .route("/protected", get(protected))
        .route(
            "/protected/recent",
            get(protected).route_layer(RequireVerifiedPhoneLayer::new().max_age(RECENT)),
        )
        .nest("/phone", twofactor_tower::router())
}

/// The demo app: [`routes`] with `tf` installed.
pub fn app(tf: TwoFactor) -> Router {
    app_with_metrics(tf, None)
}

/// The demo app with `GET /metrics` when `metrics` is given (see [`routes_with_metrics`]).
pub fn app_with_metrics(tf: TwoFactor, metrics: Option<PrometheusHandle>) -> Router {
    routes_with_metrics(metrics).layer(tf.layer())
}

async fn health() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"ok":true}"#,
    )
}

async fn openapi_json(tf: TwoFactor, metrics: bool) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::json_with_metrics(tf.openapi("/phone"), metrics),
    )
}

async fn render_metrics(handle: PrometheusHandle) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, crate::METRICS_CONTENT_TYPE)],
        handle.render(),
    )
}

async fn protected(phone: VerifiedPhone) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Protected::from(phone.proof()).to_json(),
    )
}

/// Serves `app` on `listener` until the process is interrupted, with the peer address
/// available for the per-address caps.
pub async fn serve(listener: TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
