//! After the verification: checking proofs and tokens (signature, expiry, revocation) and
//! revoking them, one token (logout) or every proof of a phone (sign out everywhere).

use super::PhoneVerifier;
use crate::phone::PhoneNumber;
use crate::store::{Revocation, StoreError};
use crate::token::{PhoneProof, TokenError};

impl PhoneVerifier {
    /// Checks a token: its signature, key, expiry, and revocation as this process knows it
    /// (see [`refresh_revocations`](Self::refresh_revocations)).
    pub fn authenticate(&self, token: &str) -> Result<PhoneProof, TokenError> {
        self.authenticate_bytes(token.as_bytes())
    }

    /// [`authenticate`](Self::authenticate) on the bytes of a request's token.
    #[inline]
    pub(crate) fn authenticate_bytes(&self, token: &[u8]) -> Result<PhoneProof, TokenError> {
        // One clock reading for the whole check: the guard runs this on every request.
        let proof = self
            .inner
            .keys
            .verify_bytes(token, self.inner.clock.now())?;
        self.check_revoked(&proof)?;
        Ok(proof)
    }

    /// Checks a proof from elsewhere (the app's session): expiry and revocation.
    pub fn check_proof(&self, proof: &PhoneProof) -> Result<(), TokenError> {
        if proof.is_expired(self.inner.clock.now()) {
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

    /// The signed token carrying `proof`.
    pub fn sign(&self, proof: &PhoneProof) -> String {
        self.inner.keys.sign(proof)
    }

    /// Whether this process's copy of the revocations is recent enough to check proofs against
    /// without touching the store (the guard's fast path; see the `revocation` module docs).
    #[inline]
    pub fn revocations_current(&self) -> bool {
        self.inner.revocations.is_current()
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
