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
//! against one phone. Each check uses fresh random phone numbers and IPs and its own stretch of
//! (simulated) time, so the suite can run against a store that other tests share; only the
//! overall cap is store-wide, so give each run its own store (a fresh `MokaStore`, a fresh Redis
//! key prefix). Failures panic with the check's name.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Barrier;

use super::{
    AttemptDecision, AttemptLimits, AttemptResult, FinishOutcome, Limit, Pending, SendAttempt,
    SendDecision, VerificationStore,
};
use crate::{PhoneNumber, Ticket};

const HOUR: u64 = 3_600_000;
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

fn limits(cooldown_ms: u64, per_phone: u32, per_ip: u32, global: u32) -> super::SendLimits {
    super::SendLimits {
        cooldown_ms,
        per_phone,
        per_ip,
        global,
        window_ms: HOUR,
    }
}

fn open() -> super::SendLimits {
    limits(0, 1_000, 1_000, 1_000_000)
}

fn attempts(max_attempts: u32) -> AttemptLimits {
    AttemptLimits {
        max_attempts,
        lockout_ms: 15 * 60_000,
        memory_ms: 15 * 60_000,
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
    global_cap(&*store).await;
    release(&*store).await;
    attempt_budget_and_lock(&*store).await;
    no_code(&*store).await;
    expiry(&*store).await;
    resend_keeps_attempts(&*store).await;
    success_resets(&*store).await;
    consume_once(&*store).await;
    phones_are_isolated(&*store).await;
    attempt_memory(&*store).await;
    lock_expiry(&*store).await;
    tickets_round_trip(&*store).await;
    concurrent_attempts(store.clone()).await;
    concurrent_consume(store.clone()).await;
    concurrent_sends(store.clone()).await;
}

async fn reserve<S: VerificationStore + ?Sized>(
    store: &S,
    phone: PhoneNumber,
    ip: Option<IpAddr>,
    now: u64,
    l: super::SendLimits,
) -> SendDecision {
    store
        .reserve_send(&SendAttempt::new(phone, ip, now, l))
        .await
        .unwrap_or_else(|e| panic!("reserve_send failed: {e}"))
}

async fn begin<S: VerificationStore + ?Sized>(
    store: &S,
    phone: PhoneNumber,
    now: u64,
    max: u32,
) -> AttemptDecision {
    store
        .begin_attempt(phone, now, &attempts(max))
        .await
        .unwrap_or_else(|e| panic!("begin_attempt failed: {e}"))
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
        Some((Limit::PhoneHourly, HOUR - 10_000)),
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
        Some((Limit::IpHourly, HOUR - 5)),
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
        Some((Limit::GlobalHourly, HOUR - 10)),
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
    let send = SendAttempt::new(phone, Some(ip), t, l);
    assert_eq!(
        reserve(store, phone, Some(ip), t, l).await,
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
