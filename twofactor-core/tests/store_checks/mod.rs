//! Checks that hold every shared store to one truth, generic over the store: the differential
//! check against the in-memory store, the races of two app instances (200 wrong guesses, 20
//! right codes), revocation across two instances, and (in [`outage`]) the store's server
//! killed, frozen and back. A store's test file calls them with its own way of making stores.
#![allow(dead_code)]

pub mod outage;

use std::collections::HashSet;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Barrier;
use twofactor_core::mock::MockProvider;
use twofactor_core::provider::{CodeMessage, SmsMessage, SmsReceipt};
use twofactor_core::store::conformance::random_phone;
use twofactor_core::store::{
    AttemptDecision, AttemptLimits, AttemptResult, Country, MokaStore, Pending, Revocation,
    RevocationCursor, SendAttempt, SendDecision, SendLimits, VerificationStore,
};
use twofactor_core::token::TokenError;
use twofactor_core::{
    Channel, CodeHasher, Context, KeyRing, LocalOtp, OtpCode, OtpProvider, PhoneNumber,
    PhoneVerifier, Policy, ProviderError, SmsSender, Ticket, VerifyError, async_trait,
};

/// A random phone that the default parser accepts.
pub fn phone() -> PhoneNumber {
    let parser = twofactor_core::PhoneParser::default();
    loop {
        let p = random_phone();
        if parser.parse(&p.to_string()).is_ok() {
            return p;
        }
    }
}

pub fn ctx() -> Context {
    Context::default()
}

/// The real clock, in Unix milliseconds.
pub fn now_ms() -> u64 {
    twofactor_core::clock::unix_millis(std::time::SystemTime::now())
}

/// Attempt limits of the default policy with a budget of `max` and no lock in sight, for a
/// store driven alone (an engine's budget is at most 20, too few for some runs).
pub fn unbounded(max: u32) -> AttemptLimits {
    let mut limits = AttemptLimits::from(&Policy::default());
    limits.max_attempts = max;
    limits
}

pub fn wrong_code(right: &OtpCode) -> String {
    if right.expose() == "000000" {
        "111111".into()
    } else {
        "000000".into()
    }
}

pub fn engine<S: VerificationStore>(
    store: S,
    provider: impl OtpProvider,
    keys: &KeyRing,
    policy: Policy,
) -> PhoneVerifier {
    PhoneVerifier::builder(provider)
        .store(store)
        .keys(keys.clone())
        .policy(policy)
        .build()
        .unwrap()
}

/// An SmsSender that records the codes it is asked to deliver.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<(PhoneNumber, String)>>>);

impl Recorder {
    pub fn last_code(&self, phone: PhoneNumber) -> String {
        let sent = self.0.lock().unwrap();
        sent.iter()
            .rev()
            .find(|(p, _)| *p == phone)
            .unwrap()
            .1
            .clone()
    }
}

#[async_trait]
impl SmsSender for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    async fn send_sms(&self, m: &SmsMessage) -> Result<SmsReceipt, ProviderError> {
        self.0.lock().unwrap().push((m.to[0], String::new()));
        Ok(SmsReceipt::new(None))
    }
    async fn send_code(&self, m: &CodeMessage<'_>) -> Result<(), ProviderError> {
        self.0
            .lock()
            .unwrap()
            .push((*m.phone, m.code.expose().to_owned()));
        Ok(())
    }
}

/// 200 wrong guesses released at once, alternately on two instances (`a`, `b`: two stores
/// on one backend): exactly `max_attempts` (5) reach the provider.
pub async fn two_hundred_wrong_guesses<S: VerificationStore>(a: S, b: S) {
    let (mock, keys) = (MockProvider::new(), KeyRing::random());
    let (a, b) = (
        engine(a, mock.clone(), &keys, Policy::default()),
        engine(b, mock.clone(), &keys, Policy::default()),
    );
    let p = phone();
    a.send(&p.to_string(), &ctx()).await.unwrap();
    let wrong = wrong_code(&mock.last_code(&p).unwrap());
    // Make the comparisons overlap.
    mock.set_delay(Duration::from_millis(20));
    let barrier = Arc::new(Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let v = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (barrier, wrong, input) = (barrier.clone(), wrong.clone(), p.to_string());
            tokio::spawn(async move {
                barrier.wait().await;
                v.verify(&input, &wrong, &ctx()).await
            })
        })
        .collect();
    let (mut incorrect, mut too_many) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Err(VerifyError::Incorrect { .. }) => incorrect += 1,
            Err(VerifyError::TooManyAttempts { .. }) => too_many += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(
        mock.verify_count(),
        5,
        "exactly max_attempts guesses reached the provider"
    );
    assert_eq!((incorrect, too_many), (4, 196));
}

/// The right code released twenty times at once on two instances, checked locally (only the
/// store's atomic consume stands between twenty requests and twenty tokens): exactly one
/// token, with a budget of 5 and of 20. `pair` makes two stores on one backend.
pub async fn twenty_right_codes<S, F, Fut>(pair: F)
where
    S: VerificationStore,
    F: Fn() -> Fut,
    Fut: Future<Output = Option<(S, S)>>,
{
    for max_attempts in [5, 20] {
        let Some((sa, sb)) = pair().await else {
            return;
        };
        let (sms, keys, hasher) = (
            Recorder::default(),
            KeyRing::random(),
            CodeHasher::new([7; 32]),
        );
        let policy = Policy::builder()
            .max_attempts(max_attempts)
            .build()
            .unwrap();
        let local = || LocalOtp::new(sms.clone()).with_hasher(hasher.clone());
        let (a, b) = (
            engine(sa, local(), &keys, policy.clone()),
            engine(sb, local(), &keys, policy),
        );
        let p = phone();
        a.send(&p.to_string(), &ctx()).await.unwrap();
        let code = sms.last_code(p);
        let barrier = Arc::new(Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let v = if i % 2 == 0 { a.clone() } else { b.clone() };
                let (barrier, code, input) = (barrier.clone(), code.clone(), p.to_string());
                tokio::spawn(async move {
                    barrier.wait().await;
                    v.verify(&input, &code, &ctx()).await
                })
            })
            .collect();
        let mut verified = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => verified += 1,
                Err(VerifyError::NoLiveCode | VerifyError::TooManyAttempts { .. }) => {}
                Err(other) => panic!("unexpected outcome {other:?}"),
            }
        }
        assert_eq!(
            verified, 1,
            "max_attempts {max_attempts}: exactly one token"
        );
    }
}

/// A token for `p` verified on `v` (whose provider is `mock`).
async fn verified_token(v: &PhoneVerifier, mock: &MockProvider, p: PhoneNumber) -> String {
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let code = mock.last_code(&p).unwrap();
    v.verify(&p.to_string(), code.expose(), &ctx())
        .await
        .unwrap()
        .token
}

/// Whether `v` accepts `token`, refreshing its copy of the revocations first as the guard
/// does before it checks a proof.
async fn accepts(v: &PhoneVerifier, token: &str) -> bool {
    v.refresh_revocations().await.unwrap();
    v.authenticate(token).is_ok()
}

/// Polls each instance for each token from `since` until a little past a second: every one
/// must be refused within the second, and never accepted again once refused.
async fn refused_within_a_second(checks: &[(&PhoneVerifier, &str, String)], since: Instant) {
    let mut refused_after = vec![None; checks.len()];
    while since.elapsed() < Duration::from_millis(1_100) || refused_after.contains(&None) {
        if since.elapsed() > Duration::from_secs(2) {
            break;
        }
        for ((v, token, what), refused) in checks.iter().zip(&mut refused_after) {
            if accepts(v, token).await {
                assert!(refused.is_none(), "{what}: accepted again after a refusal");
            } else {
                refused.get_or_insert(since.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for ((_, _, what), refused) in checks.iter().zip(refused_after) {
        let after = refused.unwrap_or_else(|| panic!("{what}: never refused"));
        assert!(
            after <= Duration::from_secs(1),
            "{what}: refused only after {after:?}"
        );
    }
}

/// Revocation between two instances (`a`, `b`: two stores on one backend; engines on the real
/// clock): a token revoked (logout) on A is refused there at once and on B within a second;
/// "sign out everywhere" on B refuses on both, within a second, every token for the phone
/// verified before it, and none verified after.
pub async fn revocations_shared_by_two_instances<S: VerificationStore>(a: S, b: S) {
    let (mock, keys) = (MockProvider::new(), KeyRing::random());
    // Several codes to one phone in a few milliseconds.
    let policy = Policy::builder()
        .resend_cooldown(Duration::ZERO)
        .build()
        .unwrap();
    let (a, b) = (
        engine(a, mock.clone(), &keys, policy.clone()),
        engine(b, mock.clone(), &keys, policy),
    );

    let p = phone();
    let token = verified_token(&a, &mock, p).await;
    assert!(accepts(&a, &token).await && accepts(&b, &token).await);
    let proof = a.authenticate(&token).unwrap();
    a.revoke(&proof).await.unwrap();
    let answered = Instant::now();
    assert_eq!(
        a.authenticate(&token).unwrap_err(),
        TokenError::Revoked,
        "at once on the instance that revoked it"
    );
    refused_within_a_second(
        &[(&b, &token, "a revoked token, on the other instance".into())],
        answered,
    )
    .await;

    let q = phone();
    let earlier = [
        verified_token(&a, &mock, q).await,
        verified_token(&b, &mock, q).await,
    ];
    let other = verified_token(&a, &mock, phone()).await;
    // Millisecond timestamps: keep "before" and "after" apart.
    tokio::time::sleep(Duration::from_millis(5)).await;
    b.sign_out_everywhere(q).await.unwrap();
    let answered = Instant::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let later = verified_token(&a, &mock, q).await;
    let mut checks = Vec::new();
    for (v, name) in [(&a, "A"), (&b, "B")] {
        for (i, token) in earlier.iter().enumerate() {
            checks.push((
                v,
                token.as_str(),
                format!("signed-out token {i}, on {name}"),
            ));
        }
    }
    refused_within_a_second(&checks, answered).await;
    for (v, name) in [(&a, "A"), (&b, "B")] {
        assert!(accepts(v, &later).await, "a later token, on {name}");
        assert!(accepts(v, &other).await, "another phone's token, on {name}");
    }
}

/// How a store may answer differently from the in-memory store in the differential check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Leeway {
    /// The store lets its server expire revocations by its own clock (Redis key TTLs), which
    /// has moved past the caller's `now` by the next call: no revocation is made to expire a
    /// millisecond after `now`.
    pub server_expires_revocations: bool,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The differential check: the same random history of store calls on a `MokaStore` and on
/// the store under test (fresh for each round, on the caller's clock) must get the same
/// answers, call for call. Times jump by up to hours, so expiries, windows, locks and the
/// attempt memory all come into play.
pub async fn answers_like_the_in_memory_store<S, F, Fut>(rounds: u32, seed: u64, fresh: F)
where
    S: VerificationStore,
    F: Fn(u32) -> Fut,
    Fut: Future<Output = Option<S>>,
{
    answers_like_the_in_memory_store_with(rounds, seed, Leeway::default(), fresh).await;
}

/// [`answers_like_the_in_memory_store`], allowing the store `leeway`.
pub async fn answers_like_the_in_memory_store_with<S, F, Fut>(
    rounds: u32,
    seed: u64,
    leeway: Leeway,
    fresh: F,
) where
    S: VerificationStore,
    F: Fn(u32) -> Fut,
    Fut: Future<Output = Option<S>>,
{
    let policies = [
        Policy::builder()
            .resend_cooldown(Duration::ZERO)
            .sends_per_phone_per_hour(3)
            .sends_per_ip_per_hour(4)
            .sends_per_range_per_hour(4)
            .voice_sends_per_hour(2)
            .sends_per_hour(6)
            .conversion_min_sends(3)
            .conversion_min_rate(0.5)
            .verifies_per_ip_per_hour(4)
            .max_attempts(3)
            .build()
            .unwrap(),
        Policy::builder()
            .sends_per_hour(8)
            .range_digits(1)
            .sends_per_range_per_hour(3)
            .conversion_min_sends(0)
            .verifies_per_ip_per_hour(6)
            .lockout(Duration::from_secs(60))
            .code_ttl(Duration::from_secs(120))
            .build()
            .unwrap(),
    ];
    let first = phone();
    let neighbour = PhoneNumber::from_digits(first.digits() ^ 1).unwrap();
    let phones = [first, neighbour, phone()];
    let ips: [Option<IpAddr>; 3] = [
        None,
        Some("192.0.2.1".parse().unwrap()),
        Some("2001:db8::1".parse().unwrap()),
    ];
    let countries = [Country::new("IN").unwrap(), Country::new("QZ").unwrap()];
    let channels = [Channel::Sms, Channel::Sms, Channel::Voice];
    let steps = [
        0, 1, 999, 1_000, 29_999, 30_000, 60_000, 120_000, 900_000, 3_600_000,
    ];
    let set = |entries: Vec<Revocation>| entries.into_iter().collect::<HashSet<_>>();

    for round in 0..rounds {
        let Some(store) = fresh(round).await else {
            return;
        };
        let moka = MokaStore::default();
        let seed = seed.wrapping_add(u64::from(round)) | 1;
        let mut rng = Rng(seed);
        let mut now = twofactor_core::clock::unix_millis(std::time::SystemTime::now());
        let mut last_grant: Option<SendAttempt> = None;
        let mut ids: Vec<u64> = vec![1];
        // When each code expires: see the finish_attempt case.
        let mut expiry = std::collections::HashMap::new();
        for step in 0..1_500 {
            now += rng.pick(&steps);
            let policy = &policies[rng.below(2) as usize];
            let p = rng.pick(&phones);
            let what = format!("seed {seed:#x}, round {round}, step {step}");
            match rng.below(14) {
                0..=2 => {
                    let send = SendAttempt::new(p, now, SendLimits::from(policy))
                        .with_client(rng.pick(&ips))
                        .with_channel(rng.pick(&channels))
                        .with_country(rng.pick(&countries));
                    let (m, r) = (
                        moka.reserve_send(&send).await.unwrap(),
                        store.reserve_send(&send).await.unwrap(),
                    );
                    assert_eq!(m, r, "reserve_send, {what}");
                    if m == SendDecision::Granted {
                        last_grant = Some(send);
                    }
                }
                3 => {
                    // Only a granted send may be released (the trait's contract).
                    if let Some(send) = last_grant.take() {
                        moka.release_send(&send).await.unwrap();
                        store.release_send(&send).await.unwrap();
                    }
                }
                4 | 5 => {
                    let id = rng.next() >> 1;
                    ids.push(id);
                    let ttl = rng.pick(&[0, 1_000, 120_000, 600_000]);
                    let pending = Pending::new(id, Ticket::new(format!("t-{id}")), now + ttl);
                    expiry.insert(id, now + ttl);
                    moka.put_pending(p, &pending, now).await.unwrap();
                    store.put_pending(p, &pending, now).await.unwrap();
                }
                6..=8 => {
                    let limits = AttemptLimits::from(policy);
                    let ip = rng.pick(&ips);
                    let m = moka.begin_attempt(p, ip, now, &limits).await.unwrap();
                    let r = store.begin_attempt(p, ip, now, &limits).await.unwrap();
                    assert_eq!(m, r, "begin_attempt, {what}");
                    if let AttemptDecision::Proceed { pending_id, .. } = m {
                        ids.push(pending_id);
                    }
                }
                9 | 10 => {
                    let id = *ids.last().unwrap();
                    let id = if rng.below(4) == 0 {
                        rng.pick(&ids)
                    } else {
                        id
                    };
                    let result = rng.pick(&[AttemptResult::Matched, AttemptResult::LastMismatch]);
                    let m = moka.finish_attempt(p, id, result, now).await.unwrap();
                    let r = store.finish_attempt(p, id, result, now).await.unwrap();
                    // A match reported for a code past its expiry (the provider confirmed it
                    // just as it expired) counts while the phone's record is still held; the
                    // in-memory store holds records by blocks of numbers, so there the answer
                    // also depends on the neighbours' records. Compared only for live codes.
                    let expired = expiry.get(&id).is_some_and(|at| *at <= now);
                    if !(expired && result == AttemptResult::Matched) {
                        assert_eq!(m, r, "finish_attempt {result:?}, {what}");
                    }
                }
                11 => {
                    let c = rng.pick(&countries);
                    moka.record_verified(c, now).await.unwrap();
                    store.record_verified(c, now).await.unwrap();
                    let (m, r) = (
                        moka.conversion(c, now).await.unwrap(),
                        store.conversion(c, now).await.unwrap(),
                    );
                    assert_eq!(m, r, "conversion, {what}");
                }
                12 => {
                    let lives: &[u64] = if leeway.server_expires_revocations {
                        &[0, 60_000, 3_600_000, 7_200_000]
                    } else {
                        &[0, 1, 60_000, 3_600_000, 7_200_000]
                    };
                    let expires_at_ms = now + rng.pick(lives);
                    let r = if rng.below(2) == 0 {
                        let mut id = [0u8; 16];
                        id[..8].copy_from_slice(&rng.next().to_le_bytes());
                        Revocation::Token { id, expires_at_ms }
                    } else {
                        Revocation::Phone {
                            phone: p,
                            before_ms: now,
                            expires_at_ms,
                        }
                    };
                    moka.revoke(&r, now).await.unwrap();
                    store.revoke(&r, now).await.unwrap();
                }
                _ => {
                    let start = RevocationCursor::start();
                    let m = moka.revocations(&start, now).await.unwrap();
                    let r = store.revocations(&start, now).await.unwrap();
                    assert_eq!(set(m.entries), set(r.entries), "revocations, {what}");
                }
            }
        }
    }
}
