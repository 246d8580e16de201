//! The 2Factor.in client: SMS and voice OTP, balance, transactional, promotional, bulk and
//! encrypted SMS, and the webhook payloads.
//!
//! [`TwoFactorInClient`] is built once ([`TwoFactorInClient::builder`]) and cloned freely; clones
//! share one pooled `reqwest` client (rustls, 10 s total and 5 s connect timeouts by default,
//! a `twofactor-rs/<version>` user agent, no redirects).
//!
//! | endpoint | method |
//! |---|---|
//! | `GET /API/V1/{key}/SMS/{phone}/AUTOGEN[/{template}]` (also `AUTOGEN2`, `AUTOGEN3`) | [`TwoFactorInClient::send_otp`] |
//! | `GET /API/V1/{key}/SMS/{phone}/{otp}[/{template}]` | [`TwoFactorInClient::send_custom_otp`] |
//! | `GET /API/V1/{key}/SMS/VERIFY/{session}/{otp}` | [`TwoFactorInClient::verify_otp`] |
//! | `GET /API/V1/{key}/SMS/VERIFY3/{phone}/{otp}` | [`TwoFactorInClient::verify_otp_by_phone`] |
//! | `GET /API/V1/{key}/VOICE/{phone}/AUTOGEN` | [`TwoFactorInClient::send_voice_otp`] |
//! | `GET /API/V1/{key}/VOICE/{phone}/{otp}` | [`TwoFactorInClient::send_voice_custom_otp`] |
//! | `GET /API/V1/{key}/VOICE/VERIFY/{session}/{otp}` | [`TwoFactorInClient::verify_voice_otp`] |
//! | `GET /API/V1/{key}/BAL/SMS`, `/BAL/VOICE` | [`TwoFactorInClient::balance`] |
//! | `POST /API/R1/` `module=TRANS_SMS` | [`TwoFactorInClient::send_transactional_sms`] |
//! | `POST /API/R1/` `module=PROMO_SMS` | [`TwoFactorInClient::send_promotional_sms`] |
//! | `POST /API/R1/Bulk/` | [`TwoFactorInClient::send_bulk`] (any size, 1000 per request) |
//! | `POST /API/R1/?module=ENC` `TRANS_SMS` | [`TwoFactorInClient::send_encrypted_sms`] |
//! | `POST /API/R1/?module=ENC` `TRANS_SMS_DLR` | [`TwoFactorInClient::encrypted_delivery_status`] |
//! | delivery-report and click webhooks | [`DeliveryReport`], [`ClickEvent`] |
//!
//! For the verification engine, [`TwoFactorInProvider`] implements [`OtpProvider`](crate::provider::OtpProvider)
//! (2Factor generates and checks codes) and [`TwoFactorInClient`] implements
//! [`SmsSender`](crate::provider::SmsSender) (the library generates and checks codes).
//!
//! # Safety rails
//! - Phones and codes enter URLs only as [`PhoneNumber`](crate::phone::PhoneNumber) (E.164 with its
//!   `+`) and [`OtpCode`](crate::code::OtpCode) (ASCII digits); template names and session ids are
//!   percent-encoded as exactly one path segment, and names made only of dots are refused.
//! - Nothing is retried: a retried GET can send a second SMS.
//! - The API key is a [`secrecy::SecretString`]; the `Debug` of every type here redacts it, and
//!   no [`TwoFactorInError`] carries it in `Display`, `Debug` or its `source()` chain (transport
//!   errors lose their URL, and 2Factor's words are scrubbed of the key).
//! - Answers are decoded tolerantly, see [`TwoFactorInError`] and the rules below.
//!
//! # How answers are read
//! The HTTP status and the body are both read. 5xx is [`TwoFactorInError::ServerError`] and 429
//! [`TwoFactorInError::RateLimited`] whatever the body. A VERIFY answer is decided by `Details`:
//! only `OTP Matched` (under `"Status":"Success"` or, as 2Factor documents it,
//! `"Status":"Error"`, with a 2xx status) is [`Verdict::Matched`](crate::provider::Verdict::Matched);
//! `OTP Mismatch` is a mismatch, `OTP Expired` expired, and `Invalid API / SessionId
//! Combination - No Entry Exists` is [`TwoFactorInError::SessionNotFound`]; any other 2xx answer
//! (an empty body, `{}`, no or an empty `Details`, an unknown shape) is
//! [`TwoFactorInError::UnexpectedResponse`], never a match. A send succeeds on
//! `"Status":"Success"` with a non-empty `Details` and a 2xx status; other answers map by their
//! words to [`TwoFactorInError::InvalidApiKey`], [`TwoFactorInError::InvalidPhone`],
//! [`TwoFactorInError::InvalidCode`], [`TwoFactorInError::QuotaExhausted`],
//! [`TwoFactorInError::RateLimited`], or else [`TwoFactorInError::Rejected`] with the words kept.
//! HTML, garbage and empty bodies are [`TwoFactorInError::UnexpectedResponse`]. A bulk send can
//! succeed in part: see [`BulkReport::is_complete`].
//!
//! # Sent, or maybe sent
//! [`TwoFactorInError::delivery`] follows the rule every provider here follows
//! ([`crate::transport`]): a connect failure or an explicit refusal sent nothing; a timeout once
//! connected, a dropped connection, any 5xx and an unreadable 2xx may have sent the message.
//!
//! # Files
//! From the bottom up, each file importing only from files before it in this list:
//! `bulk_report.rs` (what a bulk send reports), `error.rs` (which carries a report when a bulk
//! send stops part way), `names.rs` (template names, session ids), `encryption.rs` (the
//! encrypted module's parameters), `client.rs` (the client, its builder and the request
//! plumbing), `answer.rs` (reading 2Factor's answers), `otp.rs`, `sms.rs`, `webhook.rs` (the
//! payloads 2Factor posts), `bulk.rs`, `encrypted.rs`, and `provider.rs` (the engine's traits
//! over the client). `answer.rs` and the endpoint files each add an `impl TwoFactorInClient`
//! block of their own: the client's impl is split on purpose, one file per group of endpoints,
//! and those files import the client, never the reverse.
//!
//! # Example
//! Against a mock server standing in for 2Factor:
//!
//! ```
//! use serde_json::json;
//! use twofactor_core::twofactor_in::{OtpKind, TwoFactorInClient};
//! use twofactor_core::{OtpCode, PhoneParser, Verdict};
//! use wiremock::matchers::{method, path};
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let twofactor = MockServer::start().await;
//! Mock::given(method("GET"))
//!     .and(path("/API/V1/my-api-key/SMS/+919812345678/AUTOGEN/Login%20OTP"))
//!     .respond_with(ResponseTemplate::new(200).set_body_json(
//!         json!({"Status": "Success", "Details": "ab88279e-0105-415f-912e-2f24162b8cbb"}),
//!     ))
//!     .mount(&twofactor)
//!     .await;
//! Mock::given(method("GET"))
//!     .and(path("/API/V1/my-api-key/SMS/VERIFY/ab88279e-0105-415f-912e-2f24162b8cbb/123456"))
//!     .respond_with(
//!         ResponseTemplate::new(200).set_body_json(json!({"Status": "Error", "Details": "OTP Matched"})),
//!     )
//!     .mount(&twofactor)
//!     .await;
//!
//! let client = TwoFactorInClient::builder("my-api-key")
//!     .base_url(twofactor.uri()) // default: https://2factor.in
//!     .otp_template("Login OTP")
//!     .build()?;
//!
//! let phone = PhoneParser::default().parse("98123 45678")?;
//! let sent = client.send_otp(&phone, OtpKind::Autogen, None).await?;
//!
//! let typed = OtpCode::parse("123456", 4..=6)?;
//! assert_eq!(client.verify_otp(&sent.session_id, &typed).await?, Verdict::Matched);
//! assert!(!format!("{client:?}").contains("my-api-key"));
//! # Ok(())
//! # }
//! ```
//!
#![cfg_attr(
    not(feature = "bulk"),
    doc = "[`TwoFactorInClient::send_bulk`]: crate#features"
)]
#![cfg_attr(
    not(feature = "bulk"),
    doc = "[`BulkReport::is_complete`]: crate#features"
)]
#![cfg_attr(
    not(feature = "encrypted-sms"),
    doc = "[`TwoFactorInClient::send_encrypted_sms`]: crate#features"
)]
#![cfg_attr(
    not(feature = "encrypted-sms"),
    doc = "[`TwoFactorInClient::encrypted_delivery_status`]: crate#features"
)]

mod answer;
#[cfg(feature = "bulk")]
mod bulk;
#[cfg(feature = "bulk")]
mod bulk_report;
pub(crate) mod client;
#[cfg(feature = "encrypted-sms")]
mod encrypted;
#[cfg(feature = "encrypted-sms")]
mod encryption;
mod error;
mod names;
mod otp;
pub(crate) mod provider;
mod sms;
mod webhook;

pub use crate::transport::TransportFailure;
#[cfg(feature = "bulk")]
#[cfg_attr(docsrs, doc(cfg(feature = "bulk")))]
pub use bulk::{BULK_MAX_MESSAGES, BULK_MAX_TEXT_CHARS, BulkMessage, CallbackFormat};
#[cfg(feature = "bulk")]
#[cfg_attr(docsrs, doc(cfg(feature = "bulk")))]
pub use bulk_report::{BulkAccepted, BulkChunkFailure, BulkFailure, BulkRejected, BulkReport};
pub use client::{DEFAULT_BASE_URL, TwoFactorInClient, TwoFactorInClientBuilder};
#[cfg(feature = "encrypted-sms")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted-sms")))]
pub use encrypted::{EncryptedDeliveryStatus, EncryptedSms, EncryptedSmsSent};
#[cfg(feature = "encrypted-sms")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypted-sms")))]
pub use encryption::{EncryptionConfig, EncryptionMode, IvPlacement, KeyEncoding};
pub use error::{TwoFactorInError, TwoFactorInSetting};
pub use names::{SessionId, TemplateName};
pub use otp::{Balance, BalanceKind, OtpKind, OtpSent};
pub use provider::TwoFactorInProvider;
pub use sms::{MIN_SCHEDULE_LEAD, SmsRequest, SmsSent};
pub use webhook::{ClickEvent, DeliveryReport, DeliveryStatus, WebhookError};
