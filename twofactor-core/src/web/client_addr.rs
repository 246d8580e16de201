//! The client's address, for the per-address caps: whom to believe, and how to group.
//!
//! Without configuration it is the peer's address: whatever proxy headers say is ignored,
//! because a client can write them. Behind proxies you run, trust them with [`TrustedProxies`]:
//!
//! - `Hops(n)`: `n` proxies each append the address they saw to `X-Forwarded-For`, so the
//!   `n`-th entry from the right is the one the outermost proxy wrote. Entries further left were
//!   written by the client and are never used, not even when the chosen entry is unusable: an
//!   entry that is not an address (`unknown`, garbage) means the peer address. Fewer than `n`
//!   entries also means the peer address.
//! - `Header(name)`: one header the proxy sets alone (`CF-Connecting-IP`, `X-Real-IP`); several
//!   values or a comma-separated list mean the peer address.
//!
//! An entry is taken literally, with a port stripped (`203.0.113.9:443`, `[2001:db8::5]:8443`).
//!
//! Then the address is grouped: an IPv4-mapped IPv6 address (`::ffff:198.51.100.7`) is its IPv4
//! address, and an IPv6 address is reduced to its network prefix (default /64, the block one
//! subscriber gets): a host rotating through its /64 is still one client.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::{HeaderMap, HeaderName};

/// Which proxies' word to take for the client's address (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TrustedProxies {
    /// None: the peer address (default).
    #[default]
    None,
    /// This many proxies append to `X-Forwarded-For` (at least 1).
    Hops(u8),
    /// One header that the proxy sets alone.
    Header(HeaderName),
}

/// How the client address is found and grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddressing {
    pub(crate) trust: TrustedProxies,
    pub(crate) ipv6_prefix: u8,
}

impl Default for ClientAddressing {
    fn default() -> Self {
        Self {
            trust: TrustedProxies::None,
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

/// The default IPv6 grouping.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;
/// The IPv6 prefix lengths accepted.
pub const IPV6_PREFIXES: std::ops::RangeInclusive<u8> = 32..=128;

impl ClientAddressing {
    /// Whom to believe.
    pub fn trust(&self) -> &TrustedProxies {
        &self.trust
    }

    /// The IPv6 prefix length addresses are grouped by.
    pub fn ipv6_prefix(&self) -> u8 {
        self.ipv6_prefix
    }

    /// The grouped client address of a request from `peer` with `headers`.
    pub fn resolve(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        let peer = peer.map(|p| p.ip());
        let claimed = match &self.trust {
            TrustedProxies::None => None,
            TrustedProxies::Hops(n) => forwarded_for(headers, usize::from(*n)),
            TrustedProxies::Header(name) => single_header(headers, name),
        };
        claimed.or(peer).map(|ip| group(ip, self.ipv6_prefix))
    }
}

/// The `n`-th `X-Forwarded-For` entry from the right, if there are that many and it parses.
fn forwarded_for(headers: &HeaderMap, n: usize) -> Option<IpAddr> {
    if n == 0 {
        return None;
    }
    let mut entries: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        // A value that is not text makes the whole chain untrustworthy.
        let value = value.to_str().ok()?;
        entries.extend(value.split(','));
    }
    let entry = entries.len().checked_sub(n).map(|i| entries[i])?;
    parse_entry(entry)
}

fn single_header(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    if value.contains(',') {
        return None;
    }
    parse_entry(value)
}

/// An address, with an optional port: `a.b.c.d`, `a.b.c.d:port`, `v6`, `[v6]`, `[v6]:port`.
pub(crate) fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// Folds IPv4-mapped addresses to IPv4 and reduces IPv6 to its `prefix`-bit network.
pub(crate) fn group(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let prefix = u32::from(prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::try_from(*k).unwrap(),
                HeaderValue::try_from(*v).unwrap(),
            );
        }
        h
    }

    fn peer() -> Option<SocketAddr> {
        Some("10.0.0.1:5000".parse().unwrap())
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn hops(n: u8) -> ClientAddressing {
        ClientAddressing {
            trust: TrustedProxies::Hops(n),
            ..ClientAddressing::default()
        }
    }

    #[test]
    fn the_peer_unless_proxies_are_trusted() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 198.51.100.2")]);
        assert_eq!(
            ClientAddressing::default().resolve(&h, peer()),
            ip("10.0.0.1")
        );
        assert_eq!(hops(1).resolve(&h, peer()), ip("198.51.100.2"));
        assert_eq!(hops(2).resolve(&h, peer()), ip("203.0.113.9"));
        assert_eq!(
            hops(3).resolve(&h, peer()),
            ip("10.0.0.1"),
            "fewer entries than hops"
        );
    }

    #[test]
    fn an_unusable_entry_means_the_peer_never_an_entry_further_left() {
        for chain in [
            "203.0.113.9, unknown",
            "203.0.113.9, garbage!",
            "203.0.113.9, ",
        ] {
            let h = headers(&[("x-forwarded-for", chain)]);
            assert_eq!(hops(1).resolve(&h, peer()), ip("10.0.0.1"), "{chain}");
        }
    }

    #[test]
    fn ports_are_stripped() {
        for (entry, want) in [
            ("203.0.113.9:443", "203.0.113.9"),
            ("[2001:db8::5]:8443", "2001:db8::"),
            ("[2001:db8::5]", "2001:db8::"),
            ("2001:db8::5", "2001:db8::"),
        ] {
            let h = headers(&[("x-forwarded-for", entry)]);
            assert_eq!(hops(1).resolve(&h, peer()), ip(want), "{entry}");
        }
    }

    #[test]
    fn several_header_lines_form_one_chain() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-for", "198.51.100.2"),
        ]);
        assert_eq!(hops(2).resolve(&h, peer()), ip("203.0.113.9"));
    }

    #[test]
    fn one_trusted_header() {
        let cf = ClientAddressing {
            trust: TrustedProxies::Header(HeaderName::from_static("cf-connecting-ip")),
            ..ClientAddressing::default()
        };
        let h = headers(&[
            ("cf-connecting-ip", "203.0.113.9"),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        assert_eq!(cf.resolve(&h, peer()), ip("203.0.113.9"));
        for bad in [
            headers(&[("cf-connecting-ip", "203.0.113.9, 1.2.3.4")]),
            headers(&[
                ("cf-connecting-ip", "203.0.113.9"),
                ("cf-connecting-ip", "1.2.3.4"),
            ]),
            headers(&[("cf-connecting-ip", "unknown")]),
            HeaderMap::new(),
        ] {
            assert_eq!(cf.resolve(&bad, peer()), ip("10.0.0.1"));
        }
    }

    #[test]
    fn grouping() {
        assert_eq!(
            group("::ffff:198.51.100.7".parse().unwrap(), 64),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            group("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap(), 64),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            group("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap(), 48),
            "2001:db8:1::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            group("2001:db8::1".parse().unwrap(), 128),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        let peer6: SocketAddr = "[2001:db8:1:2::77]:1234".parse().unwrap();
        assert_eq!(
            ClientAddressing::default().resolve(&HeaderMap::new(), Some(peer6)),
            ip("2001:db8:1:2::")
        );
    }
}
