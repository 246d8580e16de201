//! What the three providers make of an answer, side by side: one limit on the body they read,
//! and one cleaner for the provider text they keep in an error (the crate's `answer` module).
//! A difference between the providers here is a regression.

use std::sync::Arc;

use serde_json::json;
use twofactor_core::octopush::OctopushProvider;
use twofactor_core::twofactor_in::{TwoFactorInClient, TwoFactorInProvider};
use twofactor_core::verihubs::VerihubsProvider;
use twofactor_core::{Delivery, OtpProvider, PhoneNumber, ProviderErrorKind, SendOptions};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "key-SECRET-41c9";

/// The longest provider text kept in an error, in characters (without the `…` of a cut).
const MAX_TEXT_CHARS: usize = 200;

#[derive(Debug, Clone, Copy)]
enum Which {
    TwoFactorIn,
    Verihubs,
    Octopush,
}

const ALL: [Which; 3] = [Which::TwoFactorIn, Which::Verihubs, Which::Octopush];

fn provider(which: Which, server: &MockServer) -> Arc<dyn OtpProvider> {
    match which {
        Which::TwoFactorIn => Arc::new(TwoFactorInProvider::new(
            TwoFactorInClient::builder(KEY)
                .base_url(server.uri())
                .build()
                .unwrap(),
        )),
        Which::Verihubs => Arc::new(
            VerihubsProvider::builder("app", KEY)
                .base_url(server.uri())
                .build()
                .unwrap(),
        ),
        Which::Octopush => Arc::new(
            OctopushProvider::builder("login", KEY)
                .base_url(server.uri())
                .build()
                .unwrap(),
        ),
    }
}

/// A refusal carrying `words` where each provider puts its words.
fn refusal(which: Which, words: &str) -> ResponseTemplate {
    let body = match which {
        Which::TwoFactorIn => json!({"Status": "Error", "Details": words}),
        Which::Verihubs => json!({"message": words}),
        Which::Octopush => json!({"code": 999, "message": words}),
    };
    ResponseTemplate::new(400).set_body_json(body)
}

async fn answering(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(answer).mount(&server).await;
    server
}

fn phone() -> PhoneNumber {
    PhoneNumber::from_digits(33611223344).unwrap()
}

#[tokio::test]
async fn every_provider_cleans_its_words_the_same_way() {
    let words = format!(
        "  refused for {KEY}\r\nInjected: yes\u{1b}[31m {}  ",
        "x".repeat(400)
    );
    for which in ALL {
        let server = answering(refusal(which, &words)).await;
        let err = provider(which, &server)
            .send(&phone(), &SendOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.delivery(), Delivery::NotSent, "{which:?}");
        let detail = err.detail().unwrap_or_default().to_owned();
        assert!(!detail.contains(KEY), "{which:?}: {detail}");
        assert!(detail.contains("[REDACTED]"), "{which:?}: {detail}");
        assert!(
            !detail.chars().any(char::is_control),
            "{which:?}: {detail:?}"
        );
        // Trimmed, control characters as spaces, cut at the one limit.
        let kept = detail
            .split_once("refused for")
            .map(|(_, rest)| format!("refused for{rest}"))
            .unwrap_or_else(|| panic!("{which:?}: {detail}"));
        assert!(
            kept.starts_with("refused for [REDACTED]  Injected: yes [31m x"),
            "{which:?}: {kept}"
        );
        assert!(kept.ends_with('…'), "{which:?}: {kept}");
        assert_eq!(
            kept.chars().count(),
            MAX_TEXT_CHARS + 1,
            "{which:?}: {kept}"
        );
    }
}

#[tokio::test]
async fn every_provider_reads_a_body_up_to_the_one_limit() {
    // Larger than the old 64 KiB limit of the JSON providers, well under the one limit (1 MiB).
    let padding = "p".repeat(200 * 1024);
    for which in ALL {
        let body = match which {
            Which::TwoFactorIn => {
                json!({"Status": "Error", "Details": "Invalid Phone Number", "pad": padding})
            }
            Which::Verihubs => json!({"message": "Msisdn invalid", "pad": padding}),
            Which::Octopush => json!({"code": 117, "message": "bad number", "pad": padding}),
        };
        let server = answering(ResponseTemplate::new(400).set_body_json(body)).await;
        let err = provider(which, &server)
            .send(&phone(), &SendOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ProviderErrorKind::InvalidPhone,
            "{which:?}: {err}"
        );
    }
    // Over the limit: unreadable, whoever answers; a 2xx that cannot be read may have sent.
    let huge = "h".repeat(1024 * 1024 + 1);
    for which in ALL {
        let server = answering(ResponseTemplate::new(200).set_body_string(huge.clone())).await;
        let err = provider(which, &server)
            .send(&phone(), &SendOptions::default())
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.delivery()),
            (ProviderErrorKind::UnexpectedResponse, Delivery::MaybeSent),
            "{which:?}: {err}"
        );
    }
}
