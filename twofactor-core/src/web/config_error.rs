//! [`WebConfigError`]: why a [`WebConfig`](super::WebConfig) could not be built. Its own file
//! because both the settings (`config.rs`) and the cookie rules (`cookie.rs`) refuse values
//! with it, and the settings hold a cookie: here, neither imports the other both ways.

/// Why a [`WebConfig`](super::WebConfig) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebConfigError {
    /// Not a valid cookie name (RFC 6265 token: visible ASCII without separators).
    #[error("{0:?} is not a valid cookie name")]
    CookieName(String),
    /// Not a valid cookie domain.
    #[error("{0:?} is not a valid cookie domain")]
    CookieDomain(String),
    /// A cookie path must start with `/` and hold no `;`, space or control character.
    #[error("{0:?} is not a valid cookie path")]
    CookiePath(String),
    /// A `__Host-` cookie needs `Secure`, `Path=/` and no `Domain`.
    #[error("a __Host- cookie needs Secure, Path=/ and no Domain")]
    HostPrefix,
    /// A `__Secure-` cookie needs `Secure`.
    #[error("a __Secure- cookie needs Secure")]
    SecurePrefix,
    /// `SameSite=None` needs `Secure`.
    #[error("SameSite=None needs Secure")]
    SameSiteNone,
    /// Not a valid header name for the client address.
    #[error("{0:?} is not a valid header name")]
    HeaderName(String),
    /// Trusting zero proxies is not trusting any: leave proxies untrusted instead.
    #[error("the number of trusted proxies must be at least 1")]
    ZeroHops,
    /// An IPv6 grouping prefix outside 32..=128.
    #[error("the IPv6 prefix must be between 32 and 128 bits, not {0}")]
    Ipv6Prefix(u8),
}
