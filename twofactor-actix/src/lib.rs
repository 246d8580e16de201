//! Phone verification by SMS one-time code for actix-web.
//!
//! One handle, one middleware, one extractor:
//!
//! - [`TwoFactor`]: the engine (provider, store, policy, keys), its HTTP settings and your
//!   [`Hooks`]. Build it once, outside `HttpServer::new` (`TwoFactor::from_env().await?`, or
//!   [`TwoFactor::builder`]), and clone it into each worker's app.
//! - [`TwoFactor::middleware`]: `App::new().wrap(tf.middleware())`. Every route then reaches
//!   it; there is no app data to register per scope.
//! - [`scope`] / [`configure`]: `POST /send`, `POST /verify`, `GET /status`, `POST /logout`
//!   under a prefix of your choice.
//! - [`RequireVerifiedPhone`]: a guard for routes that need a verified phone (optionally
//!   verified within the last N seconds, for step-up).
//! - [`VerifiedPhone`]: the extractor (`Option<VerifiedPhone>` too), and the one type of proof
//!   you meet: hooks receive it, sessions store it.
//!
//! This crate holds no logic of its own: every status, body, header and cookie comes from
//! `twofactor_core::web`, so an actix app answers byte for byte like an axum one.
//!
//! ```
//! # #[actix_web::main]
//! # async fn main() {
//! use actix_web::{App, HttpResponse, http::StatusCode, test, web};
//! use twofactor_actix::{MockProvider, PhoneParser, PhoneVerifier, RequireVerifiedPhone, TwoFactor, VerifiedPhone};
//!
//! let mock = MockProvider::new();
//! // In an app: `let tf = TwoFactor::from_env().await?;` (console provider and in-memory store
//! // when nothing is configured). Here, the recording mock provider (feature `testing`):
//! let tf = TwoFactor::builder(PhoneVerifier::builder(mock.clone()).build().unwrap())
//!     .cookie_secure(false)
//!     .build()
//!     .unwrap();
//!
//! let app = test::init_service(
//!     App::new()
//!         .wrap(tf.middleware())
//!         .service(twofactor_actix::scope("/phone"))
//!         .service(
//!             web::resource("/protected")
//!                 .wrap(RequireVerifiedPhone::new())
//!                 .to(|phone: VerifiedPhone| async move {
//!                     HttpResponse::Ok().body(phone.phone().to_string())
//!                 }),
//!         ),
//! )
//! .await;
//!
//! // Send a code, then type it in.
//! let send = test::TestRequest::post()
//!     .uri("/phone/send")
//!     .insert_header(("content-type", "application/json"))
//!     .set_payload(r#"{"phone":"+919812345678"}"#)
//!     .to_request();
//! assert_eq!(test::call_service(&app, send).await.status(), StatusCode::OK);
//!
//! let phone = PhoneParser::default().parse("+919812345678").unwrap();
//! let code = mock.last_code(&phone).unwrap();
//! let verify = test::TestRequest::post()
//!     .uri("/phone/verify")
//!     .insert_header(("content-type", "application/json"))
//!     .set_payload(format!(r#"{{"phone":"+919812345678","code":"{}"}}"#, code.expose()))
//!     .to_request();
//! let verified: serde_json::Value = test::call_and_read_body_json(&app, verify).await;
//! let token = verified["token"].as_str().unwrap();
//!
//! // The token opens the guarded route.
//! let protected = test::TestRequest::get()
//!     .uri("/protected")
//!     .insert_header(("authorization", format!("Bearer {token}")))
//!     .to_request();
//! assert_eq!(test::call_and_read_body(&app, protected).await, "+919812345678");
//! # }
//! ```
//!
//! # Your users, your session
//!
//! [`Hooks::after_verify`] runs inside `POST /verify` once the code matched, with the request in
//! hand: bind the phone to the logged-in user ([`Approval::bind`]) in the same request, add
//! fields to the answer, or refuse. [`Hooks::before_send`] decides who may ask for a code at all.
//! A bound proof passes as that user's only: check `phone.is_bound_to(&user_id)` on routes that
//! need both your login and a verified phone.
//!
//! With the `actix-session` feature and [`TwoFactorBuilder::proofs_in_session`], the proof is
//! written into the app's actix-session session (after renewing its key) instead of a token
//! cookie, and the guard and the extractors read it from there. Your own logout ends the proof
//! with the session (`session.purge()`); in token mode call [`TwoFactor::sign_out`], which
//! revokes the token.
//!
//! # One dependency
//!
//! This crate re-exports what an app needs from `twofactor-core`: the engine
//! ([`PhoneVerifier`]), the [`Policy`], phones and codes, the proof and keys, configuration from
//! the environment ([`Settings`]), the providers ([`twofactor_in`], [`verihubs`],
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
//! - `actix-session`: proofs kept in the app's own actix-session session.
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

mod convert;
mod endpoints;
mod extract;
mod guard;
mod handle;
mod hooks;
pub mod middleware;
mod rejection;
mod session;
mod verified_phone;

pub use endpoints::{configure, scope, scope_with};
pub use guard::{RequireVerifiedPhone, RequireVerifiedPhoneService};
pub use handle::{SignedOut, TwoFactor, TwoFactorBuilder, TwoFactorError};
pub use hooks::Hooks;
pub use middleware::TwoFactorMiddleware;
pub use rejection::Rejection as VerifiedPhoneRejection;
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
