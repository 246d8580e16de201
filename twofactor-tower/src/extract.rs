//! The [`VerifiedPhone`] extractors: the verified phone of a request, as a handler argument.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

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

/// Why the check refused: the guard's answer, or the response of a missing layer (the opaque
/// 500, already logged).
type Refusal = Result<GuardRejection, Response>;

/// The proof of a request, checked in memory when it can be: the proof a guard in front already
/// checked, or the token against the in-process revocations (the fast path, no I/O). `Err`
/// with the handle when the check must wait for something (the app's session, or a refresh of
/// the revocations).
#[inline]
fn check_now(parts: &Parts) -> Result<Result<VerifiedPhone, Refusal>, &TwoFactor> {
    if let Some(phone) = parts.extensions.get::<VerifiedPhone>() {
        return Ok(Ok(*phone));
    }
    let tf = match TwoFactor::from_parts(parts) {
        Ok(tf) => tf,
        Err(response) => return Ok(Err(Err(response))),
    };
    let contract = tf.contract();
    // Without a guard in front, this extractor is the guard: the same in-memory fast path.
    match contract.check_now(contract.token(&parts.headers), None) {
        Some(checked) => Ok(checked.map(VerifiedPhone::from).map_err(Ok)),
        None => Err(tf),
    }
}

/// The check that waits: the app's session, the revocations brought up to date.
async fn check_later(tf: &TwoFactor, parts: &Parts) -> Result<VerifiedPhone, Refusal> {
    tf.authenticate_parts(parts, None)
        .await
        .map(VerifiedPhone::from)
        .map_err(Ok)
}

/// The extractors' future: the answer itself when the fast path settled it (most requests),
/// the waiting check boxed otherwise. The fast path thus runs when axum calls the extractor and
/// does not go through a state machine that also holds the slow path (about 250 instructions
/// fewer per guarded request; BENCHMARKS.md, parts a and b).
enum Extracting<'a, T> {
    Ready(Ready<T>),
    Waiting(Pin<Box<dyn Future<Output = T> + Send + 'a>>),
}

impl<'a, T> Extracting<'a, T> {
    /// Settles `parts` now if it can, else boxes the wait; `map` turns the outcome into the
    /// extractor's.
    #[inline]
    fn new<M>(parts: &'a Parts, map: M) -> Self
    where
        M: FnOnce(Result<VerifiedPhone, Refusal>) -> T + Send + 'a,
        T: Send + 'a,
    {
        match check_now(parts) {
            Ok(checked) => Self::Ready(ready(map(checked))),
            Err(tf) => Self::Waiting(Box::pin(async move { map(check_later(tf, parts).await) })),
        }
    }
}

impl<T> Future for Extracting<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.get_mut() {
            Self::Ready(value) => Pin::new(value).poll(cx),
            Self::Waiting(future) => future.as_mut().poll(cx),
        }
    }
}

/// The extractor's refusal as the response it is. Out of line: a refusal is the rare path.
#[cold]
#[inline(never)]
fn refused(refusal: Refusal) -> VerifiedPhoneRejection {
    VerifiedPhoneRejection(match refusal {
        Ok(rejection) => into_axum(rejection.response()),
        Err(response) => response,
    })
}

// The error is the response axum's extractor trait asks for, built only on a refusal.
#[allow(clippy::result_large_err)]
fn required(
    checked: Result<VerifiedPhone, Refusal>,
) -> Result<VerifiedPhone, VerifiedPhoneRejection> {
    checked.map_err(refused)
}

/// `Option<VerifiedPhone>`: a missing layer is still refused, everything else is `None`.
#[allow(clippy::result_large_err)]
fn optional(
    checked: Result<VerifiedPhone, Refusal>,
) -> Result<Option<VerifiedPhone>, VerifiedPhoneRejection> {
    match checked {
        Ok(phone) => Ok(Some(phone)),
        Err(Ok(GuardRejection::Misconfigured)) => Err(refused(Ok(GuardRejection::Misconfigured))),
        Err(Ok(_)) => Ok(None),
        Err(Err(response)) => Err(refused(Err(response))),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedPhone {
    type Rejection = VerifiedPhoneRejection;

    fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send {
        Extracting::new(parts, required)
    }
}

/// `Option<VerifiedPhone>`: `None` for a request without a valid proof (also when proofs cannot
/// be checked right now: unverified is the safe answer); a missing app-level layer is still the
/// opaque 500, so that it is noticed.
impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedPhone {
    type Rejection = VerifiedPhoneRejection;

    fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> impl Future<Output = Result<Option<Self>, Self::Rejection>> + Send {
        Extracting::new(parts, optional)
    }
}
