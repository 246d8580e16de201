//! Between actix-web's HTTP types (the `http` 0.2 crate, under `actix_web::http`) and the
//! `http` 1.x types of `twofactor_core::web`. Conversion only: no decision is taken here.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use twofactor_core::web::WebResponse;
use twofactor_core::web::adapter::token_from;

/// Writes a [`WebResponse`] of the contract as an actix [`HttpResponse`]: same status, same
/// headers, same body bytes.
pub(crate) fn into_response(web: WebResponse) -> HttpResponse {
    // Every `http` 1.x status, name and value is valid in `http` 0.2 too; the fallbacks are
    // unreachable in practice and stay on the safe side.
    let status =
        StatusCode::from_u16(web.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::with_body(status, web.body);
    let headers = response.headers_mut();
    for (name, value) in &web.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    response.map_into_boxed_body()
}

/// The request's headers as an `http` 1.x map, for the endpoint functions of core.
pub(crate) fn http_headers(headers: &HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::with_capacity(headers.len_keys());
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(name, value);
        }
    }
    out
}

/// The token of a request, borrowed from actix's headers where it lies (the guard runs this on
/// every protected request).
pub(crate) fn token<'h>(headers: &'h HeaderMap, cookie_name: &str) -> Option<&'h [u8]> {
    // The cookies are looked up only when there is no bearer token: `flat_map` calls its
    // closure when the cookies are first asked for.
    let cookies = std::iter::once(headers)
        .flat_map(|h| h.get_all(header::COOKIE))
        .filter_map(|v| v.to_str().ok());
    token_from(
        headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()),
        cookies,
        cookie_name,
    )
}

/// An `http` 1.x header value as actix's.
pub(crate) fn header_value(value: &http::HeaderValue) -> HeaderValue {
    HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static(""))
}
