//! The engine's rules and outcomes, with an injected clock.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use twofactor_core::store::UnavailableStore;

use twofactor_core::async_trait;
use twofactor_core::clock::{Clock, ManualClock};
use twofactor_core::events::{Event, FailureReason};
use twofactor_core::mock::MockProvider;
use twofactor_core::provider::{CodeMessage, SmsMessage, SmsReceipt};
use twofactor_core::store::{
    AttemptDecision, AttemptLimits, Limit, MokaStore, Pending, SendAttempt, VerificationStore,
};
use twofactor_core::{
    BuildError, Channel, Context, LocalOtp, OtpCode, OtpProvider, PhoneError, PhoneNumber,
    PhoneVerifier, Policy, ProviderError, ProviderErrorKind, SendError, SendOptions, SmsSender,
    Ticket, Verdict, VerifyError,
};

const PHONE: &str = "+919812345678";
const OTHER: &str = "+919812345679";

struct Harness {
    verifier: PhoneVerifier,
    mock: MockProvider,
    clock: ManualClock,
    events: Arc<Mutex<Vec<Event>>>,
}

fn harness_with(policy: Policy) -> Harness {
    let mock = MockProvider::new();
    let clock = ManualClock::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = events.clone();
        move |e: &Event| events.lock().unwrap().push(e.clone())
    };
    let verifier = PhoneVerifier::builder(mock.clone())
        .policy(policy)
        .clock(clock.clone())
        .events(sink)
        .build()
        .unwrap();
    Harness {
        verifier,
        mock,
        clock,
        events,
    }
}

fn harness() -> Harness {
    harness_with(Policy::default())
}

fn ctx() -> Context {
    Context::default()
}

fn ip(s: &str) -> Context {
    Context::new().with_client_ip(Some(s.parse::<IpAddr>().unwrap()))
}

fn phone(s: &str) -> PhoneNumber {
    twofactor_core::PhoneParser::default().parse(s).unwrap()
}

impl Harness {
    fn code(&self, p: &str) -> String {
        self.mock.last_code(&phone(p)).unwrap().expose().to_owned()
    }

    /// A code that is certainly wrong for `p`.
    fn wrong(&self, p: &str) -> String {
        let right = self.code(p);
        if right == "000000" {
            "111111".into()
        } else {
            "000000".into()
        }
    }

    fn events(&self) -> Vec<&'static str> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(Event::name)
            .collect()
    }
}

fn retry_limit(r: Result<twofactor_core::Sent, SendError>) -> (Limit, u64) {
    match r {
        Err(SendError::RateLimited { limit, retry_after }) => {
            (limit, twofactor_core::verifier::retry_secs(retry_after))
        }
        other => panic!("expected rate limited, got {other:?}"),
    }
}

#[tokio::test]
async fn send_reports_lifetime_and_cooldown_and_normalises_the_phone() {
    let h = harness();
    let sent = h.verifier.send("098123 45678", &ctx()).await.unwrap();
    assert_eq!(sent.phone.to_string(), PHONE);
    assert_eq!(
        (sent.expires_in.as_secs(), sent.resend_in.as_secs()),
        (600, 30)
    );
    assert_eq!(h.mock.send_count(), 1);
    assert_eq!(h.events(), ["code_sent"]);
}

#[tokio::test]
async fn a_second_send_inside_the_cooldown_sends_nothing() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    h.clock.advance(Duration::from_millis(10_500));
    assert_eq!(
        retry_limit(h.verifier.send(PHONE, &ctx()).await),
        (Limit::Cooldown, 20)
    );
    assert_eq!(h.mock.send_count(), 1);
    h.clock.advance(Duration::from_millis(19_500));
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    assert_eq!(h.mock.send_count(), 2);
}

#[tokio::test]
async fn sends_per_phone_per_hour_are_capped() {
    let h = harness();
    for _ in 0..5 {
        h.verifier.send(PHONE, &ctx()).await.unwrap();
        h.clock.advance(Duration::from_secs(60));
    }
    assert_eq!(
        retry_limit(h.verifier.send(PHONE, &ctx()).await),
        (Limit::Phone, 3600 - 300)
    );
    h.verifier.send(OTHER, &ctx()).await.unwrap();
    h.clock.advance(Duration::from_secs(3600 - 300));
    h.verifier.send(PHONE, &ctx()).await.unwrap();
}

#[tokio::test]
async fn sends_per_client_ip_per_hour_are_capped() {
    let h = harness();
    for i in 0..20 {
        // Each in its own number block (the per-range cap is 10).
        h.verifier
            .send(&format!("+9198{i:02}345678"), &ip("203.0.113.7"))
            .await
            .unwrap();
    }
    assert_eq!(
        retry_limit(h.verifier.send("+919812345699", &ip("203.0.113.7")).await),
        (Limit::Ip, 3600)
    );
    h.verifier
        .send("+919812345699", &ip("203.0.113.8"))
        .await
        .unwrap();
    assert_eq!(h.mock.send_count(), 21);
}

#[tokio::test]
async fn sends_overall_per_hour_are_capped() {
    let h = harness_with(Policy::builder().sends_per_hour(3).build().unwrap());
    for i in 0..3 {
        h.verifier
            .send(&format!("+9198123456{i:02}"), &ctx())
            .await
            .unwrap();
    }
    h.clock.advance(Duration::from_secs(100));
    assert_eq!(
        retry_limit(h.verifier.send("+919812345699", &ctx()).await),
        (Limit::Global, 3500)
    );
    assert_eq!(h.events().last(), Some(&"rate_limited"));
}

#[tokio::test]
async fn bad_and_foreign_phones_never_reach_the_provider() {
    let h = harness();
    for bad in [
        "",
        "..",
        "../BAL/SMS",
        "1/2",
        "%2e%2e",
        "+91 98765/43210",
        "١٢٣٤٥٦",
        &"9".repeat(10_000),
    ] {
        assert!(
            matches!(
                h.verifier.send(bad, &ctx()).await,
                Err(SendError::Phone(PhoneError::Invalid))
            ),
            "{bad:?}"
        );
        assert!(
            matches!(
                h.verifier.verify(bad, "123456", &ctx()).await,
                Err(VerifyError::Phone(PhoneError::Invalid))
            ),
            "{bad:?}"
        );
    }
    match h.verifier.send("+14155552671", &ctx()).await {
        Err(e @ SendError::Phone(PhoneError::NotAllowed { .. })) => {
            assert!(
                matches!(&e, SendError::Phone(PhoneError::NotAllowed { country }) if country == "US")
            );
            assert_eq!(e.code().as_str(), "phone_not_allowed");
            assert_eq!(e.to_string(), "phone numbers from US are not allowed");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((h.mock.send_count(), h.mock.verify_count()), (0, 0));
}

#[tokio::test]
async fn malformed_codes_cost_no_attempt_and_no_provider_call() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    for bad in [
        "",
        "12345",
        "1234567",
        "12 456",
        "١٢٣٤٥٦",
        "12345a",
        "../BAL",
        "%2e%2e1",
        &"1".repeat(10_000),
    ] {
        assert!(
            matches!(
                h.verifier.verify(PHONE, bad, &ctx()).await,
                Err(VerifyError::InvalidCode { len: 6 })
            ),
            "{bad:?}"
        );
    }
    assert_eq!(h.mock.verify_count(), 0);
    let wrong = h.wrong(PHONE);
    assert!(matches!(
        h.verifier.verify(PHONE, &wrong, &ctx()).await,
        Err(VerifyError::Incorrect { attempts_left: 4 })
    ));
}

#[tokio::test]
async fn the_attempt_budget_locks_and_the_right_code_is_refused_during_the_lock() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let (right, wrong) = (h.code(PHONE), h.wrong(PHONE));
    for left in [4, 3, 2, 1] {
        match h.verifier.verify(PHONE, &wrong, &ctx()).await {
            Err(VerifyError::Incorrect { attempts_left }) => assert_eq!(attempts_left, left),
            other => panic!("{other:?}"),
        }
    }
    match h.verifier.verify(PHONE, &wrong, &ctx()).await {
        Err(VerifyError::TooManyAttempts { retry_after }) => assert_eq!(retry_after.as_secs(), 900),
        other => panic!("the last allowed wrong guess answers too many attempts, got {other:?}"),
    }
    h.clock.advance(Duration::from_secs(100));
    match h.verifier.verify(PHONE, &right, &ctx()).await {
        Err(VerifyError::TooManyAttempts { retry_after }) => assert_eq!(retry_after.as_secs(), 800),
        other => panic!("the right code is refused during the lock, got {other:?}"),
    }
    assert_eq!(
        h.mock.verify_count(),
        5,
        "a locked phone costs no provider call"
    );
    assert_eq!(
        retry_limit(h.verifier.send(PHONE, &ctx()).await),
        (Limit::Locked, 800)
    );
    h.clock.advance(Duration::from_secs(800));
    assert!(
        matches!(
            h.verifier.verify(PHONE, &right, &ctx()).await,
            Err(VerifyError::NoLiveCode)
        ),
        "the lock cancelled the code"
    );
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let fresh = h.code(PHONE);
    h.verifier.verify(PHONE, &fresh, &ctx()).await.unwrap();
    assert!(h.events().contains(&"locked"));
}

#[tokio::test]
async fn a_resend_does_not_give_fresh_attempts_and_success_resets_them() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let wrong = h.wrong(PHONE);
    h.verifier.verify(PHONE, &wrong, &ctx()).await.unwrap_err();
    h.verifier.verify(PHONE, &wrong, &ctx()).await.unwrap_err();
    h.clock.advance(Duration::from_secs(30));
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let wrong = h.wrong(PHONE);
    assert!(matches!(
        h.verifier.verify(PHONE, &wrong, &ctx()).await,
        Err(VerifyError::Incorrect { attempts_left: 2 })
    ));
    let right = h.code(PHONE);
    h.verifier.verify(PHONE, &right, &ctx()).await.unwrap();
    h.clock.advance(Duration::from_secs(30));
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let wrong = h.wrong(PHONE);
    assert!(
        matches!(
            h.verifier.verify(PHONE, &wrong, &ctx()).await,
            Err(VerifyError::Incorrect { attempts_left: 4 })
        ),
        "success reset the count"
    );
}

#[tokio::test]
async fn a_new_send_replaces_the_old_code() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let first = h.code(PHONE);
    h.clock.advance(Duration::from_secs(30));
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let second = h.code(PHONE);
    if first != second {
        assert!(
            h.verifier.verify(PHONE, &first, &ctx()).await.is_err(),
            "the old code is dead"
        );
    }
    h.verifier.verify(PHONE, &second, &ctx()).await.unwrap();
}

#[tokio::test]
async fn used_expired_and_never_sent_codes_are_refused() {
    let h = harness();
    assert!(matches!(
        h.verifier.verify(PHONE, "123456", &ctx()).await,
        Err(VerifyError::NoLiveCode)
    ));
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let code = h.code(PHONE);
    let verified = h.verifier.verify(PHONE, &code, &ctx()).await.unwrap();
    assert_eq!(verified.expires_in.as_secs(), 86_400);
    assert!(
        matches!(
            h.verifier.verify(PHONE, &code, &ctx()).await,
            Err(VerifyError::NoLiveCode)
        ),
        "a used code"
    );

    h.clock.advance(Duration::from_secs(30));
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let code = h.code(PHONE);
    h.clock.advance(Duration::from_secs(600));
    assert!(
        matches!(
            h.verifier.verify(PHONE, &code, &ctx()).await,
            Err(VerifyError::NoLiveCode)
        ),
        "an expired code"
    );
    assert_eq!(h.mock.verify_count(), 1, "dead codes cost no provider call");
}

#[tokio::test]
async fn a_code_for_one_phone_never_verifies_another() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    h.verifier.send(OTHER, &ctx()).await.unwrap();
    let code_a = h.code(PHONE);
    if code_a != h.code(OTHER) {
        assert!(matches!(
            h.verifier.verify(OTHER, &code_a, &ctx()).await,
            Err(VerifyError::Incorrect { .. })
        ));
    }
    let fresh = harness();
    fresh.verifier.send(PHONE, &ctx()).await.unwrap();
    let code = fresh.code(PHONE);
    assert!(matches!(
        fresh.verifier.verify(OTHER, &code, &ctx()).await,
        Err(VerifyError::NoLiveCode)
    ));
}

#[tokio::test]
async fn tokens_carry_the_phone_and_the_configured_lifetime() {
    let h = harness_with(
        Policy::builder()
            .token_ttl(Duration::from_secs(120))
            .build()
            .unwrap(),
    );
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let code = h.code(PHONE);
    let v = h.verifier.verify(PHONE, &code, &ctx()).await.unwrap();
    assert_eq!(v.expires_in.as_secs(), 120);
    let proof = h.verifier.authenticate(&v.token).unwrap();
    assert_eq!(proof.phone(), phone(PHONE));
    assert_eq!(proof, v.proof);
    h.clock.advance(Duration::from_secs(120));
    assert!(h.verifier.authenticate(&v.token).is_err());
}

#[tokio::test]
async fn provider_failures_and_timeouts() {
    let h = harness_with(
        Policy::builder()
            .provider_timeout(Duration::from_millis(100))
            .build()
            .unwrap(),
    );
    h.mock.fail_next_send(ProviderErrorKind::Unreachable);
    match h.verifier.send(PHONE, &ctx()).await {
        Err(e @ SendError::Provider(_)) => assert_eq!(e.code().as_str(), "provider_error"),
        other => panic!("{other:?}"),
    }
    // Nothing was sent, so the reservation was taken back: no cooldown.
    h.verifier.send(PHONE, &ctx()).await.unwrap();

    // A 5xx may have delivered: the cooldown stands, and nothing is retried.
    h.clock.advance(Duration::from_secs(30));
    h.mock.fail_next_send(ProviderErrorKind::ServerError);
    assert!(matches!(
        h.verifier.send(PHONE, &ctx()).await,
        Err(SendError::Provider(_))
    ));
    assert_eq!(
        retry_limit(h.verifier.send(PHONE, &ctx()).await).0,
        Limit::Cooldown
    );

    h.mock.fail_next_send(ProviderErrorKind::InvalidPhone);
    assert!(matches!(
        h.verifier.send(OTHER, &ctx()).await,
        Err(SendError::InvalidPhone)
    ));

    h.mock.set_delay(Duration::from_millis(300));
    h.clock.advance(Duration::from_secs(30));
    match h.verifier.send(PHONE, &ctx()).await {
        Err(e @ SendError::Provider(_)) => assert_eq!(e.code().as_str(), "provider_timeout"),
        other => panic!("{other:?}"),
    }
    // A timeout may have delivered: the cooldown stands.
    assert_eq!(
        retry_limit(h.verifier.send(PHONE, &ctx()).await).0,
        Limit::Cooldown
    );
}

#[tokio::test]
async fn a_provider_failure_during_verify_still_costs_the_attempt() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    h.mock.fail_next_verify(ProviderErrorKind::ServerError);
    assert!(matches!(
        h.verifier.verify(PHONE, "123456", &ctx()).await,
        Err(VerifyError::Provider(_))
    ));
    let wrong = h.wrong(PHONE);
    assert!(matches!(
        h.verifier.verify(PHONE, &wrong, &ctx()).await,
        Err(VerifyError::Incorrect { attempts_left: 3 })
    ));
}

#[tokio::test]
async fn the_provider_saying_expired_answers_410_and_still_counts() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let right = h.code(PHONE);
    h.mock.forget_codes();
    // Every guess at a code the provider calls dead is answered 410, and each still costs an
    // attempt, so a dead code is no free oracle.
    for _ in 0..5 {
        assert!(matches!(
            h.verifier.verify(PHONE, &right, &ctx()).await,
            Err(VerifyError::NoLiveCode)
        ));
    }
    assert!(matches!(
        h.verifier.verify(PHONE, &right, &ctx()).await,
        Err(VerifyError::TooManyAttempts { .. })
    ));
    assert_eq!(h.mock.verify_count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_wrong_guesses_compare_exactly_max_attempts() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let wrong = h.wrong(PHONE);
    h.mock.set_delay(Duration::from_millis(20));
    let barrier = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (v, b, w) = (h.verifier.clone(), barrier.clone(), wrong.clone());
            tokio::spawn(async move {
                b.wait().await;
                v.verify(PHONE, &w, &Context::default()).await
            })
        })
        .collect();
    let mut incorrect = 0;
    let mut too_many = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(VerifyError::Incorrect { .. }) => incorrect += 1,
            Err(VerifyError::TooManyAttempts { .. }) => too_many += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        h.mock.verify_count(),
        5,
        "exactly max_attempts reached the provider"
    );
    assert_eq!((incorrect, too_many), (4, 196));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_right_codes_verify_exactly_once() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let right = h.code(PHONE);
    // Local checking has no provider to consume the code: only the store's atomic consume
    // stands between twenty requests and twenty tokens.
    let local = LocalOtp::new(Recorder::default());
    let sms = local.sender().clone();
    let lv = PhoneVerifier::builder(local).build().unwrap();
    lv.send(PHONE, &ctx()).await.unwrap();
    let local_code = sms.last_code();
    for (v, code) in [(h.verifier.clone(), right), (lv, local_code)] {
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (v, b, c) = (v.clone(), barrier.clone(), code.clone());
                tokio::spawn(async move {
                    b.wait().await;
                    v.verify(PHONE, &c, &Context::default()).await
                })
            })
            .collect();
        let mut verified = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                verified += 1;
            }
        }
        assert_eq!(verified, 1);
    }
}

/// An SmsSender that records the codes it is asked to deliver.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(PhoneNumber, String, String)>>>);

impl Recorder {
    fn last_code(&self) -> String {
        self.0.lock().unwrap().last().unwrap().1.clone()
    }
}

#[async_trait]
impl SmsSender for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn send_sms(&self, m: &SmsMessage) -> Result<SmsReceipt, ProviderError> {
        self.0
            .lock()
            .unwrap()
            .push((m.to[0], String::new(), m.text.clone()));
        Ok(SmsReceipt::new(None))
    }
    async fn send_code(&self, m: &CodeMessage<'_>) -> Result<(), ProviderError> {
        self.0
            .lock()
            .unwrap()
            .push((*m.phone, m.code.expose().to_owned(), m.text.to_owned()));
        Ok(())
    }
}

#[tokio::test]
async fn local_mode_generates_hashes_and_checks_codes_itself() {
    let local = LocalOtp::new(Recorder::default()).with_template("Code: {code}");
    let sms = local.sender().clone();
    let v = PhoneVerifier::builder(local).build().unwrap();
    v.send(PHONE, &ctx()).await.unwrap();
    let code = sms.last_code();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(sms.0.lock().unwrap()[0].2, format!("Code: {code}"));
    assert!(matches!(
        v.verify(OTHER, &code, &ctx()).await,
        Err(VerifyError::NoLiveCode)
    ));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(matches!(
        v.verify(PHONE, wrong, &ctx()).await,
        Err(VerifyError::Incorrect { attempts_left: 4 })
    ));
    v.verify(PHONE, &code, &ctx()).await.unwrap();
    assert!(matches!(
        v.verify(PHONE, &code, &ctx()).await,
        Err(VerifyError::NoLiveCode)
    ));
    assert!(matches!(
        v.send(PHONE, &ctx().with_channel(Channel::Voice)).await,
        Err(SendError::ChannelUnsupported(Channel::Voice))
    ));
}

#[tokio::test]
async fn test_numbers_need_enabling_send_nothing_and_take_the_fixed_code() {
    let err = PhoneVerifier::builder(MockProvider::new())
        .test_number("+919000000001", "424242")
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::TestNumbersNotEnabled);
    let err = PhoneVerifier::builder(MockProvider::new())
        .test_number("+919000000001", "42")
        .enable_test_numbers(true)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::TestNumber { .. }));

    let mock = MockProvider::new();
    let v = PhoneVerifier::builder(mock.clone())
        .test_number("+919000000001", "424242")
        .enable_test_numbers(true)
        .build()
        .unwrap();
    v.send("+919000000001", &ctx()).await.unwrap();
    assert_eq!(mock.send_count(), 0, "no SMS for a test number");
    assert!(matches!(
        v.verify("+919000000001", "111111", &ctx()).await,
        Err(VerifyError::Incorrect { attempts_left: 4 })
    ));
    v.verify("+919000000001", "424242", &ctx()).await.unwrap();
    assert_eq!(mock.verify_count(), 0);
}

/// The mock, delivering by SMS only (the trait's default).
struct SmsOnly(MockProvider);

#[async_trait]
impl OtpProvider for SmsOnly {
    fn name(&self) -> &str {
        "sms-only"
    }
    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        self.0.send(phone, options).await
    }
    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        self.0.verify(phone, ticket, code).await
    }
}

#[tokio::test]
async fn a_test_number_escapes_only_the_delivery_rules_and_is_named_in_events() {
    // Toll-free: never sent a real code, by any channel.
    const TEST: &str = "+911800123456";
    let mock = MockProvider::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = events.clone();
        move |e: &Event| events.lock().unwrap().push(e.clone())
    };
    let v = PhoneVerifier::builder(SmsOnly(mock.clone()))
        .test_number(TEST, "424242")
        .enable_test_numbers(true)
        .policy(Policy::builder().channels([Channel::Sms]).build().unwrap())
        .events(sink)
        .build()
        .unwrap();
    assert_eq!(v.provider_name(), "sms-only");
    // The channel switch still holds; the provider's channels and the number type do not.
    assert!(matches!(
        v.send(TEST, &voice(ctx())).await,
        Err(SendError::ChannelNotAllowed(Channel::Voice))
    ));
    v.send(TEST, &ctx()).await.unwrap();
    assert!(matches!(
        v.send(TEST, &ctx()).await,
        Err(SendError::RateLimited {
            limit: Limit::Cooldown,
            ..
        })
    ));
    assert!(matches!(
        v.send("+911800123457", &ctx()).await,
        Err(SendError::InvalidPhone)
    ));
    v.send(PHONE, &ctx()).await.unwrap();
    assert_eq!(mock.send_count(), 1, "only the real phone was sent a code");
    let sent: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::CodeSent { provider, .. } => Some(provider.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["test-number", "sms-only"]);

    let v = PhoneVerifier::builder(SmsOnly(mock.clone()))
        .test_number(TEST, "424242")
        .enable_test_numbers(true)
        .build()
        .unwrap();
    v.send(TEST, &voice(ctx())).await.unwrap();
    assert!(matches!(
        v.send(OTHER, &voice(ctx())).await,
        Err(SendError::ChannelUnsupported(Channel::Voice))
    ));
    v.verify(TEST, "424242", &ctx()).await.unwrap();
    assert_eq!((mock.send_count(), mock.verify_count()), (1, 0));
}

#[tokio::test]
async fn stored_tickets_keep_their_format_across_upgrades_and_switches() {
    // What every version writes: `p:` and the provider's ticket, or `t:` for a test number.
    const TEST: &str = "+919000000001";
    let store = Arc::new(MokaStore::default());
    let clock = ManualClock::new();
    let mock = MockProvider::new();
    let build = |test_numbers: bool| {
        let builder = PhoneVerifier::builder(mock.clone())
            .shared_store(store.clone())
            .clock(clock.clone());
        if test_numbers {
            builder
                .test_number(TEST, "424242")
                .enable_test_numbers(true)
        } else {
            builder
        }
        .build()
        .unwrap()
    };
    let limits = AttemptLimits::from(&Policy::default());
    let stored = |p: &'static str| {
        let store = store.clone();
        let now = clock.now_millis();
        async move {
            match store.begin_attempt(phone(p), None, now, &limits).await {
                Ok(AttemptDecision::Proceed { ticket, .. }) => ticket.expose().to_owned(),
                other => panic!("{other:?}"),
            }
        }
    };
    for test_numbers in [false, true] {
        let v = build(test_numbers);
        v.send(PHONE, &ctx()).await.unwrap();
        let ticket = stored(PHONE).await;
        assert!(ticket.starts_with("p:mock-"), "{ticket}");
        clock.advance(Duration::from_secs(3600));
    }
    let v = build(true);
    v.send(TEST, &ctx()).await.unwrap();
    assert_eq!(stored(TEST).await, "t:");
    clock.advance(Duration::from_secs(3600));

    // A code sent by an older version, or before test numbers were switched on or off, still
    // verifies: the record is written here as such a version wrote it.
    for test_numbers in [false, true] {
        let inner = mock
            .send(&phone(OTHER), &SendOptions::default())
            .await
            .unwrap();
        let code = mock.last_code(&phone(OTHER)).unwrap();
        let now = clock.now_millis();
        let ticket = Ticket::new(format!("p:{}", inner.expose()));
        store
            .put_pending(phone(OTHER), &Pending::new(7, ticket, now + 600_000), now)
            .await
            .unwrap();
        build(test_numbers)
            .verify(OTHER, code.expose(), &ctx())
            .await
            .unwrap();
    }
    let now = clock.now_millis();
    for (test_numbers, verified) in [(true, true), (false, false)] {
        store
            .put_pending(
                phone(TEST),
                &Pending::new(8, Ticket::new("t:"), now + 600_000),
                now,
            )
            .await
            .unwrap();
        let r = build(test_numbers).verify(TEST, "424242", &ctx()).await;
        assert_eq!(r.is_ok(), verified, "test numbers {test_numbers}: {r:?}");
        if !verified {
            assert!(matches!(r, Err(VerifyError::Incorrect { .. })), "{r:?}");
        }
    }
}

#[tokio::test]
async fn a_failing_store_fails_closed() {
    let mock = MockProvider::new();
    let v = PhoneVerifier::builder(mock.clone())
        .store(UnavailableStore)
        .build()
        .unwrap();
    let e = v.send(PHONE, &ctx()).await.unwrap_err();
    assert!(matches!(e, SendError::StoreUnavailable(_)));
    assert_eq!(e.code().as_str(), "service_unavailable");
    let e = v.verify(PHONE, "123456", &ctx()).await.unwrap_err();
    assert!(matches!(e, VerifyError::StoreUnavailable(_)));
    assert_eq!(
        (mock.send_count(), mock.verify_count()),
        (0, 0),
        "no send, no verify"
    );
}

#[test]
fn the_moka_store_respects_its_capacity() {
    let store = MokaStore::builder().max_phones(100).build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = ManualClock::new().now_millis();
    let limits = twofactor_core::store::SendLimits::from(&Policy::default());
    rt.block_on(async {
        for i in 0..1_000u64 {
            let phone = PhoneNumber::from_digits(919_000_000_000 + i).unwrap();
            let _ = store
                .reserve_send(&SendAttempt::new(phone, now, limits))
                .await
                .unwrap();
        }
    });
    store.run_pending_tasks();
    assert!(
        store.phone_count() <= 100,
        "{} phones kept",
        store.phone_count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_moka_store_passes_the_conformance_suite() {
    twofactor_core::store::conformance::run(Arc::new(MokaStore::default())).await;
}

#[tokio::test]
async fn events_cover_every_decision() {
    let h = harness();
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    h.verifier.send(PHONE, &ctx()).await.unwrap_err();
    let wrong = h.wrong(PHONE);
    for _ in 0..5 {
        h.verifier.verify(PHONE, &wrong, &ctx()).await.unwrap_err();
    }
    h.verifier.verify(PHONE, &wrong, &ctx()).await.unwrap_err();
    let events = h.events.lock().unwrap().clone();
    let names: Vec<_> = events.iter().map(Event::name).collect();
    assert_eq!(
        names,
        [
            "code_sent",
            "rate_limited",
            "verification_failed",
            "verification_failed",
            "verification_failed",
            "verification_failed",
            "locked",
            "verification_failed"
        ]
    );
    assert!(matches!(
        events[2],
        Event::VerificationFailed {
            reason: FailureReason::Incorrect { attempts_left: 4 },
            ..
        }
    ));
    assert!(matches!(
        events[7],
        Event::VerificationFailed {
            reason: FailureReason::Locked,
            ..
        }
    ));
    let _ = OtpCode::generate(6);
}

fn voice(ctx: Context) -> Context {
    ctx.with_channel(Channel::Voice)
}

fn verify_limit(r: Result<twofactor_core::Verified, VerifyError>) -> (Limit, u64) {
    match r {
        Err(VerifyError::RateLimited { limit, retry_after }) => {
            (limit, twofactor_core::verifier::retry_secs(retry_after))
        }
        other => panic!("expected rate limited, got {other:?}"),
    }
}

#[tokio::test]
async fn sends_per_number_range_per_hour_are_capped() {
    let h = harness();
    // +919812345000 to +919812345999 are one block (3 digits); 10 an hour by default.
    for i in 0..10 {
        h.verifier
            .send(&format!("+919812345{i:03}"), &ip(&format!("203.0.113.{i}")))
            .await
            .unwrap();
        h.clock.advance(Duration::from_secs(60));
    }
    assert_eq!(
        retry_limit(h.verifier.send("+919812345999", &ip("198.51.100.1")).await),
        (Limit::Range, 3600 - 600)
    );
    h.verifier.send("+919812346000", &ctx()).await.unwrap();
    assert_eq!(
        h.mock.send_count(),
        11,
        "the refused send reached no provider"
    );
}

#[tokio::test]
async fn voice_sends_have_their_own_overall_cap() {
    let h = harness_with(Policy::builder().voice_sends_per_hour(2).build().unwrap());
    for p in ["+919812345678", "+919823456789"] {
        h.verifier.send(p, &voice(ctx())).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(100));
    assert_eq!(
        retry_limit(h.verifier.send("+919834567890", &voice(ctx())).await),
        (Limit::Channel, 3500)
    );
    h.verifier.send("+919834567890", &ctx()).await.unwrap();
    assert_eq!(h.mock.send_count(), 3, "SMS is not held by the voice cap");
}

#[tokio::test]
async fn verifies_per_client_address_per_hour_are_capped_and_cost_the_phone_nothing() {
    let h = harness_with(
        Policy::builder()
            .verifies_per_ip_per_hour(3)
            .build()
            .unwrap(),
    );
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let wrong = h.wrong(PHONE);
    let from = ip("203.0.113.7");
    // Badly shaped codes are refused before the budget: they never count.
    for _ in 0..5 {
        assert!(matches!(
            h.verifier.verify(PHONE, "12", &from).await,
            Err(VerifyError::InvalidCode { .. })
        ));
    }
    // Every outcome counts: a wrong code, no live code, a wrong code.
    assert!(matches!(
        h.verifier.verify(PHONE, &wrong, &from).await,
        Err(VerifyError::Incorrect { attempts_left: 4 })
    ));
    assert!(matches!(
        h.verifier.verify(OTHER, &wrong, &from).await,
        Err(VerifyError::NoLiveCode)
    ));
    assert!(matches!(
        h.verifier.verify(PHONE, &wrong, &from).await,
        Err(VerifyError::Incorrect { attempts_left: 3 })
    ));
    let verifies = h.mock.verify_count();
    let code = h.code(PHONE);
    let refused = h.verifier.verify(PHONE, &code, &from).await;
    assert_eq!(
        refused.as_ref().unwrap_err().code().as_str(),
        "rate_limited"
    );
    let (limit, secs) = verify_limit(refused);
    assert_eq!(limit, Limit::Ip);
    assert!((3540..=3600).contains(&secs), "{secs}");
    assert_eq!(h.mock.verify_count(), verifies, "no provider call");
    assert!(matches!(
        h.events.lock().unwrap().last(),
        Some(Event::RateLimited {
            limit: Limit::Ip,
            ..
        })
    ));
    // The phone lost no attempt: from another address the right code still verifies.
    h.verifier
        .verify(PHONE, &code, &ip("203.0.113.8"))
        .await
        .unwrap();
    // The budget frees up as the hour passes.
    h.clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        h.verifier.verify(PHONE, &wrong, &from).await,
        Err(VerifyError::NoLiveCode)
    ));
}

#[tokio::test]
async fn the_conversion_guard_throttles_a_country_and_releases_it() {
    let policy = Policy::builder()
        .conversion_min_sends(3)
        .conversion_min_rate(0.5)
        .build()
        .unwrap();
    let h = harness_with(policy.clone());
    let phones = ["+919812345678", "+919823456789", "+919834567890"];
    for p in phones {
        h.verifier.send(p, &ctx()).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(60));
    assert_eq!(
        retry_limit(h.verifier.send("+919845678901", &ctx()).await),
        (Limit::Country, 3540),
        "3 sends to IN, none verified: throttled until the first leaves the hour"
    );
    assert!(h.verifier.send("+919856789012", &ctx()).await.is_err());
    let throttled: Vec<_> = h
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::CountryThrottled { country } => Some(country.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(throttled, ["IN"], "one throttle event, not one per refusal");
    assert_eq!(h.mock.send_count(), 3);

    // Verifications come in: 2 of 3 is enough.
    for p in &phones[..2] {
        let code = h.code(p);
        h.verifier.verify(p, &code, &ctx()).await.unwrap();
    }
    h.verifier.send("+919845678901", &ctx()).await.unwrap();
    let names = h.events();
    assert_eq!(
        names.iter().filter(|n| **n == "country_released").count(),
        1,
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"code_sent"));
    assert_eq!(
        names[names.len() - 2],
        "country_released",
        "released by the send that got through"
    );

    // And by time alone: throttled again, then the hour passes.
    let h = harness_with(policy);
    for p in phones {
        h.verifier.send(p, &ctx()).await.unwrap();
    }
    assert!(h.verifier.send("+919845678901", &ctx()).await.is_err());
    h.clock.advance(Duration::from_secs(3600));
    h.verifier.send("+919845678901", &ctx()).await.unwrap();
    let names = h.events();
    assert_eq!(
        (
            names.iter().filter(|n| **n == "country_throttled").count(),
            names.iter().filter(|n| **n == "country_released").count()
        ),
        (1, 1),
        "{names:?}"
    );
}

#[tokio::test]
async fn rate_limited_answers_say_which_limit() {
    let h = harness_with(
        Policy::builder()
            .sends_per_range_per_hour(1)
            .verifies_per_ip_per_hour(1)
            .build()
            .unwrap(),
    );
    h.verifier.send(PHONE, &ctx()).await.unwrap();
    let e = h.verifier.send(OTHER, &ctx()).await.unwrap_err();
    let r = twofactor_core::web::send_error(&e);
    assert_eq!(r.status.as_u16(), 429);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["reason"], "range");
    assert_eq!(body["retry_after"], 3600);
    assert_eq!(r.headers["retry-after"], "3600");

    let from = ip("203.0.113.7");
    let _ = h.verifier.verify(OTHER, "123456", &from).await;
    let e = h.verifier.verify(OTHER, "123456", &from).await.unwrap_err();
    let r = twofactor_core::web::verify_error(&e);
    assert_eq!(r.status.as_u16(), 429);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (&body["error"], &body["reason"]),
        (&"rate_limited".into(), &"ip".into())
    );
    assert!(r.headers.contains_key("retry-after"));

    // The lock is too_many_attempts, not rate_limited: no reason field.
    let e = VerifyError::TooManyAttempts {
        retry_after: Duration::from_secs(900),
    };
    let body: serde_json::Value =
        serde_json::from_slice(&twofactor_core::web::verify_error(&e).body).unwrap();
    assert!(body.get("reason").is_none());
}

#[test]
fn a_store_too_small_for_the_policy_is_refused_at_build_time() {
    let small = MokaStore::builder().max_phones(1_000).build();
    let err = PhoneVerifier::builder(MockProvider::new())
        .store(small)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::StoreCapacity(_)), "{err:?}");
    assert!(err.to_string().contains("max_phones"), "{err}");
    // The default store is sized for the policy.
    let busy = Policy::builder().sends_per_hour(5_000_000).build().unwrap();
    assert!(
        PhoneVerifier::builder(MockProvider::new())
            .policy(busy)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn number_types_that_bill_or_cannot_take_the_channel_are_refused_before_any_cap() {
    // One send an hour overall: a refused number must not spend it.
    let h = harness_with(
        Policy::builder()
            .sends_per_hour(1)
            .resend_cooldown(Duration::ZERO)
            .build()
            .unwrap(),
    );
    for (number, kind) in [
        ("+911800123456", "toll-free"),
        ("+911861123456789", "premium rate"),
        ("+9118603451234", "shared cost"),
        ("+911409305260", "UAN"),
    ] {
        for channel in [Channel::Sms, Channel::Voice] {
            let e = h
                .verifier
                .send(number, &ctx().with_channel(channel))
                .await
                .unwrap_err();
            assert!(
                matches!(e, SendError::InvalidPhone),
                "{kind} by {channel}: {e:?}"
            );
            assert_eq!(e.code().as_str(), "invalid_phone");
        }
    }
    let landline = "+911123456789";
    assert!(matches!(
        h.verifier.send(landline, &ctx()).await,
        Err(SendError::InvalidPhone)
    ));
    assert_eq!(
        h.mock.send_count(),
        0,
        "no refused number reached the provider"
    );
    h.verifier.send(landline, &voice(ctx())).await.unwrap();
    assert_eq!(h.mock.send_count(), 1, "a fixed line takes a voice call");
    assert_eq!(
        retry_limit(h.verifier.send(PHONE, &ctx()).await).0,
        Limit::Global,
        "only the voice call spent the overall cap"
    );
}

#[tokio::test]
async fn voip_numbers_need_their_switch() {
    let parser = twofactor_core::PhoneParser::default()
        .with_allowed_countries(["FR".parse().unwrap(), "IN".parse().unwrap()]);
    let voip = "+33912345678";
    for allow in [false, true] {
        let mock = MockProvider::new();
        let v = PhoneVerifier::builder(mock.clone())
            .phone_parser(parser.clone())
            .policy(Policy::builder().allow_voip(allow).build().unwrap())
            .build()
            .unwrap();
        let r = v.send(voip, &ctx()).await;
        assert_eq!(r.is_ok(), allow, "allow_voip={allow}: {r:?}");
        if !allow {
            assert!(matches!(r, Err(SendError::InvalidPhone)));
        }
        assert_eq!(mock.send_count(), u64::from(allow));
        v.send("+33612345678", &ctx()).await.unwrap();
    }
}

#[tokio::test]
async fn a_channel_switched_off_is_refused_before_any_cap() {
    let h = harness_with(
        Policy::builder()
            .channels([Channel::Sms])
            .sends_per_hour(1)
            .build()
            .unwrap(),
    );
    let e = h.verifier.send(PHONE, &voice(ctx())).await.unwrap_err();
    assert!(
        matches!(e, SendError::ChannelNotAllowed(Channel::Voice)),
        "{e:?}"
    );
    assert_eq!(e.code().as_str(), "channel_not_allowed");
    assert_eq!(e.code().status().as_u16(), 403);
    assert_eq!(h.mock.send_count(), 0);
    h.verifier.send(PHONE, &ctx()).await.unwrap();

    let h = harness_with(
        Policy::builder()
            .channels([Channel::Voice])
            .build()
            .unwrap(),
    );
    assert!(matches!(
        h.verifier.send(PHONE, &ctx()).await,
        Err(SendError::ChannelNotAllowed(Channel::Sms))
    ));
    h.verifier.send(PHONE, &voice(ctx())).await.unwrap();
}
