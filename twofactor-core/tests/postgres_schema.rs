//! The PostgreSQL store's schema across versions, and its commit durability, against a real
//! PostgreSQL (`TWOFACTOR_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`): a schema of version 1 holding live state
//! (codes, attempts, a lock, sends filling a cap, verifications, a revocation) is migrated to
//! the current version at connect and every count carries over; a revocation commits with the
//! server's `synchronous_commit` whatever the session says; the store's sessions turn it off
//! only when asked to relax (`TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT` from the environment).
//! Each test works in a schema of its own, dropped when it ends.

mod postgres_support;

use std::time::SystemTime;

use postgres_support::{self as support, Schema};
use twofactor_core::store::conformance::random_phone;
use twofactor_core::store::postgres::{Clock, Durability, SCHEMA_VERSION};
use twofactor_core::store::{
    AttemptDecision, AttemptLimits, ConversionFigures, Country, Limit, Revocation,
    RevocationCursor, SendAttempt, SendDecision, SendLimits, VerificationStore,
};
use twofactor_core::{PhoneNumber, Policy};

const HOUR: i64 = 3_600_000;
const V1: &str = include_str!("../src/store/postgres/schema_v1.sql");

/// Creates `schema` as the code of version 1 did (`schema_version` first, then the version's
/// SQL, then the version row), on `raw`'s connection.
async fn create_version_1(raw: &tokio_postgres::Client, schema: &str) {
    raw.batch_execute(&format!(
        "BEGIN; CREATE SCHEMA \"{schema}\"; SET LOCAL search_path TO \"{schema}\"; \
         CREATE TABLE schema_version (version integer NOT NULL); {V1}; \
         INSERT INTO schema_version VALUES (1); COMMIT"
    ))
    .await
    .unwrap();
}

fn digits(p: PhoneNumber) -> i64 {
    i64::try_from(p.digits()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_schema_with_live_state_migrates_and_keeps_every_count() {
    let schema = Schema::new();
    let Some(raw) = support::raw().await else {
        support::skip::<()>("no PostgreSQL at TWOFACTOR_TEST_DATABASE_URL");
        return;
    };
    create_version_1(&raw, &schema.name).await;
    raw.batch_execute(&format!("SET search_path TO \"{}\"", schema.name))
        .await
        .unwrap();

    // Version 1's functions write the state, on the caller's clock.
    let t0 = i64::try_from(twofactor_core::clock::unix_millis(SystemTime::now())).unwrap();
    let (pending, locked, other, blocked) = (
        random_phone(),
        random_phone(),
        random_phone(),
        random_phone(),
    );
    let ip = "198.51.100.7";
    let country = Country::of(pending).as_str().to_owned();
    let range = |p: PhoneNumber| format!("r:{}xxx", p.digits() / 1000);
    let reserve = "SELECT limit_code FROM tf_reserve_send($1, $2, $3, 0, 5, $4, $5, 2, $6, 10, \
                   10, false, 1000, $7, 0, 200, $4)";
    for (i, p) in [pending, other].into_iter().enumerate() {
        let code: i32 = raw
            .query_one(
                reserve,
                &[
                    &(t0 + i64::try_from(i).unwrap()),
                    &digits(p),
                    &(100 + i64::try_from(i).unwrap()),
                    &HOUR,
                    &ip,
                    &range(p),
                    &country,
                ],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(code, 0, "version 1 granted the send");
    }
    let put = "SELECT tf_put_pending($1, $2, $3, $4, $5)";
    raw.execute(
        put,
        &[
            &t0,
            &digits(pending),
            &11i64,
            &(10 * 60_000i64),
            &"ticket-a",
        ],
    )
    .await
    .unwrap();
    raw.execute(
        put,
        &[&t0, &digits(locked), &12i64, &(10 * 60_000i64), &"ticket-b"],
    )
    .await
    .unwrap();
    let begin = "SELECT code FROM tf_begin_attempt($1, $2, NULL, 3, $3, $3, 100, $3)";
    raw.execute(begin, &[&t0, &digits(pending), &HOUR])
        .await
        .unwrap();
    for _ in 0..3 {
        raw.execute(begin, &[&t0, &digits(locked), &HOUR])
            .await
            .unwrap();
    }
    raw.execute(
        "SELECT tf_record_verified($1, $2, 7, $3)",
        &[&t0, &country, &HOUR],
    )
    .await
    .unwrap();
    let token = [7u8; 16];
    raw.execute(
        "SELECT tf_revoke($1, $2, 't', $3, 0, $4)",
        &[&t0, &HOUR, &hex(&token), &(t0 + HOUR)],
    )
    .await
    .unwrap();

    // This code migrates it at connect.
    let Some(store) = support::connect(schema.builder().clock(Clock::Caller)).await else {
        return;
    };
    let version: i32 = raw
        .query_one("SELECT max(version) FROM schema_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION);
    let counted: i32 = raw
        .query_one(
            "SELECT n FROM send_count WHERE log = $1",
            &[&format!("ip:{ip}")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(counted, 2, "the address's two sends are counted");

    let now = u64::try_from(t0).unwrap() + 1_000;
    let attempts = AttemptLimits::from(&Policy::builder().max_attempts(3).build().unwrap());
    match store
        .begin_attempt(pending, None, now, &attempts)
        .await
        .unwrap()
    {
        AttemptDecision::Proceed {
            pending_id,
            ticket,
            attempt,
            last,
        } => {
            assert_eq!(pending_id, 11);
            assert_eq!(ticket.expose(), "ticket-a");
            assert_eq!(attempt, 2, "the attempt of version 1 still counts");
            assert!(!last);
        }
        other => panic!("the pending code survives the migration: {other:?}"),
    }
    assert!(
        matches!(
            store
                .begin_attempt(locked, None, now, &attempts)
                .await
                .unwrap(),
            AttemptDecision::Locked { .. }
        ),
        "the lock survives the migration"
    );

    let country = Country::new(&country).unwrap();
    assert_eq!(
        store.conversion(country, now).await.unwrap(),
        ConversionFigures::new(2, 1)
    );

    // The address's cap of 2 is full with version 1's sends, until the first leaves the window.
    let policy = Policy::builder()
        .sends_per_ip_per_hour(2)
        .conversion_min_sends(0)
        .build()
        .unwrap();
    let send = |at: u64| {
        SendAttempt::new(blocked, at, SendLimits::from(&policy))
            .with_client(Some(ip.parse().unwrap()))
    };
    match store.reserve_send(&send(now)).await.unwrap() {
        SendDecision::Refused {
            limit,
            retry_after_ms,
        } => {
            assert_eq!(limit, Limit::Ip);
            assert_eq!(retry_after_ms, u64::try_from(HOUR).unwrap() - 1_000);
        }
        other => panic!("the address's cap is full: {other:?}"),
    }
    let later = u64::try_from(t0 + HOUR).unwrap();
    assert_eq!(
        store.reserve_send(&send(later)).await.unwrap(),
        SendDecision::Granted,
        "the oldest send left the window"
    );
    let counted: i32 = raw
        .query_one(
            "SELECT n FROM send_count WHERE log = $1",
            &[&format!("ip:{ip}")],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(counted, 2, "one aged out, one came in");

    let batch = store
        .revocations(&RevocationCursor::start(), now)
        .await
        .unwrap();
    assert_eq!(
        batch.entries,
        vec![Revocation::Token {
            id: token,
            expires_at_ms: u64::try_from(t0 + HOUR).unwrap()
        }]
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_revocation_commits_as_the_server_says_in_a_relaxed_session() {
    let schema = Schema::new();
    let Some(_store) = schema.store().await else {
        return;
    };
    let raw = support::raw().await.unwrap();
    let server: String = raw
        .query_one("SHOW synchronous_commit", &[])
        .await
        .unwrap()
        .get(0);
    raw.batch_execute(&format!(
        "SET search_path TO \"{}\"; SET synchronous_commit = off",
        schema.name
    ))
    .await
    .unwrap();
    // One transaction, so that the setting the function leaves is the one its commit uses.
    let rows = raw
        .simple_query(
            "BEGIN; SELECT tf_revoke(NULL, 60000, 't', 'ab', 0, 1); \
             SELECT current_setting('synchronous_commit'); COMMIT",
        )
        .await
        .unwrap();
    // The last row: the setting after the function ran.
    let during = rows
        .iter()
        .rev()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .unwrap();
    assert_eq!(during, server);
    // And the session's own setting is back after that transaction.
    let after: String = raw
        .query_one("SHOW synchronous_commit", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, "off");
}

/// What `synchronous_commit` the store's steps run with: `tf_conversion` is replaced, in this
/// test's schema, by a probe that answers it (as `sends`: 1 for off).
async fn steps_commit_synchronously(durability: Durability) -> Option<bool> {
    let schema = Schema::new();
    let store = support::connect(schema.builder().durability(durability)).await?;
    let raw = support::raw().await.unwrap();
    raw.batch_execute(&format!(
        "CREATE OR REPLACE FUNCTION \"{0}\".tf_conversion(caller bigint, country text, \
         cwin bigint, OUT sends bigint, OUT verified bigint) LANGUAGE sql VOLATILE AS $$ \
         SELECT (current_setting('synchronous_commit') = 'off')::int::bigint, 0::bigint $$",
        schema.name
    ))
    .await
    .unwrap();
    let mut answers = Vec::new();
    // Every connection of the pool.
    for _ in 0..8 {
        let figures = store
            .conversion(Country::new("IN").unwrap(), 0)
            .await
            .unwrap();
        answers.push(figures.sends == 0);
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    Some(answers[0])
}

#[tokio::test]
async fn the_counting_steps_skip_the_flush_only_when_relaxed() {
    let server_default = {
        let Some(raw) = support::raw().await else {
            support::skip::<()>("no PostgreSQL at TWOFACTOR_TEST_DATABASE_URL");
            return;
        };
        let v: String = raw
            .query_one("SHOW synchronous_commit", &[])
            .await
            .unwrap()
            .get(0);
        v != "off"
    };
    let Some(relaxed) = steps_commit_synchronously(Durability::Relaxed).await else {
        return;
    };
    assert!(!relaxed, "relaxed: synchronous_commit off");
    let Some(server) = steps_commit_synchronously(Durability::Server).await else {
        return;
    };
    assert_eq!(server, server_default, "server: the server's own setting");
}

#[test]
fn the_durability_is_read_from_the_environment_and_needs_the_database() {
    use twofactor_core::config::{ConfigError, Settings, StoreSettings};
    let read = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    };
    const URL: (&str, &str) = (
        "TWOFACTOR_DATABASE_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let synchronous = |settings: Settings| match settings.store {
        StoreSettings::Postgres(postgres) => postgres.synchronous_commit,
        other => panic!("not the PostgreSQL store: {other:?}"),
    };
    assert!(!synchronous(read(&[URL]).unwrap()));
    assert!(synchronous(
        read(&[URL, ("TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT", "true")]).unwrap()
    ));
    match read(&[("TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT", "true")]) {
        Err(ConfigError::Invalid { var, reason }) => {
            assert_eq!(var, "TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT");
            assert!(reason.contains("TWOFACTOR_DATABASE_URL"), "{reason}");
        }
        other => panic!("refused without the database: {other:?}"),
    }
    assert!(matches!(
        read(&[URL, ("TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT", "maybe")]),
        Err(ConfigError::Invalid {
            var: "TWOFACTOR_DATABASE_SYNCHRONOUS_COMMIT",
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purges_racing_sends_take_each_expired_row_off_its_counter_once() {
    let schema = Schema::new();
    let Some(store) = support::connect(schema.builder().clock(Clock::Caller).connections(8)).await
    else {
        return;
    };
    let store = std::sync::Arc::new(store);
    let policy = Policy::builder()
        .sends_per_ip_per_hour(twofactor_core::policy::MAX_CAP)
        .sends_per_range_per_hour(twofactor_core::policy::MAX_CAP)
        .sends_per_hour(twofactor_core::policy::MAX_CAP)
        .conversion_min_sends(0)
        .build()
        .unwrap();
    let limits = SendLimits::from(&policy);
    let ips: Vec<std::net::IpAddr> = (1..=4)
        .map(|i| format!("192.0.2.{i}").parse().unwrap())
        .collect();
    // Sends three hours ago (the purge, on the server's clock, finds them expired) ...
    let now = twofactor_core::clock::unix_millis(SystemTime::now());
    let old = now - 3 * 3_600_000;
    for i in 0..200u64 {
        let send = SendAttempt::new(random_phone(), old + i, limits)
            .with_client(Some(ips[(i % 4) as usize]));
        assert_eq!(
            store.reserve_send(&send).await.unwrap(),
            SendDecision::Granted
        );
    }
    // ... then purges and sends from the same addresses, which prune the same logs, at once.
    let (purges, sends) = (8, 40);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(purges + sends));
    let mut tasks = Vec::new();
    for _ in 0..purges {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.purge_expired().await.map(drop)
        }));
    }
    for i in 0..sends {
        let (store, barrier, ip) = (store.clone(), barrier.clone(), ips[i % 4]);
        tasks.push(tokio::spawn(async move {
            let send = SendAttempt::new(random_phone(), now, limits).with_client(Some(ip));
            barrier.wait().await;
            match store.reserve_send(&send).await {
                Ok(SendDecision::Granted) => Ok(()),
                Ok(other) => panic!("refused: {other:?}"),
                Err(e) => Err(e),
            }
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    // Every counter holds its log's rows, and every counted log has its counter.
    let raw = support::raw().await.unwrap();
    let wrong = raw
        .query(
            &format!(
                "SELECT coalesce(c.log, s.log), c.n, s.rows FROM \"{0}\".send_count c \
                 FULL JOIN (SELECT log, count(*) AS rows FROM \"{0}\".send_log \
                            WHERE log NOT LIKE 'p:%' GROUP BY log) s ON s.log = c.log \
                 WHERE coalesce(c.n, 0) <> coalesce(s.rows, 0)",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap();
    let wrong: Vec<(String, Option<i32>, Option<i64>)> = wrong
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(wrong.is_empty(), "counters off their rows: {wrong:?}");
    let all: i32 = raw
        .query_one(
            &format!(
                "SELECT n FROM \"{}\".send_count WHERE log = 'all'",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        all,
        i32::try_from(sends).unwrap(),
        "only the new sends are live"
    );
}
