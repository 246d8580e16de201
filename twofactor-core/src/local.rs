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

use std::fmt;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::provider::{
    CodeMessage, OtpProvider, ProviderError, SendOptions, SmsSender, Ticket, Verdict,
};
use crate::{Channel, OtpCode, PhoneNumber};

type HmacSha256 = Hmac<Sha256>;

/// The default message; `{code}` is replaced by the code.
pub const DEFAULT_TEMPLATE: &str = "Your verification code is {code}. Do not share it with anyone.";

/// Hashes codes with a secret key, bound to the phone. `Debug` hides the key.
#[derive(Clone)]
pub struct CodeHasher {
    mac: HmacSha256,
}

impl CodeHasher {
    /// A hasher keyed with `key` (32 bytes; derive it from your signing key with
    /// [`SigningKey::derive`](crate::SigningKey::derive) so that every app instance agrees).
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
}

impl<S: SmsSender> LocalOtp<S> {
    /// Codes delivered by `sender`, hashed with a random key (set one shared by all instances
    /// with [`LocalOtp::with_hasher`] when several processes share a store).
    pub fn new(sender: S) -> Self {
        Self {
            sender,
            hasher: CodeHasher::random(),
            template: DEFAULT_TEMPLATE.to_owned(),
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
        let text = self.template.replace("{code}", code.expose());
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
    use crate::PhoneParser;

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
}
