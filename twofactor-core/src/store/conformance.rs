//! The store conformance suite: every [`VerificationStore`] must pass it.
//!
//! Run it from a test of your store (feature `testing`):
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! use std::sync::Arc;
//! use twofactor_core::store::{MokaStore, conformance};
//!
//! conformance::run(Arc::new(MokaStore::default())).await;
//! # }
//! ```
//!
//! It needs a multi-threaded Tokio runtime: the concurrency checks release many tasks at once
//! against one phone, one address, one number block, one country, and readers against writers
//! of revocations. Each check uses fresh random phone numbers, addresses and countries and its
//! own stretch of (simulated) time, so the suite can run against a store that other tests
//! share; the overall and voice caps, the countries' conversion figures and the revocations are
//! store-wide, so give each run its own store (a fresh `MokaStore`, a fresh Redis key prefix),
//! and a store that takes the caller's clock (the Redis store's `Clock::Caller`). Failures panic
//! with the check's name.
//!
//! What it holds every store to, beyond the basic steps: each cap refuses with its
//! [`Limit`] in the contract's order; a refused send spends no cap; a release takes back every counter;
//! the per-address verify budget refuses before the phone is read and counts every outcome,
//! in [`VERIFY_BUCKETS`](super::VERIFY_BUCKETS) sub-buckets (its `retry_after` is exact); the
//! conversion guard throttles and recovers as time moves and verifications come in; no
//! concurrent burst exceeds any cap; revocations follow the cursor contract of
//! [`VerificationStore::revocations`] and are forgotten at their expiry.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Barrier;

use super::{
    AttemptDecision, AttemptLimits, AttemptResult, ConversionFigures, Country, FinishOutcome,
    Limit, Pending, Revocation, RevocationCursor, SendAttempt, SendDecision, SendLimits,
    VerificationStore,
};
use crate::phone::PhoneNumber;
use crate::provider::{Channel, Ticket};

const HOUR: u64 = 3_600_000;
const MINUTE: u64 = 60_000;
/// Far enough apart that no check sees another's sends in its window.
const CHECK_SPACING: u64 = 100 * HOUR;
static NEXT_SLOT: AtomicU64 = AtomicU64::new(0);

fn base_time() -> u64 {
    // Start in the future so that real-time TTLs computed from these instants stay positive.
    let now = crate::clock::unix_millis(std::time::SystemTime::now());
    now + (1 + NEXT_SLOT.fetch_add(1, Ordering::Relaxed)) * CHECK_SPACING
}

fn random_u64() -> u64 {
    u64::from_le_bytes(crate::secret::random_bytes())
}

/// A random Indian mobile number (the store never validates, but keep them realistic).
pub fn random_phone() -> PhoneNumber {
    let digits = 919_000_000_000 + random_u64() % 1_000_000_000;
    PhoneNumber::from_digits(digits).unwrap_or_else(|| unreachable!())
}

/// A random phone in the same 1000-number block as `phone`, and not `phone`.
fn neighbour(phone: PhoneNumber) -> PhoneNumber {
    let block = phone.digits() / 1000 * 1000;
    loop {
        let p =
            PhoneNumber::from_digits(block + random_u64() % 1000).unwrap_or_else(|| unreachable!());
        if p != phone {
            return p;
        }
    }
}

/// A random phone in another block than `phone`'s.
fn stranger(phone: PhoneNumber) -> PhoneNumber {
    loop {
        let p = random_phone();
        if p.digits() / 1000 != phone.digits() / 1000 {
            return p;
        }
    }
}

fn random_ip() -> IpAddr {
    let r = random_u64();
    IpAddr::V6(Ipv6Addr::new(
        0x2001,
        0xdb8,
        (r >> 48) as u16,
        (r >> 32) as u16,
        (r >> 16) as u16,
        r as u16,
        0,
        1,
    ))
}

/// A random two-letter country code (the store never checks it is a real one).
fn random_country() -> Country {
    let r = random_u64();
    let letter = |n: u64| char::from(b'A' + (n % 26) as u8);
    let code: String = [letter(r), letter(r >> 8)].iter().collect();
    Country::new(&code).unwrap_or_else(|| unreachable!())
}

/// A random country other than `c`.
fn other_country(c: Country) -> Country {
    loop {
        let other = random_country();
        if other != c {
            return other;
        }
    }
}

fn limits(cooldown_ms: u64, per_phone: u32, per_ip: u32, global: u32) -> SendLimits {
    SendLimits {
        cooldown_ms,
        per_phone,
        per_ip,
        per_range: 1_000_000,
        range_digits: 3,
        voice_global: 1_000_000,
        global,
        conversion_min_sends: 0,
        conversion_min_permille: 0,
        window_ms: HOUR,
    }
}

fn open() -> SendLimits {
    limits(0, 1_000, 1_000, 1_000_000)
}

fn attempts(max_attempts: u32) -> AttemptLimits {
    AttemptLimits {
        max_attempts,
        lockout_ms: 15 * 60_000,
        memory_ms: 15 * 60_000,
        verifies_per_ip: 1_000_000,
        verify_window_ms: HOUR,
    }
}

fn pending(id: u64, t: u64) -> Pending {
    Pending::new(
        id,
        Ticket::new(format!("ticket:{id}:ÿ/..%2e")),
        t + 10 * 60_000,
    )
}

fn refused(d: SendDecision) -> Option<(Limit, u64)> {
    match d {
        SendDecision::Refused {
            limit,
            retry_after_ms,
        } => Some((limit, retry_after_ms)),
        SendDecision::Granted => None,
    }
}

fn attempt_no(d: &AttemptDecision) -> Option<(u32, bool)> {
    match d {
        AttemptDecision::Proceed { attempt, last, .. } => Some((*attempt, *last)),
        _ => None,
    }
}

/// Runs every check against `store`; panics on the first failure.
pub async fn run<S: VerificationStore>(store: Arc<S>) {
    cooldown(&*store).await;
    phone_cap(&*store).await;
    ip_cap(&*store).await;
    range_cap(&*store).await;
    voice_cap(&*store).await;
    global_cap(&*store).await;
    refusal_order(&*store).await;
    refused_sends_spend_nothing(&*store).await;
    release(&*store).await;
    release_takes_back_every_counter(&*store).await;
    conversion_guard(&*store).await;
    attempt_budget_and_lock(&*store).await;
    verify_budget(&*store).await;
    no_code(&*store).await;
    expiry(&*store).await;
    resend_keeps_attempts(&*store).await;
    success_resets(&*store).await;
    consume_once(&*store).await;
    phones_are_isolated(&*store).await;
    attempt_memory(&*store).await;
    lock_expiry(&*store).await;
    tickets_round_trip(&*store).await;
    revocation_contract(&*store).await;
    concurrent_attempts(store.clone()).await;
    concurrent_consume(store.clone()).await;
    concurrent_sends(store.clone()).await;
    concurrent_new_caps(store.clone()).await;
    concurrent_verify_budget(store.clone()).await;
    revocations_never_miss_one(store).await;
}

async fn reserve<S: VerificationStore + ?Sized>(
    store: &S,
    phone: PhoneNumber,
    ip: Option<IpAddr>,
    now: u64,
    l: SendLimits,
) -> SendDecision {
    reserve_it(store, &SendAttempt::new(phone, now, l).with_client(ip)).await
}

async fn reserve_it<S: VerificationStore + ?Sized>(store: &S, send: &SendAttempt) -> SendDecision {
    store
        .reserve_send(send)
        .await
        .unwrap_or_else(|e| panic!("reserve_send failed: {e}"))
}

async fn figures<S: VerificationStore + ?Sized>(
    store: &S,
    country: Country,
    now: u64,
) -> ConversionFigures {
    store
        .conversion(country, now)
        .await
        .unwrap_or_else(|e| panic!("conversion failed: {e}"))
}

async fn verified<S: VerificationStore + ?Sized>(store: &S, country: Country, now: u64) {
    store
        .record_verified(country, now)
        .await
        .unwrap_or_else(|e| panic!("record_verified failed: {e}"));
}

async fn begin_from<S: VerificationStore + ?Sized>(
    store: &S,
    phone: PhoneNumber,
    ip: Option<IpAddr>,
    now: u64,
    limits: &AttemptLimits,
) -> AttemptDecision {
    store
        .begin_attempt(phone, ip, now, limits)
        .await
        .unwrap_or_else(|e| panic!("begin_attempt failed: {e}"))
}

async fn begin<S: VerificationStore + ?Sized>(
    store: &S,
    phone: PhoneNumber,
    now: u64,
    max: u32,
) -> AttemptDecision {
    begin_from(store, phone, None, now, &attempts(max)).await
}

async fn finish<S: VerificationStore + ?Sized>(
    store: &S,
    phone: PhoneNumber,
    id: u64,
    r: AttemptResult,
    now: u64,
) -> FinishOutcome {
    store
        .finish_attempt(phone, id, r, now)
        .await
        .unwrap_or_else(|e| panic!("finish_attempt failed: {e}"))
}

async fn put<S: VerificationStore + ?Sized>(store: &S, phone: PhoneNumber, p: &Pending, now: u64) {
    store
        .put_pending(phone, p, now)
        .await
        .unwrap_or_else(|e| panic!("put_pending failed: {e}"));
}

async fn cooldown<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone, l) = (base_time(), random_phone(), limits(30_000, 5, 20, 1_000));
    assert_eq!(
        reserve(store, phone, None, t, l).await,
        SendDecision::Granted,
        "cooldown: first send"
    );
    assert_eq!(
        refused(reserve(store, phone, None, t + 1_000, l).await),
        Some((Limit::Cooldown, 29_000)),
        "cooldown: second send inside the cooldown"
    );
    assert_eq!(
        reserve(store, phone, None, t + 30_000, l).await,
        SendDecision::Granted,
        "cooldown: send after the cooldown"
    );
}

async fn phone_cap<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone, l) = (base_time(), random_phone(), limits(0, 3, 1_000, 1_000));
    for i in 0..3 {
        assert_eq!(
            reserve(store, phone, None, t + i * 1_000, l).await,
            SendDecision::Granted,
            "phone_cap: send {i}"
        );
    }
    assert_eq!(
        refused(reserve(store, phone, None, t + 10_000, l).await),
        Some((Limit::Phone, HOUR - 10_000)),
        "phone_cap: fourth send"
    );
    assert_eq!(
        reserve(store, random_phone(), None, t + 10_000, l).await,
        SendDecision::Granted,
        "phone_cap: another phone"
    );
    assert_eq!(
        reserve(store, phone, None, t + HOUR, l).await,
        SendDecision::Granted,
        "phone_cap: after the oldest send aged out"
    );
}

async fn ip_cap<S: VerificationStore + ?Sized>(store: &S) {
    let (t, ip, l) = (base_time(), random_ip(), limits(0, 5, 2, 1_000));
    for i in 0..2 {
        assert_eq!(
            reserve(store, random_phone(), Some(ip), t + i, l).await,
            SendDecision::Granted,
            "ip_cap: send {i}"
        );
    }
    assert_eq!(
        refused(reserve(store, random_phone(), Some(ip), t + 5, l).await),
        Some((Limit::Ip, HOUR - 5)),
        "ip_cap: third send from the IP"
    );
    assert_eq!(
        reserve(store, random_phone(), Some(random_ip()), t + 5, l).await,
        SendDecision::Granted,
        "ip_cap: another IP"
    );
    assert_eq!(
        reserve(store, random_phone(), None, t + 5, l).await,
        SendDecision::Granted,
        "ip_cap: no IP known"
    );
}

async fn range_cap<S: VerificationStore + ?Sized>(store: &S) {
    let (t, first) = (base_time(), random_phone());
    let l = SendLimits {
        per_range: 3,
        ..open()
    };
    for i in 0..3 {
        let p = if i == 0 { first } else { neighbour(first) };
        assert_eq!(
            reserve(store, p, Some(random_ip()), t + i, l).await,
            SendDecision::Granted,
            "range_cap: send {i} into the block"
        );
    }
    assert_eq!(
        refused(reserve(store, neighbour(first), Some(random_ip()), t + 5, l).await),
        Some((Limit::Range, HOUR - 5)),
        "range_cap: a fourth number of the block"
    );
    assert_eq!(
        reserve(store, stranger(first), None, t + 5, l).await,
        SendDecision::Granted,
        "range_cap: another block"
    );
    let wider = SendLimits {
        range_digits: 4,
        ..l
    };
    assert!(
        refused(reserve(store, neighbour(first), None, t + 6, wider).await).is_none(),
        "range_cap: a 4-digit block is another count"
    );
    assert_eq!(
        reserve(store, neighbour(first), None, t + HOUR, l).await,
        SendDecision::Granted,
        "range_cap: after the oldest send aged out"
    );
}

async fn voice_cap<S: VerificationStore + ?Sized>(store: &S) {
    let t = base_time();
    let l = SendLimits {
        voice_global: 2,
        ..open()
    };
    let voice = |p, now| SendAttempt::new(p, now, l).with_channel(Channel::Voice);
    for i in 0..5 {
        assert_eq!(
            reserve(store, random_phone(), None, t + i, l).await,
            SendDecision::Granted,
            "voice_cap: SMS send {i} does not count"
        );
    }
    for i in 0..2 {
        assert_eq!(
            reserve_it(store, &voice(random_phone(), t + 10 + i)).await,
            SendDecision::Granted,
            "voice_cap: voice send {i}"
        );
    }
    assert_eq!(
        refused(reserve_it(store, &voice(random_phone(), t + 20)).await),
        Some((Limit::Channel, HOUR - 10)),
        "voice_cap: a third voice send"
    );
    assert_eq!(
        reserve(store, random_phone(), None, t + 21, l).await,
        SendDecision::Granted,
        "voice_cap: SMS still goes"
    );
    assert_eq!(
        reserve_it(store, &voice(random_phone(), t + HOUR + 10)).await,
        SendDecision::Granted,
        "voice_cap: after the first voice send aged out"
    );
}

async fn global_cap<S: VerificationStore + ?Sized>(store: &S) {
    let (t, l) = (base_time(), limits(0, 5, 20, 3));
    for i in 0..3 {
        assert_eq!(
            reserve(store, random_phone(), Some(random_ip()), t + i, l).await,
            SendDecision::Granted,
            "global_cap: send {i}"
        );
    }
    assert_eq!(
        refused(reserve(store, random_phone(), Some(random_ip()), t + 10, l).await),
        Some((Limit::Global, HOUR - 10)),
        "global_cap: fourth send"
    );
    assert_eq!(
        reserve(store, random_phone(), None, t + HOUR, l).await,
        SendDecision::Granted,
        "global_cap: after an hour"
    );
}

async fn release<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone, ip) = (base_time(), random_phone(), random_ip());
    let l = limits(30_000, 1, 1, 1_000_000);
    let send = SendAttempt::new(phone, t, l).with_client(Some(ip));
    assert_eq!(
        reserve_it(store, &send).await,
        SendDecision::Granted,
        "release: first send"
    );
    store
        .release_send(&send)
        .await
        .unwrap_or_else(|e| panic!("release_send failed: {e}"));
    assert_eq!(
        reserve(store, phone, Some(ip), t + 1, l).await,
        SendDecision::Granted,
        "release: the released send no longer counts for cooldown, phone or IP"
    );
    assert!(
        refused(reserve(store, phone, Some(ip), t + 2, l).await).is_some(),
        "release: the new send counts"
    );
}

async fn attempt_budget_and_lock<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone) = (base_time(), random_phone());
    put(store, phone, &pending(1, t), t).await;
    for i in 1..=4 {
        assert_eq!(
            attempt_no(&begin(store, phone, t + i as u64, 5).await),
            Some((i, false)),
            "budget: attempt {i}"
        );
    }
    assert_eq!(
        attempt_no(&begin(store, phone, t + 5, 5).await),
        Some((5, true)),
        "budget: the fifth attempt is the last"
    );
    assert_eq!(
        begin(store, phone, t + 6, 5).await,
        AttemptDecision::Locked {
            retry_after_ms: 15 * 60_000 - 1
        },
        "budget: locked at once, before the fifth is compared"
    );
    assert_eq!(
        finish(store, phone, 1, AttemptResult::LastMismatch, t + 7).await,
        FinishOutcome::Done,
        "budget: last mismatch"
    );
    assert_eq!(
        refused(reserve(store, phone, None, t + 8, open()).await),
        Some((Limit::Locked, 15 * 60_000 - 3)),
        "budget: a locked phone is sent nothing"
    );
    assert_eq!(
        begin(store, phone, t + 15 * 60_000 + 5, 5).await,
        AttemptDecision::NoCode,
        "budget: the lock cancelled the code"
    );
}

async fn no_code<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone) = (base_time(), random_phone());
    for _ in 0..10 {
        assert_eq!(
            begin(store, phone, t, 5).await,
            AttemptDecision::NoCode,
            "no_code: nothing sent"
        );
    }
    put(store, phone, &pending(2, t), t).await;
    assert_eq!(
        attempt_no(&begin(store, phone, t, 5).await),
        Some((1, false)),
        "no_code: refusals did not count as attempts"
    );
}

async fn expiry<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone) = (base_time(), random_phone());
    put(store, phone, &pending(3, t), t).await;
    assert_eq!(
        begin(store, phone, t + 10 * 60_000, 5).await,
        AttemptDecision::NoCode,
        "expiry: a code is dead at its expiry"
    );
}

async fn resend_keeps_attempts<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone) = (base_time(), random_phone());
    put(store, phone, &pending(4, t), t).await;
    begin(store, phone, t + 1, 5).await;
    begin(store, phone, t + 2, 5).await;
    put(store, phone, &pending(5, t + 3), t + 3).await;
    match begin(store, phone, t + 4, 5).await {
        AttemptDecision::Proceed {
            pending_id,
            attempt,
            ..
        } => {
            assert_eq!(
                (pending_id, attempt),
                (5, 3),
                "resend: the new code, and the count goes on"
            );
        }
        other => panic!("resend: expected to proceed, got {other:?}"),
    }
}

async fn success_resets<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone) = (base_time(), random_phone());
    put(store, phone, &pending(6, t), t).await;
    for i in 1..=4 {
        begin(store, phone, t + i, 5).await;
    }
    assert_eq!(
        finish(store, phone, 6, AttemptResult::Matched, t + 5).await,
        FinishOutcome::Done,
        "success: consumed"
    );
    put(store, phone, &pending(7, t + 6), t + 6).await;
    assert_eq!(
        attempt_no(&begin(store, phone, t + 7, 5).await),
        Some((1, false)),
        "success: the count starts over"
    );
    // A match on the last attempt lifts the lock that attempt set.
    for i in 2..=5 {
        begin(store, phone, t + 7 + i, 5).await;
    }
    assert_eq!(
        finish(store, phone, 7, AttemptResult::Matched, t + 20).await,
        FinishOutcome::Done,
        "success on the last attempt"
    );
    assert_eq!(
        reserve(store, phone, None, t + 21, open()).await,
        SendDecision::Granted,
        "success on the last attempt lifts the lock"
    );
}

async fn consume_once<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone) = (base_time(), random_phone());
    put(store, phone, &pending(8, t), t).await;
    begin(store, phone, t + 1, 5).await;
    assert_eq!(
        finish(store, phone, 8, AttemptResult::Matched, t + 2).await,
        FinishOutcome::Done,
        "consume: first"
    );
    assert_eq!(
        finish(store, phone, 8, AttemptResult::Matched, t + 3).await,
        FinishOutcome::Gone,
        "consume: second"
    );
    assert_eq!(
        begin(store, phone, t + 4, 5).await,
        AttemptDecision::NoCode,
        "consume: a used code is gone"
    );
    put(store, phone, &pending(9, t + 5), t + 5).await;
    put(store, phone, &pending(10, t + 6), t + 6).await;
    assert_eq!(
        finish(store, phone, 9, AttemptResult::Matched, t + 7).await,
        FinishOutcome::Gone,
        "consume: a replaced code never matches"
    );
}

async fn phones_are_isolated<S: VerificationStore + ?Sized>(store: &S) {
    let (t, a, b) = (base_time(), random_phone(), random_phone());
    put(store, a, &pending(11, t), t).await;
    assert_eq!(
        begin(store, b, t + 1, 5).await,
        AttemptDecision::NoCode,
        "isolation: B has no code"
    );
    assert_eq!(
        finish(store, b, 11, AttemptResult::Matched, t + 2).await,
        FinishOutcome::Gone,
        "isolation: A's code does not consume for B"
    );
    assert_eq!(
        attempt_no(&begin(store, a, t + 3, 5).await),
        Some((1, false)),
        "isolation: A untouched"
    );
}

async fn attempt_memory<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone) = (base_time(), random_phone());
    put(store, phone, &pending(12, t), t).await;
    begin(store, phone, t, 5).await;
    put(store, phone, &pending(13, t + 15 * 60_000), t + 15 * 60_000).await;
    assert_eq!(
        attempt_no(&begin(store, phone, t + 15 * 60_000, 5).await),
        Some((1, false)),
        "memory: attempts are forgotten after memory_ms"
    );
}

async fn lock_expiry<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone) = (base_time(), random_phone());
    put(store, phone, &pending(14, t), t).await;
    for i in 0..2 {
        begin(store, phone, t + i, 2).await;
    }
    finish(store, phone, 14, AttemptResult::LastMismatch, t + 2).await;
    let later = t + 15 * 60_000 + 1;
    assert_eq!(
        reserve(store, phone, None, later, open()).await,
        SendDecision::Granted,
        "lock expiry: sends allowed again"
    );
    put(store, phone, &pending(15, later), later).await;
    assert_eq!(
        attempt_no(&begin(store, phone, later + 1, 2).await),
        Some((1, false)),
        "lock expiry: a fresh budget"
    );
}

async fn tickets_round_trip<S: VerificationStore + ?Sized>(store: &S) {
    let (t, phone) = (base_time(), random_phone());
    let ticket = Ticket::new(format!("sms:{}:é/%..\"'{{}}", "x".repeat(200)));
    put(
        store,
        phone,
        &Pending::new(17, ticket.clone(), t + 60_000),
        t,
    )
    .await;
    match begin(store, phone, t + 1, 5).await {
        AttemptDecision::Proceed {
            ticket: got,
            pending_id,
            ..
        } => {
            assert_eq!((got, pending_id), (ticket, 17), "tickets: stored verbatim");
        }
        other => panic!("tickets: expected to proceed, got {other:?}"),
    }
}

async fn concurrent_attempts<S: VerificationStore>(store: Arc<S>) {
    let (t, phone) = (base_time(), random_phone());
    put(&*store, phone, &pending(18, t), t).await;
    let results = together(store, 200, move |s, _| async move {
        begin(&*s, phone, t + 1, 5).await
    })
    .await;
    let proceeded = results.iter().filter(|r| attempt_no(r).is_some()).count();
    let locked = results
        .iter()
        .filter(|r| matches!(r, AttemptDecision::Locked { .. }))
        .count();
    assert_eq!(
        (proceeded, locked),
        (5, 195),
        "concurrent attempts: exactly max_attempts may compare"
    );
    let mut numbers: Vec<u32> = results
        .iter()
        .filter_map(|r| attempt_no(r).map(|a| a.0))
        .collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        [1, 2, 3, 4, 5],
        "concurrent attempts: each number handed out once"
    );
}

async fn concurrent_consume<S: VerificationStore>(store: Arc<S>) {
    let (t, phone) = (base_time(), random_phone());
    put(&*store, phone, &pending(19, t), t).await;
    let results = together(store, 20, move |s, _| async move {
        finish(&*s, phone, 19, AttemptResult::Matched, t + 1).await
    })
    .await;
    let done = results
        .iter()
        .filter(|r| **r == FinishOutcome::Done)
        .count();
    assert_eq!(
        done, 1,
        "concurrent consume: exactly one caller consumes the code"
    );
}

async fn concurrent_sends<S: VerificationStore>(store: Arc<S>) {
    let (t, phone, ip) = (base_time(), random_phone(), random_ip());
    let l = limits(30_000, 5, 20, 1_000_000);
    let results = together(store.clone(), 50, move |s, _| async move {
        reserve(&*s, phone, None, t, l).await
    })
    .await;
    let granted = results
        .iter()
        .filter(|r| **r == SendDecision::Granted)
        .count();
    assert_eq!(
        granted, 1,
        "concurrent sends: one phone, one send inside the cooldown"
    );

    let results = together(store.clone(), 50, move |s, _| async move {
        reserve(&*s, random_phone(), Some(ip), t, l).await
    })
    .await;
    let granted = results
        .iter()
        .filter(|r| **r == SendDecision::Granted)
        .count();
    assert_eq!(granted, 20, "concurrent sends: exactly the per-IP cap");

    let t = base_time();
    let l = limits(0, 5, 20, 10);
    let results = together(store, 50, move |s, _| async move {
        reserve(&*s, random_phone(), Some(random_ip()), t, l).await
    })
    .await;
    let granted = results
        .iter()
        .filter(|r| **r == SendDecision::Granted)
        .count();
    assert_eq!(granted, 10, "concurrent sends: exactly the overall cap");
}

/// Locks `phone` (a live code and `max` attempts on it).
async fn lock_phone<S: VerificationStore + ?Sized>(store: &S, phone: PhoneNumber, t: u64) {
    put(store, phone, &pending(random_u64() >> 1, t), t).await;
    for _ in 0..2 {
        begin(store, phone, t, 2).await;
    }
}

async fn refusal_order<S: VerificationStore + ?Sized>(store: &S) {
    let t = base_time();
    let (p, ip, country) = (random_phone(), random_ip(), random_country());
    let p2 = neighbour(p);
    let p3 = loop {
        let p3 = neighbour(p);
        if p3 != p2 {
            break p3;
        }
    };
    let p4 = stranger(p);
    // One voice send each from p and p2, through ip, into p's block and country: every cap
    // below has one send on it.
    for phone in [p, p2] {
        let send = SendAttempt::new(phone, t, open())
            .with_client(Some(ip))
            .with_channel(Channel::Voice)
            .with_country(country);
        assert_eq!(reserve_it(store, &send).await, SendDecision::Granted);
    }
    lock_phone(store, p, t).await;
    // Every cap at 1 (so each is spent), the guard asking for every send to be verified.
    let strict = SendLimits {
        cooldown_ms: 30_000,
        per_phone: 1,
        per_ip: 1,
        per_range: 1,
        range_digits: 3,
        voice_global: 1,
        global: 1,
        conversion_min_sends: 1,
        conversion_min_permille: 1_000,
        window_ms: HOUR,
    };
    let no_cooldown = SendLimits {
        cooldown_ms: 0,
        ..strict
    };
    let at = t + 1_000;
    let send = |phone, ip, channel, country, l| {
        SendAttempt::new(phone, at, l)
            .with_client(ip)
            .with_channel(channel)
            .with_country(country)
    };
    let voice = Channel::Voice;
    let cases = [
        (send(p, Some(ip), voice, country, strict), Limit::Locked),
        (send(p2, Some(ip), voice, country, strict), Limit::Cooldown),
        (
            send(p2, Some(ip), voice, country, no_cooldown),
            Limit::Phone,
        ),
        (send(p3, Some(ip), voice, country, no_cooldown), Limit::Ip),
        (send(p3, None, voice, country, no_cooldown), Limit::Range),
        (send(p4, None, voice, country, no_cooldown), Limit::Channel),
        (
            send(p4, None, Channel::Sms, country, no_cooldown),
            Limit::Country,
        ),
        (
            send(p4, None, Channel::Sms, other_country(country), no_cooldown),
            Limit::Global,
        ),
    ];
    for (attempt, want) in cases {
        assert_eq!(
            refused(reserve_it(store, &attempt).await).map(|(limit, _)| limit),
            Some(want),
            "refusal order: the first refusing limit is {want}"
        );
    }
    let last = send(p4, None, Channel::Sms, other_country(country), open());
    assert_eq!(
        reserve_it(store, &last).await,
        SendDecision::Granted,
        "refusal order: nothing refused spent anything"
    );
}

async fn refused_sends_spend_nothing<S: VerificationStore + ?Sized>(store: &S) {
    for refuser in [
        Limit::Ip,
        Limit::Range,
        Limit::Channel,
        Limit::Country,
        Limit::Global,
    ] {
        let t = base_time();
        let (p, ip, country) = (random_phone(), random_ip(), random_country());
        // One earlier send puts one count on the refusing limit's counter (and on the overall
        // one, always).
        let earlier = SendAttempt::new(
            if refuser == Limit::Range {
                neighbour(p)
            } else {
                stranger(p)
            },
            t,
            open(),
        )
        .with_client((refuser == Limit::Ip).then_some(ip))
        .with_channel(if refuser == Limit::Channel {
            Channel::Voice
        } else {
            Channel::Sms
        })
        .with_country(if refuser == Limit::Country {
            country
        } else {
            other_country(country)
        });
        assert_eq!(reserve_it(store, &earlier).await, SendDecision::Granted);
        let one = |l: Limit| if l == refuser { 1 } else { 1_000_000 };
        let strict = SendLimits {
            per_ip: one(Limit::Ip),
            per_range: one(Limit::Range),
            voice_global: one(Limit::Channel),
            global: one(Limit::Global),
            conversion_min_sends: if refuser == Limit::Country { 1 } else { 0 },
            conversion_min_permille: 1_000,
            ..open()
        };
        let send = SendAttempt::new(p, t + 1, strict)
            .with_client(Some(ip))
            .with_channel(Channel::Voice)
            .with_country(country);
        assert_eq!(
            refused(reserve_it(store, &send).await).map(|(limit, _)| limit),
            Some(refuser),
            "spend nothing: refused by {refuser}"
        );
        let before = u64::from(refuser == Limit::Country);
        assert_eq!(
            figures(store, country, t + 2).await.sends,
            before,
            "spend nothing: refused by {refuser}, the country counted no send"
        );
        // Exactly one more on every counter the refused send would have touched: granted only
        // if the refusal recorded nothing (cooldown and per-phone included).
        let plus = |l: Limit| 1 + u32::from(l == refuser);
        let exact = SendLimits {
            cooldown_ms: 30_000,
            per_phone: 1,
            per_ip: plus(Limit::Ip),
            per_range: plus(Limit::Range),
            voice_global: plus(Limit::Channel),
            global: 2,
            ..open()
        };
        let again = SendAttempt::new(p, t + 3, exact)
            .with_client(Some(ip))
            .with_channel(Channel::Voice)
            .with_country(country);
        assert_eq!(
            reserve_it(store, &again).await,
            SendDecision::Granted,
            "spend nothing: refused by {refuser}, no other cap was spent"
        );
        assert!(
            refused(reserve_it(store, &SendAttempt::new(stranger(p), t + 4, exact)).await)
                .is_some(),
            "spend nothing: refused by {refuser}, and the grant after it counted"
        );
    }
}

async fn release_takes_back_every_counter<S: VerificationStore + ?Sized>(store: &S) {
    let t = base_time();
    let (p, ip, country) = (random_phone(), random_ip(), random_country());
    let strict = SendLimits {
        cooldown_ms: 30_000,
        per_phone: 1,
        per_ip: 1,
        per_range: 1,
        range_digits: 3,
        voice_global: 1,
        global: 1,
        conversion_min_sends: 1,
        conversion_min_permille: 1_000,
        window_ms: HOUR,
    };
    let send = |phone, now| {
        SendAttempt::new(phone, now, strict)
            .with_client(Some(ip))
            .with_channel(Channel::Voice)
            .with_country(country)
    };
    let first = send(p, t);
    assert_eq!(reserve_it(store, &first).await, SendDecision::Granted);
    assert_eq!(
        figures(store, country, t).await,
        ConversionFigures::new(1, 0)
    );
    store
        .release_send(&first)
        .await
        .unwrap_or_else(|e| panic!("release_send failed: {e}"));
    assert_eq!(
        figures(store, country, t + 1).await,
        ConversionFigures::new(0, 0),
        "release: the country's send is taken back"
    );
    assert_eq!(
        reserve_it(store, &send(p, t + 1)).await,
        SendDecision::Granted,
        "release: cooldown, phone, address, block, voice, country and overall are free again"
    );
    assert!(
        refused(reserve_it(store, &send(neighbour(p), t + 2)).await).is_some(),
        "release: the new send counts"
    );
}

async fn conversion_guard<S: VerificationStore + ?Sized>(store: &S) {
    let (t, country) = (base_time(), random_country());
    let other = other_country(country);
    let l = SendLimits {
        conversion_min_sends: 4,
        conversion_min_permille: 500,
        ..open()
    };
    let send = |c, now| SendAttempt::new(random_phone(), now, l).with_country(c);
    for i in 0..4 {
        assert_eq!(
            reserve_it(store, &send(country, t + i * MINUTE)).await,
            SendDecision::Granted,
            "conversion: send {i}, below the minimum"
        );
    }
    assert_eq!(
        figures(store, country, t + 4 * MINUTE).await,
        ConversionFigures::new(4, 0)
    );
    let now = t + 5 * MINUTE;
    assert_eq!(
        refused(reserve_it(store, &send(country, now)).await),
        Some((Limit::Country, HOUR - 5 * MINUTE)),
        "conversion: 4 sends, none verified: throttled until the oldest send leaves"
    );
    assert_eq!(
        reserve_it(store, &send(other, now)).await,
        SendDecision::Granted,
        "conversion: another country is not throttled"
    );
    verified(store, country, now).await;
    assert!(
        refused(reserve_it(store, &send(country, now + 1)).await).is_some(),
        "conversion: 1 of 4 verified is under a half"
    );
    verified(store, country, now + 2).await;
    assert_eq!(
        figures(store, country, now + 3).await,
        ConversionFigures::new(4, 2)
    );
    assert_eq!(
        reserve_it(store, &send(country, now + 3)).await,
        SendDecision::Granted,
        "conversion: 2 of 4 verified is a half: released"
    );
    assert!(
        refused(reserve_it(store, &send(country, now + 4)).await).is_some(),
        "conversion: 2 of 5 is under a half again"
    );
    // Time moves: the first send (at t) leaves the window, 2 of 4 again.
    assert_eq!(
        reserve_it(store, &send(country, t + HOUR)).await,
        SendDecision::Granted,
        "conversion: recovers as old sends leave the window"
    );
    // Two hours on, everything has left: below the minimum, whatever the rate.
    let later = t + 3 * HOUR;
    assert_eq!(
        figures(store, country, later).await,
        ConversionFigures::new(0, 0)
    );
    for i in 0..4 {
        assert_eq!(
            reserve_it(store, &send(country, later + i)).await,
            SendDecision::Granted
        );
    }
    let off = SendLimits {
        conversion_min_sends: 0,
        ..l
    };
    assert_eq!(
        reserve_it(
            store,
            &SendAttempt::new(random_phone(), later + 5, off).with_country(country)
        )
        .await,
        SendDecision::Granted,
        "conversion: 0 sends turns the guard off"
    );
    assert!(
        refused(reserve_it(store, &send(country, later + 6)).await).is_some(),
        "conversion: and the sends let through while it was off count"
    );
}

async fn verify_budget<S: VerificationStore + ?Sized>(store: &S) {
    let t = base_time();
    let (ip, live, none, locked) = (random_ip(), random_phone(), random_phone(), random_phone());
    let budget = AttemptLimits {
        verifies_per_ip: 3,
        ..attempts(5)
    };
    put(store, live, &pending(30, t), t).await;
    lock_phone(store, locked, t).await;
    // Every outcome counts: a comparison, no code, locked.
    let outcomes = [
        begin_from(store, live, Some(ip), t + 1, &budget).await,
        begin_from(store, none, Some(ip), t + 2, &budget).await,
        begin_from(store, locked, Some(ip), t + 3, &budget).await,
    ];
    assert_eq!(attempt_no(&outcomes[0]), Some((1, false)));
    assert_eq!(outcomes[1], AttemptDecision::NoCode);
    assert!(matches!(outcomes[2], AttemptDecision::Locked { .. }));
    // The budget's window is counted in minutes: it frees up when the minute of t + 1 leaves.
    let frees = ((t + 1) / MINUTE + 60) * MINUTE;
    assert_eq!(
        begin_from(store, live, Some(ip), t + 4, &budget).await,
        AttemptDecision::RateLimited {
            retry_after_ms: frees - (t + 4)
        },
        "verify budget: the fourth verify from the address"
    );
    assert_eq!(
        attempt_no(&begin_from(store, live, None, t + 5, &budget).await),
        Some((2, false)),
        "verify budget: the refused verify cost the phone no attempt"
    );
    assert_eq!(
        attempt_no(&begin_from(store, live, Some(random_ip()), t + 6, &budget).await),
        Some((3, false)),
        "verify budget: another address has its own"
    );
    for i in 0..5 {
        assert_eq!(
            begin_from(store, none, None, t + 7 + i, &budget).await,
            AttemptDecision::NoCode,
            "verify budget: no address, no budget"
        );
    }
    // Refusals in a later minute than the counted verifies: were they counted, the budget
    // would still be spent when the first minute leaves.
    for i in 0..5 {
        let now = t + 2 * MINUTE + i;
        assert_eq!(
            begin_from(store, none, Some(ip), now, &budget).await,
            AttemptDecision::RateLimited {
                retry_after_ms: frees - now
            },
            "verify budget: still spent"
        );
    }
    assert!(
        matches!(
            begin_from(store, live, Some(ip), frees - 1, &budget).await,
            AttemptDecision::RateLimited { retry_after_ms: 1 }
        ),
        "verify budget: spent until the first minute leaves"
    );
    assert_eq!(
        begin_from(store, none, Some(ip), frees, &budget).await,
        AttemptDecision::NoCode,
        "verify budget: free again once the first minute left, and refusals did not count"
    );
}

fn token(n: u8) -> [u8; 16] {
    let mut id: [u8; 16] = crate::secret::random_bytes();
    id[0] = n;
    id
}

async fn revoke<S: VerificationStore + ?Sized>(store: &S, r: &Revocation, now: u64) {
    store
        .revoke(r, now)
        .await
        .unwrap_or_else(|e| panic!("revoke failed: {e}"));
}

async fn read<S: VerificationStore + ?Sized>(
    store: &S,
    since: &RevocationCursor,
    now: u64,
) -> (HashSet<Revocation>, RevocationCursor) {
    let batch = store
        .revocations(since, now)
        .await
        .unwrap_or_else(|e| panic!("revocations failed: {e}"));
    (batch.entries.into_iter().collect(), batch.cursor)
}

async fn revocation_contract<S: VerificationStore + ?Sized>(store: &S) {
    let t = base_time();
    let a = Revocation::Token {
        id: token(1),
        expires_at_ms: t + 1_000,
    };
    let p = Revocation::Phone {
        phone: random_phone(),
        before_ms: t,
        expires_at_ms: t + 5_000,
    };
    let b = Revocation::Token {
        id: token(2),
        expires_at_ms: t + HOUR,
    };
    let dead = Revocation::Token {
        id: token(3),
        expires_at_ms: t,
    };
    revoke(store, &a, t).await;
    revoke(store, &p, t).await;
    revoke(store, &dead, t).await;
    let (all, cursor) = read(store, &RevocationCursor::start(), t + 1).await;
    assert_eq!(
        all,
        HashSet::from([a.clone(), p.clone()]),
        "revocations: every live one from the start, none already expired"
    );
    revoke(store, &b, t + 2).await;
    let (new, cursor) = read(store, &cursor, t + 3).await;
    assert!(
        new.contains(&b),
        "revocations: the cursor sees what came after it"
    );
    assert!(
        new.is_subset(&HashSet::from([a.clone(), p.clone(), b.clone()])),
        "revocations: nothing that was not revoked"
    );
    let (again, _) = read(store, &cursor, t + 4).await;
    assert!(
        again.is_subset(&HashSet::from([a.clone(), p.clone(), b.clone()])),
        "revocations: repeats at most"
    );
    let (all, _) = read(store, &RevocationCursor::start(), t + 1_000).await;
    assert_eq!(
        all,
        HashSet::from([p.clone(), b.clone()]),
        "revocations: dropped at their expiry"
    );
    let (from_cursor, _) = read(store, &cursor, t + 1_000).await;
    assert!(
        !from_cursor.contains(&a),
        "revocations: expired, not even repeated"
    );
    let (all, cursor) = read(store, &RevocationCursor::start(), t + HOUR).await;
    assert!(all.is_empty(), "revocations: all expired: {all:?}");
    let c = Revocation::Token {
        id: token(4),
        expires_at_ms: t + 2 * HOUR,
    };
    revoke(store, &c, t + HOUR + 1).await;
    let (new, _) = read(store, &cursor, t + HOUR + 2).await;
    assert_eq!(
        new,
        HashSet::from([c]),
        "revocations: a cursor from an empty store still sees what comes"
    );
}

/// Runs `n` copies of `f` released together by a barrier.
async fn together<S, F, Fut, T>(store: Arc<S>, n: usize, f: F) -> Vec<T>
where
    S: VerificationStore,
    F: Fn(Arc<S>, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (store, barrier, f) = (store.clone(), barrier.clone(), f.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                f(store, i).await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(
            task.await
                .unwrap_or_else(|e| panic!("a concurrent task failed: {e}")),
        );
    }
    out
}

fn granted(results: &[SendDecision]) -> usize {
    results
        .iter()
        .filter(|r| **r == SendDecision::Granted)
        .count()
}

async fn concurrent_new_caps<S: VerificationStore>(store: Arc<S>) {
    let (t, first) = (base_time(), random_phone());
    let l = SendLimits {
        per_range: 7,
        ..open()
    };
    let results = together(store.clone(), 50, move |s, _| async move {
        reserve(&*s, neighbour(first), Some(random_ip()), t, l).await
    })
    .await;
    assert_eq!(
        granted(&results),
        7,
        "concurrent sends: exactly the per-range cap"
    );

    let t = base_time();
    let l = SendLimits {
        voice_global: 6,
        ..open()
    };
    let results = together(store.clone(), 50, move |s, _| async move {
        let send = SendAttempt::new(random_phone(), t, l).with_channel(Channel::Voice);
        reserve_it(&*s, &send).await
    })
    .await;
    assert_eq!(
        granted(&results),
        6,
        "concurrent sends: exactly the voice cap"
    );

    let (t, country) = (base_time(), random_country());
    let l = SendLimits {
        conversion_min_sends: 10,
        conversion_min_permille: 1_000,
        ..open()
    };
    let results = together(store.clone(), 50, move |s, _| async move {
        let send = SendAttempt::new(random_phone(), t, l).with_country(country);
        reserve_it(&*s, &send).await
    })
    .await;
    assert_eq!(
        granted(&results),
        10,
        "concurrent sends: the conversion guard lets exactly its minimum through"
    );
    assert_eq!(
        figures(&*store, country, t).await,
        ConversionFigures::new(10, 0)
    );
}

async fn concurrent_verify_budget<S: VerificationStore>(store: Arc<S>) {
    let (t, ip) = (base_time(), random_ip());
    let budget = AttemptLimits {
        verifies_per_ip: 20,
        ..attempts(5)
    };
    let results = together(store, 100, move |s, _| async move {
        begin_from(&*s, random_phone(), Some(ip), t, &budget).await
    })
    .await;
    let limited = results
        .iter()
        .filter(|r| matches!(r, AttemptDecision::RateLimited { .. }))
        .count();
    assert_eq!(
        limited, 80,
        "concurrent verifies: exactly the per-address budget gets through"
    );
}

async fn revocations_never_miss_one<S: VerificationStore>(store: Arc<S>) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let t = base_time();
    let done = Arc::new(AtomicBool::new(false));
    // Readers poll with their cursors while the writers write.
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (store, done) = (store.clone(), done.clone());
            tokio::spawn(async move {
                let mut seen = HashSet::new();
                let mut cursor = RevocationCursor::start();
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let (batch, next) = read(&*store, &cursor, t).await;
                    seen.extend(batch);
                    cursor = next;
                    if finished {
                        return seen;
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let written = together(store, WRITERS, move |s, w| async move {
        let mut mine = Vec::new();
        for i in 0..EACH {
            let r = Revocation::Token {
                id: token((w * EACH + i) as u8),
                expires_at_ms: t + HOUR,
            };
            revoke(&*s, &r, t).await;
            mine.push(r);
        }
        mine
    })
    .await;
    done.store(true, Ordering::SeqCst);
    let all: HashSet<Revocation> = written.into_iter().flatten().collect();
    assert_eq!(all.len(), WRITERS * EACH);
    for reader in readers {
        let seen = reader
            .await
            .unwrap_or_else(|e| panic!("a reader failed: {e}"));
        let missed = all.difference(&seen).count();
        assert_eq!(
            missed, 0,
            "revocations: a reader polling during the writes missed {missed}"
        );
    }
}
