//! After the verification: checking proofs and tokens (signature, expiry, revocation) and
//! revoking them, one token (logout) or every proof of a phone (sign out everywhere).

use super::PhoneVerifier;
use crate::clock::system_millis;
use crate::phone::PhoneNumber;
use crate::store::{Revocation, StoreError};
use crate::token::{PhoneProof, TokenError};

/// One reading of the time for a guard check ([`PhoneVerifier::check_time`]), Unix milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckTime {
    /// The system clock: what the revocations' freshness is measured in.
    pub(crate) system_ms: u64,
    /// The engine's clock: what expiry and freshness of proofs are measured in.
    pub(crate) engine_ms: u64,
}

impl PhoneVerifier {
    /// Checks a token: its signature, key, expiry, and revocation as this process knows it
    /// (see [`refresh_revocations`](Self::refresh_revocations)).
    pub fn authenticate(&self, token: &str) -> Result<PhoneProof, TokenError> {
        self.authenticate_bytes(token.as_bytes(), self.inner.clock.now_millis())
    }

    /// [`authenticate`](Self::authenticate) on the bytes of a request's token, at `now_ms` (the
    /// engine's clock, Unix milliseconds).
    #[inline]
    pub(crate) fn authenticate_bytes(
        &self,
        token: &[u8],
        now_ms: u64,
    ) -> Result<PhoneProof, TokenError> {
        let proof = self.inner.keys.verify_bytes(token, now_ms)?;
        self.check_revoked(&proof)?;
        Ok(proof)
    }

    /// Checks a proof from elsewhere (the app's session): expiry and revocation.
    pub fn check_proof(&self, proof: &PhoneProof) -> Result<(), TokenError> {
        self.check_proof_at(proof, self.inner.clock.now_millis())
    }

    /// [`check_proof`](Self::check_proof) at `now_ms` (the engine's clock).
    pub(crate) fn check_proof_at(&self, proof: &PhoneProof, now_ms: u64) -> Result<(), TokenError> {
        if proof.is_expired_at(now_ms) {
            return Err(TokenError::Expired);
        }
        self.check_revoked(proof)
    }

    #[inline]
    fn check_revoked(&self, proof: &PhoneProof) -> Result<(), TokenError> {
        if self.inner.revocations.is_revoked(proof) {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }

    /// The time for one guard check, read once: the system clock's, which the revocations'
    /// freshness is measured in, and the engine's, which expiry is; one reading serves both
    /// unless the app gave the engine a clock of its own (tests do).
    #[inline]
    pub(crate) fn check_time(&self) -> CheckTime {
        let system_ms = system_millis();
        CheckTime {
            system_ms,
            engine_ms: if self.inner.system_clock {
                system_ms
            } else {
                self.inner.clock.now_millis()
            },
        }
    }

    /// The signed token carrying `proof`.
    pub fn sign(&self, proof: &PhoneProof) -> String {
        self.inner.keys.sign(proof)
    }

    /// Whether this process's copy of the revocations is recent enough to check proofs against
    /// without touching the store (the guard's fast path; see the `revocation` module docs).
    pub fn revocations_current(&self) -> bool {
        self.revocations_current_at(system_millis())
    }

    /// [`revocations_current`](Self::revocations_current) at `system_ms` (the system clock,
    /// Unix milliseconds).
    #[inline]
    pub(crate) fn revocations_current_at(&self, system_ms: u64) -> bool {
        self.inner.revocations.is_current(system_ms)
    }

    /// Brings this process's copy of the revocations up to date when it is due: cheap when it
    /// is recent, one store call when not. An error means the copy is too old to trust and the
    /// store could not be read: refuse proofs until it can (fail closed).
    pub async fn refresh_revocations(&self) -> Result<(), StoreError> {
        self.inner
            .revocations
            .ensure_fresh(&*self.inner.store, self.inner.clock.now_millis())
            .await
    }

    /// Revokes the token `proof` was read from (logout): at once in this process, and for
    /// every instance sharing the store within a second. A proof that came from no token
    /// (the app's session) has nothing to revoke here: end the session instead.
    pub async fn revoke(&self, proof: &PhoneProof) -> Result<(), StoreError> {
        let Some(id) = proof.token_id() else {
            return Ok(());
        };
        let revocation = Revocation::Token {
            id: id.to_bytes(),
            expires_at_ms: proof.expires_at_unix().saturating_mul(1000),
        };
        self.record_revocation(revocation).await
    }

    /// Revokes every proof issued for `phone` until now, tokens and session proofs alike
    /// ("sign out everywhere"). Proofs issued afterwards are not affected.
    pub async fn sign_out_everywhere(&self, phone: PhoneNumber) -> Result<(), StoreError> {
        let now = self.inner.clock.now_millis();
        // Every proof verified until now expires within one token lifetime (and a second of
        // rounding to whole seconds).
        let lifetime = crate::store::millis(self.inner.policy.token_ttl()).saturating_add(1000);
        let revocation = Revocation::Phone {
            phone,
            before_ms: now,
            expires_at_ms: now.saturating_add(lifetime),
        };
        self.record_revocation(revocation).await
    }

    async fn record_revocation(&self, revocation: Revocation) -> Result<(), StoreError> {
        self.inner.revocations.add(&revocation);
        let result = self
            .inner
            .store
            .revoke(&revocation, self.inner.clock.now_millis())
            .await;
        tracing::info!(
            outcome = if result.is_ok() {
                "revoked"
            } else {
                "revoked_locally"
            },
            "twofactor: proof revoked"
        );
        result
    }

    /// How many revocations this process holds (tokens, phones); for tests and metrics.
    pub fn revocation_counts(&self) -> (usize, usize) {
        self.inner.revocations.len()
    }
}
