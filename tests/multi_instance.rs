//! Two demo apps — one on axum, one on actix — sharing one Redis, as two instances behind a load
//! balancer: a code sent by one verifies on the other, a token from one is accepted by the
//! other, and the attempt budget and send caps hold across both. And the two sessions
//! examples as two instances of one app: a login on one is a login on the other, and a phone
//! verified on one is bound to that login on both.
//!
//! Outside CI the test skips, saying why, when no Redis answers at `TWOFACTOR_TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`); under `CI=true` it fails instead.

use std::sync::Arc;

use twofactor_core::clock::ManualClock;
use twofactor_core::store::MokaStore;
use twofactor_core::store::VerificationStore;
use twofactor_core::store::redis::RedisStore;
use twofactor_examples::sessions::{SessionRecords, Setup};
use twofactor_tests::{Adapter, FakeTwoFactor, Options, SESSION_COOKIE, TestApp, engine};

const PHONE: &str = "+919812345678";

async fn redis(prefix: &str) -> Option<RedisStore> {
    let url = std::env::var("TWOFACTOR_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    match RedisStore::builder(&url).prefix(prefix).connect().await {
        Ok(store) => Some(store),
        Err(e) => {
            let in_ci = std::env::var("CI").is_ok_and(|v| matches!(v.trim(), "true" | "1" | "yes"));
            assert!(!in_ci, "CI=true: Redis must answer at {url}: {e}");
            eprintln!("skipping: no Redis at {url}: {e}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_are_one_service() {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).unwrap_or_else(|e| panic!("randomness: {e}"));
    let prefix = format!("twofactor-test:{}", u64::from_le_bytes(random));
    let (Some(store_a), Some(store_b)) = (redis(&prefix).await, redis(&prefix).await) else {
        return;
    };
    let fake = FakeTwoFactor::start().await;
    let clock = ManualClock::new();
    let spawn = |adapter, store: RedisStore| {
        let options = Options {
            store: Some(Arc::new(store)),
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
    fake: &FakeTwoFactor,
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
    let fake = FakeTwoFactor::start().await;
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

/// The same with everything in one Redis: sessions and verification state. Ignored until the
/// Redis store's revocation list is merged: without it every proof check on the Redis store
/// fails closed, so `/me` shows no phone and `/protected` answers 503. Run it with
/// `cargo test -p twofactor-tests --test multi_instance -- --ignored` after that merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Redis store's revocation list (stubbed on branch web)"]
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
    let fake = FakeTwoFactor::start().await;
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
