//! Verihubs' delivery callback: `GET your-callback-url?session_id=…&status=N`.
//!
//! The same number means different things on the two channels (SMS `2` is "Verified",
//! WhatsApp `2` is "Delivered"), so a status is always read together with its channel.

use std::fmt;

use super::VerihubsChannelKind;
use super::error::{VerihubsError, VerihubsParameter};

/// Where a Verihubs message stands, from a delivery callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerihubsDeliveryStatus {
    /// Requested (SMS 0, WhatsApp 0).
    Requested,
    /// Handed to WhatsApp's servers (WhatsApp 1).
    Sent,
    /// Delivered to the handset (SMS 1, WhatsApp 2). Charged.
    Delivered,
    /// Read by the user (WhatsApp 3).
    Read,
    /// Verified through the verify API (SMS 2, WhatsApp 4). Charged.
    Verified,
    /// Not verified within the time limit (SMS 3, WhatsApp 5). Charged.
    NotVerified,
    /// The operator or WhatsApp could not deliver it (SMS 4, WhatsApp 6).
    Failed,
    /// Verihubs could not reach the operator or WhatsApp (SMS 5, WhatsApp 7).
    RequestError,
    /// Refused for too many requests (SMS 6, WhatsApp 8).
    Rejected,
    /// The operator reported it undelivered (SMS 7). Charged.
    Undelivered,
    /// No delivery report from the operator in time (SMS 8). Charged.
    NoDeliveryReport,
    /// The number is blocked by Verihubs (SMS 9, WhatsApp 9).
    Blocked,
    /// The WhatsApp channel's tier limit is exceeded (WhatsApp 10).
    TierLimitExceeded,
}

impl VerihubsDeliveryStatus {
    /// The status for `code` on `channel`, if Verihubs documents it.
    pub fn from_code(channel: VerihubsChannelKind, code: u8) -> Option<Self> {
        use VerihubsDeliveryStatus::*;
        Some(match (channel, code) {
            (_, 0) => Requested,
            (VerihubsChannelKind::Sms, 1) => Delivered,
            (VerihubsChannelKind::Sms, 2) => Verified,
            (VerihubsChannelKind::Sms, 3) => NotVerified,
            (VerihubsChannelKind::Sms, 4) => Failed,
            (VerihubsChannelKind::Sms, 5) => RequestError,
            (VerihubsChannelKind::Sms, 6) => Rejected,
            (VerihubsChannelKind::Sms, 7) => Undelivered,
            (VerihubsChannelKind::Sms, 8) => NoDeliveryReport,
            (VerihubsChannelKind::WhatsApp, 1) => Sent,
            (VerihubsChannelKind::WhatsApp, 2) => Delivered,
            (VerihubsChannelKind::WhatsApp, 3) => Read,
            (VerihubsChannelKind::WhatsApp, 4) => Verified,
            (VerihubsChannelKind::WhatsApp, 5) => NotVerified,
            (VerihubsChannelKind::WhatsApp, 6) => Failed,
            (VerihubsChannelKind::WhatsApp, 7) => RequestError,
            (VerihubsChannelKind::WhatsApp, 8) => Rejected,
            (_, 9) => Blocked,
            (VerihubsChannelKind::WhatsApp, 10) => TierLimitExceeded,
            _ => return None,
        })
    }

    /// Whether the message never reached the user and never will.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::Failed
                | Self::RequestError
                | Self::Rejected
                | Self::Undelivered
                | Self::Blocked
                | Self::TierLimitExceeded
        )
    }
}

impl fmt::Display for VerihubsDeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Requested => "requested",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Verified => "verified",
            Self::NotVerified => "not verified",
            Self::Failed => "failed",
            Self::RequestError => "request error",
            Self::Rejected => "rejected",
            Self::Undelivered => "undelivered",
            Self::NoDeliveryReport => "no delivery report",
            Self::Blocked => "blocked",
            Self::TierLimitExceeded => "tier limit exceeded",
        })
    }
}

/// A delivery callback from Verihubs.
///
/// ```
/// use twofactor_core::verihubs::{VerihubsCallback, VerihubsChannelKind, VerihubsDeliveryStatus};
///
/// let cb = VerihubsCallback::from_query(
///     VerihubsChannelKind::Sms,
///     "session_id=d0f5fb5c-2d50-4d3f-aea7-20018ab15806&status=1",
/// )
/// .unwrap();
/// assert_eq!(cb.status, VerihubsDeliveryStatus::Delivered);
/// assert_eq!(cb.session_id, "d0f5fb5c-2d50-4d3f-aea7-20018ab15806");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerihubsCallback {
    /// Verihubs' id of the message.
    pub session_id: String,
    /// Its latest status.
    pub status: VerihubsDeliveryStatus,
}

impl VerihubsCallback {
    /// Reads the callback's query string (without the `?`) for a message sent on `channel`.
    pub fn from_query(channel: VerihubsChannelKind, query: &str) -> Result<Self, VerihubsError> {
        let mut session_id = None;
        let mut status = None;
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            match key {
                "session_id" => session_id = Some(value.into_owned()),
                "status" => status = Some(value.into_owned()),
                _ => {}
            }
        }
        let invalid =
            |parameter: VerihubsParameter, reason: &str| VerihubsError::InvalidParameter {
                parameter,
                reason: reason.to_owned(),
            };
        let session_id = session_id
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= 128
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .ok_or_else(|| invalid(VerihubsParameter::SessionId, "missing or not an id"))?;
        let status = status
            .and_then(|s| s.parse::<u8>().ok())
            .and_then(|code| VerihubsDeliveryStatus::from_code(channel, code))
            .ok_or_else(|| {
                invalid(
                    VerihubsParameter::Status,
                    "missing or not a documented status",
                )
            })?;
        Ok(Self { session_id, status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_reads() {
        use VerihubsChannelKind::*;
        use VerihubsDeliveryStatus as S;
        let sms = [
            S::Requested,
            S::Delivered,
            S::Verified,
            S::NotVerified,
            S::Failed,
            S::RequestError,
            S::Rejected,
            S::Undelivered,
            S::NoDeliveryReport,
            S::Blocked,
        ];
        for (code, expected) in sms.iter().enumerate() {
            assert_eq!(S::from_code(Sms, code as u8), Some(*expected), "sms {code}");
        }
        assert_eq!(S::from_code(Sms, 10), None);
        let whatsapp = [
            S::Requested,
            S::Sent,
            S::Delivered,
            S::Read,
            S::Verified,
            S::NotVerified,
            S::Failed,
            S::RequestError,
            S::Rejected,
            S::Blocked,
            S::TierLimitExceeded,
        ];
        for (code, expected) in whatsapp.iter().enumerate() {
            assert_eq!(
                S::from_code(WhatsApp, code as u8),
                Some(*expected),
                "wa {code}"
            );
        }
        assert_eq!(S::from_code(WhatsApp, 11), None);
    }

    #[test]
    fn bad_callbacks_are_refused() {
        for query in [
            "",
            "status=1",
            "session_id=abc",
            "session_id=abc&status=42",
            "session_id=a/b&status=1",
            "session_id=abc&status=x",
        ] {
            assert!(
                VerihubsCallback::from_query(VerihubsChannelKind::Sms, query).is_err(),
                "{query}"
            );
        }
    }
}
