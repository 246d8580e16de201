//! Which provider sends the codes, and its settings: `TWOFACTOR_PROVIDER` and the variables of
//! the provider it names (`TWOFACTOR_API_KEY`, `TWOFACTOR_BASE_URL`, `TWOFACTOR_OTP_TEMPLATE`,
//! `TWOFACTOR_OTP_MODE`; `VERIHUBS_*`; `OCTOPUSH_*`), read into one [`ProviderSettings`].
//!
//! The credentials are checked when the provider is built ([`super::Settings::provider`]), not
//! when they are read, so that a tool can show a configuration that is not complete yet (the
//! `twofactor policy` command does). A provider client that refuses a setting says which one,
//! typed (see `crate::client_error`); this file alone knows which variable set it. Each
//! provider is behind its feature: one left out of the build is a start-up error naming the
//! feature.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::env::{Env, invalid};
use super::error::ConfigError;
#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
use crate::client_error::{ClientError, ClientSetting};
use crate::console::ConsoleSms;
use crate::local::{CodeHasher, LocalOtp, WebOtpHost};
#[cfg(feature = "octopush")]
use crate::octopush::OctopushProvider;
use crate::provider::{OtpProvider, SmsSender};
use crate::token::KeyRing;
#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
use crate::transport::HttpOptions;
#[cfg(feature = "twofactor-in")]
use crate::twofactor_in::{TwoFactorInClient, TwoFactorInProvider};
#[cfg(feature = "verihubs")]
use crate::verihubs::VerihubsProvider;

/// Which provider sends the codes (`TWOFACTOR_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderKind {
    /// 2Factor.in.
    TwoFactorIn,
    /// Verihubs.
    Verihubs,
    /// Octopush.
    Octopush,
    /// Prints codes to stdout (development only).
    Console,
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TwoFactorIn => "2factor",
            Self::Verihubs => "verihubs",
            Self::Octopush => "octopush",
            Self::Console => "console",
        })
    }
}

/// Who generates and checks a 2Factor code (`TWOFACTOR_OTP_MODE`).
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

/// The provider `TWOFACTOR_PROVIDER` names, with its settings. Secrets are `SecretString`s and
/// are redacted from `Debug`; a credential is `None` when its variable is unset (building the
/// provider then says which one is missing).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProviderSettings {
    /// 2Factor.in (`2factor`; the default when `TWOFACTOR_API_KEY` is set).
    #[non_exhaustive]
    TwoFactorIn {
        /// `TWOFACTOR_API_KEY`.
        api_key: Option<SecretString>,
        /// `TWOFACTOR_BASE_URL` (default `https://2factor.in`).
        base_url: String,
        /// `TWOFACTOR_OTP_TEMPLATE`.
        template: Option<String>,
        /// `TWOFACTOR_OTP_MODE`.
        otp_mode: OtpMode,
    },
    /// Verihubs (`verihubs`).
    #[non_exhaustive]
    Verihubs {
        /// `VERIHUBS_APP_ID`.
        app_id: Option<String>,
        /// `VERIHUBS_API_KEY`.
        api_key: Option<SecretString>,
        /// `VERIHUBS_BASE_URL` (default `https://api.verihubs.com`).
        base_url: String,
    },
    /// Octopush (`octopush`).
    #[non_exhaustive]
    Octopush {
        /// `OCTOPUSH_API_LOGIN`.
        api_login: Option<String>,
        /// `OCTOPUSH_API_KEY`.
        api_key: Option<SecretString>,
        /// `OCTOPUSH_BASE_URL` (default `https://api.octopush.com/v1/public`).
        base_url: String,
    },
    /// Prints codes to stdout (`console`; the default without `TWOFACTOR_API_KEY`).
    Console,
}

impl ProviderSettings {
    /// Reads `TWOFACTOR_PROVIDER` and the variables of the provider it names.
    /// `TWOFACTOR_OTP_MODE` is checked whatever the provider, so that a typo is caught before
    /// the day it matters.
    pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let twofactor_api_key = env.secret("TWOFACTOR_API_KEY");
        let kind = match env
            .get("TWOFACTOR_PROVIDER")
            .map(|p| p.to_ascii_lowercase())
        {
            None if twofactor_api_key.is_some() => ProviderKind::TwoFactorIn,
            None => ProviderKind::Console,
            Some(p) => match p.as_str() {
                "2factor" | "twofactor" => ProviderKind::TwoFactorIn,
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
        Ok(match kind {
            ProviderKind::TwoFactorIn => Self::TwoFactorIn {
                api_key: twofactor_api_key,
                base_url: env
                    .get("TWOFACTOR_BASE_URL")
                    .unwrap_or_else(|| "https://2factor.in".into()),
                template: env.get("TWOFACTOR_OTP_TEMPLATE"),
                otp_mode,
            },
            ProviderKind::Verihubs => Self::Verihubs {
                app_id: env.get("VERIHUBS_APP_ID"),
                api_key: env.secret("VERIHUBS_API_KEY"),
                base_url: env
                    .get("VERIHUBS_BASE_URL")
                    .unwrap_or_else(|| "https://api.verihubs.com".into()),
            },
            ProviderKind::Octopush => Self::Octopush {
                api_login: env.get("OCTOPUSH_API_LOGIN"),
                api_key: env.secret("OCTOPUSH_API_KEY"),
                base_url: env
                    .get("OCTOPUSH_BASE_URL")
                    .unwrap_or_else(|| "https://api.octopush.com/v1/public".into()),
            },
            ProviderKind::Console => Self::Console,
        })
    }

    /// Which provider.
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::TwoFactorIn { .. } => ProviderKind::TwoFactorIn,
            Self::Verihubs { .. } => ProviderKind::Verihubs,
            Self::Octopush { .. } => ProviderKind::Octopush,
            Self::Console => ProviderKind::Console,
        }
    }

    /// The provider these settings describe, built.
    pub(super) fn build(&self, context: &Context<'_>) -> Result<Arc<dyn OtpProvider>, ConfigError> {
        match self {
            Self::Console => Ok(Arc::new(context.otp(ConsoleSms::new()))),
            Self::TwoFactorIn {
                api_key,
                base_url,
                template,
                otp_mode,
            } => twofactor_in(api_key, base_url, template.as_deref(), *otp_mode, context),
            Self::Verihubs {
                app_id,
                api_key,
                base_url,
            } => verihubs(app_id, api_key, base_url, context),
            Self::Octopush {
                api_login,
                api_key,
                base_url,
            } => octopush(api_login, api_key, base_url, context),
        }
    }
}

/// `TWOFACTOR_WEBOTP_HOST`: the host name codes generated by the library are bound to.
pub(super) fn webotp_host<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<Option<WebOtpHost>, ConfigError> {
    env.get("TWOFACTOR_WEBOTP_HOST")
        .map(|host| {
            WebOtpHost::new(&host).map_err(|e| invalid("TWOFACTOR_WEBOTP_HOST", e.to_string()))
        })
        .transpose()
}

/// What building a provider needs besides its own settings: the request timeout, and for
/// codes the library generates (the console provider, 2Factor's local mode) the keys their
/// hash is derived from and the WebOTP host.
pub(super) struct Context<'a> {
    // Read by the HTTP providers only; the console provider has no requests to time out.
    #[cfg_attr(
        not(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush")),
        allow(dead_code)
    )]
    pub(super) timeout: Duration,
    pub(super) keys: Option<&'a KeyRing>,
    pub(super) webotp_host: Option<&'a WebOtpHost>,
}

impl Context<'_> {
    /// Library-generated codes sent through `sender`: a keyed hash derived from the signing key
    /// (so that every instance sharing the key, and a store, agrees; random when the key is),
    /// and the WebOTP line when a host is set.
    fn otp<S: SmsSender>(&self, sender: S) -> LocalOtp<S> {
        let hasher = self.keys.map_or_else(CodeHasher::random, |keys| {
            CodeHasher::new(keys.primary().derive("local code hash v1"))
        });
        let local = LocalOtp::new(sender).with_hasher(hasher);
        match self.webotp_host {
            Some(host) => local.with_webotp_host(host.clone()),
            None => local,
        }
    }

    #[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
    fn http(&self) -> HttpOptions {
        HttpOptions::default().with_timeout(self.timeout)
    }
}

/// A provider's variables, to name the one behind a setting its client refused.
#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
struct Vars {
    /// The account's name beside its key, if the provider has one.
    account: Option<&'static str>,
    api_key: &'static str,
    base_url: &'static str,
    template: Option<&'static str>,
    /// Why the account and the key are required: the provider `TWOFACTOR_PROVIDER` names.
    why: &'static str,
}

#[cfg(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush"))]
impl Vars {
    /// The error naming the variable behind the setting `err` refused. A setting no variable
    /// sets (an HTTP client that cannot be built, say) is blamed on the base URL, the one other
    /// variable of the provider.
    fn refused<E: ClientError>(&self, err: E) -> ConfigError {
        let var = match err.refused_setting() {
            ClientSetting::Account => self.account,
            ClientSetting::ApiKey => Some(self.api_key),
            ClientSetting::Template => self.template,
            ClientSetting::BaseUrl | ClientSetting::Other => None,
        };
        invalid(var.unwrap_or(self.base_url), err.to_string())
    }

    /// The value of the required variable `var`, or the error naming it.
    fn required<T: Clone>(&self, var: &'static str, value: &Option<T>) -> Result<T, ConfigError> {
        value
            .clone()
            .ok_or(ConfigError::Missing { var, why: self.why })
    }
}

#[cfg(feature = "twofactor-in")]
fn twofactor_in(
    api_key: &Option<SecretString>,
    base_url: &str,
    template: Option<&str>,
    otp_mode: OtpMode,
    context: &Context<'_>,
) -> Result<Arc<dyn OtpProvider>, ConfigError> {
    const VARS: Vars = Vars {
        account: None,
        api_key: "TWOFACTOR_API_KEY",
        base_url: "TWOFACTOR_BASE_URL",
        template: Some("TWOFACTOR_OTP_TEMPLATE"),
        why: "for TWOFACTOR_PROVIDER=2factor",
    };
    let key = VARS.required(VARS.api_key, api_key)?;
    let mut builder = TwoFactorInClient::builder(key)
        .base_url(base_url)
        .http(context.http());
    if let Some(template) = template {
        builder = builder.otp_template(template);
    }
    let client = builder.build().map_err(|e| VARS.refused(e))?;
    Ok(match otp_mode {
        OtpMode::Provider => Arc::new(TwoFactorInProvider::new(client)),
        OtpMode::Local => Arc::new(context.otp(client)),
    })
}

#[cfg(not(feature = "twofactor-in"))]
fn twofactor_in(
    _: &Option<SecretString>,
    _: &str,
    _: Option<&str>,
    _: OtpMode,
    _: &Context<'_>,
) -> Result<Arc<dyn OtpProvider>, ConfigError> {
    Err(not_built("twofactor-in"))
}

#[cfg(feature = "verihubs")]
fn verihubs(
    app_id: &Option<String>,
    api_key: &Option<SecretString>,
    base_url: &str,
    context: &Context<'_>,
) -> Result<Arc<dyn OtpProvider>, ConfigError> {
    const ACCOUNT: &str = "VERIHUBS_APP_ID";
    const VARS: Vars = Vars {
        account: Some(ACCOUNT),
        api_key: "VERIHUBS_API_KEY",
        base_url: "VERIHUBS_BASE_URL",
        template: None,
        why: "for TWOFACTOR_PROVIDER=verihubs",
    };
    let app_id = VARS.required(ACCOUNT, app_id)?;
    let key = VARS.required(VARS.api_key, api_key)?;
    let provider = VerihubsProvider::builder(app_id, key)
        .base_url(base_url)
        .http(context.http())
        .build()
        .map_err(|e| VARS.refused(e))?;
    Ok(Arc::new(provider))
}

#[cfg(not(feature = "verihubs"))]
fn verihubs(
    _: &Option<String>,
    _: &Option<SecretString>,
    _: &str,
    _: &Context<'_>,
) -> Result<Arc<dyn OtpProvider>, ConfigError> {
    Err(not_built("verihubs"))
}

#[cfg(feature = "octopush")]
fn octopush(
    api_login: &Option<String>,
    api_key: &Option<SecretString>,
    base_url: &str,
    context: &Context<'_>,
) -> Result<Arc<dyn OtpProvider>, ConfigError> {
    const ACCOUNT: &str = "OCTOPUSH_API_LOGIN";
    const VARS: Vars = Vars {
        account: Some(ACCOUNT),
        api_key: "OCTOPUSH_API_KEY",
        base_url: "OCTOPUSH_BASE_URL",
        template: None,
        why: "for TWOFACTOR_PROVIDER=octopush",
    };
    let login = VARS.required(ACCOUNT, api_login)?;
    let key = VARS.required(VARS.api_key, api_key)?;
    let provider = OctopushProvider::builder(login, key)
        .base_url(base_url)
        .http(context.http())
        .build()
        .map_err(|e| VARS.refused(e))?;
    Ok(Arc::new(provider))
}

#[cfg(not(feature = "octopush"))]
fn octopush(
    _: &Option<String>,
    _: &Option<SecretString>,
    _: &str,
    _: &Context<'_>,
) -> Result<Arc<dyn OtpProvider>, ConfigError> {
    Err(not_built("octopush"))
}

/// The provider `TWOFACTOR_PROVIDER` names was left out of this build.
#[cfg(not(all(feature = "twofactor-in", feature = "verihubs", feature = "octopush")))]
fn not_built(feature: &str) -> ConfigError {
    invalid(
        "TWOFACTOR_PROVIDER",
        format!("this build of twofactor-core has no `{feature}` feature; enable it in Cargo.toml"),
    )
}
