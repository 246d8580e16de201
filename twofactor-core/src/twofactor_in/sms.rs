//! Transactional and promotional SMS: `POST {base}/API/R1/`, a url-encoded form.
//!
//! # Scheduling
//! `scheduletime` is sent as `YYYY-MM-DD HH:MM:SS` in India Standard Time (UTC+05:30), the zone
//! 2Factor works in. 2Factor requires it to lie at least five minutes ahead; this client refuses
//! a schedule less than five minutes after its clock's now before sending anything. Leave some
//! margin: 2Factor checks against its own clock, and seconds are truncated.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{OffsetDateTime, UtcOffset};

use super::client::TwoFactorInClient;
use super::error::TwoFactorInError;
use crate::phone::PhoneNumber;

/// India Standard Time, 2Factor's zone.
pub(crate) const IST: UtcOffset = time::macros::offset!(+5:30);

/// How far ahead a scheduled SMS must lie.
pub const MIN_SCHEDULE_LEAD: Duration = Duration::from_secs(5 * 60);

/// An SMS for the R1 endpoint (transactional or promotional).
///
/// # Scheduling
/// `scheduletime` is sent as `YYYY-MM-DD HH:MM:SS` in India Standard Time (UTC+05:30), the
/// zone 2Factor works in. 2Factor requires it to lie at least five minutes ahead; the client
/// refuses a schedule less than [`MIN_SCHEDULE_LEAD`] after its clock's now before sending
/// anything. Leave some margin: 2Factor checks against its own clock, and seconds are
/// truncated.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use twofactor_core::PhoneParser;
/// use twofactor_core::twofactor_in::SmsRequest;
///
/// let phone = PhoneParser::default().parse("+919812345678").unwrap();
/// let sms = SmsRequest::new(phone, "Your order 42 has shipped")
///     .with_sender("TFACTR")
///     .with_dlt_ids("1201159222222222222", "1207161111111111111")
///     .with_schedule(SystemTime::now() + Duration::from_secs(3600));
/// assert_eq!(sms.to.len(), 1);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmsRequest {
    /// The recipients (sent as `to`, the digits without `+`, comma-separated).
    pub to: Vec<PhoneNumber>,
    /// The DLT-approved text (`msg`).
    pub text: String,
    /// The DLT header (`from`); `None` uses the client's sender id.
    pub from: Option<String>,
    /// Deliver later (`scheduletime`), at least five minutes ahead.
    pub schedule_at: Option<SystemTime>,
    /// The DLT principal entity id (`peid`).
    pub peid: Option<String>,
    /// The DLT content template id (`ctid`).
    pub ctid: Option<String>,
    /// A click-tracking campaign name (`campaignname`).
    pub campaign_name: Option<String>,
    /// Where 2Factor posts click events of the campaign (`campaignwebhook`).
    pub campaign_webhook: Option<String>,
    /// Shorten the URLs in the text (`shortenurl=1`).
    pub shorten_url: bool,
    /// Where 2Factor posts clicks on shortened URLs (`shortenurlwebhook`).
    pub shorten_url_webhook: Option<String>,
    /// A value 2Factor echoes in click webhooks (`shortenurlcallback`).
    pub shorten_url_callback: Option<String>,
}

impl SmsRequest {
    /// An SMS of `text` to `to`, sent now from the client's sender id.
    pub fn new(to: PhoneNumber, text: impl Into<String>) -> Self {
        Self::to_many(vec![to], text)
    }

    /// An SMS of `text` to several recipients.
    pub fn to_many(to: Vec<PhoneNumber>, text: impl Into<String>) -> Self {
        Self {
            to,
            text: text.into(),
            from: None,
            schedule_at: None,
            peid: None,
            ctid: None,
            campaign_name: None,
            campaign_webhook: None,
            shorten_url: false,
            shorten_url_webhook: None,
            shorten_url_callback: None,
        }
    }

    /// Adds a recipient.
    #[must_use]
    pub fn and_to(mut self, to: PhoneNumber) -> Self {
        self.to.push(to);
        self
    }

    /// Sets the sender id (DLT header).
    #[must_use]
    pub fn with_sender(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }

    /// Schedules delivery (at least five minutes ahead).
    #[must_use]
    pub fn with_schedule(mut self, at: SystemTime) -> Self {
        self.schedule_at = Some(at);
        self
    }

    /// Sets the DLT principal entity id and content template id.
    #[must_use]
    pub fn with_dlt_ids(mut self, peid: impl Into<String>, ctid: impl Into<String>) -> Self {
        self.peid = Some(peid.into());
        self.ctid = Some(ctid.into());
        self
    }

    /// Tracks clicks in a named campaign, optionally posting them to `webhook`.
    #[must_use]
    pub fn with_campaign(mut self, name: impl Into<String>, webhook: Option<String>) -> Self {
        self.campaign_name = Some(name.into());
        self.campaign_webhook = webhook;
        self
    }

    /// Shortens URLs in the text, optionally posting clicks to `webhook` with `callback` echoed.
    #[must_use]
    pub fn with_shortened_urls(
        mut self,
        webhook: Option<String>,
        callback: Option<String>,
    ) -> Self {
        self.shorten_url = true;
        self.shorten_url_webhook = webhook;
        self.shorten_url_callback = callback;
        self
    }
}

/// The text may carry a code or personal data: `Debug` shows its length only.
impl fmt::Debug for SmsRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsRequest")
            .field("to", &self.to)
            .field(
                "text",
                &format_args!("[{} chars]", self.text.chars().count()),
            )
            .field("from", &self.from)
            .field("schedule_at", &self.schedule_at)
            .field("peid", &self.peid)
            .field("ctid", &self.ctid)
            .field("campaign_name", &self.campaign_name)
            .field("shorten_url", &self.shorten_url)
            .finish_non_exhaustive()
    }
}

/// 2Factor's receipt for an accepted SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmsSent {
    /// 2Factor's id for the request (its `Details`), the `SessionId` of delivery reports.
    pub message_id: String,
}

#[derive(Clone, Copy)]
enum Module {
    Transactional,
    Promotional,
}

impl Module {
    fn as_str(self) -> &'static str {
        match self {
            Self::Transactional => "TRANS_SMS",
            Self::Promotional => "PROMO_SMS",
        }
    }
}

impl TwoFactorInClient {
    /// Sends a transactional SMS (`module=TRANS_SMS`): OTPs, order notifications, service
    /// messages.
    pub async fn send_transactional_sms(
        &self,
        sms: &SmsRequest,
    ) -> Result<SmsSent, TwoFactorInError> {
        self.send_r1(sms, Module::Transactional).await
    }

    /// Sends a promotional SMS (`module=PROMO_SMS`).
    pub async fn send_promotional_sms(
        &self,
        sms: &SmsRequest,
    ) -> Result<SmsSent, TwoFactorInError> {
        self.send_r1(sms, Module::Promotional).await
    }

    async fn send_r1(&self, sms: &SmsRequest, module: Module) -> Result<SmsSent, TwoFactorInError> {
        let form = self.r1_form(sms, module)?;
        let url = self.url("/API/R1/")?;
        let reply = self
            .execute(self.inner.http.pick().post(url).form(&form))
            .await?;
        let answer = self.decode_success(&reply)?;
        Ok(SmsSent {
            message_id: answer.details.trim().to_owned(),
        })
    }

    fn r1_form(
        &self,
        sms: &SmsRequest,
        module: Module,
    ) -> Result<Vec<(&'static str, String)>, TwoFactorInError> {
        use secrecy::ExposeSecret;
        let (to, from) = self.addressed(&sms.to, &sms.text, sms.from.as_deref())?;
        let mut form = vec![
            ("module", module.as_str().to_owned()),
            ("apikey", self.inner.api_key.expose_secret().to_owned()),
            ("to", to),
            ("from", from.to_owned()),
            ("msg", sms.text.clone()),
        ];
        if let Some(at) = sms.schedule_at {
            form.push(("scheduletime", self.schedule_time(at)?));
        }
        let optional = [
            ("peid", &sms.peid),
            ("ctid", &sms.ctid),
            ("campaignname", &sms.campaign_name),
            ("campaignwebhook", &sms.campaign_webhook),
            ("shortenurlwebhook", &sms.shorten_url_webhook),
            ("shortenurlcallback", &sms.shorten_url_callback),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                form.push((name, v.clone()));
            }
        }
        if sms.shorten_url {
            form.push(("shortenurl", "1".to_owned()));
        }
        Ok(form)
    }

    /// The checks and the addressing every SMS send shares: at least one recipient, a text,
    /// a sender id. Gives the recipients as 2Factor's comma-separated digits and the sender.
    pub(crate) fn addressed<'a>(
        &'a self,
        to: &[PhoneNumber],
        text: &str,
        from: Option<&'a str>,
    ) -> Result<(String, &'a str), TwoFactorInError> {
        if to.is_empty() {
            return Err(TwoFactorInError::invalid_request(
                "the SMS has no recipient",
            ));
        }
        if text.trim().is_empty() {
            return Err(TwoFactorInError::invalid_request("the SMS text is empty"));
        }
        let from = self.sender_for(from)?;
        let to = to
            .iter()
            .map(PhoneNumber::digits_string)
            .collect::<Vec<_>>()
            .join(",");
        Ok((to, from))
    }

    /// The sender id to use: the message's, else the client's.
    pub(crate) fn sender_for<'a>(
        &'a self,
        from: Option<&'a str>,
    ) -> Result<&'a str, TwoFactorInError> {
        from.or(self.inner.sender_id.as_deref())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                TwoFactorInError::invalid_request(
                    "no sender id: set one on the message or with the builder's sender_id",
                )
            })
    }

    /// `at` as 2Factor's `scheduletime`, if it lies far enough ahead.
    fn schedule_time(&self, at: SystemTime) -> Result<String, TwoFactorInError> {
        let now = self.inner.clock.now();
        let lead = at.duration_since(now).unwrap_or(Duration::ZERO);
        if lead < MIN_SCHEDULE_LEAD {
            return Err(TwoFactorInError::invalid_request(
                "a scheduled SMS must lie at least 5 minutes ahead",
            ));
        }
        format_ist(at)
            .ok_or_else(|| TwoFactorInError::invalid_request("schedule time out of range"))
    }
}

/// `YYYY-MM-DD HH:MM:SS` in India Standard Time.
pub(crate) fn format_ist(at: SystemTime) -> Option<String> {
    let secs = i64::try_from(at.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
    let t = OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .to_offset(IST);
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_india_standard_time() {
        // 2022-01-01 07:57:00 UTC is 13:27:00 in India.
        let at = UNIX_EPOCH + Duration::from_secs(1_641_023_820);
        assert_eq!(format_ist(at).as_deref(), Some("2022-01-01 13:27:00"));
        assert_eq!(
            format_ist(UNIX_EPOCH + Duration::from_secs(1_000_000_000_000_000)),
            None
        );
    }
}
