//! The outage checks, one for every shared store: the store's server killed, frozen and back,
//! under a running engine and under the HTTP layer configured from the environment. Each
//! store's test file says what "the server" is ([`Outage`]): a `redis-server` child, a whole
//! Redis Cluster, a proxy in front of PostgreSQL.

use std::time::{Duration, Instant};

use twofactor_core::mock::MockProvider;
use twofactor_core::store::{StoreError, VerificationStore};
use twofactor_core::web::{Contract, WebResponse};
use twofactor_core::{KeyRing, PhoneNumber, PhoneVerifier, Policy, SendError, VerifyError};

use super::{ctx, engine, phone};

/// What a failing call may take at most. The stores under the engine checks time out after
/// 300 or 500 ms; a store built from the environment (1 s by default) meets it in the HTTP
/// check because a killed server refuses at once.
pub const BOUND: Duration = Duration::from_secs(1);

/// How long the store has to answer again once its server is back.
const RECOVERY: Duration = Duration::from_secs(5);

/// A store's server, as an outage test plays with it.
pub trait Outage {
    /// It goes away like a crash: connections drop, new ones are refused.
    fn kill(&mut self);
    /// It comes back where it was (and is ready to answer when this returns).
    fn restart(&mut self);
    /// It stops answering, its connections left open (a hung server), or answers again.
    fn freeze(&mut self, frozen: bool);
    /// Whether what it held before [`kill`](Self::kill) is still there after
    /// [`restart`](Self::restart).
    fn keeps_data(&self) -> bool;
}

/// A send that must fail closed, in bounded time; returns the store error.
pub async fn send_fails(v: &PhoneVerifier, p: PhoneNumber) -> StoreError {
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
pub async fn verify_fails(v: &PhoneVerifier, p: PhoneNumber, code: &str) -> StoreError {
    let started = Instant::now();
    let result = v.verify(&p.to_string(), code, &ctx()).await;
    let took = started.elapsed();
    assert!(took < BOUND, "a verify took {took:?} to fail");
    match result {
        Err(VerifyError::StoreUnavailable(e)) => e,
        other => panic!("expected StoreUnavailable, got {other:?}"),
    }
}

/// An engine on `store` with a mock provider.
pub fn mock_engine<S: VerificationStore>(store: S, mock: &MockProvider) -> PhoneVerifier {
    engine(store, mock.clone(), &KeyRing::random(), Policy::default())
}

/// Sends to a fresh phone until the store answers again (within [`RECOVERY`]); returns the
/// phone and how many sends failed first.
async fn first_send_after(v: &PhoneVerifier, what: &str) -> (PhoneNumber, u32) {
    let q = phone();
    let deadline = Instant::now() + RECOVERY;
    let mut failures = 0;
    loop {
        match v.send(&q.to_string(), &ctx()).await {
            Ok(_) => return (q, failures),
            Err(SendError::StoreUnavailable(_)) if Instant::now() < deadline => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery after {what}: {e:?}"),
        }
    }
}

/// The server killed under an engine on `store` (whose timeout is at most 500 ms): every send
/// and verify fails closed within [`BOUND`], reaching no provider; once it is back, the same
/// engine serves again without a restart, and the code sent before the outage verifies if the
/// server kept its data, or is no live code (never a pass) if it did not.
pub async fn fails_closed_while_down_and_recovers<S: VerificationStore>(
    store: S,
    server: &mut impl Outage,
) {
    let mock = MockProvider::new();
    let v = mock_engine(store, &mock);
    let (p, q) = (phone(), phone());
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let code = mock.last_code(&p).unwrap();

    server.kill();
    for _ in 0..3 {
        send_fails(&v, q).await;
        verify_fails(&v, p, code.expose()).await;
    }
    assert_eq!(
        (mock.send_count(), mock.verify_count()),
        (1, 0),
        "no send without a record, no comparison without a count"
    );

    server.restart();
    let (q, failures) = first_send_after(&v, "the server came back").await;
    assert!(failures <= 4, "{failures} sends failed after it was back");
    let new_code = mock.last_code(&q).unwrap();
    v.verify(&q.to_string(), new_code.expose(), &ctx())
        .await
        .unwrap();
    if server.keeps_data() {
        v.verify(&p.to_string(), code.expose(), &ctx())
            .await
            .unwrap();
    } else {
        assert!(
            matches!(
                v.verify(&p.to_string(), code.expose(), &ctx()).await,
                Err(VerifyError::NoLiveCode)
            ),
            "the server lost the earlier code: no live code, never a pass"
        );
    }
}

/// The server frozen under an engine on `store` (whose timeout is at most 500 ms): a send and
/// a verify each time out within [`BOUND`], reaching no provider; once it answers again the
/// same engine serves again.
pub async fn times_out_while_frozen_and_recovers<S: VerificationStore>(
    store: S,
    server: &mut impl Outage,
) {
    let mock = MockProvider::new();
    let v = mock_engine(store, &mock);
    let p = phone();
    v.send(&p.to_string(), &ctx()).await.unwrap();
    let code = mock.last_code(&p).unwrap();

    server.freeze(true);
    let sent = send_fails(&v, phone()).await;
    let verified = verify_fails(&v, p, code.expose()).await;
    server.freeze(false);
    assert!(matches!(sent, StoreError::Timeout), "{sent:?}");
    assert!(matches!(verified, StoreError::Timeout), "{verified:?}");
    assert_eq!((mock.send_count(), mock.verify_count()), (1, 0));

    // The frozen calls may run when the server wakes (their records stay: the safe side), so
    // the recovery is checked on a fresh phone.
    let (q, _) = first_send_after(&v, "the server woke").await;
    let code = mock.last_code(&q).unwrap();
    v.verify(&q.to_string(), code.expose(), &ctx())
        .await
        .unwrap();
}

/// `POST /send` or `/verify` through the framework-free HTTP layer both adapters use; each
/// answers within [`BOUND`].
pub async fn http(app: &Contract, path: &str, body: String) -> WebResponse {
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

/// `app` (built from the environment, its store on `server`, provider `console`): while the
/// server is down a send and a verify answer 503 `service_unavailable` with `Retry-After`
/// within [`BOUND`]; once it is back, sends answer 200 again without a restart.
pub async fn answers_503_with_retry_after_and_recovers(app: &Contract, server: &mut impl Outage) {
    let p = phone().to_string();
    let send = http(app, "send", format!(r#"{{"phone":"{p}"}}"#)).await;
    assert_eq!(send.status, 200, "{:?}", send.body);

    server.kill();
    let send = http(app, "send", format!(r#"{{"phone":"{}"}}"#, phone())).await;
    let verify = http(
        app,
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

    server.restart();
    let deadline = Instant::now() + RECOVERY;
    loop {
        let send = http(app, "send", format!(r#"{{"phone":"{}"}}"#, phone())).await;
        if send.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {}", send.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
