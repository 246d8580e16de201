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
use std::time::Duration;

use postgres_support::{self as support, Proxy, Schema};
use store_checks::outage::{self, Outage};
use store_checks::phone;
use twofactor_core::config::{ConfigError, Settings};
use twofactor_core::store::postgres::{Clock, PostgresStore};
use twofactor_core::store::{
    AttemptDecision, AttemptLimits, Limit, Pending, SendAttempt, SendDecision, SendLimits,
    StoreError, VerificationStore,
};
use twofactor_core::{Policy, Ticket};

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
async fn a_logout_and_a_sign_out_everywhere_on_one_instance_hold_on_the_other() {
    let schema = Schema::new();
    let (Some(a), Some(b)) = (schema.store().await, schema.store().await) else {
        return;
    };
    store_checks::revocations_shared_by_two_instances(a, b).await;
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

/// The database behind the proxy: killed by closing the proxy and every connection through it,
/// frozen by holding the bytes; it keeps its data.
impl Outage for Proxy {
    fn kill(&mut self) {
        self.stop();
    }
    fn restart(&mut self) {
        self.start();
    }
    fn freeze(&mut self, frozen: bool) {
        Proxy::freeze(self, frozen);
    }
    fn keeps_data(&self) -> bool {
        true
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
    outage::fails_closed_while_down_and_recovers(store, &mut proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_times_out_in_bounded_time_and_recovers() {
    let schema = Schema::new();
    let Some((mut proxy, store)) = proxied(&schema, Duration::from_millis(300)).await else {
        return;
    };
    outage::times_out_while_frozen_and_recovers(store, &mut proxy).await;
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
    outage::answers_503_with_retry_after_and_recovers(&app, &mut proxy).await;
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
