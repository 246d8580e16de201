//! The Redis store on a real Redis Cluster (feature `redis-cluster`) started on free ports:
//! the conformance suite, over TLS too; the checks every shared store passes (`store_checks`:
//! the differential check, two instances racing, revocation across instances); the whole
//! cluster killed, frozen and restarted (`store_checks::outage`); a slot moved under traffic.
//! A primary killed and its replica promoted is `redis_cluster_failover.rs`: a test binary of
//! its own, so that no other test loads the machine while it times a failover.
//!
//! The conformance suite and the `store_checks` run on one cluster of three primaries shared by
//! this test binary (`redis_support::cluster::shared`, each test on a key prefix of its own);
//! the tests that stop nodes, move slots or need TLS start clusters of their own. Outside CI
//! the tests skip, saying why, when `redis-server` is missing; under `CI=true` they fail. Every
//! node is killed when its test ends, even by a panic (the shared cluster's when the binary
//! exits).

#[path = "redis_support/outage.rs"]
mod redis_outage;
mod redis_support;
mod store_checks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis_support::certs::Certs;
use redis_support::cluster::{self, Cluster, tag};
use redis_support::{self as support};
use store_checks::{Leeway, ctx, now_ms, outage, phone, unbounded};
use twofactor_core::config::Settings;
use twofactor_core::mock::MockProvider;
use twofactor_core::store::redis::{Clock, RedisStore};
use twofactor_core::store::{AttemptDecision, Limit, VerificationStore};
use twofactor_core::{KeyRing, PhoneNumber, PhoneVerifier, Policy, SendError};

fn engine(store: RedisStore, mock: &MockProvider, policy: Policy) -> PhoneVerifier {
    store_checks::engine(store, mock.clone(), &KeyRing::random(), policy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_store_conformance_suite_on_three_primaries() {
    let Some(cluster) = cluster::shared() else {
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

// ---------------------------------------------------------------------------------------------
// The checks every shared store passes (store_checks), on the shared cluster.

/// Two stores (two `connect` calls) on the shared cluster under one fresh prefix: two app
/// instances.
async fn two_stores() -> Option<(RedisStore, RedisStore)> {
    let cluster = cluster::shared()?;
    let prefix = support::prefix();
    let store = || {
        RedisStore::cluster_builder(cluster.seeds())
            .prefix(&prefix)
            .connect()
    };
    Some((store().await.unwrap(), store().await.unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_like_the_in_memory_store_on_random_histories() {
    let seed = u64::from_str_radix(&support::random_hex(), 16).unwrap();
    let leeway = Leeway {
        server_expires_revocations: true,
    };
    // A cluster store always runs the Cluster-safe scripts.
    store_checks::answers_like_the_in_memory_store_with(2, seed, leeway, |_| async {
        let cluster = cluster::shared()?;
        let builder = RedisStore::cluster_builder(cluster.seeds())
            .prefix(support::prefix())
            .clock(Clock::Caller);
        Some(builder.connect().await.unwrap())
    })
    .await;
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

// ---------------------------------------------------------------------------------------------
// Outages (store_checks::outage) of the whole cluster: every primary killed then restarted
// (with its cluster state, empty), every primary frozen then woken. This is the cluster's
// counterpart of a single server going away; one primary lost while its replica takes over is
// the failover test (`redis_cluster_failover.rs`). The three outages run one after the other
// on one cluster of the test's own: a cluster takes seconds to start.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_cluster_killed_frozen_or_restarted_fails_closed_in_bounded_time_and_recovers() {
    let Some(mut cluster) = Cluster::start(3, 0, None) else {
        return;
    };
    let store = |cluster: &Cluster, timeout| {
        RedisStore::cluster_builder(cluster.seeds())
            .prefix(support::prefix())
            .timeout(timeout)
            .connect()
    };
    let killed = store(&cluster, Duration::from_millis(500)).await.unwrap();
    outage::fails_closed_while_down_and_recovers(killed, &mut cluster).await;
    // A store that sat idle through that outage fails its first call after it (on its dead
    // connection, as on a single server), so each outage gets a store of its own.
    let frozen = store(&cluster, Duration::from_millis(300)).await.unwrap();
    outage::times_out_while_frozen_and_recovers(frozen, &mut cluster).await;

    // Configured from the environment as the demos are: every node a seed.
    let seeds = cluster.seeds().join(",");
    let settings = Settings::from_lookup(|var| match var {
        "TWOFACTOR_REDIS_URL" => Some(seeds.clone()),
        "TWOFACTOR_REDIS_CLUSTER" => Some("true".to_owned()),
        "TWOFACTOR_PROVIDER" => Some("console".to_owned()),
        _ => None,
    })
    .unwrap();
    let app = settings.build().await.unwrap();
    outage::answers_503_with_retry_after_and_recovers(&app, &mut cluster).await;
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
                    match store.begin_attempt(p, None, now_ms(), &limits).await {
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
    match store.begin_attempt(p, None, now_ms(), &limits).await {
        Ok(AttemptDecision::Proceed { attempt, .. }) => assert_eq!(attempt, answered + 1),
        other => panic!("after the moves: {other:?}"),
    }
    assert_eq!(mock.send_count(), 1 + seen.sends as u64);
}

/// Wrong guesses per second (`begin_attempt` alone, as the engine does for a wrong guess with
/// attempts left) with `in_flight` calls at a time on one store, for `secs` seconds.
async fn wrong_guesses_per_second(store: RedisStore, in_flight: usize, secs: u64) -> f64 {
    use twofactor_core::store::Pending;
    let store = Arc::new(store);
    // The same phones over and over: no lock (past the policy's bound, on the store alone).
    let limits = unbounded(1_000_000_000);
    let phones: Vec<PhoneNumber> = (0..in_flight).map(|_| phone()).collect();
    for (i, p) in phones.iter().enumerate() {
        let pending = Pending::new(
            i as u64 + 1,
            twofactor_core::Ticket::new("t"),
            now_ms() + 600_000,
        );
        store.put_pending(*p, &pending, now_ms()).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = phones
        .into_iter()
        .map(|p| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    match store
                        .begin_attempt(p, None, now_ms(), &limits)
                        .await
                        .unwrap()
                    {
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
