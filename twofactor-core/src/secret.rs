//! Small helpers for secrets: randomness and redaction.

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
