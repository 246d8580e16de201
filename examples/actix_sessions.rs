//! The sessions example on actix-web: `cargo run --example actix_sessions`.
//!
//! The same app as `axum_sessions` (same routes, same variables), on actix-session: log in
//! with `POST /login {"user":"alice"}`, send and verify a code under `/phone`, and `GET /me`
//! shows the phone with nothing but the app's session cookie. The routes and the flow: the
//! `sessions` module of `twofactor-examples`; the code: `actix_sessions_app.rs`.

use std::process::ExitCode;

use twofactor_examples::{actix_sessions_app, sessions};

#[actix_web::main]
async fn main() -> ExitCode {
    twofactor_examples::run(async {
        let (bind, settings) = twofactor_examples::configure()?;
        let setup = sessions::Setup::from_env().await?;
        let verifier = settings.verifier().await.map_err(|e| e.to_string())?;
        let tf = actix_sessions_app::two_factor(verifier, settings.web.clone(), &setup)
            .map_err(|e| e.to_string())?;
        let listener =
            std::net::TcpListener::bind(bind).map_err(|e| format!("BIND {bind}: {e}"))?;
        twofactor_examples::announce("actix sessions", tf.verifier(), listener.local_addr().ok());
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let server =
            actix_sessions_app::server(listener, tf, &setup, workers).map_err(|e| e.to_string())?;
        server.await.map_err(|e| e.to_string())
    })
    .await
}
