//! [`VerifiedPhone`]: the verified phone of a request, as a handler argument.

use std::ops::Deref;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use twofactor_core::token::PhoneProof;
use twofactor_core::web::GuardRejection;

use crate::handle::TwoFactor;
use crate::response::into_axum;

/// The proof that the request's user verified a phone number: `async fn h(phone: VerifiedPhone)`.
///
/// Behind [`RequireVerifiedPhoneLayer`](crate::RequireVerifiedPhoneLayer) it is the proof the
/// guard already checked; elsewhere it checks the request itself (the app's session in session
/// mode, else the bearer token, else the cookie), with the [`TwoFactor`] that the app-level
/// [`layer`](TwoFactor::layer) put in the request: no state to pass, no `FromRef` to write.
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

/// Why [`VerifiedPhone`] was refused: the contract's answer (401, or 503 when proofs cannot be
/// checked right now, or the opaque 500 of a missing layer).
#[derive(Debug)]
pub struct VerifiedPhoneRejection(Response);

impl IntoResponse for VerifiedPhoneRejection {
    fn into_response(self) -> Response {
        self.0
    }
}

async fn extract(parts: &Parts) -> Result<VerifiedPhone, Result<GuardRejection, Response>> {
    if let Some(phone) = parts.extensions.get::<VerifiedPhone>() {
        return Ok(*phone);
    }
    let tf = TwoFactor::from_parts(parts).map_err(Err)?;
    let contract = tf.contract();
    if contract.can_check_now() {
        // Without a guard in front, this extractor is the guard: the same in-memory fast path.
        return contract
            .check(None, contract.token(&parts.headers), None)
            .map(VerifiedPhone)
            .map_err(Ok);
    }
    tf.authenticate_parts(parts, None)
        .await
        .map(VerifiedPhone)
        .map_err(Ok)
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedPhone {
    type Rejection = VerifiedPhoneRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        extract(parts).await.map_err(|e| {
            VerifiedPhoneRejection(match e {
                Ok(rejection) => into_axum(rejection.response()),
                Err(response) => response,
            })
        })
    }
}

/// `Option<VerifiedPhone>`: `None` for a request without a valid proof (also when proofs cannot
/// be checked right now: unverified is the safe answer); a missing app-level layer is still the
/// opaque 500, so that it is noticed.
impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedPhone {
    type Rejection = VerifiedPhoneRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match extract(parts).await {
            Ok(phone) => Ok(Some(phone)),
            Err(Ok(GuardRejection::Misconfigured)) => Err(VerifiedPhoneRejection(into_axum(
                GuardRejection::Misconfigured.response(),
            ))),
            Err(Ok(_)) => Ok(None),
            Err(Err(response)) => Err(VerifiedPhoneRejection(response)),
        }
    }
}
