//! The Redis store when Redis goes away: each test runs a `redis-server` of its own (a child
//! process on a free port, no persistence) and stops, freezes or restarts it under a running
//! engine. Outside CI the tests skip, saying why, if `redis-server` is not installed.

mod redis_support;

use std::error::Error;
use std::process::Command;
use std::time::{Duration, Instant};

use redis_support::{self as support, Server};
use twofactor_core::config::{ConfigError, Settings};
use twofactor_core::mock::MockProvider;
use twofactor_core::store::StoreError;
use twofactor_core::store::conformance::random_phone;
use twofactor_core::store::redis::RedisStore;
use twofactor_core::web::Contract;
use twofactor_core::{Context, KeyRing, PhoneNumber, PhoneVerifier, SendError, VerifyError};

/// What a failing call may take at most.
const BOUND: Duration = Duration::from_secs(3);

fn ctx() -> Context {
    Context::default()
}

fn phone() -> PhoneNumber {
    let parser = twofactor_core::PhoneParser::default();
    loop {
        let p = random_phone();
        if parser.parse(&p.to_string()).is_ok() {
            return p;
        }
    }
}

fn engine(store: RedisStore, mock: &MockProvider) -> PhoneVerifier {
    PhoneVerifier::builder(mock.clone())
        .store(store)
        .keys(KeyRing::random())
        .build()
        .unwrap()
}

/// A send that must fail closed, in bounded time; returns the store error.
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

/// A verify that must fail closed, in bounded time; returns the store error.
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
    let mock = MockProvider::new();
    let v = engine(store, &mock);
    let (p, q) = (phone(), phone());
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let code = mock.last_code(&p).unwrap();

    server.stop();
    for _ in 0..3 {
        send_fails(&v, q).await;
        verify_fails(&v, p, code.expose()).await;
    }
    assert_eq!(
        (mock.send_count(), mock.verify_count()),
        (1, 0),
        "no send without a record, no comparison without a count"
    );

    // Same port, empty (no persistence), empty script cache: the engine is not rebuilt.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut failures = 0;
    loop {
        match v.send(&q.to_string(), &ctx()).await {
            Ok(_) => break,
            Err(SendError::StoreUnavailable(_)) if Instant::now() < deadline => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery after Redis came back: {e:?}"),
        }
    }
    assert!(
        failures <= 2,
        "{failures} calls failed after Redis was back"
    );
    let code = mock.last_code(&q).unwrap();
    v.verify(&q.to_string(), code.expose(), &ctx())
        .await
        .unwrap();
    assert!(
        matches!(
            v.verify(&p.to_string(), "123456", &ctx()).await,
            Err(VerifyError::NoLiveCode)
        ),
        "the restarted Redis lost the earlier code: no live code, never a pass"
    );
}

fn signal(server: &Server, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_times_out_in_bounded_time_and_recovers() {
    let Some(server) = Server::start(&[]) else {
        return;
    };
    let store = RedisStore::builder(&server.url())
        .prefix(support::prefix())
        .timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let mock = MockProvider::new();
    let v = engine(store, &mock);
    let p = phone();
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let code = mock.last_code(&p).unwrap();

    // The process stops answering, its socket stays open: only the timeout can save us.
    signal(&server, "-STOP");
    let sent = send_fails(&v, phone()).await;
    assert!(matches!(sent, StoreError::Timeout), "{sent:?}");
    let verified = verify_fails(&v, p, code.expose()).await;
    assert!(matches!(verified, StoreError::Timeout), "{verified:?}");
    assert_eq!((mock.send_count(), mock.verify_count()), (1, 0));

    signal(&server, "-CONT");
    // The frozen calls may run when Redis wakes (their records stay: the safe side), so the
    // recovery is checked on a fresh phone.
    let q = phone();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match v.send(&q.to_string(), &ctx()).await {
            Ok(_) => break,
            Err(SendError::StoreUnavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery after Redis woke: {e:?}"),
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
    let v = engine(store, &mock);
    server.stop();
    let err = send_fails(&v, phone()).await;
    assert_no_secret(&err, secret);
    let err = verify_fails(&v, phone(), "123456").await;
    assert_no_secret(&err, secret);
}

/// `POST /send` or `/verify` through the framework-free HTTP layer both adapters use.
async fn http(app: &Contract, path: &str, body: String) -> twofactor_core::web::WebResponse {
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

fn error_code(response: &twofactor_core::web::WebResponse) -> String {
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    body["error"].as_str().unwrap_or_default().to_owned()
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
    let p = phone().to_string();
    let send = http(&app, "send", format!(r#"{{"phone":"{p}"}}"#)).await;
    assert_eq!(send.status, 200, "{:?}", send.body);

    server.stop();
    let send = http(&app, "send", format!(r#"{{"phone":"{}"}}"#, phone())).await;
    let verify = http(
        &app,
        "verify",
        format!(r#"{{"phone":"{p}","code":"123456"}}"#),
    )
    .await;
    for response in [send, verify] {
        assert_eq!(response.status, 503);
        assert_eq!(error_code(&response), "service_unavailable");
        let retry: u64 = response.headers[http::header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1);
    }
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
