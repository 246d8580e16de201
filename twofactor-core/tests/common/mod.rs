//! Helpers shared by the 2Factor client tests (each test file uses a different subset).
#![allow(dead_code)]

use std::error::Error;
use std::time::Duration;

use serde_json::Value;
use twofactor_core::transport::HttpOptions;
use twofactor_core::twofactor::{TwoFactorClient, TwoFactorClientBuilder};
use twofactor_core::{OtpCode, PhoneNumber, PhoneParser};
use wiremock::{MockServer, ResponseTemplate};

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
