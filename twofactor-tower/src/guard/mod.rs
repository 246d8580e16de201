//! The guard: only requests carrying a verified phone reach the inner service.
//!
//! [`RequireVerifiedPhoneLayer`] is a tower [`Layer`](tower_layer::Layer); it finds the app's
//! [`TwoFactor`](crate::handle::TwoFactor) in the request extensions (put there by the app-level
//! [`layer`](crate::handle::TwoFactor::layer)). A request with a valid proof — the app's session in
//! session mode, else `Authorization: Bearer`, else the cookie — gets the
//! [`VerifiedPhone`](crate::verified_phone::VerifiedPhone) in its extensions and goes on; anything else is
//! answered with the contract's 401 at once, and the inner service is not called.
//!
//! In token mode the check happens in memory: a token this worker thread checked lately is
//! recognised by a constant-time compare, another costs a base64 decode and one HMAC-SHA256;
//! then expiry and the in-memory list of revoked tokens. No I/O; what allocates is the proof's
//! entry in the request extensions (and the map's growth, when that entry is the one that fills
//! it). About every 200 ms one request refreshes that list
//! from the store (see `twofactor_core::revocation`); in session mode the session is read,
//! which is the session store's cost.
//!
//! On a route whose handler takes the proof, the `VerifiedPhone` argument alone is the guard
//! and the cheaper one: behind axum's `route_layer` the route is boxed once more and the proof
//! goes through the extensions, so the layer form costs two to three times what the extractor
//! alone costs (BENCHMARKS.md in the repository, parts a and b). Use the layer where the
//! handler does not take the proof, on a whole group of routes, or for
//! [`max_age`](RequireVerifiedPhoneLayer::max_age).
//!
//! It works on any `tower::Service<http::Request<B>>` whose response body can be made from
//! `Bytes`, axum or not:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use twofactor_tower::{MockProvider, PhoneVerifier, RequireVerifiedPhoneLayer, TwoFactor, VerifiedPhone};
//!
//! let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
//! let service = ServiceBuilder::new()
//!     .layer(tf.layer())
//!     .layer(RequireVerifiedPhoneLayer::new())
//!     .service(service_fn(|req: Request<String>| async move {
//!         let phone = req.extensions().get::<VerifiedPhone>().map(|p| p.phone().to_string());
//!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(phone.unwrap_or_default()))))
//!     }));
//! let response = service.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::RequireVerifiedPhoneLayer;
pub use service::RequireVerifiedPhone;
