//! The guard: a middleware that lets through only requests carrying a verified phone.

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use futures_util::TryFutureExt;
use futures_util::future::{Either, LocalBoxFuture, MapOk, Ready, ready};
use twofactor_core::web::adapter::misconfigured;
use twofactor_core::web::{GuardRejection, WebResponse};

use crate::convert::{into_response, token};
use crate::handle::{MISSING_MIDDLEWARE, TwoFactor};
use crate::verified_phone::VerifiedPhone;

/// Middleware that answers the contract's 401 to requests without a valid proof — the app's
/// session in session mode, else `Authorization: Bearer`, else the cookie — and passes the
/// others on with the [`VerifiedPhone`] in the request extensions, where the extractor finds
/// it. It uses the [`TwoFactor`] that the app-level middleware put in the request.
///
/// A refused request never reaches the wrapped service. With [`max_age`](Self::max_age) the
/// guard also refuses proofs of phones verified longer ago (401 `phone_verification_stale`),
/// for step-up routes. In token mode the check is in memory (about every 200 ms one request
/// refreshes the revoked tokens from the store).
///
/// ```
/// # #[actix_web::main]
/// # async fn main() {
/// use std::time::Duration;
/// use actix_web::{App, http::StatusCode, test, web};
/// use twofactor_actix::{MockProvider, PhoneVerifier, RequireVerifiedPhone, TwoFactor, VerifiedPhone};
///
/// let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
/// let app = test::init_service(
///     App::new().wrap(tf.middleware()).service(
///         web::resource("/transfer")
///             .wrap(RequireVerifiedPhone::new().max_age(Duration::from_secs(300)))
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
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct RequireVerifiedPhone {
    max_age: Option<Duration>,
}

impl RequireVerifiedPhone {
    /// A guard admitting any valid proof.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also refuses proofs of phones verified more than `max_age` ago.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireVerifiedPhone
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireVerifiedPhoneService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireVerifiedPhoneService {
            service: Rc::new(service),
            max_age: self.max_age,
        }))
    }
}

/// The service [`RequireVerifiedPhone`] wraps around yours.
pub struct RequireVerifiedPhoneService<S> {
    service: Rc<S>,
    max_age: Option<Duration>,
}

impl<S> fmt::Debug for RequireVerifiedPhoneService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireVerifiedPhoneService")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

type Passed<B> = fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>;
type Outcome<B> = Result<ServiceResponse<EitherBody<B>>, Error>;

fn refuse<B>(req: ServiceRequest, response: WebResponse) -> ServiceResponse<EitherBody<B>> {
    req.into_response(into_response(response))
        .map_into_right_body()
}

impl<S, B> Service<ServiceRequest> for RequireVerifiedPhoneService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    // No boxing on the fast path: the guard runs on every protected request.
    type Future = Either<
        Either<MapOk<S::Future, Passed<B>>, Ready<Outcome<B>>>,
        LocalBoxFuture<'static, Outcome<B>>,
    >;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // The fast path borrows the handle; only the slow path needs its own clone.
        let checked = {
            let extensions = req.extensions();
            extensions.get::<TwoFactor>().map(|tf| {
                let token = token(req.headers(), tf.config().cookie().name());
                tf.contract()
                    .check_now(token, self.max_age)
                    .ok_or_else(|| tf.clone())
            })
        };
        match checked {
            None => {
                let response = misconfigured("actix-missing-middleware", MISSING_MIDDLEWARE);
                Either::Left(Either::Right(ready(Ok(refuse(req, response)))))
            }
            Some(Ok(Ok(proof))) => {
                req.extensions_mut().insert(VerifiedPhone::from(proof));
                let passed: Passed<B> = ServiceResponse::map_into_left_body;
                Either::Left(Either::Left(self.service.call(req).map_ok(passed)))
            }
            Some(Ok(Err(rejection))) => {
                Either::Left(Either::Right(ready(Ok(rejected(req, rejection)))))
            }
            Some(Err(tf)) => {
                let (service, max_age) = (self.service.clone(), self.max_age);
                Either::Right(Box::pin(async move {
                    match tf.authenticate_request(req.request(), max_age).await {
                        Ok(proof) => {
                            req.extensions_mut().insert(VerifiedPhone::from(proof));
                            service
                                .call(req)
                                .await
                                .map(ServiceResponse::map_into_left_body)
                        }
                        Err(rejection) => Ok(rejected(req, rejection)),
                    }
                }))
            }
        }
    }
}

fn rejected<B>(req: ServiceRequest, rejection: GuardRejection) -> ServiceResponse<EitherBody<B>> {
    tracing::debug!(
        outcome = rejection.as_str(),
        "twofactor guard refused a request"
    );
    refuse(req, rejection.response())
}
