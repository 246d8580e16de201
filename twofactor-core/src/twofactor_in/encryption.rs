//! The encrypted SMS module's parameters: [`EncryptionConfig`] (the key, the AES mode, where
//! the nonce goes) and the encryption and decryption it does.
//!
//! Apart from the endpoints (`encrypted.rs`) because the client keeps a configuration
//! ([`TwoFactorInClientBuilder::encryption`](super::TwoFactorInClientBuilder::encryption))
//! while the endpoints extend the client: both import the parameters from here.

use std::fmt;

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use super::error::{TwoFactorInError, TwoFactorInSetting};

const GCM_NONCE: usize = 12;
const GCM_TAG: usize = 16;
const CBC_IV: usize = 16;

/// The AES mode (`encmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EncryptionMode {
    /// AES-256-GCM (authenticated; the default here and 2Factor's recommendation).
    #[default]
    Gcm,
    /// AES-256-CBC with PKCS#7 padding (2Factor's default when `encmode` is absent).
    Cbc,
}

impl EncryptionMode {
    /// The `encmode` value: `GCM` or `CBC`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Gcm => "GCM",
            Self::Cbc => "CBC",
        }
    }
}

/// Where the nonce (GCM) or IV (CBC) sits in the encrypted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum IvPlacement {
    /// Before the ciphertext (the default).
    #[default]
    Prefix,
    /// After the ciphertext (and after the GCM tag).
    Suffix,
}

/// How the secret key text encodes the 32-byte AES key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeyEncoding {
    /// By length: 64 characters hex, 44 base64, 32 the raw text (the default).
    #[default]
    Auto,
    /// 64 hex digits.
    Hex,
    /// Standard base64 of 32 bytes.
    Base64,
    /// The text's own 32 bytes.
    Raw,
}

/// Settings of the premium encrypted SMS module
/// (`POST {base}/API/R1/?module=ENC&encmode=GCM|CBC`), and its byte layout.
///
/// The request body is a JSON payload (`module=TRANS_SMS` to send, `module=TRANS_SMS_DLR` for a
/// delivery status) encrypted with AES-256, and the `Secret-Key` header carries the account's
/// secret key. 2Factor's documentation leaves the byte layout open; this client's choice, each
/// part configurable here:
///
/// - **Key**: the 32-byte AES key is decoded from the secret key text by [`KeyEncoding`]; the
///   default, [`KeyEncoding::Auto`], tells the encodings apart by length (64 characters: hex,
///   44: base64, 32: the text's own bytes), which cannot be confused.
/// - **Header**: `Secret-Key` carries the secret key text exactly as configured (marked
///   sensitive, so HTTP tooling does not log it).
/// - **GCM** (the default, [`EncryptionMode::Gcm`]): a fresh random 12-byte nonce;
///   body = base64(nonce ‖ ciphertext ‖ 16-byte tag) with [`IvPlacement::Prefix`] (default), or
///   base64(ciphertext ‖ tag ‖ nonce) with [`IvPlacement::Suffix`].
/// - **CBC** ([`EncryptionMode::Cbc`]): a fresh random 16-byte IV, PKCS#7 padding;
///   body = base64(iv ‖ ciphertext) or base64(ciphertext ‖ iv).
/// - Base64 is the standard alphabet with padding (unpadded input is accepted when decrypting).
/// - The body is sent as `text/plain`.
///
/// Answers: errors come as plain JSON. Successes are read tolerantly, as the documentation shows
/// both forms: a whole body that is encrypted JSON, or plain JSON whose `Details` is encrypted
/// (it then decrypts to the request id, or to a JSON object whose fields are merged in).
/// A `Details` that does not decrypt is taken as plain text.
///
/// `Debug` never shows the secret key.
#[derive(Clone)]
#[non_exhaustive]
pub struct EncryptionConfig {
    pub(crate) secret_key: SecretString,
    /// GCM or CBC.
    pub mode: EncryptionMode,
    /// Where the nonce or IV goes.
    pub iv_placement: IvPlacement,
    /// How the secret key encodes the AES key.
    pub key_encoding: KeyEncoding,
}

impl EncryptionConfig {
    /// The defaults (GCM, nonce first, key encoding by length) for `secret_key`.
    pub fn new(secret_key: impl Into<SecretString>) -> Self {
        Self {
            secret_key: secret_key.into(),
            mode: EncryptionMode::default(),
            iv_placement: IvPlacement::default(),
            key_encoding: KeyEncoding::default(),
        }
    }

    /// Sets the mode.
    #[must_use]
    pub fn with_mode(mut self, mode: EncryptionMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets where the nonce or IV goes.
    #[must_use]
    pub fn with_iv_placement(mut self, placement: IvPlacement) -> Self {
        self.iv_placement = placement;
        self
    }

    /// Sets how the secret key encodes the AES key.
    #[must_use]
    pub fn with_key_encoding(mut self, encoding: KeyEncoding) -> Self {
        self.key_encoding = encoding;
        self
    }

    /// Checks that the key decodes to 32 bytes and can be sent as a header.
    pub(crate) fn validate(&self) -> Result<(), TwoFactorInError> {
        self.aes_key()?;
        self.header_value()?;
        Ok(())
    }

    fn aes_key(&self) -> Result<SecretBox<[u8; 32]>, TwoFactorInError> {
        let text = self.secret_key.expose_secret().trim();
        let encoding = match self.key_encoding {
            KeyEncoding::Auto => match text.len() {
                64 => KeyEncoding::Hex,
                44 => KeyEncoding::Base64,
                _ => KeyEncoding::Raw,
            },
            other => other,
        };
        let bytes = match encoding {
            KeyEncoding::Hex => hex::decode(text).ok(),
            KeyEncoding::Base64 => STANDARD.decode(text).ok(),
            _ => Some(text.as_bytes().to_vec()),
        };
        let key: [u8; 32] = bytes.and_then(|b| b.try_into().ok()).ok_or_else(|| {
            TwoFactorInError::config(
                TwoFactorInSetting::Encryption,
                "the encryption secret key does not decode to 32 bytes (64 hex digits, \
                     44 base64 characters, or 32 raw characters)",
            )
        })?;
        Ok(SecretBox::new(Box::new(key)))
    }

    pub(super) fn header_value(&self) -> Result<HeaderValue, TwoFactorInError> {
        let mut value =
            HeaderValue::from_str(self.secret_key.expose_secret().trim()).map_err(|_| {
                TwoFactorInError::config(
                    TwoFactorInSetting::Encryption,
                    "the encryption secret key is not a valid header value",
                )
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Encrypts `plaintext` into the body format described in the
    /// [`EncryptionConfig`] documentation, with a fresh random nonce or IV.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, TwoFactorInError> {
        let key = self.aes_key()?;
        let key = key.expose_secret();
        let (iv, ciphertext) = match self.mode {
            EncryptionMode::Gcm => {
                let nonce = crate::secret::random_bytes::<GCM_NONCE>();
                let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| {
                    TwoFactorInError::config(
                        TwoFactorInSetting::Encryption,
                        "unusable encryption key",
                    )
                })?;
                let ct = cipher
                    .encrypt(Nonce::from_slice(&nonce), plaintext)
                    .map_err(|_| {
                        TwoFactorInError::invalid_request("the payload cannot be encrypted")
                    })?;
                (nonce.to_vec(), ct)
            }
            EncryptionMode::Cbc => {
                let iv = crate::secret::random_bytes::<CBC_IV>();
                let ct = cbc::Encryptor::<aes::Aes256>::new_from_slices(key, &iv)
                    .map_err(|_| {
                        TwoFactorInError::config(
                            TwoFactorInSetting::Encryption,
                            "unusable encryption key",
                        )
                    })?
                    .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
                (iv.to_vec(), ct)
            }
        };
        let bytes = match self.iv_placement {
            IvPlacement::Prefix => [iv, ciphertext].concat(),
            IvPlacement::Suffix => [ciphertext, iv].concat(),
        };
        Ok(STANDARD.encode(bytes))
    }

    /// Decrypts text in the body format described in the [`EncryptionConfig`] documentation;
    /// `None` if it is not base64, too short, or does not decrypt (or, for GCM, authenticate).
    pub fn decrypt(&self, text: &str) -> Option<Vec<u8>> {
        let text = text.trim().trim_matches('"');
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text))
            .ok()?;
        let key = self.aes_key().ok()?;
        let key = key.expose_secret();
        let iv_len = match self.mode {
            EncryptionMode::Gcm => GCM_NONCE,
            EncryptionMode::Cbc => CBC_IV,
        };
        let min = iv_len
            + match self.mode {
                EncryptionMode::Gcm => GCM_TAG,
                EncryptionMode::Cbc => CBC_IV,
            };
        if bytes.len() < min {
            return None;
        }
        let (iv, ciphertext) = match self.iv_placement {
            IvPlacement::Prefix => {
                let (iv, ct) = bytes.split_at(iv_len);
                (iv, ct)
            }
            IvPlacement::Suffix => {
                let (ct, iv) = bytes.split_at(bytes.len() - iv_len);
                (iv, ct)
            }
        };
        match self.mode {
            EncryptionMode::Gcm => Aes256Gcm::new_from_slice(key)
                .ok()?
                .decrypt(Nonce::from_slice(iv), ciphertext)
                .ok(),
            EncryptionMode::Cbc => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
                .ok(),
        }
    }
}

impl fmt::Debug for EncryptionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionConfig")
            .field("secret_key", &"[REDACTED]")
            .field("mode", &self.mode)
            .field("iv_placement", &self.iv_placement)
            .field("key_encoding", &self.key_encoding)
            .finish()
    }
}
