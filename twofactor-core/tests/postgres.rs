//! The PostgreSQL store against a real PostgreSQL (`TWOFACTOR_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`): the conformance suite, the differential
//! check against the in-memory store, two instances racing (200 wrong guesses, 20 right
//! codes), schema creation and the version check, the server's clock against skewed callers,
//! the purge of expired rows, and outages played with a TCP proxy (killed, frozen, back).
//! Each test works in a schema of its own, dropped when it ends.

mod postgres_support;
mod store_checks;

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres_support::{self as support, Proxy, Schema};
use store_checks::{ctx, phone};
use twofactor_core::config::{ConfigError, Settings};
use twofactor_core::mock::MockProvider;
use twofactor_core::store::postgres::{Clock, PostgresStore};
use twofactor_core::store::{
    AttemptDecision, AttemptLimits, Limit, Pending, SendAttempt, SendDecision, SendLimits,
    StoreError, VerificationStore,
};
use twofactor_core::{KeyRing, PhoneNumber, PhoneVerifier, Policy, SendError, Ticket, VerifyError};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_store_conformance_suite() {
    let schema = Schema::new();
    let Some(store) = support::connect(schema.builder().clock(Clock::Caller)).await else {
        return;
    };
    twofactor_core::store::conformance::run(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_like_the_in_memory_store_on_random_histories() {
    let seed = u64::from_str_radix(&support::random_hex(), 16).unwrap();
    let schemas: Vec<Schema> = (0..2).map(|_| Schema::new()).collect();
    store_checks::answers_like_the_in_memory_store(2, seed, |round| {
        support::connect(
            schemas[round as usize]
                .builder()
                .clock(Clock::Caller)
                // One connection: the calls of a history stay in order anyway.
                .connections(1),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_parallel_wrong_guesses_on_two_instances_compare_exactly_max_attempts() {
    let schema = Schema::new();
    let (Some(a), Some(b)) = (schema.store().await, schema.store().await) else {
        return;
    };
    store_checks::two_hundred_wrong_guesses(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_right_code_released_twenty_times_on_two_instances_verifies_exactly_once() {
    let schema = Schema::new();
    store_checks::twenty_right_codes(|| async {
        Some((schema.store().await?, schema.store().await?))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_create_the_schema_once_and_a_newer_one_is_refused() {
    let schema = Schema::new();
    let connects: Vec<_> = (0..4)
        .map(|_| {
            let builder = schema.builder();
            tokio::spawn(builder.connect())
        })
        .collect();
    for connect in connects {
        if let Err(e) = connect.await.unwrap() {
            support::skip::<()>(&format!("no PostgreSQL: {}", support::chain(&e)));
            return;
        }
    }
    let raw = support::raw().await.unwrap();
    let versions = raw
        .query(
            &format!("SELECT version FROM \"{}\".schema_version", schema.name),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(
        versions[0].get::<_, i32>(0),
        twofactor_core::store::postgres::SCHEMA_VERSION
    );

    // A later version of the code migrated it: this one must not write into it.
    raw.batch_execute(&format!(
        "UPDATE \"{}\".schema_version SET version = 99",
        schema.name
    ))
    .await
    .unwrap();
    let err = schema.builder().connect().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert!(
        text.contains("99") && text.contains("newer") && text.contains(&schema.name),
        "{text}"
    );

    let err = PostgresStore::builder(&support::url())
        .schema("Robert'); DROP TABLE students;--")
        .connect()
        .await
        .unwrap_err();
    assert!(support::chain(&err).contains("schema name"), "{err:?}");
}

#[tokio::test]
async fn callers_with_skewed_clocks_cannot_reset_a_lock_or_a_cooldown() {
    let schema = Schema::new();
    let (Some(a), Some(b)) = (schema.store().await, schema.store().await) else {
        return;
    };
    assert_eq!(a.clock(), Clock::Server);
    let policy = Policy::default();
    let (sends, attempts) = (SendLimits::from(&policy), AttemptLimits::from(&policy));
    let now = twofactor_core::clock::unix_millis(std::time::SystemTime::now());
    let minutes = |m: u64| m * 60_000;
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
    for (store, at) in [(&b, ahead), (&a, behind)] {
        assert!(matches!(
            store.begin_attempt(p, None, at, &attempts).await.unwrap(),
            AttemptDecision::Locked { retry_after_ms } if retry_after_ms > minutes(14)
        ));
    }
}

#[tokio::test]
async fn expired_rows_are_purged_and_live_ones_kept() {
    let schema = Schema::new();
    let Some(store) = support::connect(schema.builder().clock(Clock::Caller)).await else {
        return;
    };
    let raw = support::raw().await.unwrap();
    let rows = |table: &'static str| {
        let (raw, name) = (&raw, schema.name.clone());
        async move {
            raw.query_one(&format!("SELECT count(*) FROM \"{name}\".{table}"), &[])
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    let real_now = twofactor_core::clock::unix_millis(std::time::SystemTime::now());
    let limits = SendLimits::from(&Policy::default());
    // Two hours ago: everything it wrote has expired by now.
    let old = real_now - 2 * 3_600_000;
    let (p, q) = (phone(), phone());
    let ip = Some("192.0.2.9".parse().unwrap());
    store
        .reserve_send(&SendAttempt::new(p, old, limits).with_client(ip))
        .await
        .unwrap();
    store
        .put_pending(p, &Pending::new(1, Ticket::new("t"), old + 60_000), old)
        .await
        .unwrap();
    store
        .begin_attempt(p, ip, old, &AttemptLimits::from(&Policy::default()))
        .await
        .unwrap();
    // And a live phone.
    store
        .put_pending(
            q,
            &Pending::new(2, Ticket::new("u"), real_now + 600_000),
            real_now,
        )
        .await
        .unwrap();
    assert_eq!(rows("phones").await, 2);
    assert!(rows("send_log").await >= 5);
    assert_eq!(rows("verify_budget").await, 1);

    let purged = store.purge_expired().await.unwrap();
    assert!(purged >= 7, "{purged}");
    assert_eq!(rows("phones").await, 1, "the live code stays");
    assert_eq!(rows("send_log").await, 0);
    assert_eq!(rows("verify_budget").await, 0);
    assert!(matches!(
        store
            .begin_attempt(q, None, real_now, &AttemptLimits::from(&Policy::default()))
            .await
            .unwrap(),
        AttemptDecision::Proceed { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// Outages, played with a proxy between the store and the database.

/// What a failing call may take at most.
const BOUND: Duration = Duration::from_secs(1);

fn engine(store: PostgresStore, mock: &MockProvider) -> PhoneVerifier {
    PhoneVerifier::builder(mock.clone())
        .store(store)
        .keys(KeyRing::random())
        .build()
        .unwrap()
}

async fn send_fails(v: &PhoneVerifier, p: PhoneNumber) -> StoreError {
    let started = Instant::now();
    let result = v.send(&p.to_string(), &ctx()).await;
    let took = started.elapsed();
    assert!(took < BOUND, "a send took {took:?} to fail");
    match result {
        Err(SendError::StoreUnavailable(e)) => e,
        other => panic!("expected StoreUnavailable, got {other:?}"),
    }
}

async fn verify_fails(v: &PhoneVerifier, p: PhoneNumber, code: &str) -> StoreError {
    let started = Instant::now();
    let result = v.verify(&p.to_string(), code, &ctx()).await;
    let took = started.elapsed();
    assert!(took < BOUND, "a verify took {took:?} to fail");
    match result {
        Err(VerifyError::StoreUnavailable(e)) => e,
        other => panic!("expected StoreUnavailable, got {other:?}"),
    }
}

async fn proxied(schema: &Schema, timeout: Duration) -> Option<(Proxy, PostgresStore)> {
    support::raw()
        .await
        .or_else(|| support::skip("no PostgreSQL"))?;
    let proxy = Proxy::start_new().await;
    let store = PostgresStore::builder(&support::url_via(proxy.addr))
        .schema(&schema.name)
        .timeout(timeout)
        .connect()
        .await
        .unwrap();
    Some((proxy, store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_closed_while_the_database_is_away_and_recovers_without_a_restart() {
    let schema = Schema::new();
    let Some((mut proxy, store)) = proxied(&schema, Duration::from_millis(500)).await else {
        return;
    };
    let mock = MockProvider::new();
    let v = engine(store, &mock);
    let (p, q) = (phone(), phone());
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let code = mock.last_code(&p).unwrap();

    proxy.stop();
    for _ in 0..3 {
        send_fails(&v, q).await;
        verify_fails(&v, p, code.expose()).await;
    }
    assert_eq!(
        (mock.send_count(), mock.verify_count()),
        (1, 0),
        "no send without a record, no comparison without a count"
    );

    proxy.start();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut failures = 0;
    loop {
        match v.send(&q.to_string(), &ctx()).await {
            Ok(_) => break,
            Err(SendError::StoreUnavailable(_)) if Instant::now() < deadline => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery after the database came back: {e:?}"),
        }
    }
    assert!(failures <= 4, "{failures} calls failed after it was back");
    // The database kept its state: the earlier code still verifies.
    v.verify(&p.to_string(), code.expose(), &ctx())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_times_out_in_bounded_time_and_recovers() {
    let schema = Schema::new();
    let Some((proxy, store)) = proxied(&schema, Duration::from_millis(300)).await else {
        return;
    };
    let mock = MockProvider::new();
    let v = engine(store, &mock);
    let p = phone();
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let code = mock.last_code(&p).unwrap();

    proxy.freeze(true);
    let sent = send_fails(&v, phone()).await;
    assert!(matches!(sent, StoreError::Timeout), "{sent:?}");
    let verified = verify_fails(&v, p, code.expose()).await;
    assert!(matches!(verified, StoreError::Timeout), "{verified:?}");
    assert_eq!((mock.send_count(), mock.verify_count()), (1, 0));

    proxy.freeze(false);
    let q = phone();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match v.send(&q.to_string(), &ctx()).await {
            Ok(_) => break,
            Err(SendError::StoreUnavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery after the database woke: {e:?}"),
        }
    }
    let code = mock.last_code(&q).unwrap();
    v.verify(&q.to_string(), code.expose(), &ctx())
        .await
        .unwrap();
}

fn assert_no_secret(err: &(dyn Error + 'static), secret: &str) {
    let mut next = Some(err);
    while let Some(e) = next {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(secret), "the password leaked in {text:?}");
        }
        next = e.source();
    }
}

/// `POST /send` or `/verify` through the framework-free HTTP layer both adapters use.
async fn http(
    app: &twofactor_core::web::Contract,
    path: &str,
    body: String,
) -> twofactor_core::web::WebResponse {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let started = Instant::now();
    let response = match path {
        "send" => {
            app.send(&headers, None, body.as_bytes(), |_| async { Ok(()) })
                .await
        }
        _ => {
            app.verify(
                &headers,
                None,
                body.as_bytes(),
                |_| async { Ok(Default::default()) },
                |_| async { Ok(()) },
            )
            .await
        }
    };
    assert!(
        started.elapsed() < BOUND,
        "{path} took {:?}",
        started.elapsed()
    );
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_from_the_environment_it_answers_503_with_retry_after_while_the_database_is_away()
 {
    if support::raw()
        .await
        .or_else(|| support::skip("no PostgreSQL"))
        .is_none()
    {
        return;
    }
    let mut proxy = Proxy::start_new().await;
    let url = support::url_via(proxy.addr);
    let settings = Settings::from_lookup(|var| match var {
        "TWOFACTOR_DATABASE_URL" => Some(url.clone()),
        "TWOFACTOR_PROVIDER" => Some("console".to_owned()),
        _ => None,
    })
    .unwrap();
    let app = settings.build().await.unwrap();
    let p = phone().to_string();
    let send = http(&app, "send", format!(r#"{{"phone":"{p}"}}"#)).await;
    assert_eq!(send.status, 200, "{:?}", send.body);

    proxy.stop();
    let send = http(&app, "send", format!(r#"{{"phone":"{}"}}"#, phone())).await;
    let verify = http(
        &app,
        "verify",
        format!(r#"{{"phone":"{p}","code":"123456"}}"#),
    )
    .await;
    for response in [send, verify] {
        assert_eq!(response.status, 503);
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["error"], "service_unavailable");
        let retry: u64 = response.headers[http::header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1);
    }

    proxy.start();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let send = http(&app, "send", format!(r#"{{"phone":"{}"}}"#, phone())).await;
        if send.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", send.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_password_in_the_url_shows_nowhere_and_an_unreachable_database_stops_start_up() {
    let secret = "pw-7d21-postgres";
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres:{secret}@127.0.0.1:{port}/postgres");
    let builder = PostgresStore::builder(&url);
    assert!(!format!("{builder:?}").contains(secret));
    let err = builder.connect().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_no_secret(&err, secret);

    let settings = Settings::from_lookup(|var| match var {
        "TWOFACTOR_DATABASE_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    assert!(!format!("{settings:?}").contains(secret));
    let err = match settings.build().await {
        Err(e) => e,
        Ok(_) => panic!("started without its store"),
    };
    assert!(matches!(err, ConfigError::DatabaseStore(_)), "{err:?}");
    assert!(err.to_string().contains("TWOFACTOR_DATABASE_URL"));
    assert_no_secret(&err, secret);
}

#[test]
fn the_database_and_redis_urls_together_are_a_start_up_error_naming_both() {
    let err = Settings::from_lookup(|var| match var {
        "TWOFACTOR_DATABASE_URL" => Some("postgres://postgres@127.0.0.1/postgres".into()),
        "TWOFACTOR_REDIS_URL" => Some("redis://127.0.0.1:6379".into()),
        _ => None,
    })
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("TWOFACTOR_DATABASE_URL") && text.contains("TWOFACTOR_REDIS_URL"),
        "{text}"
    );
    let err = Settings::from_lookup(|var| match var {
        "TWOFACTOR_DATABASE_URL" => Some("mysql://db".into()),
        _ => None,
    })
    .unwrap_err();
    assert!(err.to_string().contains("TWOFACTOR_DATABASE_URL"), "{err}");
}
