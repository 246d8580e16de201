//! [`VerifiedPhone`]: the proof a request carries, as the type handlers and hooks see. Its
//! extractor (`impl FromRequest`) is in `extract.rs`, apart from the type on purpose: the hooks
//! take a `VerifiedPhone` and the handle calls the hooks, so the type must not need the handle.

use std::ops::Deref;

use twofactor_core::token::PhoneProof;

/// The proof that the request's user verified a phone number: a handler argument that answers
/// the contract's 401 when the request carries no valid proof.
///
/// Behind [`RequireVerifiedPhone`](crate::guard::RequireVerifiedPhone) it is the proof the guard
/// already checked. Elsewhere it checks the request itself (the app's session in session mode,
/// else the bearer token, else the cookie) with the [`TwoFactor`](crate::handle::TwoFactor) that the app-level
/// [`middleware`](crate::handle::TwoFactor::middleware) put in the request. If the middleware is missing the
/// request gets the contract's opaque 500 and an error is logged naming the fix.
///
/// `Option<VerifiedPhone>` gives `None` instead of refusing, for routes that serve both.
///
/// It is `serde`-serialisable (transparently, as the proof), so an app can keep it in its own
/// session, and it dereferences to [`PhoneProof`] for the phone, when it was verified, when it
/// expires and to whom it is bound.
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
