//! The engine's traits over the client: [`TwoFactorInProvider`] is an [`OtpProvider`] (2Factor
//! generates and checks the code), and [`TwoFactorInClient`] is an [`SmsSender`] (the library
//! generates and checks the code, 2Factor delivers it).

use async_trait::async_trait;

#[cfg(feature = "bulk")]
use super::bulk::BulkMessage;
#[cfg(feature = "bulk")]
use super::bulk_report::BulkFailure;
use super::client::TwoFactorInClient;
use super::error::{PROVIDER, TwoFactorInError};
use super::names::SessionId;
use super::otp::OtpKind;
use super::sms::SmsRequest;
use crate::code::OtpCode;
use crate::phone::PhoneNumber;
#[cfg(feature = "bulk")]
use crate::provider::Delivery;
use crate::provider::{
    Channel, CodeMessage, OtpProvider, ProviderError, ProviderErrorKind, SendOptions, SmsMessage,
    SmsReceipt, SmsSender, Ticket, Verdict,
};

const SMS_TICKET: &str = "sms:";
const VOICE_TICKET: &str = "voice:";

/// 2Factor as an [`OtpProvider`]: AUTOGEN to send, VERIFY to check.
///
/// - SMS: `/SMS/{phone}/AUTOGEN[/{template}]` with the client's template if it has one
///   (`AUTOGEN3` when the engine asks for 4 digits; 2Factor generates only 6- or 4-digit codes,
///   so other lengths are [`ProviderErrorKind::Unsupported`]).
/// - Voice: `/VOICE/{phone}/AUTOGEN`.
/// - The [`Ticket`] is `sms:<session id>` or `voice:<session id>`, so that verification uses
///   `/SMS/VERIFY/...` or `/VOICE/VERIFY/...` accordingly.
/// - `OTP Expired` and `Invalid API / SessionId Combination - No Entry Exists` are
///   [`Verdict::Expired`].
#[derive(Debug, Clone)]
pub struct TwoFactorInProvider {
    client: TwoFactorInClient,
}

impl TwoFactorInProvider {
    /// Wraps a client.
    pub fn new(client: TwoFactorInClient) -> Self {
        Self { client }
    }

    /// The client inside.
    pub fn client(&self) -> &TwoFactorInClient {
        &self.client
    }
}

fn unsupported(detail: impl Into<String>) -> ProviderError {
    ProviderError::new(PROVIDER, ProviderErrorKind::Unsupported).with_detail(detail)
}

#[async_trait]
impl OtpProvider for TwoFactorInProvider {
    fn name(&self) -> &str {
        PROVIDER
    }

    fn supports(&self, channel: Channel) -> bool {
        matches!(channel, Channel::Sms | Channel::Voice)
    }

    async fn send(
        &self,
        phone: &PhoneNumber,
        options: &SendOptions,
    ) -> Result<Ticket, ProviderError> {
        match options.channel {
            Channel::Sms => {
                let kind = match options.code_length {
                    6 => OtpKind::Autogen,
                    4 => OtpKind::Autogen3,
                    n => {
                        return Err(unsupported(format!(
                            "2Factor generates 6- or 4-digit codes, not {n}"
                        )));
                    }
                };
                let sent = self.client.send_otp(phone, kind, None).await?;
                Ok(Ticket::new(format!(
                    "{SMS_TICKET}{}",
                    sent.session_id.expose()
                )))
            }
            Channel::Voice => {
                let sent = self.client.send_voice_otp(phone).await?;
                Ok(Ticket::new(format!(
                    "{VOICE_TICKET}{}",
                    sent.session_id.expose()
                )))
            }
        }
    }

    async fn verify(
        &self,
        _phone: &PhoneNumber,
        ticket: &Ticket,
        code: &OtpCode,
    ) -> Result<Verdict, ProviderError> {
        let text = ticket.expose();
        let malformed = || {
            ProviderError::new(PROVIDER, ProviderErrorKind::Rejected)
                .with_detail("not a 2Factor ticket")
        };
        let (voice, session) = if let Some(s) = text.strip_prefix(SMS_TICKET) {
            (false, s)
        } else if let Some(s) = text.strip_prefix(VOICE_TICKET) {
            (true, s)
        } else {
            return Err(malformed());
        };
        let session = SessionId::new(session).map_err(|_| malformed())?;
        let verdict = if voice {
            self.client.verify_voice_otp(&session, code).await
        } else {
            self.client.verify_otp(&session, code).await
        };
        engine_verdict(verdict)
    }
}

/// The engine's verdict from a verify's outcome.
pub(crate) fn engine_verdict(
    outcome: Result<Verdict, TwoFactorInError>,
) -> Result<Verdict, ProviderError> {
    match outcome {
        Ok(verdict) => Ok(verdict),
        // 2Factor forgets sessions once used or expired: for the engine, no live code.
        Err(TwoFactorInError::SessionNotFound) => Ok(Verdict::Expired),
        Err(err) => Err(err.into()),
    }
}

/// 2Factor as an [`SmsSender`]:
///
/// - `send_sms`: R1 `TRANS_SMS` ([`TwoFactorInClient::send_transactional_sms`]);
/// - `send_many`: the bulk endpoint when every message has one recipient and no schedule,
///   else one R1 request per message;
/// - `send_code`: the custom-code endpoint `/SMS/{phone}/{otp}[/{template}]` (with the client's
///   template) for SMS, `/VOICE/{phone}/{otp}` for voice. 2Factor takes 4 to 6 digits there;
///   other lengths are [`ProviderErrorKind::Unsupported`].
#[async_trait]
impl SmsSender for TwoFactorInClient {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn send_sms(&self, message: &SmsMessage) -> Result<SmsReceipt, ProviderError> {
        let request = SmsRequest {
            from: message.sender.clone(),
            schedule_at: message.schedule_at,
            ..SmsRequest::to_many(message.to.clone(), message.text.clone())
        };
        let sent = self.send_transactional_sms(&request).await?;
        Ok(SmsReceipt::new(Some(sent.message_id)))
    }

    async fn send_many(&self, messages: &[SmsMessage]) -> Result<Vec<SmsReceipt>, ProviderError> {
        #[cfg(feature = "bulk")]
        if messages.len() > 1
            && messages
                .iter()
                .all(|m| m.to.len() == 1 && m.schedule_at.is_none())
        {
            return send_as_bulk(self, messages).await;
        }
        let mut receipts = Vec::with_capacity(messages.len());
        for message in messages {
            receipts.push(SmsSender::send_sms(self, message).await?);
        }
        Ok(receipts)
    }

    fn supports_code_channel(&self, channel: Channel) -> bool {
        matches!(channel, Channel::Sms | Channel::Voice)
    }

    async fn send_code(&self, message: &CodeMessage<'_>) -> Result<(), ProviderError> {
        if !(4..=6).contains(&message.code.len()) {
            return Err(unsupported(format!(
                "2Factor delivers codes of 4 to 6 digits, not {}",
                message.code.len()
            )));
        }
        match message.channel {
            Channel::Sms => {
                self.send_custom_otp(message.phone, message.code, None)
                    .await?;
            }
            Channel::Voice => {
                self.send_voice_custom_otp(message.phone, message.code)
                    .await?;
            }
        }
        Ok(())
    }
}

/// `messages` (one recipient each, none scheduled) through the bulk endpoint.
#[cfg(feature = "bulk")]
async fn send_as_bulk(
    client: &TwoFactorInClient,
    messages: &[SmsMessage],
) -> Result<Vec<SmsReceipt>, ProviderError> {
    let bulk: Vec<BulkMessage> = messages
        .iter()
        .flat_map(|m| {
            m.to.first().map(|to| BulkMessage {
                from: m.sender.clone(),
                ..BulkMessage::new(*to, m.text.clone())
            })
        })
        .collect();
    let report = client.send_bulk(&bulk).await?;
    if !report.is_complete() {
        // A partial success is not a success: the caller learns that some messages may not
        // have gone out, and that others may have (so a blind retry could send them twice).
        let delivery = if report.accepted.is_empty() && report.failed_chunks.is_empty() {
            Delivery::NotSent
        } else {
            Delivery::MaybeSent
        };
        let first = report
            .failed()
            .next()
            .map(|f| match f {
                BulkFailure::Rejected(r) => r.reason.clone(),
                BulkFailure::Chunk(c) => c.reason.clone(),
            })
            .unwrap_or_else(|| "fewer messages accepted than sent".to_owned());
        return Err(ProviderError::new(PROVIDER, ProviderErrorKind::Rejected)
            .with_delivery(delivery)
            .with_detail(format!(
                "a partial success: {} of {} messages accepted ({first})",
                report.accepted.len(),
                messages.len(),
            )));
    }
    Ok((0..messages.len())
        .map(|i| {
            let id = report
                .accepted
                .iter()
                .find(|a| a.index == Some(i))
                .map(|a| a.message_id.clone());
            SmsReceipt::new(id)
        })
        .collect())
}
