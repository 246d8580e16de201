//! Part (f): the Redis store through the [`VerificationStore`] trait — operations per second,
//! and Redis round trips per operation — on plain Redis, on Redis over TLS and on a Redis
//! Cluster of 3 primaries, in one run.
//!
//! Plain Redis: the one at `TWOFACTOR_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). TLS
//! and the cluster: `redis-server` children of the harness on free ports, started and killed by
//! [`crate::redis_servers`].
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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
pub(crate) const PREFIX: &str = "twofactor-bench";

/// What an operation answers when the prepared phones are used up.
const EXHAUSTED: &str = "exhausted";

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

/// Phones with a pending code, prepared outside the timing (64 at a time).
async fn prepared(store: &RedisStore, l: &Limits, n: usize) -> Result<Vec<PhoneNumber>, String> {
    let phones: Vec<PhoneNumber> = (0..n).map(|_| fresh_phone()).collect();
    for chunk in phones.chunks(64) {
        futures_util::future::try_join_all(chunk.iter().map(|p| send(store, l, *p))).await?;
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

/// What counting proxies saw: the round trips of any store's protocol (part g uses them for
/// PostgreSQL), counted as the client's writes that follow an answer. Bytes the client sends
/// before an answer came belong to the same round trip, even on another connection through
/// another proxy sharing this count: a cluster client that sends to two nodes at once waits
/// for one round trip, not two.
#[derive(Debug, Default)]
pub(crate) struct Bursts {
    count: AtomicU64,
    waiting: AtomicBool,
}

impl Bursts {
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    fn sent(&self) {
        if !self.waiting.swap(true, Ordering::SeqCst) {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn answered(&self) {
        self.waiting.store(false, Ordering::SeqCst);
    }
}

/// A TCP proxy to `upstream` that counts round trips (see [`Bursts`]).
pub(crate) async fn counting_proxy(
    upstream: SocketAddr,
) -> std::io::Result<(SocketAddr, Arc<Bursts>)> {
    let bursts = Arc::new(Bursts::default());
    let addr = counting_proxy_into(upstream, bursts.clone()).await?;
    Ok((addr, bursts))
}

/// [`counting_proxy`], counting into `bursts` (one proxy per cluster node, one count).
pub(crate) async fn counting_proxy_into(
    upstream: SocketAddr,
    bursts: Arc<Bursts>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let bursts = bursts.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let seen = bursts.clone();
                let up = async move {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        seen.sent();
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
                        bursts.answered();
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::join!(up, down);
            });
        }
    });
    Ok(addr)
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

/// A store on the plain Redis at `url` whose round trips are counted: through a counting proxy.
async fn counted_store(url: &str) -> Result<(RedisStore, Arc<Bursts>), String> {
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
    Ok((store, bursts))
}

/// Round trips per operation (the median), one operation at a time on `store`, whose bytes
/// go through the proxies that count into `bursts`.
async fn round_trips(
    store: &RedisStore,
    bursts: &Bursts,
    l: &Limits,
    n: usize,
) -> Result<(f64, f64, f64), String> {
    let count = || bursts.count();
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
        send(store, l, phone).await?;
        flights.push(count() - before);
        phones.push(phone);
    }
    let sends = median(std::mem::take(&mut flights));

    for phone in &phones {
        let before = count();
        verify(store, l, *phone, false).await?;
        flights.push(count() - before);
    }
    let wrong = median(std::mem::take(&mut flights));

    for phone in &phones {
        let before = count();
        verify(store, l, *phone, true).await?;
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

/// Runs part (f) on the plain Redis at `TWOFACTOR_TEST_REDIS_URL`; `Err` says why it could
/// not run (no Redis answers, say).
pub async fn run(duration: Duration, in_flight: usize) -> Result<Report, String> {
    let url = std::env::var("TWOFACTOR_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let store = RedisStore::builder(&url)
        .prefix(PREFIX)
        .connect()
        .await
        .map_err(|e| format!("no Redis answers at TWOFACTOR_TEST_REDIS_URL ({e})"))?;
    let measured = async {
        let mut report = rates(&store, duration, in_flight).await?;
        let (counted, bursts) = counted_store(&url).await?;
        add_round_trips(&mut report, &counted, &bursts).await?;
        Ok(report)
    }
    .await;
    clean_up(&url).await?;
    measured
}

/// Operations per second of the three operations on `store`, `in_flight` at a time for
/// `duration` each (round trips left at 0: see [`add_round_trips`]).
pub async fn rates(
    store: &RedisStore,
    duration: Duration,
    in_flight: usize,
) -> Result<Report, String> {
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
    let phones = Arc::new(prepared(store, &l, n).await?);
    let wrong_rate = wrong_round(store, &phones, duration, in_flight).await?;

    let phones = Arc::new(prepared(store, &l, n).await?);
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

    let op = |per_second| Op {
        per_second,
        round_trips: 0.0,
    };
    Ok(Report {
        send: op(send_rate),
        verify_match: op(right_rate),
        verify_wrong: op(wrong_rate),
        in_flight,
    })
}

/// `n` phones with a pending code, for [`wrong_round`].
pub async fn phones_for_wrong_rounds(
    store: &RedisStore,
    n: usize,
) -> Result<Arc<Vec<PhoneNumber>>, String> {
    Ok(Arc::new(prepared(store, &limits(), n).await?))
}

/// Wrong-code verifications per second on `phones` (each prepared with a pending code, and
/// never locked: the budget is unbounded), `in_flight` at a time for `duration`.
pub async fn wrong_round(
    store: &RedisStore,
    phones: &Arc<Vec<PhoneNumber>>,
    duration: Duration,
    in_flight: usize,
) -> Result<f64, String> {
    let l = Arc::new(limits());
    let (s, p) = (store.clone(), phones.clone());
    throughput(in_flight, duration, move |i| {
        let (s, l, p) = (s.clone(), l.clone(), p.clone());
        async move {
            let phone = p[(i % p.len() as u64) as usize];
            verify(&s, &l, phone, false).await
        }
    })
    .await
}

/// Fills in the round trips of the three operations, measured one at a time on `counted`, a
/// store whose bytes go through the proxies that count into `bursts`.
pub async fn add_round_trips(
    report: &mut Report,
    counted: &RedisStore,
    bursts: &Bursts,
) -> Result<(), String> {
    let (send, right, wrong) = round_trips(counted, bursts, &limits(), 50).await?;
    report.send.round_trips = send;
    report.verify_match.round_trips = right;
    report.verify_wrong.round_trips = wrong;
    Ok(())
}
