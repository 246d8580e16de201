//! Phone verification by SMS one-time code for axum and any tower stack.
//!
//! One handle, one layer, one extractor:
//!
//! - [`TwoFactor`]: the engine (provider, store, policy, keys), its HTTP settings and your
//!   [`Hooks`]. Build it once (`TwoFactor::from_env().await?`, or [`TwoFactor::builder`]).
//! - [`TwoFactor::layer`]: install it once on the app, outermost. Every route then reaches it:
//!   no state to pass around, no `FromRef` to write, your own state type stays yours.
//! - [`router`]: `POST /send`, `POST /verify`, `GET /status`, `POST /logout`, to nest under a
//!   prefix of your choice.
//! - [`RequireVerifiedPhoneLayer`]: a guard for routes that need a verified phone (optionally
//!   verified within the last N seconds, for step-up).
//! - [`VerifiedPhone`]: the extractor (`Option<VerifiedPhone>` too), and the one type of proof
//!   you meet: hooks receive it, sessions store it.
//!
//! ```
//! use axum::{Router, routing::get};
//! use twofactor_tower::{MockProvider, PhoneVerifier, RequireVerifiedPhoneLayer, TwoFactor, VerifiedPhone};
//!
//! async fn protected(phone: VerifiedPhone) -> String {
//!     format!("hello {}", phone.phone())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // In an app: `let tf = TwoFactor::from_env().await?;` (console provider and in-memory store
//! // when nothing is configured). Here, the recording mock provider (feature `testing`):
//! let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
//! let app: Router = Router::new()
//!     .route("/protected", get(protected).route_layer(RequireVerifiedPhoneLayer::new()))
//!     .nest("/phone", twofactor_tower::router())
//!     .layer(tf.layer());
//! // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
//! # let _ = app;
//! # }
//! ```
//!
//! # Your users, your session
//!
//! [`Hooks::after_verify`] runs inside `POST /verify` once the code matched, with the request
//! in hand: bind the phone to the logged-in user ([`Approval::bind`]) in the same request, add
//! fields to the answer, or refuse. [`Hooks::before_send`] decides who may ask for a code at all.
//! A bound proof passes as that user's only: check `phone.is_bound_to(&user_id)` on routes that
//! need both your login and a verified phone.
//!
//! With the `tower-sessions` feature and [`TwoFactorBuilder::proofs_in_session`], the proof is
//! written into the app's tower-sessions session (after rotating its id) instead of a token
//! cookie, and the guard and the extractors read it from there; install tower-sessions'
//! `SessionManagerLayer` inside this crate's layer. Your own logout ends the proof with the
//! session (`session.flush()`); in token mode call [`TwoFactor::sign_out`], which revokes the
//! token.
//!
//! Every status, body, header and cookie comes from `twofactor_core::web`, the contract shared
//! with the actix adapter; this crate only moves bytes between axum and it.
//!
//! # One dependency
//!
//! This crate re-exports what an app needs from `twofactor-core`: the engine
//! ([`PhoneVerifier`]), the [`Policy`], phones and codes, the proof and keys, configuration
//! from the environment ([`Settings`]), the providers ([`twofactor_in`], [`verihubs`],
//! [`octopush`], [`failover`], [`local`], [`console`], [`mock`]) and the stores ([`store`]).
//!
//! Some come with a feature of this crate (below); with it off, its link here leads to the list.
//!
//! # Features
//!
//! - `moka`, `twofactor-in` (the defaults): the in-memory store, the 2Factor.in provider.
//! - `verihubs`, `octopush`: those providers; `bulk`, `encrypted-sms`: 2Factor's bulk and
//!   encrypted SMS.
//! - `redis` (with `redis-tls`, `redis-cluster`), `postgres`: stores shared by app instances.
//! - `tower-sessions`: proofs kept in the app's own tower-sessions session.
//! - `testing`: the recording mock provider ([`MockProvider`]) and the store conformance suite,
//!   for your tests.
//! - `openapi`: the OpenAPI 3.1 document of the endpoints ([`openapi`]), to merge into the app's
//!   own.
//! - `metrics`: the engine's and the guard's counters and the providers' latency, through the
//!   `metrics` facade.
//!
#![cfg_attr(not(feature = "twofactor-in"), doc = "[`twofactor_in`]: #features")]
#![cfg_attr(not(feature = "verihubs"), doc = "[`verihubs`]: #features")]
#![cfg_attr(not(feature = "octopush"), doc = "[`octopush`]: #features")]
#![cfg_attr(not(feature = "testing"), doc = "[`mock`]: #features")]
#![cfg_attr(not(feature = "testing"), doc = "[`MockProvider`]: #features")]
#![cfg_attr(not(feature = "openapi"), doc = "[`openapi`]: #features")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod extract;
pub mod guard;
mod handle;
mod hooks;
pub mod manager;
mod response;
mod router;
mod session;
mod verified_phone;

pub use extract::VerifiedPhoneRejection;
pub use guard::{RequireVerifiedPhone, RequireVerifiedPhoneLayer};
pub use handle::{SignedOut, TwoFactor, TwoFactorBuilder, TwoFactorError};
pub use hooks::Hooks;
pub use manager::{TwoFactorManager, TwoFactorManagerLayer};
pub use router::{router, router_with};
pub use verified_phone::VerifiedPhone;

pub use twofactor_core::async_trait;
pub use twofactor_core::config::{ConfigError, Settings};
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use twofactor_core::mock;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use twofactor_core::mock::MockProvider;
#[cfg(feature = "octopush")]
#[cfg_attr(docsrs, doc(cfg(feature = "octopush")))]
pub use twofactor_core::octopush;
pub use twofactor_core::phone::{PhoneError, PhoneNumber, PhoneParser};
pub use twofactor_core::policy::{Policy, PolicyBuilder, PolicyError};
pub use twofactor_core::token::{KeyRing, PhoneProof, SigningKey, TokenError};
/// The 2Factor.in provider and client.
#[cfg(feature = "twofactor-in")]
#[cfg_attr(docsrs, doc(cfg(feature = "twofactor-in")))]
pub use twofactor_core::twofactor_in;
pub use twofactor_core::verifier::{
    BuildError, Context, PhoneVerifier, PhoneVerifierBuilder, SendError, Sent, Verified,
    VerifyError,
};
#[cfg(feature = "verihubs")]
#[cfg_attr(docsrs, doc(cfg(feature = "verihubs")))]
pub use twofactor_core::verihubs;
/// The OpenAPI 3.1 document of the endpoints (feature `openapi`).
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub use twofactor_core::web::openapi;
pub use twofactor_core::web::{
    Approval, Endpoint, ErrorCode, GuardRejection, ProofStorage, Refusal, SameSite, SendPreview,
    TrustedProxies, WebConfig, WebConfigBuilder, WebConfigError,
};
pub use twofactor_core::{
    clock, code, console, events, failover, local, phone, policy, provider, store, token,
};
