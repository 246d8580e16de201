//! The Redis store over TLS (`rediss://`, feature `redis-tls`) against a real `redis-server`
//! serving TLS only, on a free port, with a CA and certificates the tests make (`openssl`).
//! One such server is shared by the tests of this file that leave it running
//! (`redis_support::shared_tls`): the conformance suite, the checks every shared store passes
//! (`store_checks`: the differential check, two instances racing, revocation across
//! instances), the refusals of a wrong CA. The outage checks and the tests that need another
//! certificate or a password start servers of their own. Outside CI the tests skip, saying
//! why, when `redis-server` or `openssl` is missing; under `CI=true` they fail.

#[path = "redis_support/outage.rs"]
mod redis_outage;
mod redis_support;
mod store_checks;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use redis_support::{self as support, Server, SharedTls, shared_tls};
use store_checks::Leeway;
use store_checks::outage;
use twofactor_core::config::{ConfigError, Settings, StoreSettings};
use twofactor_core::mock::MockProvider;
use twofactor_core::store::StoreError;
use twofactor_core::store::redis::{Clock, RedisStore};
use twofactor_core::{Context, KeyRing, PhoneVerifier};

fn url(server: &Server) -> String {
    format!("rediss://127.0.0.1:{}", server.port())
}

/// What the error and its sources say, on one line.
fn chain(err: &StoreError) -> String {
    support::chain(err)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_its_ca_it_connects_and_passes_the_store_conformance_suite() {
    let Some(tls) = shared_tls() else {
        return;
    };
    let store = tls.builder().clock(Clock::Caller).connect().await.unwrap();
    twofactor_core::store::conformance::run(Arc::new(store)).await;

    // By name as well as by address, the CA given as PEM.
    let store = RedisStore::builder(&format!("rediss://localhost:{}", tls.server.port()))
        .ca_pem(tls.certs.ca_pem())
        .prefix(support::prefix())
        .connect()
        .await
        .unwrap();
    let mock = MockProvider::new();
    let v = PhoneVerifier::builder(mock.clone())
        .store(store)
        .keys(KeyRing::random())
        .build()
        .unwrap();
    let phone = "+919812345678";
    v.send(phone, &Context::default()).await.unwrap();
    let parsed = twofactor_core::PhoneParser::default().parse(phone).unwrap();
    let code = mock.last_code(&parsed).unwrap();
    v.verify(phone, code.expose(), &Context::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_server_the_ca_did_not_sign_is_refused_at_connect() {
    let Some(SharedTls { certs, server, .. }) = shared_tls() else {
        return;
    };
    // Another CA, then the system's roots (which do not hold the test CA).
    for builder in [
        RedisStore::builder(&url(server)).ca_file(&certs.other_ca),
        RedisStore::builder(&url(server)),
    ] {
        let err = builder.connect().await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let text = chain(&err);
        assert!(text.contains("certificate"), "{text}");
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_at_connect() {
    let Some(SharedTls { certs, .. }) = shared_tls() else {
        return;
    };
    let Some(server) = Server::start_tls(&certs.wrong_name, &[]) else {
        return;
    };
    for host in ["127.0.0.1", "localhost"] {
        let err = RedisStore::builder(&format!("rediss://{host}:{}", server.port()))
            .ca_file(&certs.ca)
            .connect()
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let text = chain(&err);
        assert!(text.contains("not valid for name"), "{text}");
    }
}

#[tokio::test]
async fn what_would_weaken_the_verification_is_refused_before_connecting() {
    let Some(SharedTls { certs, server, .. }) = shared_tls() else {
        return;
    };
    let refused = |err: StoreError, says: &str| {
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let text = chain(&err);
        assert!(text.contains(says), "{text}");
    };
    // `#insecure` turns verification off in the redis crate: never here.
    refused(
        RedisStore::builder(&format!("{}/#insecure", url(server)))
            .ca_file(&certs.ca)
            .connect()
            .await
            .unwrap_err(),
        "#insecure",
    );
    // A CA for a plain-text URL would be silently unused.
    refused(
        RedisStore::builder(&format!("redis://127.0.0.1:{}", server.port()))
            .ca_file(&certs.ca)
            .connect()
            .await
            .unwrap_err(),
        "not rediss://",
    );
    refused(
        RedisStore::builder(&url(server))
            .ca_pem(b"not a certificate".to_vec())
            .connect()
            .await
            .unwrap_err(),
        "no PEM certificate",
    );
    refused(
        RedisStore::builder(&url(server))
            .ca_file(certs.ca.with_extension("missing"))
            .connect()
            .await
            .unwrap_err(),
        "cannot read the Redis CA file",
    );
    // Plain text to the TLS port gets no answer that passes for Redis.
    let err = RedisStore::builder(&format!("redis://127.0.0.1:{}", server.port()))
        .timeout(std::time::Duration::from_millis(300))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Unavailable(_) | StoreError::Timeout),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_password_shows_nowhere_over_tls() {
    let secret = "tls-pw-8e2b41-do-not-print";
    let Some(SharedTls { certs, .. }) = shared_tls() else {
        return;
    };
    let Some(server) = Server::start_tls(&certs.good, &["--requirepass", secret]) else {
        return;
    };
    let with_password =
        |password: &str| format!("rediss://:{password}@127.0.0.1:{}/0", server.port());
    let builder = RedisStore::builder(&with_password(secret))
        .ca_file(&certs.ca)
        .prefix(support::prefix());
    assert!(!format!("{builder:?}").contains(secret));
    let store = builder.connect().await.unwrap();
    assert!(!format!("{store:?}").contains(secret), "{store:?}");

    for builder in [
        // The wrong password, then the right one with the wrong CA.
        RedisStore::builder(&with_password(&format!("not-{secret}"))).ca_file(&certs.ca),
        RedisStore::builder(&with_password(secret)).ca_file(&certs.other_ca),
    ] {
        let err = builder.connect().await.unwrap_err();
        assert_no_secret(&err, secret);
    }
}

fn settings(vars: Vec<(&'static str, String)>) -> Result<Settings, ConfigError> {
    Settings::from_lookup(move |k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    })
}

#[tokio::test]
async fn configured_from_the_environment_it_verifies_with_the_ca_file() {
    let Some(SharedTls { certs, server, .. }) = shared_tls() else {
        return;
    };
    let ok = settings(vec![
        ("TWOFACTOR_REDIS_URL", url(server)),
        ("TWOFACTOR_REDIS_CA_FILE", certs.ca.display().to_string()),
    ])
    .unwrap();
    match &ok.store {
        StoreSettings::Redis(redis) => {
            assert_eq!(redis.ca_file.as_deref(), Some(certs.ca.as_path()))
        }
        other => panic!("{other:?}"),
    }
    let app = ok.build().await.unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let send = app
        .send(&headers, None, br#"{"phone":"+919812345670"}"#, |_| async {
            Ok(())
        })
        .await;
    assert_eq!(send.status, 200, "{:?}", send.body);

    // The wrong CA: the app does not start.
    let wrong = settings(vec![
        ("TWOFACTOR_REDIS_URL", url(server)),
        (
            "TWOFACTOR_REDIS_CA_FILE",
            certs.other_ca.display().to_string(),
        ),
    ])
    .unwrap();
    match wrong.build().await {
        Err(ConfigError::Store(e)) => assert!(chain(&e).contains("certificate"), "{e:?}"),
        Err(other) => panic!("expected a store error, got {other:?}"),
        Ok(_) => panic!("started with a server it cannot verify"),
    }
}

// ---------------------------------------------------------------------------------------------
// The checks every shared store passes (store_checks), on the shared server.

/// Two stores (two `connect` calls) on the shared server under one fresh prefix: two app
/// instances.
async fn two_stores() -> Option<(RedisStore, RedisStore)> {
    let tls = shared_tls()?;
    let prefix = support::prefix();
    let store = || tls.builder().prefix(&prefix).connect();
    Some((store().await.unwrap(), store().await.unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_like_the_in_memory_store_on_random_histories() {
    let seed = u64::from_str_radix(&support::random_hex(), 16).unwrap();
    let leeway = Leeway {
        server_expires_revocations: true,
    };
    // Both script paths: one script for a verify, or the Cluster-safe two.
    store_checks::answers_like_the_in_memory_store_with(2, seed, leeway, |round| async move {
        let tls = shared_tls()?;
        let builder = tls
            .builder()
            .clock(Clock::Caller)
            .cluster_safe_scripts(round % 2 == 1);
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
// Outages (store_checks::outage): a TLS server of the test's own, killed, frozen, restarted.

/// A TLS server of the test's own (the shared certificate), and a store on it that times out
/// after `timeout`.
async fn own_server(timeout: Duration) -> Option<(Server, RedisStore)> {
    let tls = shared_tls()?;
    let server = Server::start_tls(&tls.certs.good, &[])?;
    let store = RedisStore::builder(&url(&server))
        .ca_file(&tls.certs.ca)
        .prefix(support::prefix())
        .timeout(timeout)
        .connect()
        .await
        .unwrap();
    Some((server, store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_closed_while_redis_is_down_and_recovers_without_a_restart() {
    let Some((mut server, store)) = own_server(Duration::from_millis(500)).await else {
        return;
    };
    // Back on the same port, empty: the store makes new TLS connections by itself.
    outage::fails_closed_while_down_and_recovers(store, &mut server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_times_out_in_bounded_time_and_recovers() {
    let Some((mut server, store)) = own_server(Duration::from_millis(300)).await else {
        return;
    };
    outage::times_out_while_frozen_and_recovers(store, &mut server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_from_the_environment_it_answers_503_with_retry_after_while_redis_is_down() {
    let Some(tls) = shared_tls() else {
        return;
    };
    let Some(mut server) = Server::start_tls(&tls.certs.good, &[]) else {
        return;
    };
    let url = url(&server);
    let ca = tls.certs.ca.display().to_string();
    let settings = Settings::from_lookup(|var| match var {
        "TWOFACTOR_REDIS_URL" => Some(url.clone()),
        "TWOFACTOR_REDIS_CA_FILE" => Some(ca.clone()),
        "TWOFACTOR_PROVIDER" => Some("console".to_owned()),
        _ => None,
    })
    .unwrap();
    let app = settings.build().await.unwrap();
    outage::answers_503_with_retry_after_and_recovers(&app, &mut server).await;
}
