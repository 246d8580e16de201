//! Support for the cross-crate integration tests: a fake 2Factor.in server, and the example
//! apps — the demo of either adapter, and the sessions example of either — spawned on port 0
//! and driven over real HTTP.
//!
//! The HTTP suite (`http_suite.rs`) is written once against [`TestApp`] and run for every
//! [`Adapter`]: any difference between the adapters is a bug in one of them. Where the
//! sessions examples differ by design (proofs kept in the app's session, a login in front of
//! `/protected`), the suite follows [`Adapter::proofs`] and [`Adapter::has_login`].
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use twofactor_core::clock::ManualClock;
use twofactor_core::config::OtpMode;
use twofactor_core::local::LocalOtp;
use twofactor_core::phone::PhoneParser;
use twofactor_core::policy::Policy;
use twofactor_core::provider::OtpProvider;
use twofactor_core::store::VerificationStore;
use twofactor_core::token::{KeyRing, SigningKey};
use twofactor_core::transport::HttpOptions;
use twofactor_core::twofactor_in::{TwoFactorInClient, TwoFactorInProvider};
use twofactor_core::verifier::PhoneVerifier;
use twofactor_core::web::{ProofStorage, WebConfig, WebConfigBuilder};
use twofactor_examples::sessions::{Setup, Users};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

/// The API key the fake 2Factor server expects; every response is scanned for it.
pub const API_KEY: &str = "TEST-API-KEY-7f3c9e1b";

/// Which app serves the tests: a demo, or a sessions example, of one adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// The demo on twofactor-tower and axum.
    Axum,
    /// The demo on twofactor-actix.
    Actix,
    /// The sessions example on axum and tower-sessions.
    AxumSessions,
    /// The sessions example on actix-web and actix-session.
    ActixSessions,
}

impl Adapter {
    /// Where the app keeps proofs: the demos in a token cookie, the sessions examples in the
    /// app's session.
    pub fn proofs(self) -> ProofStorage {
        match self {
            Self::Axum | Self::Actix => ProofStorage::Token,
            Self::AxumSessions | Self::ActixSessions => ProofStorage::Session,
        }
    }

    /// Whether the app has its own login (`POST /login`) in front of `/protected`.
    pub fn has_login(self) -> bool {
        self.proofs() == ProofStorage::Session
    }
}

/// The name of the sessions examples' session cookie.
pub const SESSION_COOKIE: &str = twofactor_examples::sessions::SESSION_COOKIE;

#[derive(Default)]
struct FakeState {
    /// session id → (phone as sent in the path, code, channel path segment)
    sessions: HashMap<String, (String, String)>,
    /// phone → last code, for the tests to type in
    last_code: HashMap<String, String>,
    /// every session id handed out, to check none leaks
    issued: Vec<String>,
    next: u64,
}

/// A fake 2Factor.in on loopback: AUTOGEN hands out a session id and remembers a code, VERIFY
/// checks it (answering a match the way the documentation shows it: `"Status":"Error",
/// "Details":"OTP Matched"`), the custom-code endpoint records the code it is given.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct FakeTwoFactorIn {
    server: Arc<MockServer>,
    state: Arc<Mutex<FakeState>>,
}

struct Autogen(Arc<Mutex<FakeState>>);

impl Respond for Autogen {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let segments: Vec<&str> = request.url.path().split('/').collect();
        // /API/V1/{key}/SMS|VOICE/{phone}/AUTOGEN[/template]
        let phone = segments.get(5).copied().unwrap_or_default().to_owned();
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.next += 1;
        let session = format!(
            "fake-sess-{:08x}-{}",
            state.next,
            u64::from_le_bytes(rand_bytes()) % 1_000_000_007
        );
        let code = format!("{:06}", u64::from_le_bytes(rand_bytes()) % 1_000_000);
        state
            .sessions
            .insert(session.clone(), (phone.clone(), code.clone()));
        state.last_code.insert(phone, code);
        state.issued.push(session.clone());
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"Status": "Success", "Details": session}))
    }
}

struct Verify(Arc<Mutex<FakeState>>);

impl Respond for Verify {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let segments: Vec<&str> = request.url.path().split('/').collect();
        // /API/V1/{key}/SMS|VOICE/VERIFY/{session}/{otp}
        let (session, otp) = (
            segments.get(6).copied().unwrap_or_default(),
            segments.get(7).copied().unwrap_or_default(),
        );
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let answer = |status: u16, details: &str| {
            ResponseTemplate::new(status)
                .set_body_json(serde_json::json!({"Status": "Error", "Details": details}))
        };
        match state.sessions.get(session) {
            None => answer(400, "Invalid API / SessionId Combination - No Entry Exists"),
            Some((_, code)) if code == otp => {
                state.sessions.remove(session);
                answer(200, "OTP Matched")
            }
            Some(_) => answer(400, "OTP Mismatch"),
        }
    }
}

struct CustomCode(Arc<Mutex<FakeState>>);

impl Respond for CustomCode {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let segments: Vec<&str> = request.url.path().split('/').collect();
        // /API/V1/{key}/SMS|VOICE/{phone}/{otp}[/template]
        let (phone, code) = (
            segments.get(5).copied().unwrap_or_default(),
            segments.get(6).copied().unwrap_or_default(),
        );
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.next += 1;
        let session = format!("fake-sess-{:08x}", state.next);
        state.last_code.insert(phone.to_owned(), code.to_owned());
        state.issued.push(session.clone());
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"Status": "Success", "Details": session}))
    }
}

fn rand_bytes() -> [u8; 8] {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap_or_else(|e| panic!("randomness: {e}"));
    b
}

impl FakeTwoFactorIn {
    /// Starts the fake server.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(FakeState::default()));
        let key = API_KEY;
        Mock::given(matchers::method("GET"))
            .and(matchers::path_regex(format!(
                r"^/API/V1/{key}/(SMS|VOICE)/VERIFY/[^/]+/[0-9]+$"
            )))
            .respond_with(Verify(state.clone()))
            .with_priority(2)
            .mount(&server)
            .await;
        Mock::given(matchers::method("GET"))
            .and(matchers::path_regex(format!(
                r"^/API/V1/{key}/(SMS|VOICE)/\+[0-9]+/AUTOGEN(/[^/]+)?$"
            )))
            .respond_with(Autogen(state.clone()))
            .with_priority(3)
            .mount(&server)
            .await;
        Mock::given(matchers::method("GET"))
            .and(matchers::path_regex(format!(
                r"^/API/V1/{key}/(SMS|VOICE)/\+[0-9]+/[0-9]{{4,6}}(/[^/]+)?$"
            )))
            .respond_with(CustomCode(state.clone()))
            .with_priority(4)
            .mount(&server)
            .await;
        Self {
            server: Arc::new(server),
            state,
        }
    }

    /// The base URL to configure as `TWOFACTOR_BASE_URL`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The last code sent to `phone` (E.164).
    pub fn code(&self, phone: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_code
            .get(phone)
            .cloned()
    }

    /// Every session id handed out.
    pub fn session_ids(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .issued
            .clone()
    }

    /// The paths of every request received.
    pub async fn paths(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect()
    }

    /// How many VERIFY requests were received.
    pub async fn verify_calls(&self) -> usize {
        self.paths()
            .await
            .iter()
            .filter(|p| p.contains("/VERIFY/"))
            .count()
    }

    /// Replaces every answer with `template` (for provider failures), ahead of the normal ones.
    pub async fn answer_everything_with(&self, template: ResponseTemplate) {
        Mock::given(matchers::any())
            .respond_with(template)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}

/// How to build the app under test.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Options {
    /// The policy.
    pub policy: Policy,
    /// Provider mode (AUTOGEN + VERIFY) or local mode (custom code, checked here).
    pub mode: OtpMode,
    /// Cookie `Secure` flag.
    pub cookie_secure: bool,
    /// Trust `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// A store other than the default in-memory one.
    pub store: Option<Arc<dyn VerificationStore>>,
    /// A provider other than 2Factor against the fake server.
    pub provider: Option<Arc<dyn OtpProvider>>,
    /// The provider timeout of the HTTP client.
    pub provider_timeout: Duration,
    /// The sessions examples' setup (user table, login required to send, sessions in Redis);
    /// the demos ignore it.
    pub setup: Setup,
    /// More HTTP settings (the client address: trusted proxies, IPv6 grouping), applied after
    /// `cookie_secure` and `trust_forwarded_for`.
    pub web: Option<WebSettings>,
    /// A phone parser other than the default (region `IN`, Indian numbers only).
    pub phone_parser: Option<PhoneParser>,
}

/// A change to the HTTP settings of the app under test.
pub type WebSettings = Arc<dyn Fn(WebConfigBuilder) -> WebConfigBuilder + Send + Sync>;

impl Default for Options {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            mode: OtpMode::Provider,
            cookie_secure: true,
            trust_forwarded_for: false,
            store: None,
            provider: None,
            provider_timeout: Duration::from_secs(5),
            setup: Setup::default(),
            web: None,
            phone_parser: None,
        }
    }
}

/// The signing key of every test app; [`other_keys`] is a key it does not know.
pub fn keys() -> KeyRing {
    KeyRing::new(SigningKey::from_bytes(&[0x11; 32]).unwrap_or_else(|_| unreachable!()))
}

/// A key ring the test apps do not hold.
pub fn other_keys() -> KeyRing {
    KeyRing::new(SigningKey::from_bytes(&[0x22; 32]).unwrap_or_else(|_| unreachable!()))
}

/// A response, with its raw text kept for the secrets scan.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body text.
    pub text: String,
}

impl Reply {
    /// The body as JSON (Null if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `error` field of the body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    /// Every `Set-Cookie` header, in order.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Set-Cookie` header for the cookie `name`, if this reply set (or cleared) it.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies().into_iter().find(|c| {
            c.split_once('=')
                .is_some_and(|(cookie, _)| cookie.trim() == name)
        })
    }

    /// The `name=value` pair to send back for the cookie `name` this reply set.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name)
            .map(|c| c.split(';').next().unwrap_or_default().trim().to_owned())
    }
}

/// The demo app of one adapter, served on 127.0.0.1:0 against a fake 2Factor.
#[allow(missing_debug_implementations)]
pub struct TestApp {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// The fake provider.
    pub fake: FakeTwoFactorIn,
    /// The app's clock.
    pub clock: ManualClock,
    /// The engine.
    pub verifier: PhoneVerifier,
    /// The HTTP settings.
    pub web: WebConfig,
    /// Which adapter.
    pub adapter: Adapter,
    /// The sessions examples' user table (empty and unused on the demos).
    pub users: Users,
    http: reqwest::Client,
    replies: Arc<Mutex<Vec<Reply>>>,
    _server: ServerHandle,
}

enum ServerHandle {
    Tokio(tokio::task::JoinHandle<()>),
    Thread(Option<std::sync::mpsc::Sender<()>>),
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        match self {
            Self::Tokio(task) => task.abort(),
            // Dropping the sender tells the actix thread to stop its server.
            Self::Thread(stop) => drop(stop.take()),
        }
    }
}

/// The engine and HTTP settings an app under test runs with.
#[derive(Clone, Debug)]
pub struct Engine {
    /// The engine.
    pub verifier: PhoneVerifier,
    /// The HTTP settings.
    pub web: WebConfig,
}

/// Builds the engine and HTTP settings for `options` against `fake`.
pub fn engine(options: &Options, fake: &FakeTwoFactorIn, clock: &ManualClock) -> Engine {
    let provider: Arc<dyn OtpProvider> = match &options.provider {
        Some(p) => p.clone(),
        None => {
            let client = TwoFactorInClient::builder(API_KEY)
                .base_url(fake.uri())
                .http(HttpOptions::default().with_timeout(options.provider_timeout))
                .build()
                .unwrap_or_else(|e| panic!("2Factor client: {e}"));
            match options.mode {
                OtpMode::Local => Arc::new(LocalOtp::new(client)),
                _ => Arc::new(TwoFactorInProvider::new(client)),
            }
        }
    };
    let mut builder = PhoneVerifier::builder_shared(provider)
        .policy(options.policy.clone())
        .keys(keys())
        .clock(clock.clone());
    if let Some(store) = &options.store {
        builder = builder.shared_store(store.clone());
    }
    if let Some(parser) = &options.phone_parser {
        builder = builder.phone_parser(parser.clone());
    }
    let mut web = WebConfig::builder().cookie_secure(options.cookie_secure);
    // The demos keep proofs in a token cookie; the sessions examples' builders put them in
    // the app's session themselves.
    if options.trust_forwarded_for {
        web = web.trust_forwarded_for(1);
    }
    if let Some(settings) = &options.web {
        web = settings(web);
    }
    Engine {
        verifier: builder.build().unwrap_or_else(|e| panic!("engine: {e}")),
        web: web.build().unwrap_or_else(|e| panic!("web config: {e}")),
    }
}

impl TestApp {
    /// Spawns the demo app of `adapter` with `options`.
    pub async fn spawn(adapter: Adapter, options: Options) -> Self {
        let fake = FakeTwoFactorIn::start().await;
        let clock = ManualClock::new();
        let engine = engine(&options, &fake, &clock);
        Self::serve_with(adapter, engine, fake, clock, options.setup).await
    }

    /// Serves `engine` with `adapter` (the sessions examples with the default setup).
    pub async fn serve(
        adapter: Adapter,
        engine: Engine,
        fake: FakeTwoFactorIn,
        clock: ManualClock,
    ) -> Self {
        Self::serve_with(adapter, engine, fake, clock, Setup::default()).await
    }

    /// Serves `engine` with `adapter`; the sessions examples with `setup`.
    pub async fn serve_with(
        adapter: Adapter,
        engine: Engine,
        fake: FakeTwoFactorIn,
        clock: ManualClock,
        setup: Setup,
    ) -> Self {
        let (addr, server) = match adapter {
            Adapter::Axum => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .unwrap_or_else(|e| panic!("bind: {e}"));
                let addr = listener
                    .local_addr()
                    .unwrap_or_else(|e| panic!("addr: {e}"));
                let tf = twofactor_tower::TwoFactor::builder(engine.verifier.clone())
                    .web_config(engine.web.clone())
                    .build()
                    .unwrap_or_else(|e| panic!("axum handle: {e}"));
                let app = twofactor_examples::axum_app::app(tf);
                let task = tokio::spawn(async move {
                    let _ = twofactor_examples::axum_app::serve(listener, app).await;
                });
                (addr, ServerHandle::Tokio(task))
            }
            Adapter::Actix => {
                let tf = twofactor_actix::TwoFactor::builder(engine.verifier.clone())
                    .web_config(engine.web.clone())
                    .build()
                    .unwrap_or_else(|e| panic!("actix handle: {e}"));
                spawn_actix(move |listener| twofactor_examples::actix_app::server(listener, tf, 2))
            }
            Adapter::AxumSessions => {
                use twofactor_examples::axum_sessions_app::{app, two_factor};
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .unwrap_or_else(|e| panic!("bind: {e}"));
                let addr = listener
                    .local_addr()
                    .unwrap_or_else(|e| panic!("addr: {e}"));
                let tf = two_factor(engine.verifier.clone(), engine.web.clone(), &setup)
                    .unwrap_or_else(|e| panic!("axum sessions handle: {e}"));
                let app = app(tf, &setup);
                let task = tokio::spawn(async move {
                    let _ = twofactor_examples::axum_app::serve(listener, app).await;
                });
                (addr, ServerHandle::Tokio(task))
            }
            Adapter::ActixSessions => {
                use twofactor_examples::actix_sessions_app::{server, two_factor};
                let tf = two_factor(engine.verifier.clone(), engine.web.clone(), &setup)
                    .unwrap_or_else(|e| panic!("actix sessions handle: {e}"));
                let setup = setup.clone();
                spawn_actix(move |listener| server(listener, tf, &setup, 2))
            }
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        Self {
            base: format!("http://{addr}"),
            fake,
            clock,
            verifier: engine.verifier,
            web: engine.web,
            adapter,
            users: setup.users,
            http,
            replies: Arc::new(Mutex::new(Vec::new())),
            _server: server,
        }
    }

    async fn record(&self, response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let text = response.text().await.unwrap_or_default();
        let reply = Reply {
            status,
            headers,
            text,
        };
        self.replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reply.clone());
        reply
    }

    /// Sends a request built by `f` on `method path`.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let builder = f(self.http.request(method, format!("{}{path}", self.base)));
        let response = builder
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {path} failed: {e}"));
        self.record(response).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: Value) -> Reply {
        self.request("POST", path, |b| {
            b.header("content-type", "application/json")
                .body(body.to_string())
        })
        .await
    }

    /// `POST /phone/send` for `phone`.
    pub async fn send(&self, phone: &str) -> Reply {
        self.post_json("/phone/send", serde_json::json!({ "phone": phone }))
            .await
    }

    /// `POST /phone/verify`.
    pub async fn verify(&self, phone: &str, code: &str) -> Reply {
        self.post_json(
            "/phone/verify",
            serde_json::json!({ "phone": phone, "code": code }),
        )
        .await
    }

    /// `GET path` with an optional `Cookie` header (say, a session cookie) and bearer token.
    pub async fn get_as(&self, path: &str, cookie: Option<&str>, bearer: Option<&str>) -> Reply {
        self.request("GET", path, |b| {
            let b = match cookie {
                Some(c) => b.header("cookie", c),
                None => b,
            };
            match bearer {
                Some(t) => b.bearer_auth(t),
                None => b,
            }
        })
        .await
    }

    /// `POST path` with a JSON body and an optional `Cookie` header.
    pub async fn post_json_as(&self, path: &str, cookie: Option<&str>, body: Value) -> Reply {
        self.request("POST", path, |b| {
            let b = b
                .header("content-type", "application/json")
                .body(body.to_string());
            match cookie {
                Some(c) => b.header("cookie", c),
                None => b,
            }
        })
        .await
    }

    /// `POST /login` as `user` on a sessions example: the session cookie to send back
    /// (`app_session=…`).
    pub async fn login(&self, user: &str) -> String {
        let reply = self
            .post_json("/login", serde_json::json!({ "user": user }))
            .await;
        assert_eq!(reply.status, 204, "login: {}", reply.text);
        reply
            .cookie(SESSION_COOKIE)
            .unwrap_or_else(|| panic!("login set no session cookie: {:?}", reply.headers))
    }

    /// `POST /phone/verify` with an optional `Cookie` header.
    pub async fn verify_as(&self, cookie: Option<&str>, phone: &str, code: &str) -> Reply {
        self.post_json_as(
            "/phone/verify",
            cookie,
            serde_json::json!({ "phone": phone, "code": code }),
        )
        .await
    }

    /// `GET path` with an optional bearer token.
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        self.request("GET", path, |b| match bearer {
            Some(t) => b.bearer_auth(t),
            None => b,
        })
        .await
    }

    /// The code the fake provider sent to `phone`.
    pub fn code(&self, phone: &str) -> String {
        self.fake
            .code(phone)
            .unwrap_or_else(|| panic!("no code was sent to {phone}"))
    }

    /// A code of the right shape that is not `phone`'s code.
    pub fn wrong_code(&self, phone: &str) -> String {
        if self.code(phone) == "000000" {
            "111111".into()
        } else {
            "000000".into()
        }
    }

    /// Sends a code and verifies it; returns the token.
    pub async fn verified_token(&self, phone: &str) -> String {
        let sent = self.send(phone).await;
        assert_eq!(sent.status, 200, "{}", sent.text);
        let code = self.code(phone);
        let reply = self.verify(phone, &code).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Every reply so far.
    pub fn replies(&self) -> Vec<Reply> {
        self.replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends `n` verifications of `code` for `phone`, released together, spread round-robin
    /// over `bases` (this app's and others'); returns their statuses.
    pub async fn verify_together(
        &self,
        bases: &[&str],
        n: usize,
        phone: &str,
        code: &str,
    ) -> Vec<u16> {
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let body = serde_json::json!({ "phone": phone, "code": code }).to_string();
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let url = format!("{}/phone/verify", bases[i % bases.len()]);
                let (client, barrier, body) = (self.http.clone(), barrier.clone(), body.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let r = client
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    r.map(|r| r.status().as_u16()).unwrap_or(0)
                })
            })
            .collect();
        let mut statuses = Vec::with_capacity(n);
        for t in tasks {
            statuses.push(t.await.unwrap_or(0));
        }
        statuses
    }
}

/// A fake of another provider (Verihubs or Octopush) on loopback: it remembers the code it
/// "sent" to each phone, and checks codes against it.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct FakeOtpServer {
    server: Arc<MockServer>,
    codes: Arc<Mutex<HashMap<String, String>>>,
}

fn body_field(request: &Request, field: &str) -> String {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    match &body[field] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn new_code() -> String {
    format!("{:06}", u64::from_le_bytes(rand_bytes()) % 1_000_000)
}

impl FakeOtpServer {
    /// The base URL.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The last code sent to `phone` (E.164 with `+`).
    pub fn code(&self, phone: &str) -> Option<String> {
        let digits = phone.trim_start_matches('+');
        self.codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(digits)
            .cloned()
    }

    /// Verihubs "Send OTP V2": `POST /v2/otp/send` and `POST /v2/otp/verify`, keyed by `msisdn`.
    pub async fn verihubs() -> Self {
        let fake = Self {
            server: Arc::new(MockServer::start().await),
            codes: Arc::default(),
        };
        let codes = fake.codes.clone();
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/v2/otp/send"))
            .respond_with(move |request: &Request| {
                let code = new_code();
                codes.lock().unwrap_or_else(|e| e.into_inner()).insert(body_field(request, "msisdn"), code);
                ResponseTemplate::new(201).set_body_json(serde_json::json!({"message": "OTP sent successfully", "code": 201, "session_id": "vh-session"}))
            })
            .mount(&fake.server)
            .await;
        let codes = fake.codes.clone();
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/v2/otp/verify"))
            .respond_with(move |request: &Request| {
                let mut codes = codes.lock().unwrap_or_else(|e| e.into_inner());
                let msisdn = body_field(request, "msisdn");
                if codes
                    .get(&msisdn)
                    .is_some_and(|c| *c == body_field(request, "otp"))
                {
                    codes.remove(&msisdn);
                    ResponseTemplate::new(200).set_body_json(
                        serde_json::json!({"message": "OTP has been verified", "code": 200}),
                    )
                } else {
                    ResponseTemplate::new(404)
                        .set_body_json(serde_json::json!({"message": "OTP not found", "code": 404}))
                }
            })
            .mount(&fake.server)
            .await;
        fake
    }

    /// Octopush: `POST /service/otp/generate` and `PUT /service/otp/validate`, keyed by the
    /// `otp_request_token` it hands out.
    pub async fn octopush() -> Self {
        let fake = Self {
            server: Arc::new(MockServer::start().await),
            codes: Arc::default(),
        };
        let tokens: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let (codes, issued) = (fake.codes.clone(), tokens.clone());
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/service/otp/generate"))
            .respond_with(move |request: &Request| {
                let code = new_code();
                let token = format!("octo-{}", new_code());
                let phone = body_field(request, "phone_number").trim_start_matches('+').to_owned();
                codes.lock().unwrap_or_else(|e| e.into_inner()).insert(phone, code.clone());
                issued.lock().unwrap_or_else(|e| e.into_inner()).insert(token.clone(), code);
                ResponseTemplate::new(201)
                    .set_body_json(serde_json::json!({"code": 0, "message": "ok", "ticket_number": "T-1", "otp_request_token": token}))
            })
            .mount(&fake.server)
            .await;
        Mock::given(matchers::method("PUT"))
            .and(matchers::path("/service/otp/validate"))
            .respond_with(move |request: &Request| {
                let mut tokens = tokens.lock().unwrap_or_else(|e| e.into_inner());
                let token = body_field(request, "otp_request_token");
                match tokens.get(&token) {
                    None => ResponseTemplate::new(400).set_body_json(serde_json::json!({"code": 198, "message": "OTP not found."})),
                    Some(code) if *code == body_field(request, "code") => {
                        tokens.remove(&token);
                        ResponseTemplate::new(200).set_body_json(serde_json::json!({"code": 0, "message": "success"}))
                    }
                    Some(_) => ResponseTemplate::new(400)
                        .set_body_json(serde_json::json!({"code": 199, "message": "Wrong OTP code.", "remaining_number_of_attempts": 3})),
                }
            })
            .mount(&fake.server)
            .await;
        fake
    }
}

fn spawn_actix(
    server: impl FnOnce(std::net::TcpListener) -> std::io::Result<actix_web::dev::Server>
    + Send
    + 'static,
) -> (SocketAddr, ServerHandle) {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let system = actix_rt::System::new();
        system.block_on(async move {
            let server = match server(listener) {
                Ok(server) => server,
                Err(e) => panic!("actix server: {e}"),
            };
            let handle = server.handle();
            actix_rt::spawn(async move {
                // Stop when the TestApp is dropped (the sender goes away).
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                handle.stop(false).await;
            });
            let _ = server.await;
        });
    });
    (addr, ServerHandle::Thread(Some(stop_tx)))
}
