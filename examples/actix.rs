//! The actix demo: `cargo run --example actix`, then open http://127.0.0.1:3000.
//!
//! The same surface and the same environment variables as the axum demo.

use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    twofactor_examples::run(async {
        let (bind, settings) = twofactor_examples::configure()?;
        let metrics = twofactor_examples::install_metrics()?;
        let tf = twofactor_actix::TwoFactor::from_settings(settings)
            .await
            .map_err(|e| e.to_string())?;
        let listener =
            std::net::TcpListener::bind(bind).map_err(|e| format!("BIND {bind}: {e}"))?;
        twofactor_examples::announce("actix", tf.verifier(), listener.local_addr().ok());
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let server = twofactor_examples::actix_app::server_with_metrics(
            listener,
            tf,
            workers,
            Some(metrics),
        )
        .map_err(|e| e.to_string())?;
        server.await.map_err(|e| e.to_string())
    })
    .await
}
