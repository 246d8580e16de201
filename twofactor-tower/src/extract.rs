//! The [`VerifiedPhone`] extractors: the verified phone of a request, as a handler argument.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use twofactor_core::web::GuardRejection;

use crate::handle::TwoFactor;
use crate::response::into_axum;
use crate::verified_phone::VerifiedPhone;

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
    // Without a guard in front, this extractor is the guard: the same in-memory fast path.
    if let Some(checked) = contract.check_now(contract.token(&parts.headers), None) {
        return checked.map(VerifiedPhone::from).map_err(Ok);
    }
    tf.authenticate_parts(parts, None)
        .await
        .map(VerifiedPhone::from)
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
