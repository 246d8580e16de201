//! The Redis store on a real Redis Cluster (feature `redis-cluster`) that each test starts on
//! free ports: the conformance suite, over TLS too; a slot moved under traffic; a primary
//! killed and its replica promoted. Outside CI the tests skip, saying why, when `redis-server`
//! is missing; under `CI=true` they fail. Every node is killed when its test ends, even by a
//! panic.

mod redis_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis_support::certs::Certs;
use redis_support::cluster::Cluster;
use redis_support::{self as support};
use twofactor_core::config::Settings;
use twofactor_core::mock::MockProvider;
use twofactor_core::store::conformance::random_phone;
use twofactor_core::store::redis::{Clock, RedisStore};
use twofactor_core::store::{AttemptDecision, AttemptLimits, Limit, StoreError, VerificationStore};
use twofactor_core::{Context, KeyRing, OtpCode, PhoneNumber, PhoneVerifier, Policy, SendError};

fn ctx() -> Context {
    Context::default()
}

/// A random phone that the default parser accepts.
fn phone() -> PhoneNumber {
    let parser = twofactor_core::PhoneParser::default();
    loop {
        let p = random_phone();
        if parser.parse(&p.to_string()).is_ok() {
            return p;
        }
    }
}

fn engine(store: RedisStore, mock: &MockProvider, policy: Policy) -> PhoneVerifier {
    PhoneVerifier::builder(mock.clone())
        .store(store)
        .keys(KeyRing::random())
        .policy(policy)
        .build()
        .unwrap()
}

/// The hash tag of a phone's keys (their slot is the tag's).
fn tag(p: PhoneNumber) -> String {
    format!("{{{p}}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_store_conformance_suite_on_three_primaries() {
    let Some(cluster) = Cluster::start(3, 0, None) else {
        return;
    };
    // Any one seed will do: the client learns the other nodes from it.
    let store = RedisStore::cluster_builder([cluster.url(1)])
        .prefix(support::prefix())
        .clock(Clock::Caller)
        .connect()
        .await
        .unwrap();
    assert!(format!("{store:?}").contains("cluster"), "{store:?}");
    assert!(
        store.cluster_safe_scripts(),
        "a cluster store keeps every script in one slot"
    );
    twofactor_core::store::conformance::run(Arc::new(store)).await;

    // Writes that must wait for a replica, with none: the store refuses to start.
    let err = RedisStore::cluster_builder(cluster.seeds())
        .wait_for_replicas(1)
        .connect()
        .await
        .unwrap_err();
    let text = support::chain(&err);
    assert!(text.contains("wait_for_replicas"), "{text}");

    // Configured from the environment: several seeds, comma-separated.
    let seeds = cluster.seeds().join(",");
    let settings = |cluster_flag: &'static str| {
        let seeds = seeds.clone();
        Settings::from_lookup(move |var| match var {
            "TWOFACTOR_REDIS_URL" => Some(seeds.clone()),
            "TWOFACTOR_REDIS_CLUSTER" => Some(cluster_flag.to_owned()),
            _ => None,
        })
    };
    let app = settings("true").unwrap().build().await.unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let send = app
        .send(
            &headers,
            None,
            format!(r#"{{"phone":"{}"}}"#, phone()).as_bytes(),
            |_| async { Ok(()) },
        )
        .await;
    assert_eq!(send.status, 200, "{:?}", send.body);
    match settings("false") {
        Err(twofactor_core::config::ConfigError::Invalid { var, .. }) => {
            assert_eq!(var, "TWOFACTOR_REDIS_URL");
        }
        other => panic!("several URLs without the cluster flag: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_tls_a_cluster_passes_the_conformance_suite_and_refuses_a_wrong_ca() {
    let Some(certs) = Certs::generate() else {
        return;
    };
    let Some(cluster) = Cluster::start(3, 0, Some(&certs.good)) else {
        return;
    };
    let err = RedisStore::cluster_builder(cluster.seeds())
        .ca_file(&certs.other_ca)
        .connect()
        .await
        .unwrap_err();
    let text = support::chain(&err);
    assert!(text.contains("certificate"), "{text}");
    let mixed = [
        cluster.url(0),
        cluster.url(1).replace("rediss://", "redis://"),
    ];
    let err = RedisStore::cluster_builder(mixed)
        .connect()
        .await
        .unwrap_err();
    assert!(support::chain(&err).contains("mix"), "{err:?}");

    let store = RedisStore::cluster_builder(cluster.seeds())
        .ca_file(&certs.ca)
        .prefix(support::prefix())
        .clock(Clock::Caller)
        .connect()
        .await
        .unwrap();
    twofactor_core::store::conformance::run(Arc::new(store)).await;
}

/// What the traffic saw.
#[derive(Debug, Default)]
struct Seen {
    /// `attempts_left` of every wrong guess answered, in the order answered.
    left: Vec<u32>,
    sends: usize,
    store_errors: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slots_moved_under_traffic_lose_no_count_and_fail_no_call() {
    let Some(cluster) = Cluster::start(3, 0, None) else {
        return;
    };
    let cluster = Arc::new(cluster);
    let store = RedisStore::cluster_builder(cluster.seeds())
        .prefix(support::prefix())
        .connect()
        .await
        .unwrap();
    let max = 100_000;
    let policy = Policy::builder()
        .resend_cooldown(Duration::ZERO)
        .sends_per_phone_per_hour(100_000)
        .sends_per_ip_per_hour(100_000)
        .sends_per_range_per_hour(100_000)
        .sends_per_hour(100_000)
        .conversion_min_sends(0)
        .build()
        .unwrap();
    // The guesses go to the store (an engine's budget is at most 20): the store's count is
    // what must survive the moves.
    let limits = unbounded(max);
    let mock = MockProvider::new();
    let v = engine(store.clone(), &mock, policy);
    // P takes wrong guesses, Q takes sends; each phone's slot moves to another primary.
    let (p, q) = (phone(), phone());
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let moves: Vec<(u16, usize, usize)> = [p, q]
        .iter()
        .map(|phone| {
            let slot = cluster.slot(&tag(*phone));
            let from = cluster.owner(slot);
            let to = cluster
                .primaries()
                .into_iter()
                .find(|&m| m != from)
                .unwrap();
            (slot, from, to)
        })
        .collect();
    // The receiving primaries forget every script: the store must load them where they run.
    for &(_, _, to) in &moves {
        cluster.exec(to, &["SCRIPT", "FLUSH"]);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(std::sync::Mutex::new(Seen::default()));
    let mut traffic = Vec::new();
    for i in 0..8 {
        let (v, store, stop, seen) = (v.clone(), store.clone(), stop.clone(), seen.clone());
        traffic.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if i % 2 == 0 {
                    match store.begin_attempt(p, None, now(), &limits).await {
                        Ok(AttemptDecision::Proceed { attempt, .. }) => {
                            seen.lock().unwrap().left.push(max - attempt);
                        }
                        Err(e) => {
                            seen.lock().unwrap().store_errors.push(support::chain(&e));
                        }
                        other => panic!("a wrong guess answered {other:?}"),
                    }
                } else {
                    match v.send(&q.to_string(), &ctx()).await {
                        Ok(_) => seen.lock().unwrap().sends += 1,
                        // Two sends in one millisecond: even a zero cooldown keeps them apart.
                        Err(SendError::RateLimited {
                            limit: Limit::Cooldown,
                            ..
                        }) => {}
                        Err(SendError::StoreUnavailable(e)) => {
                            seen.lock().unwrap().store_errors.push(support::chain(&e));
                        }
                        Err(other) => panic!("a send answered {other:?}"),
                    }
                }
            }
        }));
    }
    let mover = cluster.clone();
    let moved = moves.clone();
    tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(300));
        for (slot, from, to) in moved {
            mover.migrate_slot(slot, from, to, Duration::from_millis(300));
        }
        std::thread::sleep(Duration::from_millis(300));
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    for task in traffic {
        task.await.unwrap();
    }

    for &(slot, _, to) in &moves {
        assert_eq!(cluster.owner(slot), to, "slot {slot} moved");
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.store_errors.is_empty(),
        "calls failed while slots moved: {:?}",
        seen.store_errors
    );
    assert!(
        seen.left.len() > 20 && seen.sends > 20,
        "too little traffic: {} guesses, {} sends",
        seen.left.len(),
        seen.sends
    );
    // Every guess was counted once: the answers are all different, and the next one follows.
    let mut left = seen.left.clone();
    left.sort_unstable();
    left.dedup();
    assert_eq!(left.len(), seen.left.len(), "an attempt count repeated");
    let answered = u32::try_from(seen.left.len()).unwrap();
    match store.begin_attempt(p, None, now(), &limits).await {
        Ok(AttemptDecision::Proceed { attempt, .. }) => assert_eq!(attempt, answered + 1),
        other => panic!("after the moves: {other:?}"),
    }
    assert_eq!(mock.send_count(), 1 + seen.sends as u64);
}

/// Attempt limits without a lock in sight, for the store alone (an engine's budget is at most
/// 20, too few for these runs).
fn unbounded(max: u32) -> AttemptLimits {
    let mut limits = AttemptLimits::from(&Policy::default());
    limits.max_attempts = max;
    limits
}

fn now() -> u64 {
    twofactor_core::clock::unix_millis(std::time::SystemTime::now())
}

/// One store's wrong guesses at one phone (counted as the engine counts them, before the
/// comparison), with the count they must keep going down; the code comes from an engine's
/// send on the same store.
struct Guesser {
    store: RedisStore,
    v: PhoneVerifier,
    phone: PhoneNumber,
    input: String,
    code: OtpCode,
    limits: AttemptLimits,
    max: u32,
    left: u32,
    answered: u32,
    failed: u32,
}

impl Guesser {
    async fn new(store: RedisStore, mock: &MockProvider, phone: PhoneNumber, max: u32) -> Self {
        let v = engine(store.clone(), mock, Policy::default());
        let input = phone.to_string();
        v.send(&input, &ctx()).await.unwrap();
        let code = mock.last_code(&phone).unwrap();
        Self {
            store,
            v,
            phone,
            input,
            code,
            limits: unbounded(max),
            max,
            left: max,
            answered: 0,
            failed: 0,
        }
    }

    /// One wrong guess's count, in bounded time: true if answered (its count below the last
    /// one); an answer is what lets the engine compare.
    async fn guess(&mut self) -> bool {
        self.attempt().await.is_ok()
    }

    async fn attempt(&mut self) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self
            .store
            .begin_attempt(self.phone, None, now(), &self.limits)
            .await;
        // The store's timeout (2 s in the failover test) plus slack: never hung.
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "a call took {:?}",
            started.elapsed()
        );
        match result {
            Ok(AttemptDecision::Proceed { attempt, .. }) => {
                let left = self.max - attempt;
                assert!(
                    left < self.left,
                    "a count was lost: {left} left after {}",
                    self.left
                );
                self.left = left;
                self.answered += 1;
                Ok(())
            }
            Err(e) => {
                self.failed += 1;
                Err(e)
            }
            Ok(other) => panic!("a wrong guess answered {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_killed_fails_closed_until_its_replica_serves_and_waited_writes_are_never_lost() {
    let Some(mut cluster) = Cluster::start(3, 1, None) else {
        return;
    };
    // WAIT gets half of it: on a loaded two-core machine a replica's acknowledgement can take
    // a few hundred milliseconds, and a refused write here is not what this test is about.
    let timeout = Duration::from_millis(2_000);
    let prefix = support::prefix();
    // Two apps on the cluster: the default, and one whose writes wait for a replica.
    let fast = RedisStore::cluster_builder(cluster.seeds())
        .prefix(&prefix)
        .timeout(timeout)
        .connect()
        .await
        .unwrap();
    let durable = RedisStore::cluster_builder(cluster.seeds())
        .wait_for_replicas(1)
        .prefix(&prefix)
        .timeout(timeout)
        .connect()
        .await
        .unwrap();
    let max = 1_000;
    let mock = MockProvider::new();
    // Two phones on the same primary.
    let pf = phone();
    let primary = cluster.owner(cluster.slot(&tag(pf)));
    let pd = std::iter::repeat_with(phone)
        .take(200)
        .find(|p| *p != pf && cluster.owner(cluster.slot(&tag(*p))) == primary)
        .expect("a second phone on that primary");
    let replica = cluster.replicas_of(primary)[0];
    let mut f = Guesser::new(fast, &mock, pf, max).await;
    let mut d = Guesser::new(durable, &mock, pd, max).await;
    for _ in 0..3 {
        assert!(f.guess().await && d.guess().await);
    }

    // The replica stops acknowledging: a waited write is not confirmed, so its guess is not
    // compared (fails closed, in bounded time); the default does not wait.
    let compared = f.answered + d.answered;
    cluster.signal(replica, "-STOP");
    let unconfirmed = d.attempt().await;
    let fast_meanwhile = f.guess().await;
    cluster.signal(replica, "-CONT");
    match unconfirmed {
        Err(e) => {
            let text = support::chain(&e);
            assert!(text.contains("replicas acknowledged"), "{text}");
        }
        Ok(()) => panic!("an unconfirmed write was answered"),
    }
    assert!(fast_meanwhile, "the default does not wait for replicas");
    assert_eq!(
        f.answered + d.answered,
        compared + 1,
        "no comparison without a confirmed count"
    );
    // It did run on the primary (the safe side: one attempt spent).
    d.left -= 1;
    for _ in 0..3 {
        assert!(f.guess().await && d.guess().await);
    }

    cluster.kill(primary);
    let killed = Instant::now();
    let compared = f.answered + d.answered;
    // The gap: no primary serves the slot. Every guess fails closed until the replica is
    // promoted; then the default serves again by itself, while waited writes keep failing
    // closed: the new primary has no replica to confirm them.
    let mut promoted = false;
    let (f_failed, d_failed) = (f.failed, d.failed);
    loop {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no failover in 30 s"
        );
        let answered = f.guess().await;
        assert!(
            !d.guess().await,
            "a waited write was confirmed with no replica"
        );
        promoted = promoted || cluster.is_primary(replica);
        if answered {
            assert!(promoted, "answered before the replica took over");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(f.failed > f_failed, "the gap was never seen");
    for _ in 0..3 {
        assert!(f.guess().await, "the promoted replica serves the default");
        assert!(!d.guess().await);
    }
    assert_eq!(
        f.answered + d.answered,
        compared + 4,
        "no comparison for the failed calls"
    );

    // The old primary comes back, as the new primary's replica: waited writes are confirmed
    // again, and every count confirmed before the kill is still there.
    let before = d.left;
    cluster.restart(primary);
    let back = Instant::now();
    while !d.guess().await {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "no recovery in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each failed call may have spent an attempt on a primary (the safe side), no more.
    let spent = before - d.left;
    assert!(spent <= d.failed - d_failed + 1, "{before} -> {}", d.left);
    for _ in 0..3 {
        assert!(f.guess().await && d.guess().await);
    }
    assert!(
        !cluster.is_primary(primary),
        "the old primary came back as a replica"
    );
    // The pending codes survived too, and verify.
    for g in [&f, &d] {
        g.v.verify(&g.input, g.code.expose(), &ctx()).await.unwrap();
    }
}

/// Wrong guesses per second (`begin_attempt` alone, as the engine does for a wrong guess with
/// attempts left) with `in_flight` calls at a time on one store, for `secs` seconds.
async fn wrong_guesses_per_second(store: RedisStore, in_flight: usize, secs: u64) -> f64 {
    use twofactor_core::store::Pending;
    let store = Arc::new(store);
    let now = || twofactor_core::clock::unix_millis(std::time::SystemTime::now());
    // The same phones over and over: no lock (past the policy's bound, on the store alone).
    let limits = unbounded(1_000_000_000);
    let phones: Vec<PhoneNumber> = (0..in_flight).map(|_| phone()).collect();
    for (i, p) in phones.iter().enumerate() {
        let pending = Pending::new(
            i as u64 + 1,
            twofactor_core::Ticket::new("t"),
            now() + 600_000,
        );
        store.put_pending(*p, &pending, now()).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = phones
        .into_iter()
        .map(|p| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    match store.begin_attempt(p, None, now(), &limits).await.unwrap() {
                        AttemptDecision::Proceed { .. } => done += 1,
                        other => panic!("{other:?}"),
                    }
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / secs as f64
}

/// Not a test: the figures for the cluster's cost. Run with
/// `cargo test --release -p twofactor-core --test redis_cluster -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn measure_wrong_guesses_single_redis_against_a_cluster() {
    let (in_flight, secs) = (64, 5);
    let Some(server) = support::Server::start(&[]) else {
        return;
    };
    let single = RedisStore::builder(&server.url())
        .prefix(support::prefix())
        .connect()
        .await
        .unwrap();
    let single = wrong_guesses_per_second(single, in_flight, secs).await;
    drop(server);
    let Some(cluster) = Cluster::start(3, 0, None) else {
        return;
    };
    let store = RedisStore::cluster_builder(cluster.seeds())
        .prefix(support::prefix())
        .connect()
        .await
        .unwrap();
    let plain = wrong_guesses_per_second(store, in_flight, secs).await;
    drop(cluster);
    let Some(cluster) = Cluster::start(3, 1, None) else {
        return;
    };
    let store = RedisStore::cluster_builder(cluster.seeds())
        .wait_for_replicas(1)
        .prefix(support::prefix())
        .connect()
        .await
        .unwrap();
    let waited = wrong_guesses_per_second(store, in_flight, secs).await;
    eprintln!(
        "wrong guesses/s, {in_flight} in flight: single Redis {single:.0}; cluster of 3 primaries \
         {plain:.0} ({:.2}x); 3 primaries + 3 replicas with WAIT 1 {waited:.0} ({:.2}x)",
        plain / single,
        waited / single
    );
}

#[tokio::test]
async fn a_password_in_the_seed_urls_shows_nowhere() {
    let secret = "cluster-pw-5d1f-do-not-print";
    // Nothing listens there, then a refused database number, then a mix of schemes.
    let seeds = [
        format!("redis://:{secret}@127.0.0.1:{}", support::free_port()),
        format!("redis://:{secret}@127.0.0.1:{}", support::free_port()),
    ];
    let builder = RedisStore::cluster_builder(&seeds);
    assert!(!format!("{builder:?}").contains(secret));
    let mut errors = vec![builder.connect().await.unwrap_err()];
    errors.push(
        RedisStore::cluster_builder([format!("{}/3", seeds[0])])
            .connect()
            .await
            .unwrap_err(),
    );
    errors.push(
        RedisStore::cluster_builder([seeds[0].clone(), seeds[1].replace("redis://", "rediss://")])
            .connect()
            .await
            .unwrap_err(),
    );
    for err in &errors {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = next {
            for text in [e.to_string(), format!("{e:?}")] {
                assert!(!text.contains(secret), "the password leaked in {text:?}");
            }
            next = e.source();
        }
    }
    assert!(
        support::chain(&errors[1]).contains("only database 0"),
        "{:?}",
        errors[1]
    );
}
