use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use tower_service::Service;
use twofactor_core::web::TwoFactor;

use super::ResponseFuture;

/// The service of [`RequireVerifiedPhone`](super::RequireVerifiedPhone).
#[derive(Debug, Clone)]
pub struct RequireVerifiedPhoneService<S> {
    inner: S,
    tf: TwoFactor,
    max_age: Option<Duration>,
}

impl<S> RequireVerifiedPhoneService<S> {
    pub(super) fn new(inner: S, tf: TwoFactor, max_age: Option<Duration>) -> Self {
        Self { inner, tf, max_age }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireVerifiedPhoneService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<Either<ResBody, Full<Bytes>>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        match self.tf.authenticate(req.headers(), self.max_age) {
            Ok(proof) => {
                req.extensions_mut().insert(proof);
                ResponseFuture::inner(self.inner.call(req))
            }
            Err(rejection) => {
                let contract = rejection.response();
                tracing::debug!(outcome = %rejection, "twofactor guard refused a request");
                let mut response = Response::new(Full::new(contract.body));
                *response.status_mut() = contract.status;
                *response.headers_mut() = contract.headers;
                ResponseFuture::rejected(response)
            }
        }
    }
}
