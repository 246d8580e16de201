//! Bulk SMS: `POST {base}/API/R1/Bulk/`, JSON, at most 1000 messages a request.
//!
//! [`TwoFactorInClient::send_bulk`] takes any number of messages: it checks all of them first
//! (nothing is sent if one is unusable), then sends them in requests of 1000, one after the
//! other, and merges the answers. Indices in the [`BulkReport`] point into the caller's list.
//! If a request after the first fails, the error is [`TwoFactorInError::BulkIncomplete`], which
//! carries what was accepted so far; nothing is retried and no later request is attempted.
//!
//! # Partial success
//! An `Ok` [`BulkReport`] does not mean every message went out. 2Factor answers `success: true`
//! while rejecting some messages (`rejectedSamples`), while its own queue reports failed chunks
//! (`queueStats.failedChunks`), or while leaving messages unaccounted for. All of that is in the
//! report: [`BulkReport::is_complete`] is `true` only when every message was accepted, and
//! [`BulkReport::failed`] lists what was not (rejected messages, and requests that did not fully
//! go through, [`BulkChunkFailure`]). The report is `#[must_use]` for that reason.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::answer::{error_words, field, field_text};
use super::bulk_report::{BulkAccepted, BulkChunkFailure, BulkRejected, BulkReport};
use super::client::TwoFactorInClient;
use super::error::TwoFactorInError;
use crate::phone::PhoneNumber;

/// Most messages 2Factor takes in one bulk request.
pub const BULK_MAX_MESSAGES: usize = 1000;
/// Longest message text 2Factor takes in a bulk request, in characters.
pub const BULK_MAX_TEXT_CHARS: usize = 1000;

/// One message of a bulk send.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkMessage {
    /// The recipient (sent as `smsTo`, E.164 with `+`).
    pub to: PhoneNumber,
    /// The DLT-approved text (`smsText`, at most 1000 characters).
    pub text: String,
    /// The DLT header (`smsFrom`); `None` uses the client's sender id.
    pub from: Option<String>,
    /// A value echoed in the delivery report (`callback_value1`).
    pub callback_value1: Option<String>,
    /// A second value echoed in the delivery report (`callback_value2`).
    pub callback_value2: Option<String>,
    /// How the delivery report is posted (`callback_format`).
    pub callback_format: Option<CallbackFormat>,
}

impl BulkMessage {
    /// A message of `text` to `to`, from the client's sender id.
    pub fn new(to: PhoneNumber, text: impl Into<String>) -> Self {
        Self {
            to,
            text: text.into(),
            from: None,
            callback_value1: None,
            callback_value2: None,
            callback_format: None,
        }
    }

    /// Sets the sender id.
    #[must_use]
    pub fn with_sender(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }

    /// Sets the values echoed in the delivery report, and its format.
    #[must_use]
    pub fn with_callback(
        mut self,
        value1: Option<String>,
        value2: Option<String>,
        format: CallbackFormat,
    ) -> Self {
        self.callback_value1 = value1;
        self.callback_value2 = value2;
        self.callback_format = Some(format);
        self
    }
}

/// `Debug` shows the text's length only.
impl fmt::Debug for BulkMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkMessage")
            .field("to", &self.to)
            .field(
                "text",
                &format_args!("[{} chars]", self.text.chars().count()),
            )
            .field("from", &self.from)
            .field("callback_format", &self.callback_format)
            .finish_non_exhaustive()
    }
}

/// How 2Factor posts delivery reports of bulk messages (see
/// [`DeliveryReport`](super::DeliveryReport)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum CallbackFormat {
    /// A JSON body (`json`).
    #[serde(rename = "json")]
    Json,
    /// A url-encoded form (`raw-url-encoded`).
    #[serde(rename = "raw-url-encoded")]
    RawUrlEncoded,
}

#[derive(Serialize)]
struct BulkBody<'a> {
    module: &'static str,
    apikey: &'a str,
    messages: &'a [BulkItem<'a>],
}

#[derive(Serialize)]
struct BulkItem<'a> {
    #[serde(rename = "smsFrom")]
    sms_from: &'a str,
    #[serde(rename = "smsTo")]
    sms_to: String,
    #[serde(rename = "smsText")]
    sms_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_value1: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_value2: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_format: Option<CallbackFormat>,
}

impl TwoFactorInClient {
    /// Sends any number of messages through the bulk endpoint.
    ///
    /// All messages are checked first (nothing is sent if one is unusable: empty or over-long
    /// text, no sender id). They are then sent in requests of at most [`BULK_MAX_MESSAGES`],
    /// one after the other, and the answers merged; indices in the [`BulkReport`] point into
    /// `messages`. An `Ok` report may still be a partial success: check
    /// [`BulkReport::is_complete`]. If a request after the first fails, the error is
    /// [`TwoFactorInError::BulkIncomplete`], carrying what was accepted so far; nothing is retried
    /// and no later request is attempted. An empty list sends nothing.
    pub async fn send_bulk(
        &self,
        messages: &[BulkMessage],
    ) -> Result<BulkReport, TwoFactorInError> {
        let items = messages
            .iter()
            .enumerate()
            .map(|(i, m)| self.bulk_item(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        let mut report = BulkReport {
            total: messages.len(),
            ..BulkReport::default()
        };
        for (n, chunk) in items.chunks(BULK_MAX_MESSAGES).enumerate() {
            let offset = n * BULK_MAX_MESSAGES;
            match self.send_bulk_chunk(chunk, n, offset).await {
                Ok(part) => {
                    report.request_ids.extend(part.request_ids);
                    report.accepted.extend(part.accepted);
                    report.rejected.extend(part.rejected);
                    report.failed_chunks.extend(part.failed_chunks);
                }
                Err(err) if offset == 0 => return Err(err),
                Err(err) => {
                    report.failed_chunks.push(BulkChunkFailure {
                        chunk: n,
                        messages: offset..offset + chunk.len(),
                        unaccounted: chunk.len(),
                        reason: format!("the request failed: {err}"),
                    });
                    return Err(TwoFactorInError::BulkIncomplete {
                        report: Box::new(report),
                        failed_from: offset,
                        total: messages.len(),
                        source: Box::new(err),
                    });
                }
            }
        }
        Ok(report)
    }

    fn bulk_item<'a>(
        &'a self,
        index: usize,
        message: &'a BulkMessage,
    ) -> Result<BulkItem<'a>, TwoFactorInError> {
        let refuse =
            |why: &str| TwoFactorInError::invalid_request(format!("message {index}: {why}"));
        if message.text.trim().is_empty() {
            return Err(refuse("the text is empty"));
        }
        if message.text.chars().count() > BULK_MAX_TEXT_CHARS {
            return Err(refuse("the text is longer than 1000 characters"));
        }
        let sms_from = self
            .sender_for(message.from.as_deref())
            .map_err(|_| refuse("no sender id"))?;
        Ok(BulkItem {
            sms_from,
            sms_to: message.to.to_string(),
            sms_text: &message.text,
            callback_value1: message.callback_value1.as_deref(),
            callback_value2: message.callback_value2.as_deref(),
            callback_format: message.callback_format,
        })
    }

    async fn send_bulk_chunk(
        &self,
        chunk: &[BulkItem<'_>],
        index: usize,
        offset: usize,
    ) -> Result<BulkReport, TwoFactorInError> {
        use secrecy::ExposeSecret;
        let body = BulkBody {
            module: "TRANS_SMS",
            apikey: self.inner.api_key.expose_secret(),
            messages: chunk,
        };
        let url = self.url("/API/R1/Bulk/")?;
        let reply = self
            .execute(self.inner.http.pick().post(url).json(&body))
            .await?;
        self.read_bulk_chunk(&reply, chunk.len(), index, offset)
    }

    /// What the answer to one bulk request of `sent` messages says.
    pub(crate) fn read_bulk_chunk(
        &self,
        reply: &super::client::Reply,
        sent: usize,
        index: usize,
        offset: usize,
    ) -> Result<BulkReport, TwoFactorInError> {
        let object = self.decode_object(reply)?;
        let success = field_text(&object, "success").map(|s| s.trim().eq_ignore_ascii_case("true"));
        match success {
            Some(true) if (200..300).contains(&reply.status) => {
                Ok(read_bulk_answer(&object, sent, index, offset))
            }
            None if (200..300).contains(&reply.status) => {
                // Not the bulk shape: a V1-style `{"Status","Details"}` error, or garbage.
                match field_text(&object, "Status") {
                    Some(_) => Err(match self.success_from_object(reply, object) {
                        Ok(_) => self.unexpected(reply, "a bulk answer without `success`"),
                        Err(e) => e,
                    }),
                    None => Err(self.unexpected(reply, "a bulk answer without `success`")),
                }
            }
            _ => Err(self.failure(reply, error_words(&object).as_deref())),
        }
    }
}

fn read_bulk_answer(
    object: &Map<String, Value>,
    sent: usize,
    index: usize,
    offset: usize,
) -> BulkReport {
    let objects = |name: &str| -> Vec<Map<String, Value>> {
        match field(object, name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_object().cloned())
                .collect(),
            _ => Vec::new(),
        }
    };
    let local_rejected: Vec<(Option<usize>, Map<String, Value>)> = objects("rejectedSamples")
        .into_iter()
        .map(|r| {
            let index = field_text(&r, "index")
                .and_then(|i| i.trim().parse::<usize>().ok())
                .filter(|i| *i < sent);
            (index, r)
        })
        .collect();
    let accepted = objects("messages");

    // Accepted messages carry no index: match them to the input in order, but only when
    // every message of the request is accounted for by distinct rejected indices.
    let rejected_set: HashSet<usize> = local_rejected.iter().filter_map(|(i, _)| *i).collect();
    let all_accounted =
        rejected_set.len() == local_rejected.len() && accepted.len() + local_rejected.len() == sent;
    let mut accepted_indices = (0..sent).filter(|i| !rejected_set.contains(i));

    let accepted: Vec<BulkAccepted> = accepted
        .into_iter()
        .map(|m| BulkAccepted {
            index: if all_accounted {
                accepted_indices.next().map(|i| i + offset)
            } else {
                None
            },
            message_id: field_text(&m, "messageId").unwrap_or_default(),
            to: field_text(&m, "smsTo"),
            from: field_text(&m, "smsFrom"),
        })
        .collect();
    let rejected: Vec<BulkRejected> = local_rejected
        .into_iter()
        .map(|(index, r)| BulkRejected {
            index: index.map(|i| i + offset),
            phone: field_text(&r, "phone"),
            reason: field_text(&r, "reason").unwrap_or_default(),
        })
        .collect();
    let unaccounted = sent.saturating_sub(accepted.len() + rejected.len());
    let mut reasons = Vec::new();
    if let Some(Value::Object(stats)) = field(object, "queueStats") {
        let number =
            |name: &str| field_text(stats, name).and_then(|v| v.trim().parse::<u64>().ok());
        let failed = number("failedChunks").unwrap_or(0);
        let queue_ok = field_text(stats, "success").map(|s| s.trim().eq_ignore_ascii_case("true"));
        if failed > 0 || queue_ok == Some(false) {
            reasons.push(match number("totalChunks") {
                Some(total) => {
                    format!("2Factor's queue reported {failed} of {total} chunks failed")
                }
                None => format!("2Factor's queue reported {failed} failed chunks"),
            });
        }
    }
    if unaccounted > 0 {
        reasons.push(format!(
            "{unaccounted} of {sent} messages neither accepted nor rejected"
        ));
    }
    let failed_chunks = if reasons.is_empty() {
        Vec::new()
    } else {
        vec![BulkChunkFailure {
            chunk: index,
            messages: offset..offset + sent,
            unaccounted,
            reason: reasons.join("; "),
        }]
    };
    BulkReport {
        total: sent,
        request_ids: field_text(object, "requestId").into_iter().collect(),
        accepted,
        rejected,
        failed_chunks,
    }
}
