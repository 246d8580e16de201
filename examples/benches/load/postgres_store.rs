//! Part (g): the PostgreSQL store through the [`VerificationStore`] trait — operations per
//! second, and round trips per operation, as part (f) measures the Redis store.
//!
//! Run when a PostgreSQL answers at `TWOFACTOR_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); the harness works in a schema of its own
//! (`twofactor_bench`), dropped at the end.
//!
//! - **send**: `reserve_send` then `put_pending`, for a fresh phone;
//! - **verify, right code**: `begin_attempt` then `finish_attempt(Matched)`;
//! - **verify, wrong code**: `begin_attempt` alone.
//!
//! Throughput: many operations in flight at once over the store's pool of connections (each
//! pipelines what is sent to it). Round trips: one operation at a time through a counting TCP
//! proxy; a round trip is a burst of bytes from the store followed by the server's answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use twofactor_core::Policy;
use twofactor_core::policy::MAX_CAP;
use twofactor_core::store::postgres::{Durability, PostgresStore};
use twofactor_core::store::{
    AttemptDecision, AttemptLimits, AttemptResult, Pending, SendAttempt, SendLimits,
};
use twofactor_core::{PhoneNumber, Ticket, VerificationStore};

use crate::memory::provider_ticket;
use crate::redis_store::{Op, Report, counting_proxy};

/// What an operation answers when the prepared phones are used up.
const EXHAUSTED: &str = "exhausted";

/// The harness's own schema, apart from apps' and tests'.
const SCHEMA: &str = "twofactor_bench";

/// Phones of this part: +91 6xxxxxxxxx, apart from every other part's.
static NEXT: AtomicU64 = AtomicU64::new(0);

fn fresh_phone() -> PhoneNumber {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    PhoneNumber::from_digits(916_000_000_000 + n % 1_000_000_000).expect("phone")
}

fn now_ms() -> u64 {
    twofactor_core::clock::unix_millis(std::time::SystemTime::now())
}

struct Limits {
    send: SendLimits,
    attempt: AttemptLimits,
}

fn limits() -> Limits {
    // Wrong guesses are measured on the same phones over and over: no lock.
    let policy = Policy::builder()
        .sends_per_hour(MAX_CAP)
        .sends_per_ip_per_hour(MAX_CAP)
        .sends_per_range_per_hour(MAX_CAP)
        .conversion_min_sends(0)
        .build()
        .expect("policy");
    let mut attempt = AttemptLimits::from(&policy);
    attempt.max_attempts = u32::MAX;
    Limits {
        send: SendLimits::from(&policy),
        attempt,
    }
}

async fn send<S: VerificationStore>(
    store: &S,
    l: &Limits,
    phone: PhoneNumber,
) -> Result<(), String> {
    let now = now_ms();
    let attempt = SendAttempt::new(phone, now, l.send).with_client(Some([127, 0, 0, 1].into()));
    store
        .reserve_send(&attempt)
        .await
        .map_err(|e| e.to_string())?;
    let pending = Pending::new(
        phone.digits(),
        Ticket::new(provider_ticket(phone.digits())),
        now + 600_000,
    );
    store
        .put_pending(phone, &pending, now)
        .await
        .map_err(|e| e.to_string())
}

async fn verify<S: VerificationStore>(
    store: &S,
    l: &Limits,
    phone: PhoneNumber,
    right: bool,
) -> Result<(), String> {
    let now = now_ms();
    match store
        .begin_attempt(phone, None, now, &l.attempt)
        .await
        .map_err(|e| e.to_string())?
    {
        AttemptDecision::Proceed { pending_id, .. } if right => {
            store
                .finish_attempt(phone, pending_id, AttemptResult::Matched, now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        AttemptDecision::Proceed { .. } => Ok(()),
        other => Err(format!("expected to proceed, got {other:?}")),
    }
}

/// Phones with a pending code, prepared outside the timing (`in_flight` at a time).
async fn prepared<S: VerificationStore + Clone>(
    store: &S,
    l: &Arc<Limits>,
    n: usize,
) -> Result<Vec<PhoneNumber>, String> {
    let phones: Vec<PhoneNumber> = (0..n).map(|_| fresh_phone()).collect();
    for chunk in phones.chunks(64) {
        let sends = chunk.iter().map(|p| send(store, l, *p));
        futures_util::future::try_join_all(sends).await?;
    }
    Ok(phones)
}

/// Runs `op` on `in_flight` tasks for `duration`; operations per second.
async fn throughput<F, Fut>(in_flight: usize, duration: Duration, op: F) -> Result<f64, String>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..in_flight)
        .map(|t| {
            let (op, done) = (op.clone(), done.clone());
            tokio::spawn(async move {
                let mut i = t as u64;
                while Instant::now() < deadline {
                    match op(i).await {
                        Ok(()) => {}
                        // The prepared phones are used up: this task is done early.
                        Err(e) if e == EXHAUSTED => break,
                        Err(e) => return Err(e),
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    i += in_flight as u64;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

fn url() -> String {
    std::env::var("TWOFACTOR_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Round trips per operation (the median), one operation at a time through the proxy.
async fn round_trips(l: &Arc<Limits>, n: usize) -> Result<(f64, f64, f64), String> {
    let config: tokio_postgres::Config = url().parse().map_err(|_| "an unreadable URL")?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let upstream = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address for PostgreSQL")?;
    let (proxy, bursts) = counting_proxy(upstream).await.map_err(|e| e.to_string())?;
    let via = url().replacen(&format!(":{port}"), &format!(":{}", proxy.port()), 1);
    let store = PostgresStore::builder(&via)
        .schema(SCHEMA)
        .connections(1)
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let count = || bursts.count();
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0) as f64
    };
    let mut phones = Vec::new();
    let mut flights = Vec::new();
    for _ in 0..n {
        let phone = fresh_phone();
        let before = count();
        send(&store, l, phone).await?;
        flights.push(count() - before);
        phones.push(phone);
    }
    let sends = median(std::mem::take(&mut flights));
    for phone in &phones {
        let before = count();
        verify(&store, l, *phone, false).await?;
        flights.push(count() - before);
    }
    let wrong = median(std::mem::take(&mut flights));
    for phone in &phones {
        let before = count();
        verify(&store, l, *phone, true).await?;
        flights.push(count() - before);
    }
    let right = median(flights);
    Ok((sends, right, wrong))
}

async fn drop_schema() -> Result<(), String> {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .await
        .map_err(|e| e.to_string())
}

/// Runs part (g) with `connections` in the store's pool and `durability`; `Err` says why it
/// could not run.
pub async fn run(
    duration: Duration,
    in_flight: usize,
    connections: usize,
    durability: Durability,
) -> Result<Report, String> {
    // A fresh schema each run: the figures do not depend on what an earlier run left.
    drop_schema()
        .await
        .map_err(|e| format!("no PostgreSQL answers at TWOFACTOR_TEST_DATABASE_URL ({e})"))?;
    let store = PostgresStore::builder(&url())
        .schema(SCHEMA)
        .connections(connections)
        .durability(durability)
        .connect()
        .await
        .map_err(|e| format!("no PostgreSQL answers at TWOFACTOR_TEST_DATABASE_URL ({e})"))?;
    let l = Arc::new(limits());

    let (s, l2) = (store.clone(), l.clone());
    let send_rate = throughput(in_flight, duration, move |_| {
        let (s, l2) = (s.clone(), l2.clone());
        async move { send(&s, &l2, fresh_phone()).await }
    })
    .await?;

    let n = ((send_rate * duration.as_secs_f64() * 3.0) as usize).clamp(1_000, 100_000);
    let phones = Arc::new(prepared(&store, &l, n).await?);
    let (s, l2, p) = (store.clone(), l.clone(), phones.clone());
    let wrong_rate = throughput(in_flight, duration, move |i| {
        let (s, l2, p) = (s.clone(), l2.clone(), p.clone());
        async move {
            let phone = p[(i % p.len() as u64) as usize];
            verify(&s, &l2, phone, false).await
        }
    })
    .await?;

    let phones = Arc::new(prepared(&store, &l, n * 2).await?);
    let (s, l2, p) = (store.clone(), l.clone(), phones.clone());
    let used = Arc::new(AtomicU64::new(0));
    let right_rate = throughput(in_flight, duration, move |_| {
        let (s, l2, p, used) = (s.clone(), l2.clone(), p.clone(), used.clone());
        async move {
            let i = used.fetch_add(1, Ordering::Relaxed) as usize;
            match p.get(i) {
                Some(phone) => verify(&s, &l2, *phone, true).await,
                None => Err(EXHAUSTED.to_owned()),
            }
        }
    })
    .await?;

    let (send_rt, right_rt, wrong_rt) = round_trips(&l, 50).await?;
    drop(store);
    drop_schema().await?;
    Ok(Report {
        send: Op {
            per_second: send_rate,
            round_trips: send_rt,
        },
        verify_match: Op {
            per_second: right_rate,
            round_trips: right_rt,
        },
        verify_wrong: Op {
            per_second: wrong_rate,
            round_trips: wrong_rt,
        },
        in_flight,
    })
}
