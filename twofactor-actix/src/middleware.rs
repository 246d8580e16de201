//! The app-level middleware: [`TwoFactorMiddleware`] puts the app's [`TwoFactor`] into every
//! request's extensions, where the guard, the extractors and the endpoints find it. Install it
//! once with `App::wrap(tf.middleware())`, the way actix-identity's `IdentityMiddleware` is
//! installed; there is no app data to register per scope.
//!
//! [`TwoFactor::middleware`] is defined here, in an `impl` block of its own, rather than in
//! `handle.rs`: the middleware holds the handle, so the handle's file must not need the
//! middleware's.

use std::future::{Ready, ready};

use actix_web::HttpMessage;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};

use crate::handle::TwoFactor;

impl TwoFactor {
    /// The app-level middleware: `App::new().wrap(tf.middleware())`.
    pub fn middleware(&self) -> TwoFactorMiddleware {
        TwoFactorMiddleware::new(self.clone())
    }
}

/// The app-level middleware; made by [`TwoFactor::middleware`].
///
/// ```
/// # #[actix_web::main]
/// # async fn main() {
/// use actix_web::{App, test, web};
/// use twofactor_actix::{MockProvider, PhoneVerifier, TwoFactor, VerifiedPhone};
///
/// let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
/// let app = test::init_service(
///     App::new()
///         .wrap(tf.middleware())
///         .service(twofactor_actix::scope("/phone"))
///         .route("/me", web::get().to(|phone: Option<VerifiedPhone>| async move {
///             phone.map_or("stranger".to_owned(), |p| p.phone().to_string())
///         })),
/// )
/// .await;
/// let response = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
/// assert_eq!(test::read_body(response).await, "stranger");
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TwoFactorMiddleware {
    tf: TwoFactor,
}

impl TwoFactorMiddleware {
    /// The middleware installing `tf`.
    pub fn new(tf: TwoFactor) -> Self {
        Self { tf }
    }
}

impl<S, B> Transform<S, ServiceRequest> for TwoFactorMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = InnerTwoFactorMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(InnerTwoFactorMiddleware {
            service,
            tf: self.tf.clone(),
        }))
    }
}

/// The service of [`TwoFactorMiddleware`]; its future is the inner service's.
#[doc(hidden)]
#[derive(Debug)]
pub struct InnerTwoFactorMiddleware<S> {
    service: S,
    tf: TwoFactor,
}

impl<S, B> Service<ServiceRequest> for InnerTwoFactorMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        req.extensions_mut().insert(self.tf.clone());
        self.service.call(req)
    }
}
