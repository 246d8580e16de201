//! The [`VerifiedPhone`] extractor: the verified phone of a request, as a handler argument.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{Either, LocalBoxFuture, Ready, ready};
use twofactor_core::web::GuardRejection;

use crate::handle::TwoFactor;
use crate::rejection::Rejection;
use crate::verified_phone::VerifiedPhone;

impl FromRequest for VerifiedPhone {
    type Error = Rejection;
    type Future =
        Either<Ready<Result<Self, Rejection>>, LocalBoxFuture<'static, Result<Self, Rejection>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // One borrow of the extensions for the whole fast path, and the handle used in place:
        // this runs on every request to a guarded handler.
        let tf = {
            let extensions = req.extensions();
            if let Some(phone) = extensions.get::<VerifiedPhone>() {
                return Either::Left(ready(Ok(*phone)));
            }
            let Some(tf) = extensions.get::<TwoFactor>() else {
                TwoFactor::report_missing();
                return Either::Left(ready(Err(Rejection(GuardRejection::Misconfigured))));
            };
            if let Some(checked) = tf.contract().check_now(tf.token(req), None) {
                return Either::Left(ready(checked.map(VerifiedPhone::from).map_err(Rejection)));
            }
            tf.clone()
        };
        let req = req.clone();
        Either::Right(Box::pin(async move {
            tf.authenticate_request(&req, None)
                .await
                .map(VerifiedPhone::from)
                .map_err(Rejection)
        }))
    }
}
