//! How the endpoints talk HTTP: the cookie, the client address, where proofs live.
//! [`WebConfig::builder`] checks everything when it builds, so a bad cookie name or header name
//! is an error at start-up, never a silent fallback on every request.
//!
//! ```
//! use twofactor_core::web::{ProofStorage, SameSite, WebConfig, WebConfigError};
//!
//! let config = WebConfig::builder()
//!     .cookie_same_site(SameSite::Strict)
//!     .trust_forwarded_for(1)
//!     .build()
//!     .unwrap();
//! assert_eq!(config.proofs(), ProofStorage::Token);
//!
//! let err = WebConfig::builder().cookie_name("two factor").build().unwrap_err();
//! assert!(matches!(err, WebConfigError::CookieName(_)));
//! ```

use http::HeaderName;

use super::client_addr::{ClientAddressing, IPV6_PREFIXES, TrustedProxies};
use super::config_error::WebConfigError;
use super::cookie::{CookieSettings, SameSite};

/// Where a verified phone's proof lives between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProofStorage {
    /// A signed token, returned in the verify body and set as the twofactor cookie; clients
    /// send it back as the cookie or as `Authorization: Bearer` (default).
    #[default]
    Token,
    /// The app's own session (tower-sessions or actix-session, through the adapter's session
    /// feature): the proof is written into the session (after rotating its id), guards and
    /// extractors read it from there, and no twofactor cookie is set. The verify body still
    /// carries a token, for clients that prefer a bearer token.
    Session,
}

/// How the endpoints talk HTTP; see the module docs. Build one with [`WebConfig::builder`];
/// `WebConfig::default()` is the contract's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebConfig {
    pub(crate) cookie: CookieSettings,
    pub(crate) client: ClientAddressing,
    pub(crate) proofs: ProofStorage,
}

impl WebConfig {
    /// Starts from the defaults.
    pub fn builder() -> WebConfigBuilder {
        WebConfigBuilder {
            config: Self::default(),
            host_prefix: false,
            header: None,
        }
    }

    /// A builder starting from this configuration.
    pub fn into_builder(self) -> WebConfigBuilder {
        WebConfigBuilder {
            config: self,
            host_prefix: false,
            header: None,
        }
    }

    /// The cookie.
    pub fn cookie(&self) -> &CookieSettings {
        &self.cookie
    }

    /// How the client address is found and grouped.
    pub fn client_addressing(&self) -> &ClientAddressing {
        &self.client
    }

    /// Where proofs live.
    pub fn proofs(&self) -> ProofStorage {
        self.proofs
    }
}

/// Builds a [`WebConfig`]; every value is checked by [`build`](Self::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct WebConfigBuilder {
    config: WebConfig,
    host_prefix: bool,
    header: Option<String>,
}

impl WebConfigBuilder {
    /// The cookie's name (default `twofactor_phone`).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.config.cookie.name = name.into();
        self
    }

    /// Whether the cookie is `Secure` (default true; turn off only for plain-http development).
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.config.cookie.secure = secure;
        self
    }

    /// The cookie's `SameSite` (default `Lax`).
    pub fn cookie_same_site(mut self, same_site: SameSite) -> Self {
        self.config.cookie.same_site = same_site;
        self
    }

    /// The cookie's `Domain` (default none: the host that set it only).
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.config.cookie.domain = Some(domain.into());
        self
    }

    /// The cookie's `Path` (default `/`).
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.config.cookie.path = path.into();
        self
    }

    /// Prefixes the cookie name with `__Host-` (the browser then refuses the cookie unless it
    /// is `Secure`, for `Path=/`, without `Domain`: no subdomain can plant or read it). The
    /// build fails if the other settings do not allow it.
    pub fn cookie_host_prefix(mut self) -> Self {
        self.host_prefix = true;
        self
    }

    /// Whom to believe for the client address (default: nobody, the peer address).
    pub fn trust_proxies(mut self, trust: TrustedProxies) -> Self {
        self.config.client.trust = trust;
        self.header = None;
        self
    }

    /// Trusts `hops` proxies that append to `X-Forwarded-For` (1: the right-most entry).
    pub fn trust_forwarded_for(self, hops: u8) -> Self {
        self.trust_proxies(TrustedProxies::Hops(hops))
    }

    /// Trusts one header that the proxy sets alone (`CF-Connecting-IP`, `X-Real-IP`).
    pub fn client_ip_header(mut self, name: impl Into<String>) -> Self {
        self.header = Some(name.into());
        self
    }

    /// Groups IPv6 client addresses by this prefix length (32–128, default 64).
    pub fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.config.client.ipv6_prefix = bits;
        self
    }

    /// Where proofs live (default [`ProofStorage::Token`]).
    pub fn proofs(mut self, storage: ProofStorage) -> Self {
        self.config.proofs = storage;
        self
    }

    /// The configuration, if every value is valid.
    pub fn build(mut self) -> Result<WebConfig, WebConfigError> {
        if let Some(name) = self.header.take() {
            let header = HeaderName::try_from(name.trim().to_ascii_lowercase())
                .map_err(|_| WebConfigError::HeaderName(name))?;
            self.config.client.trust = TrustedProxies::Header(header);
        }
        if self.config.client.trust == TrustedProxies::Hops(0) {
            return Err(WebConfigError::ZeroHops);
        }
        if !IPV6_PREFIXES.contains(&self.config.client.ipv6_prefix) {
            return Err(WebConfigError::Ipv6Prefix(self.config.client.ipv6_prefix));
        }
        if self.host_prefix && !self.config.cookie.name.starts_with("__Host-") {
            self.config.cookie.name = format!("__Host-{}", self.config.cookie.name);
        }
        self.config.cookie.check()?;
        Ok(self.config)
    }
}
