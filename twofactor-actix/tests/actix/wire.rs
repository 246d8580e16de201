//! Real HTTP: an actix `HttpServer` on 127.0.0.1 port 0, a client that keeps cookies like a
//! browser (and lets the tests look at them), and log lines captured from the server's
//! worker threads.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderMap;

use crate::support::{Kit, PHONE};

pub const REQUIRED: &str =
    r#"{"error":"phone_verification_required","message":"verify your phone number first"}"#;
pub const INTERNAL: &str = r#"{"error":"internal_error","message":"internal server error"}"#;

/// A server on 127.0.0.1, port 0, stopped when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub handle: ServerHandle,
}

impl Drop for Server {
    fn drop(&mut self) {
        actix_web::rt::spawn(self.handle.stop(false));
    }
}

/// Serves the app factory `$factory` (an `HttpServer::new` closure) with one worker.
macro_rules! serve {
    ($factory:expr) => {{
        let server = actix_web::HttpServer::new($factory)
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        $crate::wire::Server { addr, handle }
    }};
}
pub(crate) use serve;

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
        let reply = self.verify(&kit.code(PHONE)).send().await;
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
    /// A capture, and the dispatcher that writes into it: a server's worker threads log into
    /// it through [`capturing`].
    pub fn new() -> (Self, tracing::Dispatch) {
        let logs = Self::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer({
                let logs = logs.clone();
                move || logs.clone()
            })
            .with_ansi(false)
            .finish();
        (logs, tracing::Dispatch::new(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// `App::wrap_fn` middleware, outermost: everything the app logs while handling a request goes
/// to `dispatch` (the workers run on their own threads).
macro_rules! capturing {
    ($dispatch:expr) => {{
        let dispatch: tracing::Dispatch = $dispatch.clone();
        move |req: actix_web::dev::ServiceRequest, srv: &_| {
            use actix_web::dev::Service as _;
            use tracing::instrument::WithSubscriber as _;
            let _default = tracing::dispatcher::set_default(&dispatch);
            srv.call(req).with_subscriber(dispatch.clone())
        }
    }};
}
pub(crate) use capturing;
