use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;
use twofactor_core::web::adapter::misconfigured;

use super::ResponseFuture;
use crate::handle::{MISSING_LAYER, TwoFactor};
use crate::response::into_http;
use crate::verified_phone::VerifiedPhone;

/// The service of [`RequireVerifiedPhoneLayer`](super::RequireVerifiedPhoneLayer).
#[derive(Debug, Clone)]
pub struct RequireVerifiedPhone<S> {
    inner: S,
    max_age: Option<Duration>,
}

impl<S> RequireVerifiedPhone<S> {
    pub(super) fn new(inner: S, max_age: Option<Duration>) -> Self {
        Self { inner, max_age }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireVerifiedPhone<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<Bytes> + Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let Some(tf) = req.extensions().get::<TwoFactor>() else {
            return ResponseFuture::ready(into_http(misconfigured(
                "tower-missing-layer",
                MISSING_LAYER,
            )));
        };
        let contract = tf.contract();
        // The fast path: everything is in memory.
        if let Some(checked) = contract.check_now(contract.token(req.headers()), self.max_age) {
            return match checked {
                Ok(proof) => {
                    req.extensions_mut().insert(VerifiedPhone::from(proof));
                    ResponseFuture::inner(self.inner.call(req))
                }
                Err(rejection) => {
                    tracing::debug!(
                        outcome = rejection.as_str(),
                        "twofactor guard refused a request"
                    );
                    ResponseFuture::ready(into_http(rejection.response()))
                }
            };
        }
        // The inner service was polled ready; take it into the future and leave a clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (tf, max_age) = (tf.clone(), self.max_age);
        ResponseFuture::checking(Box::pin(async move {
            let (parts, body) = req.into_parts();
            let checked = tf.authenticate_parts(&parts, max_age).await;
            let mut req = Request::from_parts(parts, body);
            match checked {
                Ok(proof) => {
                    req.extensions_mut().insert(VerifiedPhone::from(proof));
                    inner.call(req).await
                }
                Err(rejection) => {
                    tracing::debug!(
                        outcome = rejection.as_str(),
                        "twofactor guard refused a request"
                    );
                    Ok(into_http(rejection.response()))
                }
            }
        }))
    }
}
