//! Shared fixtures: an engine over the mock provider and a manual clock, an axum app served on
//! port 0, a small HTTP client that keeps cookies like a browser (and lets the tests look at
//! them), and captured log lines.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderMap;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use twofactor_tower::clock::{Clock, ManualClock};
use twofactor_tower::{
    KeyRing, MockProvider, PhoneNumber, PhoneParser, PhoneProof, PhoneVerifier,
    PhoneVerifierBuilder, Policy, SigningKey,
};

pub const PHONE: &str = "+919812345678";

pub fn parse(phone: &str) -> PhoneNumber {
    PhoneParser::default().parse(phone).unwrap()
}

pub fn keys() -> KeyRing {
    KeyRing::new(SigningKey::from_bytes(&[5; 32]).unwrap())
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

/// An engine over a [`MockProvider`] and a [`ManualClock`], with fixed keys.
pub struct Kit {
    pub verifier: PhoneVerifier,
    pub mock: MockProvider,
    pub clock: ManualClock,
}

impl Kit {
    pub fn new() -> Self {
        Self::with(|b| b)
    }

    pub fn with(builder: impl FnOnce(PhoneVerifierBuilder) -> PhoneVerifierBuilder) -> Self {
        let mock = MockProvider::new();
        let clock = ManualClock::new();
        let verifier = builder(
            PhoneVerifier::builder(mock.clone())
                .keys(keys())
                .clock(clock.clone()),
        )
        .build()
        .unwrap();
        Self {
            verifier,
            mock,
            clock,
        }
    }

    /// The last code the mock sent to [`PHONE`].
    pub fn code(&self) -> String {
        self.mock
            .last_code(&parse(PHONE))
            .expect("a code was sent")
            .expose()
            .to_owned()
    }

    /// A token for [`PHONE`], verified now, valid `ttl` seconds.
    pub fn token(&self, ttl: u64) -> String {
        let proof = PhoneProof::new(parse(PHONE), self.clock.now(), Duration::from_secs(ttl));
        keys().sign(&proof)
    }
}

/// A token for [`PHONE`] that expired an hour ago.
pub fn expired_token() -> String {
    let proof = PhoneProof::new(
        parse(PHONE),
        SystemTime::now() - Duration::from_secs(7200),
        Duration::from_secs(60),
    );
    keys().sign(&proof)
}

/// An app served on 127.0.0.1, port 0, until dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(app: Router) -> Server {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    Server { addr, task }
}

/// A client of one server that keeps the cookies it is given, as a browser does (attributes
/// aside: every cookie goes back to every path).
pub struct Client {
    base: String,
    http: reqwest::Client,
    jar: Mutex<BTreeMap<String, String>>,
}

impl Client {
    pub fn new(server: &Server) -> Self {
        Self {
            base: format!("http://{}", server.addr),
            http: reqwest::Client::new(),
            jar: Mutex::default(),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            client: self,
            builder: self.http.request(method, format!("{}{path}", self.base)),
            cookies: true,
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Req<'_> {
        self.request(Method::POST, path)
    }

    /// The value of the cookie `name` the client holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    /// `POST /phone/send` for [`PHONE`], asserted 200.
    pub async fn send_code(&self) {
        let reply = self
            .post("/phone/send")
            .json(serde_json::json!({ "phone": PHONE }))
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }

    /// `POST /phone/verify` for [`PHONE`] with `code`, to send.
    pub fn verify(&self, code: &str) -> Req<'_> {
        self.post("/phone/verify")
            .json(serde_json::json!({ "phone": PHONE, "code": code }))
    }

    /// Sends a code and types it in; the verify reply, asserted 200.
    pub async fn verify_phone(&self, kit: &Kit) -> Reply {
        self.send_code().await;
        let reply = self.verify(&kit.code()).send().await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply
    }
}

/// A request being built.
pub struct Req<'c> {
    client: &'c Client,
    builder: reqwest::RequestBuilder,
    cookies: bool,
}

impl Req<'_> {
    pub fn bearer(mut self, token: &str) -> Self {
        self.builder = self.builder.bearer_auth(token);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.builder = self.builder.json(&body);
        self
    }

    /// Sends none of the client's cookies (and keeps none of the answer's).
    pub fn without_cookies(mut self) -> Self {
        self.cookies = false;
        self
    }

    pub async fn send(self) -> Reply {
        let mut builder = self.builder;
        if self.cookies {
            let jar = self.client.jar.lock().unwrap().clone();
            if !jar.is_empty() {
                let cookie: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
                builder = builder.header("cookie", cookie.join("; "));
            }
        }
        let response = builder.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap();
        let reply = Reply {
            status,
            headers,
            body,
        };
        if self.cookies {
            let mut jar = self.client.jar.lock().unwrap();
            for set in reply.set_cookies() {
                let (name, value) = cookie_pair(&set);
                if value.is_empty() || set.to_ascii_lowercase().contains("max-age=0") {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        reply
    }
}

fn cookie_pair(set_cookie: &str) -> (&str, &str) {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=').unwrap_or((pair, ""))
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

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        assert_eq!(self.header("content-type"), Some("application/json"));
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The token of a verify answer.
    pub fn token(&self) -> String {
        self.json()["token"].as_str().unwrap().to_owned()
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The `Set-Cookie` header of the cookie `name`, if the answer sets it.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| cookie_pair(c).0 == name)
    }

    /// Asserts the contract's error body: status, `error` code, a human `message`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        let json = self.json();
        assert_eq!(json["error"], code, "body: {}", self.text());
        assert!(json["message"].is_string(), "body: {}", self.text());
        json
    }
}

pub const REQUIRED: &str =
    r#"{"error":"phone_verification_required","message":"verify your phone number first"}"#;
pub const INTERNAL: &str = r#"{"error":"internal_error","message":"internal server error"}"#;

/// Log lines, captured.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures this thread's log lines (the test's, and its current-thread runtime's: the
    /// server's too) while the guard lives.
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer({
                let logs = logs.clone();
                move || logs.clone()
            })
            .with_ansi(false)
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
