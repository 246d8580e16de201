//! Revoked proofs, as this process knows them: what lets logout and "sign out everywhere" take
//! effect without a store round trip on every guarded request.
//!
//! The store holds the truth ([`VerificationStore::revoke`], [`VerificationStore::revocations`]);
//! each engine keeps a copy in memory and refreshes it from the store:
//!
//! - a revocation made by this process enters the copy at once, then the store;
//! - a guarded request looks only at the copy, as long as it is recent: the first request that
//!   finds it older than [`REFRESH_AFTER`] (200 ms) refreshes it (one store call, which other
//!   requests do not wait for); a request that finds it older than [`MAX_STALENESS`] (900 ms)
//!   waits for a refresh, and if the store cannot be read, is refused (fail closed: a proof
//!   revoked elsewhere must not pass just because the store is down).
//!
//! So a revocation answered on one instance is seen by every instance sharing the store for any
//! request arriving more than a second later: a refresh that started after the revocation was
//! written has read it, and no request is checked against a copy from before that.
//!
//! Entries leave the copy (and the store) when the proofs they revoke have expired anyway.
//!
//! [`VerificationStore::revoke`]: crate::store::VerificationStore::revoke
//! [`VerificationStore::revocations`]: crate::store::VerificationStore::revocations

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::system_millis;
use crate::phone::PhoneNumber;
use crate::store::{Revocation, RevocationCursor, StoreError, VerificationStore};
use crate::token::{PhoneProof, TokenId};

/// A copy younger than this is used as it is.
pub const REFRESH_AFTER: Duration = Duration::from_millis(200);
/// A copy older than this is not used: the request waits for a refresh.
pub const MAX_STALENESS: Duration = Duration::from_millis(900);

#[derive(Debug, Default)]
struct Revoked {
    /// Token id → when the token expires (Unix ms).
    tokens: HashMap<TokenId, u64>,
    /// Phone → (proofs verified at or before this instant are revoked, entry expiry), Unix ms.
    phones: HashMap<PhoneNumber, (u64, u64)>,
}

impl Revoked {
    fn add(&mut self, revocation: &Revocation) {
        match *revocation {
            Revocation::Token { id, expires_at_ms } => {
                self.tokens.insert(TokenId::from_bytes(id), expires_at_ms);
            }
            Revocation::Phone {
                phone,
                before_ms,
                expires_at_ms,
            } => {
                let entry = self
                    .phones
                    .entry(phone)
                    .or_insert((before_ms, expires_at_ms));
                entry.0 = entry.0.max(before_ms);
                entry.1 = entry.1.max(expires_at_ms);
            }
        }
    }

    fn prune(&mut self, now_ms: u64) {
        self.tokens.retain(|_, expires| *expires > now_ms);
        self.phones.retain(|_, (_, expires)| *expires > now_ms);
    }

    fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.phones.is_empty()
    }
}

/// The in-process copy; see the module docs.
pub(crate) struct RevocationList {
    revoked: RwLock<Revoked>,
    /// Whether anything at all is revoked: the common case skips the lock.
    any: AtomicBool,
    /// The cursor, behind the lock that makes one refresh run at a time.
    refresh: tokio::sync::Mutex<RevocationCursor>,
    /// When the last successful refresh started, by the system clock (Unix ms); `u64::MAX`:
    /// never. The system clock rather than a monotonic one so that a guard check reads the
    /// time once, for this and for the proof's expiry; a clock set back makes the copy look
    /// unusable until the next refresh, never fresher than it is.
    refreshed_at: AtomicU64,
}

impl std::fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let revoked = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("RevocationList")
            .field("tokens", &revoked.tokens.len())
            .field("phones", &revoked.phones.len())
            .finish_non_exhaustive()
    }
}

const NEVER: u64 = u64::MAX;

impl RevocationList {
    pub(crate) fn new() -> Self {
        Self {
            revoked: RwLock::default(),
            any: AtomicBool::new(false),
            refresh: tokio::sync::Mutex::new(RevocationCursor::start()),
            refreshed_at: AtomicU64::new(NEVER),
        }
    }

    /// How old the copy is at `system_ms` (the system clock, Unix ms); `None` if it was never
    /// loaded, or if the clock has been set back since.
    #[inline]
    fn age(&self, system_ms: u64) -> Option<Duration> {
        match self.refreshed_at.load(Ordering::Acquire) {
            NEVER => None,
            at => system_ms.checked_sub(at).map(Duration::from_millis),
        }
    }

    /// Whether the copy can be used at `system_ms` without touching the store (the guard's
    /// fast path).
    #[inline]
    pub(crate) fn is_current(&self, system_ms: u64) -> bool {
        self.age(system_ms).is_some_and(|age| age < REFRESH_AFTER)
    }

    /// Makes the copy usable: refreshes it when due, waits for a refresh when it is too old to
    /// be trusted (see the module docs).
    pub(crate) async fn ensure_fresh(
        &self,
        store: &dyn VerificationStore,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let usable = |age: Option<Duration>| age.is_some_and(|a| a < MAX_STALENESS);
        match self.age(system_millis()) {
            Some(age) if age < REFRESH_AFTER => return Ok(()),
            age if usable(age) => {
                // Due, not yet stale: one request refreshes, the others go on.
                if let Ok(mut cursor) = self.refresh.try_lock()
                    && let Err(e) = self.refresh_locked(&mut cursor, store, now_ms).await
                {
                    tracing::warn!(error = %e, "twofactor: could not refresh the revoked tokens");
                }
                return Ok(());
            }
            _ => {}
        }
        let mut cursor = self.refresh.lock().await;
        // Someone else may have refreshed while we waited.
        if usable(self.age(system_millis())) {
            return Ok(());
        }
        self.refresh_locked(&mut cursor, store, now_ms).await
    }

    async fn refresh_locked(
        &self,
        cursor: &mut RevocationCursor,
        store: &dyn VerificationStore,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let started = system_millis();
        let batch = store.revocations(cursor, now_ms).await?;
        {
            let mut revoked = self.revoked.write().unwrap_or_else(|e| e.into_inner());
            for entry in &batch.entries {
                revoked.add(entry);
            }
            revoked.prune(now_ms);
            self.any.store(!revoked.is_empty(), Ordering::Release);
        }
        *cursor = batch.cursor;
        self.refreshed_at.store(started, Ordering::Release);
        Ok(())
    }

    /// Enters a revocation into the copy (before it is written to the store).
    pub(crate) fn add(&self, revocation: &Revocation) {
        let mut revoked = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        revoked.add(revocation);
        self.any.store(true, Ordering::Release);
    }

    /// Whether `proof` is revoked, as far as the copy knows.
    #[inline]
    pub(crate) fn is_revoked(&self, proof: &PhoneProof) -> bool {
        // Nothing revoked (the usual case) is one atomic load, inlined into the guard; the
        // lookup is out of line.
        self.any.load(Ordering::Acquire) && self.lookup(proof)
    }

    #[inline(never)]
    fn lookup(&self, proof: &PhoneProof) -> bool {
        let revoked = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        proof
            .token_id()
            .is_some_and(|id| revoked.tokens.contains_key(&id))
            || revoked
                .phones
                .get(&proof.phone())
                .is_some_and(|(before, _)| proof.verified_at_millis() <= *before)
    }

    /// How many entries the copy holds (tokens, phones); for tests and metrics.
    pub(crate) fn len(&self) -> (usize, usize) {
        let revoked = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        (revoked.tokens.len(), revoked.phones.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MokaStore;

    #[tokio::test]
    async fn the_copy_is_current_for_a_while_after_a_refresh_and_never_when_the_clock_went_back() {
        let list = RevocationList::new();
        assert!(!list.is_current(system_millis()), "never loaded");
        let before = system_millis();
        list.ensure_fresh(&MokaStore::default(), before)
            .await
            .unwrap();
        let at = list.refreshed_at.load(Ordering::Acquire);
        assert!(at >= before);
        assert!(list.is_current(at));
        assert!(list.is_current(at + 199));
        assert!(!list.is_current(at + 200), "due for a refresh");
        // A clock set back: the copy's age is unknown, so it is not used as it is.
        assert!(!list.is_current(at - 1));
        assert_eq!(list.age(at - 1), None);
    }
}
