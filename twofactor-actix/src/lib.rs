//! Phone verification by SMS one-time code for actix-web.
//!
//! This crate mounts the HTTP contract of [`twofactor_core::web`] in an actix-web 4 app, and
//! holds no logic of its own: every status, body, header and cookie comes from core, so an
//! actix app answers byte for byte like an axum one.
//!
//! - [`scope`] / [`configure`]: `POST /send`, `POST /verify`, `GET /status` and `POST /logout`
//!   under a prefix of your choice.
//! - [`RequireVerifiedPhone`]: middleware that answers 401 to requests without a valid token
//!   (optionally, without a recent enough one).
//! - [`VerifiedPhone`]: the extractor giving the handler the verified phone
//!   (`Option<VerifiedPhone>` too).
//!
//! Configuration (cookie name and `Secure`, token lifetime, trusting `X-Forwarded-For`) lives
//! on [`TwoFactor`]: `with_cookie_name`, `with_cookie_secure`, `with_token_ttl`,
//! `with_trust_forwarded_for`.
//!
//! [`TwoFactor`] is cheap to clone and clones share one engine: create it once, outside
//! `HttpServer::new`, and clone it into each worker's `App`.
//!
//! ```
//! # #[actix_web::main]
//! # async fn main() {
//! use actix_web::{App, HttpResponse, http::StatusCode, test, web};
//! use twofactor_actix::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};
//! use twofactor_actix::core::{PhoneParser, PhoneVerifier, mock::MockProvider};
//!
//! let mock = MockProvider::new();
//! let tf = TwoFactor::new(PhoneVerifier::builder(mock.clone()).build().unwrap())
//!     .with_cookie_secure(false);
//!
//! let app = test::init_service(
//!     App::new()
//!         .app_data(tf.clone())
//!         .service(twofactor_actix::scope("/phone", tf.clone()))
//!         .service(
//!             web::resource("/protected")
//!                 .wrap(RequireVerifiedPhone::new(tf.clone()))
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
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod convert;
mod endpoints;
mod extract;
mod guard;

pub use twofactor_core as core;
pub use twofactor_core::web::{TwoFactor, WebConfig};

pub use convert::into_response;
pub use endpoints::{configure, scope};
pub use extract::{VerifiedPhone, VerifiedPhoneRejection};
pub use guard::{RequireVerifiedPhone, RequireVerifiedPhoneService};
