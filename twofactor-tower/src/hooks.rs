//! [`Hooks`]: what the app decides around a send and a verification, with the request in hand.

use std::future::Future;
use std::pin::Pin;

use http::request::Parts;
use twofactor_core::web::{Approval, Refusal, SendPreview};

use crate::verified_phone::VerifiedPhone;

/// The app's say in the endpoints, called with the request's parts — its headers, its
/// extensions (where tower-sessions puts the `Session`, axum-login its auth session), so the
/// hooks can use any axum extractor through `FromRequestParts`. Keep app state (a user table, a
/// database pool) in the type that implements the trait.
///
/// - [`before_send`](Self::before_send) runs after the body and the phone were checked and
///   before any cap is spent or any SMS is sent: refuse to allow only logged-in users, or only
///   after your CAPTCHA.
/// - [`after_verify`](Self::after_verify) runs after the code matched — and was consumed — and
///   before the answer is written: bind the phone to the logged-in user
///   ([`Approval::bind`]), log a user in, add fields to the 200 body, or refuse. A refusal
///   keeps the code consumed: only the one request that consumed a code runs this hook, so its
///   side effects happen once per code.
///
/// Both default to accepting. Install them with [`TwoFactorBuilder::hooks`](crate::handle::TwoFactorBuilder::hooks).
///
/// ```
/// use twofactor_tower::{Approval, Hooks, Refusal, SendPreview, VerifiedPhone};
/// use http::request::Parts;
///
/// struct OnlyKnownClients;
///
/// impl Hooks for OnlyKnownClients {
///     async fn before_send(&self, request: &mut Parts, _send: SendPreview) -> Result<(), Refusal> {
///         match request.headers.get("x-client") {
///             Some(_) => Ok(()),
///             None => Err(Refusal::forbidden("unknown_client", "this client may not ask for codes")),
///         }
///     }
///
///     async fn after_verify(&self, _request: &mut Parts, phone: &VerifiedPhone) -> Result<Approval, Refusal> {
///         Ok(Approval::new().with_field("country_code", phone.phone().to_string()[..3].to_owned()))
///     }
/// }
/// ```
pub trait Hooks: Send + Sync + 'static {
    /// Before a code is sent; `Err` answers the refusal instead.
    fn before_send(
        &self,
        request: &mut Parts,
        send: SendPreview,
    ) -> impl Future<Output = Result<(), Refusal>> + Send {
        let _ = (request, send);
        async { Ok(()) }
    }

    /// After a code matched (and was consumed), before the answer; `Err` answers the refusal
    /// instead.
    fn after_verify(
        &self,
        request: &mut Parts,
        phone: &VerifiedPhone,
    ) -> impl Future<Output = Result<Approval, Refusal>> + Send {
        let _ = (request, phone);
        async { Ok(Approval::new()) }
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Hooks`] behind a pointer: the handle is one type whatever hooks the app has.
pub(crate) trait ErasedHooks: Send + Sync + 'static {
    fn before_send<'a>(
        &'a self,
        request: &'a mut Parts,
        send: SendPreview,
    ) -> BoxFuture<'a, Result<(), Refusal>>;

    fn after_verify<'a>(
        &'a self,
        request: &'a mut Parts,
        phone: VerifiedPhone,
    ) -> BoxFuture<'a, Result<Approval, Refusal>>;
}

impl<H: Hooks> ErasedHooks for H {
    fn before_send<'a>(
        &'a self,
        request: &'a mut Parts,
        send: SendPreview,
    ) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(Hooks::before_send(self, request, send))
    }

    fn after_verify<'a>(
        &'a self,
        request: &'a mut Parts,
        phone: VerifiedPhone,
    ) -> BoxFuture<'a, Result<Approval, Refusal>> {
        Box::pin(async move { Hooks::after_verify(self, request, &phone).await })
    }
}
