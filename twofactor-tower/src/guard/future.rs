use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::hooks::BoxFuture;

pin_project! {
    /// The guard's response future: the inner service's (the fast path: no allocation), the
    /// refusal ready at once, or — when the session must be read or the revocations refreshed —
    /// a boxed future doing that first.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Inner { #[pin] future: F },
        Ready { response: Option<Response<B>> },
        Checking { future: BoxFuture<'static, Result<Response<B>, E>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(super) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(super) fn ready(response: Response<B>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }

    pub(super) fn checking(future: BoxFuture<'static, Result<Response<B>, E>>) -> Self {
        Self {
            kind: Kind::Checking { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Checking { future } => future.as_mut().poll(cx),
            KindProj::Ready { response } => {
                // Polled again after completion is a caller bug; answer an empty 401 rather
                // than panic.
                let response = response.take().unwrap_or_else(|| {
                    let mut r = Response::new(B::default());
                    *r.status_mut() = http::StatusCode::UNAUTHORIZED;
                    r
                });
                Poll::Ready(Ok(response))
            }
        }
    }
}
