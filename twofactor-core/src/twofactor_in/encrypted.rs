//! The premium encrypted SMS module; the layout is documented on [`EncryptionConfig`].

use std::fmt;

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde_json::{Map, Value, json};

use super::answer::{Answer, field_text};
use super::client::TwoFactorInClient;
use super::error::{TwoFactorInError, TwoFactorInSetting};
use super::webhook::DeliveryStatus;
use crate::phone::PhoneNumber;

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

    fn header_value(&self) -> Result<HeaderValue, TwoFactorInError> {
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

/// An SMS for the encrypted module.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptedSms {
    /// The recipients (`to`, digits without `+`, comma-separated).
    pub to: Vec<PhoneNumber>,
    /// The DLT-approved text (`msg`).
    pub text: String,
    /// The DLT header (`from`); `None` uses the client's sender id.
    pub from: Option<String>,
}

impl EncryptedSms {
    /// An SMS of `text` to `to`, from the client's sender id.
    pub fn new(to: PhoneNumber, text: impl Into<String>) -> Self {
        Self {
            to: vec![to],
            text: text.into(),
            from: None,
        }
    }

    /// Adds a recipient.
    #[must_use]
    pub fn and_to(mut self, to: PhoneNumber) -> Self {
        self.to.push(to);
        self
    }

    /// Sets the sender id.
    #[must_use]
    pub fn with_sender(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }
}

/// `Debug` shows the text's length only.
impl fmt::Debug for EncryptedSms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedSms")
            .field("to", &self.to)
            .field(
                "text",
                &format_args!("[{} chars]", self.text.chars().count()),
            )
            .field("from", &self.from)
            .finish()
    }
}

/// 2Factor's receipt for an encrypted SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptedSmsSent {
    /// 2Factor's request id (the decrypted `Details`).
    pub message_id: String,
}

/// The delivery status of an SMS sent through the encrypted module.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptedDeliveryStatus {
    /// 2Factor's `Details` (`1 record found for the specified filters`, or
    /// `No records found for the specified filters`).
    pub details: String,
    /// `DeliveryStatus`, when a record was found.
    pub status: Option<DeliveryStatus>,
    /// `SentAt` (`YYYY-MM-DD HH:MM:SS`, India time), when a record was found.
    pub sent_at: Option<String>,
    /// `DeliveredAt`, when a record was found and delivered.
    pub delivered_at: Option<String>,
}

impl TwoFactorInClient {
    /// Sends an SMS through the encrypted module. Needs
    /// [`TwoFactorInClientBuilder::encryption`](super::TwoFactorInClientBuilder::encryption).
    pub async fn send_encrypted_sms(
        &self,
        sms: &EncryptedSms,
    ) -> Result<EncryptedSmsSent, TwoFactorInError> {
        if sms.to.is_empty() {
            return Err(TwoFactorInError::invalid_request(
                "the SMS has no recipient",
            ));
        }
        if sms.text.trim().is_empty() {
            return Err(TwoFactorInError::invalid_request("the SMS text is empty"));
        }
        let from = self.sender_for(sms.from.as_deref())?;
        let to = sms
            .to
            .iter()
            .map(PhoneNumber::digits_string)
            .collect::<Vec<_>>()
            .join(",");
        let payload = json!({
            "module": "TRANS_SMS",
            "apikey": self.inner.api_key.expose_secret(),
            "to": to,
            "from": from,
            "msg": sms.text,
        });
        let answer = self.post_encrypted(&payload).await?;
        Ok(EncryptedSmsSent {
            message_id: answer.details.trim().to_owned(),
        })
    }

    /// The delivery status of the encrypted SMS `message_id` sent on `date` (`TRANS_SMS_DLR`).
    pub async fn encrypted_delivery_status(
        &self,
        message_id: &str,
        date: time::Date,
    ) -> Result<EncryptedDeliveryStatus, TwoFactorInError> {
        if message_id.trim().is_empty() {
            return Err(TwoFactorInError::invalid_request("the message id is empty"));
        }
        let smsdate = format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let payload = json!({
            "module": "TRANS_SMS_DLR",
            "apikey": self.inner.api_key.expose_secret(),
            "sessionid": message_id,
            "smsdate": smsdate,
        });
        let answer = self.post_encrypted(&payload).await?;
        Ok(EncryptedDeliveryStatus {
            status: field_text(&answer.object, "DeliveryStatus")
                .filter(|s| !s.trim().is_empty())
                .map(|s| DeliveryStatus::from_text(&s)),
            sent_at: field_text(&answer.object, "SentAt"),
            delivered_at: field_text(&answer.object, "DeliveredAt"),
            details: answer.details,
        })
    }

    async fn post_encrypted(&self, payload: &Value) -> Result<Answer, TwoFactorInError> {
        let enc = self.inner.encryption.as_ref().ok_or_else(|| {
            TwoFactorInError::config(
                TwoFactorInSetting::Encryption,
                "the encrypted module needs an EncryptionConfig",
            )
        })?;
        let plaintext = serde_json::to_vec(payload)
            .map_err(|_| TwoFactorInError::invalid_request("the payload cannot be serialised"))?;
        let body = enc.encrypt(&plaintext)?;
        let url = self.url(match enc.mode {
            EncryptionMode::Gcm => "/API/R1/?module=ENC&encmode=GCM",
            EncryptionMode::Cbc => "/API/R1/?module=ENC&encmode=CBC",
        })?;
        let request = self
            .inner
            .http
            .pick()
            .post(url)
            .header("Secret-Key", enc.header_value()?)
            .header(CONTENT_TYPE, "text/plain")
            .body(body);
        let reply = self.execute(request).await?;
        self.read_encrypted(enc, &reply)
    }

    /// What an encrypted module's answer says.
    pub(crate) fn read_encrypted(
        &self,
        enc: &EncryptionConfig,
        reply: &super::client::Reply,
    ) -> Result<Answer, TwoFactorInError> {
        let object = self.encrypted_answer(enc, reply)?;
        self.success_from_object(reply, object)
    }

    /// The answer as a JSON object, decrypting the whole body or its `Details` as needed.
    fn encrypted_answer(
        &self,
        enc: &EncryptionConfig,
        reply: &super::client::Reply,
    ) -> Result<Map<String, Value>, TwoFactorInError> {
        if reply.status >= 500 || reply.status == 429 {
            return self.decode_object(reply);
        }
        let body = reply.body.trim();
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body) {
            return Ok(decrypt_details(enc, object));
        }
        let decrypted = enc
            .decrypt(body)
            .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok());
        match decrypted {
            Some(Value::Object(object)) => Ok(decrypt_details(enc, object)),
            _ if (200..300).contains(&reply.status) => {
                Err(self.unexpected(reply, "an answer that neither parses nor decrypts"))
            }
            _ => self.decode_object(reply),
        }
    }
}

/// Replaces an encrypted `Details` by its plaintext (merging it in if it is a JSON object).
fn decrypt_details(enc: &EncryptionConfig, mut object: Map<String, Value>) -> Map<String, Value> {
    let Some(key) = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case("Details"))
        .cloned()
    else {
        return object;
    };
    let Some(Value::String(details)) = object.get(&key) else {
        return object;
    };
    let Some(plain) = enc.decrypt(details).and_then(|b| String::from_utf8(b).ok()) else {
        return object;
    };
    match serde_json::from_str::<Value>(&plain) {
        Ok(Value::Object(inner)) => {
            object.remove(&key);
            object.extend(inner);
        }
        _ => {
            object.insert(key, Value::String(plain));
        }
    }
    object
}
