//! The twofactor cookie, built with the `cookie` crate from a [`CookieSettings`] checked once,
//! when the configuration is built.
//!
//! Default: `twofactor_phone=<token>; HttpOnly; SameSite=Lax; Path=/; Max-Age=<ttl>; Secure`.
//! The attributes are written in that order (the `cookie` crate's own rendering would move
//! `Secure`): the bytes of the header are part of the contract the adapters keep.
//! `HttpOnly` is not configurable (script has no business reading the token); `Secure` can be
//! turned off for plain-http development only. The cookie-name prefixes of RFC 6265bis are
//! enforced: a `__Host-` name needs `Secure`, `Path=/` and no `Domain`; a `__Secure-` name needs
//! `Secure`. `SameSite=None` needs `Secure`, which browsers demand.

use cookie::Cookie;
use http::HeaderValue;

use super::config_error::WebConfigError;

pub use cookie::SameSite;

/// The default cookie name.
pub const DEFAULT_COOKIE: &str = "twofactor_phone";

/// The cookie's attributes, as configured (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    pub(crate) name: String,
    pub(crate) secure: bool,
    pub(crate) same_site: SameSite,
    pub(crate) domain: Option<String>,
    pub(crate) path: String,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            name: DEFAULT_COOKIE.to_owned(),
            secure: true,
            same_site: SameSite::Lax,
            domain: None,
            path: "/".to_owned(),
        }
    }
}

/// RFC 6265 `token`: visible ASCII except separators.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

fn is_domain(domain: &str) -> bool {
    let domain = domain.strip_prefix('.').unwrap_or(domain);
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_path(path: &str) -> bool {
    path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic() && b != b';')
}

impl CookieSettings {
    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the cookie is `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Checks the settings against the rules of the module docs.
    pub(crate) fn check(&self) -> Result<(), WebConfigError> {
        if !is_token(&self.name) {
            return Err(WebConfigError::CookieName(self.name.clone()));
        }
        if let Some(domain) = &self.domain
            && !is_domain(domain)
        {
            return Err(WebConfigError::CookieDomain(domain.clone()));
        }
        if !is_path(&self.path) {
            return Err(WebConfigError::CookiePath(self.path.clone()));
        }
        if self.name.starts_with("__Host-")
            && (!self.secure || self.path != "/" || self.domain.is_some())
        {
            return Err(WebConfigError::HostPrefix);
        }
        if self.name.starts_with("__Secure-") && !self.secure {
            return Err(WebConfigError::SecurePrefix);
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(WebConfigError::SameSiteNone);
        }
        Ok(())
    }

    fn header(&self, value: &str, max_age: u64) -> HeaderValue {
        let mut cookie = Cookie::build((self.name.as_str(), value))
            .http_only(true)
            .same_site(self.same_site)
            .secure(self.secure)
            .path(self.path.as_str())
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(max_age).unwrap_or(i64::MAX),
            ));
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain.as_str());
        }
        let cookie = cookie.build();
        let mut text = format!(
            "{}={}; HttpOnly; SameSite={}; Path={}",
            cookie.name(),
            cookie.value(),
            self.same_site,
            self.path
        );
        if let Some(domain) = cookie.domain() {
            text.push_str("; Domain=");
            text.push_str(domain);
        }
        if let Some(max_age) = cookie.max_age() {
            text.push_str(&format!("; Max-Age={}", max_age.whole_seconds()));
        }
        if self.secure {
            text.push_str("; Secure");
        }
        // Every part was checked at construction and tokens are base64url: always a valid
        // header value. Should that ever not hold, no cookie beats a wrong one.
        HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// `Set-Cookie` carrying `token` for `max_age` seconds.
    pub(crate) fn set(&self, token: &str, max_age: u64) -> HeaderValue {
        self.header(token, max_age)
    }

    /// `Set-Cookie` that clears the cookie.
    pub(crate) fn clear(&self) -> HeaderValue {
        self.header("", 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cookie() {
        let c = CookieSettings::default();
        c.check().unwrap();
        assert_eq!(
            c.set("tok", 60).to_str().unwrap(),
            "twofactor_phone=tok; HttpOnly; SameSite=Lax; Path=/; Max-Age=60; Secure"
        );
        assert_eq!(
            c.clear().to_str().unwrap(),
            "twofactor_phone=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0; Secure"
        );
    }

    #[test]
    fn names_and_prefixes_are_checked() {
        for bad in ["", "a b", "a;b", "a=b", "é", "a\"b"] {
            let c = CookieSettings {
                name: bad.into(),
                ..CookieSettings::default()
            };
            assert!(
                matches!(c.check(), Err(WebConfigError::CookieName(_))),
                "{bad:?}"
            );
        }
        let host = CookieSettings {
            name: "__Host-phone".into(),
            ..CookieSettings::default()
        };
        host.check().unwrap();
        for broken in [
            CookieSettings {
                secure: false,
                ..host.clone()
            },
            CookieSettings {
                path: "/app".into(),
                ..host.clone()
            },
            CookieSettings {
                domain: Some("example.com".into()),
                ..host.clone()
            },
        ] {
            assert_eq!(broken.check(), Err(WebConfigError::HostPrefix));
        }
        let secure = CookieSettings {
            name: "__Secure-phone".into(),
            secure: false,
            ..CookieSettings::default()
        };
        assert_eq!(secure.check(), Err(WebConfigError::SecurePrefix));
        let none = CookieSettings {
            same_site: SameSite::None,
            secure: false,
            ..CookieSettings::default()
        };
        assert_eq!(none.check(), Err(WebConfigError::SameSiteNone));
        let domain = CookieSettings {
            domain: Some("exa mple.com".into()),
            ..CookieSettings::default()
        };
        assert!(matches!(
            domain.check(),
            Err(WebConfigError::CookieDomain(_))
        ));
        let path = CookieSettings {
            path: "app".into(),
            ..CookieSettings::default()
        };
        assert!(matches!(path.check(), Err(WebConfigError::CookiePath(_))));
    }

    #[test]
    fn domain_and_same_site_are_written() {
        let c = CookieSettings {
            domain: Some("example.com".into()),
            same_site: SameSite::Strict,
            path: "/app".into(),
            ..CookieSettings::default()
        };
        c.check().unwrap();
        assert_eq!(
            c.set("t", 5).to_str().unwrap(),
            "twofactor_phone=t; HttpOnly; SameSite=Strict; Path=/app; Domain=example.com; Max-Age=5; Secure"
        );
    }
}
