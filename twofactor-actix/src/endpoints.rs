//! The four endpoints of DESIGN §3, mounted with [`scope`] or [`configure`].

use std::future::Future;

use actix_web::error::PayloadError;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, Scope};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use twofactor_core::web::{
    ALLOW_POST, ALLOW_STATUS, MAX_BODY, TwoFactor, WebResponse, announces_too_large,
};

use crate::convert::{http_headers, into_response};

/// A scope at `path` with the four endpoints — `POST {path}/send`, `POST {path}/verify`,
/// `GET {path}/status`, `POST {path}/logout` — and `tf` registered as its app data.
///
/// Any other method on these paths is answered 405 `method_not_allowed` (with `Allow`), any
/// other path under `path` 404 `not_found`, both with the contract's JSON error body.
///
/// `tf` is visible to the extractors only inside this scope: to extract
/// [`VerifiedPhone`](crate::VerifiedPhone) in your own routes, also register it with
/// `App::app_data(tf.clone())`, or guard them with
/// [`RequireVerifiedPhone`](crate::RequireVerifiedPhone).
///
/// ```
/// # #[actix_web::main]
/// # async fn main() {
/// use actix_web::{App, test};
/// use twofactor_actix::TwoFactor;
/// use twofactor_actix::core::{PhoneVerifier, mock::MockProvider};
///
/// let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
/// let app = test::init_service(App::new().service(twofactor_actix::scope("/phone", tf))).await;
///
/// let response = test::call_service(&app, test::TestRequest::get().uri("/phone/status").to_request()).await;
/// assert_eq!(test::read_body(response).await, r#"{"verified":false}"#);
/// # }
/// ```
pub fn scope(path: &str, tf: TwoFactor) -> Scope {
    web::scope(path).configure(configure(tf))
}

/// The four endpoints of [`scope`], as a configuration function for a scope of your own:
/// `web::scope("/phone").configure(twofactor_actix::configure(tf))`.
///
/// It also sets the scope's default service (404 `not_found` in JSON), so use it inside a
/// scope of its own rather than on the whole `App`.
pub fn configure(tf: TwoFactor) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.app_data(tf.clone())
            .service(post(
                "/send",
                tf.clone(),
                |tf, req, headers, body| async move {
                    match read_body(&headers, body).await {
                        Ok(body) => tf.send(&headers, req.peer_addr(), &body).await,
                        Err(refused) => refused,
                    }
                },
            ))
            .service(post(
                "/verify",
                tf.clone(),
                |tf, req, headers, body| async move {
                    match read_body(&headers, body).await {
                        Ok(body) => tf.verify(&headers, req.peer_addr(), &body).await,
                        Err(refused) => refused,
                    }
                },
            ))
            .service(post(
                "/logout",
                tf.clone(),
                |tf, _req, headers, _body| async move { tf.logout(&headers) },
            ))
            .service(
                web::resource("/status")
                    // HEAD as well as GET, as axum's `get` routes answer it: both adapters
                    // behave the same (actix leaves the body out of a HEAD response).
                    .route(
                        web::route()
                            .guard(
                                actix_web::guard::Any(actix_web::guard::Get())
                                    .or(actix_web::guard::Head()),
                            )
                            .to(move |req: HttpRequest| {
                                let response = tf.status(&http_headers(req.headers()));
                                async move { into_response(response) }
                            }),
                    )
                    .default_service(web::to(|| async {
                        into_response(WebResponse::method_not_allowed(ALLOW_STATUS))
                    })),
            )
            .default_service(web::to(|| async {
                into_response(WebResponse::not_found())
            }));
    }
}

/// A `POST` resource at `path` answered by `handler` (given the request's headers in `http`
/// 1.x types and its unread body), and 405 for every other method.
fn post<F, Fut>(path: &str, tf: TwoFactor, handler: F) -> actix_web::Resource
where
    F: Fn(TwoFactor, HttpRequest, http::HeaderMap, web::Payload) -> Fut + Clone + 'static,
    Fut: Future<Output = WebResponse> + 'static,
{
    web::resource(path)
        .route(web::post().to(move |req: HttpRequest, body: web::Payload| {
            let headers = http_headers(req.headers());
            let response = handler(tf.clone(), req, headers, body);
            async move { into_response(response.await) }
        }))
        .default_service(web::to(|| async {
            into_response(WebResponse::method_not_allowed(ALLOW_POST))
        }))
}

/// The body, at most [`MAX_BODY`] bytes: refused from `Content-Length` before reading
/// anything, and by counting while reading when the body is chunked (or the header lies).
async fn read_body(
    headers: &http::HeaderMap,
    mut payload: web::Payload,
) -> Result<Bytes, WebResponse> {
    if announces_too_large(headers) {
        return Err(WebResponse::payload_too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            PayloadError::Overflow => WebResponse::payload_too_large(),
            _ => WebResponse::unreadable_body(),
        })?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(WebResponse::payload_too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
