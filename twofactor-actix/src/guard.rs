//! The guard: a middleware that lets through only requests carrying a valid token.

use std::fmt;
use std::time::Duration;

use actix_web::Error;
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk, Ready, ready};
use twofactor_core::web::TwoFactor;

use crate::convert::{authenticate, into_response};

/// Middleware that answers 401 (DESIGN §3, "The guard") to requests without a valid token,
/// bearer or cookie, and passes the others on with the proof in the request extensions, where
/// the [`VerifiedPhone`](crate::VerifiedPhone) extractor finds it.
///
/// A refused request never reaches the wrapped service. With [`max_age`](Self::max_age) the
/// guard also refuses tokens of phones verified longer ago (401 `phone_verification_stale`),
/// for step-up routes.
///
/// ```
/// # #[actix_web::main]
/// # async fn main() {
/// use std::time::Duration;
/// use actix_web::{App, http::StatusCode, test, web};
/// use twofactor_actix::{RequireVerifiedPhone, TwoFactor, VerifiedPhone};
/// use twofactor_actix::core::{PhoneVerifier, mock::MockProvider};
///
/// let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
/// let app = test::init_service(
///     App::new().service(
///         web::resource("/transfer")
///             .wrap(RequireVerifiedPhone::new(tf).max_age(Duration::from_secs(300)))
///             .to(|phone: VerifiedPhone| async move { phone.phone().to_string() }),
///     ),
/// )
/// .await;
///
/// let response = test::call_service(&app, test::TestRequest::get().uri("/transfer").to_request()).await;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(
///     test::read_body(response).await,
///     r#"{"error":"phone_verification_required","message":"verify your phone number first"}"#
/// );
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RequireVerifiedPhone {
    tf: TwoFactor,
    max_age: Option<Duration>,
}

impl RequireVerifiedPhone {
    /// A guard checking tokens with `tf`'s keys and cookie name.
    pub fn new(tf: TwoFactor) -> Self {
        Self { tf, max_age: None }
    }

    /// Also refuses tokens of phones verified more than `max_age` ago.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireVerifiedPhone
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireVerifiedPhoneService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireVerifiedPhoneService {
            service,
            guard: self.clone(),
        }))
    }
}

/// The service [`RequireVerifiedPhone`] wraps around yours.
pub struct RequireVerifiedPhoneService<S> {
    service: S,
    guard: RequireVerifiedPhone,
}

impl<S> fmt::Debug for RequireVerifiedPhoneService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireVerifiedPhoneService")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

type Passed<B> = fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>;

impl<S, B> Service<ServiceRequest> for RequireVerifiedPhoneService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    // No boxing: the guard runs on every protected request.
    type Future = Either<MapOk<S::Future, Passed<B>>, Ready<Result<Self::Response, Error>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        match authenticate(&self.guard.tf, req.headers(), self.guard.max_age) {
            Ok(proof) => {
                req.extensions_mut().insert(proof);
                let passed: Passed<B> = ServiceResponse::map_into_left_body;
                Either::Left(self.service.call(req).map_ok(passed))
            }
            Err(rejection) => {
                let response = req
                    .into_response(into_response(rejection.response()))
                    .map_into_right_body();
                Either::Right(ready(Ok(response)))
            }
        }
    }
}
