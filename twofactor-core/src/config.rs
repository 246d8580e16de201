//! Configuration from the environment (the variables of the README's configuration table), for the demo apps and for apps that want the
//! same variables.
//!
//! [`Settings::from_env`] reads and checks every variable — a bad value is an error naming the
//! variable, never a silent default — and [`Settings::build`] turns the settings into a ready
//! [`Contract`]: provider, store, policy, keys and HTTP settings (the adapters'
//! `TwoFactor::from_env` do this for you).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use twofactor_core::config::{ProviderKind, Settings};
//!
//! let env = [("TWOFACTOR_MAX_ATTEMPTS", "3"), ("TWOFACTOR_COOKIE_SECURE", "false")];
//! let settings = Settings::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
//! assert_eq!(settings.provider, ProviderKind::Console);
//! assert_eq!(settings.policy.max_attempts(), 3);
//! let contract = settings.build().await.unwrap();
//! assert!(!contract.config().cookie().secure());
//!
//! let bad = Settings::from_lookup(|k| (k == "TWOFACTOR_MAX_ATTEMPTS").then(|| "many".to_string()));
//! assert_eq!(bad.unwrap_err().to_string(), "TWOFACTOR_MAX_ATTEMPTS: expected a whole number, got \"many\"");
//! # }
//! ```

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
use crate::client_error::{ClientError, ClientSetting};
use crate::console::ConsoleSms;
use crate::local::{CodeHasher, LocalOtp, WebOtpHost};
#[cfg(feature = "octopush")]
use crate::octopush::OctopushProvider;
use crate::policy::{Policy, PolicyBuilder};
use crate::provider::Channel;
use crate::provider::OtpProvider;
use crate::token::{KeyRing, SigningKey};
#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
use crate::transport::HttpOptions;
#[cfg(feature = "twofactor-in")]
use crate::twofactor::{TwoFactorClient, TwoFactorOtp};
use crate::verifier::PhoneVerifier;
#[cfg(feature = "verihubs")]
use crate::verihubs::VerihubsProvider;
use crate::web::{Contract, WebConfig};
use crate::{CountryId, PhoneParser};

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable has a value that cannot be used.
    #[error("{var}: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong (never the value of a secret).
        reason: String,
    },
    /// A variable the chosen setup needs is not set.
    #[error("{var} must be set {why}")]
    Missing {
        /// The variable.
        var: &'static str,
        /// For what.
        why: &'static str,
    },
    /// The store could not be reached at start-up.
    #[error("the store at TWOFACTOR_REDIS_URL could not be used")]
    Store(#[source] crate::store::StoreError),
    /// The PostgreSQL store (`TWOFACTOR_DATABASE_URL`) could not be used at start-up.
    #[error("the store at TWOFACTOR_DATABASE_URL could not be used")]
    DatabaseStore(#[source] crate::store::StoreError),
    /// The engine could not be built.
    #[error(transparent)]
    Build(#[from] crate::verifier::BuildError),
}

/// Which provider sends the codes (`TWOFACTOR_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderKind {
    /// 2Factor.in.
    TwoFactor,
    /// Verihubs.
    Verihubs,
    /// Octopush.
    Octopush,
    /// Prints codes to stdout (development only).
    Console,
}

/// Who generates and checks the code (`TWOFACTOR_OTP_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtpMode {
    /// The provider generates and checks the code (2Factor AUTOGEN + VERIFY).
    #[default]
    Provider,
    /// The library generates and checks the code; the provider only delivers it (2Factor's
    /// custom-code endpoint).
    Local,
}

/// Every setting of the README's configuration table, parsed and checked. Secrets are `SecretString`s and are
/// redacted from `Debug`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// `TWOFACTOR_PROVIDER`.
    pub provider: ProviderKind,
    /// `TWOFACTOR_OTP_MODE`.
    pub otp_mode: OtpMode,
    /// `TWOFACTOR_API_KEY`.
    pub twofactor_api_key: Option<SecretString>,
    /// `TWOFACTOR_BASE_URL` (default `https://2factor.in`).
    pub twofactor_base_url: String,
    /// `TWOFACTOR_OTP_TEMPLATE`.
    pub twofactor_template: Option<String>,
    /// `VERIHUBS_APP_ID`.
    pub verihubs_app_id: Option<String>,
    /// `VERIHUBS_API_KEY`.
    pub verihubs_api_key: Option<SecretString>,
    /// `VERIHUBS_BASE_URL` (default `https://api.verihubs.com`).
    pub verihubs_base_url: String,
    /// `OCTOPUSH_API_LOGIN`.
    pub octopush_api_login: Option<String>,
    /// `OCTOPUSH_API_KEY`.
    pub octopush_api_key: Option<SecretString>,
    /// `OCTOPUSH_BASE_URL` (default `https://api.octopush.com/v1/public`).
    pub octopush_base_url: String,
    /// `TWOFACTOR_REDIS_URL` (it may carry a password): one URL, or with
    /// `TWOFACTOR_REDIS_CLUSTER=true` a cluster's seed URLs, comma-separated.
    pub redis_url: Option<SecretString>,
    /// `TWOFACTOR_REDIS_CLUSTER` (default false): the Redis is a Redis Cluster.
    pub redis_cluster: bool,
    /// `TWOFACTOR_REDIS_CA_FILE`: the CA (PEM) that verifies a `rediss://` server, instead of
    /// the system's roots. Checked when read: readable, with at least one certificate.
    pub redis_ca_file: Option<PathBuf>,
    /// `TWOFACTOR_REDIS_WAIT_REPLICAS`: replica acknowledgements each Redis write waits for
    /// (default 0; see the Redis store's docs, "Replication").
    pub redis_wait_replicas: Option<u32>,
    /// `TWOFACTOR_DATABASE_URL` (it may carry a password): the PostgreSQL store. Exclusive
    /// with `TWOFACTOR_REDIS_URL`.
    pub database_url: Option<SecretString>,
    /// `TWOFACTOR_SIGNING_KEY`: comma-separated keys, the first signs. `None`: random.
    pub keys: Option<KeyRing>,
    /// `TWOFACTOR_DEFAULT_REGION` and `TWOFACTOR_ALLOWED_COUNTRIES`.
    pub phone_parser: PhoneParser,
    /// The `TWOFACTOR_*` policy variables and `TWOFACTOR_PROVIDER_TIMEOUT`.
    pub policy: Policy,
    /// `TWOFACTOR_COOKIE_SECURE` (default true), `TWOFACTOR_TRUST_FORWARDED_FOR` (default
    /// false), `TWOFACTOR_CLIENT_IP_HEADER`, `TWOFACTOR_IPV6_PREFIX` (default 64).
    pub web: WebConfig,
    /// `TWOFACTOR_TEST_NUMBERS`: `+919000000001=123456,...`.
    pub test_numbers: Vec<(String, String)>,
    /// `TWOFACTOR_ENABLE_TEST_NUMBERS` (default false).
    pub enable_test_numbers: bool,
    /// `TWOFACTOR_WEBOTP_HOST`: the host name that codes generated by the library are bound
    /// to; their SMS text then ends with the WebOTP line `@host #code`. Unset: no such line.
    pub webotp_host: Option<WebOtpHost>,
}

struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn get(&self, var: &'static str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn parse<T>(&self, var: &'static str, what: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
    {
        self.get(var)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| invalid(var, format!("expected {what}, got {v:?}")))
            })
            .transpose()
    }

    fn secs(&self, var: &'static str) -> Result<Option<Duration>, ConfigError> {
        Ok(self
            .parse::<u64>(var, "a whole number of seconds")?
            .map(Duration::from_secs))
    }

    fn count(&self, var: &'static str) -> Result<Option<u32>, ConfigError> {
        self.parse::<u32>(var, "a whole number")
    }

    fn digits(&self, var: &'static str) -> Result<Option<u8>, ConfigError> {
        self.parse::<u8>(var, "a whole number of digits")
    }

    fn rate(&self, var: &'static str) -> Result<Option<f64>, ConfigError> {
        self.parse::<f64>(var, "a number between 0 and 1")
    }

    fn flag(&self, var: &'static str) -> Result<Option<bool>, ConfigError> {
        self.get(var)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(invalid(var, format!("expected true or false, got {v:?}"))),
            })
            .transpose()
    }

    /// A comma-separated list of `sms` and `voice`.
    fn channels(&self, var: &'static str) -> Result<Option<Vec<Channel>>, ConfigError> {
        self.get(var)
            .map(|v| {
                v.split(',')
                    .map(|c| match c.trim().to_ascii_lowercase().as_str() {
                        "sms" => Ok(Channel::Sms),
                        "voice" => Ok(Channel::Voice),
                        _ => Err(invalid(
                            var,
                            format!("expected a comma-separated list of sms and voice, got {v:?}"),
                        )),
                    })
                    .collect()
            })
            .transpose()
    }

    fn secret(&self, var: &'static str) -> Option<SecretString> {
        self.get(var).map(SecretString::from)
    }
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

/// `TWOFACTOR_COOKIE_SECURE`, `TWOFACTOR_TRUST_FORWARDED_FOR`, `TWOFACTOR_CLIENT_IP_HEADER`,
/// `TWOFACTOR_IPV6_PREFIX`.
fn web_config<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<WebConfig, ConfigError> {
    let mut web = WebConfig::builder();
    if let Some(secure) = env.flag("TWOFACTOR_COOKIE_SECURE")? {
        web = web.cookie_secure(secure);
    }
    let hops = match env.get("TWOFACTOR_TRUST_FORWARDED_FOR") {
        None => None,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "0" | "false" | "no" | "off" => None,
            "true" | "yes" | "on" => Some(1),
            n => Some(n.parse::<u8>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                invalid(
                    "TWOFACTOR_TRUST_FORWARDED_FOR",
                    format!("expected false, true or a number of proxies (1-255), got {v:?}"),
                )
            })?),
        },
    };
    let header = env.get("TWOFACTOR_CLIENT_IP_HEADER");
    match (hops, header) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "TWOFACTOR_CLIENT_IP_HEADER",
                "set either TWOFACTOR_CLIENT_IP_HEADER or TWOFACTOR_TRUST_FORWARDED_FOR, not both",
            ));
        }
        (Some(hops), None) => web = web.trust_forwarded_for(hops),
        (None, Some(header)) => web = web.client_ip_header(header),
        (None, None) => {}
    }
    if let Some(bits) = env.parse::<u8>("TWOFACTOR_IPV6_PREFIX", "a prefix length (32-128)")? {
        web = web.ipv6_prefix(bits);
    }
    web.build().map_err(|e| {
        let var = match e {
            crate::web::WebConfigError::HeaderName(_) => "TWOFACTOR_CLIENT_IP_HEADER",
            crate::web::WebConfigError::Ipv6Prefix(_) => "TWOFACTOR_IPV6_PREFIX",
            crate::web::WebConfigError::ZeroHops => "TWOFACTOR_TRUST_FORWARDED_FOR",
            _ => "TWOFACTOR_COOKIE_SECURE",
        };
        invalid(var, e.to_string())
    })
}

fn region(var: &'static str, code: &str) -> Result<CountryId, ConfigError> {
    PhoneParser::region(code)
        .map_err(|_| invalid(var, format!("{code:?} is not an ISO 3166 region code")))
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads variables through `lookup` (for tests and other configuration sources).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let twofactor_api_key = env.secret("TWOFACTOR_API_KEY");
        let provider = match env
            .get("TWOFACTOR_PROVIDER")
            .map(|p| p.to_ascii_lowercase())
        {
            None if twofactor_api_key.is_some() => ProviderKind::TwoFactor,
            None => ProviderKind::Console,
            Some(p) => match p.as_str() {
                "2factor" | "twofactor" => ProviderKind::TwoFactor,
                "verihubs" => ProviderKind::Verihubs,
                "octopush" => ProviderKind::Octopush,
                "console" => ProviderKind::Console,
                _ => {
                    return Err(invalid(
                        "TWOFACTOR_PROVIDER",
                        format!("expected 2factor, verihubs, octopush or console, got {p:?}"),
                    ));
                }
            },
        };
        let otp_mode = match env
            .get("TWOFACTOR_OTP_MODE")
            .map(|m| m.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("provider") => OtpMode::Provider,
            Some("local") => OtpMode::Local,
            Some(m) => {
                return Err(invalid(
                    "TWOFACTOR_OTP_MODE",
                    format!("expected provider or local, got {m:?}"),
                ));
            }
        };

        let keys = match env.get("TWOFACTOR_SIGNING_KEY") {
            None => None,
            Some(text) => {
                let mut keys = text.split(',').map(|k| {
                    SigningKey::from_text(k)
                        .map_err(|e| invalid("TWOFACTOR_SIGNING_KEY", e.to_string()))
                });
                let first = keys.next().unwrap_or_else(|| Ok(SigningKey::random()))?;
                let mut ring = KeyRing::new(first);
                for key in keys {
                    ring = ring.with_key(key?);
                }
                Some(ring)
            }
        };

        let default_region = match env.get("TWOFACTOR_DEFAULT_REGION") {
            Some(code) => region("TWOFACTOR_DEFAULT_REGION", &code)?,
            None => CountryId::IN,
        };
        let mut phone_parser = PhoneParser::new(default_region);
        if let Some(list) = env.get("TWOFACTOR_ALLOWED_COUNTRIES") {
            if list == "*" {
                phone_parser = phone_parser.with_any_country();
            } else {
                let countries = list
                    .split(',')
                    .map(|c| region("TWOFACTOR_ALLOWED_COUNTRIES", c))
                    .collect::<Result<Vec<_>, _>>()?;
                phone_parser = phone_parser.with_allowed_countries(countries);
            }
        }

        let mut b: PolicyBuilder = Policy::builder();
        // (the policy knob, the variable that set it), to name the variable behind a refusal.
        let mut set: Vec<(&'static str, &'static str)> = Vec::new();
        macro_rules! knob {
            ($var:literal, $get:ident, $set:ident) => {
                if let Some(v) = env.$get($var)? {
                    b = b.$set(v);
                    set.push((stringify!($set), $var));
                }
            };
        }
        knob!("TWOFACTOR_CODE_TTL", secs, code_ttl);
        knob!("TWOFACTOR_MAX_ATTEMPTS", count, max_attempts);
        knob!("TWOFACTOR_LOCKOUT", secs, lockout);
        knob!("TWOFACTOR_RESEND_COOLDOWN", secs, resend_cooldown);
        knob!(
            "TWOFACTOR_SENDS_PER_PHONE_HOUR",
            count,
            sends_per_phone_per_hour
        );
        knob!("TWOFACTOR_SENDS_PER_IP_HOUR", count, sends_per_ip_per_hour);
        knob!("TWOFACTOR_SENDS_PER_HOUR", count, sends_per_hour);
        knob!(
            "TWOFACTOR_SENDS_PER_RANGE_HOUR",
            count,
            sends_per_range_per_hour
        );
        knob!("TWOFACTOR_RANGE_DIGITS", digits, range_digits);
        knob!(
            "TWOFACTOR_VOICE_SENDS_PER_HOUR",
            count,
            voice_sends_per_hour
        );
        knob!(
            "TWOFACTOR_VERIFIES_PER_IP_HOUR",
            count,
            verifies_per_ip_per_hour
        );
        knob!(
            "TWOFACTOR_CONVERSION_MIN_SENDS",
            count,
            conversion_min_sends
        );
        knob!("TWOFACTOR_CONVERSION_MIN_RATE", rate, conversion_min_rate);
        knob!("TWOFACTOR_TOKEN_TTL", secs, token_ttl);
        knob!("TWOFACTOR_PROVIDER_TIMEOUT", secs, provider_timeout);
        knob!("TWOFACTOR_ALLOW_VOIP", flag, allow_voip);
        knob!("TWOFACTOR_CHANNELS", channels, channels);
        let policy = b.build().map_err(|e| {
            let var = set
                .iter()
                .find(|(knob, _)| *knob == e.knob())
                .map_or("TWOFACTOR_* policy", |(_, var)| var);
            invalid(var, e.to_string())
        })?;

        let web = web_config(&env)?;

        let test_numbers = env
            .get("TWOFACTOR_TEST_NUMBERS")
            .map(|list| {
                list.split(',')
                    .map(|pair| {
                        pair.split_once('=')
                            .map(|(n, c)| (n.trim().to_owned(), c.trim().to_owned()))
                            .ok_or_else(|| {
                                invalid(
                                    "TWOFACTOR_TEST_NUMBERS",
                                    "expected number=code pairs separated by commas",
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();

        let redis_url = env.secret("TWOFACTOR_REDIS_URL");
        let redis_cluster = env.flag("TWOFACTOR_REDIS_CLUSTER")?.unwrap_or(false);
        let redis_ca_file = env.get("TWOFACTOR_REDIS_CA_FILE").map(PathBuf::from);
        let redis_wait_replicas = env.count("TWOFACTOR_REDIS_WAIT_REPLICAS")?;
        check_redis(
            redis_url.as_ref(),
            redis_cluster,
            redis_ca_file.as_ref(),
            redis_wait_replicas,
        )?;
        let database_url = env.secret("TWOFACTOR_DATABASE_URL");
        check_database(database_url.as_ref(), redis_url.is_some())?;

        Ok(Self {
            provider,
            otp_mode,
            twofactor_api_key,
            twofactor_base_url: env
                .get("TWOFACTOR_BASE_URL")
                .unwrap_or_else(|| "https://2factor.in".into()),
            twofactor_template: env.get("TWOFACTOR_OTP_TEMPLATE"),
            verihubs_app_id: env.get("VERIHUBS_APP_ID"),
            verihubs_api_key: env.secret("VERIHUBS_API_KEY"),
            verihubs_base_url: env
                .get("VERIHUBS_BASE_URL")
                .unwrap_or_else(|| "https://api.verihubs.com".into()),
            octopush_api_login: env.get("OCTOPUSH_API_LOGIN"),
            octopush_api_key: env.secret("OCTOPUSH_API_KEY"),
            octopush_base_url: env
                .get("OCTOPUSH_BASE_URL")
                .unwrap_or_else(|| "https://api.octopush.com/v1/public".into()),
            redis_url,
            redis_cluster,
            redis_ca_file,
            redis_wait_replicas,
            database_url,
            keys,
            phone_parser,
            policy,
            web,
            test_numbers,
            enable_test_numbers: env.flag("TWOFACTOR_ENABLE_TEST_NUMBERS")?.unwrap_or(false),
            webotp_host: env
                .get("TWOFACTOR_WEBOTP_HOST")
                .map(|host| {
                    WebOtpHost::new(&host)
                        .map_err(|e| invalid("TWOFACTOR_WEBOTP_HOST", e.to_string()))
                })
                .transpose()?,
        })
    }

    /// The code hasher for local mode: derived from the signing key so every instance sharing
    /// the key (and a Redis store) agrees; random when the key is random.
    fn code_hasher(&self, keys: Option<&KeyRing>) -> CodeHasher {
        keys.map_or_else(CodeHasher::random, |keys| {
            CodeHasher::new(keys.primary().derive("local code hash v1"))
        })
    }

    /// Library-generated codes: keyed hash and, when configured, the WebOTP line.
    fn local<S: crate::provider::SmsSender>(
        &self,
        sender: S,
        keys: Option<&KeyRing>,
    ) -> LocalOtp<S> {
        let local = LocalOtp::new(sender).with_hasher(self.code_hasher(keys));
        match &self.webotp_host {
            Some(host) => local.with_webotp_host(host.clone()),
            None => local,
        }
    }

    #[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
    fn http(&self) -> HttpOptions {
        HttpOptions::default().with_timeout(self.policy.provider_timeout())
    }

    /// The provider these settings describe.
    pub fn provider(&self) -> Result<Arc<dyn OtpProvider>, ConfigError> {
        let keys = self.keys.as_ref();
        match self.provider {
            ProviderKind::Console => Ok(Arc::new(self.local(ConsoleSms::new(), keys))),
            ProviderKind::Verihubs => self.verihubs(),
            ProviderKind::Octopush => self.octopush(),
            ProviderKind::TwoFactor => self.twofactor(keys),
        }
    }

    #[cfg(feature = "verihubs")]
    fn verihubs(&self) -> Result<Arc<dyn OtpProvider>, ConfigError> {
        let why = "for TWOFACTOR_PROVIDER=verihubs";
        let app_id = self.verihubs_app_id.clone().ok_or(ConfigError::Missing {
            var: "VERIHUBS_APP_ID",
            why,
        })?;
        let key = self.verihubs_api_key.clone().ok_or(ConfigError::Missing {
            var: "VERIHUBS_API_KEY",
            why,
        })?;
        let provider = VerihubsProvider::builder(app_id, key)
            .base_url(self.verihubs_base_url.clone())
            .http(self.http())
            .build()
            .map_err(|e| {
                refused(
                    e,
                    "VERIHUBS_APP_ID",
                    "VERIHUBS_API_KEY",
                    "VERIHUBS_BASE_URL",
                    None,
                )
            })?;
        Ok(Arc::new(provider))
    }

    #[cfg(not(feature = "verihubs"))]
    fn verihubs(&self) -> Result<Arc<dyn OtpProvider>, ConfigError> {
        Err(not_built("verihubs"))
    }

    #[cfg(feature = "octopush")]
    fn octopush(&self) -> Result<Arc<dyn OtpProvider>, ConfigError> {
        let why = "for TWOFACTOR_PROVIDER=octopush";
        let login = self
            .octopush_api_login
            .clone()
            .ok_or(ConfigError::Missing {
                var: "OCTOPUSH_API_LOGIN",
                why,
            })?;
        let key = self.octopush_api_key.clone().ok_or(ConfigError::Missing {
            var: "OCTOPUSH_API_KEY",
            why,
        })?;
        let provider = OctopushProvider::builder(login, key)
            .base_url(self.octopush_base_url.clone())
            .http(self.http())
            .build()
            .map_err(|e| {
                refused(
                    e,
                    "OCTOPUSH_API_LOGIN",
                    "OCTOPUSH_API_KEY",
                    "OCTOPUSH_BASE_URL",
                    None,
                )
            })?;
        Ok(Arc::new(provider))
    }

    #[cfg(not(feature = "octopush"))]
    fn octopush(&self) -> Result<Arc<dyn OtpProvider>, ConfigError> {
        Err(not_built("octopush"))
    }

    #[cfg(feature = "twofactor-in")]
    fn twofactor(&self, keys: Option<&KeyRing>) -> Result<Arc<dyn OtpProvider>, ConfigError> {
        let key = self.twofactor_api_key.clone().ok_or(ConfigError::Missing {
            var: "TWOFACTOR_API_KEY",
            why: "for TWOFACTOR_PROVIDER=2factor",
        })?;
        let mut builder = TwoFactorClient::builder(key)
            .base_url(self.twofactor_base_url.clone())
            .http(self.http());
        if let Some(template) = &self.twofactor_template {
            builder = builder.otp_template(template.clone());
        }
        let client = builder.build().map_err(|e| {
            refused(
                e,
                "TWOFACTOR_API_KEY",
                "TWOFACTOR_API_KEY",
                "TWOFACTOR_BASE_URL",
                Some("TWOFACTOR_OTP_TEMPLATE"),
            )
        })?;
        Ok(match self.otp_mode {
            OtpMode::Provider => Arc::new(TwoFactorOtp::new(client)),
            OtpMode::Local => Arc::new(self.local(client, keys)),
        })
    }

    #[cfg(not(feature = "twofactor-in"))]
    fn twofactor(&self, _: Option<&KeyRing>) -> Result<Arc<dyn OtpProvider>, ConfigError> {
        Err(not_built("twofactor-in"))
    }

    /// Builds the endpoints: provider, store (Redis if `TWOFACTOR_REDIS_URL` is set,
    /// PostgreSQL if `TWOFACTOR_DATABASE_URL` is, else in-memory), engine and HTTP settings.
    pub async fn build(self) -> Result<Contract, ConfigError> {
        Ok(Contract::with_config(
            self.verifier().await?,
            self.web.clone(),
        ))
    }

    /// Builds the engine alone: provider, store, policy, keys.
    pub async fn verifier(&self) -> Result<PhoneVerifier, ConfigError> {
        let provider = self.provider()?;
        let mut builder = PhoneVerifier::builder_shared(provider)
            .policy(self.policy.clone())
            .phone_parser(self.phone_parser.clone())
            .enable_test_numbers(self.enable_test_numbers);
        // Without TWOFACTOR_SIGNING_KEY the engine picks a random key, and says so.
        if let Some(keys) = &self.keys {
            builder = builder.keys(keys.clone());
        }
        for (number, code) in &self.test_numbers {
            builder = builder.test_number(number.clone(), code.clone());
        }
        if let Some(url) = &self.redis_url {
            builder = builder.shared_store(redis_store(url, self).await?);
        } else if let Some(url) = &self.database_url {
            builder = builder.shared_store(postgres_store(url).await?);
        }
        Ok(builder.build()?)
    }
}

/// The seed URLs of `TWOFACTOR_REDIS_URL`: one URL, or with a cluster a comma-separated list.
fn redis_urls(url: &SecretString, cluster: bool) -> Vec<&str> {
    let text = url.expose_secret().trim();
    if cluster {
        text.split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect()
    } else {
        vec![text]
    }
}

fn is_tls_url(url: &str) -> bool {
    url.get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
}

/// Checks the Redis variables together, before anything connects: each refusal names the
/// variable to fix, and never shows a URL (it may carry a password).
fn check_redis(
    url: Option<&SecretString>,
    cluster: bool,
    ca_file: Option<&PathBuf>,
    wait_replicas: Option<u32>,
) -> Result<(), ConfigError> {
    const URL: &str = "TWOFACTOR_REDIS_URL";
    const CLUSTER: &str = "TWOFACTOR_REDIS_CLUSTER";
    const CA: &str = "TWOFACTOR_REDIS_CA_FILE";
    const WAIT: &str = "TWOFACTOR_REDIS_WAIT_REPLICAS";
    let Some(url) = url else {
        for (set, var) in [
            (cluster, CLUSTER),
            (ca_file.is_some(), CA),
            (wait_replicas.is_some(), WAIT),
        ] {
            if set {
                return Err(invalid(var, "is set but TWOFACTOR_REDIS_URL is not"));
            }
        }
        return Ok(());
    };
    if cluster && !cfg!(feature = "redis-cluster") {
        return Err(invalid(
            CLUSTER,
            "this build has no Redis Cluster support (enable the `redis-cluster` feature)",
        ));
    }
    let urls = redis_urls(url, cluster);
    if urls.is_empty() {
        return Err(invalid(URL, "lists no URL"));
    }
    // A comma may sit in a password; one followed by a scheme starts another URL.
    let several = |u: &str| {
        u.split(',').skip(1).any(|part| {
            let part = part.trim_start().to_ascii_lowercase();
            part.starts_with("redis://") || part.starts_with("rediss://")
        })
    };
    if !cluster && several(urls[0]) {
        return Err(invalid(
            URL,
            "several URLs are a cluster's seeds: set TWOFACTOR_REDIS_CLUSTER=true",
        ));
    }
    let tls = urls.iter().filter(|u| is_tls_url(u)).count();
    if tls > 0 && !cfg!(feature = "redis-tls") {
        return Err(invalid(
            URL,
            "this build has no TLS support for Redis (enable the `redis-tls` feature)",
        ));
    }
    if tls != 0 && tls != urls.len() {
        return Err(invalid(URL, "the seed URLs mix rediss:// and redis://"));
    }
    if let Some(path) = ca_file {
        if tls == 0 {
            return Err(invalid(
                CA,
                "is set but TWOFACTOR_REDIS_URL is not rediss:// (TLS)",
            ));
        }
        let pem = std::fs::read(path)
            .map_err(|e| invalid(CA, format!("cannot read {}: {e}", path.display())))?;
        check_ca(&pem).map_err(|reason| invalid(CA, format!("{}: {reason}", path.display())))?;
    }
    Ok(())
}

#[cfg(feature = "redis-tls")]
fn check_ca(pem: &[u8]) -> Result<(), &'static str> {
    crate::store::redis::check_ca_pem(pem).map(drop)
}

#[cfg(not(feature = "redis-tls"))]
fn check_ca(_: &[u8]) -> Result<(), &'static str> {
    Ok(())
}

#[cfg(feature = "redis")]
async fn redis_store(
    url: &SecretString,
    settings: &Settings,
) -> Result<Arc<dyn crate::VerificationStore>, ConfigError> {
    use crate::store::redis::RedisStore;
    let urls = redis_urls(url, settings.redis_cluster);
    let mut builder = if settings.redis_cluster {
        RedisStore::cluster_builder(urls)
    } else {
        RedisStore::builder(urls.first().copied().unwrap_or_default())
    };
    if let Some(path) = &settings.redis_ca_file {
        builder = builder.ca_file(path.clone());
    }
    if let Some(n) = settings.redis_wait_replicas {
        builder = builder.wait_for_replicas(n);
    }
    let store = builder.connect().await.map_err(ConfigError::Store)?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "redis"))]
async fn redis_store(
    url: &SecretString,
    _: &Settings,
) -> Result<Arc<dyn crate::VerificationStore>, ConfigError> {
    let _ = url.expose_secret();
    Err(invalid(
        "TWOFACTOR_REDIS_URL",
        "this build has no Redis support (enable the `redis` feature)",
    ))
}

/// Checks `TWOFACTOR_DATABASE_URL` before anything connects (never showing the URL: it may
/// carry a password).
fn check_database(url: Option<&SecretString>, redis: bool) -> Result<(), ConfigError> {
    const URL: &str = "TWOFACTOR_DATABASE_URL";
    let Some(url) = url else {
        return Ok(());
    };
    if redis {
        return Err(invalid(
            URL,
            "is set together with TWOFACTOR_REDIS_URL: choose one store (unset one of them)",
        ));
    }
    if !cfg!(feature = "postgres") {
        return Err(invalid(
            URL,
            "this build has no PostgreSQL support (enable the `postgres` feature)",
        ));
    }
    let text = url.expose_secret().trim().to_ascii_lowercase();
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Err(invalid(URL, "expected a postgres:// or postgresql:// URL"));
    }
    Ok(())
}

#[cfg(feature = "postgres")]
async fn postgres_store(
    url: &SecretString,
) -> Result<Arc<dyn crate::VerificationStore>, ConfigError> {
    use crate::store::postgres::PostgresStore;
    let store = PostgresStore::builder(url.expose_secret().trim())
        .connect()
        .await
        .map_err(ConfigError::DatabaseStore)?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
async fn postgres_store(
    url: &SecretString,
) -> Result<Arc<dyn crate::VerificationStore>, ConfigError> {
    let _ = url.expose_secret();
    Err(invalid(
        "TWOFACTOR_DATABASE_URL",
        "this build has no PostgreSQL support (enable the `postgres` feature)",
    ))
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TwoFactor => "2factor",
            Self::Verihubs => "verihubs",
            Self::Octopush => "octopush",
            Self::Console => "console",
        })
    }
}

/// A provider client's refused build, naming the variable behind the setting it refused (a
/// setting no variable sets is blamed on the base URL, the one other variable of a provider).
#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
fn refused<E: ClientError>(
    err: E,
    account: &'static str,
    api_key: &'static str,
    base_url: &'static str,
    template: Option<&'static str>,
) -> ConfigError {
    let var = match err.refused_setting() {
        ClientSetting::Account => account,
        ClientSetting::ApiKey => api_key,
        ClientSetting::Template => template.unwrap_or(base_url),
        ClientSetting::BaseUrl | ClientSetting::Other => base_url,
    };
    invalid(var, err.to_string())
}

/// The provider `TWOFACTOR_PROVIDER` names was left out of this build.
#[cfg(not(all(feature = "twofactor-in", feature = "verihubs", feature = "octopush")))]
fn not_built(feature: &str) -> ConfigError {
    invalid(
        "TWOFACTOR_PROVIDER",
        format!("this build of twofactor-core has no `{feature}` feature; enable it in Cargo.toml"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn webotp_host_is_read_checked_and_optional() {
        assert_eq!(settings(&[]).unwrap().webotp_host, None);
        assert_eq!(
            settings(&[("TWOFACTOR_WEBOTP_HOST", "  ")])
                .unwrap()
                .webotp_host,
            None,
            "blank is unset, as for every variable"
        );
        let host = settings(&[("TWOFACTOR_WEBOTP_HOST", "Login.Example.com")])
            .unwrap()
            .webotp_host
            .unwrap();
        assert_eq!(host.as_str(), "login.example.com");
        for bad in [
            "https://login.example.com",
            "login.example.com:8443",
            "10.0.0.1",
        ] {
            let err = settings(&[("TWOFACTOR_WEBOTP_HOST", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        var: "TWOFACTOR_WEBOTP_HOST",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
            assert!(
                err.to_string().starts_with("TWOFACTOR_WEBOTP_HOST: "),
                "{err}"
            );
        }
    }
}
