//! Verihubs' answers: send, verify, and the delivery callback's query. Never panics; only a
//! 2xx JSON object whose `code` says 2xx, or without a `code` whose `message` is Verihubs'
//! "OTP has been verified", verifies (`200 {}` does not); a 5xx send is "maybe sent".
#![no_main]

mod common;

use common::Answer;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use twofactor_core::fuzzing::{API_KEY, verihubs_send, verihubs_verify};
use twofactor_core::verihubs::{VerihubsCallback, VerihubsChannelKind};
use twofactor_core::{Delivery, ProviderError, Verdict};

fn code(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<i64>().ok().map(|n| n as f64),
        _ => None,
    }
}

fn explicit_match(answer: &Answer<'_>) -> bool {
    let Some(object) = answer.object() else {
        return false;
    };
    answer.is_success()
        && match object.get("code") {
            Some(c) => code(c).is_some_and(|c| (200.0..300.0).contains(&c)),
            None => object
                .get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("OTP has been verified")),
        }
}

fuzz_target!(|data: &[u8]| {
    let Some(answer) = Answer::read(data) else {
        return;
    };
    let status = answer.status;
    match answer.op % 3 {
        0 => match verihubs_send(status, answer.body) {
            Ok(sent) => {
                assert!(answer.is_success() && answer.object().is_some());
                let shown = format!("{sent:?}");
                assert!(!shown.contains(API_KEY));
            }
            Err(err) => {
                assert!(!err.to_string().contains(API_KEY));
                if status >= 500 {
                    assert_eq!(ProviderError::from(err).delivery(), Delivery::MaybeSent);
                }
            }
        },
        1 => {
            let verdict = verihubs_verify(status, answer.body);
            if matches!(verdict, Ok(Verdict::Matched)) {
                assert!(
                    explicit_match(&answer),
                    "a match read into {status} {:?}",
                    String::from_utf8_lossy(answer.body)
                );
            }
        }
        _ => {
            let query = String::from_utf8_lossy(answer.body);
            for channel in [VerihubsChannelKind::Sms, VerihubsChannelKind::WhatsApp] {
                if let Ok(callback) = VerihubsCallback::from_query(channel, &query) {
                    let _ = (format!("{callback:?}"), callback.status.is_failure());
                }
            }
        }
    }
});
