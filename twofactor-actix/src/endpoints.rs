//! The four endpoints, mounted with [`scope`] or [`configure`]; they read the app's
//! [`TwoFactor`] from the request.

use actix_web::error::PayloadError;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, Scope};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use twofactor_core::web::adapter::{DRAIN_LIMIT, MAX_BODY, announces_more_than};
use twofactor_core::web::{Endpoint, WebResponse};

use crate::convert::{http_headers, into_response};
use crate::handle::TwoFactor;
use crate::session;
use crate::verified_phone::VerifiedPhone;

/// A scope at `path` with the four endpoints — `POST {path}/send`, `POST {path}/verify`,
/// `GET {path}/status`, `POST {path}/logout`.
///
/// Any other method on these paths is answered 405 `method_not_allowed` (with `Allow`), any
/// other path under `path` 404 `not_found`, both with the contract's JSON error body. The
/// endpoints use the [`TwoFactor`] of the app-level [`middleware`](TwoFactor::middleware)
/// (without it, the opaque 500, logged with the fix). Gate who may ask for a code with
/// [`Hooks::before_send`](crate::hooks::Hooks::before_send); mount fewer endpoints with [`scope_with`].
///
/// ```
/// # #[actix_web::main]
/// # async fn main() {
/// use actix_web::{App, test};
/// use twofactor_actix::{MockProvider, PhoneVerifier, TwoFactor};
///
/// let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
/// let app = test::init_service(
///     App::new().wrap(tf.middleware()).service(twofactor_actix::scope("/phone")),
/// )
/// .await;
///
/// let response = test::call_service(&app, test::TestRequest::get().uri("/phone/status").to_request()).await;
/// assert_eq!(test::read_body(response).await, r#"{"verified":false}"#);
/// # }
/// ```
pub fn scope(path: &str) -> Scope {
    scope_with(path, &Endpoint::ALL)
}

/// [`scope`] with only `endpoints`; the others answer 404 like any unknown path.
pub fn scope_with(path: &str, endpoints: &[Endpoint]) -> Scope {
    let endpoints = endpoints.to_vec();
    web::scope(path).configure(move |cfg| configure_with(cfg, &endpoints))
}

/// The four endpoints of [`scope`], for a scope of your own:
/// `web::scope("/phone").configure(twofactor_actix::configure)`.
///
/// It also sets the scope's default service (404 `not_found` in JSON), so use it inside a
/// scope of its own rather than on the whole `App`.
pub fn configure(cfg: &mut ServiceConfig) {
    configure_with(cfg, &Endpoint::ALL);
}

fn configure_with(cfg: &mut ServiceConfig, endpoints: &[Endpoint]) {
    for endpoint in endpoints {
        let allow = endpoint.allow();
        let resource =
            web::resource(endpoint.path()).default_service(web::to(move || async move {
                into_response(WebResponse::method_not_allowed(allow))
            }));
        let resource = match endpoint {
            Endpoint::Send => resource.route(web::post().to(send)),
            Endpoint::Verify => resource.route(web::post().to(verify)),
            Endpoint::Logout => resource.route(web::post().to(logout)),
            // HEAD as well as GET, as axum's `get` routes answer it: both adapters behave the
            // same (actix leaves the body out of a HEAD response).
            Endpoint::Status => resource.route(
                web::route()
                    .guard(
                        actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()),
                    )
                    .to(status),
            ),
            _ => continue,
        };
        cfg.service(resource);
    }
    cfg.default_service(web::to(|| async {
        into_response(WebResponse::not_found())
    }));
}

fn handle(req: &HttpRequest) -> Result<TwoFactor, Box<HttpResponse>> {
    TwoFactor::of(req).ok_or_else(|| Box::new(into_response(WebResponse::internal())))
}

async fn send(req: HttpRequest, body: web::Payload) -> HttpResponse {
    let tf = match handle(&req) {
        Ok(tf) => tf,
        Err(response) => return *response,
    };
    let headers = http_headers(req.headers());
    let body = match read_body(&headers, body).await {
        Ok(body) => body,
        Err(refused) => return into_response(refused),
    };
    let contract = tf.contract();
    let response = match tf.hooks() {
        None => {
            contract
                .send(&headers, req.peer_addr(), &body, |_| async { Ok(()) })
                .await
        }
        Some(hooks) => {
            contract
                .send(&headers, req.peer_addr(), &body, |preview| {
                    hooks.before_send(&req, preview)
                })
                .await
        }
    };
    into_response(response)
}

async fn verify(req: HttpRequest, body: web::Payload) -> HttpResponse {
    let tf = match handle(&req) {
        Ok(tf) => tf,
        Err(response) => return *response,
    };
    let headers = http_headers(req.headers());
    let body = match read_body(&headers, body).await {
        Ok(body) => body,
        Err(refused) => return into_response(refused),
    };
    let save = |proof| {
        let saved = session::save(&req, proof);
        async move { saved }
    };
    let contract = tf.contract();
    let response = match tf.hooks() {
        None => {
            contract
                .verify(
                    &headers,
                    req.peer_addr(),
                    &body,
                    |_| async { Ok(Default::default()) },
                    save,
                )
                .await
        }
        Some(hooks) => {
            contract
                .verify(
                    &headers,
                    req.peer_addr(),
                    &body,
                    |proof| hooks.after_verify(&req, VerifiedPhone::from(proof)),
                    save,
                )
                .await
        }
    };
    into_response(response)
}

async fn status(req: HttpRequest) -> HttpResponse {
    let tf = match handle(&req) {
        Ok(tf) => tf,
        Err(response) => return *response,
    };
    let proof = tf.authenticate_request(&req, None).await;
    into_response(tf.contract().status(proof))
}

async fn logout(req: HttpRequest) -> HttpResponse {
    let tf = match handle(&req) {
        Ok(tf) => tf,
        Err(response) => return *response,
    };
    let headers = http_headers(req.headers());
    let removed = || {
        let removed = session::remove(&req);
        async move { removed }
    };
    into_response(tf.contract().logout(&headers, removed).await)
}

/// The body, at most [`MAX_BODY`] bytes, counted while reading (chunked bodies, lying
/// headers); a larger one is read on up to [`DRAIN_LIMIT`] so that the client gets its 413
/// rather than a reset, and one announced as larger than that is refused before reading.
async fn read_body(
    headers: &http::HeaderMap,
    mut payload: web::Payload,
) -> Result<Bytes, WebResponse> {
    // A body announced as only somewhat too large is still read (see DRAIN_LIMIT).
    if announces_more_than(headers, DRAIN_LIMIT) {
        return Err(WebResponse::payload_too_large());
    }
    let mut body = BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            PayloadError::Overflow => WebResponse::payload_too_large(),
            _ => WebResponse::unreadable_body(),
        })?;
        seen = seen.saturating_add(chunk.len());
        if seen <= MAX_BODY {
            body.extend_from_slice(&chunk);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > MAX_BODY {
        return Err(WebResponse::payload_too_large());
    }
    Ok(body.freeze())
}
