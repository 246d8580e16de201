//! Helpers shared by the provider test suites.
#![allow(dead_code)] // each test crate uses a different subset

use std::error::Error;
use std::time::Duration;

use twofactor_core::transport::HttpOptions;

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
