//! A small command line for trying a provider configuration by hand.
//!
//! ```sh
//! cargo run --example cli -- flow +919812345678      # send a code, read it from stdin, verify it
//! TWOFACTOR_API_KEY=... cargo run --example cli -- balance sms|voice
//! ```
//!
//! It reads the same environment variables as the demo apps (the README's configuration table).

use std::io::BufRead;
use std::process::ExitCode;

use twofactor_core::twofactor::BalanceKind;
use twofactor_core::twofactor::TwoFactorClient;
use twofactor_core::verifier::Context;

const USAGE: &str = "usage: cli flow <phone> | cli balance <sms|voice>";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    twofactor_examples::run(async move {
        match args
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["flow", phone] => flow(phone).await,
            ["balance", kind] => balance(kind).await,
            _ => Err(USAGE.to_owned()),
        }
    })
    .await
}

async fn flow(phone: &str) -> Result<(), String> {
    let (_, settings) = twofactor_examples::configure()?;
    let verifier = settings.verifier().await.map_err(|e| e.to_string())?;
    let ctx = Context::default();
    let sent = verifier
        .send(phone, &ctx)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!(
        "sent to {} (valid {} s); type the code:",
        sent.phone,
        sent.expires_in.as_secs()
    );
    for line in std::io::stdin().lock().lines() {
        let code = line.map_err(|e| e.to_string())?;
        match verifier.verify(phone, code.trim(), &ctx).await {
            Ok(v) => {
                eprintln!(
                    "verified {} — token valid {} s",
                    v.proof.phone(),
                    v.expires_in.as_secs()
                );
                return Ok(());
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    Err("no code typed".to_owned())
}

async fn balance(kind: &str) -> Result<(), String> {
    let kind = match kind {
        "sms" => BalanceKind::Sms,
        "voice" => BalanceKind::Voice,
        _ => return Err(USAGE.to_owned()),
    };
    let key = std::env::var("TWOFACTOR_API_KEY")
        .map_err(|_| "TWOFACTOR_API_KEY must be set".to_owned())?;
    let base =
        std::env::var("TWOFACTOR_BASE_URL").unwrap_or_else(|_| "https://2factor.in".to_owned());
    let client = TwoFactorClient::builder(key)
        .base_url(base)
        .build()
        .map_err(|e| e.to_string())?;
    let balance = client.balance(kind).await.map_err(|e| e.to_string())?;
    eprintln!("{}", balance.details);
    Ok(())
}
