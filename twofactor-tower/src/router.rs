//! The endpoints, as an axum router.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use twofactor_core::web::{
    ALLOW_POST, ALLOW_STATUS, MAX_BODY, TwoFactor, WebResponse, announces_too_large,
};

use crate::response::Contract;

/// The endpoints of DESIGN §3 over `tf`, to nest under a prefix:
/// `Router::new().nest("/phone", twofactor_tower::router(tf))`.
///
/// | route | |
/// |---|---|
/// | `POST /send` | `{"phone": "+919812345678", "channel": "sms"}` → sends a code |
/// | `POST /verify` | `{"phone": "+919812345678", "code": "123456"}` → a token and its cookie |
/// | `GET /status` | whether the request carries a valid token |
/// | `POST /logout` | clears the cookie |
///
/// The router carries its own state, so it nests into a router of any state type. The client
/// address for the per-IP cap is the peer's: serve the app with
/// `into_make_service_with_connect_info::<SocketAddr>()` (without it, the per-IP cap is
/// skipped), or trust `X-Forwarded-For` behind your proxy with
/// [`TwoFactor::with_trust_forwarded_for`].
pub fn router<S>(tf: TwoFactor) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/send", post(send).fallback(|| not_allowed(ALLOW_POST)))
        .route("/verify", post(verify).fallback(|| not_allowed(ALLOW_POST)))
        .route(
            "/status",
            get(status).fallback(|| not_allowed(ALLOW_STATUS)),
        )
        .route("/logout", post(logout).fallback(|| not_allowed(ALLOW_POST)))
        .fallback(|| async { Contract(WebResponse::not_found()) })
        .with_state(tf)
}

async fn not_allowed(allow: &'static str) -> Response {
    Contract(WebResponse::method_not_allowed(allow)).into_response()
}

/// The parts of a request the contract needs: headers, peer, body (at most `MAX_BODY`).
async fn read(
    request: Request,
) -> Result<(http::HeaderMap, Option<SocketAddr>, bytes::Bytes), WebResponse> {
    if announces_too_large(request.headers()) {
        return Err(WebResponse::payload_too_large());
    }
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok((parts.headers, peer, collected.to_bytes())),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(WebResponse::payload_too_large())
        }
        Err(_) => Err(WebResponse::unreadable_body()),
    }
}

async fn send(State(tf): State<TwoFactor>, request: Request) -> Contract {
    Contract(match read(request).await {
        Ok((headers, peer, body)) => tf.send(&headers, peer, &body).await,
        Err(r) => r,
    })
}

async fn verify(State(tf): State<TwoFactor>, request: Request) -> Contract {
    Contract(match read(request).await {
        Ok((headers, peer, body)) => tf.verify(&headers, peer, &body).await,
        Err(r) => r,
    })
}

async fn status(State(tf): State<TwoFactor>, headers: http::HeaderMap) -> Contract {
    Contract(tf.status(&headers))
}

async fn logout(State(tf): State<TwoFactor>, headers: http::HeaderMap) -> Contract {
    Contract(tf.logout(&headers))
}
