//! The axum demo: `cargo run --example axum`, then open http://127.0.0.1:3000.
//!
//! With no configuration it runs on the console provider (codes printed on stdout) and the
//! in-memory store; every variable of the README's configuration table works.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    twofactor_examples::run(async {
        let (bind, settings) = twofactor_examples::configure()?;
        let metrics = twofactor_examples::install_metrics()?;
        let tf = twofactor_tower::TwoFactor::from_settings(settings)
            .await
            .map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| format!("BIND {bind}: {e}"))?;
        twofactor_examples::announce("axum", tf.verifier(), listener.local_addr().ok());
        let app = twofactor_examples::axum_app::app_with_metrics(tf, Some(metrics));
        twofactor_examples::axum_app::serve(listener, app)
            .await
            .map_err(|e| e.to_string())
    })
    .await
}
