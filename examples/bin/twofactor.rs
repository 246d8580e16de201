//! `twofactor`: the operators' command line. It reads the same environment variables as the demo
//! apps (the README's configuration table) and keeps the same secret hygiene: no API key,
//! provider session id or store password is ever printed, and errors carry no URLs.
//!
//! ```sh
//! cargo run -p twofactor-examples --bin twofactor -- --help
//! twofactor policy                         # the effective configuration, secrets masked
//! twofactor send +919812345678 --channel voice
//! twofactor flow +919812345678             # send, read the code from stdin, verify
//! twofactor verify +919812345678 123456    # 2Factor: the last code sent to the number
//! twofactor sms +919812345678 "Your order has shipped" --sender TFCTOR
//! twofactor balance voice
//! ```
//!
//! Exit codes: 0 done, 1 the command failed (configuration, provider, wrong code), 2 bad usage.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use secrecy::ExposeSecret;
use twofactor_core::config::{OtpMode, ProviderSettings, Settings, StoreSettings};
use twofactor_core::provider::{OtpProvider, SendOptions};
use twofactor_core::transport::HttpOptions;
use twofactor_core::twofactor_in::{BalanceKind, SmsRequest, TwoFactorInClient};
use twofactor_core::verifier::Context;
use twofactor_core::web::TrustedProxies;
use twofactor_core::{Channel, OtpCode, PhoneNumber, Verdict};

/// Operate a twofactor-rs deployment: send test codes and SMS, verify, check the provider
/// balance and the effective policy. Configured by the same TWOFACTOR_* variables as the apps.
#[derive(Debug, Parser)]
#[command(name = "twofactor", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send a test code to PHONE through the configured provider (no caps applied; the code
    /// is not printed, except by the console provider, whose job that is).
    Send {
        /// The phone number, E.164 or national in TWOFACTOR_DEFAULT_REGION.
        phone: String,
        /// How the code is delivered.
        #[arg(long, value_enum, default_value_t = ChannelArg::Sms)]
        channel: ChannelArg,
    },
    /// Send a free-text SMS to PHONE (2Factor transactional or promotional SMS).
    Sms {
        /// The phone number, E.164 or national in TWOFACTOR_DEFAULT_REGION.
        phone: String,
        /// The message text.
        text: String,
        /// A promotional SMS instead of a transactional one.
        #[arg(long)]
        promotional: bool,
        /// The sender id (the approved header, e.g. TFCTOR) that 2Factor sends from.
        #[arg(long, value_name = "ID")]
        sender: String,
    },
    /// Check CODE against the last code 2Factor sent to PHONE (2Factor, TWOFACTOR_OTP_MODE=provider).
    ///
    /// Needs no state of its own: 2Factor keeps the code. Codes the library generates itself
    /// (console provider, TWOFACTOR_OTP_MODE=local) live only in the process that sent them:
    /// use `twofactor flow` for those.
    Verify {
        /// The phone number the code was sent to.
        phone: String,
        /// The code received.
        code: String,
    },
    /// Send a code to PHONE, then read codes from stdin, one a line, until one verifies, through
    /// the same engine as the apps (caps, attempts and lock included, in memory for this run).
    Flow {
        /// The phone number, E.164 or national in TWOFACTOR_DEFAULT_REGION.
        phone: String,
        /// How the code is delivered.
        #[arg(long, value_enum, default_value_t = ChannelArg::Sms)]
        channel: ChannelArg,
    },
    /// Print the provider's remaining credits (2Factor).
    Balance {
        /// Which balance.
        #[arg(value_enum, default_value_t = BalanceArg::Sms)]
        kind: BalanceArg,
    },
    /// Print the effective configuration read from the environment, secrets masked.
    Policy,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ChannelArg {
    Sms,
    Voice,
}

impl From<ChannelArg> for Channel {
    fn from(c: ChannelArg) -> Self {
        match c {
            ChannelArg::Sms => Channel::Sms,
            ChannelArg::Voice => Channel::Voice,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum BalanceArg {
    Sms,
    Voice,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    twofactor_examples::init_logging();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    match command {
        Command::Send { phone, channel } => send(&settings, &phone, channel.into()).await,
        Command::Sms {
            phone,
            text,
            promotional,
            sender,
        } => sms(&settings, &phone, text, promotional, sender).await,
        Command::Verify { phone, code } => verify(&settings, &phone, &code).await,
        Command::Flow { phone, channel } => flow(&settings, &phone, channel.into()).await,
        Command::Balance { kind } => balance(&settings, kind).await,
        Command::Policy => {
            print!("{}", policy(&settings));
            Ok(())
        }
    }
}

fn parse_phone(settings: &Settings, phone: &str) -> Result<PhoneNumber, String> {
    settings
        .phone_parser
        .parse(phone)
        .map_err(|e| format!("{phone:?} is not a number we can send to: {e}"))
}

async fn send(settings: &Settings, phone: &str, channel: Channel) -> Result<(), String> {
    let phone = parse_phone(settings, phone)?;
    let provider: Arc<dyn OtpProvider> = settings.provider().map_err(|e| e.to_string())?;
    if !provider.supports(channel) {
        return Err(format!(
            "the {} provider cannot send codes by {channel}",
            provider.name()
        ));
    }
    let options = SendOptions::new(channel)
        .with_code_length(settings.policy.code_length())
        .with_ttl(settings.policy.code_ttl());
    // The ticket (a provider session id or a code's hash) is a secret: dropped unprinted.
    let _ticket = provider
        .send(&phone, &options)
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    println!(
        "sent a code by {channel} to {} through {}",
        phone.masked(),
        provider.name()
    );
    Ok(())
}

/// The 2Factor client these settings describe, or why there is none.
fn twofactor_client(settings: &Settings, command: &str) -> Result<TwoFactorInClient, String> {
    let ProviderSettings::TwoFactorIn {
        api_key, base_url, ..
    } = &settings.provider
    else {
        return Err(format!(
            "`{command}` needs the 2Factor provider, and TWOFACTOR_PROVIDER is {} \
             (set TWOFACTOR_API_KEY, or TWOFACTOR_PROVIDER=2factor)",
            settings.provider.kind()
        ));
    };
    let key = api_key
        .clone()
        .ok_or("TWOFACTOR_API_KEY must be set for the 2Factor provider")?;
    TwoFactorInClient::builder(key)
        .base_url(base_url.clone())
        .http(HttpOptions::default().with_timeout(settings.policy.provider_timeout()))
        .build()
        .map_err(|e| e.to_string())
}

async fn sms(
    settings: &Settings,
    phone: &str,
    text: String,
    promotional: bool,
    sender: String,
) -> Result<(), String> {
    let phone = parse_phone(settings, phone)?;
    if text.trim().is_empty() {
        return Err("the message text is empty".to_owned());
    }
    let client = twofactor_client(settings, "sms")?;
    let request = SmsRequest::new(phone, text).with_sender(sender);
    let sent = if promotional {
        client.send_promotional_sms(&request).await
    } else {
        client.send_transactional_sms(&request).await
    }
    .map_err(|e| format!("sms failed: {e}"))?;
    // 2Factor's message id is no secret: it is what delivery reports are matched by.
    println!(
        "sent a {} SMS to {} (message id {})",
        if promotional {
            "promotional"
        } else {
            "transactional"
        },
        phone.masked(),
        sent.message_id
    );
    Ok(())
}

async fn verify(settings: &Settings, phone: &str, code: &str) -> Result<(), String> {
    let phone = parse_phone(settings, phone)?;
    match &settings.provider {
        ProviderSettings::TwoFactorIn {
            otp_mode: OtpMode::Local,
            ..
        } => {
            return Err(
                "with TWOFACTOR_OTP_MODE=local the library checks codes in the process that sent \
                 them: use `twofactor flow <phone>`"
                    .to_owned(),
            );
        }
        ProviderSettings::TwoFactorIn { .. } => {}
        other => {
            return Err(format!(
                "`verify` checks against 2Factor's record of the last code sent; the {} provider \
                 keeps no such record outside the process that sent the code: use \
                 `twofactor flow <phone>`",
                other.kind()
            ));
        }
    }
    let length = settings.policy.code_length();
    let code = OtpCode::parse(code.trim(), length..=length)
        .map_err(|_| format!("the code is {length} ASCII digits"))?;
    let client = twofactor_client(settings, "verify")?;
    match client
        .verify_otp_by_phone(&phone, &code)
        .await
        .map_err(|e| format!("verify failed: {e}"))?
    {
        Verdict::Matched => {
            println!("matched: the code is right for {}", phone.masked());
            Ok(())
        }
        Verdict::Mismatch => Err(format!(
            "mismatch: the code is wrong for {}",
            phone.masked()
        )),
        Verdict::Expired => Err(format!("expired: no live code for {}", phone.masked())),
    }
}

async fn flow(settings: &Settings, phone: &str, channel: Channel) -> Result<(), String> {
    let verifier = settings.verifier().await.map_err(|e| e.to_string())?;
    let ctx = Context::default().with_channel(channel);
    let sent = verifier
        .send(phone, &ctx)
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    eprintln!(
        "sent a code by {channel} to {} (valid {} s); type the code:",
        sent.phone.masked(),
        sent.expires_in.as_secs()
    );
    for line in std::io::stdin().lock().lines() {
        let code = line.map_err(|e| e.to_string())?;
        match verifier.verify(phone, code.trim(), &ctx).await {
            Ok(v) => {
                println!(
                    "verified {}; a proof would be valid {} s",
                    v.proof.phone().masked(),
                    v.expires_in.as_secs()
                );
                return Ok(());
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    Err("no code verified before the end of the input".to_owned())
}

async fn balance(settings: &Settings, kind: BalanceArg) -> Result<(), String> {
    let client = twofactor_client(settings, "balance")?;
    let (kind, what) = match kind {
        BalanceArg::Sms => (BalanceKind::Sms, "SMS"),
        BalanceArg::Voice => (BalanceKind::Voice, "voice"),
    };
    let balance = client
        .balance(kind)
        .await
        .map_err(|e| format!("balance failed: {e}"))?;
    println!("{what} balance: {}", balance.details);
    Ok(())
}

/// `set` / `unset` for a secret: its value is never shown, not even in part.
fn secret_state<T>(secret: Option<&T>) -> &'static str {
    if secret.is_some() {
        "set (hidden)"
    } else {
        "unset"
    }
}

/// A store URL without its password (or user): `redis://***@host:6379/0`.
fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparsable, hidden)".to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => format!("{scheme}://{authority}{path}"),
    }
}

fn policy(s: &Settings) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut row = |name: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(out, "{name:<34} {value}");
    };
    row("provider", &s.provider.kind());
    match &s.provider {
        ProviderSettings::TwoFactorIn {
            api_key,
            base_url,
            template,
            otp_mode,
            ..
        } => {
            row(
                "otp mode",
                &match otp_mode {
                    OtpMode::Local => "local",
                    _ => "provider",
                },
            );
            row("TWOFACTOR_API_KEY", &secret_state(api_key.as_ref()));
            row("TWOFACTOR_BASE_URL", &mask_url(base_url));
            row(
                "TWOFACTOR_OTP_TEMPLATE",
                &template.as_deref().unwrap_or("(account default)"),
            );
        }
        ProviderSettings::Verihubs {
            app_id,
            api_key,
            base_url,
            ..
        } => {
            row("VERIHUBS_APP_ID", &secret_state(app_id.as_ref()));
            row("VERIHUBS_API_KEY", &secret_state(api_key.as_ref()));
            row("VERIHUBS_BASE_URL", &mask_url(base_url));
        }
        ProviderSettings::Octopush {
            api_login,
            api_key,
            base_url,
            ..
        } => {
            row("OCTOPUSH_API_LOGIN", &secret_state(api_login.as_ref()));
            row("OCTOPUSH_API_KEY", &secret_state(api_key.as_ref()));
            row("OCTOPUSH_BASE_URL", &mask_url(base_url));
        }
        _ => row("note", &"codes are printed to stdout, nothing is sent"),
    }
    let store = match &s.store {
        StoreSettings::Redis(redis) => {
            let urls: Vec<String> = redis.urls().into_iter().map(mask_url).collect();
            let kind = if redis.cluster {
                "redis cluster"
            } else {
                "redis"
            };
            format!("{kind} at {}", urls.join(", "))
        }
        StoreSettings::Postgres(postgres) => format!(
            "postgres at {}",
            mask_url(postgres.url.expose_secret().trim())
        ),
        _ => "in memory (this process only)".to_owned(),
    };
    row("store", &store);
    row(
        "signing key",
        &match &s.keys {
            Some(_) => "TWOFACTOR_SIGNING_KEY set (hidden)",
            None => "random per process (TWOFACTOR_SIGNING_KEY unset)",
        },
    );
    row(
        "TWOFACTOR_WEBOTP_HOST",
        &s.webotp_host
            .as_ref()
            .map_or_else(|| "unset".to_owned(), ToString::to_string),
    );
    let p = &s.policy;
    let secs = |d: std::time::Duration| format!("{} s", d.as_secs());
    row("code length", &p.code_length());
    row("TWOFACTOR_CODE_TTL", &secs(p.code_ttl()));
    row("TWOFACTOR_MAX_ATTEMPTS", &p.max_attempts());
    row("TWOFACTOR_LOCKOUT", &secs(p.lockout()));
    row("TWOFACTOR_RESEND_COOLDOWN", &secs(p.resend_cooldown()));
    row(
        "TWOFACTOR_SENDS_PER_PHONE_HOUR",
        &p.sends_per_phone_per_hour(),
    );
    row("TWOFACTOR_SENDS_PER_IP_HOUR", &p.sends_per_ip_per_hour());
    row("TWOFACTOR_SENDS_PER_HOUR", &p.sends_per_hour());
    row(
        "TWOFACTOR_SENDS_PER_RANGE_HOUR",
        &p.sends_per_range_per_hour(),
    );
    row("TWOFACTOR_RANGE_DIGITS", &p.range_digits());
    row("TWOFACTOR_VOICE_SENDS_PER_HOUR", &p.voice_sends_per_hour());
    row(
        "TWOFACTOR_VERIFIES_PER_IP_HOUR",
        &p.verifies_per_ip_per_hour(),
    );
    row("TWOFACTOR_CONVERSION_MIN_SENDS", &p.conversion_min_sends());
    row("TWOFACTOR_CONVERSION_MIN_RATE", &p.conversion_min_rate());
    row("TWOFACTOR_TOKEN_TTL", &secs(p.token_ttl()));
    row("TWOFACTOR_PROVIDER_TIMEOUT", &secs(p.provider_timeout()));
    row(
        "TWOFACTOR_DEFAULT_REGION",
        &format!("{:?}", s.phone_parser.default_region()),
    );
    row("TWOFACTOR_COOKIE_SECURE", &s.web.cookie().secure());
    let addressing = s.web.client_addressing();
    row(
        "client address",
        &match addressing.trust() {
            TrustedProxies::None => "the peer address (no proxy trusted)".to_owned(),
            TrustedProxies::Hops(n) => format!("X-Forwarded-For, {n} trusted proxies"),
            TrustedProxies::Header(name) => format!("the {name} header"),
            _ => "a trusted proxy".to_owned(),
        },
    );
    row("TWOFACTOR_IPV6_PREFIX", &addressing.ipv6_prefix());
    row("test numbers", &s.test_numbers.len());
    row("TWOFACTOR_ENABLE_TEST_NUMBERS", &s.enable_test_numbers);
    out
}

#[cfg(test)]
mod tests {
    use super::mask_url;

    #[test]
    fn store_urls_lose_their_credentials() {
        assert_eq!(
            mask_url("redis://:hunter2@cache:6379/0"),
            "redis://***@cache:6379/0"
        );
        assert_eq!(
            mask_url("rediss://user:pw@a.example:6380"),
            "rediss://***@a.example:6380"
        );
        assert_eq!(mask_url("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(mask_url("no scheme:pw@x"), "(unparsable, hidden)");
    }
}
