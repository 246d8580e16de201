//! The HTTP settings: `TWOFACTOR_COOKIE_SECURE`, `TWOFACTOR_TRUST_FORWARDED_FOR`,
//! `TWOFACTOR_CLIENT_IP_HEADER`, `TWOFACTOR_IPV6_PREFIX`, read into a checked [`WebConfig`].
//!
//! The two ways of finding the client's address exclude each other, so setting both is
//! refused here rather than one silently winning.

use super::env::{Env, invalid};
use super::error::ConfigError;
use crate::web::{WebConfig, WebConfigError};

/// The [`WebConfig`] of these variables.
pub(super) fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<WebConfig, ConfigError> {
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
            WebConfigError::HeaderName(_) => "TWOFACTOR_CLIENT_IP_HEADER",
            WebConfigError::Ipv6Prefix(_) => "TWOFACTOR_IPV6_PREFIX",
            WebConfigError::ZeroHops => "TWOFACTOR_TRUST_FORWARDED_FOR",
            // The cookie's other settings have no variable; only `Secure` can be set here.
            _ => "TWOFACTOR_COOKIE_SECURE",
        };
        invalid(var, e.to_string())
    })
}
