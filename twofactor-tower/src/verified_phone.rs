//! [`VerifiedPhone`]: the proof a request carries, as the type handlers and hooks see. Its
//! extractors (`FromRequestParts`, `OptionalFromRequestParts`) are in `extract.rs`, apart from
//! the type on purpose: the hooks take a `VerifiedPhone` and the handle calls the hooks, so the
//! type must not need the handle.

use std::ops::Deref;

use twofactor_core::token::PhoneProof;

/// The proof that the request's user verified a phone number: `async fn h(phone: VerifiedPhone)`.
///
/// Behind [`RequireVerifiedPhoneLayer`](crate::guard::RequireVerifiedPhoneLayer) it is the proof the
/// guard already checked; elsewhere it checks the request itself (the app's session in session
/// mode, else the bearer token, else the cookie), with the [`TwoFactor`](crate::handle::TwoFactor) that the app-level
/// [`layer`](crate::handle::TwoFactor::layer) put in the request: no state to pass, no `FromRef` to write.
/// A request without a valid proof is answered with the contract's 401; take
/// `Option<VerifiedPhone>` to handle that yourself.
///
/// If the app-level layer is missing, there is nothing to check a proof with: the request is
/// answered with the contract's opaque 500 and an error is logged naming the fix (this cannot
/// be a compile error: axum extractors see the request, not the router).
///
/// It is `serde`-serialisable (transparently, as the proof), so an app can keep it in its own
/// session or cache, and it dereferences to [`PhoneProof`] for the phone, when it was verified,
/// when it expires and to whom it is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct VerifiedPhone(PhoneProof);

impl VerifiedPhone {
    /// The proof.
    pub fn proof(&self) -> &PhoneProof {
        &self.0
    }

    /// The proof, by value.
    pub fn into_proof(self) -> PhoneProof {
        self.0
    }
}

impl From<PhoneProof> for VerifiedPhone {
    fn from(proof: PhoneProof) -> Self {
        Self(proof)
    }
}

impl Deref for VerifiedPhone {
    type Target = PhoneProof;

    fn deref(&self) -> &PhoneProof {
        &self.0
    }
}
