//! The sessions example on axum: `cargo run --example axum_sessions`.
//!
//! An app with its own users and login session (tower-sessions), where verifying a phone
//! while logged in binds it to the user in the same request and keeps the proof in the app's
//! session. Try it:
//!
//! ```text
//! curl -i -X POST localhost:3000/login -H 'content-type: application/json' -d '{"user":"alice"}'
//! #   -> 204, Set-Cookie: app_session=…  (send it back with -b 'app_session=…')
//! curl -b "$C" -X POST localhost:3000/phone/send -H 'content-type: application/json' -d '{"phone":"+919812345678"}'
//! #   -> the code is printed on this app's stdout (console provider)
//! curl -i -b "$C" -X POST localhost:3000/phone/verify -H 'content-type: application/json' -d '{"phone":"+919812345678","code":"…"}'
//! #   -> 200, and a new app_session cookie (the session id is rotated when the proof is added)
//! curl -b "$C2" localhost:3000/me
//! #   -> {"user":"alice","phone":"+919812345678","phone_verified_at":…}
//! ```
//!
//! With no configuration it runs on the console provider and in-memory stores; the
//! `TWOFACTOR_*` variables of the demos work here too (`TWOFACTOR_COOKIE_SECURE=false` for the
//! session cookie over plain http), and `TWOFACTOR_REDIS_URL` puts the sessions in Redis as
//! well. `TWOFACTOR_EXAMPLE_REQUIRE_LOGIN=true` refuses sends without a login. The routes and
//! the flow: the `sessions` module of `twofactor-examples`; the code: `axum_sessions_app.rs`.

use std::process::ExitCode;

use twofactor_examples::{axum_app, axum_sessions_app, sessions};

#[tokio::main]
async fn main() -> ExitCode {
    twofactor_examples::run(async {
        let (bind, settings) = twofactor_examples::configure()?;
        let setup = sessions::Setup::from_env().await?;
        let verifier = settings.verifier().await.map_err(|e| e.to_string())?;
        let tf = axum_sessions_app::two_factor(verifier, settings.web.clone(), &setup)
            .map_err(|e| e.to_string())?;
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|e| format!("BIND {bind}: {e}"))?;
        twofactor_examples::announce("axum sessions", tf.verifier(), listener.local_addr().ok());
        axum_app::serve(listener, axum_sessions_app::app(tf, &setup))
            .await
            .map_err(|e| e.to_string())
    })
    .await
}
