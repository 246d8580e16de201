use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use http_body_util::{Either, Full};
use pin_project_lite::pin_project;

pin_project! {
    /// The guard's response future: the inner service's, or the 401 ready at once. An enum
    /// rather than a boxed future, so the guard allocates nothing per request.
    #[project = Proj]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<Full<Bytes>>> },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(super) fn rejected(response: Response<Full<Bytes>>) -> Self {
        Self {
            kind: Kind::Rejected {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<Either<B, Full<Bytes>>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx).map_ok(|r| r.map(Either::Left)),
            KindProj::Rejected { response } => {
                // Polled again after completion is a caller bug; answer with an empty 401
                // rather than panic.
                let response = response.take().unwrap_or_else(|| {
                    let mut r = Response::new(Full::default());
                    *r.status_mut() = http::StatusCode::UNAUTHORIZED;
                    r
                });
                Poll::Ready(Ok(response.map(Either::Right)))
            }
        }
    }
}
