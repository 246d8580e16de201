//! The Redis store against a real Redis (`TWOFACTOR_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`): the conformance suite (on the one-round-trip and the
//! Cluster-safe scripts), two engines sharing one Redis, restarts, the key layout, the
//! round-trip budget, the server's clock against skewed callers, the revocation stream's
//! bounds, and the eviction-policy warning (on servers of its own); and the checks every shared
//! store passes (`store_checks`): the differential check against the in-memory store, two
//! instances racing (200 wrong guesses, 20 right codes) and revocation across instances. Each
//! test uses a key prefix of its own; nothing here flushes the server.

mod redis_support;
mod store_checks;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;
use redis_support::{self as support, Server};
use store_checks::{Leeway, Recorder, ctx, engine, phone, wrong_code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Barrier;
use twofactor_core::mock::MockProvider;
use twofactor_core::store::redis::{Clock, Eviction, RedisStore};
use twofactor_core::store::{Limit, StoreError};
use twofactor_core::{
    CodeHasher, Context, KeyRing, LocalOtp, OtpCode, OtpProvider, PhoneNumber, PhoneVerifier,
    Policy, ProviderError, SendError, SendOptions, Ticket, Verdict, VerifyError, async_trait,
};

fn from_ip(ip: &str) -> Context {
    Context::new().with_client_ip(Some(ip.parse::<IpAddr>().unwrap()))
}

/// Two engines on two stores (two `connect` calls) sharing one Redis and one prefix, the same
/// keys and the same mock provider: two app instances.
async fn two_instances(policy: Policy) -> Option<(PhoneVerifier, PhoneVerifier, MockProvider)> {
    let prefix = support::prefix();
    let (a, b) = (
        support::store(&prefix).await?,
        support::store(&prefix).await?,
    );
    let (mock, keys) = (MockProvider::new(), KeyRing::random());
    Some((
        engine(a, mock.clone(), &keys, policy.clone()),
        engine(b, mock.clone(), &keys, policy),
        mock,
    ))
}

/// A store with the caller's (simulated) clock, for the conformance suite and the
/// differential check.
async fn caller_clock_store(cluster_safe: bool) -> Option<RedisStore> {
    support::connect(
        RedisStore::builder(&support::url())
            .prefix(support::prefix())
            .clock(Clock::Caller)
            .cluster_safe_scripts(cluster_safe),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_store_conformance_suite() {
    let Some(store) = caller_clock_store(false).await else {
        return;
    };
    assert!(!store.cluster_safe_scripts());
    twofactor_core::store::conformance::run(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_store_conformance_suite_with_cluster_safe_scripts() {
    let Some(store) = caller_clock_store(true).await else {
        return;
    };
    assert!(store.cluster_safe_scripts());
    twofactor_core::store::conformance::run(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_codes_counts_and_tokens() {
    let Some((a, b, mock)) = two_instances(Policy::default()).await else {
        return;
    };
    let p = phone();
    let input = p.to_string();
    a.send(&input, &ctx()).await.unwrap();
    let code = mock.last_code(&p).unwrap();
    let wrong = wrong_code(&code);

    assert!(matches!(
        b.verify(&input, &wrong, &ctx()).await,
        Err(VerifyError::Incorrect { attempts_left: 4 })
    ));
    assert!(
        matches!(
            a.verify(&input, &wrong, &ctx()).await,
            Err(VerifyError::Incorrect { attempts_left: 3 })
        ),
        "the attempt count is shared"
    );
    assert!(
        matches!(
            b.send(&input, &ctx()).await,
            Err(SendError::RateLimited {
                limit: Limit::Cooldown,
                ..
            })
        ),
        "the cooldown is shared"
    );

    let verified = b.verify(&input, code.expose(), &ctx()).await.unwrap();
    assert_eq!(verified.proof.phone(), p);
    assert_eq!(
        a.authenticate(&verified.token).unwrap().phone(),
        p,
        "a token from B is accepted on A"
    );
    assert!(
        matches!(
            a.verify(&input, code.expose(), &ctx()).await,
            Err(VerifyError::NoLiveCode)
        ),
        "a code consumed on B is gone on A"
    );

    // And the other way round.
    let q = phone();
    b.send(&q.to_string(), &ctx()).await.unwrap();
    let verified = a
        .verify(&q.to_string(), mock.last_code(&q).unwrap().expose(), &ctx())
        .await
        .unwrap();
    assert_eq!(b.authenticate(&verified.token).unwrap().phone(), q);
}

/// Two stores (two `connect` calls) on one Redis and one prefix: two app instances.
async fn two_stores() -> Option<(RedisStore, RedisStore)> {
    let prefix = support::prefix();
    Some((
        support::store(&prefix).await?,
        support::store(&prefix).await?,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_wrong_guesses_on_two_instances_compare_exactly_max_attempts() {
    let Some((a, b)) = two_stores().await else {
        return;
    };
    store_checks::two_hundred_wrong_guesses(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_right_code_released_twenty_times_on_two_instances_verifies_exactly_once() {
    store_checks::twenty_right_codes(two_stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_and_a_sign_out_everywhere_on_one_instance_hold_on_the_other() {
    let Some((a, b)) = two_stores().await else {
        return;
    };
    store_checks::revocations_shared_by_two_instances(a, b).await;
}

async fn assert_limited(v: &PhoneVerifier, phone: &str, ctx: &Context, want: Limit) {
    match v.send(phone, ctx).await {
        Err(SendError::RateLimited { limit, retry_after }) => {
            assert_eq!(limit, want);
            assert!(retry_after > Duration::ZERO);
        }
        other => panic!("expected {want}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_caps_are_counted_across_instances() {
    let no_cooldown = || Policy::builder().resend_cooldown(Duration::ZERO);

    // Per phone: 3 an hour, spent alternately on A and B.
    let Some((a, b, mock)) =
        two_instances(no_cooldown().sends_per_phone_per_hour(3).build().unwrap()).await
    else {
        return;
    };
    let p = phone().to_string();
    for v in [&a, &b, &a] {
        v.send(&p, &ctx()).await.unwrap();
    }
    assert_limited(&b, &p, &ctx(), Limit::Phone).await;
    assert_eq!(mock.send_count(), 3, "a refused send reaches no provider");

    // Per client IP: 4 an hour.
    let Some((a, b, _)) =
        two_instances(no_cooldown().sends_per_ip_per_hour(4).build().unwrap()).await
    else {
        return;
    };
    let ip = from_ip("203.0.113.7");
    for v in [&a, &b, &a, &b] {
        v.send(&phone().to_string(), &ip).await.unwrap();
    }
    assert_limited(&a, &phone().to_string(), &ip, Limit::Ip).await;
    b.send(&phone().to_string(), &from_ip("203.0.113.8"))
        .await
        .unwrap();

    // Overall: 5 an hour.
    let Some((a, b, _)) = two_instances(no_cooldown().sends_per_hour(5).build().unwrap()).await
    else {
        return;
    };
    for v in [&a, &b, &a, &b, &a] {
        v.send(&phone().to_string(), &ctx()).await.unwrap();
    }
    assert_limited(&b, &phone().to_string(), &ctx(), Limit::Global).await;

    // The cooldown, under fire: forty sends to one phone released together on A and B.
    let Some((a, b, mock)) = two_instances(Policy::default()).await else {
        return;
    };
    let p = phone().to_string();
    let barrier = Arc::new(Barrier::new(40));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let v = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (barrier, p) = (barrier.clone(), p.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                v.send(&p, &ctx()).await
            })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => sent += 1,
            Err(SendError::RateLimited {
                limit: Limit::Cooldown,
                ..
            }) => {}
            Err(other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((sent, mock.send_count()), (1, 1), "one code, one SMS");
}

#[tokio::test]
async fn pending_codes_survive_an_app_restart() {
    let prefix = support::prefix();
    let (mock, keys) = (MockProvider::new(), KeyRing::random());
    let p = phone();
    {
        let Some(store) = support::store(&prefix).await else {
            return;
        };
        let v = engine(store, mock.clone(), &keys, Policy::default());
        v.send(&p.to_string(), &ctx()).await.unwrap();
        // The engine and its store (and connection) are dropped here: the app stops.
    }
    let Some(store) = support::store(&prefix).await else {
        return;
    };
    let v = engine(store, mock.clone(), &keys, Policy::default());
    let code = mock.last_code(&p).unwrap();
    v.verify(&p.to_string(), code.expose(), &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn keys_are_hash_tagged_expire_and_hold_only_keyed_hashes() {
    let prefix = support::prefix();
    let (Some(store), Some(mut raw)) = (support::store(&prefix).await, support::raw().await) else {
        return;
    };
    let (sms, hasher) = (Recorder::default(), CodeHasher::new([9; 32]));
    let v = engine(
        store,
        LocalOtp::new(sms.clone()).with_hasher(hasher.clone()),
        &KeyRing::random(),
        Policy::default(),
    );
    let p = phone();
    v.send(&p.to_string(), &from_ip("2001:db8::5"))
        .await
        .unwrap();
    let code = sms.last_code(p);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert!(
        v.verify(&p.to_string(), wrong, &from_ip("2001:db8::5"))
            .await
            .is_err()
    );

    let mut keys: Vec<String> = raw.keys(format!("{prefix}:*")).await.unwrap();
    keys.sort();
    let block = p.digits() / 1000;
    let mut want = vec![
        format!("{prefix}:{{{p}}}"),
        format!("{prefix}:{{{p}}}:sends"),
        format!("{prefix}:{{caps}}:all"),
        format!("{prefix}:{{caps}}:ip:2001:db8::5"),
        format!("{prefix}:{{caps}}:range:{block}xxx"),
        format!("{prefix}:{{caps}}:conv:IN:sends"),
        format!("{prefix}:{{caps}}:vip:2001:db8::5"),
    ];
    want.sort();
    assert_eq!(keys, want, "one hash tag per phone, one for the caps");
    for key in &keys {
        let ttl: i64 = raw.pttl(key).await.unwrap();
        assert!(
            ttl > 0 && ttl <= 3_600_000,
            "{key} has TTL {ttl} ms: every key expires, within the hour"
        );
    }

    let record: Vec<(String, String)> = raw.hgetall(format!("{prefix}:{{{p}}}")).await.unwrap();
    let ticket = &record.iter().find(|(f, _)| f == "tkt").unwrap().1;
    let expected = hasher.ticket(&p, &OtpCode::parse(&code, 6..=6).unwrap());
    assert!(
        ticket.ends_with(expected.expose()),
        "the stored ticket is the code's keyed hash"
    );
    for (field, value) in &record {
        if field != "pid" {
            assert!(!value.contains(&code), "{field} holds the code");
        }
    }
    let att = &record.iter().find(|(f, _)| f == "att").unwrap().1;
    assert_eq!(att, "1");
}

#[tokio::test]
async fn a_reservation_half_failing_fails_closed_and_leaves_no_record() {
    let prefix = support::prefix();
    let (Some(store), Some(mut raw)) = (support::store(&prefix).await, support::raw().await) else {
        return;
    };
    // Something else sits where the IP's log should be: the caps' script fails.
    let _: () = raw
        .set_ex(format!("{prefix}:{{caps}}:ip:192.0.2.9"), "not a log", 60)
        .await
        .unwrap();
    let mock = MockProvider::new();
    let v = engine(store, mock.clone(), &KeyRing::random(), Policy::default());
    let p = phone().to_string();
    match v.send(&p, &from_ip("192.0.2.9")).await {
        Err(SendError::StoreUnavailable(StoreError::Unavailable(_))) => {}
        other => panic!("expected the store to fail, got {other:?}"),
    }
    assert_eq!(mock.send_count(), 0, "no send without a record");
    // The phone's half had granted and recorded the send: it was taken back, so no cooldown.
    v.send(&p, &from_ip("192.0.2.10")).await.unwrap();
}

#[tokio::test]
async fn a_prefix_with_braces_is_refused() {
    let err = RedisStore::builder(&support::url())
        .prefix("app:{x}")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)));
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("prefix"), "{source}");
}

fn assert_no_secret(err: &(dyn std::error::Error + 'static), secret: &str) {
    let mut next = Some(err);
    while let Some(e) = next {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(secret), "the password leaked in {text:?}");
        }
        next = e.source();
    }
}

/// `url` with its host and port replaced by `addr` (credentials and database kept).
fn with_addr(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("{scheme}://{}{addr}{path}", userinfo.unwrap_or_default())
}

#[tokio::test]
async fn the_url_password_appears_in_no_error_or_debug_output() {
    let secret = "pw-6b1d9c0e-do-not-print";
    // Nothing listens there: connecting is refused.
    let port = support::free_port();
    let url = format!("redis://:{secret}@127.0.0.1:{port}/0");
    let builder = RedisStore::builder(&url);
    assert!(!format!("{builder:?}").contains(secret));
    let err = builder.connect().await.unwrap_err();
    assert_no_secret(&err, secret);

    // A real server refusing the password.
    let Some(raw) = support::raw().await else {
        return;
    };
    drop(raw);
    let addr = server_addr();
    let url = with_addr(&format!("redis://:{secret}@h/0"), addr);
    let err = RedisStore::connect(&url).await.unwrap_err();
    assert_no_secret(&err, secret);
}

fn server_addr() -> SocketAddr {
    let client = redis::Client::open(support::url()).unwrap();
    let addr = client.get_connection_info().addr.to_string();
    std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .unwrap()
        .next()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Round trips: a loopback proxy between the store and Redis counts "flights" — request bursts
// the client writes before it has heard any reply since the previous burst. Replies are held
// back a little so that two requests sent at once cannot be mistaken for two round trips.

#[derive(Debug, Default)]
struct Traffic {
    /// Request bursts (round trips).
    flights: usize,
    /// Command names, in order.
    commands: Vec<String>,
    /// A reply went back since the last request.
    replied: bool,
    /// Bytes of a command not fully received yet.
    partial: Vec<u8>,
}

impl Traffic {
    fn reset(&mut self) {
        self.flights = 0;
        self.commands.clear();
        self.replied = true;
    }

    /// Parses complete RESP commands (arrays of bulk strings) off `partial`.
    fn parse(&mut self) {
        loop {
            let buf = &self.partial;
            let Some((name, used)) = parse_command(buf) else {
                return;
            };
            self.commands.push(name);
            self.partial.drain(..used);
        }
    }
}

fn parse_line(buf: &[u8], at: usize) -> Option<(i64, usize)> {
    let end = buf[at..].windows(2).position(|w| w == b"\r\n")? + at;
    let n = std::str::from_utf8(&buf[at + 1..end]).ok()?.parse().ok()?;
    Some((n, end + 2))
}

fn parse_command(buf: &[u8]) -> Option<(String, usize)> {
    if buf.first() != Some(&b'*') {
        return None;
    }
    let (count, mut at) = parse_line(buf, 0)?;
    let mut name = None;
    for _ in 0..count {
        let (len, start) = parse_line(buf, at)?;
        let end = start + usize::try_from(len).ok()?;
        if buf.len() < end + 2 {
            return None;
        }
        name.get_or_insert_with(|| String::from_utf8_lossy(&buf[start..end]).to_uppercase());
        at = end + 2;
    }
    Some((name?, at))
}

async fn counting_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Traffic>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let traffic = Arc::new(Mutex::new(Traffic {
        replied: true,
        ..Traffic::default()
    }));
    let shared = traffic.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(upstream).await.unwrap();
            client.set_nodelay(true).unwrap();
            server.set_nodelay(true).unwrap();
            let (mut client_r, mut client_w) = client.into_split();
            let (mut server_r, mut server_w) = server.into_split();
            let up = shared.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = client_r.read(&mut buf).await {
                    {
                        let mut t = up.lock().unwrap();
                        if t.replied {
                            t.flights += 1;
                            t.replied = false;
                        }
                        t.partial.extend_from_slice(&buf[..n]);
                        t.parse();
                    }
                    if server_w.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            let down = shared.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = server_r.read(&mut buf).await {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                    down.lock().unwrap().replied = true;
                    if client_w.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, traffic)
}

/// A provider that notes how many round trips the store had made when it was called.
#[derive(Clone)]
struct Probe {
    mock: MockProvider,
    traffic: Arc<Mutex<Traffic>>,
    calls: Arc<Mutex<Vec<(&'static str, usize)>>>,
}

impl Probe {
    fn note(&self, what: &'static str) {
        let flights = self.traffic.lock().unwrap().flights;
        self.calls.lock().unwrap().push((what, flights));
    }
}

#[async_trait]
impl OtpProvider for Probe {
    fn name(&self) -> &str {
        "probe"
    }
    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        self.note("send");
        self.mock.send(phone, options).await
    }
    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        self.note("verify");
        self.mock.verify(phone, ticket, code).await
    }
}

/// The round trips of a send, a wrong guess, a match and a refused send, on the standalone
/// scripts or the Cluster-safe ones.
async fn count_round_trips(cluster_safe: bool) {
    if support::raw().await.is_none() {
        return;
    }
    let (proxy, traffic) = counting_proxy(server_addr()).await;
    let store = RedisStore::builder(&with_addr(&support::url(), proxy))
        .prefix(support::prefix())
        .cluster_safe_scripts(cluster_safe)
        .connect()
        .await
        .unwrap();
    let connect_commands = traffic.lock().unwrap().commands.clone();
    assert!(
        connect_commands.iter().any(|c| c == "SCRIPT"),
        "scripts are loaded at start-up: {connect_commands:?}"
    );
    let probe = Probe {
        mock: MockProvider::new(),
        traffic: traffic.clone(),
        calls: Arc::default(),
    };
    let v = engine(store, probe.clone(), &KeyRing::random(), Policy::default());
    let (p, ip) = (phone(), from_ip("198.51.100.4"));
    let input = p.to_string();
    let take = || {
        let mut t = traffic.lock().unwrap();
        let seen = (t.flights, std::mem::take(&mut t.commands));
        t.reset();
        seen
    };
    let calls = || std::mem::take(&mut *probe.calls.lock().unwrap());
    let evalsha = |n| vec!["EVALSHA".to_owned(); n];
    take();

    v.send(&input, &ip).await.unwrap();
    assert_eq!(
        take(),
        (2, evalsha(3)),
        "send: reserve (two scripts at once), put_pending"
    );
    assert_eq!(
        calls(),
        [("send", 1)],
        "send: one round trip before the provider"
    );

    // A verify from a client address: its budget, then the phone.
    let before = if cluster_safe { 2 } else { 1 };
    let code = probe.mock.last_code(&p).unwrap();
    let err = v.verify(&input, &wrong_code(&code), &ip).await.unwrap_err();
    assert!(matches!(err, VerifyError::Incorrect { attempts_left: 4 }));
    assert_eq!(
        take(),
        (before, evalsha(before)),
        "a wrong guess: {before} round trip(s) in all (cluster-safe: {cluster_safe})"
    );
    assert_eq!(calls(), [("verify", before)]);

    // Without an address: the phone's script alone.
    let err = v
        .verify(&input, &wrong_code(&code), &ctx())
        .await
        .unwrap_err();
    assert!(matches!(err, VerifyError::Incorrect { attempts_left: 3 }));
    assert_eq!(take(), (1, evalsha(1)), "a wrong guess without an address");
    calls();

    v.verify(&input, code.expose(), &ip).await.unwrap();
    assert_eq!(
        take(),
        (before + 2, evalsha(before + 2)),
        "a match: begin, consume, count the verification for the conversion guard"
    );
    assert_eq!(
        calls(),
        [("verify", before)],
        "{before} round trip(s) before the provider"
    );

    // The refusal path (no SMS): the reservation, then taking back the half that granted.
    assert!(v.send(&input, &ip).await.is_err());
    let (flights, commands) = take();
    assert_eq!(flights, 2);
    assert_eq!(commands, evalsha(3));
    assert!(calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verify_is_one_round_trip_before_the_provider_and_a_send_two() {
    count_round_trips(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_safe_scripts_cost_a_verify_one_round_trip_more() {
    count_round_trips(true).await;
}

// ---------------------------------------------------------------------------------------------
// Differential check (store_checks): the same random history of store calls, on a MokaStore and
// on the Redis store, must get the same answers, call for call.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_like_the_in_memory_store_on_random_histories() {
    let seed = u64::from_str_radix(&support::random_hex(), 16).unwrap();
    let leeway = Leeway {
        server_expires_revocations: true,
    };
    // Both Redis paths: one script for a verify, or the Cluster-safe two.
    store_checks::answers_like_the_in_memory_store_with(4, seed, leeway, |round| {
        caller_clock_store(round % 2 == 1)
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Time: the scripts go by the server's clock, so callers whose clocks disagree by minutes
// share every deadline.

#[tokio::test]
async fn callers_with_skewed_clocks_cannot_reset_a_lock_or_a_cooldown() {
    use twofactor_core::store::{
        AttemptDecision, AttemptLimits, Pending, SendAttempt, SendDecision, SendLimits,
        VerificationStore,
    };
    let prefix = support::prefix();
    let (Some(a), Some(b)) = (support::store(&prefix).await, support::store(&prefix).await) else {
        return;
    };
    assert_eq!((a.clock(), b.clock()), (Clock::Server, Clock::Server));
    let policy = Policy::default();
    let (sends, attempts) = (SendLimits::from(&policy), AttemptLimits::from(&policy));
    let now = twofactor_core::clock::unix_millis(std::time::SystemTime::now());
    let minutes = |m: u64| m * 60_000;
    // B's clock runs 20 minutes ahead of A's (past the cooldown, the lock and the code's life).
    let ahead = now + minutes(20);

    let p = phone();
    let send = |at| SendAttempt::new(p, at, sends);
    assert_eq!(
        a.reserve_send(&send(now)).await.unwrap(),
        SendDecision::Granted
    );
    assert!(
        matches!(
            b.reserve_send(&send(ahead)).await.unwrap(),
            SendDecision::Refused {
                limit: Limit::Cooldown,
                ..
            }
        ),
        "a clock 20 minutes ahead does not skip the cooldown"
    );

    // A's code lives ten minutes of the server's time, whatever B's clock says.
    let pending = Pending::new(7, Ticket::new("t"), now + minutes(10));
    a.put_pending(p, &pending, now).await.unwrap();
    assert!(
        matches!(
            b.begin_attempt(p, None, ahead, &attempts).await.unwrap(),
            AttemptDecision::Proceed { attempt: 1, .. }
        ),
        "the code has not expired for B"
    );
    for _ in 1..policy.max_attempts() {
        a.begin_attempt(p, None, now, &attempts).await.unwrap();
    }
    let behind = now.saturating_sub(minutes(20));
    for (store, at, who) in [(&b, ahead, "ahead"), (&a, behind, "behind")] {
        assert!(
            matches!(
                store.begin_attempt(p, None, at, &attempts).await.unwrap(),
                AttemptDecision::Locked { retry_after_ms } if retry_after_ms > minutes(14)
            ),
            "a clock 20 minutes {who} does not lift the lock"
        );
        assert!(
            matches!(
                store.reserve_send(&send(at)).await.unwrap(),
                SendDecision::Refused {
                    limit: Limit::Locked,
                    ..
                }
            ),
            "nor send to the locked phone"
        );
    }

    // The same with the callers' clocks: B's skew would have skipped the cooldown.
    let Some(caller) = support::connect(
        RedisStore::builder(&support::url())
            .prefix(&prefix)
            .clock(Clock::Caller),
    )
    .await
    else {
        return;
    };
    let q = phone();
    let send = |at| SendAttempt::new(q, at, sends);
    assert_eq!(
        caller.reserve_send(&send(now)).await.unwrap(),
        SendDecision::Granted
    );
    assert_eq!(
        caller.reserve_send(&send(ahead)).await.unwrap(),
        SendDecision::Granted,
        "with the callers' clocks a skewed caller is believed"
    );
}

// ---------------------------------------------------------------------------------------------
// Revocations: the stream is trimmed as entries expire, and goes when the last one does.

#[tokio::test]
async fn the_revocation_stream_forgets_expired_entries_and_then_goes() {
    use twofactor_core::store::{Revocation, RevocationCursor, VerificationStore};
    let prefix = support::prefix();
    let (Some(store), Some(mut raw)) = (support::store(&prefix).await, support::raw().await) else {
        return;
    };
    let stream = format!("{prefix}:{{revocations}}");
    let index = format!("{prefix}:{{revocations}}:exp");
    let now = || twofactor_core::clock::unix_millis(std::time::SystemTime::now());
    let token = |n: u8, life: u64| Revocation::Token {
        id: [n; 16],
        expires_at_ms: now() + life,
    };
    for n in 0..50 {
        store.revoke(&token(n, 300), now()).await.unwrap();
    }
    store.revoke(&token(99, 1_500), now()).await.unwrap();
    let len: usize = redis::cmd("XLEN")
        .arg(&stream)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(len, 51);
    let ttl: i64 = raw.pttl(&stream).await.unwrap();
    assert!(
        ttl > 0 && ttl <= 1_500,
        "the stream lives until its last entry expires: {ttl}"
    );

    tokio::time::sleep(Duration::from_millis(400)).await;
    let batch = store
        .revocations(&RevocationCursor::start(), now())
        .await
        .unwrap();
    assert_eq!(batch.entries.len(), 1, "the expired ones are not returned");
    // The next revocation forgets the expired entries.
    store.revoke(&token(100, 1_000), now()).await.unwrap();
    let len: usize = redis::cmd("XLEN")
        .arg(&stream)
        .query_async(&mut raw)
        .await
        .unwrap();
    let indexed: usize = raw.zcard(&index).await.unwrap();
    assert_eq!(
        (len, indexed),
        (2, 2),
        "expired entries are trimmed from both keys"
    );

    tokio::time::sleep(Duration::from_millis(1_700)).await;
    let batch = store
        .revocations(&RevocationCursor::start(), now())
        .await
        .unwrap();
    assert!(batch.entries.is_empty());
    let exists: usize = raw.exists(&[&stream, &index]).await.unwrap();
    assert_eq!(exists, 0, "after the last expiry, the keys are gone");
}

// ---------------------------------------------------------------------------------------------
// Eviction: a server of our own for each maxmemory-policy; the store warns at connect time.

/// Collects what `tracing` logs, for the warning checks.
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

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn an_evicting_maxmemory_policy_is_warned_about_at_connect_time() {
    let cases: [(&[&str], Eviction); 6] = [
        (
            &["--maxmemory", "64mb", "--maxmemory-policy", "noeviction"],
            Eviction::Never,
        ),
        (
            &["--maxmemory", "0", "--maxmemory-policy", "allkeys-lru"],
            Eviction::Never,
        ),
        (
            &["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"],
            Eviction::Possible {
                policy: "allkeys-lru".into(),
            },
        ),
        (
            // Every key of ours has a TTL: volatile-* policies evict them too.
            &["--maxmemory", "64mb", "--maxmemory-policy", "volatile-ttl"],
            Eviction::Possible {
                policy: "volatile-ttl".into(),
            },
        ),
        (
            // A managed Redis without CONFIG: INFO says it.
            &[
                "--maxmemory",
                "64mb",
                "--maxmemory-policy",
                "volatile-lru",
                "--rename-command",
                "INFO",
                "",
            ],
            Eviction::Possible {
                policy: "volatile-lru".into(),
            },
        ),
        (
            &[
                "--rename-command",
                "INFO",
                "",
                "--rename-command",
                "CONFIG",
                "",
            ],
            Eviction::Unknown,
        ),
    ];
    for (args, want) in cases {
        let Some(server) = Server::start(args) else {
            return;
        };
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = tracing::subscriber::with_default(subscriber, || {
            rt.block_on(RedisStore::builder(&server.url()).connect())
        })
        .unwrap();
        assert_eq!(store.eviction(), &want, "{args:?}");
        let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let warned = logged.contains("WARN") && logged.contains("maxmemory-policy");
        assert_eq!(warned, want != Eviction::Never, "{args:?}: {logged}");
        if let Eviction::Possible { policy } = &want {
            assert!(logged.contains(policy.as_str()), "{logged}");
        }
    }
}
