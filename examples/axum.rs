//! The axum demo: `cargo run --example axum`, then open http://127.0.0.1:3000.
//!
//! With no configuration it runs on the console provider (codes printed on stdout) and the
//! in-memory store; every variable of DESIGN §5 works (see the README).

use std::process::ExitCode;

use twofactor_core::config::Settings;

#[tokio::main]
async fn main() -> ExitCode {
    twofactor_examples::init_logging();
    let result = async {
        let bind = twofactor_examples::bind_address()?;
        let tf = Settings::from_env()
            .map_err(|e| e.to_string())?
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| format!("BIND {bind}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(
            provider = tf.verifier().provider_name(),
            "twofactor axum demo listening on http://{addr}"
        );
        twofactor_examples::axum_app::serve(listener, tf)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
