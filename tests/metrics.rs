//! `GET /metrics` of each demo, over real HTTP: the Prometheus text moves as requests are made
//! (sends, verifications, cap refusals, guard rejections, provider latency), is served as
//! `text/plain; version=0.0.4`, is documented in the demo's `/openapi.json`, and never shows a
//! phone number, a code, a token or the provider's key. The recorder is the process's (as in
//! the demo binaries), so the two tests take turns and compare before and after.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use serde_json::{Value, json};
use twofactor_core::clock::ManualClock;
use twofactor_examples::PrometheusHandle;
use twofactor_tests::{API_KEY, FakeTwoFactorIn, Options, engine};

/// One recorder per process, installed once, as a demo binary does.
fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            twofactor_examples::install_metrics().unwrap_or_else(|e| panic!("recorder: {e}"))
        })
        .clone()
}

/// The tests share the recorder: one at a time, so that each sees only its own requests move.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The value of `name{labels}` in `text` (labels in any order); 0 when absent.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<&str, &str> = labels.iter().copied().collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, number) = line.rsplit_once(' ')?;
            let (series_name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let got: BTreeMap<&str, &str> = labels
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k, v.trim_matches('"')))
                .collect();
            (series_name == name && got == want).then(|| number.parse::<f64>().ok())?
        })
        .sum()
}

/// The sum of every `name` series whose labels include `labels`.
fn sum_where(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, number) = line.rsplit_once(' ')?;
            let (series_name, rest) = series.split_once('{')?;
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            (series_name == name && all).then(|| number.parse::<f64>().ok())?
        })
        .sum()
}

struct Demo {
    base: String,
    http: reqwest::Client,
    fake: FakeTwoFactorIn,
    // Dropping it stops the actix server's system; the axum task dies with the runtime.
    _stop: Option<std::sync::mpsc::Sender<()>>,
}

impl Demo {
    async fn axum() -> Self {
        let fake = FakeTwoFactorIn::start().await;
        let engine = engine(&Options::default(), &fake, &ManualClock::new());
        let tf = twofactor_tower::TwoFactor::builder(engine.verifier)
            .web_config(engine.web)
            .build()
            .unwrap_or_else(|e| panic!("axum handle: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let app = twofactor_examples::axum_app::app_with_metrics(tf, Some(handle()));
        tokio::spawn(async move {
            let _ = twofactor_examples::axum_app::serve(listener, app).await;
        });
        Self::at(addr, fake, None)
    }

    async fn actix() -> Self {
        let fake = FakeTwoFactorIn::start().await;
        let engine = engine(&Options::default(), &fake, &ManualClock::new());
        let tf = twofactor_actix::TwoFactor::builder(engine.verifier)
            .web_config(engine.web)
            .build()
            .unwrap_or_else(|e| panic!("actix handle: {e}"));
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let metrics = handle();
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = twofactor_examples::actix_app::server_with_metrics(
                    listener,
                    tf,
                    1,
                    Some(metrics),
                )
                .unwrap_or_else(|e| panic!("actix server: {e}"));
                let stop = server.handle();
                actix_rt::spawn(async move {
                    let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                    stop.stop(false).await;
                });
                let _ = server.await;
            });
        });
        Self::at(addr, fake, Some(stop_tx))
    }

    fn at(
        addr: SocketAddr,
        fake: FakeTwoFactorIn,
        stop: Option<std::sync::mpsc::Sender<()>>,
    ) -> Self {
        Self {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            fake,
            _stop: stop,
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, bearer: Option<&str>) -> (u16, Option<String>, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (
            status,
            content_type,
            response.text().await.unwrap_or_default(),
        )
    }

    async fn metrics(&self) -> String {
        let (status, content_type, text) = self.get("/metrics", None).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(content_type.as_deref(), Some("text/plain; version=0.0.4"));
        text
    }
}

/// The difference in `name{labels}` between two scrapes.
fn moved(before: &str, after: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(after, name, labels) - value(before, name, labels)
}

async fn counts_move_as_requests_are_made(demo: Demo, phone: &str) {
    let _turn = TURN.lock().await;
    let digits = phone.trim_start_matches("+91");

    let (_, _, doc) = demo.get("/openapi.json", None).await;
    let doc: Value = serde_json::from_str(&doc).unwrap_or_else(|e| panic!("document: {e}"));
    assert!(
        doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]["text/plain; version=0.0.4"]
            .is_object(),
        "GET /metrics is documented: {}",
        doc["paths"]["/metrics"]
    );

    let start = demo.metrics().await;
    assert_eq!(
        demo.post("/phone/send", json!({ "phone": phone })).await.0,
        200
    );
    let (status, body) = demo.post("/phone/send", json!({ "phone": phone })).await;
    assert_eq!((status, body["reason"].as_str()), (429, Some("cooldown")));
    let code = demo
        .fake
        .code(phone)
        .unwrap_or_else(|| panic!("no code sent to {phone}"));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _) = demo
        .post("/phone/verify", json!({ "phone": phone, "code": wrong }))
        .await;
    assert_eq!(status, 422);
    let (status, body) = demo
        .post("/phone/verify", json!({ "phone": phone, "code": code }))
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(demo.get("/protected", None).await.0, 401);
    assert_eq!(demo.get("/protected", Some("not-a-token")).await.0, 401);
    assert_eq!(demo.get("/protected", Some(&token)).await.0, 200);
    let end = demo.metrics().await;

    let sends = "twofactor_sends_total";
    assert_eq!(
        moved(
            &start,
            &end,
            sends,
            &[("outcome", "sent"), ("channel", "sms")]
        ),
        1.0,
        "{end}"
    );
    assert_eq!(
        moved(
            &start,
            &end,
            sends,
            &[("outcome", "rate_limited"), ("channel", "sms")]
        ),
        1.0
    );
    let verifications = "twofactor_verifications_total";
    assert_eq!(
        moved(
            &start,
            &end,
            verifications,
            &[("outcome", "incorrect_code")]
        ),
        1.0
    );
    assert_eq!(
        moved(&start, &end, verifications, &[("outcome", "verified")]),
        1.0
    );
    assert_eq!(
        moved(
            &start,
            &end,
            "twofactor_rate_limited_total",
            &[("reason", "cooldown")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            &start,
            &end,
            "twofactor_guard_rejections_total",
            &[("reason", "required")]
        ),
        2.0
    );
    // The provider was called once to send and twice to verify, and each call was timed into
    // a real histogram (buckets, not only a sum).
    let latency = "twofactor_provider_request_duration_seconds_count";
    let calls = |text: &str, op: &str| sum_where(text, latency, &[("operation", op)]);
    assert_eq!(calls(&end, "send") - calls(&start, "send"), 1.0, "{end}");
    assert_eq!(calls(&end, "verify") - calls(&start, "verify"), 2.0);
    assert!(end.contains("twofactor_provider_request_duration_seconds_bucket{"));
    assert!(end.contains("# HELP twofactor_sends_total"));

    for secret in [digits, &code, &token, API_KEY] {
        assert!(!end.contains(secret), "{secret:?} in GET /metrics:\n{end}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_demo_metrics_move_as_requests_are_made() {
    counts_move_as_requests_are_made(Demo::axum().await, "+919812345601").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actix_demo_metrics_move_as_requests_are_made() {
    counts_move_as_requests_are_made(Demo::actix().await, "+919812345602").await;
}
