//! Micro-benchmarks of the hot paths: `cargo bench -p twofactor-core --bench core`.
//!
//! What each group measures, and why it matters, is in BENCHMARKS.md at the repository root.
//! The store and engine steps are polled to completion on the calling thread: the in-memory
//! store never waits, so no runtime is needed and none is measured.

use std::collections::HashMap;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, header};
use twofactor_core::clock::ManualClock;
use twofactor_core::policy::MAX_CAP;
use twofactor_core::provider::CodeMessage;
use twofactor_core::store::{
    AttemptLimits, AttemptResult, MokaStore, Pending, SendAttempt, SendLimits,
};
use twofactor_core::token::PhoneProof;
use twofactor_core::web::Contract;
use twofactor_core::{
    CodeHasher, Context, KeyRing, LocalOtp, OtpCode, PhoneNumber, PhoneParser, PhoneVerifier,
    Policy, ProviderError, SigningKey, SmsMessage, SmsReceipt, SmsSender, Ticket,
    VerificationStore,
};

/// Runs a future that never waits (the in-memory store, the engine over it) to completion.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut TaskContext::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the benchmarked step waited"),
    }
}

fn phone(n: u64) -> PhoneNumber {
    // +91 9xxxxxxxxx: Indian mobile numbers, distinct for every n below 10^9.
    PhoneNumber::from_digits(919_000_000_000 + n % 1_000_000_000).expect("a valid number")
}

fn ring() -> KeyRing {
    KeyRing::new(SigningKey::from_bytes(&[7u8; 32]).expect("a 32-byte key"))
}

/// A 2Factor session id with the engine's prefixes, as the store holds it in provider mode.
const PROVIDER_TICKET: &str = "p:sms:ab88279e-0105-415f-912e-2f24162b8cbb";

fn tokens(c: &mut Criterion) {
    let ring = ring();
    let now = SystemTime::now();
    let p = phone(12_345_678);
    let proof = PhoneProof::new(p, now, Duration::from_secs(86_400));
    let token = ring.sign(&proof);
    let mut g = c.benchmark_group("token");
    g.bench_function("sign", |b| b.iter(|| ring.sign(black_box(&proof))));
    g.bench_function("verify", |b| b.iter(|| ring.verify(black_box(&token), now)));
    // The guard's whole check on its fast path: is the revocation copy current, find the bearer
    // token in the headers, verify it, look it up among the revoked.
    let tf = Contract::new(
        PhoneVerifier::builder(LocalOtp::new(NullSms::default()))
            .keys(ring.clone())
            .build()
            .expect("an engine"),
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::try_from(format!("Bearer {token}")).expect("a header value"),
    );
    headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
    ready(tf.verifier().refresh_revocations()).expect("revocations");
    g.bench_function("guard_check", |b| {
        b.iter(|| {
            let token = tf.token(black_box(&headers));
            // The copy of the revocations is refreshed every 200 ms, as a server's would be.
            tf.check_now(token, None).unwrap_or_else(|| {
                ready(tf.verifier().refresh_revocations()).expect("revocations");
                tf.check(None, token, None)
            })
        })
    });
    g.finish();
}

fn codes(c: &mut Criterion) {
    let hasher = CodeHasher::new([3u8; 32]);
    let p = phone(12_345_678);
    let code = OtpCode::parse("123456", 6..=6).expect("a code");
    let wrong = OtpCode::parse("654321", 6..=6).expect("a code");
    let ticket = hasher.ticket(&p, &code);
    let mut g = c.benchmark_group("code");
    g.bench_function("parse", |b| {
        b.iter(|| OtpCode::parse(black_box("123456"), 6..=6))
    });
    g.bench_function("hash", |b| b.iter(|| hasher.ticket(black_box(&p), &code)));
    g.bench_function("compare_match", |b| {
        b.iter(|| hasher.matches(black_box(&ticket), &p, &code))
    });
    g.bench_function("compare_mismatch", |b| {
        b.iter(|| hasher.matches(black_box(&ticket), &p, &wrong))
    });
    g.finish();
}

fn phones(c: &mut Criterion) {
    let parser = PhoneParser::default();
    let mut g = c.benchmark_group("phone");
    g.bench_function("parse_e164", |b| {
        b.iter(|| parser.parse(black_box("+919812345678")))
    });
    g.bench_function("parse_national", |b| {
        b.iter(|| parser.parse(black_box("098123 45678")))
    });
    g.bench_function("parse_invalid", |b| {
        b.iter(|| parser.parse(black_box("+91 98765/43210")))
    });
    g.finish();
}

fn bench_policy() -> Policy {
    Policy::builder()
        .sends_per_hour(MAX_CAP)
        .sends_per_ip_per_hour(MAX_CAP)
        .sends_per_range_per_hour(MAX_CAP)
        .conversion_min_sends(0)
        .build()
        .expect("a policy")
}

fn store(c: &mut Criterion) {
    let policy = bench_policy();
    let send_limits = SendLimits::from(&policy);
    // Wrong guesses are measured on one phone over and over: no lock.
    let mut attempt_limits = AttemptLimits::from(&policy);
    attempt_limits.max_attempts = u32::MAX;
    let hour = 3_600_000;
    let mut g = c.benchmark_group("store");

    // A send: reserve (cooldown, caps) then record the pending code. One phone, the clock
    // moving an hour per send so that every cap and log stays in its steady state.
    let s = MokaStore::default();
    let p = phone(1);
    let mut now = 1_700_000_000_000u64;
    g.bench_function("send", |b| {
        b.iter(|| {
            now += hour;
            let attempt =
                SendAttempt::new(p, now, send_limits).with_client(Some([10, 0, 0, 1].into()));
            ready(s.reserve_send(black_box(&attempt))).expect("reserve");
            let pending = Pending::new(now, Ticket::new(PROVIDER_TICKET), now + 600_000);
            ready(s.put_pending(p, &pending, now)).expect("put");
        })
    });

    // A wrong guess: the attempt is counted, the ticket handed out.
    let s = MokaStore::default();
    let now = 1_700_000_000_000u64;
    let pending = Pending::new(1, Ticket::new(PROVIDER_TICKET), now + 600_000);
    ready(s.put_pending(p, &pending, now)).expect("put");
    g.bench_function("attempt", |b| {
        b.iter(|| ready(s.begin_attempt(black_box(p), None, now, &attempt_limits)).expect("begin"))
    });

    // A right guess: count the attempt, then consume the code (re-armed outside the timing).
    let s = MokaStore::default();
    let mut n = 0u64;
    g.bench_function("consume", |b| {
        b.iter_batched(
            || {
                n += 1;
                let p = phone(n % 100_000);
                let pending = Pending::new(n, Ticket::new(PROVIDER_TICKET), now + 600_000);
                ready(s.put_pending(p, &pending, now)).expect("put");
                (p, n)
            },
            |(p, id)| {
                ready(s.begin_attempt(p, None, now, &attempt_limits)).expect("begin");
                ready(s.finish_attempt(p, id, AttemptResult::Matched, now)).expect("finish")
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// An SMS sender that delivers nothing and remembers the last code per phone.
#[derive(Default, Clone)]
struct NullSms {
    codes: Arc<Mutex<HashMap<PhoneNumber, OtpCode>>>,
}

#[twofactor_core::async_trait]
impl SmsSender for NullSms {
    fn name(&self) -> &str {
        "null"
    }
    async fn send_sms(&self, _: &SmsMessage) -> Result<SmsReceipt, ProviderError> {
        Ok(SmsReceipt::new(None))
    }
    async fn send_code(&self, message: &CodeMessage<'_>) -> Result<(), ProviderError> {
        self.codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(*message.phone, message.code.clone());
        Ok(())
    }
}

fn engine(c: &mut Criterion) {
    // The engine bounds provider calls with `tokio::time::timeout`, which needs a timer in
    // context; the calls themselves never wait here.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let _context = rt.enter();
    let sms = NullSms::default();
    let clock = ManualClock::new();
    // Sized for the bench policy's overall cap (the in-memory store's capacity rule).
    let store = MokaStore::builder().sized_for(&bench_policy()).build();
    let verifier = PhoneVerifier::builder(LocalOtp::new(sms.clone()))
        .store(store)
        .policy(bench_policy())
        .keys(ring())
        .clock(clock.clone())
        .build()
        .expect("an engine");
    let ctx = Context::new();
    let mut g = c.benchmark_group("engine");
    // The local-mode verify path end to end, minus HTTP: parse, count the attempt, compare the
    // keyed hash, consume the code, sign the token. The send that re-arms it is not timed.
    // Distinct phones, 20 ms apart on the engine's clock: a phone comes back after more than
    // the hour that its send log remembers, so no cap ever refuses.
    let mut n = 0u64;
    g.bench_function("verify_local", |b| {
        b.iter_batched(
            || {
                n += 1;
                clock.advance(Duration::from_millis(20));
                let p = phone(n % 200_000);
                let input = p.to_string();
                ready(verifier.send(&input, &ctx)).expect("send");
                let code = sms.codes.lock().expect("codes")[&p].clone();
                (input, code)
            },
            |(input, code)| ready(verifier.verify(&input, code.expose(), &ctx)).expect("verify"),
            BatchSize::SmallInput,
        )
    });
    // The same through the HTTP contract's function (JSON in, JSON and a cookie out), as the
    // adapters call it: what `POST /phone/verify` costs minus the web framework.
    let tf = Contract::new(verifier.clone());
    let mut json = HeaderMap::new();
    json.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    g.bench_function("verify_local_web", |b| {
        b.iter_batched(
            || {
                n += 1;
                clock.advance(Duration::from_millis(20));
                let p = phone(n % 200_000);
                let input = p.to_string();
                ready(verifier.send(&input, &ctx)).expect("send");
                let code = sms.codes.lock().expect("codes")[&p].clone();
                format!(r#"{{"phone":"{input}","code":"{}"}}"#, code.expose())
            },
            |body| {
                let r = ready(tf.verify(
                    &json,
                    None,
                    body.as_bytes(),
                    |_| std::future::ready(Ok(Default::default())),
                    |_| std::future::ready(Ok(())),
                ));
                assert_eq!(r.status, http::StatusCode::OK);
                r
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("send_local", |b| {
        b.iter(|| {
            clock.advance(Duration::from_secs(3601));
            ready(verifier.send(black_box("+919812345678"), &ctx)).expect("send")
        })
    });
    g.finish();
}

criterion_group!(benches, tokens, codes, phones, store, engine);
criterion_main!(benches);
