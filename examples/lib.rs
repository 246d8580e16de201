//! What the demo apps share: the settings read from the environment, the page, and the app
//! surface described in the README, built once per framework so that tests and benchmarks drive exactly
//! what `cargo run --example axum` serves.
//!
//! | route | |
//! |---|---|
//! | `GET /` | a small page to try the flow by hand |
//! | `GET /health` | `{"ok":true}`, unguarded |
//! | `GET /protected` | guarded; `{"phone":"+91…","verified_at":…}` |
//! | `GET /protected/recent` | the same, but only for a phone verified in the last 5 minutes (step-up) |
//! | `GET /openapi.json` | the OpenAPI 3.1 document of all of these (see [`openapi`]) |
//! | `GET /metrics` | Prometheus text (see [`install_metrics`]): the library's `twofactor_*` metrics |
//! | `/phone/*` | the endpoints of the HTTP contract (`twofactor_core::web`) |
//!
//! The sessions examples (`axum_sessions`, `actix_sessions`) show the library inside an app with
//! its own users and login session: see [`sessions`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::net::SocketAddr;

pub mod actix_app;
pub mod actix_sessions_app;
pub mod axum_app;
pub mod axum_sessions_app;
pub mod openapi;
pub mod sessions;

/// How recent a verification `GET /protected/recent` demands.
pub const RECENT: std::time::Duration = std::time::Duration::from_secs(300);

/// The demo page: self-contained HTML, no build step, no external assets.
pub const INDEX_HTML: &str = include_str!("index.html");

/// The body of `GET /protected` (its schema in `GET /openapi.json` is derived from this type).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = demo::Protected)]
pub struct Protected {
    /// The verified phone, E.164 (written straight from the number: no string in between).
    #[schema(value_type = String, example = "+919812345678")]
    pub phone: twofactor_core::phone::PhoneNumber,
    /// When it was verified, Unix seconds.
    pub verified_at: u64,
}

impl Protected {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl From<&twofactor_core::token::PhoneProof> for Protected {
    fn from(p: &twofactor_core::token::PhoneProof) -> Self {
        Self {
            phone: p.phone(),
            verified_at: p.verified_at_unix(),
        }
    }
}

/// The handle `GET /metrics` renders (from [`install_metrics`]).
pub use metrics_exporter_prometheus::PrometheusHandle;

/// The content type of `GET /metrics`: the Prometheus text format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Upper bounds of the provider latency histogram's buckets, in seconds: an SMS API answers in
/// tens to hundreds of milliseconds, and the default provider timeout is 10 s.
const LATENCY_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Installs the process's Prometheus recorder (once per process: a second call fails) and
/// returns the handle `GET /metrics` renders. The library records through the `metrics`
/// facade; this is the app's part.
pub fn install_metrics() -> Result<PrometheusHandle, String> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(twofactor_core::metrics::PROVIDER_REQUEST_DURATION_SECONDS.to_owned()),
            LATENCY_BUCKETS,
        )
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("metrics: {e}"))?;
    twofactor_core::metrics::describe();
    // Without the exporter's own listener nothing drains the histograms: a thread does, so
    // that it works under either framework's runtime.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        })
        .map_err(|e| format!("metrics: {e}"))?;
    Ok(handle)
}

/// `BIND` (default `127.0.0.1:3000`).
pub fn bind_address() -> Result<SocketAddr, String> {
    match std::env::var("BIND") {
        Err(_) => Ok(SocketAddr::from(([127, 0, 0, 1], 3000))),
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("BIND: expected an address such as 127.0.0.1:3000, got {text:?}")),
    }
}

/// The demo's address (`BIND`) and settings, from the environment (see the README).
pub fn configure() -> Result<(SocketAddr, twofactor_core::config::Settings), String> {
    let bind = bind_address()?;
    let settings = twofactor_core::config::Settings::from_env().map_err(|e| e.to_string())?;
    Ok((bind, settings))
}

/// Logs where a demo listens and with which provider.
pub fn announce(
    framework: &str,
    verifier: &twofactor_core::verifier::PhoneVerifier,
    addr: Option<SocketAddr>,
) {
    let addr = addr.map_or_else(|| "?".to_owned(), |a| a.to_string());
    tracing::info!(
        provider = verifier.provider_name(),
        "twofactor {framework} demo listening on http://{addr}"
    );
}

/// Runs a demo's `main` with logging on, turning a start-up error into a message and a failure
/// exit code.
pub async fn run(main: impl Future<Output = Result<(), String>>) -> std::process::ExitCode {
    init_logging();
    match main.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, so that stdout carries only what the console provider prints.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}
