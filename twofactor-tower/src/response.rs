//! Writing the contract's [`WebResponse`] as an HTTP response of any body type that can be
//! made from bytes (axum's `Body`, `Full<Bytes>`, …).

use bytes::Bytes;
use http::Response;
use twofactor_core::web::WebResponse;

/// `response` as an `http::Response<B>`.
pub(crate) fn into_http<B: From<Bytes>>(response: WebResponse) -> Response<B> {
    let WebResponse {
        status,
        headers,
        body,
    } = response;
    let mut out = Response::new(B::from(body));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// `response` for axum.
pub(crate) fn into_axum(response: WebResponse) -> axum::response::Response {
    into_http(response)
}
