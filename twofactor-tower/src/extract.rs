//! The [`VerifiedPhone`] extractor.

use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use twofactor_core::web::{GuardRejection, TwoFactor};

use crate::response::Contract;

/// The verified phone of the request, for handlers: `async fn h(phone: VerifiedPhone)`.
///
/// It reuses the proof that [`RequireVerifiedPhone`](crate::RequireVerifiedPhone) left in the
/// request extensions; on a route without the guard it checks the token itself (bearer, then
/// cookie) with the [`TwoFactor`] taken from your app state through [`FromRef`]. A request
/// without a valid token is answered with the contract's 401; take `Option<VerifiedPhone>` to
/// handle that yourself.
///
/// The app state must provide the [`TwoFactor`]: use it as the state (`.with_state(tf)`) or
/// implement `FromRef<AppState> for TwoFactor` (or `#[derive(FromRef)]`). If it does not, the
/// compiler says ``the trait `FromRef<AppState>` is not implemented for `TwoFactor` ``.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedPhone(pub twofactor_core::VerifiedPhone);

impl VerifiedPhone {
    /// The core proof.
    pub fn into_inner(self) -> twofactor_core::VerifiedPhone {
        self.0
    }
}

impl Deref for VerifiedPhone {
    type Target = twofactor_core::VerifiedPhone;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The rejection of [`VerifiedPhone`]: the contract's 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingVerification(pub GuardRejection);

impl IntoResponse for MissingVerification {
    fn into_response(self) -> Response {
        Contract(self.0.response()).into_response()
    }
}

fn extract<S>(parts: &Parts, state: &S) -> Result<VerifiedPhone, GuardRejection>
where
    TwoFactor: FromRef<S>,
{
    if let Some(proof) = parts.extensions.get::<twofactor_core::VerifiedPhone>() {
        return Ok(VerifiedPhone(*proof));
    }
    TwoFactor::from_ref(state)
        .authenticate(&parts.headers, None)
        .map(VerifiedPhone)
}

impl<S> FromRequestParts<S> for VerifiedPhone
where
    TwoFactor: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = MissingVerification;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        extract(parts, state).map_err(MissingVerification)
    }
}

impl<S> OptionalFromRequestParts<S> for VerifiedPhone
where
    TwoFactor: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(extract(parts, state).ok())
    }
}
