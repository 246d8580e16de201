//! Octopush's answers: generate and validate. Never panics; only a 2xx JSON object with an
//! explicit `"code": 0` validates; a 5xx generate is "maybe sent"; a generate succeeds only with
//! a request token.
#![no_main]

mod common;

use common::Answer;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use twofactor_core::fuzzing::{API_KEY, octopush_generate, octopush_validate};
use twofactor_core::{Delivery, ProviderError, Verdict};

fn code_is_zero(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.trim().parse::<i64>().ok() == Some(0),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(answer) = Answer::read(data) else {
        return;
    };
    let status = answer.status;
    if answer.op % 2 == 0 {
        match octopush_generate(status, answer.body) {
            Ok(sent) => {
                assert!(answer.is_success() && answer.object().is_some());
                assert!(!sent.otp_request_token.expose().is_empty());
                assert!(!format!("{:?}", sent.message).contains(API_KEY));
            }
            Err(err) => {
                assert!(!err.to_string().contains(API_KEY));
                if status >= 500 {
                    assert_eq!(ProviderError::from(err).delivery(), Delivery::MaybeSent);
                }
            }
        }
    } else {
        let verdict = octopush_validate(status, answer.body);
        if matches!(verdict, Ok(Verdict::Matched)) {
            let explicit = answer.is_success()
                && answer
                    .object()
                    .and_then(|o| o.get("code").cloned())
                    .is_some_and(|c| code_is_zero(&c));
            assert!(
                explicit,
                "a match read into {status} {:?}",
                String::from_utf8_lossy(answer.body)
            );
        }
    }
});
