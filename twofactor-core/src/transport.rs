//! HTTP plumbing shared by the provider clients: one pooled `reqwest` client, timeouts, a user
//! agent, and turning `reqwest` errors into [`ProviderError`]s without leaking URLs.
//!
//! Every provider puts a secret somewhere in its requests (2Factor in the URL path, Verihubs and
//! Octopush in headers), and a `reqwest::Error`'s `Display` includes the URL. So transport errors
//! pass through `transport_error`, which strips the URL before the error is kept as a source.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Speak HTTP/2 from the first byte, without negotiating it (h2c over plain `http://`),
    /// for a provider or proxy that you know speaks it (default false). Over `https://`,
    /// HTTP/2 is negotiated (ALPN) whenever the provider offers it, as 2Factor's edge does.
    pub http2_prior_knowledge: bool,
    /// How many HTTP/2 connections to spread requests over, round robin (default 1, at least
    /// 1). With HTTP/2 every request in flight is a stream on a shared connection, up to the
    /// server's limit per connection (commonly 100 to 256), so the sockets to the provider are
    /// this number whatever the number of users; raise it when more requests than that limit
    /// are in flight at once (at 100 ms per request, 256 streams carry about 2 500 requests
    /// per second). Over HTTP/1.1 each client keeps its own pool, so leave it at 1.
    pub connections: usize,
    /// A client to share (its own timeouts then apply); `None` builds one.
    pub client: Option<reqwest::Client>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            pool_max_idle_per_host: 32,
            http2_prior_knowledge: false,
            connections: 1,
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

    /// Speaks HTTP/2 without negotiating it; see [`HttpOptions::http2_prior_knowledge`].
    #[must_use]
    pub fn with_http2_prior_knowledge(mut self, on: bool) -> Self {
        self.http2_prior_knowledge = on;
        self
    }

    /// Spreads requests over `n` connections; see [`HttpOptions::connections`].
    #[must_use]
    pub fn with_connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
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
        let builder = reqwest::Client::builder();
        let builder = if self.http2_prior_knowledge {
            builder.http2_prior_knowledge()
        } else {
            builder
        };
        builder
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

/// The clients of [`HttpOptions::connections`], used round robin. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Clients {
    clients: Arc<[reqwest::Client]>,
    next: Arc<AtomicUsize>,
}

impl Clients {
    /// The clients these options describe: one per connection (a shared client is used alone).
    pub(crate) fn new(options: &HttpOptions) -> Result<Self, reqwest::Error> {
        let n = if options.client.is_some() {
            1
        } else {
            options.connections.max(1)
        };
        let clients = (0..n)
            .map(|_| options.client())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            clients: clients.into(),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The client for the next request.
    pub(crate) fn pick(&self) -> &reqwest::Client {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        &self.clients[i]
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
