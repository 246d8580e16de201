//! A provider's address and credentials, checked once when the client is built: the base URL
//! every path is appended to, and secret header values marked sensitive.

use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// Checks a base URL: absolute `http(s)`, no credentials, query or fragment. Returned without a
/// trailing `/`, so that documented paths can be appended. The error names the problem, never
/// the URL (it could hold credentials).
pub(crate) fn base_url(url: &str) -> Result<String, &'static str> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "not an absolute URL")?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("must be an http or https URL");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must not have a query or a fragment");
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// A header value carrying `secret`, marked sensitive (so that `http` redacts it from `Debug`
/// and HTTP/2 never indexes it). `None` if the secret is blank or not a valid header value;
/// callers report that without repeating the value.
pub(crate) fn secret_header(secret: &SecretString) -> Option<HeaderValue> {
    let value = secret.expose_secret();
    if value.trim().is_empty() {
        return None;
    }
    let mut header = HeaderValue::from_str(value).ok()?;
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
        for bad in [
            "",
            "api.example.com",
            "ftp://api.example.com",
            "https://user:pw@api.example.com",
            "https://api.example.com/?key=1",
            "https://api.example.com/#x",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_headers_are_sensitive_and_checked() {
        let header = secret_header(&SecretString::from("k3y")).unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("k3y"));
        assert!(secret_header(&SecretString::from(" ")).is_none());
        assert!(secret_header(&SecretString::from("a\nb")).is_none());
    }
}
