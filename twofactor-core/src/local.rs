//! Codes generated and checked by the library: [`LocalOtp`] delivers them through any
//! [`SmsSender`].
//!
//! The code comes from the operating system's CSPRNG; only a keyed hash of it, bound to the
//! phone, is kept (as the [`Ticket`] the engine stores); a guess is hashed the same way and
//! compared in constant time (`subtle`). Consuming the code once is the store's job.
//!
//! Why a keyed hash: a six-digit code has a million values, so a plain hash in a leaked store
//! would fall to brute force in milliseconds; with a key held only by the app, it does not.
//! Why bound to the phone: a code sent to phone A never verifies phone B, even if the same
//! digits were drawn for both.
//!
//! With a [`WebOtpHost`], every SMS text ends with the WebOTP origin-bound line
//! (`@example.com #123456`): a browser on the phone that received it offers the code to that
//! site's `navigator.credentials.get({otp: ...})`, and to no other site.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::code::OtpCode;
use crate::phone::PhoneNumber;
use crate::provider::{
    Channel, CodeMessage, OtpProvider, ProviderError, SendOptions, SmsSender, Ticket, Verdict,
};

type HmacSha256 = Hmac<Sha256>;

/// The default message; `{code}` is replaced by the code.
pub const DEFAULT_TEMPLATE: &str = "Your verification code is {code}. Do not share it with anyone.";

/// The host name that WebOTP binds a code to: the last line of the SMS is `@host #code`.
///
/// A host name only (what a browser shows as the site's host): ASCII letters, digits and
/// hyphens in dot-separated labels of 1 to 63 characters, 253 at most, no scheme, port, path
/// or trailing dot; stored lower-case. IP addresses are refused: WebOTP binds codes to sites.
///
/// ```
/// use twofactor_core::local::WebOtpHost;
///
/// assert_eq!(WebOtpHost::new("Login.Example.com").unwrap().as_str(), "login.example.com");
/// assert!(WebOtpHost::new("https://example.com").is_err());
/// assert!(WebOtpHost::new("example.com:8443").is_err());
/// assert!(WebOtpHost::new("127.0.0.1").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOtpHost(String);

/// Why a [`WebOtpHost`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebOtpHostError {
    /// Not a host name (the reason says what is wrong).
    #[error("expected a host name such as login.example.com: {0}")]
    Invalid(&'static str),
}

impl WebOtpHost {
    /// Checks `host` as a host name; see the type's docs.
    pub fn new(host: &str) -> Result<Self, WebOtpHostError> {
        let invalid = |why| Err(WebOtpHostError::Invalid(why));
        if host.is_empty() {
            return invalid("it is empty");
        }
        if host.contains("://") || host.contains('/') {
            return invalid("no scheme or path, only the host");
        }
        if host.contains(':') {
            return invalid("no port, only the host");
        }
        if host.len() > 253 {
            return invalid("longer than 253 characters");
        }
        for label in host.split('.') {
            if label.is_empty() {
                return invalid("an empty label (two dots, or a dot at either end)");
            }
            if label.len() > 63 {
                return invalid("a label longer than 63 characters");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return invalid("only ASCII letters, digits, hyphens and dots");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return invalid("a label that starts or ends with a hyphen");
            }
        }
        // Every label numeric is an IPv4 address (or junk that a browser reads as one).
        if host
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            return invalid("an IP address, not a host name");
        }
        Ok(Self(host.to_ascii_lowercase()))
    }

    /// The host, lower-case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The origin-bound line for `code`: `@host #code`.
    pub fn line(&self, code: &OtpCode) -> String {
        format!("@{} #{}", self.0, code.expose())
    }
}

impl FromStr for WebOtpHost {
    type Err = WebOtpHostError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for WebOtpHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hashes codes with a secret key, bound to the phone. `Debug` hides the key.
#[derive(Clone)]
pub struct CodeHasher {
    mac: HmacSha256,
}

impl CodeHasher {
    /// A hasher keyed with `key` (32 bytes; derive it from your signing key with
    /// [`SigningKey::derive`](crate::token::SigningKey::derive) so that every app instance agrees).
    pub fn new(key: [u8; 32]) -> Self {
        // HMAC accepts keys of any length.
        let mac = HmacSha256::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
        Self { mac }
    }

    /// A hasher with a fresh random key: codes die with the process.
    pub fn random() -> Self {
        Self::new(crate::secret::random_bytes())
    }

    fn digest(&self, phone: &PhoneNumber, code: &OtpCode) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(&phone.digits().to_be_bytes());
        mac.update(&[code.len() as u8]);
        mac.update(code.expose().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The ticket for `code` sent to `phone`: the keyed hash, base64url.
    pub fn ticket(&self, phone: &PhoneNumber, code: &OtpCode) -> Ticket {
        Ticket::new(URL_SAFE_NO_PAD.encode(self.digest(phone, code)))
    }

    /// Whether `code` for `phone` matches `ticket`, compared in constant time.
    pub fn matches(&self, ticket: &Ticket, phone: &PhoneNumber, code: &OtpCode) -> bool {
        let mut stored = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(ticket.expose(), &mut stored) {
            Ok(32) => bool::from(stored.ct_eq(&self.digest(phone, code))),
            _ => false,
        }
    }
}

impl fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHasher([REDACTED])")
    }
}

/// An [`OtpProvider`] that generates the code itself, delivers it through an [`SmsSender`],
/// and checks guesses locally.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use twofactor_core::console::ConsoleSms;
/// use twofactor_core::{LocalOtp, OtpProvider, PhoneParser, SendOptions};
///
/// let provider = LocalOtp::new(ConsoleSms::new());
/// let phone = PhoneParser::default().parse("+919812345678").unwrap();
/// let ticket = provider.send(&phone, &SendOptions::default()).await.unwrap();
/// // The console sender printed the code; the ticket holds only its keyed hash.
/// assert_eq!(ticket.expose().len(), 43);
/// # }
/// ```
pub struct LocalOtp<S> {
    sender: S,
    hasher: CodeHasher,
    template: String,
    webotp_host: Option<WebOtpHost>,
}

impl<S: SmsSender> LocalOtp<S> {
    /// Codes delivered by `sender`, hashed with a random key (set one shared by all instances
    /// with [`LocalOtp::with_hasher`] when several processes share a store).
    pub fn new(sender: S) -> Self {
        Self {
            sender,
            hasher: CodeHasher::random(),
            template: DEFAULT_TEMPLATE.to_owned(),
            webotp_host: None,
        }
    }

    /// Uses `hasher` for the codes' keyed hashes.
    #[must_use]
    pub fn with_hasher(mut self, hasher: CodeHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Sets the message text; `{code}` is replaced by the code. Senders with their own OTP
    /// template (2Factor's custom-code endpoint) ignore it.
    #[must_use]
    pub fn with_template(mut self, template: impl Into<String>) -> Self {
        self.template = template.into();
        self
    }

    /// Ends every SMS text with the WebOTP line `@host #code` (after a blank line, as the
    /// WebOTP format asks), so that the page at `host` can read the code with
    /// `navigator.credentials.get({otp: {transport: ["sms"]}})`. Voice calls get no such line.
    ///
    /// ```
    /// use twofactor_core::console::ConsoleSms;
    /// use twofactor_core::local::{LocalOtp, WebOtpHost};
    ///
    /// let host: WebOtpHost = "login.example.com".parse().unwrap();
    /// // An SMS now reads "Your verification code is 123456. ...\n\n@login.example.com #123456".
    /// let provider = LocalOtp::new(ConsoleSms::new()).with_webotp_host(host);
    /// assert_eq!(provider.webotp_host().unwrap().as_str(), "login.example.com");
    /// ```
    #[must_use]
    pub fn with_webotp_host(mut self, host: WebOtpHost) -> Self {
        self.webotp_host = Some(host);
        self
    }

    /// The WebOTP host, if one is set.
    pub fn webotp_host(&self) -> Option<&WebOtpHost> {
        self.webotp_host.as_ref()
    }

    /// The sender.
    pub fn sender(&self) -> &S {
        &self.sender
    }
}

impl<S> fmt::Debug for LocalOtp<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalOtp")
            .field("hasher", &self.hasher)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: SmsSender> OtpProvider for LocalOtp<S> {
    fn name(&self) -> &str {
        self.sender.name()
    }

    fn supports(&self, channel: Channel) -> bool {
        self.sender.supports_code_channel(channel)
    }

    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        let code = OtpCode::generate(options.code_length);
        let mut text = self.template.replace("{code}", code.expose());
        // A spoken call has no use for the line, and reading it aloud would confuse.
        if let (Some(host), Channel::Sms) = (&self.webotp_host, options.channel) {
            text.push_str("\n\n");
            text.push_str(&host.line(&code));
        }
        self.sender
            .send_code(&CodeMessage::new(phone, &code, &text, options.channel))
            .await?;
        Ok(self.hasher.ticket(phone, &code))
    }

    async fn verify(
        &self,
        phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        Ok(if self.hasher.matches(ticket, phone, code) {
            Verdict::Matched
        } else {
            Verdict::Mismatch
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone::PhoneParser;

    fn phone(s: &str) -> PhoneNumber {
        PhoneParser::default().parse(s).unwrap()
    }

    #[test]
    fn hashes_bind_code_and_phone() {
        let h = CodeHasher::new([3; 32]);
        let (a, b) = (phone("+919812345678"), phone("+919812345679"));
        let code = OtpCode::parse("123456", 6..=6).unwrap();
        let ticket = h.ticket(&a, &code);
        assert!(h.matches(&ticket, &a, &code));
        assert!(
            !h.matches(&ticket, &b, &code),
            "a code for A never verifies B"
        );
        assert!(!h.matches(&ticket, &a, &OtpCode::parse("123457", 6..=6).unwrap()));
        assert!(
            !CodeHasher::new([4; 32]).matches(&ticket, &a, &code),
            "another key, another hash"
        );
        assert!(!h.matches(&Ticket::new("garbage"), &a, &code));
        assert!(!ticket.expose().contains("123456"));
    }

    #[derive(Clone, Default)]
    struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

    #[async_trait]
    impl SmsSender for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        async fn send_sms(
            &self,
            _: &crate::provider::SmsMessage,
        ) -> Result<crate::provider::SmsReceipt, ProviderError> {
            unreachable!("codes go through send_code")
        }
        fn supports_code_channel(&self, _: Channel) -> bool {
            true
        }
        async fn send_code(&self, m: &CodeMessage<'_>) -> Result<(), ProviderError> {
            let mut sent = self.0.lock().unwrap();
            sent.push((m.code.expose().to_owned(), m.text.to_owned()));
            Ok(())
        }
    }

    async fn sent_text(provider: &LocalOtp<Recorder>, channel: Channel) -> (String, String) {
        let options = SendOptions {
            channel,
            ..SendOptions::default()
        };
        provider
            .send(&phone("+919812345678"), &options)
            .await
            .unwrap();
        provider.sender().0.lock().unwrap().pop().unwrap()
    }

    #[tokio::test]
    async fn sms_ends_with_the_webotp_line_when_a_host_is_set() {
        let plain = LocalOtp::new(Recorder::default()).with_template("Code {code}");
        let (code, text) = sent_text(&plain, Channel::Sms).await;
        assert_eq!(text, format!("Code {code}"), "no host, no line");

        let host = WebOtpHost::new("Login.Example.com").unwrap();
        let bound = LocalOtp::new(Recorder::default())
            .with_template("Code {code}")
            .with_webotp_host(host);
        let (code, text) = sent_text(&bound, Channel::Sms).await;
        assert_eq!(text, format!("Code {code}\n\n@login.example.com #{code}"));
        assert_eq!(
            text.lines().last(),
            Some(&*format!("@login.example.com #{code}"))
        );

        let (code, text) = sent_text(&bound, Channel::Voice).await;
        assert_eq!(
            text,
            format!("Code {code}"),
            "a call is not bound to a site"
        );
    }

    #[test]
    fn webotp_hosts_are_host_names() {
        for good in [
            "localhost",
            "example.com",
            "a-b.example.co.in",
            "xn--bcher-kva.example",
            "Example.COM",
        ] {
            let host = WebOtpHost::new(good).unwrap();
            assert_eq!(host.as_str(), good.to_ascii_lowercase());
            assert_eq!(host.to_string(), good.to_ascii_lowercase());
        }
        let long_label = "a".repeat(64);
        let long_host = ["a"; 128].join("."); // 255 characters
        for bad in [
            "",
            "https://example.com",
            "example.com/login",
            "example.com:443",
            "[::1]",
            "::1",
            "127.0.0.1",
            "example..com",
            ".example.com",
            "example.com.",
            "-example.com",
            "example-.com",
            "exa mple.com",
            "exämple.com",
            "@example.com",
            "example.com #123456",
            long_label.as_str(),
            long_host.as_str(),
        ] {
            assert!(WebOtpHost::new(bad).is_err(), "{bad:?} must be refused");
        }
        let err = WebOtpHost::new("example.com:443").unwrap_err().to_string();
        assert!(err.contains("port"), "{err}");
    }
}
