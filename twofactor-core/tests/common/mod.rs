//! Helpers shared by the provider test suites (each test file uses a different subset).
#![allow(dead_code)]

use serde_json::Value;
use std::error::Error;
use std::time::Duration;
use twofactor_core::transport::HttpOptions;
use twofactor_core::twofactor::{TwoFactorClient, TwoFactorClientBuilder};
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

pub fn builder(server: &MockServer) -> TwoFactorClientBuilder {
    TwoFactorClient::builder(KEY)
        .base_url(server.uri())
        .http(HttpOptions::default().with_timeout(Duration::from_secs(5)))
}

pub fn client(server: &MockServer) -> TwoFactorClient {
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
