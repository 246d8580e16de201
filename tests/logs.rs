//! No code, token, provider session id, API key or full phone number in any log line, at any
//! level, while both demo apps serve full flows in both OTP modes. (Its own test binary: it
//! installs the process-wide tracing subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use twofactor_core::config::OtpMode;
use twofactor_tests::{API_KEY, Adapter, Options, TestApp};

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const PHONE: &str = "+919812345678";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        // Everything our crates and the HTTP stack log, at every level; the fake provider
        // (wiremock) is the outside world and is left out.
        .with_env_filter("trace,wiremock=off")
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let mut secrets: Vec<String> = vec![API_KEY.to_owned(), "9812345678".to_owned()];
    for adapter in [Adapter::Axum, Adapter::Actix] {
        for mode in [OtpMode::Provider, OtpMode::Local] {
            let app = TestApp::spawn(
                adapter,
                Options {
                    mode,
                    ..Options::default()
                },
            )
            .await;
            let token = app.verified_token(PHONE).await;
            app.clock.advance(std::time::Duration::from_secs(30));
            app.send(PHONE).await;
            app.verify(PHONE, &app.wrong_code(PHONE)).await;
            app.get("/protected", Some(&token)).await;
            app.get("/protected", Some("tampered")).await;
            app.get("/phone/status", Some(&token)).await;
            secrets.push(token);
            secrets.push(app.code(PHONE));
            secrets.extend(app.fake.session_ids());
        }
    }
    let logs =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(
        logs.contains("twofactor.verify") && logs.contains("+91******5678"),
        "the spans were captured"
    );
    for secret in &secrets {
        let line = logs.lines().find(|l| l.contains(secret.as_str()));
        assert!(
            line.is_none(),
            "{secret:?} reached a log line: {}",
            line.unwrap_or_default()
        );
    }
}
