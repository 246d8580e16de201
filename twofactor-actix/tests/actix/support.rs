//! Shared test fixtures: an engine over the mock provider and a manual clock, and a small
//! response type that is easy to assert on.

use std::time::{Duration, SystemTime};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use bytes::Bytes;
use twofactor_actix::clock::{Clock, ManualClock};
use twofactor_actix::{
    KeyRing, MockProvider, PhoneNumber, PhoneParser, PhoneProof, PhoneVerifier,
    PhoneVerifierBuilder, Policy, TwoFactor, TwoFactorBuilder,
};

pub const PHONE: &str = "+919812345678";
pub const OTHER_PHONE: &str = "+919812345679";

/// An engine over a [`MockProvider`] and a [`ManualClock`], and the handles to drive them.
pub struct Kit {
    pub tf: TwoFactor,
    pub mock: MockProvider,
    pub clock: ManualClock,
}

impl Kit {
    pub fn new() -> Self {
        Self::with(|b| b, |tf| tf)
    }

    pub fn with(
        builder: impl FnOnce(PhoneVerifierBuilder) -> PhoneVerifierBuilder,
        web: impl FnOnce(TwoFactorBuilder) -> TwoFactorBuilder,
    ) -> Self {
        let mock = MockProvider::new();
        let clock = ManualClock::new();
        let verifier = builder(PhoneVerifier::builder(mock.clone()).clock(clock.clone()))
            .build()
            .unwrap();
        Self {
            tf: web(TwoFactor::builder(verifier)).build().unwrap(),
            mock,
            clock,
        }
    }

    /// The last code the mock sent to `phone`.
    pub fn code(&self, phone: &str) -> String {
        self.mock
            .last_code(&parse(phone))
            .expect("a code was sent")
            .expose()
            .to_owned()
    }

    /// A token for [`PHONE`], verified now, signed with the engine's keys.
    pub fn token(&self) -> String {
        let proof = PhoneProof::new(parse(PHONE), self.clock.now(), Duration::from_secs(86_400));
        self.tf.verifier().keys().sign(&proof)
    }

    /// Now on the engine's clock, in Unix seconds.
    pub fn now_unix(&self) -> u64 {
        self.clock
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}

/// A policy without a resend cooldown and with room for many sends: tests that verify the
/// same phone several times.
pub fn relaxed() -> Policy {
    Policy::builder()
        .resend_cooldown(Duration::ZERO)
        .sends_per_phone_per_hour(100)
        .build()
        .unwrap()
}

pub fn parse(phone: &str) -> PhoneNumber {
    PhoneParser::default().parse(phone).unwrap()
}

/// A token for [`PHONE`] signed by a key the engine does not hold.
pub fn foreign_token() -> String {
    let proof = PhoneProof::new(parse(PHONE), SystemTime::now(), Duration::from_secs(3600));
    KeyRing::random().sign(&proof)
}

/// Changes one character in the middle of `token` (the MAC then fails).
pub fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes[40] = if bytes[40] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// A POST of `body` with `Content-Type: application/json`.
pub fn post_json(uri: &str, body: impl Into<Bytes>) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", "application/json"))
        .set_payload(body)
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

/// A response, read to the end.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.header("content-type"), Some("application/json"));
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    /// Asserts a contract error: status, `error` code and a human `message`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        let json = self.json();
        assert_eq!(json["error"], code, "body: {}", self.text());
        assert!(json["message"].is_string(), "body: {}", self.text());
        json
    }
}

pub async fn call<S, R, B>(app: &S, req: R) -> Reply
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(app, req).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = test::read_body(response).await;
    Reply {
        status,
        headers,
        body,
    }
}

/// The endpoints under `/phone` with the app-level middleware, as the examples mount them.
macro_rules! phone_app {
    ($tf:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .wrap($tf.middleware())
                .service(twofactor_actix::scope("/phone")),
        )
        .await
    };
}
pub(crate) use phone_app;
