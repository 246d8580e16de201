//! A store that is down: every step fails, as an unreachable backend's would. For testing that
//! an app (or a store wrapper) fails closed: no send without a record, no guess without a
//! count, no proof trusted without a fresh revocation list.

use std::net::IpAddr;

use async_trait::async_trait;

use super::{
    AttemptDecision, AttemptLimits, AttemptResult, ConversionFigures, Country, FinishOutcome,
    Pending, Revocation, RevocationBatch, RevocationCursor, SendAttempt, SendDecision, StoreError,
    VerificationStore,
};
use crate::phone::PhoneNumber;

/// A [`VerificationStore`] whose every step answers [`StoreError::Timeout`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UnavailableStore;

#[async_trait]
impl VerificationStore for UnavailableStore {
    async fn reserve_send(&self, _: &SendAttempt) -> Result<SendDecision, StoreError> {
        Err(StoreError::Timeout)
    }
    async fn release_send(&self, _: &SendAttempt) -> Result<(), StoreError> {
        Err(StoreError::Timeout)
    }
    async fn put_pending(&self, _: PhoneNumber, _: &Pending, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Timeout)
    }
    async fn begin_attempt(
        &self,
        _: PhoneNumber,
        _: Option<IpAddr>,
        _: u64,
        _: &AttemptLimits,
    ) -> Result<AttemptDecision, StoreError> {
        Err(StoreError::Timeout)
    }
    async fn finish_attempt(
        &self,
        _: PhoneNumber,
        _: u64,
        _: AttemptResult,
        _: u64,
    ) -> Result<FinishOutcome, StoreError> {
        Err(StoreError::Timeout)
    }
    async fn record_verified(&self, _: Country, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Timeout)
    }
    async fn conversion(&self, _: Country, _: u64) -> Result<ConversionFigures, StoreError> {
        Err(StoreError::Timeout)
    }
    async fn revoke(&self, _: &Revocation, _: u64) -> Result<(), StoreError> {
        Err(StoreError::Timeout)
    }
    async fn revocations(
        &self,
        _: &RevocationCursor,
        _: u64,
    ) -> Result<RevocationBatch, StoreError> {
        Err(StoreError::Timeout)
    }
}
