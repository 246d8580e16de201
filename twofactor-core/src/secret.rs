//! Small helpers for secrets: randomness, redaction, and secrets carried in HTTP headers.

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Panics
/// If the operating system cannot provide randomness: continuing would mean predictable codes
/// and keys, which is worse than stopping.
pub(crate) fn fill_random(buf: &mut [u8]) {
    #[allow(clippy::expect_used)]
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// `N` random bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    fill_random(&mut buf);
    buf
}

/// Replaces every occurrence of `secret` in `text` by `[REDACTED]`.
///
/// Used on text that came back from a provider or a transport error, as a second line of
/// defence: the first is never to put a secret where it could be echoed.
#[cfg_attr(
    not(any(feature = "twofactor-in", feature = "verihubs", feature = "octopush")),
    allow(dead_code)
)]
pub(crate) fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    text.replace(secret, "[REDACTED]")
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
