//! What a bulk send reports: [`BulkReport`] and its parts.
//!
//! Apart from the sending code (`bulk.rs`) because the error type carries a report
//! ([`TwoFactorInError::BulkIncomplete`](super::TwoFactorInError::BulkIncomplete)) while the
//! sending code returns that error: both import the report from here, not from each other.

/// The merged answer to a bulk send.
///
/// An `Ok` report does not mean every message went out. 2Factor answers `success: true` while
/// rejecting some messages (`rejectedSamples`), while its own queue reports failed chunks
/// (`queueStats.failedChunks`), or while leaving messages unaccounted for; all of that is in
/// here. [`BulkReport::is_complete`] is `true` only when every message was accepted, and
/// [`BulkReport::failed`] lists what was not. The report is `#[must_use]` for that reason.
///
/// ```
/// # use twofactor_core::twofactor_in::BulkReport;
/// # fn handle(report: BulkReport) {
/// if !report.is_complete() {
///     for failure in report.failed() {
///         eprintln!("not sent: {failure:?}");
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use = "a bulk send can succeed in part: check `is_complete()` or `failed()`"]
pub struct BulkReport {
    /// How many messages the caller asked to send.
    pub total: usize,
    /// 2Factor's id of each request, in order.
    pub request_ids: Vec<String>,
    /// The messages 2Factor accepted.
    pub accepted: Vec<BulkAccepted>,
    /// The messages 2Factor rejected (its `rejectedSamples`).
    pub rejected: Vec<BulkRejected>,
    /// The requests (of at most [`BULK_MAX_MESSAGES`](super::BULK_MAX_MESSAGES)) that did not fully go through: 2Factor's
    /// queue reported failed chunks, it left messages unaccounted for, or the request failed.
    pub failed_chunks: Vec<BulkChunkFailure>,
}

impl BulkReport {
    /// Whether every message was accepted: nothing rejected, no failed request, and as many
    /// accepted messages as were sent. Anything else is a partial success at best.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty()
            && self.failed_chunks.is_empty()
            && self.accepted.len() == self.total
    }

    /// What did not go through: each rejected message, then each request that did not fully go
    /// through. Empty exactly when [`BulkReport::is_complete`] is, unless 2Factor accepted
    /// fewer messages than it accounted for without saying why.
    pub fn failed(&self) -> impl Iterator<Item = BulkFailure<'_>> {
        self.rejected
            .iter()
            .map(BulkFailure::Rejected)
            .chain(self.failed_chunks.iter().map(BulkFailure::Chunk))
    }

    /// How many messages 2Factor did not confirm as accepted.
    pub fn unconfirmed(&self) -> usize {
        self.total.saturating_sub(self.accepted.len())
    }
}

/// One thing that did not go through in a bulk send, from [`BulkReport::failed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BulkFailure<'a> {
    /// A message 2Factor rejected.
    Rejected(&'a BulkRejected),
    /// A request that did not fully go through.
    Chunk(&'a BulkChunkFailure),
}

/// A request of a bulk send that did not fully go through.
///
/// Which of its messages are affected is known only as far as 2Factor says: `messages` is the
/// range the request carried, `unaccounted` how many of them 2Factor neither listed as
/// accepted nor as rejected. Messages it did list keep their entries in
/// [`BulkReport::accepted`] and [`BulkReport::rejected`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkChunkFailure {
    /// Which request: 0 for the first [`BULK_MAX_MESSAGES`](super::BULK_MAX_MESSAGES) messages, 1 for the next, ...
    pub chunk: usize,
    /// The messages the request carried, as indices into the caller's list.
    pub messages: std::ops::Range<usize>,
    /// How many of them 2Factor neither accepted nor rejected (all of them when the request
    /// itself failed).
    pub unaccounted: usize,
    /// Why, in words free of secrets: 2Factor's queue figures, the unaccounted messages, or the
    /// request's error.
    pub reason: String,
}

/// A message 2Factor accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkAccepted {
    /// Its index in the caller's list. 2Factor lists accepted messages without an index; they
    /// are matched to the input in order, which is only certain when every message of the
    /// request is accounted for (accepted plus rejected equals sent). Otherwise `None`.
    pub index: Option<usize>,
    /// 2Factor's id for the message (the `SessionId` of its delivery report).
    pub message_id: String,
    /// The recipient as 2Factor echoed it.
    pub to: Option<String>,
    /// The sender as 2Factor echoed it.
    pub from: Option<String>,
}

/// A message 2Factor rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkRejected {
    /// Its index in the caller's list (`None` if 2Factor gave none, or one out of range).
    pub index: Option<usize>,
    /// The phone as 2Factor echoed it.
    pub phone: Option<String>,
    /// Why.
    pub reason: String,
}
