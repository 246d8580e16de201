//! The [`VerifiedPhone`] extractor.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::{Ready, ready};
use twofactor_core::web::{GuardRejection, TwoFactor, WebResponse};

use crate::convert::{authenticate, into_response};

/// The verified phone of the request: a handler argument that answers 401 (the contract's
/// guard response) when the request carries no valid token, bearer or cookie.
///
/// Behind [`RequireVerifiedPhone`](crate::RequireVerifiedPhone) it takes the proof the guard
/// already checked. Without the guard it checks the token itself, with the [`TwoFactor`]
/// found in the app data: register it with `App::app_data(tf.clone())` (a `web::Data<TwoFactor>`
/// is found too). If there is none, the request fails with an opaque 500 and an error is
/// logged saying what to register.
///
/// `Option<VerifiedPhone>` gives `None` instead of refusing, for routes that serve both.
///
/// ```
/// # #[actix_web::main]
/// # async fn main() {
/// use actix_web::{App, test, web};
/// use twofactor_actix::{TwoFactor, VerifiedPhone};
/// use twofactor_actix::core::{PhoneVerifier, mock::MockProvider};
///
/// async fn greet(phone: Option<VerifiedPhone>) -> String {
///     match phone {
///         Some(phone) => format!("hello {}", phone.phone()),
///         None => "hello stranger".to_owned(),
///     }
/// }
///
/// let tf = TwoFactor::new(PhoneVerifier::builder(MockProvider::new()).build().unwrap());
/// let app = test::init_service(
///     App::new().app_data(tf.clone()).route("/", web::get().to(greet)),
/// )
/// .await;
/// let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
/// assert_eq!(test::read_body(response).await, "hello stranger");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifiedPhone(twofactor_core::VerifiedPhone);

impl VerifiedPhone {
    /// The proof.
    pub fn into_inner(self) -> twofactor_core::VerifiedPhone {
        self.0
    }

    fn extract(req: &HttpRequest) -> Result<Self, VerifiedPhoneRejection> {
        if let Some(proof) = req.extensions().get::<twofactor_core::VerifiedPhone>() {
            return Ok(Self(*proof));
        }
        let tf = req.app_data::<TwoFactor>().or_else(|| {
            req.app_data::<web::Data<TwoFactor>>()
                .map(|data| data.get_ref())
        });
        let Some(tf) = tf else {
            tracing::error!(
                path = req.path(),
                "twofactor-actix: VerifiedPhone was extracted but no TwoFactor is in the app data; \
                 register TwoFactor with App::app_data(tf.clone()), or wrap the route in \
                 RequireVerifiedPhone"
            );
            return Err(VerifiedPhoneRejection::NotConfigured);
        };
        authenticate(tf, req.headers(), None)
            .map(Self)
            .map_err(VerifiedPhoneRejection::Rejected)
    }
}

impl Deref for VerifiedPhone {
    type Target = twofactor_core::VerifiedPhone;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<VerifiedPhone> for twofactor_core::VerifiedPhone {
    fn from(phone: VerifiedPhone) -> Self {
        phone.0
    }
}

impl FromRequest for VerifiedPhone {
    type Error = VerifiedPhoneRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::extract(req))
    }
}

/// Why the [`VerifiedPhone`] extractor refused a request; as an actix error it answers with
/// the contract's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifiedPhoneRejection {
    /// No valid token: 401, as the guard answers.
    #[error(transparent)]
    Rejected(GuardRejection),
    /// No [`TwoFactor`] in the app data to check the token with: a server misconfiguration,
    /// answered with an opaque 500 `internal_error`.
    #[error("no TwoFactor in the app data; register it with App::app_data")]
    NotConfigured,
}

impl VerifiedPhoneRejection {
    /// The contract's response to this rejection.
    pub fn response(&self) -> WebResponse {
        match self {
            Self::Rejected(rejection) => rejection.response(),
            Self::NotConfigured => WebResponse::internal("internal server error"),
        }
    }
}

impl ResponseError for VerifiedPhoneRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Rejected(_) => StatusCode::UNAUTHORIZED,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        into_response(self.response())
    }
}
