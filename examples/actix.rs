//! The actix demo: `cargo run --example actix`, then open http://127.0.0.1:3000.
//!
//! The same surface and the same environment variables as the axum demo.

use std::process::ExitCode;

use twofactor_core::config::Settings;

#[actix_web::main]
async fn main() -> ExitCode {
    twofactor_examples::init_logging();
    let result = async {
        let bind = twofactor_examples::bind_address()?;
        let tf = Settings::from_env()
            .map_err(|e| e.to_string())?
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let listener =
            std::net::TcpListener::bind(bind).map_err(|e| format!("BIND {bind}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        tracing::info!(
            provider = tf.verifier().provider_name(),
            "twofactor actix demo listening on http://{addr}"
        );
        twofactor_examples::actix_app::server(listener, tf, workers)
            .map_err(|e| e.to_string())?
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
