//! The endpoints, as an axum router that reads the app's [`TwoFactor`] from the request.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use bytes::Bytes;
use http::request::Parts;
use http_body_util::BodyExt;
use twofactor_core::web::adapter::{DRAIN_LIMIT, MAX_BODY, announces_more_than};
use twofactor_core::web::{Endpoint, WebResponse};

use crate::handle::TwoFactor;
use crate::response::into_axum;
use crate::session;
use crate::verified_phone::VerifiedPhone;

/// The four endpoints, to nest under a prefix: `.nest("/phone", twofactor_tower::router())`.
///
/// | route | |
/// |---|---|
/// | `POST /send` | `{"phone": "+919812345678", "channel": "sms"}` → sends a code |
/// | `POST /verify` | `{"phone": "+919812345678", "code": "123456"}` → the proof: a token (and its cookie, or the app's session) |
/// | `GET /status` | whether the request carries a valid proof |
/// | `POST /logout` | revokes the request's token, clears the cookie (and the session's proof) |
///
/// Any other method on these paths is 405 `method_not_allowed` (with `Allow`), any other path
/// under the prefix 404 `not_found`, both in the contract's JSON. The router has no state of
/// its own: it nests into a router of any state type and finds the [`TwoFactor`] the app-level
/// [`layer`](TwoFactor::layer) put in the request (without it, the opaque 500, logged with the
/// fix). Gate who may ask for a code with [`Hooks::before_send`](crate::hooks::Hooks::before_send);
/// mount fewer endpoints with [`router_with`].
///
/// The client address for the per-address caps is the peer's: serve the app with
/// `into_make_service_with_connect_info::<SocketAddr>()` (without it the caps cannot apply, and
/// a warning says so), or trust your proxy (see [`TrustedProxies`](twofactor_core::web::TrustedProxies)).
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router_with(&Endpoint::ALL)
}

/// [`router`] with only `endpoints` (say, without [`Endpoint::Logout`] when the app's own
/// logout calls [`TwoFactor::sign_out`]). The others answer 404 like any unknown path.
pub fn router_with<S>(endpoints: &[Endpoint]) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut router = Router::new();
    for endpoint in endpoints {
        let route: MethodRouter<S> = match endpoint {
            Endpoint::Send => post(send),
            Endpoint::Verify => post(verify),
            Endpoint::Status => get(status),
            Endpoint::Logout => post(logout),
            _ => continue,
        };
        let allow = endpoint.allow();
        router = router.route(
            endpoint.path(),
            route
                .fallback(move || async move { into_axum(WebResponse::method_not_allowed(allow)) }),
        );
    }
    router.fallback(|| async { into_axum(WebResponse::not_found()) })
}

/// The request's parts, its body (at most [`MAX_BODY`] bytes; a larger one is read on up to
/// [`DRAIN_LIMIT`] so that the client gets its 413 rather than a reset) and the app's handle.
async fn read(request: Request) -> Result<(Parts, Bytes, TwoFactor), Response> {
    let (parts, body) = request.into_parts();
    let tf = TwoFactor::from_parts(&parts)?.clone();
    // A body announced as only somewhat too large is still read (see DRAIN_LIMIT).
    if announces_more_than(&parts.headers, DRAIN_LIMIT) {
        return Err(into_axum(WebResponse::payload_too_large()));
    }
    let mut body = body;
    let mut bytes = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(into_axum(WebResponse::unreadable_body()));
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        seen = seen.saturating_add(data.len());
        if seen <= MAX_BODY {
            bytes.extend_from_slice(&data);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > MAX_BODY {
        return Err(into_axum(WebResponse::payload_too_large()));
    }
    Ok((parts, bytes.freeze(), tf))
}

fn peer(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

async fn send(request: Request) -> Response {
    let (mut parts, body, tf) = match read(request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let peer = peer(&parts);
    let contract = tf.contract();
    let response = match tf.hooks() {
        None => {
            contract
                .send(&parts.headers, peer, &body, |_| async { Ok(()) })
                .await
        }
        Some(hooks) => {
            // The hook may change the parts; the contract reads the headers as they came.
            let headers = parts.headers.clone();
            contract
                .send(&headers, peer, &body, |preview| {
                    hooks.before_send(&mut parts, preview)
                })
                .await
        }
    };
    into_axum(response)
}

async fn verify(request: Request) -> Response {
    let (mut parts, body, tf) = match read(request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let peer = peer(&parts);
    let session = session::of(&parts.extensions);
    let save = |proof| session::save(session, proof);
    let contract = tf.contract();
    let response = match tf.hooks() {
        None => {
            contract
                .verify(
                    &parts.headers,
                    peer,
                    &body,
                    |_| async { Ok(Default::default()) },
                    save,
                )
                .await
        }
        Some(hooks) => {
            let headers = parts.headers.clone();
            contract
                .verify(
                    &headers,
                    peer,
                    &body,
                    |proof| hooks.after_verify(&mut parts, VerifiedPhone::from(proof)),
                    save,
                )
                .await
        }
    };
    into_axum(response)
}

async fn status(request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let tf = match TwoFactor::from_parts(&parts) {
        Ok(tf) => tf,
        Err(response) => return response,
    };
    let proof = tf.authenticate_parts(&parts, None).await;
    into_axum(tf.contract().status(proof))
}

async fn logout(request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let tf = match TwoFactor::from_parts(&parts) {
        Ok(tf) => tf,
        Err(response) => return response,
    };
    let session = session::of(&parts.extensions);
    into_axum(
        tf.contract()
            .logout(&parts.headers, || session::remove(session))
            .await,
    )
}
