use std::task::{Context, Poll};

use http::Request;
use tower_service::Service;

use crate::handle::TwoFactor;

/// The service of [`TwoFactorManagerLayer`](super::TwoFactorManagerLayer): adds the handle to
/// the request's extensions and calls the inner service; the inner future is returned as it is.
#[derive(Debug, Clone)]
pub struct TwoFactorManager<S> {
    inner: S,
    tf: TwoFactor,
}

impl<S> TwoFactorManager<S> {
    pub(super) fn new(inner: S, tf: TwoFactor) -> Self {
        Self { inner, tf }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, B> Service<Request<B>> for TwoFactorManager<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.tf.clone());
        self.inner.call(req)
    }
}
