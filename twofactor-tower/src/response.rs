//! Writing the contract's [`WebResponse`] as an axum response.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use twofactor_core::web::WebResponse;

/// A contract response, ready for axum.
pub(crate) struct Contract(pub(crate) WebResponse);

impl IntoResponse for Contract {
    fn into_response(self) -> Response {
        let WebResponse {
            status,
            headers,
            body,
        } = self.0;
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}
