//! The engine's and the guard's metrics (feature `metrics`), read back through a Prometheus
//! recorder installed for each test alone.

use std::collections::BTreeMap;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use twofactor_core::clock::ManualClock;
use twofactor_core::mock::MockProvider;
use twofactor_core::store::UnavailableStore;
use twofactor_core::web::Contract;
use twofactor_core::{Channel, Context, PhoneVerifier, Policy, ProviderErrorKind};

const PHONE: &str = "+919812345678";

fn recorder() -> (PrometheusRecorder, PrometheusHandle) {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

/// The value of the series `name{labels}` in the rendered text (labels in any order), 0 if
/// it is absent.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<&str, &str> = labels.iter().copied().collect();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, number)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let got: BTreeMap<&str, &str> = series_labels
            .split(',')
            .filter(|kv| !kv.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k, v.trim_matches('"')))
            .collect();
        if got == want {
            return number.parse().unwrap();
        }
    }
    0.0
}

fn no_secrets(text: &str, code: &str) {
    assert!(
        !text.contains("9812345678"),
        "a phone number in the metrics:\n{text}"
    );
    assert!(!text.contains(code), "a code in the metrics:\n{text}");
}

#[tokio::test]
async fn sends_verifications_and_refusals_are_counted() {
    let (recorder, metrics) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let mock = MockProvider::new();
    let verifier = PhoneVerifier::builder(mock.clone()).build().unwrap();
    let ctx = Context::new();

    verifier.send(PHONE, &ctx).await.unwrap();
    let phone = verifier.phone_parser().parse(PHONE).unwrap();
    let code = mock.last_code(&phone).unwrap();
    let wrong = if code.expose() == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert!(verifier.verify(PHONE, wrong, &ctx).await.is_err());
    // Inside the cooldown: refused by a cap, and said why.
    assert!(verifier.send(PHONE, &ctx).await.is_err());
    // Not a number at all: counted with its error code.
    assert!(verifier.send("+91 98x", &ctx).await.is_err());
    verifier.verify(PHONE, code.expose(), &ctx).await.unwrap();

    let text = metrics.render();
    let sends = "twofactor_sends_total";
    assert_eq!(
        value(&text, sends, &[("outcome", "sent"), ("channel", "sms")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            sends,
            &[("outcome", "rate_limited"), ("channel", "sms")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            sends,
            &[("outcome", "invalid_phone"), ("channel", "sms")]
        ),
        1.0
    );
    let verifications = "twofactor_verifications_total";
    assert_eq!(
        value(&text, verifications, &[("outcome", "incorrect_code")]),
        1.0
    );
    assert_eq!(value(&text, verifications, &[("outcome", "verified")]), 1.0);
    assert_eq!(
        value(
            &text,
            "twofactor_rate_limited_total",
            &[("reason", "cooldown")]
        ),
        1.0
    );
    // One send, two verifies reached the provider, each timed.
    let latency = "twofactor_provider_request_duration_seconds_count";
    assert_eq!(
        value(
            &text,
            latency,
            &[("provider", "mock"), ("operation", "send")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            latency,
            &[("provider", "mock"), ("operation", "verify")]
        ),
        2.0
    );
    no_secrets(&text, code.expose());
}

#[tokio::test]
async fn provider_failures_count_as_their_outcome() {
    let (recorder, metrics) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let mock = MockProvider::new();
    let verifier = PhoneVerifier::builder(mock.clone()).build().unwrap();
    mock.fail_next_send(ProviderErrorKind::Unreachable);
    assert!(verifier.send(PHONE, &Context::new()).await.is_err());
    let text = metrics.render();
    assert_eq!(
        value(
            &text,
            "twofactor_sends_total",
            &[("outcome", "provider_error"), ("channel", "sms")]
        ),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn voice_sends_carry_their_channel() {
    let (recorder, metrics) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let mock = MockProvider::new();
    let verifier = PhoneVerifier::builder(mock).build().unwrap();
    let _ = verifier
        .send(PHONE, &Context::new().with_channel(Channel::Voice))
        .await;
    let text = metrics.render();
    let voice: f64 = text
        .lines()
        .filter(|l| l.starts_with("twofactor_sends_total{") && l.contains("channel=\"voice\""))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert_eq!(voice, 1.0, "{text}");
}

#[tokio::test]
async fn store_failures_are_counted_by_step() {
    let (recorder, metrics) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let verifier = PhoneVerifier::builder(MockProvider::new())
        .store(UnavailableStore)
        .build()
        .unwrap();
    assert!(verifier.send(PHONE, &Context::new()).await.is_err());
    assert!(
        verifier
            .verify(PHONE, "123456", &Context::new())
            .await
            .is_err()
    );
    let text = metrics.render();
    let errors = "twofactor_store_errors_total";
    assert_eq!(
        value(&text, errors, &[("operation", "reserve_send")]),
        1.0,
        "{text}"
    );
    assert_eq!(value(&text, errors, &[("operation", "begin_attempt")]), 1.0);
    assert_eq!(
        value(
            &text,
            "twofactor_sends_total",
            &[("outcome", "service_unavailable"), ("channel", "sms")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "twofactor_verifications_total",
            &[("outcome", "service_unavailable")]
        ),
        1.0
    );
}

#[tokio::test]
async fn guard_rejections_are_counted_by_reason() {
    let (recorder, metrics) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let mock = MockProvider::new();
    let clock = ManualClock::new();
    let verifier = PhoneVerifier::builder(mock.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    let contract = Contract::new(verifier.clone());
    let ctx = Context::new();
    verifier.send(PHONE, &ctx).await.unwrap();
    let code = mock
        .last_code(&verifier.phone_parser().parse(PHONE).unwrap())
        .unwrap();
    let verified = verifier.verify(PHONE, code.expose(), &ctx).await.unwrap();

    assert!(contract.check(None, None, None).is_err());
    assert!(
        contract
            .check(None, Some(b"not-a-token".as_slice()), None)
            .is_err()
    );
    assert!(
        contract
            .check(None, Some(verified.token.as_bytes()), None)
            .is_ok()
    );
    clock.advance(Duration::from_secs(120));
    let recent = Some(Duration::from_secs(60));
    assert!(
        contract
            .check(None, Some(verified.token.as_bytes()), recent)
            .is_err()
    );
    assert!(
        contract
            .authenticate(None, Some(verified.token.as_bytes()), None)
            .await
            .is_ok()
    );

    let text = metrics.render();
    let rejections = "twofactor_guard_rejections_total";
    assert_eq!(
        value(&text, rejections, &[("reason", "required")]),
        2.0,
        "{text}"
    );
    assert_eq!(value(&text, rejections, &[("reason", "stale")]), 1.0);
    assert!(!text.contains(&verified.token));
    no_secrets(&text, code.expose());
}

#[tokio::test]
async fn without_a_recorder_nothing_breaks() {
    // No recorder is installed in this test: the facade drops everything.
    let verifier = PhoneVerifier::builder(MockProvider::new())
        .policy(Policy::default())
        .build()
        .unwrap();
    verifier.send(PHONE, &Context::new()).await.unwrap();
}

#[tokio::test]
async fn the_conversion_guard_state_is_a_gauge_per_country() {
    let (recorder, metrics) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let mock = MockProvider::new();
    let clock = ManualClock::new();
    let policy = Policy::builder()
        .conversion_min_sends(3)
        .conversion_min_rate(0.5)
        .build()
        .unwrap();
    let verifier = PhoneVerifier::builder(mock.clone())
        .policy(policy)
        .clock(clock.clone())
        .build()
        .unwrap();
    let ctx = Context::new();
    let phones = ["+919812345678", "+919823456789", "+919834567890"];
    for p in phones {
        verifier.send(p, &ctx).await.unwrap();
    }
    clock.advance(Duration::from_secs(60));
    assert!(verifier.send("+919845678901", &ctx).await.is_err());
    let gauge = "twofactor_conversion_throttled";
    let text = metrics.render();
    assert_eq!(value(&text, gauge, &[("country", "IN")]), 1.0, "{text}");
    assert_eq!(
        value(
            &text,
            "twofactor_rate_limited_total",
            &[("reason", "country")]
        ),
        1.0
    );

    for p in &phones[..2] {
        let phone = verifier.phone_parser().parse(p).unwrap();
        let code = mock.last_code(&phone).unwrap();
        verifier.verify(p, code.expose(), &ctx).await.unwrap();
    }
    verifier.send("+919845678901", &ctx).await.unwrap();
    let text = metrics.render();
    assert_eq!(value(&text, gauge, &[("country", "IN")]), 0.0, "{text}");
    assert!(text.contains("twofactor_conversion_throttled{country=\"IN\"} 0"));
}

#[tokio::test]
async fn failovers_and_breakers_are_counted_once_without_wiring() {
    use std::sync::Arc;
    use twofactor_core::OtpProvider;
    use twofactor_core::events::{Event, EventSink};
    use twofactor_core::failover::Failover;

    let (recorder, metrics) = recorder();
    let _local = metrics::set_default_local_recorder(&recorder);
    let (primary, secondary) = (MockProvider::new(), MockProvider::new());
    primary.fail_next_send(ProviderErrorKind::Unreachable);
    let members: Vec<Arc<dyn OtpProvider>> =
        vec![Arc::new(primary.clone()), Arc::new(secondary.clone())];
    // An audit sink of the app's own, shared by the failover and the engine: the metrics come
    // on top of it, once.
    let audit: Arc<dyn EventSink> = Arc::new(|_: &Event| {});
    let failover = Failover::new(members)
        .unwrap()
        .with_breaker(1, Duration::from_secs(30))
        .with_event_sink(audit.clone());
    let verifier = PhoneVerifier::builder(failover)
        .shared_events(audit)
        .build()
        .unwrap();
    verifier.send(PHONE, &Context::new()).await.unwrap();
    assert_eq!((primary.send_count(), secondary.send_count()), (1, 1));

    let text = metrics.render();
    assert_eq!(
        value(
            &text,
            "twofactor_failovers_total",
            &[("from", "mock"), ("to", "mock")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "twofactor_provider_breaker_open",
            &[("provider", "mock")]
        ),
        1.0,
        "{text}"
    );
}
