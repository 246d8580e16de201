//! The demo surface on axum.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use tokio::net::TcpListener;
use twofactor_tower::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};

use crate::{INDEX_HTML, Protected, RECENT};

/// The demo app: the page, `/health`, the guarded `/protected` (and `/protected/recent`, which
/// also demands a verification at most [`RECENT`] old), and the endpoints under `/phone`.
pub fn app(tf: TwoFactor) -> Router {
    let guard = RequireVerifiedPhone::new(tf.clone());
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/health", get(health))
        .route("/protected", get(protected).route_layer(guard.clone()))
        .route(
            "/protected/recent",
            get(protected).route_layer(guard.max_age(RECENT)),
        )
        .nest("/phone", twofactor_tower::router(tf.clone()))
        .with_state(tf)
}

async fn health() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"ok":true}"#,
    )
}

async fn protected(phone: VerifiedPhone) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Protected::from(&*phone).to_json(),
    )
}

/// Serves `app(tf)` on `listener` until the process is interrupted, with the peer address
/// available for the per-IP cap.
pub async fn serve(listener: TcpListener, tf: TwoFactor) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(tf).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
