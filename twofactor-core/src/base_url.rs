//! A provider's base URL (the address every documented path is appended to, not an HTTP
//! endpoint of this crate): checked once when the provider's client is built, and shown in
//! `Debug` without the credentials a misconfigured one may carry.
//!
//! The three providers share it so that they refuse the same URLs with the same typed
//! [`BaseUrlError`], which configuration maps to the variable that set it.

/// Why a provider's base URL was refused when its client was built. The error never repeats
/// the URL: it may carry credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum BaseUrlError {
    /// Not an absolute URL.
    #[error("the base URL is not an absolute URL")]
    NotAbsolute,
    /// Not `http` or `https`, or without a host.
    #[error("the base URL must be an http or https URL with a host")]
    NotHttp,
    /// A user name or password (`https://user:password@host`): credentials belong in the
    /// provider's builder, where they are kept secret, not in a URL that ends up in logs.
    #[error(
        "the base URL must not carry credentials (user:password@); pass them to the provider's builder"
    )]
    Credentials,
    /// A query or a fragment: paths are appended to the base URL.
    #[error("the base URL must not have a query or a fragment")]
    QueryOrFragment,
}

/// Checks a base URL: absolute `http(s)` with a host, no credentials, query or fragment.
/// Returned without a trailing `/`, so that documented paths can be appended. The error names
/// the problem, never the URL (it could hold credentials).
pub(crate) fn check(url: &str) -> Result<String, BaseUrlError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| BaseUrlError::NotAbsolute)?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.cannot_be_a_base()
        || parsed.host_str().is_none()
    {
        return Err(BaseUrlError::NotHttp);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(BaseUrlError::Credentials);
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(BaseUrlError::QueryOrFragment);
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// A configured (not yet checked) base URL as a builder's `Debug` shows it: any user name and
/// password replaced by `***`, and anything else that might hide credentials (an `@` left
/// anywhere, as in `user:password@host` without a scheme) withheld.
pub(crate) fn redacted(url: &str) -> String {
    let shown = match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            // Both only fail on URLs that cannot carry credentials at all.
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("***");
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => url.to_owned(),
    };
    match shown.split_once('@') {
        Some((before, _)) if before.ends_with("//***") => shown,
        Some(_) => "[REDACTED]".to_owned(),
        None => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        assert_eq!(
            check("https://api.example.com/v1/public/").as_deref(),
            Ok("https://api.example.com/v1/public")
        );
        assert_eq!(
            check("http://127.0.0.1:8080").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        for (bad, why) in [
            ("", BaseUrlError::NotAbsolute),
            ("api.example.com", BaseUrlError::NotAbsolute),
            ("ftp://api.example.com", BaseUrlError::NotHttp),
            ("mailto:ops@example.com", BaseUrlError::NotHttp),
            ("https://user:pw@api.example.com", BaseUrlError::Credentials),
            ("https://user@api.example.com", BaseUrlError::Credentials),
            ("https://:pw@api.example.com", BaseUrlError::Credentials),
            (
                "https://api.example.com/?key=1",
                BaseUrlError::QueryOrFragment,
            ),
            ("https://api.example.com/#x", BaseUrlError::QueryOrFragment),
        ] {
            assert_eq!(check(bad), Err(why), "{bad}");
        }
    }

    #[test]
    fn redacted_urls_hide_credentials() {
        for url in [
            "https://user:pw-SECRET@api.example.com/v1",
            "https://pw-SECRET@api.example.com",
            "user:pw-SECRET@api.example.com",
        ] {
            let shown = redacted(url);
            assert!(
                !shown.contains("SECRET") && !shown.contains("user"),
                "{shown}"
            );
        }
        assert_eq!(
            redacted("https://user:pw@api.example.com/v1"),
            "https://***@api.example.com/v1"
        );
        assert_eq!(
            redacted("https://api.example.com/v1"),
            "https://api.example.com/v1"
        );
        assert_eq!(redacted("not a url"), "not a url");
    }
}
