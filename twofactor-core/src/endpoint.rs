//! A provider's address and credentials, checked once when the client is built: the base URL
//! every path is appended to, and secret header values marked sensitive.

use crate::transport::BaseUrlError;

/// Checks a base URL: absolute `http(s)` with a host, no credentials, query or fragment.
/// Returned without a trailing `/`, so that documented paths can be appended. The error names
/// the problem, never the URL (it could hold credentials).
pub(crate) fn base_url(url: &str) -> Result<String, BaseUrlError> {
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
pub(crate) fn redacted_url(url: &str) -> String {
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

/// A header value carrying `secret`, marked sensitive (so that `http` redacts it from `Debug`
/// and HTTP/2 never indexes it). `None` if the secret is blank or not a valid header value;
/// callers report that without repeating the value.
#[cfg(any(feature = "verihubs", feature = "octopush"))]
pub(crate) fn secret_header(secret: &secrecy::SecretString) -> Option<http::HeaderValue> {
    use secrecy::ExposeSecret;
    let value = secret.expose_secret();
    if value.trim().is_empty() {
        return None;
    }
    let mut header = http::HeaderValue::from_str(value).ok()?;
    header.set_sensitive(true);
    Some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        assert_eq!(
            base_url("https://api.example.com/v1/public/").as_deref(),
            Ok("https://api.example.com/v1/public")
        );
        assert_eq!(
            base_url("http://127.0.0.1:8080").as_deref(),
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
            assert_eq!(base_url(bad), Err(why), "{bad}");
        }
    }

    #[test]
    fn redacted_urls_hide_credentials() {
        for url in [
            "https://user:pw-SECRET@api.example.com/v1",
            "https://pw-SECRET@api.example.com",
            "user:pw-SECRET@api.example.com",
        ] {
            let shown = redacted_url(url);
            assert!(
                !shown.contains("SECRET") && !shown.contains("user"),
                "{shown}"
            );
        }
        assert_eq!(
            redacted_url("https://user:pw@api.example.com/v1"),
            "https://***@api.example.com/v1"
        );
        assert_eq!(
            redacted_url("https://api.example.com/v1"),
            "https://api.example.com/v1"
        );
        assert_eq!(redacted_url("not a url"), "not a url");
    }

    #[cfg(any(feature = "verihubs", feature = "octopush"))]
    #[test]
    fn secret_headers_are_sensitive_and_checked() {
        use secrecy::SecretString;
        let header = secret_header(&SecretString::from("k3y")).unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("k3y"));
        assert!(secret_header(&SecretString::from(" ")).is_none());
        assert!(secret_header(&SecretString::from("a\nb")).is_none());
    }
}
