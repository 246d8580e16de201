//! 2Factor's answers: OTP sends (`AUTOGEN`, `AUTOGEN2`), verify, R1 SMS, bulk, the encrypted
//! module (plain, whole-body encrypted, `Details` encrypted; GCM and CBC) and the delivery and
//! click webhooks. Never panics; only an explicit `OTP Matched` under a documented `Status` and
//! a 2xx verifies; a 5xx send is "maybe sent"; a success comes only with a 2xx.
#![no_main]

mod common;

use common::Answer;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use twofactor_core::fuzzing::{
    API_KEY, twofactor_in_bulk, twofactor_in_encrypted, twofactor_in_encryption, twofactor_in_send,
    twofactor_in_sms, twofactor_in_verify,
};
use twofactor_core::twofactor_in::{ClickEvent, DeliveryReport};
use twofactor_core::{Delivery, ProviderError, Verdict};

/// The field `name`, matched case-insensitively as 2Factor's answers need, as a string.
fn text<'a>(object: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    object
        .get(name)
        .or_else(|| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_str)
}

fn explicit_match(answer: &Answer<'_>, body: &str) -> bool {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body.trim()) else {
        return false;
    };
    let status_ok = text(&object, "Status").is_some_and(|s| {
        s.trim().eq_ignore_ascii_case("success") || s.trim().eq_ignore_ascii_case("error")
    });
    answer.is_success()
        && status_ok
        && text(&object, "Details").is_some_and(|d| d.trim().eq_ignore_ascii_case("otp matched"))
}

fn no_secret(err: &impl std::fmt::Display) {
    let shown = err.to_string();
    assert!(!shown.contains(API_KEY), "the API key in an error: {shown}");
}

fuzz_target!(|data: &[u8]| {
    let Some(answer) = Answer::read(data) else {
        return;
    };
    let body = String::from_utf8_lossy(answer.body);
    let status = answer.status;
    match answer.op % 10 {
        0 => {
            let verdict = twofactor_in_verify(status, &body);
            if matches!(verdict, Ok(Verdict::Matched)) {
                assert!(
                    explicit_match(&answer, &body),
                    "a match read into {status} {body:?}"
                );
            }
            if status >= 500 {
                assert!(verdict.is_err());
            }
        }
        op @ (1 | 2) => match twofactor_in_send(status, &body, op == 2) {
            Ok(sent) => {
                assert!(answer.is_success());
                assert!(!sent.session_id.expose().trim().is_empty());
                assert_eq!(sent.code.is_some(), op == 2);
            }
            Err(err) => {
                no_secret(&err);
                let err = ProviderError::from(err);
                if status >= 500 {
                    assert_eq!(err.delivery(), Delivery::MaybeSent, "{status}");
                }
            }
        },
        3 => match twofactor_in_sms(status, &body) {
            Ok(details) => {
                assert!(answer.is_success());
                assert!(!details.trim().is_empty());
            }
            Err(err) => {
                no_secret(&err);
                if status >= 500 {
                    assert_eq!(ProviderError::from(err).delivery(), Delivery::MaybeSent);
                }
            }
        },
        4 => {
            let sent = usize::from(answer.op / 10 % 8);
            match twofactor_in_bulk(status, &body, sent) {
                Ok(report) => {
                    assert!(answer.is_success());
                    assert_eq!(report.total, sent);
                    for a in &report.accepted {
                        assert!(a.index.is_none_or(|i| i < sent));
                    }
                    for r in &report.rejected {
                        assert!(r.index.is_none_or(|i| i < sent));
                    }
                    if report.is_complete() {
                        assert_eq!(report.failed().count(), 0);
                        assert_eq!(report.unconfirmed(), 0);
                    }
                }
                Err(err) => no_secret(&err),
            }
        }
        op @ (5 | 6 | 7) => {
            let cbc = answer.op / 10 % 2 == 1;
            let enc = twofactor_in_encryption(cbc);
            // 5: the body as it came; 6: the whole body encrypted; 7: `Details` encrypted.
            let body = match op {
                5 => body.into_owned(),
                6 => enc.encrypt(answer.body).unwrap(),
                _ => serde_json::json!({
                    "Status": "Success",
                    "Details": enc.encrypt(answer.body).unwrap(),
                })
                .to_string(),
            };
            assert_eq!(
                enc.decrypt(&enc.encrypt(answer.body).unwrap()).as_deref(),
                Some(answer.body)
            );
            let _ = enc.decrypt(&String::from_utf8_lossy(answer.body));
            match twofactor_in_encrypted(status, &body, cbc) {
                Ok(_) => assert!(answer.is_success()),
                Err(err) => no_secret(&err),
            }
        }
        8 => {
            for report in [
                DeliveryReport::from_json(answer.body),
                DeliveryReport::from_form(answer.body),
            ]
            .into_iter()
            .flatten()
            {
                let _ = (
                    format!("{report:?}"),
                    report.sent_at_time(),
                    report.status_at_time(),
                );
                let _ = report.status.is_delivered();
            }
        }
        _ => {
            for click in [
                ClickEvent::from_json(answer.body),
                ClickEvent::from_form(answer.body),
            ]
            .into_iter()
            .flatten()
            {
                let _ = (format!("{click:?}"), click.accessed_time(), click.ip_addr());
            }
        }
    }
});
