//! The guard: only requests carrying a verified phone reach the inner service.
//!
//! [`RequireVerifiedPhone`] is a tower [`Layer`](tower_layer::Layer). Its service checks the
//! token (`Authorization: Bearer`, then the cookie) with
//! [`TwoFactor::authenticate`](twofactor_core::web::TwoFactor::authenticate); a valid one
//! puts the core [`VerifiedPhone`](twofactor_core::VerifiedPhone) in the request extensions and
//! calls the inner service; anything else is answered with the contract's 401 at once, without
//! calling the inner service. The check is a base64 decode and one HMAC-SHA256: no I/O, no
//! allocation on the way through.
//!
//! It works on any `tower::Service<http::Request<B>>`, axum or not:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use twofactor_core::{PhoneVerifier, mock::MockProvider};
//! use twofactor_tower::{RequireVerifiedPhone, TwoFactor};
//!
//! let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
//! let service = ServiceBuilder::new()
//!     .layer(RequireVerifiedPhone::new(tf))
//!     .service(service_fn(|req: Request<String>| async move {
//!         let phone = req.extensions().get::<twofactor_core::VerifiedPhone>().unwrap().phone();
//!         Ok::<_, Infallible>(Response::new(http_body_util::Full::new(bytes::Bytes::from(phone.to_string()))))
//!     }));
//! let response = service.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::RequireVerifiedPhone;
pub use service::RequireVerifiedPhoneService;
