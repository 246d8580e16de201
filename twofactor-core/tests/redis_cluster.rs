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
use twofactor_core::store::Limit;
use twofactor_core::store::conformance::random_phone;
use twofactor_core::store::redis::RedisStore;
use twofactor_core::{
    Context, KeyRing, OtpCode, PhoneNumber, PhoneVerifier, Policy, SendError, VerifyError,
};

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

fn wrong_code(right: &OtpCode) -> String {
    if right.expose() == "000000" {
        "111111".into()
    } else {
        "000000".into()
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
        .wait_for_replicas(0)
        .prefix(support::prefix())
        .connect()
        .await
        .unwrap();
    assert!(format!("{store:?}").contains("cluster"), "{store:?}");
    twofactor_core::store::conformance::run(Arc::new(store)).await;

    // By default every write waits for a replica: with none, the store refuses to start.
    let err = RedisStore::cluster_builder(cluster.seeds())
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
            "TWOFACTOR_REDIS_WAIT_REPLICAS" => Some("0".to_owned()),
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
        .send(&headers, None, format!(r#"{{"phone":"{}"}}"#, phone()).as_bytes())
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
        .wait_for_replicas(0)
        .connect()
        .await
        .unwrap_err();
    let text = support::chain(&err);
    assert!(text.contains("certificate"), "{text}");
    let mixed = [cluster.url(0), cluster.url(1).replace("rediss://", "redis://")];
    let err = RedisStore::cluster_builder(mixed)
        .connect()
        .await
        .unwrap_err();
    assert!(support::chain(&err).contains("mix"), "{err:?}");

    let store = RedisStore::cluster_builder(cluster.seeds())
        .ca_file(&certs.ca)
        .wait_for_replicas(0)
        .prefix(support::prefix())
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
        .wait_for_replicas(0)
        .prefix(support::prefix())
        .connect()
        .await
        .unwrap();
    let max = 100_000;
    let policy = Policy::builder()
        .max_attempts(max)
        .resend_cooldown(Duration::ZERO)
        .sends_per_phone_per_hour(100_000)
        .sends_per_ip_per_hour(100_000)
        .sends_per_hour(100_000)
        .build()
        .unwrap();
    let mock = MockProvider::new();
    let v = engine(store, &mock, policy);
    // P takes wrong guesses, Q takes sends; each phone's slot moves to another primary.
    let (p, q) = (phone(), phone());
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let wrong = wrong_code(&mock.last_code(&p).unwrap());
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
        let (v, stop, seen, wrong) = (v.clone(), stop.clone(), seen.clone(), wrong.clone());
        traffic.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if i % 2 == 0 {
                    match v.verify(&p.to_string(), &wrong, &ctx()).await {
                        Err(VerifyError::Incorrect { attempts_left }) => {
                            seen.lock().unwrap().left.push(attempts_left);
                        }
                        Err(VerifyError::StoreUnavailable(e)) => {
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
    match v.verify(&p.to_string(), &wrong, &ctx()).await {
        Err(VerifyError::Incorrect { attempts_left }) => {
            assert_eq!(attempts_left, max - answered - 1);
        }
        other => panic!("after the moves: {other:?}"),
    }
    assert_eq!(mock.send_count(), 1 + seen.sends as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_replicas_a_write_counts_once_a_replica_has_it_and_a_failover_loses_no_count() {
    let Some(mut cluster) = Cluster::start(3, 1, None) else {
        return;
    };
    let store = RedisStore::cluster_builder(cluster.seeds())
        .prefix(support::prefix())
        .timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    let max = 1_000;
    let policy = Policy::builder().max_attempts(max).build().unwrap();
    let mock = MockProvider::new();
    let v = engine(store, &mock, policy);
    let p = phone();
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let code = mock.last_code(&p).unwrap();
    let wrong = wrong_code(&code);
    let primary = cluster.owner(cluster.slot(&tag(p)));
    let replica = cluster.replicas_of(primary)[0];
    let (input, none) = (p.to_string(), ctx());
    let guess = || v.verify(&input, &wrong, &none);
    let mut last_left = max;
    for _ in 0..3 {
        match guess().await {
            Err(VerifyError::Incorrect { attempts_left }) => {
                assert!(attempts_left < last_left);
                last_left = attempts_left;
            }
            other => panic!("{other:?}"),
        }
    }

    // The replica stops acknowledging: the write is not confirmed, so the guess is not
    // compared (fails closed, in bounded time).
    let compared = mock.verify_count();
    cluster.signal(replica, "-STOP");
    let started = Instant::now();
    let unconfirmed = guess().await;
    cluster.signal(replica, "-CONT");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    match unconfirmed {
        Err(VerifyError::StoreUnavailable(e)) => {
            let text = support::chain(&e);
            assert!(text.contains("replicas acknowledged"), "{text}");
        }
        other => panic!("an unreplicated write answered {other:?}"),
    }
    assert_eq!(mock.verify_count(), compared, "no comparison without a confirmed count");
    // It ran on the primary, though (the safe side: one attempt spent).
    last_left -= 1;

    // Five more guesses, then the primary dies.
    let answer = |r: Result<_, VerifyError>, last_left: &mut u32| match r {
        Err(VerifyError::Incorrect { attempts_left }) => {
            assert!(
                attempts_left < *last_left,
                "a count was lost: {attempts_left} left after {last_left}"
            );
            *last_left = attempts_left;
            true
        }
        Err(VerifyError::StoreUnavailable(_)) => false,
        other => panic!("a wrong guess answered {other:?}"),
    };
    for _ in 0..5 {
        assert!(answer(guess().await, &mut last_left));
    }
    cluster.kill(primary);
    let killed = Instant::now();

    // The gap: first no primary for the slot, then a primary (the promoted replica) with no
    // replica of its own to acknowledge. Every guess fails closed, in bounded time.
    let (mut failed, mut promoted_seen) = (0u32, 0);
    while promoted_seen < 3 {
        assert!(killed.elapsed() < Duration::from_secs(30), "no failover in 30 s");
        let t = Instant::now();
        let r = guess().await;
        assert!(t.elapsed() < Duration::from_secs(2), "a call took {:?}", t.elapsed());
        assert!(!answer(r, &mut last_left), "answered with no replica to confirm");
        failed += 1;
        if cluster.is_primary(replica) {
            promoted_seen += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mock.verify_count(), compared + 5, "no comparison in the gap");

    // The old primary comes back, as the new primary's replica: writes are confirmed again,
    // and every count confirmed before the kill is still there.
    let before = last_left;
    cluster.restart(primary);
    let back = Instant::now();
    loop {
        assert!(back.elapsed() < Duration::from_secs(30), "no recovery in 30 s");
        if answer(guess().await, &mut last_left) {
            break;
        }
        failed += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each failed call may have spent an attempt on a primary (the safe side), no more.
    assert!(before - last_left <= failed + 1, "{before} -> {last_left}, {failed} failures");
    for _ in 0..5 {
        assert!(answer(guess().await, &mut last_left));
    }
    assert!(cluster.is_primary(replica), "the replica took over");
    assert!(!cluster.is_primary(primary), "the old primary came back as a replica");
    // The pending code survived too, and verifies.
    v.verify(&p.to_string(), code.expose(), &ctx())
        .await
        .unwrap();
}
