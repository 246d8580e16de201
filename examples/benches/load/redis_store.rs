//! Part (f): the Redis store through the [`VerificationStore`] trait — operations per second,
//! and Redis round trips per operation.
//!
//! Run when a Redis answers at `TWOFACTOR_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`).
//!
//! - **send**: `reserve_send` then `put_pending`, for a fresh phone (what the engine does around
//!   the provider call);
//! - **verify, right code**: `begin_attempt` then `finish_attempt(Matched)` on a phone with a
//!   pending code;
//! - **verify, wrong code**: `begin_attempt` alone (a wrong guess with attempts left needs no
//!   second step).
//!
//! Throughput: many operations in flight at once on the store's one multiplexed connection.
//! Round trips: one operation at a time through a counting TCP proxy in front of Redis; a round
//! trip is a burst of bytes from the store followed by Redis's answer, so the number of client
//! bursts per operation is the number of round trips.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use twofactor_core::policy::MAX_CAP;
use twofactor_core::store::redis::RedisStore;
use twofactor_core::store::{
    AttemptDecision, AttemptLimits, AttemptResult, Pending, SendAttempt, SendLimits,
};
use twofactor_core::{PhoneNumber, Ticket, VerificationStore};

use crate::memory::provider_ticket;
use twofactor_core::Policy;

/// The harness's own key prefix, apart from apps' and tests' keys (every key has a TTL).
const PREFIX: &str = "twofactor-bench";

/// One operation's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Op {
    pub per_second: f64,
    pub round_trips: f64,
}

/// Part (f)'s result.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    pub send: Op,
    pub verify_match: Op,
    pub verify_wrong: Op,
    pub in_flight: usize,
}

/// Phones of this part: +91 7xxxxxxxxx, apart from every other part's.
static NEXT: AtomicU64 = AtomicU64::new(0);

fn fresh_phone() -> PhoneNumber {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // A per-process offset, so that repeated runs within the hour meet no cooldown.
    let base = 917_000_000_000 + u64::from(std::process::id() % 1_000) * 1_000_000;
    PhoneNumber::from_digits(base + n % 1_000_000).expect("phone")
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

async fn send(store: &RedisStore, l: &Limits, phone: PhoneNumber) -> Result<(), String> {
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

async fn verify(
    store: &RedisStore,
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

/// Phones with a pending code, prepared outside the timing.
async fn prepared(store: &RedisStore, l: &Limits, n: usize) -> Result<Vec<PhoneNumber>, String> {
    let mut phones = Vec::with_capacity(n);
    for _ in 0..n {
        let phone = fresh_phone();
        send(store, l, phone).await?;
        phones.push(phone);
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
                    op(i).await?;
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

/// A TCP proxy to `upstream` that counts the bursts of bytes clients send after an answer: the
/// round trips of any store's protocol (part g uses it for PostgreSQL).
pub(crate) async fn counting_proxy(
    upstream: SocketAddr,
) -> std::io::Result<(SocketAddr, Arc<AtomicU64>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let bursts = Arc::new(AtomicU64::new(0));
    let counter = bursts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                // The client's bytes that arrive before Redis has answered belong to the same
                // round trip: count a burst when the client writes after an answer.
                let answered = Arc::new(std::sync::atomic::AtomicBool::new(true));
                let seen = answered.clone();
                let up = async move {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if seen.swap(false, Ordering::SeqCst) {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        answered.store(true, Ordering::SeqCst);
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::join!(up, down);
            });
        }
    });
    Ok((addr, bursts))
}

/// Rebuilds a Redis URL around another address.
type WithAddr = Box<dyn Fn(SocketAddr) -> String>;

/// `host:port` of a `redis://[user:password@]host[:port][/db]` URL, and the URL with another
/// address in its place.
fn split_url(url: &str) -> Option<(String, WithAddr)> {
    let (scheme, rest) = url.split_once("://")?;
    let (creds, rest) = match rest.rsplit_once('@') {
        Some((c, r)) => (format!("{c}@"), r),
        None => (String::new(), rest),
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, String::new()),
    };
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:6379")
    };
    let scheme = scheme.to_owned();
    Some((
        host,
        Box::new(move |addr| format!("{scheme}://{creds}{addr}{path}")),
    ))
}

/// Round trips per operation (the median), one operation at a time through the proxy.
async fn round_trips(url: &str, l: &Limits, n: usize) -> Result<(f64, f64, f64), String> {
    let (host, with_addr) = split_url(url).ok_or("an unreadable Redis URL")?;
    let upstream = tokio::net::lookup_host(host)
        .await
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address for Redis")?;
    let (proxy, bursts) = counting_proxy(upstream).await.map_err(|e| e.to_string())?;
    let store = RedisStore::builder(&with_addr(proxy))
        .prefix(PREFIX)
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let count = || bursts.load(Ordering::Relaxed);
    // The median over the operations: a script of a pipelined pair written a moment after
    // Redis answered the first would look like a round trip of its own.
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

/// Deletes the harness's keys (they would expire within the hour, but a full run leaves a few
/// hundred thousand of them, which slows down whatever else uses that Redis meanwhile).
async fn clean_up(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{PREFIX}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Runs part (f); `Err` says why it could not run (no Redis answers, say).
pub async fn run(duration: Duration, in_flight: usize) -> Result<Report, String> {
    let url = std::env::var("TWOFACTOR_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let store = RedisStore::builder(&url)
        .prefix(PREFIX)
        .connect()
        .await
        .map_err(|e| format!("no Redis answers at TWOFACTOR_TEST_REDIS_URL ({e})"))?;
    let l = Arc::new(limits());

    let (s, l2) = (store.clone(), l.clone());
    let send_rate = throughput(in_flight, duration, move |_| {
        let (s, l2) = (s.clone(), l2.clone());
        async move { send(&s, &l2, fresh_phone()).await }
    })
    .await?;

    // Enough pending codes for the verifications to come (they run at most about twice as fast
    // as sends).
    let n = ((send_rate * duration.as_secs_f64() * 3.0) as usize).clamp(1_000, 200_000);
    let phones = Arc::new(prepared(&store, &l, n).await?);
    let (s, l2, p) = (store.clone(), l.clone(), phones.clone());
    let wrong_rate = throughput(in_flight, duration, move |i| {
        let (s, l2, p) = (s.clone(), l2.clone(), p.clone());
        async move {
            // At most a few wrong guesses per phone: the budget must not lock them.
            let phone = p[(i % p.len() as u64) as usize];
            verify(&s, &l2, phone, false).await
        }
    })
    .await?;

    let phones = Arc::new(prepared(&store, &l, n).await?);
    let (s, l2, p) = (store.clone(), l.clone(), phones.clone());
    let used = Arc::new(AtomicU64::new(0));
    let right_rate = throughput(in_flight, duration, move |_| {
        let (s, l2, p, used) = (s.clone(), l2.clone(), p.clone(), used.clone());
        async move {
            let i = used.fetch_add(1, Ordering::Relaxed) as usize;
            match p.get(i) {
                Some(phone) => verify(&s, &l2, *phone, true).await,
                None => Err("ran out of prepared phones".to_owned()),
            }
        }
    })
    .await?;

    let (send_rt, right_rt, wrong_rt) = round_trips(&url, &l, 50).await?;
    clean_up(&url).await?;
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
