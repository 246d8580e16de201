//! [`VerifiedPhone`]: the verified phone of a request, as a handler argument.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::{Either, Ready, ready};
use twofactor_core::token::PhoneProof;
use twofactor_core::web::GuardRejection;

use crate::convert::into_response;
use crate::handle::TwoFactor;
use crate::hooks::LocalBoxFuture;

/// The proof that the request's user verified a phone number: a handler argument that answers
/// the contract's 401 when the request carries no valid proof.
///
/// Behind [`RequireVerifiedPhone`](crate::RequireVerifiedPhone) it is the proof the guard
/// already checked. Elsewhere it checks the request itself (the app's session in session mode,
/// else the bearer token, else the cookie) with the [`TwoFactor`] that the app-level
/// [`middleware`](TwoFactor::middleware) put in the request. If the middleware is missing the
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

impl FromRequest for VerifiedPhone {
    type Error = Rejection;
    type Future =
        Either<Ready<Result<Self, Rejection>>, LocalBoxFuture<'static, Result<Self, Rejection>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(phone) = req.extensions().get::<VerifiedPhone>() {
            return Either::Left(ready(Ok(*phone)));
        }
        let Some(tf) = TwoFactor::of(req) else {
            return Either::Left(ready(Err(Rejection(GuardRejection::Misconfigured))));
        };
        let contract = tf.contract();
        if contract.can_check_now() {
            let checked = contract.check(None, tf.token(req), None);
            return Either::Left(ready(checked.map(Self).map_err(Rejection)));
        }
        let req = req.clone();
        Either::Right(Box::pin(async move {
            tf.authenticate_request(&req, None)
                .await
                .map(Self)
                .map_err(Rejection)
        }))
    }
}

/// Why [`VerifiedPhone`] (or the [`TwoFactor`] handle) was refused; as an actix error it answers
/// with the contract's response: 401, 503 when proofs cannot be checked right now, the opaque
/// 500 of a missing middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct Rejection(pub(crate) GuardRejection);

impl Rejection {
    /// Why.
    pub fn reason(&self) -> GuardRejection {
        self.0
    }
}

impl From<GuardRejection> for Rejection {
    fn from(rejection: GuardRejection) -> Self {
        Self(rejection)
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code().status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        into_response(self.0.response())
    }
}
