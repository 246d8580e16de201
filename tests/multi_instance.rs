//! Two demo apps — one on axum, one on actix — sharing one Redis, as two instances behind a load
//! balancer: a code sent by one verifies on the other, a token from one is accepted by the
//! other, and the attempt budget and send caps hold across both. And the two sessions
//! examples as two instances of one app: a login on one is a login on the other, and a phone
//! verified on one is bound to that login on both.
//!
//! The two-instance and logout checks run on Redis, Redis over TLS, Redis Cluster and
//! PostgreSQL alike. The TLS server (with a CA the tests make with `openssl`) and the cluster
//! (three primaries) are started on free ports once for this test binary, with the support
//! code of twofactor-core's store tests (`redis_support`, included by path), and stopped when
//! it exits.
//!
//! Outside CI a test skips, saying why, when no Redis answers at `TWOFACTOR_TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`), no PostgreSQL at `TWOFACTOR_TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`), or `redis-server` or `openssl` is
//! missing; under `CI=true` it fails instead.

// The TLS server and the cluster of the store tests, reused rather than copied.
#[path = "../twofactor-core/tests/redis_support/mod.rs"]
mod redis_support;

use std::sync::Arc;

use twofactor_core::clock::ManualClock;
use twofactor_core::config::{Settings, StoreSettings};
use twofactor_core::store::MokaStore;
use twofactor_core::store::VerificationStore;
use twofactor_core::store::postgres::{self, PostgresStore};
use twofactor_core::store::redis::{Clock, RedisStore};
use twofactor_examples::sessions::{SessionRecords, Setup};
use twofactor_tests::{Adapter, FakeTwoFactorIn, Options, SESSION_COOKIE, TestApp, engine};

const PHONE: &str = "+919812345678";

async fn redis(prefix: &str) -> Option<RedisStore> {
    let url = std::env::var("TWOFACTOR_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    // The apps run on a manual clock that the test moves: the store must go by it, not by
    // the Redis server's clock.
    match RedisStore::builder(&url)
        .prefix(prefix)
        .clock(Clock::Caller)
        .connect()
        .await
    {
        Ok(store) => Some(store),
        Err(e) => {
            let in_ci = std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1" | "yes"));
            assert!(!in_ci, "CI=true: Redis must answer at {url}: {e}");
            eprintln!("skipping: no Redis at {url}: {e}");
            None
        }
    }
}

/// A schema of the test's own in the test PostgreSQL, dropped (with `psql`, where it is
/// installed) when the test ends.
struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(database_url())
            .arg("-qc")
            .arg(format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0))
            .output();
    }
}

fn database_url() -> String {
    std::env::var("TWOFACTOR_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn postgres(schema: &str) -> Option<PostgresStore> {
    let url = database_url();
    // The apps run on a manual clock that the test moves: the store must go by it.
    match PostgresStore::builder(&url)
        .schema(schema)
        .clock(postgres::Clock::Caller)
        .connect()
        .await
    {
        Ok(store) => Some(store),
        Err(e) => {
            let in_ci = std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1" | "yes"));
            assert!(!in_ci, "CI=true: PostgreSQL must answer: {e}");
            eprintln!("skipping: no PostgreSQL at TWOFACTOR_TEST_DATABASE_URL: {e}");
            None
        }
    }
}

/// A store as a demo builds it from its variables (`TWOFACTOR_REDIS_URL`, `_CA_FILE`,
/// `_CLUSTER`: checked by `Settings` as at a demo's start-up, then the builder calls of
/// `Settings::verifier`), under `prefix` and on the apps' manual clock.
async fn redis_from_env(vars: &[(&str, String)], prefix: &str) -> RedisStore {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.clone())
    };
    let settings = Settings::from_lookup(lookup).unwrap_or_else(|e| panic!("{vars:?}: {e}"));
    let StoreSettings::Redis(redis) = &settings.store else {
        panic!("{vars:?}: not a Redis store: {:?}", settings.store)
    };
    let mut builder = if redis.cluster {
        RedisStore::cluster_builder(redis.urls())
    } else {
        RedisStore::builder(redis.urls()[0])
    };
    if let Some(ca) = &redis.ca_file {
        builder = builder.ca_file(ca);
    }
    builder
        .prefix(prefix)
        .clock(Clock::Caller)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{vars:?}: {e}"))
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Redis,
    /// `rediss://`, verified with the test CA.
    RedisTls,
    /// Three primaries, every node a seed.
    RedisCluster,
    Postgres,
}

/// Two stores on one fresh namespace of `backend` (two connections, as two processes would
/// have), and what to drop when the test ends; `None`: skip.
async fn two_stores(
    backend: Backend,
) -> Option<(
    Arc<dyn VerificationStore>,
    Arc<dyn VerificationStore>,
    Option<Schema>,
)> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).unwrap_or_else(|e| panic!("randomness: {e}"));
    let random = u64::from_le_bytes(random);
    match backend {
        Backend::Redis => {
            let prefix = format!("twofactor-test:{random}");
            let (a, b) = (redis(&prefix).await?, redis(&prefix).await?);
            Some((Arc::new(a), Arc::new(b), None))
        }
        Backend::RedisTls | Backend::RedisCluster => {
            let vars = match backend {
                Backend::RedisTls => {
                    let tls = redis_support::shared_tls()?;
                    vec![
                        ("TWOFACTOR_REDIS_URL", tls.url()),
                        (
                            "TWOFACTOR_REDIS_CA_FILE",
                            tls.certs.ca.display().to_string(),
                        ),
                    ]
                }
                _ => vec![
                    (
                        "TWOFACTOR_REDIS_URL",
                        redis_support::cluster::shared()?.seeds().join(","),
                    ),
                    ("TWOFACTOR_REDIS_CLUSTER", "true".to_owned()),
                ],
            };
            let prefix = format!("twofactor-test:{random}");
            let (a, b) = (
                redis_from_env(&vars, &prefix).await,
                redis_from_env(&vars, &prefix).await,
            );
            Some((Arc::new(a), Arc::new(b), None))
        }
        Backend::Postgres => {
            let schema = Schema(format!("tf_test_{random:016x}"));
            let (a, b) = (postgres(&schema.0).await?, postgres(&schema.0).await?);
            Some((Arc::new(a), Arc::new(b), Some(schema)))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_are_one_service() {
    two_instances_are_one_service(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_over_tls_are_one_service() {
    two_instances_are_one_service(Backend::RedisTls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_cluster_are_one_service() {
    two_instances_are_one_service(Backend::RedisCluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_are_one_service() {
    two_instances_are_one_service(Backend::Postgres).await;
}

async fn two_instances_are_one_service(backend: Backend) {
    let Some((store_a, store_b, _schema)) = two_stores(backend).await else {
        return;
    };
    let fake = FakeTwoFactorIn::start().await;
    let clock = ManualClock::new();
    let spawn = |adapter, store: Arc<dyn VerificationStore>| {
        let options = Options {
            store: Some(store),
            ..Options::default()
        };
        TestApp::serve(
            adapter,
            engine(&options, &fake, &clock),
            fake.clone(),
            clock.clone(),
        )
    };
    let a = spawn(Adapter::Axum, store_a).await;
    let b = spawn(Adapter::Actix, store_b).await;

    assert_eq!(a.send(PHONE).await.status, 200);
    let again = b.send(PHONE).await;
    assert_eq!(
        (again.status, again.error().as_str()),
        (429, "rate_limited"),
        "the cooldown is shared"
    );
    let wrong = a.wrong_code(PHONE);
    assert_eq!(b.verify(PHONE, &wrong).await.json()["attempts_left"], 4);
    assert_eq!(
        a.verify(PHONE, &wrong).await.json()["attempts_left"],
        3,
        "the count is shared"
    );
    let verified = b.verify(PHONE, &a.code(PHONE)).await;
    assert_eq!(verified.status, 200, "a code sent by A verifies on B");
    let token = verified.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        a.get("/protected", Some(&token)).await.status,
        200,
        "a token from B is accepted by A"
    );

    // 100 wrong guesses released together, split across both: exactly 5 compared.
    clock.advance(std::time::Duration::from_secs(30));
    assert_eq!(b.send(PHONE).await.status, 200);
    let wrong = a.wrong_code(PHONE);
    let before = fake.verify_calls().await;
    let statuses = a
        .verify_together(&[&a.base, &b.base], 100, PHONE, &wrong)
        .await;
    let count = |s: u16| statuses.iter().filter(|x| **x == s).count();
    assert_eq!((count(422), count(429)), (4, 96), "{statuses:?}");
    assert_eq!(
        fake.verify_calls().await - before,
        5,
        "exactly max_attempts reached the provider"
    );
}

/// The sessions examples' sessions in the Redis of the tests, under `prefix`; `None` (skip)
/// outside CI when no Redis answers.
async fn session_records(prefix: &str) -> Option<SessionRecords> {
    let url = std::env::var("TWOFACTOR_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    match SessionRecords::redis(&url, prefix).await {
        Ok(records) => Some(records),
        Err(e) => {
            let in_ci = std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1" | "yes"));
            assert!(!in_ci, "CI=true: Redis must answer at {url}: {e}");
            eprintln!("skipping: no Redis at {url}: {e}");
            None
        }
    }
}

fn random_prefix(what: &str) -> String {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).unwrap_or_else(|e| panic!("randomness: {e}"));
    format!("twofactor-test:{what}:{}:", u64::from_le_bytes(random))
}

/// A sessions example of `adapter` as one instance: its sessions in Redis (its own
/// connection, as a separate process would have), its own user table, the verification state
/// in `store`.
async fn sessions_instance(
    adapter: Adapter,
    records: SessionRecords,
    store: Arc<dyn VerificationStore>,
    fake: &FakeTwoFactorIn,
    clock: &ManualClock,
) -> TestApp {
    let options = Options {
        store: Some(store),
        ..Options::default()
    };
    let setup = Setup {
        redis: Some(records),
        ..Setup::default()
    };
    TestApp::serve_with(
        adapter,
        engine(&options, fake, clock),
        fake.clone(),
        clock.clone(),
        setup,
    )
    .await
}

/// Login on A (axum), send on A, verify on B (actix) with A's session cookie, `/me` and
/// `/protected` on A, logout on B: one login and one binding across both.
async fn one_login_across_two_instances(a: &TestApp, b: &TestApp) {
    let login = a.login("alice").await;
    let sent = a
        .post_json_as(
            "/phone/send",
            Some(&login),
            serde_json::json!({ "phone": PHONE }),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let me = b.get_as("/me", Some(&login), None).await;
    assert_eq!(
        me.text, r#"{"user":"alice","phone":null}"#,
        "B knows A's login"
    );
    let verified = b.verify_as(Some(&login), PHONE, &a.code(PHONE)).await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(
        b.users.get("alice").and_then(|u| u.phone).as_deref(),
        Some(PHONE),
        "B bound the phone to the user A logged in, in the verify request"
    );
    let session = verified
        .cookie(SESSION_COOKIE)
        .unwrap_or_else(|| panic!("B set no session cookie: {:?}", verified.headers));
    assert_ne!(session, login, "B rotated the session id");
    let me = a.get_as("/me", Some(&session), None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["user"], "alice");
    assert_eq!(me.json()["phone"], PHONE, "A sees B's binding: {}", me.text);
    assert_eq!(
        a.get_as("/protected", Some(&session), None).await.json()["phone"],
        PHONE
    );
    assert_eq!(
        a.get_as("/me", Some(&login), None).await.status,
        401,
        "the id from before the verification is dead on A too"
    );
    // Bob logs in on A in the same browser: on B he has no phone.
    let bob = a
        .request("POST", "/login", |r| {
            r.header("content-type", "application/json")
                .header("cookie", session.clone())
                .body(r#"{"user":"bob"}"#)
        })
        .await;
    let bob = bob.cookie(SESSION_COOKIE).unwrap_or_default();
    assert_eq!(
        b.get_as("/me", Some(&bob), None).await.text,
        r#"{"user":"bob","phone":null}"#
    );
    assert_eq!(b.get_as("/protected", Some(&bob), None).await.status, 401);
    // Alice logs in again on B, verifies again on A, and logs out on B: gone on A.
    let alice = b.login("alice").await;
    clock_advance(a, 30);
    let reverified = {
        let sent = b
            .post_json_as(
                "/phone/send",
                Some(&alice),
                serde_json::json!({ "phone": PHONE }),
            )
            .await;
        assert_eq!(sent.status, 200, "{}", sent.text);
        a.verify_as(Some(&alice), PHONE, &a.code(PHONE)).await
    };
    assert_eq!(reverified.status, 200, "{}", reverified.text);
    let alice = reverified.cookie(SESSION_COOKIE).unwrap_or_default();
    assert_eq!(
        b.get_as("/me", Some(&alice), None).await.json()["phone"],
        PHONE
    );
    let logout = b
        .request("POST", "/logout", |r| r.header("cookie", alice.clone()))
        .await;
    assert_eq!(logout.status, 204);
    let me = a.get_as("/me", Some(&alice), None).await;
    assert_eq!(
        (me.status, me.error().as_str()),
        (401, "login_required"),
        "a logout on B ends the session on A"
    );
}

fn clock_advance(app: &TestApp, secs: u64) {
    app.clock.advance(std::time::Duration::from_secs(secs));
}

/// The sessions examples on axum and on actix as two instances of one app: the sessions in
/// one Redis, the verification state shared (one in-process store for both engines, which
/// behaves like two instances on one store — with working revocation, which the Redis store
/// does not have on this branch; see the test below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_examples_share_logins_and_bindings() {
    let prefix = random_prefix("sessions");
    let (Some(records_a), Some(records_b)) = (
        session_records(&prefix).await,
        session_records(&prefix).await,
    ) else {
        return;
    };
    let fake = FakeTwoFactorIn::start().await;
    let clock = ManualClock::new();
    let store: Arc<dyn VerificationStore> = Arc::new(MokaStore::default());
    let a = sessions_instance(
        Adapter::AxumSessions,
        records_a,
        store.clone(),
        &fake,
        &clock,
    )
    .await;
    let b = sessions_instance(Adapter::ActixSessions, records_b, store, &fake, &clock).await;
    one_login_across_two_instances(&a, &b).await;
}

/// The same with everything in one Redis: sessions, verification state and revocations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_examples_on_one_redis_for_everything() {
    let prefix = random_prefix("sessions");
    let (Some(records_a), Some(records_b)) = (
        session_records(&prefix).await,
        session_records(&prefix).await,
    ) else {
        return;
    };
    let store_prefix = random_prefix("store");
    let (Some(store_a), Some(store_b)) = (redis(&store_prefix).await, redis(&store_prefix).await)
    else {
        return;
    };
    let fake = FakeTwoFactorIn::start().await;
    let clock = ManualClock::new();
    let a = sessions_instance(
        Adapter::AxumSessions,
        records_a,
        Arc::new(store_a),
        &fake,
        &clock,
    )
    .await;
    let b = sessions_instance(
        Adapter::ActixSessions,
        records_b,
        Arc::new(store_b),
        &fake,
        &clock,
    )
    .await;
    one_login_across_two_instances(&a, &b).await;
}

/// Logout on one instance: the token is refused at once there, and on the other instance for
/// every request sent more than a second after the logout answer; "sign out everywhere" on one
/// instance refuses every earlier token on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_is_honoured_by_the_other_within_a_second() {
    logout_is_honoured_across_instances(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_redis_over_tls_instance_is_honoured_by_the_other_within_a_second() {
    logout_is_honoured_across_instances(Backend::RedisTls).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_redis_cluster_instance_is_honoured_by_the_other_within_a_second() {
    logout_is_honoured_across_instances(Backend::RedisCluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_postgres_instance_is_honoured_by_the_other_within_a_second() {
    logout_is_honoured_across_instances(Backend::Postgres).await;
}

async fn logout_is_honoured_across_instances(backend: Backend) {
    let Some((store_a, store_b, _schema)) = two_stores(backend).await else {
        return;
    };
    let fake = FakeTwoFactorIn::start().await;
    let clock = ManualClock::new();
    let spawn = |adapter, store: Arc<dyn VerificationStore>| {
        let options = Options {
            store: Some(store),
            ..Options::default()
        };
        TestApp::serve(
            adapter,
            engine(&options, &fake, &clock),
            fake.clone(),
            clock.clone(),
        )
    };
    let a = spawn(Adapter::Axum, store_a).await;
    let b = spawn(Adapter::Actix, store_b).await;

    for via_cookie in [false, true] {
        clock.advance(std::time::Duration::from_secs(60));
        let token = a.verified_token(PHONE).await;
        assert_eq!(b.get("/protected", Some(&token)).await.status, 200);
        let logout = a
            .request("POST", "/phone/logout", |r| {
                if via_cookie {
                    r.header("cookie", format!("twofactor_phone={token}"))
                } else {
                    r.bearer_auth(&token)
                }
            })
            .await;
        assert_eq!(logout.status, 204, "{}", logout.text);
        let answered = std::time::Instant::now();
        assert_eq!(
            a.get("/protected", Some(&token)).await.status,
            401,
            "at once on A"
        );
        assert_eq!(
            a.get("/phone/status", Some(&token)).await.text,
            r#"{"verified":false}"#
        );
        let mut refused_at = None;
        while answered.elapsed() < std::time::Duration::from_millis(1500) {
            let status = b.get("/protected", Some(&token)).await.status;
            match (status, refused_at) {
                (401, None) => refused_at = Some(answered.elapsed()),
                (200, Some(_)) => panic!("B accepted the token again after refusing it"),
                (200 | 401, _) => {}
                (other, _) => panic!("B answered {other}"),
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let after = refused_at.unwrap_or_else(|| panic!("B never refused the revoked token"));
        assert!(
            after <= std::time::Duration::from_secs(1),
            "B refused only after {after:?}"
        );
        assert_eq!(
            b.get("/phone/status", Some(&token)).await.text,
            r#"{"verified":false}"#
        );
    }

    // Sign out everywhere, from B: both refuse every earlier token.
    clock.advance(std::time::Duration::from_secs(60));
    let first = a.verified_token(PHONE).await;
    clock.advance(std::time::Duration::from_secs(60));
    let second = b.verified_token(PHONE).await;
    clock.advance(std::time::Duration::from_millis(10));
    let phone = b
        .verifier
        .phone_parser()
        .parse(PHONE)
        .unwrap_or_else(|e| panic!("{e}"));
    b.verifier
        .sign_out_everywhere(phone)
        .await
        .unwrap_or_else(|e| panic!("sign out everywhere: {e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    for app in [&a, &b] {
        for token in [&first, &second] {
            loop {
                match app.get("/protected", Some(token)).await.status {
                    401 => break,
                    200 if std::time::Instant::now() < deadline => {
                        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                    }
                    other => panic!("a token from before the sign-out answered {other}"),
                }
            }
        }
    }
}
