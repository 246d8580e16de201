//! HTTP plumbing shared by the provider clients: one pooled `reqwest` client, timeouts, a user
//! agent, turning `reqwest` errors into [provider errors](crate::provider::ProviderError)
//! without leaking URLs, and the one rule of whether a failed send may have delivered a message.
//!
//! Every provider puts a secret somewhere in its requests (2Factor in the URL path, Verihubs and
//! Octopush in headers), and a `reqwest::Error`'s `Display` includes the URL. So transport errors
//! lose their URL before they are kept as a source.
//!
//! # Sent, or maybe sent
//! All three providers classify a failure the same way ([`Delivery`]): only a request that
//! certainly never left (a connect failure: DNS, refused, TLS, the connect timeout) or that the
//! provider explicitly refused (a documented error, a 3xx or 4xx status) is
//! [`Delivery::NotSent`]. A timeout after connecting, a connection dropped after the request was
//! written, any 5xx (the provider's or a gateway's, HTML or empty body included) and a 2xx that
//! cannot be read are [`Delivery::MaybeSent`]: the engine keeps the cooldown and
//! [`Failover`](crate::failover::Failover) does not try another provider, since either could
//! deliver a second code.

#[cfg(feature = "twofactor-in")]
use std::sync::Arc;
#[cfg(feature = "twofactor-in")]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::provider::Delivery;
#[cfg(any(feature = "verihubs", feature = "octopush"))]
use crate::provider::{ProviderError, ProviderErrorKind};

/// Re-exported here, with the rest of what a provider client's HTTP side can refuse.
pub use crate::base_url::BaseUrlError;

/// The `User-Agent` every provider request carries.
pub const USER_AGENT: &str = concat!("twofactor-rs/", env!("CARGO_PKG_VERSION"));

/// Connection settings for a provider client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// The whole request, connect included (`TWOFACTOR_PROVIDER_TIMEOUT`, default 10 s).
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
#[cfg(feature = "twofactor-in")]
pub(crate) struct Clients {
    clients: Arc<[reqwest::Client]>,
    next: Arc<AtomicUsize>,
}

#[cfg(feature = "twofactor-in")]
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

/// Which part of an HTTP exchange failed (shared by every provider; 2Factor's
/// [`TwoFactorInError::Transport`](crate::twofactor_in::TwoFactorInError::Transport) names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportFailure {
    /// No connection could be made (DNS, refused, TLS).
    Connect,
    /// The connect timeout or the total timeout ran out.
    Timeout,
    /// Anything else (the connection broke while the request or the answer was in flight).
    Other,
}

impl std::fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Other => "other",
        })
    }
}

/// The one rule, for every provider, of whether a failed exchange may have sent a message.
///
/// Only a failure while *connecting* (DNS, connection refused, TLS handshake, the connect
/// timeout) is certain to have sent nothing: the request had not left. Everything after that —
/// a timeout once connected, a connection reset or closed before the answer, a body cut short —
/// may have reached the provider, which may have sent the SMS and then failed to tell us. Those
/// are [`Delivery::MaybeSent`]: the engine keeps the cooldown spent and
/// [`Failover`](crate::failover::Failover) does not try another provider, so that the user never
/// gets two codes for one request.
pub(crate) fn classify(err: &reqwest::Error) -> (TransportFailure, Delivery) {
    let failure = if err.is_timeout() {
        TransportFailure::Timeout
    } else if err.is_connect() {
        TransportFailure::Connect
    } else {
        TransportFailure::Other
    };
    // `is_connect` is also set on a connect *timeout*: still nothing sent.
    let delivery = if err.is_connect() {
        Delivery::NotSent
    } else {
        Delivery::MaybeSent
    };
    (failure, delivery)
}

/// Whether a message may have gone out, for an answer with HTTP `status` that is *not* an
/// explicit refusal the client recognised.
///
/// A 3xx or 4xx status is itself a refusal (redirects are never followed, and a 4xx says the
/// request was not accepted), so nothing was sent. A 5xx — from the provider or from a gateway
/// in front of it, whatever its body — and an unreadable 2xx are [`Delivery::MaybeSent`]: the
/// provider may have sent the SMS before failing.
pub(crate) fn answer_delivery(status: u16) -> Delivery {
    if (300..500).contains(&status) {
        Delivery::NotSent
    } else {
        Delivery::MaybeSent
    }
}

/// Turns a `reqwest` error into a [`ProviderError`] of the right kind, with the URL stripped;
/// whether a message may have gone out is [`classify`]'s rule.
#[cfg(any(feature = "verihubs", feature = "octopush"))]
pub(crate) fn transport_error(provider: &'static str, err: reqwest::Error) -> ProviderError {
    let err = err.without_url();
    let (failure, delivery) = classify(&err);
    let kind = match failure {
        TransportFailure::Timeout => ProviderErrorKind::Timeout,
        TransportFailure::Connect | TransportFailure::Other => ProviderErrorKind::Unreachable,
    };
    ProviderError::new(provider, kind)
        .with_delivery(delivery)
        .with_source(err)
}
