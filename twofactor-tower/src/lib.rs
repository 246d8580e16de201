//! Phone verification by SMS one-time code for axum and any tower stack.
//!
//! Three pieces, all over one [`TwoFactor`] (the engine from `twofactor-core` plus its HTTP
//! settings):
//!
//! - [`router`]: the endpoints `POST /send`, `POST /verify`, `GET /status`, `POST /logout`, as
//!   an axum [`Router`](axum::Router) to nest under a prefix of your choice.
//! - [`RequireVerifiedPhone`]: a tower [`Layer`](tower_layer::Layer) that lets through only
//!   requests carrying a valid verification token (bearer or cookie), optionally verified
//!   within the last N seconds. Works on any `tower::Service` over `http::Request`.
//! - [`VerifiedPhone`]: an axum extractor for handlers (`Option<VerifiedPhone>` too).
//!
//! ```
//! use axum::{Router, routing::get};
//! use twofactor_tower::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};
//! use twofactor_core::{PhoneVerifier, mock::MockProvider};
//!
//! async fn protected(phone: VerifiedPhone) -> String {
//!     format!("hello {}", phone.phone())
//! }
//!
//! let verifier = PhoneVerifier::builder(MockProvider::new()).build().unwrap();
//! let tf = TwoFactor::new(verifier).with_cookie_secure(false);
//! let app: Router = Router::new()
//!     .route("/protected", get(protected).route_layer(RequireVerifiedPhone::new(tf.clone())))
//!     .nest("/phone", twofactor_tower::router(tf.clone()))
//!     .with_state(tf);
//! # let _ = app;
//! ```
//!
//! Every status, body, header and cookie comes from [`twofactor_core::web`], the contract
//! shared with the actix adapter; this crate only moves bytes between axum and it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod extract;
pub mod guard;
mod response;
mod router;

pub use extract::{MissingVerification, VerifiedPhone};
pub use guard::RequireVerifiedPhone;
pub use router::router;
pub use twofactor_core as core;
pub use twofactor_core::web::{TwoFactor, WebConfig};
