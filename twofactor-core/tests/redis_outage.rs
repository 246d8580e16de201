//! The Redis store when Redis goes away: each test runs a `redis-server` of its own (a child
//! process on a free port, no persistence) and stops, freezes or restarts it under a running
//! engine, through the outage checks every shared store passes (`store_checks::outage`).
//! Outside CI the tests skip, saying why, if `redis-server` is not installed.

#[path = "redis_support/outage.rs"]
mod redis_outage;
mod redis_support;
mod store_checks;

use std::error::Error;
use std::time::Duration;

use redis_support::{self as support, Server};
use store_checks::outage::{self, mock_engine, send_fails, verify_fails};
use store_checks::phone;
use twofactor_core::config::{ConfigError, Settings};
use twofactor_core::mock::MockProvider;
use twofactor_core::store::StoreError;
use twofactor_core::store::redis::RedisStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_closed_while_redis_is_down_and_recovers_without_a_restart() {
    let Some(mut server) = Server::start(&[]) else {
        return;
    };
    let store = RedisStore::builder(&server.url())
        .prefix(support::prefix())
        .timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    // Same port, empty (no persistence), empty script cache: the engine is not rebuilt.
    outage::fails_closed_while_down_and_recovers(store, &mut server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_times_out_in_bounded_time_and_recovers() {
    let Some(mut server) = Server::start(&[]) else {
        return;
    };
    let store = RedisStore::builder(&server.url())
        .prefix(support::prefix())
        .timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    // The process stops answering, its socket stays open: only the timeout can save us.
    outage::times_out_while_frozen_and_recovers(store, &mut server).await;
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
async fn a_password_in_the_url_shows_nowhere() {
    let secret = "s3cr3t-2f0c7a-Redis";
    let Some(mut server) = Server::start(&["--requirepass", secret]) else {
        return;
    };
    let url = format!("redis://:{secret}@127.0.0.1:{}/0", server.port());

    let builder = RedisStore::builder(&url).prefix(support::prefix());
    assert!(!format!("{builder:?}").contains(secret));
    let store = builder.connect().await.unwrap();
    let shown = format!("{store:?}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(
        shown.contains(&format!("127.0.0.1:{}", server.port())),
        "{shown}"
    );

    let wrong = format!("redis://:not-{secret}@127.0.0.1:{}/0", server.port());
    let err = RedisStore::connect(&wrong).await.unwrap_err();
    assert_no_secret(&err, secret);
    let err = RedisStore::connect(&format!("redis://127.0.0.1:{}/0", server.port()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    // Errors of a running store, with Redis gone.
    let mock = MockProvider::new();
    let v = mock_engine(store, &mock);
    server.stop();
    let err = send_fails(&v, phone()).await;
    assert_no_secret(&err, secret);
    let err = verify_fails(&v, phone(), "123456").await;
    assert_no_secret(&err, secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_from_the_environment_it_answers_503_with_retry_after_while_redis_is_down() {
    let Some(mut server) = Server::start(&[]) else {
        return;
    };
    let url = server.url();
    let settings = Settings::from_lookup(|var| match var {
        "TWOFACTOR_REDIS_URL" => Some(url.clone()),
        "TWOFACTOR_PROVIDER" => Some("console".to_owned()),
        _ => None,
    })
    .unwrap();
    let app = settings.build().await.unwrap();
    outage::answers_503_with_retry_after_and_recovers(&app, &mut server).await;
}

#[tokio::test]
async fn configured_with_an_unreachable_redis_it_does_not_start_and_hides_the_password() {
    let secret = "pw-91c3-configured";
    let url = format!("redis://:{secret}@127.0.0.1:{}/0", support::free_port());
    let settings = Settings::from_lookup(|var| match var {
        "TWOFACTOR_REDIS_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    assert!(!format!("{settings:?}").contains(secret));
    let err = match settings.build().await {
        Err(e) => e,
        Ok(_) => panic!("started without its store"),
    };
    assert!(matches!(err, ConfigError::Store(_)), "{err:?}");
    assert_no_secret(&err, secret);
}
