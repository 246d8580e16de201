//! The premium encrypted SMS module: the messages and the client's endpoints; the layout is
//! documented on [`EncryptionConfig`].

use std::fmt;

use reqwest::header::CONTENT_TYPE;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use super::answer::{Answer, field_text};
use super::client::TwoFactorInClient;
use super::encryption::{EncryptionConfig, EncryptionMode};
use super::error::{TwoFactorInError, TwoFactorInSetting};
use super::webhook::DeliveryStatus;
use crate::phone::PhoneNumber;

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
        let (to, from) = self.addressed(&sms.to, &sms.text, sms.from.as_deref())?;
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
