//! The HTTP contract, framework-free: what both adapters (`twofactor-tower`,
//! `twofactor-actix`) mount, byte for byte the same.
//!
//! # The endpoints
//!
//! The app mounts them under a prefix of its choice (the examples use `/phone`). Every request
//! and response body is JSON; every error body, the guard's 401 included, is
//! `{"error": "<code>", "message": "<human text>", ...}` with the codes and statuses of
//! [`ErrorCode`]. Bodies over 4 KiB get 413 `payload_too_large`; a missing or non-JSON
//! `Content-Type`, malformed JSON, a body that is not an object, a missing or ill-typed field or
//! an unknown `channel` get 400 `invalid_request`. Error messages never echo what the client
//! sent. Phone input is ASCII digits, one leading `+`, and the separators space, `-`, `(` and
//! `)`; anything else is `invalid_phone` before any parsing.
//!
//! | endpoint | body | 200 |
//! |---|---|---|
//! | `POST /send` | `{"phone": "+919812345678", "channel": "sms"}` (`channel` optional: `sms` or `voice`) | `{"status":"pending","phone":"+919812345678","expires_in":600,"resend_in":30}` |
//! | `POST /verify` | `{"phone": "+919812345678", "code": "123456"}` | `{"status":"verified","phone":"+91…","token":"…","expires_in":86400}` and the cookie |
//! | `GET /status` | – | `{"verified":true,"phone":"+91…","verified_at":<unix s>,"expires_in":N}`, or `{"verified":false}` |
//! | `POST /logout` | – | 204, a cookie that clears the token's; the token is revoked |
//!
//! Send refusals: 400 `invalid_phone`, 403 `phone_not_allowed` / `channel_not_allowed`, 429
//! `rate_limited` with `retry_after` (whole seconds, rounded up, at least 1), `reason` (the first
//! limit that refused, in the order `locked`, `cooldown`, `phone`, `ip`, `range`, `channel`,
//! `country`, `global`) and `Retry-After`; 502 `provider_error`, 504 `provider_timeout`, 503
//! `service_unavailable` with `Retry-After` when the store is down (fail closed). A refused send
//! spends no cap. A send whose outcome is unknown (a timeout, a dropped connection, a 5xx) counts
//! as sent: its cooldown and caps stay spent and it is never retried.
//!
//! Verify refusals: 400 `invalid_code` (not the configured shape: free), 410 `code_expired` (no
//! live code), 422 `incorrect_code` with `attempts_left`, 429 `too_many_attempts` with
//! `retry_after` (the budget is spent: the code is cancelled and even the right code is refused
//! until the lock lifts), 429 `rate_limited` with `reason: "ip"` (the client address's verify
//! budget), and the provider and store errors of send. Only an explicit match verifies.
//!
//! The cookie: `twofactor_phone` (configurable), `HttpOnly; SameSite=Lax; Path=/;
//! Max-Age=<token lifetime>` and `Secure` unless configured off (see [`WebConfig`]). The token
//! lifetime has one setting, [`Policy::token_ttl`](crate::policy::Policy::token_ttl): the
//! token, the cookie's `Max-Age` and `expires_in` all read it from the engine's policy.
//!
//! # The guard
//!
//! A guarded route takes a proof from the app's session (in session mode), from
//! `Authorization: Bearer <token>`, or from the cookie. None, or a tampered, expired, revoked or
//! unknown-key one: 401 `phone_verification_required` with `WWW-Authenticate: Bearer
//! realm="phone"`; older than the route allows: 401 `phone_verification_stale`. Logout revokes
//! the token it is given at once on the answering instance and within a second on every
//! instance sharing the store, without a store round trip per guarded request (see
//! [`PhoneVerifier::refresh_revocations`](crate::verifier::PhoneVerifier::refresh_revocations)).
//!
//! # Where things are
//!
//! | file | what |
//! |---|---|
//! | `contract.rs` | [`Contract`]: the endpoints and the guard's check |
//! | `errors.rs` | [`ErrorCode`] (every code with its status) and [`GuardRejection`] |
//! | `response.rs` | [`WebResponse`] and the error bodies |
//! | `request.rs` | reading bodies and tokens |
//! | `hooks.rs` | [`Approval`], [`Refusal`], [`SendPreview`]: what an app's hooks answer |
//! | `config.rs` | [`WebConfig`]: cookie, client address, where proofs live |
//! | `cookie.rs` | the cookie, built with the `cookie` crate |
//! | `client_addr.rs` | which address the per-address caps count |
//! | `openapi.rs` | the OpenAPI 3.1 document of the endpoints (feature `openapi`) |
//! | `adapter.rs` | plumbing for the adapter crates (hidden) |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use http::{HeaderMap, HeaderValue, StatusCode, header};
//! use twofactor_core::mock::MockProvider;
//! use twofactor_core::verifier::PhoneVerifier;
//! use twofactor_core::web::Contract;
//!
//! let contract = Contract::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
//! let mut headers = HeaderMap::new();
//! headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
//! let response = contract
//!     .send(&headers, None, br#"{"phone":"+919812345678"}"#, |_| async { Ok(()) })
//!     .await;
//! assert_eq!(response.status, StatusCode::OK);
//! assert_eq!(
//!     &response.body[..],
//!     br#"{"status":"pending","phone":"+919812345678","expires_in":600,"resend_in":30}"#
//! );
//! # }
//! ```

#[doc(hidden)]
pub mod adapter;
mod client_addr;
mod config;
mod config_error;
mod contract;
mod cookie;
pub(crate) mod errors;
mod hooks;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
pub(crate) mod request;
mod response;

pub use self::client_addr::{ClientAddressing, DEFAULT_IPV6_PREFIX, TrustedProxies};
pub use self::config::{ProofStorage, WebConfig, WebConfigBuilder};
pub use self::config_error::WebConfigError;
pub use self::contract::{Contract, Endpoint, SessionError, send_error, verify_error};
pub use self::cookie::{CookieSettings, DEFAULT_COOKIE, SameSite};
pub use self::errors::{ErrorCode, GuardRejection};
pub use self::hooks::{Approval, Refusal, SendPreview};
pub use self::request::MAX_BODY;
pub use self::response::WebResponse;
