//! The demo surface on axum.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use tokio::net::TcpListener;
use twofactor_tower::{RequireVerifiedPhoneLayer, TwoFactor, VerifiedPhone};

use crate::{INDEX_HTML, Protected, RECENT};

/// The demo's routes: the page, `/health`, `/openapi.json`, the guarded `/protected` (and `/protected/recent`,
/// which also demands a verification at most [`RECENT`] old), and the endpoints under
/// `/phone`. Without the app-level layer: [`app`] adds it.
pub fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/health", get(health))
        .route("/openapi.json", get(openapi_json))
        .route(
            "/protected",
            get(protected).route_layer(RequireVerifiedPhoneLayer::new()),
        )
        .route(
            "/protected/recent",
            get(protected).route_layer(RequireVerifiedPhoneLayer::new().max_age(RECENT)),
        )
        .nest("/phone", twofactor_tower::router())
}

/// The demo app: [`routes`] with `tf` installed.
pub fn app(tf: TwoFactor) -> Router {
    routes().layer(tf.layer())
}

async fn health() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"ok":true}"#,
    )
}

async fn openapi_json(tf: TwoFactor) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::json(tf.openapi("/phone")),
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
