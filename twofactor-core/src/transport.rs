//! HTTP plumbing shared by the provider clients: one pooled `reqwest` client, timeouts, a user
//! agent, and turning `reqwest` errors into [`ProviderError`]s without leaking URLs.
//!
//! Every provider puts a secret somewhere in its requests (2Factor in the URL path, Verihubs and
//! Octopush in headers), and a `reqwest::Error`'s `Display` includes the URL. So transport errors
//! pass through `transport_error`, which strips the URL before the error is kept as a source.

use std::time::Duration;

use crate::provider::{Delivery, ProviderError, ProviderErrorKind};

/// The `User-Agent` every provider request carries.
pub const USER_AGENT: &str = concat!("twofactor-rs/", env!("CARGO_PKG_VERSION"));

/// Connection settings for a provider client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// The whole request, connect included (DESIGN §5 `TWOFACTOR_PROVIDER_TIMEOUT`, default 10 s).
    pub timeout: Duration,
    /// Connecting only (default 5 s, never more than `timeout`).
    pub connect_timeout: Duration,
    /// Idle connections kept per host (default 32); sockets to the provider are bounded by the
    /// pool, not by the number of users.
    pub pool_max_idle_per_host: usize,
    /// A client to share (its own timeouts then apply); `None` builds one.
    pub client: Option<reqwest::Client>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            pool_max_idle_per_host: 32,
            client: None,
        }
    }
}

impl HttpOptions {
    /// Sets the total timeout (and caps the connect timeout to it).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Uses an existing client (to share its connection pool).
    #[must_use]
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The client these options describe.
    pub(crate) fn client(&self) -> Result<reqwest::Client, reqwest::Error> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout.min(self.timeout))
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            // Providers are reached by their documented base URL; a redirect would be a
            // misconfiguration, and following it could carry the key elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(reqwest::Error::without_url)
    }
}

/// Turns a `reqwest` error into a [`ProviderError`] of the right kind, with the URL stripped.
///
/// A connect failure (or connect timeout) never reached the provider: [`Delivery::NotSent`].
/// A timeout after connecting may have: [`Delivery::MaybeSent`].
pub(crate) fn transport_error(provider: &'static str, err: reqwest::Error) -> ProviderError {
    let err = err.without_url();
    let (kind, delivery) = if err.is_connect() {
        let kind = if err.is_timeout() {
            ProviderErrorKind::Timeout
        } else {
            ProviderErrorKind::Unreachable
        };
        (kind, Delivery::NotSent)
    } else if err.is_timeout() {
        (ProviderErrorKind::Timeout, Delivery::MaybeSent)
    } else if err.is_decode() || err.is_body() {
        (ProviderErrorKind::UnexpectedResponse, Delivery::MaybeSent)
    } else {
        // The request may have left before the failure: assume the worst.
        (ProviderErrorKind::Unreachable, Delivery::MaybeSent)
    };
    ProviderError::new(provider, kind)
        .with_delivery(delivery)
        .with_source(err)
}
