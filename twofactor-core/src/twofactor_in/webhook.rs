//! What 2Factor posts to your webhooks: delivery reports and link clicks.
//!
//! These parse request bodies that your web framework hands you; nothing here makes a request.
//! Field names are matched case-insensitively, numbers are accepted where text is expected, and
//! fields this client does not know are kept in `extra` (the `shortenurlcallback` value of a
//! click, for instance, whose field name 2Factor does not document).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::sms::IST;

/// Why a webhook body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The body is not the format it should be (JSON object, or url-encoded form).
    #[error("the webhook body is not a valid {format} payload")]
    Malformed {
        /// `"JSON"` or `"url-encoded"`.
        format: &'static str,
    },
    /// A field every payload of this kind has is missing.
    #[error("the webhook payload has no `{0}` field")]
    MissingField(&'static str),
}

/// The state of a message in a delivery report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// `DELIVERED`.
    Delivered,
    /// `UNDELIVERED`.
    Undelivered,
    /// `FAILED`.
    Failed,
    /// `REJECTED`.
    Rejected,
    /// `EXPIRED`.
    Expired,
    /// `PENDING`, `SUBMITTED`, `SENT`, `QUEUED`: not final yet.
    Pending,
    /// Anything else, as 2Factor wrote it.
    Other(String),
}

impl DeliveryStatus {
    /// Reads a status text, case-insensitively.
    pub fn from_text(text: &str) -> Self {
        match text.trim().to_ascii_uppercase().as_str() {
            "DELIVERED" | "DELIVRD" => Self::Delivered,
            "UNDELIVERED" | "UNDELIV" => Self::Undelivered,
            "FAILED" => Self::Failed,
            "REJECTED" | "REJECTD" => Self::Rejected,
            "EXPIRED" => Self::Expired,
            "PENDING" | "SUBMITTED" | "SENT" | "QUEUED" | "ENROUTE" => Self::Pending,
            _ => Self::Other(text.trim().to_owned()),
        }
    }

    /// Whether the message reached the phone.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered)
    }
}

/// A delivery report 2Factor posts for a message (bulk messages with a `callback_format`, as
/// JSON or as a url-encoded form).
///
/// The parsers here and on [`ClickEvent`] read bodies your web framework hands you. Field
/// names are matched case-insensitively, numbers are accepted where text is expected, and
/// fields this client does not know are kept in `extra` (the `shortenurlcallback` value of a
/// click, for instance, whose field name 2Factor does not document).
///
/// ```
/// use twofactor_core::twofactor_in::{ClickEvent, DeliveryReport, DeliveryStatus};
///
/// let report = DeliveryReport::from_json(br#"{"SessionId":"30b3c545-1","SmsFrom":"TFACTR",
///     "SmsTo":"9876543210","SmsStatus":"DELIVERED","SentAt":"2025-11-24 19:43:06",
///     "StatusAt":"2025-11-24 19:43:08","callback_value1":"order_98765"}"#).unwrap();
/// assert_eq!(report.status, DeliveryStatus::Delivered);
/// assert_eq!(report.callback_value1.as_deref(), Some("order_98765"));
///
/// let click = ClickEvent::from_form(
///     b"accessed=2024-11-29+14%3A30%3A00&phoneNo=9876543210&campaignName=PromoCampaign&ip=192.168.1.1",
/// ).unwrap();
/// assert_eq!(click.campaign_name.as_deref(), Some("PromoCampaign"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// 2Factor's id of the message (`SessionId`; the bulk `messageId`).
    pub session_id: String,
    /// The sender id (`SmsFrom`).
    pub from: Option<String>,
    /// The recipient as 2Factor wrote it (`SmsTo`).
    pub to: Option<String>,
    /// The state (`SmsStatus`).
    pub status: DeliveryStatus,
    /// When it was sent (`SentAt`, `YYYY-MM-DD HH:MM:SS` in India time).
    pub sent_at: Option<String>,
    /// When the state was reached (`StatusAt`).
    pub status_at: Option<String>,
    /// The `callback_value1` given when sending.
    pub callback_value1: Option<String>,
    /// The `callback_value2` given when sending.
    pub callback_value2: Option<String>,
    /// Every other field, as text.
    pub extra: BTreeMap<String, String>,
}

impl DeliveryReport {
    /// Parses a JSON delivery report.
    pub fn from_json(body: &[u8]) -> Result<Self, WebhookError> {
        Self::from_fields(json_fields(body)?)
    }

    /// Parses a url-encoded delivery report (`callback_format` `raw-url-encoded`).
    pub fn from_form(body: &[u8]) -> Result<Self, WebhookError> {
        Self::from_fields(form_fields(body)?)
    }

    fn from_fields(mut fields: Fields) -> Result<Self, WebhookError> {
        let session_id = fields
            .take("SessionId")
            .ok_or(WebhookError::MissingField("SessionId"))?;
        let status = fields
            .take("SmsStatus")
            .ok_or(WebhookError::MissingField("SmsStatus"))?;
        Ok(Self {
            session_id,
            from: fields.take("SmsFrom"),
            to: fields.take("SmsTo"),
            status: DeliveryStatus::from_text(&status),
            sent_at: fields.take("SentAt"),
            status_at: fields.take("StatusAt"),
            callback_value1: fields.take("callback_value1"),
            callback_value2: fields.take("callback_value2"),
            extra: fields.0,
        })
    }

    /// `sent_at` as a time (read in India Standard Time), if it parses.
    pub fn sent_at_time(&self) -> Option<OffsetDateTime> {
        self.sent_at.as_deref().and_then(parse_ist)
    }

    /// `status_at` as a time (read in India Standard Time), if it parses.
    pub fn status_at_time(&self) -> Option<OffsetDateTime> {
        self.status_at.as_deref().and_then(parse_ist)
    }
}

/// `Debug` masks the recipient.
impl fmt::Debug for DeliveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryReport")
            .field("session_id", &self.session_id)
            .field("from", &self.from)
            .field("to", &self.to.as_deref().map(mask))
            .field("status", &self.status)
            .field("sent_at", &self.sent_at)
            .field("status_at", &self.status_at)
            .field("callback_value1", &self.callback_value1)
            .field("callback_value2", &self.callback_value2)
            .field("extra", &self.extra.keys())
            .finish()
    }
}

/// A click on a shortened link, posted to the `campaignwebhook` (or `shortenurlwebhook`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClickEvent {
    /// When the link was opened (`accessed`, `YYYY-MM-DD HH:MM:SS` in India time).
    pub accessed: Option<String>,
    /// The phone that opened it (`phoneNo`), as 2Factor wrote it.
    pub phone: String,
    /// The campaign (`campaignName`).
    pub campaign_name: Option<String>,
    /// The clicking device's address (`ip`), as 2Factor wrote it.
    pub ip: Option<String>,
    /// Every other field, as text (the `shortenurlcallback` value, among others).
    pub extra: BTreeMap<String, String>,
}

impl ClickEvent {
    /// Parses a url-encoded click event (the documented form).
    pub fn from_form(body: &[u8]) -> Result<Self, WebhookError> {
        Self::from_fields(form_fields(body)?)
    }

    /// Parses a JSON click event.
    pub fn from_json(body: &[u8]) -> Result<Self, WebhookError> {
        Self::from_fields(json_fields(body)?)
    }

    fn from_fields(mut fields: Fields) -> Result<Self, WebhookError> {
        let phone = fields
            .take("phoneNo")
            .ok_or(WebhookError::MissingField("phoneNo"))?;
        Ok(Self {
            accessed: fields.take("accessed"),
            phone,
            campaign_name: fields.take("campaignName"),
            ip: fields.take("ip"),
            extra: fields.0,
        })
    }

    /// `accessed` as a time (read in India Standard Time), if it parses.
    pub fn accessed_time(&self) -> Option<OffsetDateTime> {
        self.accessed.as_deref().and_then(parse_ist)
    }

    /// `ip` as an address, if it parses.
    pub fn ip_addr(&self) -> Option<IpAddr> {
        self.ip.as_deref().and_then(|ip| ip.trim().parse().ok())
    }
}

/// `Debug` masks the phone and the address.
impl fmt::Debug for ClickEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickEvent")
            .field("accessed", &self.accessed)
            .field("phone", &mask(&self.phone))
            .field("campaign_name", &self.campaign_name)
            .field("ip", &self.ip.as_ref().map(|_| "[REDACTED]"))
            .field("extra", &self.extra.keys())
            .finish()
    }
}

/// The fields of a payload, as text.
struct Fields(BTreeMap<String, String>);

impl Fields {
    /// Removes `name` (matched case-insensitively); empty values count as absent.
    fn take(&mut self, name: &str) -> Option<String> {
        let key = self
            .0
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .cloned()?;
        self.0.remove(&key).filter(|v| !v.trim().is_empty())
    }
}

fn json_fields(body: &[u8]) -> Result<Fields, WebhookError> {
    let malformed = WebhookError::Malformed { format: "JSON" };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| malformed.clone())?;
    let serde_json::Value::Object(object) = value else {
        return Err(malformed);
    };
    let fields = object
        .into_iter()
        .filter_map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => return None,
                other => other.to_string(),
            };
            Some((k, text))
        })
        .collect();
    Ok(Fields(fields))
}

fn form_fields(body: &[u8]) -> Result<Fields, WebhookError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| WebhookError::Malformed {
            format: "url-encoded",
        })?;
    Ok(Fields(pairs.into_iter().collect()))
}

/// `YYYY-MM-DD HH:MM:SS`, read in India Standard Time.
fn parse_ist(text: &str) -> Option<OffsetDateTime> {
    let (date, time) = text.trim().split_once(' ')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i32>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':').map(|p| p.parse::<u8>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    let date = Date::from_calendar_date(
        year,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(IST))
}

/// All but the last four characters replaced by `*`.
fn mask(text: &str) -> String {
    let n = text.chars().count();
    text.chars()
        .enumerate()
        .map(|(i, c)| if i + 4 < n { '*' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_india_time() {
        let t = parse_ist("2025-11-24 19:43:06").unwrap();
        assert_eq!(t.unix_timestamp(), 1_763_993_586);
        assert_eq!(parse_ist("2025-13-24 19:43:06"), None);
        assert_eq!(parse_ist("garbage"), None);
    }

    #[test]
    fn masks_all_but_four() {
        assert_eq!(mask("9876543210"), "******3210");
        assert_eq!(mask("12"), "12");
    }
}
