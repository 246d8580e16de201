//! [`Rejection`]: why a [`VerifiedPhone`](crate::verified_phone::VerifiedPhone) or the
//! [`TwoFactor`](crate::handle::TwoFactor) handle could not be extracted, as actix answers it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use twofactor_core::web::GuardRejection;

use crate::convert::into_response;

/// Why [`VerifiedPhone`](crate::verified_phone::VerifiedPhone) (or the [`TwoFactor`](crate::handle::TwoFactor) handle) was refused; as an actix error it answers
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
