//! The failover combinator over real provider clients talking to local mocks: when it moves to
//! the next provider and when it must not, where verify goes, and the breaker on an injected
//! clock.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{refused_url, short_timeout};
use serde_json::json;
use twofactor_core::clock::ManualClock;
use twofactor_core::events::{Event, EventSink};
use twofactor_core::failover::{Failover, FailoverError};
use twofactor_core::octopush::OctopushProvider;
use twofactor_core::verihubs::VerihubsProvider;
use twofactor_core::{
    Channel, Delivery, OtpCode, OtpProvider, PhoneNumber, ProviderErrorKind, SendOptions, Ticket,
    Verdict,
};
use wiremock::matchers::{any, body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GENERATE: &str = "/service/otp/generate";
const VALIDATE: &str = "/service/otp/validate";

fn phone() -> PhoneNumber {
    PhoneNumber::from_digits(6281234567890).unwrap()
}

fn code() -> OtpCode {
    OtpCode::parse("123456", 6..=6).unwrap()
}

fn verihubs(base_url: String) -> Arc<dyn OtpProvider> {
    Arc::new(
        VerihubsProvider::builder("app", "verihubs-key")
            .base_url(base_url)
            .http(short_timeout())
            .build()
            .unwrap(),
    )
}

fn octopush(base_url: String) -> Arc<dyn OtpProvider> {
    Arc::new(
        OctopushProvider::builder("me@example.org", "octopush-key")
            .base_url(base_url)
            .http(short_timeout())
            .build()
            .unwrap(),
    )
}

/// An Octopush mock whose generate answers `status` (201 with a token, or an error).
async fn octopush_mock(status: u16, token: &str) -> MockServer {
    let server = MockServer::start().await;
    let response = if status == 201 {
        ResponseTemplate::new(201).set_body_json(json!({"code": 0, "otp_request_token": token}))
    } else {
        ResponseTemplate::new(status).set_body_json(json!({"message": "failed"}))
    };
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

/// Records events for assertions.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Event>>>);

impl Events {
    fn sink(&self) -> Arc<dyn EventSink> {
        let events = self.0.clone();
        Arc::new(move |event: &Event| events.lock().unwrap().push(event.clone()))
    }

    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn primary_refused_fails_over_and_verify_goes_to_the_secondary() {
    let secondary = octopush_mock(201, "otp_from_secondary").await;
    Mock::given(method("PUT"))
        .and(path(VALIDATE))
        .and(body_partial_json(
            json!({"otp_request_token": "otp_from_secondary", "code": "123456"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 0})))
        .expect(1)
        .mount(&secondary)
        .await;
    let events = Events::default();
    let failover = Failover::new(vec![verihubs(refused_url()), octopush(secondary.uri())])
        .unwrap()
        .with_event_sink(events.sink());

    let ticket = failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap();
    assert_eq!(ticket.expose(), "1:octopush:otp_from_secondary");
    assert_eq!(
        events.take(),
        [Event::FailedOver {
            from: "verihubs".into(),
            to: "octopush".into(),
            kind: ProviderErrorKind::Unreachable,
        }]
    );
    // Verify goes to Octopush (the refused Verihubs would answer an error).
    let verdict = failover.verify(&phone(), &ticket, &code()).await.unwrap();
    assert_eq!(verdict, Verdict::Matched);
}

#[tokio::test]
async fn provider_side_refusals_fail_over_and_verify_skips_the_primary() {
    // (A 5xx is not among them: it may have sent the code, see
    // `a_send_that_may_have_delivered_never_fails_over`.)
    for (status, kind) in [
        (429, ProviderErrorKind::RateLimited),
        (403, ProviderErrorKind::QuotaExhausted),
        (401, ProviderErrorKind::Unauthorized),
    ] {
        let primary = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/otp/send"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"message": "no"})))
            .expect(1)
            .mount(&primary)
            .await;
        Mock::given(method("POST"))
            .and(path("/v2/otp/verify"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .expect(0)
            .mount(&primary)
            .await;
        let secondary = octopush_mock(201, "otp_2").await;
        Mock::given(method("PUT"))
            .and(path(VALIDATE))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"code": 199})))
            .expect(1)
            .mount(&secondary)
            .await;
        let events = Events::default();
        let failover = Failover::new(vec![verihubs(primary.uri()), octopush(secondary.uri())])
            .unwrap()
            .with_event_sink(events.sink());
        let ticket = failover
            .send(&phone(), &SendOptions::default())
            .await
            .unwrap();
        assert!(
            matches!(&events.take()[..], [Event::FailedOver { kind: k, .. }] if *k == kind),
            "{status}"
        );
        let verdict = failover.verify(&phone(), &ticket, &code()).await.unwrap();
        assert_eq!(verdict, Verdict::Mismatch, "{status}");
    }
}

#[tokio::test]
async fn an_invalid_phone_does_not_fail_over() {
    let primary = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"message": "Msisdn invalid"})),
        )
        .expect(1)
        .mount(&primary)
        .await;
    let secondary = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&secondary)
        .await;
    let events = Events::default();
    let failover = Failover::new(vec![verihubs(primary.uri()), octopush(secondary.uri())])
        .unwrap()
        .with_event_sink(events.sink());
    let err = failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::InvalidPhone);
    assert_eq!(err.provider(), "verihubs");
    assert!(events.take().is_empty());
}

#[tokio::test]
async fn a_timeout_that_may_have_delivered_does_not_fail_over() {
    let primary = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"code": 0, "otp_request_token": "late"}))
                .set_delay(Duration::from_secs(3)),
        )
        .expect(1)
        .mount(&primary)
        .await;
    let secondary = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&secondary)
        .await;
    let failover = Failover::new(vec![octopush(primary.uri()), verihubs(secondary.uri())]).unwrap();
    let err = failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::Timeout);
    assert_eq!(err.delivery(), Delivery::MaybeSent);
    assert_eq!(err.provider(), "octopush");
}

#[tokio::test]
async fn an_unreadable_success_does_not_fail_over() {
    let primary = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(ResponseTemplate::new(201).set_body_string("<html>accepted</html>"))
        .mount(&primary)
        .await;
    let secondary = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&secondary)
        .await;
    let failover = Failover::new(vec![octopush(primary.uri()), verihubs(secondary.uri())]).unwrap();
    let err = failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::UnexpectedResponse);
}

#[tokio::test]
async fn the_breaker_opens_after_n_failures_and_closes_after_the_cool_off() {
    // Throttled: a refusal that sent nothing, so the next provider is tried.
    let primary = octopush_mock(429, "").await;
    let secondary = octopush_mock(201, "otp_secondary").await;
    let clock = ManualClock::new();
    let events = Events::default();
    let failover = Failover::new(vec![octopush(primary.uri()), octopush(secondary.uri())])
        .unwrap()
        .with_breaker(2, Duration::from_secs(30))
        .with_clock(Arc::new(clock.clone()))
        .with_event_sink(events.sink());
    let to = phone();
    let options = SendOptions::default();
    let send = || failover.send(&to, &options);

    // Two failures in a row: the second opens the breaker.
    assert_eq!(send().await.unwrap().expose(), "1:octopush:otp_secondary");
    assert!(matches!(&events.take()[..], [Event::FailedOver { .. }]));
    assert_eq!(send().await.unwrap().expose(), "1:octopush:otp_secondary");
    let opened = events.take();
    assert!(
        matches!(
            &opened[..],
            [Event::BreakerOpened { provider, duration }, Event::FailedOver { .. }]
                if provider == "octopush" && *duration == Duration::from_secs(30)
        ),
        "{opened:?}"
    );
    assert_eq!(requests(&primary).await, 2);

    // While open, the primary is skipped.
    clock.advance(Duration::from_secs(29));
    assert_eq!(send().await.unwrap().expose(), "1:octopush:otp_secondary");
    assert_eq!(requests(&primary).await, 2);
    assert!(events.take().is_empty());

    // After the cool-off the primary is tried again; it has recovered, and the breaker closes.
    primary.reset().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"code": 0, "otp_request_token": "otp_primary"})),
        )
        .mount(&primary)
        .await;
    clock.advance(Duration::from_secs(2));
    assert_eq!(send().await.unwrap().expose(), "0:octopush:otp_primary");
    assert_eq!(
        events.take(),
        [Event::BreakerClosed {
            provider: "octopush".into()
        }]
    );
    assert_eq!(send().await.unwrap().expose(), "0:octopush:otp_primary");
    assert!(events.take().is_empty());
}

#[tokio::test]
async fn a_failed_trial_after_the_cool_off_reopens_at_once() {
    let primary = octopush_mock(429, "").await;
    let secondary = octopush_mock(201, "otp_secondary").await;
    let clock = ManualClock::new();
    let events = Events::default();
    let failover = Failover::new(vec![octopush(primary.uri()), octopush(secondary.uri())])
        .unwrap()
        .with_breaker(3, Duration::from_secs(10))
        .with_clock(Arc::new(clock.clone()))
        .with_event_sink(events.sink());
    for _ in 0..3 {
        failover
            .send(&phone(), &SendOptions::default())
            .await
            .unwrap();
    }
    let opened = events
        .take()
        .into_iter()
        .filter(|e| matches!(e, Event::BreakerOpened { .. }))
        .count();
    assert_eq!(opened, 1);
    clock.advance(Duration::from_secs(10));
    failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap();
    assert_eq!(requests(&primary).await, 4);
    assert!(
        events
            .take()
            .iter()
            .any(|e| matches!(e, Event::BreakerOpened { .. }))
    );
    // Skipped again for the next cool-off.
    failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap();
    assert_eq!(requests(&primary).await, 4);
}

#[tokio::test]
async fn with_every_breaker_open_providers_are_still_tried() {
    let first = octopush_mock(429, "").await;
    let second = octopush_mock(429, "").await;
    let clock = ManualClock::new();
    let failover = Failover::new(vec![octopush(first.uri()), octopush(second.uri())])
        .unwrap()
        .with_breaker(1, Duration::from_secs(60))
        .with_clock(Arc::new(clock.clone()));
    let err = failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::RateLimited);
    assert_eq!((requests(&first).await, requests(&second).await), (1, 1));

    // Both open now; the next send still tries both, the one that reopens first first.
    clock.advance(Duration::from_secs(1));
    let err = failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::RateLimited);
    assert_eq!((requests(&first).await, requests(&second).await), (2, 2));
}

#[tokio::test]
async fn verify_goes_to_the_issuer_even_while_its_breaker_is_open() {
    let primary = octopush_mock(201, "otp_primary").await;
    Mock::given(method("PUT"))
        .and(path(VALIDATE))
        .and(body_partial_json(
            json!({"otp_request_token": "otp_primary"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 0})))
        .expect(1)
        .mount(&primary)
        .await;
    let secondary = octopush_mock(201, "otp_secondary").await;
    let clock = ManualClock::new();
    let failover = Failover::new(vec![octopush(primary.uri()), octopush(secondary.uri())])
        .unwrap()
        .with_breaker(1, Duration::from_secs(60))
        .with_clock(Arc::new(clock.clone()));
    let ticket = failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap();
    // The primary now refuses a send (throttled) and its breaker opens.
    primary.reset().await;
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(ResponseTemplate::new(429))
        .mount(&primary)
        .await;
    Mock::given(method("PUT"))
        .and(path(VALIDATE))
        .and(body_partial_json(
            json!({"otp_request_token": "otp_primary"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"code": 0})))
        .expect(1)
        .mount(&primary)
        .await;
    let other = failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap();
    assert!(other.expose().starts_with("1:"));
    assert_eq!(
        failover.verify(&phone(), &ticket, &code()).await.unwrap(),
        Verdict::Matched
    );
}

#[tokio::test]
async fn only_providers_that_support_the_channel_are_tried() {
    let verihubs_mock = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&verihubs_mock)
        .await;
    let octopush_server = octopush_mock(201, "otp_voice").await;
    let failover = Failover::new(vec![
        verihubs(verihubs_mock.uri()),
        octopush(octopush_server.uri()),
    ])
    .unwrap();
    assert!(failover.supports(Channel::Voice));
    let ticket = failover
        .send(&phone(), &SendOptions::new(Channel::Voice))
        .await
        .unwrap();
    assert_eq!(ticket.expose(), "1:octopush:otp_voice");

    let sms_only = Failover::new(vec![verihubs(verihubs_mock.uri())]).unwrap();
    assert!(!sms_only.supports(Channel::Voice));
    let err = sms_only
        .send(&phone(), &SendOptions::new(Channel::Voice))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ProviderErrorKind::Unsupported);
}

#[tokio::test]
async fn tickets_are_checked_against_the_list() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let failover = Failover::new(vec![octopush(server.uri()), verihubs(server.uri())]).unwrap();
    for malformed in ["", "otp_123", "x:octopush:otp", "-1:octopush:otp"] {
        let err = failover
            .verify(&phone(), &Ticket::new(malformed), &code())
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ProviderErrorKind::UnexpectedResponse,
            "{malformed}"
        );
        assert_eq!(err.provider(), "failover");
    }
    // Well formed, but the list has changed since: the code cannot be checked any more.
    for stale in [
        "2:octopush:otp",
        "0:verihubs:sms:",
        "1:octopush:otp",
        "0:octo:x",
    ] {
        let verdict = failover
            .verify(&phone(), &Ticket::new(stale), &code())
            .await
            .unwrap();
        assert_eq!(verdict, Verdict::Expired, "{stale}");
    }
    assert!(matches!(
        Failover::new(Vec::new()),
        Err(FailoverError::NoProviders)
    ));
    assert_eq!(failover.name(), "failover");
    assert_eq!(failover.provider_names(), ["octopush", "verihubs"]);
    let debug = format!("{failover:?}");
    assert!(!debug.contains("-key"), "{debug}");
}

#[tokio::test]
async fn failover_and_engine_events_share_one_stream() {
    use twofactor_core::verifier::{Context, PhoneVerifier};
    let secondary = octopush_mock(201, "otp_from_secondary").await;
    let events = Events::default();
    let sink = events.sink();
    let failover = Failover::new(vec![verihubs(refused_url()), octopush(secondary.uri())])
        .unwrap()
        .with_breaker(1, Duration::from_secs(30))
        .with_event_sink(sink.clone());
    let verifier = PhoneVerifier::builder(failover)
        .shared_events(sink)
        .build()
        .unwrap();
    verifier
        .send_to(phone(), &Context::default())
        .await
        .unwrap();
    let seen = events.take();
    let names: Vec<&str> = seen.iter().map(Event::name).collect();
    assert_eq!(names, ["breaker_opened", "failed_over", "code_sent"]);
    assert!(
        matches!(&seen[2], Event::CodeSent { provider, .. } if provider == "failover"),
        "{seen:?}"
    );
}

/// Everything logged on this thread, as text.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn by_default_each_failover_event_is_logged_once() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let secondary = octopush_mock(201, "otp_from_secondary").await;
    let failover = Failover::new(vec![verihubs(refused_url()), octopush(secondary.uri())])
        .unwrap()
        .with_breaker(1, Duration::from_secs(30));
    failover
        .send(&phone(), &SendOptions::default())
        .await
        .unwrap();
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for line in ["trying the next provider", "provider breaker opened"] {
        assert_eq!(text.matches(line).count(), 1, "{line}:\n{text}");
    }
    assert!(text.contains("skipped_for_secs=30"), "{text}");
    assert!(
        text.lines()
            .filter(|l| l.contains("breaker") || l.contains("next provider"))
            .all(|l| l.contains("twofactor::events")),
        "the failover logs through the event sink alone:\n{text}"
    );
}

/// What fails, the primary, the secondary, and the secondary's mock.
type Case = (
    String,
    Arc<dyn OtpProvider>,
    Arc<dyn OtpProvider>,
    MockServer,
);

#[tokio::test]
async fn a_send_that_may_have_delivered_never_fails_over() {
    // (what, primary, the secondary's mock); every mock lives to the end of the test, when
    // wiremock checks its expectations.
    let mut cases: Vec<Case> = Vec::new();
    let mut primaries = Vec::new();
    let untouchable = || async {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"code": 0})))
            .expect(0)
            .mount(&server)
            .await;
        server
    };
    for (what, response) in common::server_failures() {
        // Both providers as the primary, each failing with the same answer.
        let octo = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(GENERATE))
            .respond_with(response.clone())
            .expect(1)
            .mount(&octo)
            .await;
        let veri = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/otp/send"))
            .respond_with(response)
            .expect(1)
            .mount(&veri)
            .await;
        let second = untouchable().await;
        cases.push((
            format!("octopush {what}"),
            octopush(octo.uri()),
            verihubs(second.uri()),
            second,
        ));
        let second = untouchable().await;
        cases.push((
            format!("verihubs {what}"),
            verihubs(veri.uri()),
            octopush(second.uri()),
            second,
        ));
        primaries.extend([octo, veri]);
    }
    for how in [common::Hangup::Close, common::Hangup::Reset] {
        let (url, _) = common::dropping_server(how).await;
        let second = untouchable().await;
        cases.push((
            format!("dropped ({how:?})"),
            verihubs(url),
            octopush(second.uri()),
            second,
        ));
    }
    // A timeout once connected (the short timeout of these providers is 300 ms).
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/otp/send"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    let second = untouchable().await;
    cases.push((
        "timeout".into(),
        verihubs(slow.uri()),
        octopush(second.uri()),
        second,
    ));

    for (what, primary, secondary, secondary_mock) in cases {
        let events = Events::default();
        let failover = Failover::new(vec![primary, secondary])
            .unwrap()
            .with_event_sink(events.sink());
        let err = failover
            .send(&phone(), &SendOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.delivery(), Delivery::MaybeSent, "{what}: {err}");
        assert!(events.take().is_empty(), "{what}: failed over");
        assert_eq!(
            requests(&secondary_mock).await,
            0,
            "{what}: the second provider was called"
        );
    }
    drop(primaries);
}
