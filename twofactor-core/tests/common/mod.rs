//! Helpers shared by the provider test suites (each test file uses a different subset).
#![allow(dead_code)]

use serde_json::Value;
use std::error::Error;
use std::time::Duration;
use twofactor_core::transport::HttpOptions;
use twofactor_core::twofactor_in::{TwoFactorInClient, TwoFactorInClientBuilder};
use twofactor_core::{OtpCode, PhoneNumber, PhoneParser};
use wiremock::{MockServer, ResponseTemplate};

/// Every piece of `err`'s chain, as `Display` and `Debug`.
pub fn chain_texts(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut texts = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
        next = e.source();
    }
    texts
}

/// Panics if any of `secrets` appears anywhere in `err`'s chain.
pub fn assert_no_secret(err: &(dyn Error + 'static), secrets: &[&str]) {
    for text in chain_texts(err) {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "secret {secret:?} leaked in {text:?}"
            );
        }
    }
}

/// A loopback URL on which nothing listens: connecting is refused.
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// Transport options with a short timeout, for the tests that make a provider time out.
pub fn short_timeout() -> HttpOptions {
    HttpOptions::default()
        .with_timeout(Duration::from_millis(300))
        .with_connect_timeout(Duration::from_millis(300))
}

/// A recognisable key: every error text is scanned for it.
pub const KEY: &str = "SECRET-KEY-abc123";

pub fn builder(server: &MockServer) -> TwoFactorInClientBuilder {
    TwoFactorInClient::builder(KEY)
        .base_url(server.uri())
        .http(HttpOptions::default().with_timeout(Duration::from_secs(5)))
}

pub fn client(server: &MockServer) -> TwoFactorInClient {
    builder(server).build().expect("client builds")
}

pub fn phone() -> PhoneNumber {
    PhoneParser::default().parse("+919812345678").unwrap()
}

pub fn other_phone() -> PhoneNumber {
    PhoneParser::default().parse("+919876543210").unwrap()
}

pub fn code(digits: &str) -> OtpCode {
    OtpCode::parse(digits, 1..=32).unwrap()
}

/// `/API/V1/{KEY}{tail}`.
pub fn v1(tail: &str) -> String {
    format!("/API/V1/{KEY}{tail}")
}

pub fn json(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

pub fn raw(status: u16, body: &str, mime: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), mime)
}

/// Asserts that neither `err` nor anything in its `source()` chain shows the key, in `Display`
/// or in `Debug`.
pub fn assert_no_key(err: &(dyn Error + 'static)) {
    let mut current: Option<&(dyn Error + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        let display = e.to_string();
        let debug = format!("{e:?}");
        for text in [&display, &debug] {
            assert!(
                !text.contains(KEY) && !text.contains("abc123"),
                "key leaked at depth {depth}: {text}"
            );
        }
        current = e.source();
        depth += 1;
    }
}

/// The form fields of a url-encoded request body.
pub fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap()
        .into_iter()
        .collect()
}

/// How a [`dropping_server`] ends each connection after reading the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hangup {
    /// An orderly close (FIN): the client reads EOF where the answer should be.
    Close,
    /// A reset (RST).
    Reset,
}

/// A loopback "provider" that reads each request in full (headers and body) and then drops the
/// connection without answering: the request reached it, the answer never came back. Returns
/// the base URL and a count of the requests it read.
pub async fn dropping_server(
    how: Hangup,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                if read_request(&mut stream).await {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                if how == Hangup::Reset {
                    let _ = stream.set_zero_linger();
                }
                drop(stream);
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes of body); whether it came
/// in whole.
async fn read_request(stream: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return true;
            }
        }
    }
}

/// A loopback server that accepts TCP and closes at once: over `https://` the TLS handshake
/// fails before any byte of the request is written.
pub async fn tls_failing_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    format!("https://{addr}")
}

/// The answers of a provider, or of a gateway in front of it, that failed after the request
/// arrived: 500 JSON, 502 HTML, 503 with an empty body, 504 plain text.
pub fn server_failures() -> Vec<(&'static str, ResponseTemplate)> {
    vec![
        (
            "500 JSON",
            ResponseTemplate::new(500)
                .set_body_json(serde_json::json!({"message": "Internal error"})),
        ),
        (
            "502 HTML",
            ResponseTemplate::new(502).set_body_raw(
                b"<html><body>Bad Gateway</body></html>".to_vec(),
                "text/html",
            ),
        ),
        ("503 empty", ResponseTemplate::new(503)),
        (
            "504 text",
            ResponseTemplate::new(504).set_body_raw(b"Gateway Timeout".to_vec(), "text/plain"),
        ),
    ]
}
